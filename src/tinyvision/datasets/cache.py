"""Where tinyvision keeps datasets it downloads or converts: one folder per user."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """$TINYVISION_DATA when set, else ~/.cache/tinyvision (XDG_CACHE_HOME respected)."""
    if os.environ.get("TINYVISION_DATA"):
        return Path(os.environ["TINYVISION_DATA"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinyvision"

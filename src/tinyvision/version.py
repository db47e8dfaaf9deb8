"""The code version recorded in every checkpoint: git commit when in a checkout."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from tinyvision import __version__


@functools.cache
def code_version() -> str:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=here, capture_output=True, text=True, timeout=5, check=True,
        )
        return f"{__version__}+git.{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        return __version__

"""Which runs are where, and how each one ended: `tinyvision runs [DIR]`.

A run's status is recorded in its folder as `status.json`, written
atomically by the training process itself (`training/status.py`):

    running       at the start, and again after every epoch (with the time: a heartbeat)
    finished      when metrics.json is written (listed "damaged" when its model.safetensors is
                  missing or empty: nothing could load it)
    interrupted   when Ctrl-C stopped it (its state is saved: --resume continues)
    failed        when training raised an error (the error's first line is kept)

A process killed outright (kill -9, out of memory, a power cut) writes
nothing more, so `running` is believed only while it is plausible: on this
machine, only while the process named in the file is alive; on another
machine (a shared disk), only while the last heartbeat is less than
`STALE_AFTER` old. Otherwise the run is reported `failed` ("died"). Folders
from before status files existed are judged by their files: metrics.json
means finished, train_state.pt alone interrupted, config.json alone failed.
"""

from __future__ import annotations

import csv
import json
import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from tinyvision.atomic import process_alive, write_json
from tinyvision.typed_json import is_int, is_number

MODEL_FILE = "model.safetensors"  # checkpoint.MODEL_FILE, named here so that listing runs does not import torch

STATUS_FILE = "status.json"
STALE_AFTER = 6 * 3600  # seconds without a heartbeat after which another machine's run is taken for dead


def write_status(folder: Path, status: str, **extra) -> None:
    write_json(Path(folder) / STATUS_FILE, {
        "status": status, "pid": os.getpid(), "host": socket.gethostname(), "time": time.time(), **extra,
    })


def read_object(path: Path) -> dict | None:
    """A JSON object from a regular file, or None: missing, unreadable, not UTF-8, not JSON, not an object.
    (A run folder is anyone's files: one damaged file must not hide the other runs, and a FIFO where a
    file belongs must not hang the listing.)"""
    try:
        if not path.is_file():
            return None
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def number(value) -> float | None:
    """A finite JSON number as a float; None for anything else (a string, a bool, null, NaN)."""
    return float(value) if is_number(value) and math.isfinite(value) else None


def finished(folder: Path) -> tuple[str, str]:
    """A finished run, unless its checkpoint is gone or empty: every command that loads the run would
    refuse it, so `runs` does not call it finished. (The weights' checksum is checked where they are
    loaded: reading every run's weights would make listing them slow.)"""
    model = folder / MODEL_FILE
    try:
        size = model.stat().st_size if model.is_file() else None
    except OSError:
        size = None
    if not size:
        return "damaged", f"{MODEL_FILE} {'is empty' if size == 0 else 'is missing'}"
    return "finished", ""


def read_status(folder: Path) -> tuple[str, str]:
    """(status, detail) of a run folder, judged as the module's docstring says."""
    folder = Path(folder)
    path = folder / STATUS_FILE
    if path.exists():
        d = read_object(path) or {}
        status = d.get("status") if isinstance(d.get("status"), str) else "unknown"
        if status == "finished":
            return finished(folder)
        if status != "running":
            return status, str(d.get("error", "") if d else "unreadable status.json")
        pid, beat = d.get("pid"), number(d.get("time"))
        if d.get("host") == socket.gethostname():
            if not is_int(pid) or not 0 < pid < 2**31:
                return "unknown", "unreadable status.json"
            return ("running", "") if process_alive(pid) else ("failed", "died (process gone)")
        if beat is None:
            return "unknown", "unreadable status.json"
        stale = time.time() - beat > STALE_AFTER
        return ("failed", "died (no heartbeat)") if stale else ("running", f"on {d.get('host')}")
    if (folder / "metrics.json").is_file():
        return finished(folder)
    if (folder / "train_state.pt").is_file():
        return "interrupted", ""
    return "failed", "no saved epoch"


@dataclass(frozen=True)
class RunSummary:
    path: Path
    model: str
    dataset: str
    test_acc: float | None
    train_seconds: float | None
    epochs: str
    status: str
    detail: str
    modified: float

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}


def last_epoch_row(folder: Path) -> dict:
    try:
        if not (folder / "metrics.csv").is_file():
            return {}
        with open(folder / "metrics.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        return rows[-1] if rows else {}
    except (OSError, ValueError, csv.Error):  # (ValueError: not UTF-8)
        return {}


def summarize(folder: Path) -> RunSummary | None:
    """One run folder (a folder holding config.json), or None when config.json is no file. A folder whose
    files are damaged is still listed, with what could be read."""
    if not (folder / "config.json").is_file():
        return None
    config = read_object(folder / "config.json")
    status, detail = read_status(folder)
    if config is None:
        config, status, detail = {}, "unknown", "unreadable config.json"
    metrics = read_object(folder / "metrics.json") or {}
    row = last_epoch_row(folder)
    test_acc = number(metrics.get("test_acc"))
    seconds = number(metrics.get("train_seconds"))
    if seconds is None:
        try:
            seconds = float(row["train_seconds"]) if row.get("train_seconds") else None
        except ValueError:
            seconds = None
    epochs = f"{row.get('epoch', 0)}/{config.get('epochs', '?')}"
    return RunSummary(folder, str(config.get("model", "?")), str(config.get("dataset", "?")), test_acc, seconds,
                      epochs, status, detail, (folder / "config.json").stat().st_mtime)


def list_runs(root: str | Path = "runs") -> list[RunSummary]:
    """Every run folder under `root` (any depth: a comparison's runs too), oldest first."""
    root = Path(root)
    if (root / "config.json").is_file():
        found = [root]
    else:
        found = sorted(p.parent for p in root.rglob("config.json")) if root.is_dir() else []
    runs = [s for s in (summarize(f) for f in found) if s is not None]
    return sorted(runs, key=lambda r: r.modified)

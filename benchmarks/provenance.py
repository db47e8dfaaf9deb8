"""Where a benchmark figure came from: the command, the code, the machine, and how busy it was.

Every benchmark wraps its measured work in `recorded()` and stores the record
beside its results, then writes the file with `write_results` (atomic: a reader
sees the old file or the new one, never half of one):

    with recorded() as prov:
        result = measure()
    result["provenance"] = prov
    write_results(RESULTS_DIR / "x.json", result)

The record is what `benchmarks/report.py` prints under each table. It imports
nothing from tinyvision, so the peer scripts (which must not use tinyvision) can
use it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"

# Environment variables that change how fast a run goes (thread pools, devices);
# the ones that are set are recorded and prefixed to the command.
_IMPORTED = time.perf_counter()  # fallback start of the process where /proc is missing

SPEED_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "TINYVISION_IMAGE_MEMORY_MB")


def command_line(argv: list[str] | None = None) -> str:
    """The command as one shell-quoted line a reader can paste, e.g.
    `OMP_NUM_THREADS=1 python benchmarks/x.py --seeds 0,1,2`.

    `sys.orig_argv` keeps the interpreter and `-m` flags; the interpreter's own
    path is shortened to `python`, and a script under the repository to its
    path from the repository root.
    """
    argv = list(sys.orig_argv if argv is None else argv)
    if argv:
        argv[0] = "python"
    if len(argv) > 1 and not argv[1].startswith("-"):
        script = Path(argv[1]).resolve()
        if script.is_relative_to(REPO_ROOT):
            argv[1] = str(script.relative_to(REPO_ROOT))
    env = [f"{k}={os.environ[k]}" for k in SPEED_ENV if k in os.environ]
    return shlex.join([*env, *argv])


def git_state() -> dict:
    """Commit hash and whether the working tree differs from it (untracked files count)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10,
                              check=True).stdout

    try:
        changed = git("status", "--porcelain").splitlines()  # "XY path": not stripped, X may be a space
        return {"git_commit": git("rev-parse", "HEAD").strip(), "git_dirty": bool(changed),
                "git_changed_files": [line[3:] for line in changed[:20]] + (["..."] if len(changed) > 20 else [])}
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None, "git_changed_files": []}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not available on this platform
        return None


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def torch_state() -> dict:
    """Torch's version, thread pools and device, if torch is in use (imported) by the caller."""
    torch = sys.modules.get("torch")
    if torch is None:  # the work ran in child processes: what they start with
        threads = os.environ.get("OMP_NUM_THREADS")
        return {"torch": package_version("torch"), "torch_threads": int(threads) if threads else None,
                "torch_threads_note": None if threads else "children run torch's default: one per core",
                "device": "cpu"}
    device = "cpu"
    if torch.cuda.is_available():
        device = f"cuda: {torch.cuda.get_device_name(0)}"
    return {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(), "device": device}


def process_seconds() -> float:
    """Seconds since this process started (interpreter start-up and imports included), from /proc;
    elsewhere, since this module was imported."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return round(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 2)
    except (OSError, ValueError, IndexError):
        return round(time.perf_counter() - _IMPORTED, 2)


def now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


@contextlib.contextmanager
def recorded(device: str | None = None) -> Iterator[dict]:
    """Yield the provenance record of the code run inside the `with` block.

    The start (command, code, machine, load average) is filled in on entry;
    the end (time, load average, torch threads and device as they were at the
    end, since scripts often set them inside the block) on exit. `device`
    overrides the detected one (e.g. a run that chose the CPU on a GPU machine).
    The record is a plain dict: callers may add keys.
    """
    record: dict = {
        "command": command_line(),
        "argv": list(sys.orig_argv),
        "cwd": os.getcwd(),
        "env": {k: os.environ[k] for k in SPEED_ENV if k in os.environ},
        **git_state(),
        "tinyvision": package_version("tinyvision"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "start_time": now(),
        "load_average_before": load_average(),
    }
    started = time.perf_counter()
    yield record
    state = torch_state()
    if device is not None:
        state["device"] = device
    record.update(state)
    record.update({
        "end_time": now(),
        "seconds": round(time.perf_counter() - started, 2),
        "process_seconds": process_seconds(),
        "load_average_after": load_average(),
    })


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` so that a crash leaves the old file or the new one.

    A temporary file in the same folder is written, flushed to disk, and renamed
    over the target; the folder is then synced so the rename itself survives.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # some file systems cannot open or sync a folder
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return target


def write_results(path: str | os.PathLike, result: dict) -> Path:
    """Write a results JSON file atomically. Relative paths are taken from the
    current folder, as a user's `--out` would be; `RESULTS_DIR / name` for the
    canonical place."""
    return write_text_atomic(path, json.dumps(result, indent=2) + "\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

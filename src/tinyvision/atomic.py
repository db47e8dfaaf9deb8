"""Atomic, durable file writes: a reader sees the old file or the new one, never half.

A file is written beside its target, flushed to disk (fsync), renamed over
the target, and the folder's entry is flushed too: after a crash or a power
cut the target holds either its previous content or the complete new one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tinyvision.errors import TinyVisionError, flag


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by the owner only; finished files get the
# permissions any ordinary file written by this process would have.
_FILE_MODE = 0o666 & ~_current_umask()


OUT_OF_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}
# A temporary file left by a process killed mid-write (SIGKILL, out of memory, a power cut) is removed by a
# later write to the same target once it has not changed for this long and the process named in it is gone
# from this machine: a live writer's file changes as it is written and is renamed the moment it is done.
STALE_SECONDS = 60.0
# Per folder, the temporaries it held when this process first wrote there. A folder is listed once, not at
# every write: writing thousands of files into one folder (predict --show-input, explain) listed it each time.
_TEMPORARIES: dict[str, set[str]] = {}
_TEMPORARIES_LOCK = threading.Lock()


def temp_prefix(target: Path) -> str:
    """The temporary files of `target` start so, cut short (a target name near the file system's 255-byte
    limit must not fail for its temporary's few extra bytes)."""
    return f".{target.name[:40]}."


def temporaries_in(folder: Path) -> set[str]:
    key = os.path.abspath(folder)
    with _TEMPORARIES_LOCK:
        if key not in _TEMPORARIES:
            try:
                names = os.listdir(key)
            except OSError:
                names = []
            _TEMPORARIES[key] = {n for n in names if n.startswith(".") and n.endswith(".tmp")}
        return _TEMPORARIES[key]


def remove_stale_temporaries(target: Path) -> None:
    """Temporary files of `target` that a killed process left behind (named `<prefix><pid>.<random>.tmp`)."""
    prefix, found = temp_prefix(target), temporaries_in(target.parent)
    with _TEMPORARIES_LOCK:
        candidates = [name for name in found if name.startswith(prefix)]
    for name in candidates:
        pid, path = name[len(prefix):].split(".", 1)[0], target.parent / name
        try:
            if not left_by_dead_process(path, pid):
                continue
            path.unlink()
        except FileNotFoundError:  # gone already
            pass
        except OSError:  # not ours to remove: it stays, harmless
            continue
        with _TEMPORARIES_LOCK:
            found.discard(name)


def left_by_dead_process(path: Path, pid: str) -> bool:
    """Whether a file named for process `pid` (its digits, as written in the name) was left by a process that is
    gone and has been untouched for STALE_SECONDS: safe to remove. OSError when the file is gone or unreadable."""
    return pid.isdigit() and not process_alive(int(pid)) and time.time() - path.lstat().st_mtime >= STALE_SECONDS


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):  # alive but another user's; or no such pid number
        return True
    return True


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's) data and metadata to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_exclusive(tmp: Path, target: Path) -> None:
    """Give `tmp` the name `target` unless that name exists (FileExistsError)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: claim the name, then fill it
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _FILE_MODE))
        os.replace(tmp, target)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, exclusive: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success make it `path`, durably.

    The temporary file lives in the same folder so the final rename is atomic
    on POSIX file systems. On any exception the temporary file is removed.
    `exclusive=True` publishes with a hard link, which fails if `path` exists:
    of two writers racing for one name, exactly one wins (FileExistsError).
    """
    target = Path(path)
    try:
        if target.is_dir():  # (is_dir itself fails on a name over the file system's limit)
            raise TinyVisionError(f"cannot write {target}: it is a folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target)
        fd, tmp = tempfile.mkstemp(prefix=f"{temp_prefix(target)}{os.getpid()}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:  # the folder is a file, read-only, or cannot be made; a name too long
        above = not_a_folder_above(target)
        # A file where a folder must be (`--out report.md`, `--show-input x.png` for several images, a FIFO)
        # was reported by mkdir as "File exists", which named no culprit and read as a refusal to overwrite.
        why = f"{above} exists and is not a folder" if above is not None else exc.strerror or exc
        raise TinyVisionError(f"cannot write {target}: {why}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
        except OSError as exc:  # writing the temporary: a full disk or quota is the user's to fix, in one line
            if exc.errno in OUT_OF_ROOM:
                raise TinyVisionError(f"cannot write {target}: {exc.strerror}") from None
            raise
        os.chmod(tmp_path, _FILE_MODE)
        fsync_path(tmp_path)
        if exclusive:
            publish_exclusive(tmp_path, target)  # FileExistsError: the caller's race to handle
        else:
            try:
                os.replace(tmp_path, target)
            except OSError as exc:
                raise TinyVisionError(f"cannot write {target}: {exc.strerror or exc}") from None
        fsync_path(target.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def not_a_folder_above(target: Path) -> Path | None:
    """The nearest folder above `target` that exists as something else (a file, a FIFO, a device), or None."""
    for above in target.parents:
        try:
            if above.is_dir():
                return None
            if os.path.lexists(above):
                return above
        except OSError:  # a name over the file system's limit
            return None
    return None


def allocate(path: Path, size: int) -> None:
    """Give the (empty) file at `path` `size` bytes of zeros that are really on the disk, so a full disk or a
    quota is an OSError here, not later: a file only truncated to its size is sparse, and the first write
    through a memory map into a block the disk cannot give kills the process with SIGBUS, with no message
    and its temporary file left behind."""
    with open(path, "r+b") as f:
        if size <= 0:
            return
        if hasattr(os, "posix_fallocate"):  # (glibc writes the zeros itself where the file system cannot)
            os.posix_fallocate(f.fileno(), 0, size)
            return
        block = bytes(1 << 20)  # elsewhere (macOS): write them
        for start in range(0, size, len(block)):
            f.write(block[: min(len(block), size - start)])


def check_output_folder(path: str | os.PathLike, option: str = "out") -> None:
    """Refuse, in one line, an output folder that cannot be one: `path` or a folder above it is a file.
    Called before the work whose results go there (a data check of minutes ended in a traceback when its
    --out named the report.md of an earlier check)."""
    folder = Path(path)
    for above in (folder, *folder.parents):
        try:
            if not above.exists():
                continue
            if above.is_dir():
                return
        except OSError:  # a name over the file system's limit: the write itself says so, in one line
            return
        where = "" if above == folder else f": {above}"
        raise TinyVisionError(f"{flag(option, folder)}{where} exists and is not a folder")


def write_bytes(path: str | os.PathLike, data: bytes, exclusive: bool = False) -> None:
    with atomic_path(path, exclusive) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str, exclusive: bool = False) -> None:
    # A file name that is not UTF-8 (held as lone surrogates, PEP 383) goes out as its own bytes, as `ls`
    # shows it; a report naming it could not be written at all.
    write_bytes(path, text.encode("utf-8", "surrogateescape"), exclusive)


def write_json(path: str | os.PathLike, obj: object, exclusive: bool = False) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n", exclusive)


def write_npz(path: str | os.PathLike, **arrays) -> None:
    """Named arrays as one compressed .npz file (`numpy.savez_compressed`), written atomically; through an open
    file, since numpy would add ".npz" to the temporary file's name."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)

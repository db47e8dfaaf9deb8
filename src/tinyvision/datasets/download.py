"""Fetching a dataset file from its public mirrors: MD5-checked, resumable, atomic.

Bytes arrive in `NAME.part` beside the target; an interrupted transfer is
resumed with an HTTP Range request (from the next mirror, or on the next run),
and only a file whose MD5 matches is renamed into place, so a reader never
sees a half-downloaded or corrupt file under the real name.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from tinyvision.errors import TinyVisionError

CHUNK = 1 << 16


@dataclass(frozen=True)
class RemoteFile:
    """A file as published: its name, the MD5 of its bytes, and the mirrors that serve it."""

    name: str
    md5: str
    urls: tuple[str, ...]


class TransferError(Exception):
    """One mirror failed; the message says how (shown in the final error)."""


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def downloads_allowed() -> bool:
    """TINYVISION_NO_DOWNLOAD=1 refuses every download (offline machines, CI)."""
    return os.environ.get("TINYVISION_NO_DOWNLOAD", "") in ("", "0")


def fetch(url: str, part: Path, timeout: float, show_progress: bool) -> None:
    """Append the rest of `url` to `part` (resuming from its size when the server allows)."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "tinyvision"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the part may be complete
            return
        raise TransferError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise TransferError(str(getattr(exc, "reason", exc))) from None
    with response:
        resumed = response.status == 206
        mode = "ab" if resumed else "wb"  # a 200 means the server ignored Range: start over
        start = have if resumed else 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, desc=part.name[:-5],
                   disable=not show_progress, leave=False)
        received = start
        try:
            with open(part, mode) as out:
                while block := response.read(CHUNK):
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
        except (http.client.IncompleteRead, OSError) as exc:
            raise TransferError(f"stopped after {received} of {total or '?'} bytes ({type(exc).__name__})") from None
        finally:
            bar.close()
    if total is not None and received < total:
        raise TransferError(f"stopped after {received} of {total} bytes")


def download(remote: RemoteFile, folder: Path, timeout: float = 30.0, show_progress: bool = True) -> Path:
    """`folder/NAME`, downloading it first if needed; a one-line TinyVisionError when no mirror works."""
    target = folder / remote.name
    if target.is_file() and file_md5(target) == remote.md5:
        return target
    by_hand = (
        f"download {remote.name} (MD5 {remote.md5}) by hand into {folder}, or pass --data-dir"
    )
    if not downloads_allowed():
        raise TinyVisionError(f"{remote.name} is not here and TINYVISION_NO_DOWNLOAD is set; {by_hand}")
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{remote.name}.part"
    failures = []
    for url in remote.urls:
        try:
            fetch(url, part, timeout, show_progress)
        except TransferError as exc:
            failures.append(f"{url} ({exc})")
            continue  # keep the partial file: the next mirror resumes it
        if file_md5(part) == remote.md5:
            os.replace(part, target)
            return target
        failures.append(f"{url} (checksum mismatch)")
        part.unlink()
    tried = "; ".join(failures) or "no mirrors known"
    raise TinyVisionError(f"could not download {remote.name}: tried {tried}. To proceed, {by_hand}")

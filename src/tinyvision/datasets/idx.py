"""Reading IDX files (the MNIST container format), gzipped or raw, with checks.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the data. Every
check here turns a damaged file into a one-line TinyVisionError.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np
import torch

from tinyvision.errors import TinyVisionError

_UINT8_TYPE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: Path) -> bytes:
    """The decompressed content of `path` (gzip detected by its magic, not its name)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TinyVisionError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise TinyVisionError(f"{path}: truncated or corrupt gzip data ({exc})") from None


def parse_idx(data: bytes, source: Path | str = "<bytes>") -> torch.Tensor:
    """Parse IDX bytes into a uint8 tensor, refusing anything malformed."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise TinyVisionError(f"{source}: not an IDX file (wrong magic number)")
    if data[2] != _UINT8_TYPE:
        raise TinyVisionError(f"{source}: IDX type code {data[2]:#04x} is not unsigned bytes (0x08)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise TinyVisionError(f"{source}: IDX header is truncated")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise TinyVisionError(
            f"{source}: IDX file {what} ({len(data)} bytes, header {dims} needs {expected})"
        )
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
    return torch.from_numpy(array.copy())


def read_idx(path: Path, md5: str | None = None) -> torch.Tensor:
    """Read one IDX file; when `md5` is given, check it against the decompressed bytes."""
    data = read_bytes(path)
    tensor = parse_idx(data, path)
    if md5 is not None:
        actual = hashlib.md5(data).hexdigest()
        if actual != md5:
            raise TinyVisionError(
                f"{path}: checksum mismatch (MD5 of content {actual}, expected {md5}); "
                "the file is corrupt or not the one it is named after"
            )
    return tensor

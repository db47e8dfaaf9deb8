"""The four MNIST IDX files, read without tinyvision: shared by the peer scripts.

The peers measure other people's pipelines, so they read the files the
package bundles but none of its code: the IDX format is parsed here with numpy.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np

BUNDLED = Path(__file__).resolve().parents[2] / "src" / "tinyvision" / "datasets" / "bundled" / "mnist"
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_DTYPE = 0x08  # unsigned byte, the only type MNIST uses


def raw_bytes(folder: Path, name: str) -> bytes:
    """One file's decompressed bytes: `NAME.gz` or plain `NAME` in `folder`."""
    gz, plain = folder / f"{name}.gz", folder / name
    if gz.exists():
        return gzip.decompress(gz.read_bytes())
    if plain.exists():
        return plain.read_bytes()
    sys.exit(f"error: neither {gz} nor {plain} exists")


def parse_idx(data: bytes) -> np.ndarray:
    """An IDX file (big-endian header: 0, 0, type, number of dimensions, then each size) as uint8."""
    if data[:2] != b"\0\0" or data[2] != IDX_DTYPE:
        raise ValueError("not an unsigned-byte IDX file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"IDX header says {shape}, body has {body.size} bytes")
    return body.reshape(shape)


def load_mnist(folder: Path = BUNDLED) -> dict[str, np.ndarray]:
    """uint8 arrays: train_images (60000, 28, 28), train_labels (60000,), test_images, test_labels."""
    return {key: parse_idx(raw_bytes(folder, name)) for key, name in FILES.items()}


def torchvision_folder(root: Path, folder: Path = BUNDLED) -> Path:
    """Lay the files out where `torchvision.datasets.MNIST(root)` looks: ROOT/MNIST/raw/, decompressed."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        (raw / name).write_bytes(raw_bytes(folder, name))
    return root

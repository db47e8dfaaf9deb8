"""CIFAR-10 from its official python archive (`cifar-10-python.tar.gz`).

The archive's batches are Python pickles. Unpickling can run arbitrary code,
so they are read with an unpickler that only builds numpy arrays, lists,
dicts and strings, straight out of the tar file (nothing is extracted).
Sources, in order: `--data-dir` (the archive, or its extracted
`cifar-10-batches-py/` folder; nowhere else when given), the tinyvision
cache, a download from the authors' site into the cache (MD5-checked).
"""

from __future__ import annotations

import io
import pickle
import tarfile
import warnings
from pathlib import Path

import numpy as np
import torch

from tinyvision.datasets.cache import cache_root
from tinyvision.datasets.download import RemoteFile, download, file_md5
from tinyvision.datasets.image_data import ImageData
from tinyvision.errors import TinyVisionError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
ARCHIVE = RemoteFile(
    name="cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    urls=("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
)
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class ArraysOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise TinyVisionError(f"CIFAR-10 batch refers to {module}.{name}: not a plain data file, refused")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core is renamed in numpy 2
            return super().find_class(module, name)


def parse_batch(data: bytes, source: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One pickled batch -> uint8 images (N, 3, 32, 32) and int64 labels."""
    try:
        batch = ArraysOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
        pixels = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TinyVisionError(f"{source}: not a CIFAR-10 batch ({type(exc).__name__}: {exc})") from None
    if pixels.ndim != 2 or pixels.shape[1] != 3 * 32 * 32 or len(pixels) != len(labels):
        raise TinyVisionError(f"{source}: unexpected batch shape {pixels.shape}")
    return torch.from_numpy(pixels.reshape(-1, 3, 32, 32).copy()), torch.from_numpy(labels)


def read_members(source: Path) -> dict[str, bytes]:
    """The six batch files' bytes, from the archive or the extracted folder."""
    names = (*TRAIN_BATCHES, TEST_BATCH)
    if source.is_dir():
        folder = source / FOLDER if (source / FOLDER).is_dir() else source
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise TinyVisionError(f"cifar10: {folder} is missing {', '.join(missing)}")
        return {n: (folder / n).read_bytes() for n in names}
    try:
        with tarfile.open(source, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = [n for n in names if n not in members]
            if missing:
                raise TinyVisionError(f"cifar10: {source} lacks {', '.join(missing)}")
            return {n: tar.extractfile(members[n]).read() for n in names}  # type: ignore[union-attr]
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise TinyVisionError(f"cifar10: {source} is not a readable .tar.gz ({exc})") from None


def locate(data_dir: Path | None) -> Path:
    if data_dir is not None:
        for candidate in (data_dir / ARCHIVE.name, data_dir / FOLDER):
            if candidate.exists():
                return candidate
        raise TinyVisionError(f"cifar10: {data_dir} holds neither {ARCHIVE.name} nor {FOLDER}/")
    cached = cache_root() / "cifar10"
    if (cached / FOLDER).is_dir():
        return cached / FOLDER
    return download(ARCHIVE, cached)


def load_cifar10(data_dir: Path | None) -> ImageData:
    source = locate(data_dir)
    if source.is_file() and file_md5(source) != ARCHIVE.md5:
        raise TinyVisionError(f"{source}: checksum mismatch (expected MD5 {ARCHIVE.md5}); the archive is damaged")
    batches = {name: parse_batch(data, f"{source}:{name}") for name, data in read_members(source).items()}
    train = [batches[n] for n in TRAIN_BATCHES]
    test_x, test_y = batches[TEST_BATCH]
    return ImageData(
        name="cifar10", classes=CLASSES,
        train_images=torch.cat([x for x, _ in train]), train_labels=torch.cat([y for _, y in train]),
        test_images=test_x, test_labels=test_y,
    )

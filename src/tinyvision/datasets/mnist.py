"""MNIST-format datasets: four IDX files, found in a user folder or bundled.

A user's `--data-dir` may hold the torchvision layout (`DIR/MNIST/raw/...`) or
the four files directly, each gzipped or not. Every file is checked against
the MD5 of its decompressed content, so a damaged or substituted file is
refused instead of silently training on wrong data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinyvision.datasets.idx import read_idx
from tinyvision.datasets.image_data import ImageData
from tinyvision.errors import TinyVisionError

BUNDLED_DIR = Path(__file__).parent / "bundled"

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class IdxDatasetSpec:
    """What identifies one MNIST-format dataset: its files' checksums and classes."""

    name: str
    classes: tuple[str, ...]
    md5: dict[str, str]  # raw (decompressed) file name -> MD5 of its content
    torchvision_folder: str  # the folder torchvision's class of the same dataset uses
    bundled: str | None = None  # sub-folder of BUNDLED_DIR, when shipped with the package


MNIST = IdxDatasetSpec(
    name="mnist",
    classes=tuple(str(d) for d in range(10)),
    md5={
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    torchvision_folder="MNIST",
    bundled="mnist",
)


def candidate_dirs(spec: IdxDatasetSpec, data_dir: Path) -> list[Path]:
    """Folders under a user's data dir that may hold the files, most specific first."""
    return [data_dir / spec.torchvision_folder / "raw", data_dir / spec.name, data_dir]


def find_file(folder: Path, raw_name: str) -> Path | None:
    for name in (raw_name, raw_name + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def find_files(spec: IdxDatasetSpec, folders: list[Path]) -> dict[str, Path] | None:
    """The four files from the first folder that holds at least one of them."""
    for folder in folders:
        found = {key: find_file(folder, raw) for key, raw in FILES.items()}
        if any(found.values()):
            missing = [FILES[k] for k, p in found.items() if p is None]
            if missing:
                raise TinyVisionError(
                    f"{spec.name}: {folder} is missing {', '.join(missing)} (.gz or raw)"
                )
            return found  # type: ignore[return-value]
    return None


def load_idx_dataset(spec: IdxDatasetSpec, files: dict[str, Path]) -> ImageData:
    tensors = {key: read_idx(path, spec.md5.get(FILES[key])) for key, path in files.items()}
    for split in ("train", "test"):
        if tensors[f"{split}_images"].ndim != 3 or tensors[f"{split}_labels"].ndim != 1:
            raise TinyVisionError(f"{spec.name}: {split} files have unexpected dimensions")
    return ImageData(
        name=spec.name,
        classes=spec.classes,
        train_images=tensors["train_images"].unsqueeze(1),
        train_labels=tensors["train_labels"].long(),
        test_images=tensors["test_images"].unsqueeze(1),
        test_labels=tensors["test_labels"].long(),
    )


def load_mnist_format(spec: IdxDatasetSpec, data_dir: Path | None) -> ImageData:
    """Load from `data_dir` when given (and nowhere else), else the bundled copy."""
    if data_dir is not None:
        if not data_dir.is_dir():
            raise TinyVisionError(f"--data-dir {data_dir} is not a folder")
        folders = candidate_dirs(spec, data_dir)
    elif spec.bundled is not None:
        folders = [BUNDLED_DIR / spec.bundled]
    else:
        raise TinyVisionError(f"{spec.name} is not bundled; pass --data-dir")
    files = find_files(spec, folders)
    if files is None:
        looked = ", ".join(str(f) for f in folders)
        raise TinyVisionError(f"{spec.name}: no IDX files found (looked in {looked})")
    return load_idx_dataset(spec, files)

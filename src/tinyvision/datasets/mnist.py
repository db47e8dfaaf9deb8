"""MNIST-format datasets (MNIST, Fashion-MNIST): four IDX files, found or downloaded.

Sources, in order: the user's `--data-dir` (and nowhere else when given); the
tinyvision cache; system folders (Debian's `dataset-fashion-mnist` package);
the copy bundled with the package (MNIST); a download from the public mirrors
into the cache. A folder may hold the torchvision layout (`DIR/MNIST/raw/...`)
or the four files directly, each gzipped or not. Every file is checked
against the MD5 of its decompressed content, so a damaged or substituted file
is refused instead of silently training on wrong data (mirrors and Debian
recompress the .gz files differently; the content is what must match).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinyvision.datasets.cache import cache_root
from tinyvision.datasets.download import RemoteFile, download
from tinyvision.datasets.idx import read_idx
from tinyvision.datasets.image_data import ImageData
from tinyvision.errors import TinyVisionError, flag

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
    system_dirs: tuple[str, ...] = ()  # where an OS package installs the files
    mirrors: tuple[str, ...] = ()  # base URLs serving the four .gz files
    gz_md5: dict[str, str] | None = None  # raw file name -> MD5 of the .gz as the mirrors publish it


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


FASHION_MNIST = IdxDatasetSpec(
    name="fashion-mnist",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
             "Ankle boot"),
    # Content MD5s taken from Debian's dataset-fashion-mnist files (their .gz differ from upstream's).
    md5={
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
    torchvision_folder="FashionMNIST",
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    gz_md5={
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    },
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


def default_folders(spec: IdxDatasetSpec) -> list[Path]:
    """Where to look when the user names no folder: cache, system package, bundled copy."""
    root = cache_root()
    folders = [root / spec.torchvision_folder / "raw", root / spec.name, *map(Path, spec.system_dirs)]
    if spec.bundled is not None:
        folders.append(BUNDLED_DIR / spec.bundled)
    return folders


def complete_folder(spec: IdxDatasetSpec, folders: list[Path]) -> dict[str, Path] | None:
    for folder in folders:
        found = {key: find_file(folder, raw) for key, raw in FILES.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
    return None


def download_files(spec: IdxDatasetSpec, show_progress: bool = True) -> dict[str, Path]:
    """Fetch the four .gz files from the mirrors into the cache."""
    folder = cache_root() / spec.name
    files = {}
    for key, raw in FILES.items():
        remote = RemoteFile(f"{raw}.gz", spec.gz_md5[raw], tuple(f"{m}{raw}.gz" for m in spec.mirrors))
        files[key] = download(remote, folder, show_progress=show_progress)
    return files


def load_mnist_format(spec: IdxDatasetSpec, data_dir: Path | None) -> ImageData:
    """Load from `data_dir` when given (and nowhere else), else the default sources in order."""
    if data_dir is not None:
        if not data_dir.is_dir():
            raise TinyVisionError(f"{flag('data-dir', data_dir)} is not a folder")
        folders = candidate_dirs(spec, data_dir)
        files = find_files(spec, folders)
    else:
        folders = default_folders(spec)
        files = complete_folder(spec, folders)
        if files is None and spec.mirrors and spec.gz_md5:
            files = download_files(spec)
    if files is None:
        looked = ", ".join(str(f) for f in folders)
        raise TinyVisionError(f"{spec.name}: no IDX files found (looked in {looked})")
    return load_idx_dataset(spec, files)

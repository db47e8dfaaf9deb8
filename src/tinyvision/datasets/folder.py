"""`folder:PATH` datasets: a user's images in `train/<class>/*` and `test/<class>/*`.

The torchvision ImageFolder layout, any image size, gray or colour. Images
are resized to one size (`--image-size N` for NxN, default the most common
size in the folder) and held as uint8 tensors like every other dataset.
Decoding thousands of files takes a while, so the result is cached as a
tensor file keyed by the folder's contents (names, sizes, modification times)
and the size: a second run with unchanged files starts in seconds. Unreadable
images are skipped and listed in one warning line.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from tinyvision.atomic import atomic_path
from tinyvision.datasets.cache import cache_root
from tinyvision.datasets.image_data import ImageData
from tinyvision.errors import TinyVisionError
from tinyvision.image.decode import GRAY_MODES, ImageError
from tinyvision.image.prepare import Preparation, prepare

PREFIX = "folder:"
EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
SPLITS = ("train", "test")
MIN_SIZE, MAX_SIZE = 4, 1024
CACHE_VERSION = "2"  # 2: decoded by image.decode (alpha composited, 16-bit scaled)


@dataclass(frozen=True)
class ImageFile:
    path: Path
    label: int


def list_split(root: Path, split: str, classes: tuple[str, ...] | None) -> tuple[tuple[str, ...], list[ImageFile]]:
    """Class names (sorted sub-folder names) and the image files of one split."""
    folder = root / split
    if not folder.is_dir():
        raise TinyVisionError(f"{root} has no {split}/ folder; expected {root}/train/<class>/*.jpg and test/<class>/")
    found = tuple(sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if classes is None:
        if len(found) < 2:
            raise TinyVisionError(f"{folder} has {len(found)} class folder(s); a classifier needs at least 2")
        classes = found
    elif set(found) - set(classes):
        extra = ", ".join(sorted(set(found) - set(classes)))
        raise TinyVisionError(f"{folder} has classes not in train/: {extra}")
    files = []
    for label, name in enumerate(classes):
        class_dir = folder / name
        images = sorted(p for p in class_dir.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file()) \
            if class_dir.is_dir() else []
        if split == "train" and not images:
            raise TinyVisionError(f"class folder {class_dir} holds no images ({', '.join(sorted(EXTENSIONS))})")
        files += [ImageFile(p, label) for p in images]
    if not files:
        raise TinyVisionError(f"{folder} holds no images")
    return classes, files


def cache_key(root: Path, files: list[ImageFile], image_size: int | None) -> str:
    digest = hashlib.sha256(f"v{CACHE_VERSION} size={image_size}\n".encode())
    for f in files:
        st = f.path.stat()
        digest.update(f"{f.path.relative_to(root)}\t{f.label}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def read_header(path: Path) -> tuple[tuple[int, int], str]:
    """(width, height) and mode, from the header only (no pixel decoding)."""
    with Image.open(path) as img:
        return img.size, img.mode


def load_images(
    root: Path, files: list[ImageFile], size: tuple[int, int], mode: str, skipped: list[str]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode and resize every file with the one decoder (the same one `predict` uses)."""
    preparation = Preparation("resize", (1 if mode == "L" else 3, size[1], size[0]))
    arrays, labels = [], []
    for f in files:
        try:
            arrays.append(prepare(f.path, preparation))
        except ImageError as exc:
            skipped.append(f"{f.path.relative_to(root)} ({exc})")
            continue
        labels.append(f.label)
    if not arrays:
        return torch.zeros(0, *preparation.input_shape, dtype=torch.uint8), torch.zeros(0).long()
    return torch.stack(arrays), torch.tensor(labels, dtype=torch.int64)


def scan(root: Path, files: list[ImageFile], skipped: list[str]) -> tuple[list[ImageFile], Counter, bool]:
    """Readable files, a count of their sizes, and whether all of them are gray."""
    readable, sizes, gray = [], Counter(), True
    for f in files:
        try:
            size, mode = read_header(f.path)
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
            skipped.append(f"{f.path.relative_to(root)} ({type(exc).__name__})")
            continue
        readable.append(f)
        sizes[size] += 1
        gray = gray and mode in GRAY_MODES
    return readable, sizes, gray


def build(
    root: Path, name: str, classes: tuple[str, ...], train_files: list[ImageFile], test_files: list[ImageFile],
    image_size: int | None,
) -> tuple[ImageData, list[str]]:
    skipped: list[str] = []
    train_files, sizes, gray_train = scan(root, train_files, skipped)
    test_files, _, gray_test = scan(root, test_files, skipped)
    if not sizes:
        raise TinyVisionError(f"{root}/train: none of the images could be read")
    size = (image_size, image_size) if image_size else sizes.most_common(1)[0][0]
    mode = "L" if gray_train and gray_test else "RGB"
    train_x, train_y = load_images(root, train_files, size, mode, skipped)
    test_x, test_y = load_images(root, test_files, size, mode, skipped)
    empty = [classes[k] for k in range(len(classes)) if not (train_y == k).any()]
    if empty:
        raise TinyVisionError(f"{root}/train: no readable images in class(es) {', '.join(empty)}")
    if len(test_y) == 0:
        raise TinyVisionError(f"{root}/test: none of the images could be read")
    return ImageData(name, classes, train_x, train_y, test_x, test_y), skipped


def warn_skipped(skipped: list[str]) -> None:
    if skipped:
        shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        print(f"tinyvision: warning: skipped {len(skipped)} unreadable image(s): {shown}", file=sys.stderr)


def load_folder(name: str, image_size: int | None = None, use_cache: bool = True) -> ImageData:
    """Load `folder:PATH`, from the tensor cache when the folder is unchanged."""
    root = Path(name[len(PREFIX):]).expanduser()
    if not root.is_dir():
        raise TinyVisionError(f"{name}: {root} is not a folder")
    if image_size is not None and not MIN_SIZE <= image_size <= MAX_SIZE:
        raise TinyVisionError(f"--image-size must be between {MIN_SIZE} and {MAX_SIZE}, got {image_size}")
    classes, train_files = list_split(root, "train", None)
    _, test_files = list_split(root, "test", classes)
    cache_file = cache_root() / "folders" / f"{cache_key(root, train_files + test_files, image_size)}.pt"
    if use_cache and cache_file.is_file():
        try:
            saved = torch.load(cache_file, weights_only=True)
            warn_skipped(list(saved["skipped"]))
            return ImageData(name, tuple(saved["classes"]), saved["train_images"], saved["train_labels"],
                             saved["test_images"], saved["test_labels"])
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt, never trusted
            pass
    data, skipped = build(root, name, classes, train_files, test_files, image_size)
    warn_skipped(skipped)
    if use_cache:
        saved = {"classes": list(data.classes), "skipped": skipped, "train_images": data.train_images,
                 "train_labels": data.train_labels, "test_images": data.test_images,
                 "test_labels": data.test_labels}
        with atomic_path(cache_file) as tmp:
            torch.save(saved, tmp)
    return data

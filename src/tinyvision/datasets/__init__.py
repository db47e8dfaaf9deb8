"""Datasets registered by name; each loader returns an `ImageData`.

`folder:PATH` names a user's image folder (see `datasets/folder.py`); the
others are fixed datasets with their own sources (see each module).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tinyvision.datasets.cifar10 import load_cifar10
from tinyvision.datasets.folder import PREFIX as FOLDER_PREFIX
from tinyvision.datasets.folder import load_folder
from tinyvision.datasets.image_data import ImageData, split_indices
from tinyvision.datasets.mnist import FASHION_MNIST, MNIST, load_mnist_format
from tinyvision.errors import TinyVisionError

Loader = Callable[[Path | None], ImageData]

DATASETS: dict[str, Loader] = {
    "mnist": lambda data_dir: load_mnist_format(MNIST, data_dir),
    "fashion-mnist": lambda data_dir: load_mnist_format(FASHION_MNIST, data_dir),
    "cifar10": load_cifar10,
}


def load_dataset(name: str, data_dir: Path | None = None, image_size: int | None = None) -> ImageData:
    """Load the dataset registered as `name` (or `folder:PATH`), from `data_dir` or its default sources.

    `image_size` resizes folder datasets; a fixed-size dataset accepts only its own size.
    """
    if name.startswith(FOLDER_PREFIX):
        if data_dir is not None:
            raise TinyVisionError(f"--data-dir does not apply to {name}: the path is part of the name")
        return load_folder(name, image_size)
    if name not in DATASETS:
        raise TinyVisionError(
            f"unknown dataset {name!r}; choose from {', '.join(DATASETS)} or {FOLDER_PREFIX}PATH"
        )
    data = DATASETS[name](data_dir)
    _, h, w = data.input_shape
    if image_size is not None and (image_size, image_size) != (h, w):
        raise TinyVisionError(
            f"--image-size {image_size} does not match {name}, whose images are {h}x{w} "
            f"(resizing applies to {FOLDER_PREFIX}PATH datasets only)"
        )
    return data


__all__ = ["DATASETS", "FOLDER_PREFIX", "ImageData", "load_dataset", "split_indices"]

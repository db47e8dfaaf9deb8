"""Datasets registered by name; each loader returns an `ImageData`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tinyvision.datasets.image_data import ImageData, split_indices
from tinyvision.datasets.mnist import MNIST, load_mnist_format
from tinyvision.errors import TinyVisionError

Loader = Callable[[Path | None], ImageData]

DATASETS: dict[str, Loader] = {
    "mnist": lambda data_dir: load_mnist_format(MNIST, data_dir),
}


def load_dataset(name: str, data_dir: Path | None = None) -> ImageData:
    """Load the dataset registered as `name`, from `data_dir` or its default source."""
    if name not in DATASETS:
        raise TinyVisionError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[name](data_dir)


__all__ = ["DATASETS", "ImageData", "load_dataset", "split_indices"]

"""Datasets by name: `tinyvision.datasets.load("mnist")` -> an `ImageData`.

Every dataset is an entry of the registry (`datasets/registry.py`): its kind,
recipe defaults, preparation and loader. `folder:PATH` names a user's folder
of images (see `datasets/folder.py`).
"""

from __future__ import annotations

from pathlib import Path

from tinyvision.datasets.image_data import ImageData, split_indices
from tinyvision.datasets.registry import (
    FOLDER_PREFIX,
    REGISTRY,
    DatasetSpec,
    load_dataset,
    register,
    spec_for,
)


def load(name: str = "mnist", data_dir: str | Path | None = None, image_size: int | None = None) -> ImageData:
    """Load a dataset by name (`mnist`, `fashion-mnist`, `cifar10` or `folder:PATH`) as uint8 tensors."""
    return load_dataset(name, Path(data_dir).expanduser() if data_dir is not None else None, image_size)


def names() -> list[str]:
    """The registered dataset names (plus `folder:PATH` for your own images)."""
    return list(REGISTRY)


__all__ = [
    "FOLDER_PREFIX", "REGISTRY", "DatasetSpec", "ImageData", "load", "load_dataset", "names", "register",
    "spec_for", "split_indices",
]

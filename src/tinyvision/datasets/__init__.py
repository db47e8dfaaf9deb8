"""Datasets by name: `tinyvision.datasets.load("mnist")` -> an `ImageData`.

Every dataset is an entry of the registry (`datasets/registry.py`): its kind,
recipe defaults, preparation and loader. `folder:PATH` names a user's folder
of images (see `datasets/folder.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tinyvision.datasets.image_data import ImageData, split_indices
from tinyvision.datasets.registry import (
    FOLDER_PREFIX,
    REGISTRY,
    DatasetSpec,
    load_dataset,
    register,
    spec_for,
)
from tinyvision.datasets.split import SplitOptions

if TYPE_CHECKING:
    from tinyvision.datasets.data_check import CheckReport


def load(name: str = "mnist", data_dir: str | Path | None = None, image_size: int | None = None) -> ImageData:
    """Load a dataset by name (`mnist`, `fashion-mnist`, `cifar10` or `folder:PATH`) as uint8 tensors."""
    return load_dataset(name, Path(data_dir).expanduser() if data_dir is not None else None, image_size)


def check(name: str = "mnist", image_size: int | None = None, split: SplitOptions | None = None,
          data_dir: str | Path | None = None, near: bool = True) -> CheckReport:
    """Check a dataset: counts, sizes, unreadable files, duplicates, leakage, imbalance (`datasets/data_check.py`).

    Returns a `CheckReport`: `.problems`, `.summary()`, `.data` (report.json), `.write(folder)`.
    """
    from tinyvision.datasets.data_check import check as run_check

    return run_check(name, image_size, split, data_dir, near)


def names() -> list[str]:
    """The registered dataset names (plus `folder:PATH` for your own images)."""
    return list(REGISTRY)


__all__ = [
    "FOLDER_PREFIX", "REGISTRY", "DatasetSpec", "ImageData", "SplitOptions", "check", "load", "load_dataset", "names",
    "register", "spec_for", "split_indices",
]

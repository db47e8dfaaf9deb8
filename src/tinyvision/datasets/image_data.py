"""What every dataset source produces: whole splits as uint8 tensors + class names."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tinyvision.errors import TinyVisionError


@dataclass(frozen=True)
class ImageData:
    """A labelled image dataset held in memory.

    Images are uint8 tensors shaped (N, C, H, W); labels are int64 (N,).
    Keeping pixels as uint8 until a batch is sliced costs 4x less memory than
    float and lets a batch be gathered with one indexing operation.
    """

    name: str
    classes: tuple[str, ...]
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    # A validation split the dataset brings itself (a folder's val/); otherwise
    # training holds out a seeded share of the training split.
    val_images: torch.Tensor | None = None
    val_labels: torch.Tensor | None = None
    # Datasets made of files (folder:PATH): each file's split, written to the run folder as split.json.
    # A split too large for memory is a `folder_cache.MappedImages` instead of a tensor.
    split_files: dict[str, str] | None = None

    def __repr__(self) -> str:
        """One line, as a notebook shows the value of a cell (the dataclass's own printed every tensor)."""
        splits = [("train", self.train_images), ("val", self.val_images), ("test", self.test_images)]
        counts = ", ".join(f"{len(x):,} {name}" for name, x in splits if x is not None)
        shape = "x".join(str(d) for d in self.train_images.shape[1:])
        return f"ImageData({self.name!r}: {len(self.classes)} classes, {counts} images of {shape})"

    def __post_init__(self) -> None:
        splits = ("train", "test") if self.val_images is None else ("train", "val", "test")
        for split in splits:
            images, labels = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
            if images.dtype != torch.uint8 or images.ndim != 4:
                raise TinyVisionError(f"{self.name}: {split} images must be uint8 (N, C, H, W)")
            if len(images) != len(labels):
                raise TinyVisionError(
                    f"{self.name}: {len(images)} {split} images but {len(labels)} labels"
                )
            if len(labels) and (labels.min() < 0 or labels.max() >= len(self.classes)):
                raise TinyVisionError(
                    f"{self.name}: {split} labels outside 0..{len(self.classes) - 1}"
                )
        if any(getattr(self, f"{split}_images").shape[1:] != self.train_images.shape[1:] for split in splits):
            raise TinyVisionError(f"{self.name}: the splits' images differ in shape")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        c, h, w = self.train_images.shape[1:]
        return (int(c), int(h), int(w))


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded, deterministic split of range(n) into (train, validation) indices."""
    if not 0.0 <= val_fraction < 1.0:
        raise TinyVisionError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    n_val = int(round(n * val_fraction))
    if n - n_val < 1:
        raise TinyVisionError(f"--val-fraction {val_fraction} leaves no training images")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_val:].sort().values, order[:n_val].sort().values

"""Digits by other writers than MNIST's: real handwriting, scanned and drawn, for a digit model to learn.

MNIST's writers are some 500 Americans of 1990; their digits are read at
99.5%, other people's far less. Augmentation can slant and thicken a stroke
but not write like someone else. These are digits by 60 other people, from
the training writers of two UCI datasets (the test writers are kept for
evaluation): 8x8 scans of forms (optdigits) and pen paths on a tablet
(pendigits), rendered as users' images and prepared as a user's image is.
They ship with tinyvision (datasets/bundled/hand-digits/, written by
scripts/make_hand_digits.py), so training stays offline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tinyvision.errors import TinyVisionError

VERSION = 1
BUNDLE = Path(__file__).resolve().parent / "datasets" / "bundled" / "hand-digits" / f"hand-digits-v{VERSION}.npz"
# The renderings training mixes in: the scans blown up on paper (`user`) and the pen paths (`pen`), not the
# bare 8x8 grids (`native`). Chosen on validation (benchmarks/results/digit_recipes.json, trials v9-*): with
# the grids, MNIST's validation accuracy fell further for no gain on the held-out rows.
TRAIN_VARIANTS = ("user", "pen")


def load_hand_digits(part: str = "fit", path: Path | None = None,
                     variants: tuple[str, ...] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images (N, 1, 28, 28), int64 labels (N,)) of the training rows (`fit`) or the held-out
    validation rows (`check`); `variants` keeps only those renderings (native, user, pen)."""
    path = path or BUNDLE
    if not path.is_file():
        raise TinyVisionError(f"{path} is missing (write it with scripts/make_hand_digits.py), "
                              f"or train with --hand-digits 0")
    with np.load(path) as z:
        keep = z["check"] if part == "check" else ~z["check"]
        if variants is not None:
            keep = keep & np.isin(z["variant"], variants)
        return (torch.from_numpy(z["images"][keep]).unsqueeze(1),
                torch.from_numpy(z["labels"][keep].astype(np.int64)))

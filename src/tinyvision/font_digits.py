"""Digits in handwriting and printed fonts: shapes MNIST's writers did not use, for a digit model to learn.

MNIST's writers (American Census staff and students) wrote a 1 as a bar and
a 7 without a stroke through it; much of the world writes a 1 with a flag,
crosses its 7s, opens its 4s and draws 6s and 9s with straight stems.
Augmentation moves, bends and thickens strokes but cannot invent those
shapes. A few thousand digits drawn from fonts can: each drawn from one of
the TRAIN-group fonts of benchmarks/sets (handwriting fonts, Hershey stroke
fonts, printed fonts; never the EVAL group the benchmarks measure with),
varied in weight, slant and rotation, photographed on paper, and prepared
as a user's image is (`image.digits`). They ship with tinyvision
(datasets/bundled/font-digits/, written by scripts/make_font_digits.py),
since the fonts themselves are not installed everywhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tinyvision.errors import TinyVisionError

VERSION = 1
BUNDLE = Path(__file__).resolve().parent / "datasets" / "bundled" / "font-digits" / f"font-digits-v{VERSION}.npz"


def load_font_digits(path: Path = BUNDLE) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images (N, 1, 28, 28) prepared like users' digits, int64 labels (N,))."""
    if not path.is_file():
        raise TinyVisionError(f"{path} is missing (write it with scripts/make_font_digits.py), "
                              f"or train with --font-digits 0")
    with np.load(path) as z:
        return torch.from_numpy(z["images"]).unsqueeze(1), torch.from_numpy(z["labels"].astype(np.int64))

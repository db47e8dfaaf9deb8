"""Training digits cut out of touching neighbours: how a number's touching digits reach the model.

Reading a number whose digits touch ("84" written in one stroke), the
segmenter cuts the ink between them (`image.segment`) and each digit is
prepared from its side of the cut. The cut seldom falls where one digit ends:
the digit keeps a stub of its neighbour's stroke, or loses the tip of its own.
MNIST's digits were written in boxes and never look like that, so a touching
"23" was read with a doubtful 3 and refused. These are the run's own training
digits (never its validation or test digits), each drawn beside one or two
other training digits, touching or overlapping a little, at slightly different
sizes and heights, cut apart near where they meet, and prepared as every digit
is (`image.digits.prepare_ink`); the label is the digit's own. An option
(`--cut-digits`), measured on validation and left off: docs/training.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tinyvision.image.digits import crop_to_ink, prepare_ink, resize_to_height

POOL = 12_000  # cut digits made per run: a fifth of MNIST's training split, mixed into its batches
BOTH_SIDES = 0.3  # share with a neighbour on each side (a middle digit of "748"), the rest one side
MAX_OVERLAP = 3  # pixels two neighbours' boxes overlap at most, at MNIST's 20-pixel digit height
MAX_DROP = 3  # pixels a neighbour's baseline sits higher or lower at most
CUT_JITTER = 2  # pixels the cut falls either side of the middle of where the two digits meet


@dataclass(frozen=True)
class _Placed:
    """One digit on the line: its ink, where its box starts (top row, left column) and how far it overlaps
    the digit before it."""

    ink: np.ndarray
    top: int
    column: int
    overlap: int


def cut_digit(digit: np.ndarray, left: np.ndarray | None, right: np.ndarray | None,
              rng: np.random.Generator) -> np.ndarray:
    """A 28x28 digit in [0, 1] drawn between its `left` and `right` neighbours (28x28, or None: no
    neighbour on that side), touching them, then cut out near where they meet and prepared as a digit."""
    own = crop_to_ink(digit)
    height = own.shape[0]
    line: list[_Placed] = []  # the digits written, left to right
    x = 0
    for written in (left, digit, right):
        if written is None:
            continue
        ink = own
        if written is not digit:  # a neighbour, a little larger or smaller
            ink = resize_to_height(crop_to_ink(written), max(1, round(height * rng.uniform(0.85, 1.15))))
        overlap = 0  # boxes just touching ...
        if line:  # ... or overlapping, never by more than a quarter of the own digit (a 1 stays a 1)
            most = min(MAX_OVERLAP, own.shape[1] // 4, ink.shape[1] - 1, line[-1].ink.shape[1] - 1)
            overlap = int(rng.integers(0, max(0, most) + 1))
        x -= overlap
        # A neighbour's baseline a little higher or lower.
        top = 0 if ink is own else int(rng.integers(-MAX_DROP, MAX_DROP + 1)) + (height - ink.shape[0]) // 2
        line.append(_Placed(ink, top, x, overlap))
        x += ink.shape[1]
    lowest = min(p.top for p in line)
    canvas = np.zeros((max(p.top - lowest + p.ink.shape[0] for p in line), x), np.float32)
    for p in line:
        region = canvas[p.top - lowest : p.top - lowest + p.ink.shape[0], p.column : p.column + p.ink.shape[1]]
        np.maximum(region, p.ink, out=region)  # one pen: overlapping strokes do not add up
    index = next(i for i, p in enumerate(line) if p.ink is own)
    start, end = line[index].column, line[index].column + own.shape[1]
    # The cuts: the middle of each overlap (or the seam between boxes that just touch), give or take.
    jitter = min(CUT_JITTER, own.shape[1] // 6)
    cut_left = start + line[index].overlap // 2 + int(rng.integers(-jitter, jitter + 1)) if index > 0 else 0
    cut_right = x
    if index + 1 < len(line):
        cut_right = end - line[index + 1].overlap // 2 + int(rng.integers(-jitter, jitter + 1))
    cut_left, cut_right = max(0, cut_left), min(x, max(cut_right, cut_left + 1))
    piece = canvas[:, cut_left:cut_right]
    if not (piece > 0.1).any():  # nothing of the digit left on its side (a sliver of a 1): keep it whole
        piece = own
    return prepare_ink(piece)


def cut_digits(images: torch.Tensor, labels: torch.Tensor, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` digits of `images` (uint8 (N, 1, 28, 28)), each cut from between random neighbours of
    `images`: (uint8 (count, 1, 28, 28), their labels (count,))."""
    rng = np.random.default_rng([seed, 3])
    pick = rng.integers(0, len(images), (count, 3))
    sides = rng.random(count)
    digits = images[torch.from_numpy(pick.ravel())].reshape(count, 3, 28, 28).float().div(255).numpy()
    out = []
    for d, side in zip(digits, sides):
        both = side < BOTH_SIDES
        on_left = both or side < BOTH_SIDES + (1 - BOTH_SIDES) / 2
        out.append(cut_digit(d[0], d[1] if on_left else None, d[2] if both or not on_left else None, rng))
    images_out = torch.from_numpy(np.round(np.stack(out) * 255).astype(np.uint8)).unsqueeze(1)
    return images_out, labels[torch.from_numpy(pick[:, 0])].clone()

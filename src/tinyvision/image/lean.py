"""Italic writing: how far a number's digits lean, and the ink map sheared so that they stand as MNIST's do.

A writer who leans each digit 25 degrees to the right (or back to the left) writes a 1 that a model trained
on MNIST's writers reads as a 7 or not at all, though the line of digits is level (a turned photo, where
the line tilts, is `image.tilt`'s). How far the digits lean is measured from their ink, as MNIST's deskewing
classifiers measured it: the ink's second moments, x against y, within each mark, pooled over the marks
(`group_pieces`: the halves of an 8 drawn open are one mark). The reader (`read_number`) reads the ink stood
upright as a second opinion.
"""

from __future__ import annotations

import numpy as np

from tinyvision.image.components import INK_LEVEL, label_components
from tinyvision.image.segment import group_pieces
from tinyvision.image.warp import Warp

# How far MNIST's digits lean, in columns per row (x against y, rows growing downwards: below 0, a digit's
# top lies right of its bottom): the median over its first 20,000 training digits, measured as `ink_lean`
# measures one mark (std 0.28 over the digits; per digit, from -0.24 for 1s to -0.01 for 9s). Stood
# upright, a number leans as MNIST's writers wrote, not at 0: that is what the model knows.
MNIST_LEAN = -0.12
# The most a map is sheared by (columns per row, 56 degrees). Writing leans less: the italic sets lean at most
# about 1. A stroke lying nearly level "leans" by hundreds (its rows barely vary): one upload of a line, its
# 512 px ink map sheared by that, was 68,000 px wide (1.8 GB and 5 s). Such ink is no leaning digit.
MAX_SHEAR = 1.5


def ink_lean(ink: np.ndarray) -> float | None:
    """How far an ink map's digits lean: columns their ink moves right per row downwards (negative: leaning
    right, as most writers' digits do), pooled over its marks; None without ink."""
    labels, count = label_components(ink > INK_LEVEL)
    if count < 1:
        return None
    group, _, _ = group_pieces(labels, count)
    # Each component's weighted sums, then each mark's: its pieces' moments about the mark's own centre.
    rows, columns = (v.ravel() for v in np.indices(ink.shape, dtype=np.float64))
    weight = np.where(labels >= 0, ink, 0.0).astype(np.float64).ravel()
    index = labels.ravel() + 1  # background (-1) counted apart, in bin 0
    sums = [np.bincount(index, w, count + 1)[1:]
            for w in (weight, weight * columns, weight * rows, weight * columns * rows, weight * rows * rows)]
    mark = np.where(group >= 0, group, count)  # specks (-1) in a group of their own, left out below
    m, x, y, xy, yy = (np.bincount(mark, s, count + 1)[:count] for s in sums)
    kept = m > 0
    m, x, y, xy, yy = m[kept], x[kept], y[kept], xy[kept], yy[kept]
    covariance = float(np.sum(xy - x * y / m))
    variance = float(np.sum(yy - y * y / m))
    return covariance / variance if variance > 0 else None


def stand_upright(ink: np.ndarray, lean: float) -> tuple[np.ndarray, Warp] | None:
    """An ink map whose digits lean by `lean` (`ink_lean`), sheared about its middle row so that they lean as
    MNIST's do (MNIST_LEAN), into a map wide enough to hold all of it; and the shear, which maps boxes back.
    None when that takes a shear of more than MAX_SHEAR columns per row."""
    h, w = ink.shape
    k = MNIST_LEAN - lean  # a point (x, y) moves to (x + k (y - h/2) + pad, y)
    if abs(k) > MAX_SHEAR:
        return None
    pad = abs(k) * h / 2
    shear = Warp((1.0, -k, k * h / 2 - pad, 0.0, 1.0, 0.0), (h, w), (h, int(np.ceil(w + abs(k) * h))))
    return shear.apply(ink), shear

"""An ink map mapped by an affine transform into a new one, nothing cut off, and its boxes mapped back.

The reader's second opinions read the ink turned level (`image.tilt`) or stood upright (`image.lean`); a
digit found in the new map is answered with its box in the image as the user gave it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Warp:
    """Where each point (u, v) of the new map comes from in the original: x = a u + b v + c, y = d u + e v + f
    (`back` = (a, b, c, d, e, f), as PIL's affine transform takes it)."""

    back: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]  # the original's (rows, columns)
    warped_shape: tuple[int, int]  # the new map's

    def apply(self, ink: np.ndarray) -> np.ndarray:
        """The ink map (float, ink bright, of `shape`) in the new map's frame, bilinear, blank outside it."""
        rows, columns = self.warped_shape
        image = Image.fromarray(np.ascontiguousarray(ink, np.float32), mode="F")
        warped = image.transform((columns, rows), Image.Transform.AFFINE, self.back,
                                 resample=Image.Resampling.BILINEAR, fillcolor=0.0)
        return np.clip(np.asarray(warped, np.float32), 0.0, 1.0)

    def box_back(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """A (top, left, bottom, right) box of the new map -> the box around it in the original map."""
        top, left, bottom, right = box
        corners = np.array([[left, top, 1], [right, top, 1], [left, bottom, 1], [right, bottom, 1]], np.float64)
        xy = corners @ np.array(self.back, np.float64).reshape(2, 3).T
        h, w = self.shape
        return (int(np.clip(np.floor(xy[:, 1].min()), 0, h)), int(np.clip(np.floor(xy[:, 0].min()), 0, w)),
                int(np.clip(np.ceil(xy[:, 1].max()), 0, h)), int(np.clip(np.ceil(xy[:, 0].max()), 0, w)))

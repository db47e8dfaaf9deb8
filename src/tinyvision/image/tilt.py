"""A line of digits photographed askew: how far it tilts, and the ink map turned level.

A number is written along a line. Held at an angle, the camera turns the line and every digit on it, and a
digit model trained on upright digits reads a 3 turned by 25 degrees worse than a 3. The line's tilt is
measured from where its digits are (the centres of the marks that `segment.group_pieces` finds, fitted by
least squares), not from their shapes, so one turned digit alone has no tilt to measure: a lone digit's own
turn is the augmentation's to cover. Digits leaning on a level line are italic writing (`image.lean`). The
reader (`read_number`) reads the levelled ink as a second opinion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tinyvision.image.components import INK_LEVEL, label_components
from tinyvision.image.segment import group_pieces
from tinyvision.image.warp import Warp

# The centres of a line's marks lie this close to the line fitted through them (root mean square, in digit
# heights) or it is no line: scattered marks (a doodle, a photo's texture) fit a line at some angle too.
MAX_SPREAD = 0.25


@dataclass(frozen=True)
class Tilt:
    """The line through the marks' centres: its angle (degrees, positive when it rises to the left, as image
    rows grow downwards), how far the centres lie from it (in digit heights) and how many marks it joins."""

    degrees: float
    spread: float
    marks: int


def line_tilt(ink: np.ndarray) -> Tilt | None:
    """The tilt of the line an ink map's marks are written along; None for fewer than two marks."""
    labels, count = label_components(ink > INK_LEVEL)
    if count < 2:
        return None
    group, height, box = group_pieces(labels, count)
    keys = np.unique(group[group >= 0])
    if keys.size < 2:
        return None
    # Each mark's centre: the middle of the box around its pieces (the halves of an 8 drawn open are one mark).
    centres = []
    for g in keys:
        b = box[group == g]
        centres.append(((b[:, 1].min() + b[:, 3].max()) / 2, (b[:, 0].min() + b[:, 2].max()) / 2))
    x, y = np.array(centres, np.float64).T
    if np.ptp(x) < 1:
        return None  # marks stacked in one column: no line to speak of
    slope, offset = np.polyfit(x, y, 1)
    spread = float(np.sqrt(np.mean((y - (slope * x + offset)) ** 2)) / max(height, 1.0))
    return Tilt(math.degrees(math.atan(slope)), spread, int(keys.size))


def level(ink: np.ndarray, degrees: float) -> tuple[np.ndarray, Warp]:
    """An ink map (float, ink bright) whose line tilts by `degrees`, turned about its centre so that the line
    is level, into a map large enough to hold all of it; and the turn, which maps its boxes back."""
    h, w = ink.shape
    a = math.radians(degrees)
    cos, sin = math.cos(a), math.sin(a)
    tw = int(math.ceil(abs(cos) * w + abs(sin) * h))
    th = int(math.ceil(abs(sin) * w + abs(cos) * h))
    cx, cy, tcx, tcy = w / 2, h / 2, tw / 2, th / 2
    # x = cos*(u - tcx) - sin*(v - tcy) + cx;  y = sin*(u - tcx) + cos*(v - tcy) + cy
    turn = Warp((cos, -sin, cx - cos * tcx + sin * tcy, sin, cos, cy - sin * tcx - cos * tcy), (h, w), (th, tw))
    return turn.apply(ink), turn

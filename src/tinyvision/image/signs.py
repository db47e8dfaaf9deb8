"""A number's minus sign and decimal point: found in the ink map before its digits are, and taken out of it.

Read as digits, "-42" was answered "42" and "3.14" "314": a minus is a short
flat mark, a point a dot, and the segmenter drops both as noise or joins them
to a neighbouring digit. Each is told by its shape and its place on the line
of digits, not by the model:

- a point: a small, solid, roughly round mark (no longer than POINT_SIZE of the
  digit height, no thinner than POINT_PEN of the writer's stroke), apart from
  the digits on either side, low on their line (its centre in their bottom
  POINT_LOW, its bottom at most POINT_BELOW below it), with no mark above it
  (a colon, an exclamation mark);
- a minus: a flat, solid mark (at least MINUS_FLAT times as wide as it is
  thick, at least MINUS_WIDTH of the digit height wide, at most MINUS_THICK
  thick), left of every digit, within MINUS_GAP digit heights of the first,
  in the middle of its height (MINUS_MIDDLE), with no mark over or under it
  (an equals sign, a plus);
- a comma: a mark from low on the line to below it (COMMA_BELOW), between two
  digits and apart from both. It is taken out, and which comma it is is told
  by the digits after it once they are read: three, as a thousands comma
  groups them ("1,250" is 1250, "1,234.5" 1234.5), and it is written as
  nothing; any other count, and it can only be a decimal comma ("3,14",
  "1.234,56"), written as a point: 3.14, 1234.56.

One point and one minus at most: two dots, or a dot and another small mark,
between digits are no decimal number ("12.05.2026"), and beside commas a dot
with three digits after it is taken for one more comma. Marks that are none of
these are left in the ink and read as before. The ink without the signs is read as every number is
(`read_number`), and the answer is written with them ("-3.14"); a point with
no digit on either side of it once the digits are read is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyvision.image.components import INK_LEVEL, component_boxes, label_components, stroke_width
from tinyvision.image.segment import MAJOR_HEIGHT, weighted_median

# Chosen on validation (benchmarks/signs_choices.py, on number_photos.py build --paper signed --source val
# and plain validation numbers; table signs-choices in docs/predict-serve-export.md). POINT_SIZE, MINUS_WIDTH
# or COMMA_BELOW None: points, minus signs or commas are not looked for.
POINT_SIZE: float | None = 0.4  # a point is no longer, either way, than this share of the digit height ...
POINT_MIN = 0.08  # ... no shorter than this (a speck of the paper is less) ...
POINT_PEN = 0.5  # ... nor than this x the digits' stroke width (a pen's dot is about as wide as its line) ...
POINT_ROUND = 1.5  # ... no longer one way than this x the other ...
POINT_SOLID = 0.6  # ... and fills at least this share of its box (a pen's dot; not a hook or a bit of a stroke)
POINT_LOW = 0.35  # its centre in the bottom share of its neighbours' line ...
POINT_BELOW = 0.15  # ... its bottom at most this share of the digit height below it (a comma's tail goes lower)
# A comma (a mark from low on the line to below it, between two digits, apart from both) is taken out too
# (read as a digit, "1,250" was "11250"), and written as nothing before three digits, as a point before any
# other count (`Signs.write`). Its bottom lies more than POINT_BELOW and at most COMMA_BELOW digit heights
# below the line.
COMMA_BELOW: float | None = 0.6
COMMA_SIZE = 0.6  # ... and it is at most this share of the digit height tall (as tall as a digit's part) ...
COMMA_WIDTH = 0.4  # ... and this share wide
# A mark at least this many times as tall as it is wide that ends below the line at all is a comma too, its
# head on the line and its tail short (None: only the marks reaching POINT_BELOW below): drawn so, commas
# before a decimal part were left in the ink, and "3,14" read 314.
COMMA_LONG: float | None = 1.5
MINUS_WIDTH: float | None = 0.25  # a minus is at least this share of the digit height wide ...
MINUS_THICK = 0.3  # ... at most this share thick ...
MINUS_FLAT = 2.0  # ... at least this many times as wide as thick ...
MINUS_SOLID = 0.25  # ... fills at least this share of its box (less than a dot: a bar drawn aslant) ...
MINUS_GAP = 1.0  # ... ends within this many digit heights of the first digit ...
MINUS_MIDDLE = (0.25, 0.75)  # ... with its centre within this band of the first digit's height


@dataclass(frozen=True)
class Signs:
    """What `find_signs` took out of an ink map: the boxes (top, left, bottom, right) of a minus, a
    point (or None) and the commas."""

    minus: tuple[int, int, int, int] | None = None
    point: tuple[int, int, int, int] | None = None
    commas: tuple[tuple[int, int, int, int], ...] = ()

    def write(self, digits: list[str], centres: list[float]) -> str:
        """The number as written: `digits` (left to right, each at its centre column) with the minus
        before them and its decimal mark, written as a point, between the two digits it lies between
        (none at either end).

        The decimal mark is the last separator on the line when it is the point, or a comma not followed
        by exactly three digits, which groups thousands ("3,14" and "1.234,56": decimal commas; "1,250":
        a thousands comma). The separators before it, and every comma that groups three digits, are
        written as nothing."""
        text = "".join(digits)
        boxes = [(box, "comma") for box in self.commas] + ([(self.point, "point")] if self.point is not None else [])
        placed = []  # each separator, left to right, by the count of digits left of it
        for x, kind in sorted(((box[1] + box[3]) / 2, kind) for box, kind in boxes):
            k = sum(c < x for c in centres)
            if 0 < k < len(digits):  # one at either end of the digits separates nothing
                placed.append((k, kind))
        if placed:
            k, kind = placed[-1]
            if kind == "point" or len(digits) - k != 3:
                text = text[:k] + "." + text[k:]
        return ("-" if self.minus is not None and digits else "") + text


def find_signs(ink: np.ndarray) -> tuple[np.ndarray, Signs]:
    """An ink map (bright on black, in [0, 1]) -> the same without its minus and point, and where they were."""
    labels, count = label_components(ink > INK_LEVEL)
    if count < 2:
        return ink, Signs()
    box, area = component_boxes(labels, count)
    heights, widths = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
    height = weighted_median(heights, area)  # the digit height, as the segmenter measures it
    digits = np.flatnonzero(heights >= MAJOR_HEIGHT * height)
    if digits.size == 0:
        return ink, Signs()
    fill = area / (heights * widths)
    pen = stroke_width(np.isin(labels, digits))  # the writer's stroke: a dot of the pen is no thinner
    points = [i for i in range(count) if POINT_SIZE is not None and fill[i] >= POINT_SOLID
              and max(heights[i], widths[i]) >= POINT_PEN * pen and _is_point(box, i, digits, height)]
    commas = [i for i in range(count)
              if COMMA_BELOW is not None and fill[i] >= MINUS_SOLID and _is_comma(box, i, digits, height)]
    # Small marks between two digits that are neither (a second dot that is not quite round, a speck): with
    # any, a point is no longer the line's one separator ("12.05.2026" with one dot smaller is no 12.052026).
    small = [i for i in range(count) if heights[i] < MAJOR_HEIGHT * height and i not in commas
             and max(heights[i], widths[i]) >= POINT_MIN * height and _between(box, i, digits) is not None]
    if len(small) > 1:
        points = []
    if commas and len(points) == 1 and (box[digits, 1] >= box[points[0], 3]).sum() == 3:
        # Beside thousands commas, a dot with three digits after it is one more of them, its tail too short to
        # tell ("1,234,567" typed: the last comma passed for a point, 1234.567).
        commas, points = [*commas, points[0]], []
    minus = [i for i in range(count)
             if MINUS_WIDTH is not None and fill[i] >= MINUS_SOLID and _is_minus(box, i, digits, height)]
    found = Signs(minus=tuple(int(v) for v in box[minus[0]]) if len(minus) == 1 else None,
                  point=tuple(int(v) for v in box[points[0]]) if len(points) == 1 else None,
                  commas=tuple(tuple(int(v) for v in box[i]) for i in commas))
    taken = [i for i, keep in ((minus[0] if minus else -1, found.minus), (points[0] if points else -1, found.point))
             if keep is not None] + commas
    if not taken:
        return ink, found
    return np.where(np.isin(labels, taken), 0.0, ink).astype(ink.dtype), found


def _between(box: np.ndarray, i: int, digits: np.ndarray) -> tuple[int, int] | None:
    """The top and bottom of the line of the two digits mark i lies between, apart from both and with no
    mark above it on that line; None when it does not. (A mark above makes it the foot of something else:
    a colon, an exclamation mark, a semicolon, a digit's stroke broken off above a speck.)"""
    top, left, _, right = box[i]
    digits = digits[digits != i]  # (a comma may be as tall as a digit's part)
    before = digits[box[digits, 3] <= left]  # digits wholly left of it ...
    after = digits[box[digits, 1] >= right]  # ... and wholly right of it
    if before.size == 0 or after.size == 0 or np.any((box[digits, 1] < right) & (box[digits, 3] > left)):
        return None
    near = [before[np.argmax(box[before, 3])], after[np.argmin(box[after, 1])]]
    line_top, line_bottom = int(box[near, 0].min()), int(box[near, 2].max())  # their line, uneven or not
    above = (box[:, 1] < right) & (box[:, 3] > left) & (box[:, 2] <= top) & (box[:, 2] > line_top)
    return None if above.any() else (line_top, line_bottom)


def _is_point(box: np.ndarray, i: int, digits: np.ndarray, height: float) -> bool:
    """A dot low on the line, between two digits and apart from both."""
    assert POINT_SIZE is not None
    top, left, bottom, right = box[i]
    h, w = bottom - top, right - left
    if not (POINT_MIN * height <= max(h, w) <= POINT_SIZE * height and max(h, w) <= POINT_ROUND * min(h, w)):
        return False
    line = _between(box, i, digits)
    return line is not None and (top + bottom) / 2 >= line[1] - POINT_LOW * (line[1] - line[0]) \
        and bottom <= line[1] + POINT_BELOW * height


def _is_comma(box: np.ndarray, i: int, digits: np.ndarray, height: float) -> bool:
    """A short mark from low on the line to below it, between two digits and apart from both: well below it,
    or a little and longer than a point."""
    assert COMMA_BELOW is not None
    top, left, bottom, right = box[i]
    if not (POINT_MIN * height <= bottom - top <= COMMA_SIZE * height and right - left <= COMMA_WIDTH * height):
        return False
    line = _between(box, i, digits)
    if line is None or top < line[1] - POINT_LOW * (line[1] - line[0]) or bottom > line[1] + COMMA_BELOW * height:
        return False
    # Below the line by more than a point goes, or at all when it is too long for a point: a comma's tail
    # may end just under the line, its head on it.
    return bottom > line[1] + POINT_BELOW * height or (
        COMMA_LONG is not None and bottom > line[1] and bottom - top >= COMMA_LONG * (right - left))


def _is_minus(box: np.ndarray, i: int, digits: np.ndarray, height: float) -> bool:
    """A flat bar left of every digit, level with the middle of the first."""
    assert MINUS_WIDTH is not None
    top, left, bottom, right = box[i]
    h, w = bottom - top, right - left
    if not (w >= MINUS_WIDTH * height and h <= MINUS_THICK * height and w >= MINUS_FLAT * h):
        return False
    if np.any(box[digits, 1] < right):  # every digit starts right of it
        return False
    stacked = (box[:, 1] < right) & (box[:, 3] > left)  # itself, and a mark over or under it: "=", "+", "±"
    if stacked.sum() > 1:
        return False
    first = digits[np.argmin(box[digits, 1])]
    if box[first, 1] - right > MINUS_GAP * height:
        return False
    lo, hi = MINUS_MIDDLE
    centre = (top + bottom) / 2
    first_top, first_bottom = box[first, 0], box[first, 2]
    return first_top + lo * (first_bottom - first_top) <= centre <= first_top + hi * (first_bottom - first_top)

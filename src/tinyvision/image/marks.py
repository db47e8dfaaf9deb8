"""What a writer draws around a number besides its digits: a line under it, a box or a circle round it.

People underline an answer, box a total, circle a number on a form. Left in the
ink map, an underline joins the digit above it (a 7 over a line reads "2"), a
box's sides read as 1s ("445" boxed: "14451") and a circle as a 0 or as nothing
the model knows, so the number is misread or refused. This module finds such
marks among the ink's connected pieces and clears them:

- a frame: a piece whose holes hold digit-sized pieces (a circle, a box, each
  box of a form); its outline is cleared, and a digit drawn into it keeps the
  ink that lies inside;
- an underline: a flat stroke (or two), at least about a digit wide and about
  as long as the digits above it, lying below every digit it runs under and
  inside no other piece's box (a face's mouth); one a digit touches is a piece
  with it, and stays.

Each needs other ink beside it: a lone 0 is a digit, not an empty frame, and a
lone bar is whatever the model says it is.
"""

from __future__ import annotations

import numpy as np

from tinyvision.image.components import INK_LEVEL, component_boxes, label_components, stroke_width
from tinyvision.image.paper import MIN_SHEET_PX, filter2d

FRAME_CONTENT: float | None = 0.35  # a frame holds a piece at least this share of its own height (None: no
# frames are cleared) ...
FRAME_BAND = 1.25  # ... and its outline is its ink within this many strokes of its outer edge
# A frame round one piece alone holds one at least this share of its height: a dotted zero's dot (some people
# write one; Hack and other monospace fonts draw one) is 0.46 of the 0 in Hack, and the 0 was cleared as a
# frame round it, the dot read as a "1" at 99.99% (a red team: every Hack 0 of 20 numbers); a ring or a box drawn
# round one digit mostly holds it at more than half. None: as FRAME_CONTENT. Chosen on validation (table
# frame-one: a few of the circled numbers are lost).
FRAME_ONE_CONTENT: float | None = 0.5
FRAME_SPILL: float | None = None  # a frame with more of its ink deeper than that (digits drawn into it) stays
# ... and within this many strokes of a hole that holds what it frames (None: anywhere along its outer edge): a
# circle round one digit of a number that touches its neighbours is one piece with them, and their strokes, thin
# and on that piece's outer edge, were cleared with it ("279" with its 7 circled read "7" at 100%; a red team:
# 11 of 32 such numbers answered with a digit dropped). A ring lies within a stroke of the hole it closes.
FRAME_HOLE_REACH: float | None = 1.25
# A row of printed cells (a form's boxes, one digit in each) is one piece whose inner walls lie deep inside its
# filled shape, and were kept and read as 1s ("3614" in four boxes: "3161114" at 85%; a red team: 24 of 32 such
# numbers misread). A cell is a hole spanning FORM_CELL of the frame's height or more; the frame's ink within the
# hole reach of two cells is a wall, cleared with the outline (a 1 that touches both the top and the bottom of
# a box drawn round a number is taken for one). None: no walls are cleared. Chosen on validation (table
# form-cells; a cell's width was not asked for: any test of it, 0.25 or 0.5 of the frame's height, read fewer).
FORM_CELL: float | None = 0.8
BAR_THIN = 0.2  # a bar's ink per column is at most this share of its length ...
BAR_FLAT = 0.5  # ... and its box at most this share of its length high (a ring is not a bar)
MAJOR_HEIGHT = 0.45  # pieces (not bars) at least this share of the tallest are the digits
UNDERLINE_WIDTH: float | None = 0.9  # an underline is at least this many digit heights long (None: none is
# cleared) ...
UNDERLINE_DEPTH = 0.7  # ... no column of it deeper than this share of a digit height (two lines drawn
# close together, one piece, are about 0.5) ...
UNDERLINE_OVERHANG = 1.0  # ... and no longer than the digits above it and this many digit heights
SOFT_EDGE = 2  # px around a cleared mark: its faint edge goes with it
# HOLE_PIECES pieces of ink or more inside one hole of another, each at least HOLE_MARK of the outer one's
# height either way, make the image no number (`holds_marks`): a face's eyes and mouth, joined to its outline
# as parts of a "0", were read as one (a drawn smiley answered "0" at 0.98). One piece is not enough: a
# dotted or slashed zero (monospace fonts draw them), a pen's dot in a loop. Frames holding digits were
# cleared before (`frames`). None: never. Chosen on validation
# (benchmarks/segment_costs.py and marks_choices.py, results/hole_marks_*.json, table hole-marks).
HOLE_MARK: float | None = 0.05
HOLE_PIECES = 2
MAX_PIECES = 1000  # more pieces than this are a texture or noise, no marked number: left as they are (the
# search compares every piece with every other, and the reader refuses such a page anyway)


def interior(outline: np.ndarray) -> np.ndarray:
    """The holes of a boolean piece: background its own box's edge cannot reach without crossing it."""
    background, count = label_components(~outline)
    if count == 0:
        return np.zeros_like(outline)
    edge = np.unique(np.concatenate((background[0], background[-1], background[:, 0], background[:, -1])))
    return (background >= 0) & ~np.isin(background, edge)


def holds_marks(ink: np.ndarray) -> bool:
    """Whether one hole of a piece of ink holds HOLE_PIECES other pieces or more, each at least HOLE_MARK of
    its height either way (as `frames` finds a frame, but for what no digit has inside it: a face's eyes
    and mouth). One piece alone in a loop is a dotted or slashed zero, or a pen's dot."""
    if HOLE_MARK is None:
        return False
    labels, count = label_components(ink > INK_LEVEL)
    if count < HOLE_PIECES + 1 or count > MAX_PIECES:
        return False
    box, _ = component_boxes(labels, count)
    heights, sides = box[:, 2] - box[:, 0], np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])
    for c in range(count):
        t, left, b, r = box[c]
        held = np.flatnonzero((box[:, 0] > t) & (box[:, 1] > left) & (box[:, 2] < b) & (box[:, 3] < r)
                              & (sides >= HOLE_MARK * heights[c]))
        if held.size < HOLE_PIECES:
            continue
        crop = labels[t:b, left:r]
        holes, _ = label_components(interior(crop == c))
        where = [np.unique(holes[crop == k]) for k in held]
        inside = [int(w[0]) for w in where if w.size == 1 and w[0] >= 0]  # wholly within one hole
        if inside and max(np.bincount(inside)) >= HOLE_PIECES:
            return True
    return False


def _erode(mask: np.ndarray, reach: int) -> np.ndarray:
    """Pixels whose whole (2 reach + 1) square lies in `mask` (nothing beyond its edges does)."""
    padded = np.pad(mask.astype(np.float32), reach)
    return filter2d(padded, 2 * reach + 1, np.min)[reach:-reach, reach:-reach] > 0.5


def dilate(mask: np.ndarray, reach: int) -> np.ndarray:
    """Pixels whose (2 reach + 1) square holds a pixel of `mask` (nothing beyond its edges does)."""
    padded = np.pad(mask.astype(np.float32), reach)
    return filter2d(padded, 2 * reach + 1, np.max)[reach:-reach, reach:-reach] > 0.5


def frames(labels: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The outlines of pieces that frame others, as a mask: a piece whose holes hold a piece FRAME_CONTENT
    of its height or taller. Its outline is its ink within FRAME_BAND strokes of its filled shape's edge;
    a digit drawn into the frame lies deeper, and stays. A row of a form's cells (`form_cells`) loses the
    walls between them too."""
    heights = box[:, 2] - box[:, 0]
    found = np.zeros(labels.shape, bool)
    if FRAME_CONTENT is None:
        return found
    for c in np.argsort(-(heights * (box[:, 3] - box[:, 1]))):
        t, left, b, r = box[c]
        held = np.flatnonzero((box[:, 0] > t) & (box[:, 1] > left) & (box[:, 2] < b) & (box[:, 3] < r)
                              & (heights >= FRAME_CONTENT * heights[c]))
        if held.size == 0:
            continue
        crop = labels[t:b, left:r]
        solid = crop == c
        holes = interior(solid)
        framed = [k for k in held if holes[crop == k].all()]
        if not framed or (len(framed) == 1 and FRAME_ONE_CONTENT is not None
                          and heights[framed[0]] < FRAME_ONE_CONTENT * heights[c]):
            continue
        stroke = stroke_width(solid)
        core = _erode(solid | holes, max(1, round(FRAME_BAND * stroke)))
        inside = solid & core  # ink deeper than an outline: digits drawn into the frame
        if FRAME_SPILL is None or inside.sum() <= FRAME_SPILL * solid.sum():
            outline = solid & ~core
            reach = max(1, round((FRAME_HOLE_REACH or FRAME_BAND) * stroke)) + 1
            cells = form_cells(holes)
            if FRAME_HOLE_REACH is not None:  # the ring round what is framed, not a neighbour it touches
                outline &= dilate(framing_holes(holes, crop, held) | (cells > 0), reach)
            found[t:b, left:r] |= outline | (solid & between_cells(cells, reach))  # a form's walls go too
    return found


def between_cells(cells: np.ndarray, reach: int) -> np.ndarray:
    """Pixels within `reach` of two different cells (`cells`: 0 none, 1.. each cell): the highest and the
    lowest cell label in a pixel's (2 reach + 1) square differ. Two passes however many cells a crafted
    image holds (a mask per cell would cost a copy of the frame each)."""
    size = 2 * reach + 1
    none = np.iinfo(np.int32).max
    highest = filter2d(np.pad(cells, reach), size, np.max)[reach:-reach, reach:-reach]
    lowest = filter2d(np.pad(np.where(cells > 0, cells, none), reach, constant_values=none), size,
                      np.min)[reach:-reach, reach:-reach]
    return (highest > 0) & (lowest != none) & (highest != lowest)


def form_cells(holes: np.ndarray) -> np.ndarray:
    """The holes of a frame (the `holes` mask, the frame's box) that are a form's cells, FORM_CELL of its
    height tall or more, as an int32 map: 0 no cell, 1.. each cell (all 0 when FORM_CELL is None)."""
    each, count = label_components(holes)
    if FORM_CELL is None or count == 0:
        return np.zeros(holes.shape, np.int32)
    box, _ = component_boxes(each, count)
    tall = box[:, 2] - box[:, 0] >= FORM_CELL * holes.shape[0]
    number = np.zeros(count + 1, np.int32)  # (a hole's label + 1 -> its cell's number)
    number[1:][tall] = np.arange(1, int(tall.sum()) + 1)
    return number[each + 1]


def framing_holes(holes: np.ndarray, crop: np.ndarray, held: np.ndarray) -> np.ndarray:
    """The holes (of the `holes` mask) that wholly hold one of the pieces `held` (labels in `crop`): what a frame
    closes round, not a neighbouring digit's own loop."""
    each, _ = label_components(holes)
    holding = [int(w[0]) for w in (np.unique(each[crop == k]) for k in held) if w.size == 1 and w[0] >= 0]
    return np.isin(each, holding)


def underlines(labels: np.ndarray, box: np.ndarray, area: np.ndarray, skip: np.ndarray) -> list[int]:
    """Flat strokes below the writing: UNDERLINE_WIDTH digit heights long or more, no deeper than
    UNDERLINE_DEPTH in any column, and under the bottom of every digit-sized piece they run beneath."""
    if UNDERLINE_WIDTH is None:
        return []
    heights, widths = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
    rest = np.setdiff1d(np.arange(len(box)), skip)
    # A bar is flat and long for its thickness (ink per column); slanted, its box may be as tall as a digit's.
    bars = rest[(area[rest] <= BAR_THIN * widths[rest] ** 2) & (heights[rest] <= BAR_FLAT * widths[rest])]
    writing = np.setdiff1d(rest, bars)
    if writing.size == 0 or bars.size == 0:
        return []
    major = writing[heights[writing] >= MAJOR_HEIGHT * heights[writing].max()]
    digit = float(np.median(heights[major]))
    found = []
    for i in bars:
        if widths[i] < UNDERLINE_WIDTH * digit:
            continue
        # Inside another piece's box (a face's mouth, under its eyes) it is part of a drawing.
        t, left, b, r = box[i]
        if ((box[rest, 0] <= t) & (box[rest, 1] <= left) & (box[rest, 2] >= b) & (box[rest, 3] >= r)
                & (rest != i)).any():
            continue
        rows, cols = np.nonzero(labels[box[i, 0] : box[i, 2], box[i, 1] : box[i, 3]] == i)
        top, bottom = np.full(widths[i], rows.max()), np.zeros(widths[i], np.int64)
        np.minimum.at(top, cols, rows)
        np.maximum.at(bottom, cols, rows)
        if (bottom - top).max() + 1 > UNDERLINE_DEPTH * digit:  # a digit drawn into the line: not a line
            continue
        rows, cols = rows + box[i, 0], cols + box[i, 1]
        above = [o for o in major if box[o, 1] < box[i, 3] and box[o, 3] > box[i, 1]]
        if not above:
            continue
        # It runs about as far as the digits above it (an eye's lower lid runs far past its iris) ...
        span = max(box[o, 3] for o in above) - min(box[o, 1] for o in above)
        if widths[i] > span + UNDERLINE_OVERHANG * digit:
            continue
        # ... and below each of them, where it runs under it.
        under = [(cols >= box[o, 1]) & (cols < box[o, 3]) for o in above]
        if all(rows[u].mean() > box[o, 2] for o, u in zip(above, under) if u.any()):
            found.append(int(i))
    return found


def drop_marks(ink: np.ndarray) -> np.ndarray:
    """The ink map without frames round the writing and lines under it (unchanged when there are none,
    when it is smaller than MIN_SHEET_PX: a digit, not a page, or when it holds over MAX_PIECES pieces)."""
    if max(ink.shape) < MIN_SHEET_PX:
        return ink
    labels, count = label_components(ink > INK_LEVEL)
    if not 2 <= count <= MAX_PIECES:
        return ink
    box, area = component_boxes(labels, count)
    gone = frames(labels, box)  # (outline pixels: ink, so each has its piece's label)
    gone |= np.isin(labels, underlines(labels, box, area, np.unique(labels[gone])))
    if not gone.any():
        return ink
    # With the mark's own pixels goes its soft edge (anti-aliasing, JPEG blur): the faint pixels around it
    # that no other stroke owns, which would otherwise leave a dotted trace under the digits.
    edge = ~_erode(~gone, SOFT_EDGE) & (ink <= INK_LEVEL)
    return np.where(gone | edge, 0.0, ink).astype(np.float32)

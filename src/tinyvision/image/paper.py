"""What a photo shows besides the ink: the paper's light, its printed lines, the desk beside the sheet.

People photograph digits on notebook paper, under the shadow of their hand,
with the desk in a corner of the frame. Left in the ink map, a shadow is a
wide dark mark, a ruled line a long "1" or a join between digits, the desk a
thick stroke along the edge: the number is misread or refused (a number
written on ruled paper was read as "11836" for "836"). This module finds them
on the ink map (ink bright on black, as `image.digits` makes it):

- `paper_level`: the paper's own level under uneven light, by a grayscale
  opening (the rolling ball of background subtraction): everything narrower
  than OPENING_REACH of the image is ink, everything broader is light. A
  shadow's edge, however sharp, is a ramp the opening follows exactly.
- `remove_rules`: straight lines that run across most of the sheet and are
  thinner than the writing's strokes (ruled and squared paper, a margin),
  cleared except where a stroke crosses them.
- `drop_border_objects`: ink lying along an edge of the frame and much
  thicker than the writing (the desk, the sheet's edge, a dark corner).

Each keeps what it cannot tell apart from writing: a lone tightly cropped "1"
runs the full height of its image and a 7's bar its full width, but neither
is thinner than the strokes beside it, and with no other ink there is
nothing to compare with.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinyvision.image.components import INK_LEVEL, label_components, stroke_width

LEVEL_CELLS = 128  # the paper's level is estimated on a grid this many cells along the longest side ...
# ... and ink is what is narrower than this share of the longest side. Chosen on validation (benchmarks/
# paper_choices.py, results/paper_reach_*.json, table paper-reach): 0.2 faded the thick strokes of blown-up
# low-resolution scans into the light; 0.3 to 0.4 read within a point of each other, 0.35 the most.
OPENING_REACH = 0.35
MIN_REACH_PX = 24  # ... and never less than this many pixels
RULE_LEVEL = 0.1  # printed lines are looked for in ink fainter than the writing's (INK_LEVEL) ...
RULE_SPAN = 0.6  # ... a printed line runs across at least this share of the image ...
RULE_THINNER = 0.6  # ... and is thinner than this share of the writing's strokes
RULE_EDGE = 0.5  # a line's width: the offsets along it holding this share of its peak's ink
MAX_TILT = 12.0  # degrees: the steepest a photo's lines are searched for
MIN_SHEET_PX = 64  # images smaller than this are a digit, not a photo of a sheet: no lines or desk looked for
BORDER_CONTACT = 0.5  # a piece along at least this share of an edge of the frame ...
BORDER_COVER = 0.9  # ... with this share of its ink near such edges is the desk, not writing


def filter2d(grid: np.ndarray, size: int, op) -> np.ndarray:
    """A separable size x size filter (np.min, np.max or np.mean; edges repeated)."""
    r = size // 2
    for axis in (0, 1):
        padded = np.pad(grid, [(r, r) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        grid = _extreme(padded, size, axis, op) if op in (np.min, np.max) else \
            op(sliding_window_view(padded, size, axis=axis), axis=-1)
    return grid


def _extreme(a: np.ndarray, size: int, axis: int, op) -> np.ndarray:
    """The min or max of every `size` consecutive values along `axis`, by doubling: after k passes each
    entry holds the extreme of the 2**k values from it, and two such overlapping spans cover a window
    exactly. log2(size) passes instead of size: the level's opening is most of a photo's preparation."""
    pair = np.minimum if op is np.min else np.maximum
    a = np.moveaxis(a, axis, 0)
    n, span = a.shape[0] - size + 1, 1
    while 2 * span <= size:
        a, span = pair(a[:-span], a[span:]), 2 * span
    return np.ascontiguousarray(np.moveaxis(pair(a[:n], a[size - span : size - span + n]), 0, axis))


def paper_level(ink: np.ndarray) -> np.ndarray:
    """The paper's level at every pixel of an ink-bright map: each cell's 10th percentile (its paper,
    ink being the minority), then a grayscale opening wider than any stroke, smoothed and resized."""
    from PIL import Image

    h, w = ink.shape
    cell = max(1, -(-max(h, w) // LEVEL_CELLS))
    gh, gw = -(-h // cell), -(-w // cell)
    padded = np.pad(ink, ((0, gh * cell - h), (0, gw * cell - w)), mode="edge")
    cells = padded.reshape(gh, cell, gw, cell).transpose(0, 2, 1, 3).reshape(gh, gw, -1)
    grid = np.percentile(cells, 10, axis=-1).astype(np.float32)
    # At least MIN_REACH_PX: in a small image (an 8x8 scan, a 28x28 digit) the strokes are a large share
    # of the frame, and a share of it would count them as light.
    size = 2 * max(1, round(max(OPENING_REACH * max(gh, gw), MIN_REACH_PX / cell) / 2)) + 1
    # An opening cannot reach a maximum at the border (light brightest at an edge of the frame), and would
    # leave the rise up to it as ink: the grid is first extended past its edges along its own slope.
    margin = size - 1
    extended = np.pad(grid, margin, mode="reflect", reflect_type="odd") if min(gh, gw) > margin else \
        np.pad(grid, margin, mode="edge")
    opened = filter2d(filter2d(extended, size, np.min), size, np.max)[margin:-margin, margin:-margin]
    # One cell wider, then smoothed: where broad light meets bright paper (the desk beside the sheet), the
    # cell on the edge would otherwise keep a strip of the desk, a long thin line the width of a cell.
    smooth = filter2d(filter2d(opened, 3, np.max), 3, np.mean) if min(gh, gw) >= 3 else opened
    return np.asarray(Image.fromarray(smooth.astype(np.float32)).resize((w, h), Image.Resampling.BILINEAR),
                      dtype=np.float32)


# ----------------------------------------------------------------------------- printed lines

def _line_profile(ys: np.ndarray, xs: np.ndarray, tilt: float, length: int) -> tuple[np.ndarray, int]:
    """Ink pixels counted along lines of this tilt (degrees), one count per line offset. A row is a whole
    number, so a pixel's offset is its row plus its column's rounded rise: `length` roundings per tilt,
    not one per pixel."""
    rise = np.round(np.tan(np.radians(tilt)) * np.arange(length)).astype(np.int64)
    shift = int(np.ceil(np.tan(np.radians(MAX_TILT + 2)) * length)) + 1  # the fine search looks 1 degree past
    return np.bincount(ys + rise[xs] + shift, minlength=1), shift


def _find_rules(mask: np.ndarray) -> list[tuple[float, int, int]]:
    """Horizontal-ish lines across the mask: (tilt, first offset, last offset) of each band whose
    lines hold at least RULE_SPAN of the width in ink, at the tilt that makes them sharpest."""
    h, w = mask.shape
    need = RULE_SPAN * w
    # A line holds at most one pixel of each column, so with ink in fewer columns than a line needs there
    # is none at any tilt (most photos of a number, read the other way, across its rows).
    if np.count_nonzero(mask.any(axis=0)) < need:
        return []
    ys, xs = np.nonzero(mask)

    def sharpness(tilt: float) -> int:  # highest when the lines fall into the fewest offsets
        counts, _ = _line_profile(ys, xs, tilt, w)
        return int(np.dot(counts, counts))

    coarse = np.arange(-MAX_TILT, MAX_TILT + 0.5, 1.0)
    best = float(coarse[int(np.argmax([sharpness(t) for t in coarse]))])
    fine = np.arange(best - 1.0, best + 1.01, 0.1)
    tilt = float(fine[int(np.argmax([sharpness(t) for t in fine]))])
    counts, shift = _line_profile(ys, xs, tilt, w)
    if counts.max() < need:
        return []
    strong = counts >= need
    bands = []
    edges = np.diff(np.concatenate([[0], strong.astype(np.int8), [0]]))
    for first, last in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1):
        # The line's full width: the neighbouring offsets holding half its ink are its soft edges.
        half = RULE_EDGE * counts[first : last + 1].max()
        while first > 0 and counts[first - 1] >= half:
            first -= 1
        while last + 1 < len(counts) and counts[last + 1] >= half:
            last += 1
        bands.append((tilt, int(first) - shift, int(last) - shift))
    return bands


def _band(mask: np.ndarray, tilt: float, first: int, last: int) -> np.ndarray:
    """The pixels of a line's band of offsets [first, last] at this tilt, except in columns where a
    stroke of `mask` crosses it."""
    h, w = mask.shape
    xs = np.arange(w)
    base = np.round(np.tan(np.radians(tilt)) * xs).astype(np.int64)
    top, bottom = first - base, last - base  # the band's rows in each column
    soft = 2  # rows either side of the band that anti-aliasing and JPEG blur may have inked

    def inked(rows: np.ndarray) -> np.ndarray:
        ok = (rows >= 0) & (rows < h)
        return ok & mask[np.clip(rows, 0, h - 1), xs]

    # A stroke crosses the line where ink reaches past its soft edge on both sides; where it only
    # sits on the line (a digit's foot), the line under it goes with the line.
    above, below = np.zeros(w, bool), np.zeros(w, bool)
    for d in (soft + 1, soft + 2):
        above |= inked(top - d)
        below |= inked(bottom + d)
    beyond = above & below
    rows = np.arange(h)[:, None]
    return (rows >= top[None] - soft) & (rows <= bottom[None] + soft) & ~beyond[None]


def remove_rules(ink: np.ndarray) -> np.ndarray:
    """The ink map without printed lines (ruled, squared, a margin) thinner than the writing."""
    out = ink.copy()
    for transpose in (False, True):
        view = out.T if transpose else out  # a view: clearing it clears `out`
        mask = view > INK_LEVEL
        bands = _find_rules(view > RULE_LEVEL)  # printed lines are often fainter than the writing
        if not bands:
            continue
        others = mask.copy()
        nothing = np.zeros_like(mask)
        for band in bands:
            others &= ~_band(nothing, *band)  # the whole band, crossings too
        if not others.any():
            continue  # nothing but the lines: nothing to compare their thickness with
        writing = stroke_width(others)
        for tilt, first, last in bands:
            if last - first + 1 <= max(1.0, RULE_THINNER * writing):
                view[_band(mask, tilt, first, last)] = 0.0
    return out


# ----------------------------------------------------------------------------- the frame's edges

def _depth(run: np.ndarray) -> np.ndarray:
    """Per line of a boolean (lines, depth) array starting at an edge: how far the first run reaches."""
    return np.where(run.all(1), run.shape[1], run.argmin(1))


def _along_edges(piece: np.ndarray) -> bool:
    """Whether a piece (boolean mask) is a band along the frame: it lies along BORDER_CONTACT of an
    edge or more, and (nearly) all of it lies within its usual depth of such edges."""
    h, w = piece.shape
    near = np.zeros_like(piece)
    sides = ((piece, False), (piece[::-1], False), (piece.T, True), (piece.T[::-1], True))
    for k, (view, transposed) in enumerate(sides):
        touching = view[0]
        if touching.mean() < BORDER_CONTACT:
            continue
        depth = int(np.ceil(1.5 * np.median(_depth(view.T[touching])))) + 2
        band = np.zeros_like(view)
        band[:depth] = True
        band = band[::-1] if k % 2 else band
        near |= band.T if transposed else band
    return bool(near.any()) and (piece & near).sum() >= BORDER_COVER * piece.sum()


def drop_border_objects(ink: np.ndarray) -> np.ndarray:
    """The ink map without bands along the frame's edges (the desk or floor beside the sheet, a
    dark corner), when other ink remains: a lone piece is read, whatever it is."""
    mask = ink > INK_LEVEL
    labels, count = label_components(mask)
    if count < 2:
        return ink
    rim = np.unique(np.concatenate((labels[0], labels[-1], labels[:, 0], labels[:, -1])))
    drop = [int(p) for p in rim if p >= 0 and _along_edges(labels == p)]
    gone = np.isin(labels, drop)
    if not drop or not (mask & ~gone).any():
        return ink
    return np.where(gone, 0.0, ink).astype(np.float32)


def clear_paper(ink: np.ndarray) -> np.ndarray:
    """The ink map with printed lines and objects along the frame removed; unchanged when it is smaller
    than MIN_SHEET_PX, where strokes are a few pixels wide and look like printed lines (a 16x16 digit)."""
    if max(ink.shape) < MIN_SHEET_PX:
        return ink
    return drop_border_objects(remove_rules(ink))

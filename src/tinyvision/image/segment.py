"""Every digit of a written number, left to right, each prepared as MNIST prepared its digits.

Works on the ink map of `tinyvision.image.digits` (after `isolate_ink`: ink
bright on black in [0, 1], at most WORK_SIDE px on the longest side):

1. Label the ink's connected pieces; drop specks. The digit height is the
   pieces' median height, weighted by ink, so strokes count more than dots.
   Large writing with thick strokes (a canvas, a close-up) is then analysed
   on a coarser copy of the ink map, since a 20x20 digit needs no more detail
   and every later step costs less; boxes are given back in the caller's pixels.
2. Pieces stacked one over the other (an 8 drawn open) are one digit.
3. Over-segment: a piece wide for its height may be touching digits, so
   candidate cuts through it are the cheapest top-to-bottom paths through its
   ink (seams, as in seam carving), started where touching digits meet: valleys
   of its column profile, dips of its top contour, notches of its bottom one;
   on request (`slants`), also along slanted lines, for writing that leans.
4. The pieces and the parts between cuts, ordered left to right, are read by
   dynamic programming: a reading groups consecutive parts into digits (or
   drops a small mark as noise) and costs the strokes its cuts cross, the gaps
   its joins bridge, and each digit's implausibility (too wide for its
   height, a sliver, a short mark). With a `score` callback (a model's
   confidence in each candidate digit) each digit also costs its -log
   confidence, so the model chooses how touching digits are cut and broken
   ones joined (classifier-guided segmentation), and a short mark that may be
   a digit written small costs its -log doubt when dropped or joined
   (SMALL_DIGIT_HEIGHT). The cheapest reading wins.
5. Each digit is prepared from its own ink only (a neighbour's ink inside its
   box is masked out): fit 20x20 keeping aspect, centre of mass at MNIST's centre.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

from tinyvision.image.components import INK_LEVEL, component_boxes, label_components, stroke_width
from tinyvision.image.decode import ImageError
from tinyvision.image.digits import ink_extent, prepare_ink

MAX_DIGITS = 12  # the most digits read from one image: bounds the work on a page of text or noise
SPECK_SIDE = 0.1  # a piece smaller than this fraction of the digit height both ways is a speck
MAJOR_HEIGHT = 0.45  # pieces shorter than this fraction of the digit height are parts (a 5's hat)
CRUMB_SIDE = 0.2  # parts smaller than this both ways are crumbs: they join the nearest digit, or are noise
STACK_OVERLAP = 0.3  # digit-sized pieces overlapping this share of the narrower's width, one above the other
SPLIT_ASPECT = 0.75  # pieces wider than this x their height get candidate cuts ...
# ... but the image's only piece of ink only when wider than this: alone on the page, a u, n, H or M is as
# wide as two touching digits narrower than it, and no neighbour says the writing is a number (read_number
# then holds each digit cut from it to LONE_CUT_BAR). Chosen on validation with LONE_UNSURE_ASPECT and that
# bar (benchmarks/segment_costs.py, results/segment_costs_*.json): the setting that maximises numbers read
# plus letters refused, in points, on 4,000 validation numbers; 1.0, 1.1 and 1.2 are within 0.1 point of
# each other. Without the doubt rule and the bar, the same sum chose 1.4 (number_rules*.json), and a
# two-digit number written as one touching piece narrower than that was read as one digit or refused.
LONE_SPLIT_ASPECT = 1.0
# ... and into k digits only when k / 2 x LONE_SPLIT_ASPECT wide (three digits: 2.1), or an m is "111".
# Chosen on validation (same benchmark): on, as many validation numbers and more letters refused.
LONE_DIGIT_CAP = True
MAX_CUTS = 6  # candidate cuts per piece
# Where a seam may not run along the edge of the ink it cuts ("several": in images of several marks;
# "always"; "never"): there the cheapest path through a thick pair cuts nothing off and is thrown away,
# and the pair goes uncut. Not for a lone mark, mostly one wide digit or a letter, where real cuts
# cost single digits and letters refused. Chosen on validation (benchmarks/seam_rules.py,
# results/seam_rules.json), as was leaving MIDDLE_START (a seam also started at the middle of the ink) off.
SEAM_INSET: Literal["several", "always", "never"] = "several"
MIDDLE_START = False
SEAM_BAND = 2.0  # stroke widths a seam may wander from where it starts
LENGTHWISE = 0.2  # a seam running inside a stroke costs this per stroke width travelled
DRIFT = 0.02  # a seam's price per sideways step, so seams run straight when nothing is in the way
MAX_PARTS = 8  # parts one digit may be made of
MAX_MARKS = 8 * MAX_DIGITS  # more marks than this: a page of text or a noisy photo, refused early
# Costs of a reading, in units of one stroke cut through.
WIDE_ASPECT = 1.2  # a digit wider than this x its height starts to cost (4% of MNIST digits are) ...
WIDE_SOFTNESS = 0.3  # ... ((aspect - WIDE_ASPECT) / WIDE_SOFTNESS) ** 2 ...
WIDE_MAX_COST = 3.0  # ... at most this: a flat 0 is still a 0
CUT_COST = 0.3  # per stroke width of ink a cut crosses ...
CUT_OFFSET = 0.3  # ... less this: a cut through less than this much stroke is a gain (digits that touch)
SHORT_HEIGHT, SHORT_SOFTNESS = 0.6, 0.3  # a digit shorter than 0.6 of the digit height starts to cost
JOIN_COST = 0.8  # joining two digit-sized pieces into one digit ...
PART_JOIN_COST = 0.2  # ... or a part (a hat, a broken stroke) to a digit ...
JOIN_GAP_COST = 0.5  # ... plus this per stroke width of gap between them
MAX_JOIN_GAP = 0.3  # digit heights: pieces farther apart are never one digit
BAD_DIGIT_COST = 2.0  # a candidate digit that is a sliver or much shorter than the others
DROP_COST = 1.0  # calling a part noise, for a part MAJOR_HEIGHT long; grows with the square of its size
# With a score callback, a part at least this share of the digit height (but short, under MAJOR_HEIGHT),
# shaped like a digit (no wider than SMALL_DIGIT_ASPECT x its height, unlike a 5's flat hat) and written apart from
# the other marks (SMALL_DIGIT_GAP) is perhaps a digit written small: a reading that drops it as noise, or
# joins it to a neighbour as a 5's hat is, also pays the model's belief that it is a digit of its own,
# CONFIDENCE_WEIGHT x -log(1 - its confidence read alone). With its size the only price, a digit at 0.4 of
# its neighbours' height was dropped or joined: "762" was answered "76" (None: size only).
SMALL_DIGIT_HEIGHT: float | None = 0.3
# ... at least this many pen widths (the parts' median stroke) from every other mark's columns: the bowl of a
# script d and the tail of a broken 2 lie closer to their stem, and read alone as a confident 1. Both chosen on
# validation (benchmarks/segment_costs.py, results/small_digits_*.json, table small-digits): the most numbers
# with a small digit read, among settings within half a point of the rule off on the other sets.
SMALL_DIGIT_GAP = 1.0
# ... and its bottom within this share of the digit height of the line its neighbours stand on: a degree sign or
# an apostrophe is raised, a comma hangs below (a red team: "25°" read "250" at 0.997). And the card must not
# refuse it alone (segment's `refused` callback): an ink blot is no digit however sure its top class. Chosen
# with the others (table small-digits), among 0.15, 0.25 and anywhere (None), on numbers followed by such marks too.
SMALL_DIGIT_LINE: float | None = 0.25
# ... and no wider than this x its own height (a wide digit's bound, WIDE_ASPECT). MNIST has flat 2s, 5s and 7s, and
# written small one wider than that is dropped ("95" answered "9"); 1.6 read 1 more in 100 validation numbers
# with a small digit, but a short dash, tilde, smile or equals sign on the line beside a number was then read as
# a digit ("18" and a smile: "180" at 0.997; a red team), 6 in 100 more. Chosen on validation with the others'
# rule (benchmarks/segment_costs.py, results/small_digit_shape_*.json, table small-digit-shape), on numbers beside
# such flat marks too (number_photos.py build --flat-rate 1).
SMALL_DIGIT_ASPECT = 1.2
CONFIDENCE_WEIGHT = 3.0  # with a score callback: weight of each digit's -log confidence
ANALYSIS_HEIGHT = 64  # digits taller than this (px) ...
ANALYSIS_STROKE = 4  # ... with strokes wider than this are read on a coarser copy of the ink map
# A wide group the model reads as one digit at least this surely is not cut (None: always search for cuts).
# Chosen on validation (benchmarks/segment_gate.py, results/segment_gate.json): among off, 0.99, 0.999 and
# 0.9999, 0.999 read as many validation numbers as off and more single validation digits, ~15% faster.
WHOLE_CONFIDENCE: float | None = 0.999
# Among several marks, a group narrower than SPLIT_ASPECT but wider than this x its height also gets
# candidate cuts when the model reads it whole with less than UNSURE_WHOLE confidence: a 1 touching its
# neighbour makes a pair about as narrow as one digit (None: never). Chosen on validation (same benchmark).
NARROW_SPLIT_ASPECT: float | None = 0.5
# A 1 touching an 8 is read whole as a confident 8 ("81" -> "8" at 0.996), so a narrow group is doubted below
# the same bar as the gate's. Chosen on validation (benchmarks/segment_costs.py, results/unsure_whole_*.json,
# table unsure-whole) with the bf16 default: 0.9, 0.99, 0.999 and 0.9999 refused the same letters, and 0.999
# read the most numbers (tied with 0.9999, which cuts more); NARROW_SPLIT_ASPECT 0.4 with it refused fewer
# letters. Small: 4 more of 4,000 numbers than 0.9.
UNSURE_WHOLE = 0.999
# The image's only mark, narrower than LONE_SPLIT_ASPECT but wider than this x its height, also gets
# candidate cuts when the model doubts it whole (less than UNSURE_WHOLE): two touching digits written
# narrow, which the model cannot read as one digit (None: never). Chosen with LONE_SPLIT_ASPECT (above).
LONE_UNSURE_ASPECT: float | None = 0.8

Score = Callable[[list[np.ndarray]], Sequence[float]]
Refused = Callable[[list[np.ndarray]], Sequence[bool]]


@dataclass(frozen=True)
class Segment:
    """One digit found in the ink map: where it is, its own ink, and the 28x28 model input."""

    box: tuple[int, int, int, int]  # top, left, bottom, right (exclusive), in the analysed image
    ink: np.ndarray  # the digit's own ink inside `box` (others' ink masked out), float32 in [0, 1]
    pieces: int  # connected pieces of ink merged into this digit
    cut: bool  # separated from touching ink by a cut
    ink_fraction: float  # share of the box that is ink: a solid blob is near 1, a stroke far less
    box_fraction: float  # box area over the analysed image's area: a digit seldom fills the photo
    confidence: float | None = None  # the score callback's confidence, when it was asked (a choice to make)
    group: int = 0  # the piece of ink (after stacking) it came from: digits cut apart share one

    @cached_property
    def image(self) -> np.ndarray:
        """28x28 float32 in [0, 1], prepared as MNIST prepared its digits (made when first asked for:
        a lone digit is prepared by the reader from all of the image's ink instead)."""
        return prepare_ink(self.ink)

    def original_box(self, scale: float) -> tuple[int, int, int, int]:
        """The box in the original image's pixels, given `scale` = analysed size / original size."""
        return original_box(self.box, scale)


def original_box(box: tuple[int, int, int, int], scale: float) -> tuple[int, int, int, int]:
    """A (top, left, bottom, right) box of the analysed image in the original image's pixels, given
    `scale` = analysed size / original size: it covers every original pixel the analysed box touches."""
    top, left, bottom, right = box
    return (int(top / scale), int(left / scale), int(np.ceil(bottom / scale)), int(np.ceil(right / scale)))


# --- connected components ----------------------------------------------------------------------

def _box_gap(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """Horizontal and vertical gaps between two boxes (negative: overlap)."""
    return max(a[1], b[1]) - min(a[3], b[3]), max(a[0], b[0]) - min(a[2], b[2])


# --- pieces, parts and the digit height ----------------------------------------------------------

def _gaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean gaps between every box of `a` and every box of `b` (0 where they overlap)."""
    a, b = a[:, None], b[None]
    dx = np.maximum(0, np.maximum(a[..., 1], b[..., 1]) - np.minimum(a[..., 3], b[..., 3]))
    dy = np.maximum(0, np.maximum(a[..., 0], b[..., 0]) - np.minimum(a[..., 2], b[..., 2]))
    return np.hypot(dx, dy)


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def count_marks(ink: np.ndarray) -> int:
    """How many marks an ink map holds, its pieces grouped as `group_pieces` groups them: the halves of an 8
    drawn open are one mark, and an i with its dot (crumbs go with the nearest piece); specks are none."""
    labels, count = label_components(ink > INK_LEVEL)
    if count < 1:
        return 0
    group, _, _ = group_pieces(labels, count)
    return int(np.unique(group[group >= 0]).size)


def group_pieces(labels: np.ndarray, count: int) -> tuple[np.ndarray, float, np.ndarray]:
    """Each component's group (-1: a speck, dropped), the digit height, and each component's box.

    Digit-sized pieces stacked one over the other (x ranges overlapping, y
    ranges mostly not, as the halves of an 8 drawn open) share a group.
    """
    box, area = component_boxes(labels, count)
    heights, widths = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
    height = weighted_median(heights, area)
    group = np.where(np.maximum(heights, widths) >= SPECK_SIDE * height, np.arange(count), -1)
    kept = np.flatnonzero(group >= 0)
    if kept.size > MAX_MARKS:
        raise ImageError(f"found {kept.size} marks; at most {MAX_DIGITS} digits are read", "too_many_marks")
    height = weighted_median(heights[kept], area[kept])
    major = np.array([i for i in kept if heights[i] >= MAJOR_HEIGHT * height])
    for k, a in enumerate(major):
        for b in major[k + 1 :]:
            x_gap, y_gap = _box_gap(box[a], box[b])
            if (-x_gap >= STACK_OVERLAP * min(widths[a], widths[b]) and -y_gap < 0.5 * min(heights[a], heights[b])
                    and y_gap <= MAX_JOIN_GAP * height):
                group[group == group[b]] = group[a]
    # Crumbs (bits of a faint stroke) go with the nearest larger piece; alone, they are noise.
    small = np.array([max(heights[i], widths[i]) < CRUMB_SIDE * height for i in kept], bool)
    crumbs, larger = kept[small], kept[~small]
    if crumbs.size and larger.size:
        gaps = _gaps(box[crumbs], box[larger])
        near = gaps.min(1) <= MAX_JOIN_GAP * height
        group[crumbs] = np.where(near, group[larger[gaps.argmin(1)]], -1)
    return group, height, box


# --- candidate cuts through touching digits --------------------------------------------------

def _seams(jobs: list[tuple[np.ndarray, list[int], int]], band: int, stroke: float,
           modes: tuple[tuple[float, float], ...]) -> list[list[np.ndarray]]:
    """For each job (an ink map, its start columns, possibly none, its inset) and each start and (entry, along) mode,
    the cheapest top-to-bottom path within `band` columns of the start, one column per row, moving at
    most one column a row, never within `inset` columns of the ink's sides: entering a stroke costs
    `entry` x its ink, every stroke width travelled inside one `along`. (0, 1) finds thin necks where
    digits touch; (1, LENGTHWISE) may run down the shared wall of two touching digits rather than cross
    two strokes of one. The jobs' inks have one height (a group's ink, and that ink sheared).

    All seams are found in one dynamic programme, batched over (job, start, mode): the row loop runs
    once per group, not once per seam or slant (it is the reader's hottest loop).
    """
    h = jobs[0][0].shape[0]
    n = 2 * band + 1
    offsets = np.array([c - band for _, starts, _ in jobs for c in starts for _ in modes])  # (B,) band starts
    entry = np.array([m[0] for _, starts, _ in jobs for _ in starts for m in modes])[:, None, None]
    along = np.array([m[1] for _, starts, _ in jobs for _ in starts for m in modes])[:, None, None]
    columns = offsets[:, None] + np.arange(n)  # (B, n) image column of each band position
    ends = np.cumsum([len(starts) * len(modes) for _, starts, _ in jobs])[:-1]  # where each job's seams end
    valid_parts, v_parts = [], []
    for (ink, _, inset), mine in zip(jobs, np.split(columns, ends)):
        w = ink.shape[1]
        valid = (mine >= inset) & (mine < w - inset)  # a seam along the group's edge cuts nothing off
        valid_parts.append(valid)
        v_parts.append(np.where(valid[:, None, :], ink[:, np.clip(mine, 0, w - 1)].transpose(1, 0, 2), 0.0))
    valid, v = np.concatenate(valid_parts), np.concatenate(v_parts)  # (B, n), (B, h, n)
    inked = v > INK_LEVEL
    b = len(offsets)
    # Per row, what arriving in each state adds (inf where the state is impossible), made once:
    # paper is reachable only off ink, a stroke only on it, and nothing outside the image.
    off_band = np.where(valid, 0.0, np.inf)[:, None, :]
    on_paper = (np.where(inked, np.inf, 0.0) + off_band).transpose(1, 0, 2)  # (h, B, n)
    on_ink = (np.where(inked, along * v / stroke, np.inf) + off_band).transpose(1, 0, 2)
    entering = (entry * v).transpose(1, 0, 2)
    cost = np.stack([on_paper[0], entering[0] + on_ink[0]], axis=1)  # (B, 2, n) state 0: paper; 1: ink
    came = np.zeros((h, b, 2, n), np.int8)  # how each (row, seam, state, column) was reached: state * 3 + move + 1
    # The three ways into a column, per state: from the left (move 0), straight down (1), from
    # the right (2); the columns nothing can arrive from stay inf.
    arrive = np.full((3, b, 2, n), np.inf)
    for r in range(1, h):
        drifted = cost + DRIFT
        arrive[0, ..., 1:] = drifted[..., :-1]
        arrive[1] = cost
        arrive[2, ..., :-1] = drifted[..., 1:]
        move = arrive.argmin(0).astype(np.int8)  # ties go to the earliest move
        best = arrive.min(0)
        on_paper_from_ink = best[:, 1] < best[:, 0]  # ties: from paper
        enter, keep = best[:, 0] + entering[r], best[:, 1]
        from_ink = move[:, 1] + 3
        came[r, :, 0] = np.where(on_paper_from_ink, from_ink, move[:, 0])
        came[r, :, 1] = np.where(keep < enter, from_ink, move[:, 0])
        cost = np.stack([np.minimum(best[:, 0], best[:, 1]) + on_paper[r], np.minimum(keep, enter) + on_ink[r]],
                        axis=1)
    end = cost.reshape(b, -1).argmin(1)
    state, col = end // n, end % n
    paths = np.empty((b, h), np.int64)
    for r in range(h - 1, -1, -1):
        paths[:, r] = col
        code = came[r, np.arange(b), state, col].astype(np.int64)
        state, col = code // 3, col + code % 3 - 1
    return [list(job_paths) for job_paths in np.split(paths + offsets[:, None], ends)]


def _crossed(ink: np.ndarray, path: np.ndarray, stroke: float) -> float:
    """How many strokes a seam cuts: its ink in stroke widths, or, when it runs down a shared
    wall, the strokes it enters plus LENGTHWISE per stroke width it runs inside one."""
    along = ink[np.arange(len(path)), path].astype(np.float64)
    inside = along > INK_LEVEL
    entries = float(along[inside & ~np.concatenate([[False], inside[:-1]])].sum())
    length = float(along.sum()) / stroke
    return min(length, entries + LENGTHWISE * length)


def _minima(values: np.ndarray, k: int, lo: int, hi: int) -> list[int]:
    """Columns in [lo, hi) where `values` is lowest within k columns, lowest first."""
    found = [c for c in range(lo, hi) if values[c] <= values[max(0, c - k) : c + k + 1].min()]
    return sorted(found, key=lambda c: values[c])


def candidate_cuts(ink: np.ndarray, stroke: float, inset: bool = False,
                   slants: Sequence[float] = ()) -> list[tuple[np.ndarray, float]]:
    """Seams through one group's ink (its box crop, others' ink removed), left to right, with the
    strokes each cuts. They start where touching digits meet: valleys of the column profile, dips
    of the top contour, notches of the bottom contour. With `inset`, a seam may not run within half
    a margin of the crop's sides (where it would cut nothing off) rather than being dropped there.

    With `slants` (columns per row), seams are also searched in the ink sheared upright by each, and
    sheared back: a leaning 1 against its neighbour is parted along its slant. Where seams of two slants
    cross, only the one that cuts fewer strokes is kept: the parts between seams stay in order."""
    w = ink.shape[1]
    sheared = [shear_rows(ink, slant) for slant in slants]
    found = _upright_seams([ink, *(upright for upright, _ in sheared)], stroke, inset)
    seams = [(path, crossed, 0.0) for path, crossed in found[0]]
    for slant, (_, shifts), more in zip(slants, sheared, found[1:]):
        # Back in the ink's columns a seam may pass beside the ink on some rows: clipped to its side, it
        # leaves that row's ink on the same side of the cut.
        seams += [(np.clip(path - shifts, 0, w), crossed, slant) for path, crossed in more]
    cuts: list[tuple[np.ndarray, float, float]] = []
    for path, crossed, slant in sorted(seams, key=lambda seam: seam[1]):
        if all(np.abs(path - other).mean() >= stroke and (slant == along or not _crosses(path, other))
               for other, _, along in cuts):
            cuts.append((path, crossed, slant))
        if len(cuts) == MAX_CUTS:
            break
    return sorted(((path, crossed) for path, crossed, _ in cuts), key=lambda cut: float(cut[0].mean()))


def slant_shears(most: float) -> tuple[float, float, float, float]:
    """The slants seams are also searched along, up to `most` columns per row either way."""
    return (-most, -most / 2, most / 2, most)


def _crosses(path: np.ndarray, other: np.ndarray) -> bool:
    """Whether two seams cross (each runs left of the other on some row)."""
    side = path - other
    return bool(side.min() < 0 < side.max())


def shear_rows(ink: np.ndarray, shear: float) -> tuple[np.ndarray, np.ndarray]:
    """Ink sheared by `shear` columns per row about its middle row (writing leaning right by that much
    stands upright), cropped to its inked columns, and each row's shift: ink column x is column
    x + shift[row] of the result."""
    h, w = ink.shape
    shifts = np.round(shear * (np.arange(h) - (h - 1) / 2)).astype(np.int64)
    shifts -= shifts.min()
    sheared = np.zeros((h, w + int(shifts.max())), ink.dtype)
    for r, shift in enumerate(shifts):
        sheared[r, shift : shift + w] = ink[r]
    inked = np.flatnonzero((sheared > INK_LEVEL).any(0))
    lo, hi = (int(inked[0]), int(inked[-1]) + 1) if inked.size else (0, sheared.shape[1])
    return sheared[:, lo:hi], shifts - lo


def _upright_seams(inks: list[np.ndarray], stroke: float, inset: bool) -> list[list[tuple[np.ndarray, float]]]:
    """The seams of `candidate_cuts` searched in each of these inks (one height) as it stands, before any
    are dropped as near another: each path (a column per row) with the strokes it cuts."""
    k = max(1, int(round(stroke)))
    margin = max(2, k)
    band = max(3, int(round(SEAM_BAND * stroke)))
    modes = ((0.0, 1.0), (1.0, LENGTHWISE))
    jobs = [(ink, _seam_starts(ink, k, margin), margin // 2 if inset else 0) for ink in inks]
    paths = _seams(jobs, band, stroke, modes) if any(starts for _, starts, _ in jobs) else [[] for _ in jobs]
    return [[(path, _crossed(ink, path, stroke)) for path in found
             if margin // 2 <= path.min() and path.max() <= ink.shape[1] - 1 - margin // 2]
            for ink, found in zip(inks, paths)]


def _seam_starts(ink: np.ndarray, k: int, margin: int) -> list[int]:
    """Where seams through this ink start: valleys of the column profile, dips of the top contour,
    notches of the bottom contour (and the middle, MIDDLE_START), `k` columns apart; none in ink no
    wider than two margins."""
    h, w = ink.shape
    if w <= 2 * margin:
        return []
    present = ink > INK_LEVEL
    filled = present.any(0)
    top = np.where(filled, present.argmax(0), h).astype(np.float64)
    bottom = np.where(filled, h - 1 - present[::-1].argmax(0), -1).astype(np.float64)
    window = np.ones(k) / k
    starts: list[int] = []
    for values in (ink.sum(0), -top, bottom):
        starts += _minima(np.convolve(values, window, mode="same"), k, margin, w - margin)[:MAX_CUTS]
    if MIDDLE_START:
        starts.append(w // 2)
    return list(dict.fromkeys(starts))


# --- reading: parts left to right, grouped into digits by dynamic programming --------------------

@dataclass
class _Parts:
    """The over-segmented ink: parts numbered left to right, and what each is."""

    index: np.ndarray  # int32 per pixel: the part it belongs to, -1 for none
    box: np.ndarray  # (n, 4) top, left, bottom, right
    area: np.ndarray  # (n,) ink pixels
    group: np.ndarray  # (n,) the group (connected ink, or stacked pieces) each part comes from
    whole: np.ndarray  # (n,) bool: the part is its whole group (not cut out of one)
    stroke: np.ndarray  # (n,) the group's stroke width
    boundary: np.ndarray  # (n + 1,) cost of a digit boundary before part k: the cuts it keeps
    cut: np.ndarray  # (n + 1,) bool: a boundary before part k cuts through ink


def _wide(members: np.ndarray, height: float, aspect: float) -> bool:
    """Whether a group (its components' boxes) is wide enough to be several digits touching."""
    t, left, b, r = members[:, 0].min(), members[:, 1].min(), members[:, 2].max(), members[:, 3].max()
    return bool(r - left > aspect * (b - t) and b - t >= MAJOR_HEIGHT * height)


def over_segment(ink: np.ndarray, labels: np.ndarray, group: np.ndarray, height: float,
                 box: np.ndarray, to_cut: frozenset[int], inset: bool = False, slants: Sequence[float] = ()) -> _Parts:
    """Groups, those in `to_cut` (wide, and not read surely as one digit) cut at their candidate seams,
    as parts ordered left to right. `box`: each component's box (`group_pieces`); `inset`: seams keep
    off the edges of the ink they cut, and are also searched along `slants` (`candidate_cuts`)."""
    keys = np.unique(group[group >= 0])
    index = np.full(labels.shape, -1, np.int32)
    part_group, part_whole, part_stroke, seams = [], [], [], []
    in_group = np.where(labels >= 0, group[labels], -1)
    for g in keys:
        members = box[group == g]
        t, left, b, r = members[:, 0].min(), members[:, 1].min(), members[:, 2].max(), members[:, 3].max()
        crop = in_group[t:b, left:r] == g
        stroke = stroke_width(crop)
        cuts = candidate_cuts(np.where(crop, ink[t:b, left:r], 0.0), stroke, inset, slants) if int(g) in to_cut else []
        # A pixel's part is the number of cuts at or left of it, so even crossing seams partition the ink.
        sub = np.zeros(crop.shape, np.int32)
        for path, _ in cuts:
            sub += np.arange(r - left)[None, :] >= path[:, None]
        first = len(part_group)
        present = np.unique(sub[crop])
        renumber = np.full(len(cuts) + 1, -1, np.int32)
        renumber[present] = first + np.arange(present.size)
        index[t:b, left:r][crop] = renumber[sub[crop]]
        for k, (_, crossed) in enumerate(cuts):  # a cut separates the parts on either side of it
            if renumber[k] >= 0 and renumber[k + 1] >= 0:
                seams.append((int(renumber[k]), int(renumber[k + 1]), crossed))
        part_group += [int(g)] * present.size
        part_whole += [present.size == 1] * present.size
        part_stroke += [stroke] * present.size
    n = len(part_group)
    # Number the parts left to right by their centres of mass.
    rows, cols = np.nonzero(index >= 0)
    ids = index[rows, cols]
    centre = np.bincount(ids, weights=cols, minlength=n) / np.bincount(ids, minlength=n)
    order = np.argsort(centre, kind="stable")
    position = np.empty(n, np.int32)
    position[order] = np.arange(n)
    index[rows, cols] = position[ids]
    box, area = component_boxes(index, n)
    boundary, cut = np.zeros(n + 1), np.zeros(n + 1, bool)
    for a, b, crossed in seams:
        lo, hi = sorted((position[a], position[b]))
        boundary[lo + 1 : hi + 1] += CUT_COST * (crossed - CUT_OFFSET)
        cut[lo + 1 : hi + 1] = True
    return _Parts(index, box, area, np.array(part_group)[order], np.array(part_whole)[order],
                  np.array(part_stroke)[order], boundary, cut)


def _span_box(box: np.ndarray) -> np.ndarray:
    return np.concatenate([box[:, :2].min(0), box[:, 2:].max(0)])


def _digit_costs(parts: _Parts, height: float) -> dict[tuple[int, int], float]:
    """Geometric cost of every candidate digit: parts i..j-1 taken together."""
    n = len(parts.area)
    short = (parts.box[:, 2] - parts.box[:, 0]) < MAJOR_HEIGHT * height
    typical_area = float(np.median([parts.area[parts.group == g].sum() for g in np.unique(parts.group)]))
    costs = {}
    for i in range(n):
        cost = 0.0
        for j in range(i + 1, min(n, i + MAX_PARTS) + 1):
            k = j - 1
            if k > i and parts.group[k] != parts.group[k - 1]:
                built = _span_box(parts.box[i:k])
                gap = _gaps(built[None], parts.box[k : k + 1])[0, 0]
                if gap > MAX_JOIN_GAP * height:
                    break
                stroke = (parts.stroke[k] + parts.stroke[k - 1]) / 2
                pieces_short = short[k] or (short[i:k].all() and parts.whole[i:k].all())
                cost += (PART_JOIN_COST if pieces_short else JOIN_COST) + JOIN_GAP_COST * gap / stroke
            t, left, b, r = _span_box(parts.box[i:j])
            aspect = (r - left) / max(b - t, 0.8 * height)  # a small digit is not a wide one
            shape = min(WIDE_MAX_COST, max(0.0, (aspect - WIDE_ASPECT) / WIDE_SOFTNESS) ** 2)
            shape += BAD_DIGIT_COST * np.clip((SHORT_HEIGHT - (b - t) / height) / SHORT_SOFTNESS, 0, 1)
            if parts.area[i:j].sum() < 0.15 * typical_area:
                shape += BAD_DIGIT_COST
            costs[(i, j)] = cost + shape
    return costs


def _own_ink(ink: np.ndarray, index: np.ndarray, span: np.ndarray, i: int,
             j: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Parts i..j-1's ink, with the soft edge around it and no one else's ink, cropped to itself.
    `index`: each pixel's part (`_Parts.index`); `span`: the parts' box together."""
    t, left, b, r = span
    t, left = max(0, t - 2), max(0, left - 2)
    b, r = min(ink.shape[0], b + 2), min(ink.shape[1], r + 2)
    index = index[t:b, left:r]
    mine = (index >= i) & (index < j)
    grown = mine
    for _ in range(2):
        p = np.pad(grown, 1)
        grown = p[1:-1, 1:-1] | p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:]
    others = (ink[t:b, left:r] > INK_LEVEL) & ~mine
    own = np.where(grown & ~others, ink[t:b, left:r], 0.0).astype(np.float32)
    top, first, bottom, last = ink_extent(own)
    return own[top:bottom, first:last], (t + top, left + first, t + bottom, left + last)


def _candidate(ink: np.ndarray, parts: _Parts, i: int, j: int) -> np.ndarray:
    """Parts i..j-1 as the model would read them: their own ink, prepared as a digit (28x28 in [0, 1])."""
    return prepare_ink(_own_ink(ink, parts.index, _span_box(parts.box[i:j]), i, j)[0])


def _group_ink(ink: np.ndarray, in_group: np.ndarray, group: np.ndarray, box: np.ndarray,
               g: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Group g's own ink, uncut, as `_own_ink` crops a part's; `in_group`: each pixel's group."""
    return _own_ink(ink, np.where(in_group == g, 0, -1), _span_box(box[group == g]), 0, 1)


def _small_digit_marks(parts: _Parts, height: float) -> list[int]:
    """The parts that may be digits written small (SMALL_DIGIT_HEIGHT, SMALL_DIGIT_GAP, SMALL_DIGIT_LINE): whole,
    short, shaped like a digit, apart from every other mark's columns and standing on the line of the digits
    beside them (where their bottoms would put it), not raised above it (a degree sign, an apostrophe) nor
    hanging below it (a comma)."""
    if SMALL_DIGIT_HEIGHT is None:
        return []
    tall, wide = parts.box[:, 2] - parts.box[:, 0], parts.box[:, 3] - parts.box[:, 1]
    small = (tall >= SMALL_DIGIT_HEIGHT * height) & (tall < MAJOR_HEIGHT * height) & (wide <= SMALL_DIGIT_ASPECT * tall)
    left, right, bottom, pen = parts.box[:, 1], parts.box[:, 3], parts.box[:, 2], float(np.median(parts.stroke))
    centre = (left + right) / 2
    digits = np.flatnonzero(tall >= MAJOR_HEIGHT * height)
    found = []
    for k in np.flatnonzero(parts.whole & small):
        others = parts.group != parts.group[k]
        apart = np.maximum(left[others] - right[k], left[k] - right[others]).astype(float).min(initial=np.inf)
        before, after = digits[centre[digits] < centre[k]], digits[centre[digits] > centre[k]]
        sides = [before[np.argmax(centre[before])]] if before.size else []
        sides += [after[np.argmin(centre[after])]] if after.size else []
        if apart < SMALL_DIGIT_GAP * pen or not sides:
            continue
        # The line's bottom under the mark: between its neighbours' bottoms, as a slanted line runs.
        xs, ys = centre[sides].astype(float), bottom[sides].astype(float)
        line = float(np.interp(centre[k], xs, ys)) if len(sides) == 2 and xs[1] > xs[0] else float(ys.mean())
        if SMALL_DIGIT_LINE is None or abs(bottom[k] - line) <= SMALL_DIGIT_LINE * height:
            found.append(int(k))
    return found


def _small_digit_doubt(parts: _Parts, marks: list[int], confidence: dict[tuple[int, int], float]) -> np.ndarray:
    """What each part costs a reading that does not read it as a digit of its own (dropped, or joined to
    another): for each of `marks` (`_small_digit_marks` the card does not refuse), the model's belief that it is
    a digit, CONFIDENCE_WEIGHT x -log(1 - its confidence alone); 0 for the others. `confidence`: the score
    callback's, of each candidate digit, parts i..j-1 as (i, j)."""
    doubt = np.zeros(len(parts.area))
    for k in marks:
        c = confidence.get((k, k + 1))
        if c is not None and 0.0 <= c <= 1.0:  # (a NaN or out-of-range score says nothing)
            doubt[k] = CONFIDENCE_WEIGHT * -np.log(max(1.0 - c, 1e-6))
    return doubt


def _drop_costs(parts: _Parts, height: float, doubt: np.ndarray) -> np.ndarray:
    """What calling each part noise costs (inf: it is no mark to drop): its size, and its `doubt`."""
    tall = parts.box[:, 2] - parts.box[:, 0]
    size = np.maximum(tall, parts.box[:, 3] - parts.box[:, 1])
    droppable = parts.whole & (tall < MAJOR_HEIGHT * height)
    return np.where(droppable, DROP_COST * (size / (MAJOR_HEIGHT * height)) ** 2 + doubt, np.inf)


def _best_reading(parts: _Parts, costs: dict[tuple[int, int], float], drop: np.ndarray,
                  max_digits: int | None = None) -> list[tuple[int, int]]:
    """The cheapest way to cover the parts, left to right, by digits and dropped marks (`drop`: what
    dropping each costs, `_drop_costs`); with `max_digits`, the cheapest of those with at most that many
    digits (none: an empty reading)."""
    n = len(parts.area)
    limit = n if max_digits is None else min(n, max_digits)
    # best[j, d]: the cheapest cover of parts 0..j-1 with d digits; back: where it came from.
    best = np.full((n + 1, limit + 1), np.inf)
    back = np.zeros((n + 1, limit + 1, 2), np.int64)  # (previous j, 1 if parts i..j-1 are a digit)
    best[0, 0] = 0.0
    for j in range(1, n + 1):
        edge = parts.boundary[j] if j < n else 0.0
        if np.isfinite(drop[j - 1]):
            step = best[j - 1] + drop[j - 1] + edge
            better = step < best[j]
            best[j][better], back[j][better] = step[better], (j - 1, 0)
        for i in range(max(0, j - MAX_PARTS), j):
            if (i, j) in costs:
                step = best[i, :-1] + costs[(i, j)] + edge  # one more digit
                better = step < best[j, 1:]
                best[j, 1:][better] = step[better]
                back[j, 1:][better] = (i, 1)
    digits = int(best[n].argmin())
    if not np.isfinite(best[n, digits]):
        return []
    reading, j = [], n
    while j > 0:
        i, is_digit = back[j, digits]
        if is_digit:
            reading.append((int(i), j))
        j, digits = int(i), digits - int(is_digit)
    return reading[::-1]


def analysis_factor(mask: np.ndarray, height: float) -> int:
    """How much coarser than the ink map the writing can be read: digits of at most
    ANALYSIS_HEIGHT px and strokes of at least ANALYSIS_STROKE px keep every detail a 20x20
    digit needs, and the seam search, whose cost grows with the rows, runs on fewer of them."""
    return max(1, int(min(height / ANALYSIS_HEIGHT, stroke_width(mask) / ANALYSIS_STROKE)))


def reduce_ink(ink: np.ndarray, factor: int) -> np.ndarray:
    """The ink map averaged over factor x factor blocks (zeros beyond the edge)."""
    h, w = ink.shape
    padded = np.pad(ink, ((0, -h % factor), (0, -w % factor)))
    total = padded[::factor, ::factor].copy()
    for i in range(factor):  # strided sums: several times faster than a mean over reshaped axes
        for j in range(factor):
            if i or j:
                total += padded[i::factor, j::factor]
    return total / np.float32(factor * factor)


def segment(ink: np.ndarray, score: Score | None = None, max_digits: int = MAX_DIGITS,
            slants: Sequence[float] = (), refused: Refused | None = None) -> list[Segment]:
    """The digits written in an ink map, left to right.

    `score`, given candidate digits as 28x28 images, returns a confidence in
    (0, 1] for each (a model's top softmax probability, ideally calibrated): the
    model then chooses how touching digits are cut and broken ones joined.
    Raises `ImageError` when there is no ink or more than `max_digits` digits.
    `slants`: also cut along these slants (`candidate_cuts`). `refused`, given candidate digits, says which
    the model's card refuses as digits (a mark it refuses is never taken for a digit written small).
    """
    labels, count = label_components(ink > INK_LEVEL)
    if count == 0:
        raise ImageError("no ink found (a blank page?)", "no_ink")
    group, height, box = group_pieces(labels, count)
    full_shape = ink.shape
    factor = analysis_factor(labels >= 0, height)
    if factor > 1:  # large, thick writing: read at a coarser scale, where it is just as clear
        ink = reduce_ink(ink, factor)
        labels, count = label_components(ink > INK_LEVEL)
        group, height, box = group_pieces(labels, count)
    keys = np.unique(group[group >= 0])
    aspect = LONE_SPLIT_ASPECT if keys.size == 1 else SPLIT_ASPECT
    wide = [int(g) for g in keys if _wide(box[group == g], height, aspect)]
    narrow = []
    if score is not None and keys.size > 1 and NARROW_SPLIT_ASPECT is not None:
        narrow = [int(g) for g in keys if int(g) not in wide and _wide(box[group == g], height, NARROW_SPLIT_ASPECT)]
    elif (score is not None and keys.size == 1 and not wide and LONE_UNSURE_ASPECT is not None
          and _wide(box[group == keys[0]], height, LONE_UNSURE_ASPECT)):
        narrow = [int(keys[0])]  # the only mark, judged like a narrow pair: cut when doubted whole
    in_group = np.where(labels >= 0, group[np.maximum(labels, 0)], -1)  # each pixel's group, -1 for none
    whole: dict[int, float] = {}
    if score is not None and (narrow or (wide and WHOLE_CONFIDENCE is not None)):
        # A wide group the model reads as one digit with near certainty is not cut: a wide 0 or 7
        # (most wide groups are single digits), and the candidate cuts and their scoring are skipped.
        # A narrow one is cut only when the model doubts it whole.
        asked = wide + narrow if WHOLE_CONFIDENCE is not None else narrow
        found = score([prepare_ink(_group_ink(ink, in_group, group, box, g)[0]) for g in asked])
        whole = {g: float(c) for g, c in zip(asked, found)}
    uncut = frozenset(g for g in wide if g in whole and whole[g] >= WHOLE_CONFIDENCE)  # asked only with a gate
    unsure = frozenset(g for g in narrow if whole[g] < UNSURE_WHOLE)  # narrow ones are always asked
    if keys.size == 1 and not unsure and (not wide or int(keys[0]) in uncut):
        # One group read as one digit, as most uploads are: the reading below would find the same
        # one segment after costing it alone; skip to it.
        g = int(keys[0])
        own, found_box = _group_ink(ink, in_group, group, box, g)
        return [_segment(own, found_box, int((group == g).sum()), False, whole.get(g), g, factor, full_shape,
                         ink.shape)]
    inset = SEAM_INSET == "always" or (SEAM_INSET == "several" and keys.size > 1)
    parts = over_segment(ink, labels, group, height, box, (frozenset(wide) - uncut) | unsure, inset, slants)
    costs = _digit_costs(parts, height)
    confidence: dict[tuple[int, int], float] = {}
    candidates: dict[tuple[int, int], np.ndarray] = {}  # each candidate digit's model input, when scored
    if score is not None and len(costs) > 1:  # one candidate digit: nothing for the model to choose
        candidates = {(i, j): _candidate(ink, parts, i, j) for i, j in costs}
        found = score(list(candidates.values()))
        for span, c in zip(candidates, found):
            confidence[span] = float(c)
            costs[span] += CONFIDENCE_WEIGHT * -np.log(max(float(c), 1e-6))
    most = None
    if keys.size == 1 and LONE_DIGIT_CAP:  # the only mark: k digits need k / 2 x LONE_SPLIT_ASPECT its height
        t, left, b, r = _span_box(box[group == keys[0]])
        most = max(2 if unsure else 1, int(2 * (r - left) / (LONE_SPLIT_ASPECT * (b - t))))
    # (A lone group's parts can always be read as one digit, so a capped reading exists; if none did,
    # the uncapped one is read rather than nothing.)
    marks = _small_digit_marks(parts, height) if confidence else []  # (each part alone is a scored candidate)
    if marks and refused is not None:  # a mark the card would refuse as a digit is no digit written small
        said = refused([candidates[(k, k + 1)] for k in marks])
        marks = [k for k, no in zip(marks, said, strict=True) if not no]
    doubt = _small_digit_doubt(parts, marks, confidence)
    for i, j in costs:
        if j - i > 1:  # a digit joined of several parts: none of them read as a digit of its own
            costs[(i, j)] += float(doubt[i:j].sum())
    drop = _drop_costs(parts, height, doubt)
    reading = _best_reading(parts, costs, drop, most) or _best_reading(parts, costs, drop)
    if len(reading) > max_digits:
        error = ImageError(f"found {len(reading)} digits; at most {max_digits} are read", "too_many_digits")
        # What was found, for the caller to tell a number too long from a line of text.
        error.found = [_candidate(ink, parts, i, j) for i, j in reading]
        raise error
    segments = []
    for i, j in reading:
        own, found_box = _own_ink(ink, parts.index, _span_box(parts.box[i:j]), i, j)
        pieces = len(np.unique(labels[(parts.index >= i) & (parts.index < j)]))
        segments.append(_segment(own, found_box, pieces, bool(parts.cut[i] or parts.cut[j]),
                                 confidence.get((i, j)), int(parts.group[i]), factor, full_shape, ink.shape))
    return segments


def _segment(own: np.ndarray, box: tuple[int, int, int, int], pieces: int, cut: bool, confidence: float | None,
             group: int, factor: int, full_shape: tuple[int, ...], analysed_shape: tuple[int, ...]) -> Segment:
    """A found digit; its box in the ink map the caller gave, when it was analysed `factor` times coarser."""
    box_fraction = (box[2] - box[0]) * (box[3] - box[1]) / (analysed_shape[0] * analysed_shape[1])
    if factor > 1:
        box = (box[0] * factor, box[1] * factor, min(full_shape[0], box[2] * factor),
               min(full_shape[1], box[3] * factor))
    return Segment(box=box, ink=own, pieces=pieces, cut=cut, ink_fraction=float((own > 0).mean()),
                   box_fraction=box_fraction, confidence=confidence, group=group)

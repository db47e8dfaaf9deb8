"""A photo, scan or drawing of a digit -> a 28x28 image prepared as MNIST prepared its digits.

A photo of a digit is not an MNIST image: MNIST digits are white ink on black,
their bounding box scaled to fit 20x20 and their centre of mass placed at the
centre of a 28x28 field (LeCun et al.). A model fed a raw resized photo sees
something it never saw in training, which is why most tutorial models fail on
their author's own handwriting. `prepare_digit` repeats MNIST's preparation
on pixels from the one decoder (`image.decode`).

All functions are pure (arrays in, arrays out) and every problem a user's
image can have is an `ImageError` naming it in one line.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from tinyvision.image.components import INK_LEVEL, stroke_width
from tinyvision.image.decode import ImageError
from tinyvision.image.marks import dilate, drop_marks
from tinyvision.image.paper import clear_paper, filter2d, paper_level

WORK_SIDE = 512  # the longest side analysed: plenty for a 20x20 result, bounded cost
DIGIT_BOX = 20  # MNIST: the digit's bounding box fits 20x20 ...
DIGIT_FIELD = 28  # ... inside a 28x28 field
MIN_CONTRAST = 0.2  # ink must differ from paper by 20% of the full range, else "no ink"
# Raised whenever the digit preparation changes what it gives, so that folders of digits cached as an older
# one prepared them are prepared again (datasets/folder_cache.py). 2: tiny images enlarged first; 3: faint ink
# far from every stroke dropped (NEAR_STROKE); 4: a fine pen's strokes joined and widened (THIN_PEN, MIN_PEN); caches
# written before the version was counted have none in their key.
PREPARATION_VERSION = 4
# A lone digit is prepared from all of the image's ink, cropped to every pixel brighter than 0, so that a faint
# stroke it needs is kept; but what a cleared printed line leaves is faint too, and it lies across the whole page:
# on ruled paper the crop took the page and the digit shrank to a speck, refused (a red team: 4 of 16 single
# digits read on ruled paper, 0 of 16 on a green engineering grid; numbers, whose digits are cropped to their own
# ink, read 32 of 32). Faint ink (at most INK_LEVEL) counts only within this many stroke widths of a stroke, where
# a stroke's own soft edge lies (None: all of it counts).
NEAR_STROKE: float | None = 1.0


GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma, as Pillow's "L"


def to_gray(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 1 or 3) uint8 -> (H, W) float32 in [0, 1]."""
    values = pixels.astype(np.float32) / 255.0
    return values[..., 0] if pixels.shape[-1] == 1 else values @ GRAY_WEIGHTS


# A scan smaller than ENLARGE_BELOW px on its longest side (an 8x8 grid of ink counts, a thumbnail) is
# enlarged to ENLARGE_TO px with a Lanczos filter before its ink is looked for: at its own size a stroke
# is a pixel or two, and the ink found there is a few blocks. Chosen on validation
# (benchmarks/small_images.py, results/small_images.json): MNIST validation digits saved at 8 px, other
# writers' held-out 8x8 grids, and training-side non-digits at the same sizes, by digits read plus
# non-digits refused. Enlarged, more small digits are read and fewer small non-digits refused; at 12 px
# the second outweighs the first, so images of 12 px and more are left as they are.
ENLARGE_BELOW = 12
ENLARGE_TO = 16


def enlarge_small(gray: np.ndarray) -> np.ndarray:
    """A tiny image (under ENLARGE_BELOW px long) enlarged to ENLARGE_TO px; any other as it is."""
    h, w = gray.shape
    if max(h, w) >= ENLARGE_BELOW:
        return gray
    scale = ENLARGE_TO / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = Image.fromarray(gray).resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)  # Lanczos rings past the range


def shrink(gray: np.ndarray, longest: int = WORK_SIDE) -> np.ndarray:
    h, w = gray.shape
    scale = longest / max(h, w)
    if scale >= 1:
        return gray
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.BOX), dtype=np.float32)


MAX_GAIN = 3.0  # ink in a shadow is brought up to at most this many times its contrast
POLARITY_MARGIN = 0.2  # the levels' tails settle which way round the ink is when this far apart; else ...
# ... their extremes do, this percent of the pixels at each end, when as far apart: a small number in a large
# photo is under 1% of its pixels, and the 1st and 99th percentiles were both paper (a red team: 4000x3000 photos
# of numbers 150 px tall, 9 of 16 read, each failure the paper taken for the ink) (None: not tried); else ...
POLARITY_TAIL: float | None = 0.01
POLARITY_SIDE = 128  # ... it is judged on a copy this many px on its longest side ...
POLARITY_WIDTHS = (3, 5, 9)  # ... by what is narrower than these widths (px of that copy) ...
POLARITY_CONTRAST = 0.2  # ... and stands out of its surroundings by at least this much


def _narrow(values: np.ndarray, width: int) -> float:
    """The total brightness of what is narrower than `width` and clearly brighter than its surroundings
    (the white top-hat, values minus their grayscale opening, above POLARITY_CONTRAST: not the faint
    squares of squared paper between their lines)."""
    tophat = values - filter2d(filter2d(values, width, np.min), width, np.max)
    return float(tophat[tophat > POLARITY_CONTRAST].sum())


def ink_polarity(gray: np.ndarray) -> np.ndarray:
    """Ink bright on dark paper, as in MNIST.

    Ink is the minority of an image's levels: the paper is the median, the ink the tail further from
    it (not the border's level, which the desk beside the sheet can fill); for a few strokes in a large
    photo, its extremes (POLARITY_TAIL). When a shadow or the desk puts as much dark as light around the
    median, narrowness decides: read the right way round, strokes stand out of the paper as narrow bright
    lines; read the wrong way, only the gaps between strokes do, and fewer of them. Each width votes."""
    low, paper, high = np.percentile(gray, (1, 50, 99))
    margin = (paper - low) - (high - paper)  # > 0: dark ink on light paper
    if abs(margin) < POLARITY_MARGIN and POLARITY_TAIL is not None:
        low, high = np.percentile(gray, (POLARITY_TAIL, 100 - POLARITY_TAIL))
        extremes = (paper - low) - (high - paper)
        margin = extremes if abs(extremes) >= POLARITY_MARGIN else margin
    if abs(margin) < POLARITY_MARGIN:
        small = shrink(gray, POLARITY_SIDE)
        votes = sum(np.sign(_narrow(1.0 - small, w) - _narrow(small, w)) for w in POLARITY_WIDTHS)
        margin = votes if votes != 0 else margin
    return 1.0 - gray if margin > 0 else gray


def remove_background(ink: np.ndarray) -> np.ndarray:
    """How much brighter than the paper under it each pixel of an ink-bright map is (`paper_level`):
    uneven light and shadows become flat black, and only what is narrower than a stroke stays bright.

    Light multiplies: in a shadow that halves the light, ink differs from the paper by half as much,
    so the difference is divided by the paper's own brightness (1 - level, ink being bright here)."""
    level = paper_level(ink)
    return np.clip((ink - level) / np.maximum(1.0 - level, 1.0 / MAX_GAIN), 0.0, 1.0)


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """The threshold that best separates two classes of values in [0, 1] (Otsu, 1979)."""
    # np.histogram's binning (1.0 in the last bin), counted with bincount: several times faster.
    index = np.minimum((values.ravel() * bins).astype(np.int64), bins - 1)
    hist = np.bincount(index[index >= 0], minlength=bins)
    edges = np.linspace(0.0, 1.0, bins + 1)
    p = hist.astype(np.float64) / max(1, hist.sum())
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    mu = np.cumsum(p * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * w0 - mu) ** 2 / (w0 * (1 - w0))
    between[~np.isfinite(between)] = 0
    return float(edges[int(np.argmax(between)) + 1])


def _neighbours(mask: np.ndarray) -> np.ndarray:
    padded = np.pad(mask.astype(np.int16), 1)
    h, w = mask.shape
    return sum(padded[i : i + h, j : j + w] for i in range(3) for j in range(3)) - mask


# A fine pen's line is a fraction of a percent of a photo's pixels: Otsu's two classes were then the paper's
# darker and lighter grain, the line lost among the lighter, and the two differed by under MIN_CONTRAST: "no
# ink". Where they differ too little, the lighter class is split again, at most TAIL_SPLITS times (None: not).
# A blank page's grain has no such tail: its lightest pixels are as close to the rest.
TAIL_SPLITS: int | None = 3


def ink_threshold(ink: np.ndarray) -> float:
    """Otsu's threshold between paper and ink; where its classes differ by under MIN_CONTRAST, Otsu's threshold
    within the brighter class, again (TAIL_SPLITS)."""
    t = otsu_threshold(ink)
    for _ in range(int(TAIL_SPLITS or 0)):  # (a benchmark sets it as a float)
        above = ink[ink > t]
        if above.size == 0 or above.mean() - ink[ink <= t].mean() >= MIN_CONTRAST:
            break
        t = otsu_threshold(above)
    return t


# Shrunk to WORK_SIDE, a fine pen's line is a pixel wide and fainter in places than others, and its ink broke
# into dozens of pieces: "too many marks". Ink whose strokes are narrower than THIN_PEN of its height is
# joined over gaps of THIN_REACH px on each side (the brightest pixel within reach; None: not). A pen in the
# proportions of MNIST's (a seventh of the height) is far above it. Lines that thin cover a small share of
# the box they lie in (a digit's strokes, about 4 x THIN_PEN of it); ink covering over THIN_COVER of its box is
# grain or noise, not a pen, and widened it became one blob read as a mark (a photo of noise).
THIN_PEN: float | None = 0.025
THIN_REACH = 2
THIN_COVER = 0.2


def join_thin(ink: np.ndarray) -> np.ndarray:
    """An ink map drawn with a fine pen (THIN_PEN) with its strokes THIN_REACH px wider on each side, so that
    a line broken where it was faint is whole again; any other as it is."""
    strong = ink > INK_LEVEL
    if THIN_PEN is None or not strong.any():
        return ink
    top, left, bottom, right = ink_extent(strong)
    if stroke_width(strong) >= THIN_PEN * (bottom - top) or strong[top:bottom, left:right].mean() > THIN_COVER:
        return ink
    reach = int(THIN_REACH)
    return filter2d(ink, 2 * reach + 1, np.max).astype(np.float32)


def isolate_ink(ink: np.ndarray) -> np.ndarray:
    """Otsu threshold away paper texture; keep the ink's soft edges, scaled to [0, 1]."""
    t = ink_threshold(ink)
    above, below = ink[ink > t], ink[ink <= t]
    if above.size == 0 or below.size == 0 or above.mean() - below.mean() < MIN_CONTRAST:
        raise ImageError("no ink found (a blank page?)", "no_ink")
    # Otsu's cut lies mid-way up a stroke's soft edge; starting the ramp just above
    # the paper's noise instead keeps the edge, so strokes keep their width.
    low = min(t, max(float(below.mean() + 4 * below.std()), t / 2))
    top = max(float(np.percentile(above, 95)), low + 1e-3)
    soft = np.clip((ink - low) / (top - low), 0.0, 1.0)
    # Specks: an ink pixel with fewer than 2 ink neighbours is noise, not a stroke.
    mask = soft > 0
    return np.where(mask & (_neighbours(mask) >= 2), soft, 0.0).astype(np.float32)


def ink_extent(ink: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), exclusive, of the non-zero pixels, from row and column projections
    (cheaper than listing every pixel). Raises `ImageError` "no_ink" when there are none."""
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    if rows.size == 0:
        raise ImageError("no ink found (a blank page?)", "no_ink")
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def crop_to_ink(digit: np.ndarray, level: float = 0.1) -> np.ndarray:
    """A digit image (ink bright, in [0, 1]) cropped to the pixels brighter than `level`."""
    top, left, bottom, right = ink_extent(digit > level)
    return digit[top:bottom, left:right]


def resize_to_height(digit: np.ndarray, height: int) -> np.ndarray:
    """A float image scaled (bilinear) to `height` rows, keeping its aspect ratio."""
    width = max(1, round(digit.shape[1] * height / digit.shape[0]))
    return np.asarray(Image.fromarray(digit).resize((width, height), Image.Resampling.BILINEAR), np.float32)


def fit_box(ink: np.ndarray, box: int = DIGIT_BOX, width: int | None = None, level: float = 0.0) -> np.ndarray:
    """Crop to the bounding box of the ink brighter than `level` and scale it to fit box x box (box x `width`:
    a pair of digits, `pair_reader`), keeping the aspect ratio."""
    top, left, bottom, right = ink_extent(ink > level)
    crop = ink[top:bottom, left:right]
    h, w = crop.shape
    scale = min(box / h, (width or box) / w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS, reducing_gap=None)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def place_by_centre_of_mass(digit: np.ndarray, field: int = DIGIT_FIELD, width: int | None = None) -> np.ndarray:
    """Put the digit in a field x field image (field x `width`) with its centre of mass at (field / 2, width / 2)
    in pixel indices: where MNIST puts it, (14, 14), measured on its training split as 14.00 +- 0.29 both ways
    (the geometric centre is 13.5)."""
    width = width or field
    h, w = digit.shape
    total = max(float(digit.sum()), 1e-6)  # ink too faint to survive the resize: placed at the corner, not NaN
    rows, cols = np.arange(h), np.arange(w)
    com_r = (digit.sum(1) @ rows) / total
    com_c = (digit.sum(0) @ cols) / total
    top = int(np.clip(round(field / 2 - com_r), 0, field - h))
    left = int(np.clip(round(width / 2 - com_c), 0, width - w))
    out = np.zeros((field, width), dtype=np.float32)
    out[top : top + h, left : left + w] = digit
    return out


def ink_map(pixels: np.ndarray) -> np.ndarray:
    """Decoded pixels -> the ink as bright on black, paper removed (its light, its printed lines, the
    desk beside it) and the writer's marks round the number (`image.marks`), at most WORK_SIDE px long
    (a tiny image: ENLARGE_TO px)."""
    ink = isolate_ink(remove_background(ink_polarity(shrink(enlarge_small(to_gray(pixels))))))
    ink = join_thin(ink)
    # Marks before the paper's lines (a form's thin printed box: cleared as rules, its top and bottom would
    # leave its sides to read as 1s) and after them (a circle drawn across a ruled line is one piece with it).
    return drop_marks(clear_paper(drop_marks(ink)))


def near_strokes(ink: np.ndarray) -> np.ndarray:
    """An ink map with its faint pixels (at most INK_LEVEL) kept only within NEAR_STROKE stroke widths of a pixel
    above it: the soft edges of the strokes, not the faint leftovers of a page's cleared lines."""
    strong = ink > INK_LEVEL
    faint = (ink > 0) & ~strong
    if NEAR_STROKE is None or not strong.any() or not faint.any():
        return ink
    near = dilate(strong, max(1, round(NEAR_STROKE * stroke_width(strong))))
    return np.where(strong | (faint & near), ink, 0.0).astype(ink.dtype)


def prepare_whole(ink: np.ndarray) -> np.ndarray:
    """A whole ink map read as one digit (a lone digit, or several marks read whole), prepared as MNIST prepared
    its digits from all of its ink near a stroke (`near_strokes`): what `Model.prepare` and `read_number` give."""
    return prepare_ink(near_strokes(ink))


# MNIST's strokes are 2-4 px of its 20x20 box, about a seventh of a digit's height; a fine pen's line in a large
# photo is a hundredth of it, and fitted into the box it became a faint trace under a pixel wide, which the
# model had never seen. A digit whose strokes would be narrower than MIN_PEN px of the box is drawn with a wider
# pen first (None: as written). Chosen on validation with TAIL_SPLITS and THIN_PEN (table thin-pen,
# benchmarks/results/thin_pen_*.json).
MIN_PEN: float | None = 1.5


def widen_pen(ink: np.ndarray, box: int = DIGIT_BOX) -> np.ndarray:
    """An ink map whose strokes, fitted into box x box, would be narrower than MIN_PEN px, dilated (its
    brightest pixel within reach, a square) until they are not; any other as it is."""
    strong = ink > INK_LEVEL
    if MIN_PEN is None or not strong.any():
        return ink
    top, left, bottom, right = ink_extent(ink > 0)
    scale = box / max(bottom - top, right - left)
    reach = int(np.ceil((MIN_PEN / scale - stroke_width(strong)) / 2))
    if reach <= 0:
        return ink
    crop = np.pad(ink[top:bottom, left:right], reach)  # room for the wider strokes at the edges
    return filter2d(crop, 2 * reach + 1, np.max).astype(np.float32)


def prepare_ink(ink: np.ndarray) -> np.ndarray:
    """An ink map (bright on black, in [0, 1]) -> a 28x28 float image, as MNIST prepared its digits:
    its strokes at least MIN_PEN wide (`widen_pen`), fitted into 20x20 keeping its aspect, centre of mass
    at MNIST's centre."""
    return place_by_centre_of_mass(fit_box(widen_pen(ink)))


def prepare_digit(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 of one digit -> a 28x28 float image in [0, 1], as MNIST prepared its digits."""
    return prepare_whole(ink_map(pixels))



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

from tinyvision.image.decode import ImageError

WORK_SIDE = 512  # the longest side analysed: plenty for a 20x20 result, bounded cost
DIGIT_BOX = 20  # MNIST: the digit's bounding box fits 20x20 ...
DIGIT_FIELD = 28  # ... inside a 28x28 field
# Where MNIST puts the centre of mass (row, col), in pixel indices: measured on
# its training split as 14.00 +- 0.29 both ways (the geometric centre is 13.5).
MNIST_CENTRE = (14.0, 14.0)
MIN_CONTRAST = 0.2  # ink must differ from paper by 20% of the full range, else "no ink"


GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma, as Pillow's "L"


def to_gray(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 1 or 3) uint8 -> (H, W) float32 in [0, 1]."""
    values = pixels.astype(np.float32) / 255.0
    return values[..., 0] if pixels.shape[-1] == 1 else values @ GRAY_WEIGHTS


def shrink(gray: np.ndarray, longest: int = WORK_SIDE) -> np.ndarray:
    h, w = gray.shape
    scale = longest / max(h, w)
    if scale >= 1:
        return gray
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.BOX), dtype=np.float32)


def ink_polarity(gray: np.ndarray) -> np.ndarray:
    """Ink bright on dark paper, as in MNIST: the paper is what the border mostly shows."""
    h, w = gray.shape
    m = max(1, min(h, w) // 20)
    border = np.concatenate([gray[:m].ravel(), gray[-m:].ravel(), gray[:, :m].ravel(), gray[:, -m:].ravel()])
    return 1.0 - gray if np.median(border) > 0.5 else gray


def _min_filter3(grid: np.ndarray) -> np.ndarray:
    padded = np.pad(grid, 1, mode="edge")
    h, w = grid.shape
    return np.min([padded[i : i + h, j : j + w] for i in range(3) for j in range(3)], axis=0)


def remove_background(ink: np.ndarray, blocks: int = 6) -> np.ndarray:
    """Subtract the paper's level, estimated per block, so uneven light becomes flat black.

    A block's 10th percentile is its paper (ink is the minority); the minimum
    over neighbouring blocks covers blocks a thick stroke fills entirely.
    """
    h, w = ink.shape
    bh, bw = -(-h // blocks), -(-w // blocks)
    padded = np.pad(ink, ((0, bh * blocks - h), (0, bw * blocks - w)), mode="edge")
    cells = padded.reshape(blocks, bh, blocks, bw).transpose(0, 2, 1, 3).reshape(blocks, blocks, -1)
    grid = _min_filter3(np.percentile(cells, 10, axis=-1).astype(np.float32))
    level = np.asarray(Image.fromarray(grid).resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)
    return np.clip(ink - level, 0.0, 1.0)


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


def isolate_ink(ink: np.ndarray) -> np.ndarray:
    """Otsu threshold away paper texture; keep the ink's soft edges, scaled to [0, 1]."""
    t = otsu_threshold(ink)
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


def fit_box(ink: np.ndarray, box: int = DIGIT_BOX) -> np.ndarray:
    """Crop to the ink's bounding box and scale it to fit box x box, keeping the aspect ratio."""
    top, left, bottom, right = ink_extent(ink)
    crop = ink[top:bottom, left:right]
    h, w = crop.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS, reducing_gap=None)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def place_by_centre_of_mass(digit: np.ndarray, field: int = DIGIT_FIELD) -> np.ndarray:
    """Put the digit in a field x field image with its centre of mass at MNIST's centre."""
    h, w = digit.shape
    total = digit.sum()
    rows, cols = np.arange(h), np.arange(w)
    com_r = (digit.sum(1) @ rows) / total
    com_c = (digit.sum(0) @ cols) / total
    top = int(np.clip(round(MNIST_CENTRE[0] - com_r), 0, field - h))
    left = int(np.clip(round(MNIST_CENTRE[1] - com_c), 0, field - w))
    out = np.zeros((field, field), dtype=np.float32)
    out[top : top + h, left : left + w] = digit
    return out


def ink_map(pixels: np.ndarray) -> np.ndarray:
    """Decoded pixels -> the ink as bright on black, paper removed, at most WORK_SIDE px long."""
    return isolate_ink(remove_background(ink_polarity(shrink(to_gray(pixels)))))


def prepare_digit(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 of one digit -> a 28x28 float image in [0, 1], as MNIST prepared its digits."""
    return place_by_centre_of_mass(fit_box(ink_map(pixels)))



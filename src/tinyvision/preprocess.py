"""Users' image files -> the uint8 tensors a model was trained on.

A photo of a digit is not an MNIST image: MNIST digits are white ink on black,
their bounding box scaled to fit 20x20 and their centre of mass placed at the
centre of a 28x28 field (LeCun et al.). A model fed a raw resized photo sees
something it never saw in training, which is why most tutorial models fail on
their author's own handwriting. `prepare_digit` repeats MNIST's preparation;
`prepare_resized` is the plain path for colour and folder models.

All functions are pure (bytes or an image in, arrays out) and every problem a
user's file can have is an `ImageError` naming it in one line.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from tinyvision.errors import TinyVisionError

# 40 megapixels covers any phone photo; far larger "images" are usually
# decompression bombs (a tiny PNG that inflates to gigabytes).
MAX_PIXELS = 40_000_000
MIN_SIDE = 8
WORK_SIDE = 512  # the longest side analysed: plenty for a 20x20 result, bounded cost
DIGIT_BOX = 20  # MNIST: the digit's bounding box fits 20x20 ...
DIGIT_FIELD = 28  # ... inside a 28x28 field
# Where MNIST puts the centre of mass (row, col), in pixel indices: measured on
# its training split as 14.00 +- 0.29 both ways (the geometric centre is 13.5).
MNIST_CENTRE = (14.0, 14.0)
MIN_CONTRAST = 0.2  # ink must differ from paper by 20% of the full range, else "no ink"


class ImageError(TinyVisionError):
    """A file that cannot be used as an image; `kind` says why, for HTTP status codes."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # not_image | corrupt | too_large | too_small | no_ink


@dataclass(frozen=True)
class Preparation:
    """How images become model inputs for one model."""

    mode: str  # "digit" (MNIST-style) or "resize"
    input_shape: tuple[int, int, int]  # (C, H, W)


def choose_preparation(classes: tuple[str, ...], input_shape: tuple[int, int, int], mode: str = "auto") -> Preparation:
    """MNIST-style preparation for a 28x28 gray model of the ten digits, plain resizing otherwise."""
    if mode == "auto":
        digits = tuple(classes) == tuple(str(d) for d in range(10))
        mode = "digit" if digits and tuple(input_shape) == (1, DIGIT_FIELD, DIGIT_FIELD) else "resize"
    if mode == "digit" and tuple(input_shape) != (1, DIGIT_FIELD, DIGIT_FIELD):
        raise TinyVisionError(f"digit preparation needs a 1x28x28 model, this one takes {input_shape}")
    if mode not in ("digit", "resize"):
        raise TinyVisionError(f"unknown preparation {mode!r}; choose auto, digit or resize")
    return Preparation(mode, tuple(input_shape))


def open_image(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode bytes into a loaded Pillow image (first frame), EXIF orientation applied."""
    if not data:
        raise ImageError("empty file", "not_image")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise ImageError("not an image Pillow can read", "not_image") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageError("image has too many pixels (decompression bomb?)", "too_large") from None
        except Exception as exc:  # a damaged header surfaces as any of several exception types
            raise ImageError(f"corrupt image ({exc})", "corrupt") from None
        w, h = image.size
        if w * h > max_pixels:
            raise ImageError(f"image is {w}x{h}, over the limit of {max_pixels:,} pixels", "too_large")
        if min(w, h) < MIN_SIDE:
            raise ImageError(f"image is {w}x{h}; need at least {MIN_SIDE}x{MIN_SIDE} pixels", "too_small")
        try:
            image.seek(0)  # GIF/TIFF/WebP: the first frame
            image.load()
            image = ImageOps.exif_transpose(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageError("image has too many pixels (decompression bomb?)", "too_large") from None
        except Exception as exc:  # truncated data: OSError, SyntaxError, ValueError, ...
            raise ImageError(f"corrupt or truncated image ({exc})", "corrupt") from None
    return image


def _channels_float(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Any mode -> (H, W, 3 or 1) float32 in [0, 1] and alpha (H, W) or None."""
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        # 16-bit (and 32-bit) gray: Pillow's convert("L") clips instead of scaling.
        values = np.asarray(image, dtype=np.float32)
        top = 1.0 if mode == "F" and values.max() <= 1.0 else (255.0 if values.max() <= 255 else 65535.0)
        return np.clip(values / top, 0, 1)[..., None], None
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info)
    if mode in ("1", "L"):
        return np.asarray(image.convert("L"), dtype=np.float32)[..., None] / 255.0, None
    if mode == "LA" or mode == "La":
        la = np.asarray(image.convert("LA"), dtype=np.float32) / 255.0
        return la[..., :1], la[..., 1]
    rgba = np.asarray(image.convert("RGBA" if has_alpha else "RGB"), dtype=np.float32) / 255.0
    if has_alpha:
        return rgba[..., :3], rgba[..., 3]
    return rgba, None


def composite(colour: np.ndarray, alpha: np.ndarray | None, background: float) -> np.ndarray:
    if alpha is None:
        return colour
    return colour * alpha[..., None] + background * (1.0 - alpha[..., None])


def to_gray(image: Image.Image) -> np.ndarray:
    """(H, W) float32 in [0, 1]; alpha composited on white.

    Light strokes on a transparent background would vanish on white, so when
    black gives the stronger contrast, black is used instead.
    """
    colour, alpha = _channels_float(image)
    gray_weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    to_l = (lambda c: c[..., 0]) if colour.shape[-1] == 1 else (lambda c: c @ gray_weights)
    on_white = to_l(composite(colour, alpha, 1.0))
    if alpha is not None and alpha.min() < 1.0:
        on_black = to_l(composite(colour, alpha, 0.0))
        if on_black.std() > on_white.std() * 1.5:
            return on_black.astype(np.float32)
    return on_white.astype(np.float32)


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
    hist, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
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


def fit_box(ink: np.ndarray, box: int = DIGIT_BOX) -> np.ndarray:
    """Crop to the ink's bounding box and scale it to fit box x box, keeping the aspect ratio."""
    rows, cols = np.nonzero(ink)
    if rows.size == 0:
        raise ImageError("no ink found (a blank page?)", "no_ink")
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
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


def prepare_digit(image: Image.Image) -> np.ndarray:
    """A photo or scan of one digit -> a 28x28 float image in [0, 1], as MNIST prepared its digits."""
    gray = shrink(to_gray(image))
    ink = isolate_ink(remove_background(ink_polarity(gray)))
    return place_by_centre_of_mass(fit_box(ink))


def prepare_resized(image: Image.Image, input_shape: tuple[int, int, int]) -> np.ndarray:
    """Colour and folder models: alpha on white, resize to the model's size. (C, H, W) in [0, 1]."""
    c, h, w = input_shape
    colour, alpha = _channels_float(image)
    rgb = composite(colour, alpha, 1.0)
    if c == 1:
        planes = [rgb[..., 0] if rgb.shape[-1] == 1 else rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)]
    else:
        planes = [rgb[..., min(i, rgb.shape[-1] - 1)] for i in range(c)]
    resized = [
        np.asarray(Image.fromarray(p.astype(np.float32)).resize((w, h), Image.Resampling.BILINEAR))
        for p in planes
    ]
    return np.clip(np.stack(resized), 0.0, 1.0).astype(np.float32)


def prepare(data: bytes, preparation: Preparation, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """Image file bytes -> uint8 (C, H, W), the same form as a dataset's images."""
    image = open_image(data, max_pixels)
    if preparation.mode == "digit":
        pixels = prepare_digit(image)[None]
    else:
        pixels = prepare_resized(image, preparation.input_shape)
    return torch.from_numpy(np.round(pixels * 255.0).astype(np.uint8))


def to_png(pixels: torch.Tensor) -> bytes:
    """A uint8 (C, H, W) model input as PNG bytes, for users to see what the model saw."""
    array = pixels.numpy()
    image = Image.fromarray(array[0]) if array.shape[0] == 1 else Image.fromarray(array.transpose(1, 2, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()

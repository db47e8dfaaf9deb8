"""The one image decoder: a file, bytes, a PIL image, an array or a tensor -> uint8 pixels.

Every image tinyvision reads goes through `decode`: folder datasets at
training time, and users' files in `predict`, the API and the server, so a
model sees the same pixels for the same file at training and at prediction.

Memory is bounded by design, whatever the file claims:
- the header is read first, and an image over `MAX_PIXELS`, or whose
  full-size decode would need more than `DECODE_BUDGET` bytes, is refused
  before any pixel is decoded (a 170 KB PNG can inflate to 160 MB);
- a JPEG is decoded at a reduced scale (`draft`: 1/2, 1/4 or 1/8, done by
  the JPEG library itself) when the caller needs fewer pixels;
- everything stays 8-bit while the image is large: it is reduced by an
  integer factor (`Image.reduce`, a box filter), and a conversion (16-bit,
  palette, CMYK, alpha) runs a band of rows at a time, so no full-size copy
  is made; EXIF rotation and alpha compositing run on the small image;
- what a decoder holds besides the pixels counts against the budget: a
  progressive JPEG's coefficients, libwebp's canvases, a TIFF's strip,
  Pillow's Python BMP run-length decoder;
- what a file makes the decoder walk is bounded before it is opened (`header_checks`): a JPEG's
  scans and header segments, a PNG's chunks, a TIFF's strips or tiles; a run-length BMP's runs; a
  PNM's header, and a plain PNM's comments and values; an icon's entries;
- only formats whose decoders honour the header's size are opened (an
  icon's directory may lie about the PNG inside, so that is checked first).

Decoding changes no process-wide state per call (no warning filters set and
reset, no global Pillow limits), so concurrent requests can decode in
parallel threads. Once, at import, `quiet_decoder_diagnostics` drops what
Pillow's own plugins warn and libtiff prints about the files they read: the
decoder answers those files itself, in one line.
"""

from __future__ import annotations

import ctypes
import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from tinyvision.errors import ImageError
from tinyvision.image.header_checks import (
    check_icon,
    check_jpeg,
    check_png,
    check_pnm,
    check_rle_bmp,
    check_tiff,
    header_markers,
)

# 40 megapixels covers any phone photo; far larger "images" are usually
# decompression bombs (a tiny PNG that inflates to gigabytes).
MAX_PIXELS = 40_000_000
# The most memory one full-size decode may take. A 40-megapixel JPEG never
# needs it (it decodes at 1/8 scale); an 8-bit gray PNG of 40 MP does (40 MB);
# an RGB or RGBA PNG is stored at 4 bytes a pixel, so up to 16 MP (4000x4000).
DECODE_BUDGET = 64 * 1024 * 1024
MAX_FILE_BYTES = 50_000_000  # a larger file is not a photo of a digit
MIN_SIDE = 8
# The formats read (Pillow's names; JPEG includes a phone's multi-picture MPO,
# PPM the netpbm family). Pillow reads more, but their decoders are less used,
# and some decode more than their header declares (ICNS, CUR) or need several
# times the image's size (AVIF, JPEG 2000).
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "ICO", "PPM")
FORMAT_NAMES = "PNG, JPEG, GIF, BMP, TIFF, WebP, ICO or PNM"


def quiet_decoder_diagnostics() -> None:
    """A corrupt TIFF makes Pillow warn about each bad tag, and libtiff print its own complaints
    ("Using code not yet in table.") straight to stderr; other plugins warn of what they read around
    (an APNG without frames, a malformed MPO, an icon not its stated size); a header claiming a huge
    image makes Pillow warn of a decompression bomb, which this decoder refuses itself (MAX_PIXELS).
    The decoder answers each with one ImageError or a picture, so these lines only break the CLI's
    one-line error and fill a server's log. libtiff's handlers are process-wide C state, set once (no
    per-call redirection, which threads would race on); where the library cannot be found (no /proc, a
    system Pillow), libtiff stays as it was."""
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.\w+ImagePlugin")
    # Only as Pillow's own Image module warns it, from within its open(): a caller's own warning stays.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning, module=r"PIL\.Image")
    try:
        from PIL import _imaging  # noqa: F401  (loads the libtiff Pillow decodes with)

        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            names = {line.split()[-1] for line in maps if "libtiff" in line.rsplit("/", 1)[-1]}
        for name in names:
            libtiff = ctypes.CDLL(name)
            for setter in (libtiff.TIFFSetWarningHandler, libtiff.TIFFSetErrorHandler):
                setter.restype = ctypes.c_void_p
                setter.argtypes = [ctypes.c_void_p]
                setter(None)  # NULL: libtiff reports nothing; the failed read still fails
    except (OSError, AttributeError, ImportError):
        pass


quiet_decoder_diagnostics()
# Full-size copies of the pixels a decoder holds at once, measured with
# benchmarks/decode_memory.py: libwebp decodes into its own canvas and hands
# Pillow a copy; Pillow's run-length BMP decoder builds the pixels in Python.
DECODER_COPIES = {"WEBP": 4, "bmp_rle": 3}
BAND_PIXELS = 1 << 20  # pixels converted at a time while shrinking a large image
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F", "P;gray"})
# Bytes per pixel of Pillow's in-memory storage, by mode (multi-band modes use 4).
_STORAGE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}


@dataclass(frozen=True)
class Limits:
    """What one decode may cost."""

    max_pixels: int = MAX_PIXELS
    budget_bytes: int = DECODE_BUDGET
    max_file_bytes: int = MAX_FILE_BYTES


DEFAULT_LIMITS = Limits()


def read_file(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """A file's bytes, refusing what is not a regular file or is over the size limit."""
    if not os.fspath(path):  # Path("") is the current folder
        raise ImageError("an empty path names no file", "not_a_file")
    path = Path(path)
    if not path.is_file():
        missing = "broken link" if path.is_symlink() else "no such file"
        raise ImageError(missing if not path.exists() else "not a file", "not_a_file")
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise ImageError(f"file is {size:,} bytes, over the limit of {limits.max_file_bytes:,}", "too_large")
    try:
        with open(path, "rb") as f:
            return f.read(limits.max_file_bytes + 1)[: limits.max_file_bytes]
    except OSError as exc:
        raise ImageError(f"cannot read ({exc.strerror})", "not_a_file") from None


# How the files of the formats we read begin (BMP and WebP: see `signed`).
SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")


def signed(data: bytes) -> bool:
    """Whether `data` begins as a file of a format we read does: then a file Pillow cannot open is a
    broken one (a TIFF cut in half loses the directory at its end), not a file of another kind."""
    bmp = data[:2] == b"BM" and data[6:10] == b"\x00\x00\x00\x00"  # (its reserved fields are zero)
    webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"  # (RIFF alone is also WAV, AVI)
    return data.startswith(SIGNATURES) or bmp or webp


def open_image(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Image.Image:
    """Bytes -> an opened (not yet decoded) Pillow image whose size has been checked."""
    if not data:
        raise ImageError("empty file", "empty")  # nothing sent: no kind of image at all
    if data[:4] == b"\x00\x00\x01\x00":
        check_icon(data)  # Pillow decodes an icon's image while opening it
    if data[:2] == b"\xff\xd8":
        check_jpeg(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        check_png(data)
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        check_tiff(data)
    if data[:1] == b"P" and data[1:2] in (b"1", b"2", b"3", b"4", b"5", b"6", b"f"):
        check_pnm(data)
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        if signed(data):
            raise ImageError("corrupt or truncated image (its header is unreadable)", "corrupt") from None
        raise ImageError(f"not an image Pillow can read as {FORMAT_NAMES}", "not_image") from None
    except Image.DecompressionBombError:
        raise ImageError("image has too many pixels (decompression bomb?)", "too_large") from None
    except Exception as exc:  # a damaged header surfaces as any of several exception types
        raise ImageError(f"corrupt image ({exc})", "corrupt") from None
    check_size(*image.size, limits)
    check_rle_bmp(image, data)
    return image


def check_size(w: int, h: int, limits: Limits) -> None:
    """An image's size, from its header or a PIL image: neither over the pixel limit nor under MIN_SIDE."""
    if w * h > limits.max_pixels:
        raise ImageError(f"image is {w}x{h}, over the limit of {limits.max_pixels:,} pixels", "too_large")
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"image is {w}x{h}; need at least {MIN_SIDE}x{MIN_SIDE} pixels", "too_small")


def storage_bytes(image: Image.Image) -> int:
    """What Pillow will allocate to hold the decoded image."""
    return image.size[0] * image.size[1] * _STORAGE_BYTES.get(image.mode, 4)


def first_scan_components(data: bytes) -> int:
    """How many colour components a JPEG's first scan holds (0 if no scan is found)."""
    for i, marker, _ in header_markers(data):
        if marker == 0xDA:  # start of scan: its length, then its component count
            return data[i + 4] if i + 4 < len(data) else 0
    return 0


def coefficient_bytes(image: Image.Image, data: bytes) -> int:
    """What libjpeg holds for a JPEG decoded over several scans: every DCT coefficient, whole-image.

    A progressive JPEG (or one whose first scan lacks some components) is
    decoded into a buffer of all its coefficients, 2 bytes each at full
    resolution whatever the draft scale: 3 bytes a pixel for usual colour
    (4:2:0), 8 for CMYK. A baseline JPEG is decoded a row of blocks at a time.
    """
    if image.format not in ("JPEG", "MPO"):
        return 0
    layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * len(image.getbands())
    if not image.info.get("progression") and first_scan_components(data) >= len(layers):
        return 0
    w, h = image.size
    hmax = max(max(layer[1] for layer in layers), 1)
    vmax = max(max(layer[2] for layer in layers), 1)
    return sum(2 * math.ceil(w * max(layer[1], 1) / hmax) * math.ceil(h * max(layer[2], 1) / vmax)
               for layer in layers)


def strip_bytes(image: Image.Image) -> int:
    """libtiff decodes a compressed TIFF a strip (or a tile) at a time, into a buffer of that size:
    the whole image when it is written as one strip."""
    if image.format != "TIFF" or not any(tile[0] == "libtiff" for tile in image.tile):
        return 0
    tags = image.tag_v2
    w, h = image.size

    def number(tag: int, default: int) -> int:  # a damaged file may hold a tuple, a string, anything
        value = tags.get(tag, default)
        value = value[0] if isinstance(value, tuple) and value else value
        if not isinstance(value, int) or value < 0:
            raise ImageError(f"corrupt TIFF header (tag {tag} is {str(value)[:40]!r})", "corrupt")
        return value

    bits = tags.get(258, (8,))
    bits = bits if isinstance(bits, tuple) else (bits,) * number(277, 1)
    if not all(isinstance(b, int) and b >= 0 for b in bits):
        raise ImageError("corrupt TIFF header (bits per sample)", "corrupt")
    pixel_bits = sum(bits)
    if number(262, 1) == 6:  # YCbCr is read through libtiff's RGBA interface: 4 bytes a pixel
        pixel_bits = max(pixel_bits, 32)
    if 322 in tags and 323 in tags:  # tiled
        return math.ceil(number(322, 0) * pixel_bits / 8) * number(323, 0)
    return math.ceil(w * pixel_bits / 8) * min(number(278, h), h)


def decoder_copies(image: Image.Image) -> int:
    codecs = [tile[0] for tile in getattr(image, "tile", None) or []]
    return max([DECODER_COPIES.get(image.format or "", 1)] + [DECODER_COPIES.get(c, 1) for c in codecs])


def reduce_on_load(image: Image.Image, longest: int | None, limits: Limits, data: bytes = b"") -> None:
    """Ask the decoder for fewer pixels (JPEG only), then check the decode fits the budget."""
    w, h = image.size
    coefficients = coefficient_bytes(image, data)
    if longest is not None and image.format in ("JPEG", "MPO") and max(w, h) > 2 * longest:
        # draft() picks the largest 1/2^k scale whose result is still at least this size.
        scale = longest / max(w, h)
        image.draft(image.mode, (max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale))))
    cost = storage_bytes(image) * decoder_copies(image) + coefficients + strip_bytes(image)
    if cost > limits.budget_bytes:  # (w, h): the file's size, before any draft
        raise ImageError(
            f"image is {w}x{h} {image.mode}: decoding it would take {cost / 2**20:.0f} MiB, "
            f"over the limit of {limits.budget_bytes / 2**20:.0f} MiB (send a smaller image, or a baseline JPEG)",
            "too_large",
        )


def load_first_frame(image: Image.Image) -> Image.Image:
    try:
        image.seek(0)  # GIF/TIFF/WebP: the first frame
        image.load()
    except Image.DecompressionBombError:
        raise ImageError("image has too many pixels (decompression bomb?)", "too_large") from None
    except Exception as exc:  # truncated data: OSError, SyntaxError, ValueError, ...
        raise ImageError(f"corrupt or truncated image ({exc})", "corrupt") from None
    return image


def value_scale(image: Image.Image) -> float:
    """The white level of a 16-bit, 32-bit or float gray image: 1, 255 or 65535, from its largest value."""
    try:
        top = float(image.getextrema()[1])
    except ValueError:  # Pillow has no extrema for big-endian 16-bit ("I;16B", a 'MM' TIFF's): band by band
        w, h = image.size
        rows = max(1, BAND_PIXELS // max(1, w))
        top = max(float(np.asarray(image.crop((0, y, w, min(h, y + rows)))).max()) for y in range(0, h, rows))
    if image.mode == "F" and top <= 1.0:
        return 1.0
    return 255.0 if top <= 255 else 65535.0


def to_8bit(image: Image.Image, scale: float | None = None) -> Image.Image:
    """16- and 32-bit gray, float and odd modes -> L, LA, RGB or RGBA (8 bits per channel).

    Pillow's own convert("L") clips 16-bit values instead of scaling them, so a
    16-bit scan would turn white; here the full range is scaled down (`scale`:
    the white level, `value_scale` of the whole image when this is a part of it).
    """
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if mode.startswith("I;16") or mode in ("I", "F"):
        scale = scale or value_scale(image)
        values = np.asarray(image, dtype=np.float32)
        if not np.isfinite(values).all():  # a float image with NaN or infinite pixels: not a picture
            raise ImageError("corrupt image (pixels that are not numbers)", "corrupt")
        with np.errstate(over="ignore"):  # far out of range overflows to +-inf: clipped, white or black
            return Image.fromarray(np.clip(np.rint(values * (255.0 / scale)), 0, 255).astype(np.uint8), "L")
    if mode == "1":
        return image.convert("L")
    if mode in ("La", "PA") or (mode == "P" and "transparency" in image.info):
        return image.convert("LA" if mode == "La" else "RGBA")
    if mode == "P":
        return image.convert("RGB")
    if mode == "RGBa":
        return image.convert("RGBA")
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...


def shrink(image: Image.Image, longest: int | None) -> Image.Image:
    """Any mode -> 8-bit L, LA, RGB or RGBA, reduced by an integer factor (a box filter) so that
    the longest side is still >= `longest` (None: not reduced).

    Converting, and reducing LA or RGBA (Pillow premultiplies the alpha
    first), copy the image; a large image is therefore converted and reduced a
    band of rows at a time, so no full-size copy is ever made. A band's height
    is a multiple of the factor: the result equals reducing the whole at once.
    """
    w, h = image.size
    factor = max(1, max(w, h) // longest) if longest else 1
    if image.mode in ("L", "RGB"):  # reduce() reads these in place
        return image.reduce(factor) if factor >= 2 else image
    if w * h <= BAND_PIXELS or (image.mode in ("LA", "RGBA") and factor == 1):
        image = to_8bit(image)
        return image.reduce(factor) if factor >= 2 else image
    scale = value_scale(image) if image.mode.startswith("I") or image.mode == "F" else None
    rows = max(1, BAND_PIXELS // (w * factor)) * factor
    out = None
    for top in range(0, h, rows):
        band = to_8bit(image.crop((0, top, w, min(h, top + rows))), scale)
        if factor >= 2:
            band = band.reduce(factor)
        if out is None:
            out = Image.new(band.mode, (-(-w // factor), -(-h // factor)))
        out.paste(band, (0, top // factor))
    return out


def composite_alpha(array: np.ndarray) -> np.ndarray:
    """(H, W, 2 or 4) with alpha -> (H, W, 1 or 3): alpha composited on white.

    Light strokes on a transparent background would vanish on white, so when
    black gives the stronger contrast, black is used instead.
    """
    if array[..., -1].min() == 255:  # opaque throughout (a canvas drawing): nothing to composite
        return array[..., :-1]
    colour = array[..., :-1].astype(np.float32)
    alpha = array[..., -1:].astype(np.float32) / 255.0
    on_white = colour * alpha + 255.0 * (1.0 - alpha)
    if alpha.min() < 1.0:
        on_black = colour * alpha
        if on_black.std() > on_white.std() * 1.5:
            return np.rint(on_black).astype(np.uint8)
    return np.rint(on_white).astype(np.uint8)


def image_to_array(image: Image.Image) -> np.ndarray:
    """An 8-bit Pillow image -> (H, W, 1) gray or (H, W, 3) RGB uint8, alpha composited."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if image.mode in ("LA", "RGBA"):
        array = composite_alpha(array)
    return np.ascontiguousarray(array)


def decode_bytes(data: bytes, longest: int | None = None, limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """Image file bytes -> (H, W, 1 or 3) uint8, EXIF orientation applied, first frame only.

    `longest` is how many pixels the caller needs on the longest side: larger
    images are reduced (by an integer factor, so at least that many remain).
    """
    return decode_bytes_sized(data, longest, limits)[0]


def decode_bytes_sized(data: bytes, longest: int | None = None,
                       limits: Limits = DEFAULT_LIMITS) -> tuple[np.ndarray, tuple[int, int]]:
    """`decode_bytes`, and the image's (width, height) as shown, before any reduction: read while
    decoding, since asking the file again (`displayed_size`) would decode a PNG a second time."""
    image = open_image(data, limits)
    w, h = image.size  # the file's size: a JPEG draft below changes image.size
    reduce_on_load(image, longest, limits, data)
    image = load_first_frame(image)
    turn = orientation(image)
    image = upright(shrink(image, longest), turn)
    if turn in QUARTER_TURNS:  # the shown width is the stored height
        w, h = h, w
    return image_to_array(image), (w, h)


# EXIF orientation -> the transpose that shows the image as meant (2 to 8; 1 and any other value: as stored).
SHOW = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90}
QUARTER_TURNS = (5, 6, 7, 8)


def orientation(image: Image.Image) -> int:
    """The image's EXIF orientation (1 to 8; 1 when absent or damaged), read alone. The block's other tags
    are never unpacked: Pillow's `exif_transpose` repacks the whole block, which turned a 10 MB upload
    holding one private tag of 5 million numbers into a gigabyte of Python objects and 5 to 30 s of work."""
    try:
        exif = image.getexif() if hasattr(image, "getexif") else None
        value = exif.get(0x0112, 1) if exif else 1
    except Exception:  # noqa: BLE001 - a damaged EXIF block: as stored
        return 1
    return value if type(value) is int and value in SHOW else 1


def upright(image: Image.Image, turn: int) -> Image.Image:
    """`image` as its EXIF `orientation` says it is shown."""
    return image.transpose(SHOW[turn]) if turn in SHOW else image


def pixel_values(array: np.ndarray) -> np.ndarray:
    """Any array of pixel values -> uint8 0..255: bools as black and white; floats in [0, 1] scaled (values
    above 1 taken as 0..255); wider integers scaled from their own maximum. A value below 0 is refused: a
    normalised tensor ((x - mean) / std) is no image, and clipped it reads as a blank page (so is uint8 data
    wrapped into int8). Strings, dates, complex numbers and Python objects are no pixel values."""
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == object:  # a list of lists of Python numbers, as numpy held it
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise ImageError("array of Python objects that are not numbers holds no pixel values",
                             "not_image") from None
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ImageError(f"array of {array.dtype} values holds no pixel values: pass uint8, or floats in [0, 1]",
                         "not_image")
    if np.issubdtype(array.dtype, np.signedinteger) and int(array.min(initial=0)) < 0:
        raise ImageError("pixel values below 0 (uint8 data read as int8?); pass pixels: uint8, or floats in "
                         "[0, 1]", "not_image")
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ImageError("array holds NaN or infinite values", "corrupt")
        if float(array.min(initial=0.0)) < 0:
            raise ImageError("pixel values below 0 (a normalised tensor?); pass pixels: uint8, or floats in "
                             "[0, 1]", "not_image")
        top = 255.0 if float(array.max(initial=0.0)) > 1.0 else 1.0
        return np.clip(np.rint(array * (255.0 / top)), 0, 255).astype(np.uint8)
    if array.dtype != np.uint8:
        top = float(array.max(initial=0))
        scale = 255.0 if top <= 255 else 65535.0 if top <= 65535 else top
        return np.clip(np.rint(array.astype(np.float64) * (255.0 / scale)), 0, 255).astype(np.uint8)
    return array


def array_to_pixels(array: np.ndarray) -> np.ndarray:
    """A user's numpy array -> (H, W, 1 or 3) uint8.

    (H, W) or (H, W, C) with C in 1..4; uint8, or floats in [0, 1] (values above
    1 are taken as 0..255), or wider integers scaled from their own maximum.
    """
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 2, 3, 4):
        # Channels first, as torch holds an image: numpy's images are (H, W, C), and the error says how.
        hint = ("; channels first? pass x.transpose(1, 2, 0), or a torch tensor"
                if array.ndim == 3 and array.shape[0] in (1, 2, 3, 4) and min(array.shape[1:]) >= MIN_SIDE else "")
        raise ImageError(f"array of shape {tuple(array.shape)} is not an image: expected (H, W) or (H, W, C){hint}",
                         "not_image")
    if min(array.shape[:2]) < MIN_SIDE:
        raise ImageError(f"image is {array.shape[1]}x{array.shape[0]}; need at least {MIN_SIDE}x{MIN_SIDE} pixels",
                         "too_small")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise ImageError(f"array of {array.shape[1]}x{array.shape[0]} is over {MAX_PIXELS:,} pixels", "too_large")
    array = pixel_values(array)
    if array.shape[-1] in (2, 4):
        array = composite_alpha(array)
    return np.ascontiguousarray(array)


def read_stream(source, limits: Limits = DEFAULT_LIMITS):
    """An open binary file's bytes (read up to the size limit, from where it stands); any other source as
    it is."""
    if isinstance(source, Image.Image) or not callable(getattr(source, "read", None)):
        return source
    try:
        data = source.read(limits.max_file_bytes + 1)
    except (OSError, ValueError) as exc:  # a closed file, a socket gone
        raise ImageError(f"cannot read the file ({exc})", "not_a_file") from None
    if not isinstance(data, (bytes, bytearray)):
        raise ImageError("a file opened in text mode: open it with 'rb'", "not_image")
    if len(data) > limits.max_file_bytes:
        raise ImageError(f"file is over the limit of {limits.max_file_bytes:,} bytes", "too_large")
    return bytes(data)


def decode(source, longest: int | None = None, limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """Any image source -> (H, W, 1 or 3) uint8.

    Accepts a path, bytes, an open binary file (`io.BytesIO`, an upload), a PIL image, a numpy array
    ((H, W) or (H, W, C)) or a torch tensor ((H, W), (C, H, W) or (H, W, C)).
    """
    source = read_stream(source, limits)
    if isinstance(source, (str, os.PathLike)):
        return decode_bytes(read_file(source, limits), longest, limits)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_bytes(bytes(source), longest, limits)
    if isinstance(source, Image.Image):
        check_size(*source.size, limits)
        image = upright(shrink(source, longest), orientation(source))
        return image_to_array(image if image.mode in ("L", "LA", "RGB", "RGBA") else to_8bit(image))
    if isinstance(source, torch.Tensor):
        if source.layout != torch.strided or source.is_meta:
            raise ImageError(f"a {'meta' if source.is_meta else 'sparse'} tensor holds no pixels: pass a dense one",
                             "not_image")
        array = source.detach().cpu()
        if array.dtype in (torch.bfloat16, torch.float16):  # numpy has no bfloat16
            array = array.float()
        if array.ndim == 3 and array.shape[0] in (1, 2, 3, 4) and array.shape[-1] not in (1, 2, 3, 4):
            array = array.permute(1, 2, 0)  # (C, H, W) -> (H, W, C)
        return array_to_pixels(array.numpy())
    if isinstance(source, np.ndarray):
        return array_to_pixels(source)
    raise ImageError(f"cannot read an image from a {type(source).__name__}", "not_image")


def decode_sized(source, longest: int | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> tuple[np.ndarray, tuple[int, int]]:
    """`decode`, and the source's (width, height) as shown (see `displayed_size`)."""
    source = read_stream(source, limits)
    if isinstance(source, (str, os.PathLike)):
        source = read_file(source, limits)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_bytes_sized(bytes(source), longest, limits)
    return decode(source, longest, limits), displayed_size(source)


def displayed_size(source) -> tuple[int, int]:
    """(width, height) of an image as shown (EXIF rotation applied), from its header alone.

    `decode` may reduce a large image; boxes found on the reduced pixels are
    mapped back to the user's image with this.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        with Image.open(io.BytesIO(bytes(source))) as image:
            w, h = image.size
            turned = quarter_turned(image)
        return (h, w) if turned else (w, h)
    if isinstance(source, Image.Image):
        w, h = source.size
        return (h, w) if quarter_turned(source) else (w, h)
    shape = tuple(source.shape) if isinstance(source, torch.Tensor) else np.shape(source)  # (no pixels copied)
    if len(shape) == 3 and shape[0] in (1, 2, 3, 4) and shape[-1] not in (1, 2, 3, 4):
        return shape[2], shape[1]
    return shape[1], shape[0]


def quarter_turned(image: Image.Image) -> bool:
    """Whether the decoder shows `image` turned a quarter (EXIF orientation 5 to 8): its shown width is
    its stored height. Not when the orientation is damaged: the decoder then leaves the image as stored."""
    return orientation(image) in QUARTER_TURNS


def is_gray(pixels: np.ndarray) -> bool:
    return pixels.shape[-1] == 1


def to_png(pixels: torch.Tensor | np.ndarray) -> bytes:
    """A uint8 (C, H, W) model input as PNG bytes, for users to see what the model saw."""
    array = pixels.numpy() if isinstance(pixels, torch.Tensor) else np.asarray(pixels)
    image = Image.fromarray(array[0]) if array.shape[0] == 1 else Image.fromarray(array.transpose(1, 2, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()

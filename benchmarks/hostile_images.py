"""Large and hostile image files for the memory and load benchmarks, in every format the decoder reads.

Each case is a function returning file bytes: a white page with a thick dark
"7" on it (so a digit model has ink to find), at the largest size the decoder
is meant to take or just past it, plus a few files whose header lies about
what they hold. Making a 40-megapixel file takes seconds, so `hostile_file`
caches the bytes on disk under a folder of the caller's choice.

    from hostile_images import CASES, hostile_file
    data = hostile_file("png-gray-40mp", Path("/tmp/tinyvision-hostile"))
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

MP40 = (7300, 5470)  # 39.9 megapixels: just under the decoder's 40 MP cap
MP16 = (4000, 4000)  # the largest RGB/RGBA image the 64 MiB decode budget lets through


def page(size: tuple[int, int], mode: str = "L") -> Image.Image:
    """A white page with a dark "7" filling its middle third."""
    w, h = size
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    stroke = max(3, min(w, h) // 40)
    draw.line([(w // 3, h // 3), (2 * w // 3, h // 3), (w // 2, 2 * h // 3)], fill=20, width=stroke)
    if mode == "L":
        return image
    if mode in ("RGBA", "LA"):
        gray = image.convert(mode[:-1])
        alpha = Image.eval(image, lambda v: 255 - v)  # ink opaque, paper transparent
        gray.putalpha(alpha)
        return gray
    return image.convert(mode)


def save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int, color_type: int = 6, depth: int = 8) -> bytes:
    """A PNG of blank rows, written row by row: a 6300x6300 RGBA image is about 170 KB."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row = b"\x00" + b"\x00" * (width * channels * depth // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def png_16bit(size: tuple[int, int]) -> bytes:
    """A 16-bit gray PNG (Pillow mode I;16)."""
    values = (np.asarray(page(size), dtype=np.uint16) * 257).astype("<u2")
    return save(Image.frombytes("I;16", size, values.tobytes()), "PNG", compress_level=1)


def palette_with_transparency(size: tuple[int, int]) -> Image.Image:
    image = page(size).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    image.info["transparency"] = 0
    return image


def bmp_rle8(size: tuple[int, int]) -> bytes:
    """An 8-bit run-length-encoded BMP: 40 MP of paper in a few hundred KB."""
    w, h = size
    rows = bytearray()
    for _ in range(h):
        left = w
        while left:
            run = min(255, left)
            rows += bytes([run, 255])
            left -= run
        rows += b"\x00\x00"  # end of line
    rows += b"\x00\x01"  # end of bitmap
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(rows), 2835, 2835, 256, 0)
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) + info + palette + bytes(rows)


def ico_hiding_a_big_png(size: tuple[int, int]) -> bytes:
    """An icon whose directory says 256x256 but whose embedded PNG is far larger."""
    embedded = png_bomb(*size, color_type=6)
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(embedded), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + embedded


def header_lies(size: tuple[int, int]) -> bytes:
    """A small JPEG whose frame header claims `size`: the decoder must not trust it to allocate."""
    data = bytearray(save(page((64, 64)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", size[1], size[0])
    return bytes(data)


CASES: dict[str, Callable[[], bytes]] = {
    "jpeg-40mp": lambda: save(page(MP40, "RGB"), "JPEG", quality=90),
    "jpeg-40mp-progressive": lambda: save(page(MP40, "RGB"), "JPEG", quality=90, progressive=True),
    "jpeg-40mp-cmyk": lambda: save(page(MP40, "CMYK"), "JPEG", quality=90),
    "jpeg-40mp-cmyk-progressive": lambda: save(page(MP40, "CMYK"), "JPEG", quality=90, progressive=True),
    "jpeg-21mp-progressive": lambda: save(page((5400, 4000), "RGB"), "JPEG", quality=90, progressive=True),
    "jpeg-header-says-40mp": lambda: header_lies(MP40),
    "png-gray-40mp": lambda: save(page(MP40), "PNG", compress_level=9),
    "png-gray-40mp-interlaced": lambda: save(page(MP40), "PNG", interlace=1),
    "png-rgba-6300x6300-bomb": lambda: png_bomb(6300, 6300, color_type=6),
    "png-rgb-16mp": lambda: save(page(MP16, "RGB"), "PNG", compress_level=9),
    "png-rgba-16mp": lambda: save(page(MP16, "RGBA"), "PNG", compress_level=9),
    "png-16bit-gray-32mp": lambda: png_16bit((5700, 5600)),
    "png-16bit-gray-40mp": lambda: png_16bit(MP40),
    "png-palette-alpha-40mp": lambda: save(palette_with_transparency(MP40), "PNG"),
    "gif-40mp": lambda: save(page(MP40).convert("P"), "GIF"),
    "gif-40mp-transparent": lambda: save(palette_with_transparency(MP40), "GIF", transparency=0),
    "webp-4mp": lambda: save(page((2000, 2000), "RGB"), "WEBP", quality=80),
    "webp-16mp": lambda: save(page(MP16, "RGB"), "WEBP", quality=80),
    "webp-40mp": lambda: save(page(MP40, "RGB"), "WEBP", quality=80),
    "tiff-gray-40mp-deflate": lambda: save(page(MP40), "TIFF", compression="tiff_adobe_deflate"),
    "tiff-rgb-16mp-lzw": lambda: save(page(MP16, "RGB"), "TIFF", compression="tiff_lzw"),
    "tiff-cmyk-16mp": lambda: save(page(MP16, "CMYK"), "TIFF", compression="tiff_adobe_deflate"),
    "tiff-gray-40mp-one-strip": lambda: save(page(MP40), "TIFF", compression="tiff_adobe_deflate",
                                              strip_size=2**31),
    "tiff-rgb-16mp-one-strip": lambda: save(page(MP16, "RGB"), "TIFF", compression="tiff_adobe_deflate",
                                             strip_size=2**31),
    "tiff-rgb-16mp-jpeg": lambda: save(page(MP16, "RGB"), "TIFF", compression="jpeg"),
    "bmp-1bit-40mp": lambda: save(page(MP40).convert("1"), "BMP"),
    "bmp-rle8-21mp": lambda: bmp_rle8((4600, 4600)),
    "bmp-rle8-40mp": lambda: bmp_rle8(MP40),
    "ico-hiding-6300x6300-png": lambda: ico_hiding_a_big_png((6300, 6300)),
}


def hostile_file(name: str, cache: Path) -> bytes:
    """The bytes of case `name`, made once and kept in `cache`."""
    path = cache / f"{name}.bin"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        data = CASES[name]()
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path.read_bytes()

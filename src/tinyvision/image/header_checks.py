"""What a file makes Pillow walk, bounded before Pillow opens it (`decode.open_image` calls these).

Pillow reads some parts of some formats in Python, an entry, a chunk, a strip
or a byte at a time, and sets no limit: a few megabytes that declare a small
image can hold a worker for seconds or minutes. Each check walks the file's
structure here first, in a fraction of that time, and refuses a file with more
of it than any image within the decoder's limits needs: a JPEG's scans and
header segments, a PNG's chunks, a TIFF's strips or tiles, a run-length BMP's
runs, a PNM's header and a plain PNM's comments and values, an icon's entries
(and the size of the image inside it, which Pillow decodes while opening it).
"""

from __future__ import annotations

import io
import re
import struct

from PIL import Image

from tinyvision.errors import ImageError

ICON_SIDE = 256  # the largest icon an ICO directory can describe
# Pillow reads an icon's directory entry by entry in Python, twice here (checked, then opened): a 1 MB icon of
# 65,535 entries took 1.7 s to answer, one of a few sizes 0.02 s. An icon holds a size per use and colour depth.
MAX_ICON_ENTRIES = 256
# libjpeg passes over every block of the image once per scan, and Pillow sets no limit: a few megabytes of
# tiny scans kept a 4000x4000 JPEG decoding for minutes. A progressive photo has about ten scans (libjpeg's
# own script), an optimising encoder's a few dozen at most; and about ten header segments before its first,
# with a fill byte or two at most between them.
MAX_JPEG_SCANS = 100
MAX_JPEG_SEGMENTS = 1000
# Pillow reads a PNG's chunks one by one in Python: 9 MB of empty ancillary chunks took 2-3 s to open. A
# photo's PNG holds its pixels in chunks of 8-64 KB: 10 MB of them is a few hundred to a few thousand.
MAX_PNG_CHUNKS = 20_000
# Pillow makes a Python tile for each strip (or tile) of an uncompressed TIFF, and decodes them one by one: a
# 9.6 MB file listing 2.4 million strips took 0.8 GB and 30 s to open and decode, however few its pixels. A
# photo's TIFF holds its pixels in strips of 8 KB or more (libtiff's default) or tiles of 16x16 and up: a 40 MP
# gray image has about 5,000 strips, an image written a row a strip as many strips as rows.
MAX_TIFF_STRIPS = 20_000
TIFF_STRIP_TAGS = (273, 279, 324, 325)  # StripOffsets, StripByteCounts, TileOffsets, TileByteCounts
# Pillow decodes a run-length BMP in Python, a run at a time, and pads an ended row, or a run of the 4-bit kind,
# a pixel at a time: a 9.8 MB file of one-pixel runs took 7 s of a worker, and a 19 KB one of 4600 rows ended
# after their first pixel 3.6 s. A drawing's runs are long (a 21 MP page of paper: 87,000 runs, 0.1 s); the
# runs are counted before it is decoded (a run a microsecond), and a file of more runs, or more pixels filled one
# by one, is refused.
MAX_RLE_RUNS = 200_000
MAX_RLE_SLOW_PIXELS = 4_000_000
# Pillow reads a PNM's header a byte at a time in Python (10 MB of comments or blanks: 2 s), cuts each comment out
# of the plain formats' pixel data by copying its 1 MB block (a 1 MB file of empty comments: 9 s; 3.5 MB held a
# worker its whole 30 s), and turns each number of a plain PGM or PPM into a pixel in Python (a 9.7 MB P2: 5 s).
# A PNM's header is a few dozen bytes (a comment naming its writer); the plain formats are for small images.
MAX_PNM_HEADER = 4096
MAX_PNM_COMMENTS = 100
MAX_PLAIN_PNM_SAMPLES = 1_000_000


def check_rle_bmp(image: Image.Image, data: bytes) -> None:
    """Refuse a run-length BMP whose decoding in Pillow's Python decoder would take seconds: walk its runs as
    that decoder does, counting them and the pixels it fills one at a time (ended rows' padding, and every
    pixel of the 4-bit kind), and stop at a bound."""
    compression = image.info.get("compression") if image.format == "BMP" else None
    if compression not in (1, 2):  # RLE8, RLE4
        return
    rle4 = compression == 2
    w, h = image.size
    total, filled, x, runs, slow = w * h, 0, 0, 0, 0
    i = int.from_bytes(data[10:14], "little")  # where the pixel data starts
    while i + 1 < len(data) and filled < total:
        count, value = data[i], data[i + 1]
        i += 2
        runs += 1
        if count:  # a run of one value
            count = min(count, max(0, w - x))
            x, filled, slow = x + count, filled + count, slow + count * rle4
        elif value == 0:  # end of the row: padded a pixel at a time
            pad = -filled % w
            filled, slow, x = filled + pad, slow + pad, 0
        elif value == 1:  # end of the bitmap
            break
        elif value == 2:  # a move
            filled += min(total - filled, data[i] + data[i + 1] * w if i + 1 < len(data) else 0)
            x, i = filled % w, i + 2
        else:  # that many pixels as they are
            count = min(total - filled, value)
            i += (count + 1) // 2 if rle4 else count
            i += i % 2
            x, filled, slow = x + value, filled + count, slow + count * rle4
        if runs > MAX_RLE_RUNS or slow > MAX_RLE_SLOW_PIXELS:
            raise ImageError(f"run-length BMP of over {MAX_RLE_RUNS:,} runs or {MAX_RLE_SLOW_PIXELS:,} pixels "
                             f"filled one by one, which Pillow decodes in Python: send a PNG", "too_large")


def check_icon(data: bytes) -> None:
    """Refuse an icon whose largest entry holds an image larger than an icon can be.

    The directory says at most 256x256, but the PNG (or bitmap) inside may be
    of any size, and Pillow decodes it while opening the icon, before its size
    can be checked.
    """
    from PIL import BmpImagePlugin, IcoImagePlugin

    entries = int.from_bytes(data[4:6], "little")
    if entries > MAX_ICON_ENTRIES:
        raise ImageError(f"icon of {entries:,} images, over the {MAX_ICON_ENTRIES} any icon has", "corrupt")
    try:
        entry = IcoImagePlugin.IcoFile(io.BytesIO(data)).entry[0]  # the one Pillow opens: the largest
        inner = io.BytesIO(data[entry.offset :])
        if data[entry.offset : entry.offset + 8] == b"\x89PNG\r\n\x1a\n":
            with Image.open(inner, formats=["PNG"]) as embedded:
                w, h = embedded.size
        else:
            w, h = BmpImagePlugin.DibImageFile(inner).size
            h //= 2  # a bitmap icon stores its image and its mask, one above the other
    except Image.DecompressionBombError:
        raise ImageError("icon holds an image with too many pixels (decompression bomb?)", "too_large") from None
    except Exception as exc:  # a damaged directory or entry: as any other corrupt file
        raise ImageError(f"corrupt icon ({exc})", "corrupt") from None
    if max(w, h) > ICON_SIDE:
        raise ImageError(f"icon holds a {w}x{h} image; an icon is at most {ICON_SIDE}x{ICON_SIDE}", "too_large")


_FILL = re.compile(rb"\xff+")


def header_markers(data: bytes):
    """A JPEG's header segments, as (offset, marker, fill bytes before it), up to and including its first
    scan's (0xDA)."""
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        start, i = i, _FILL.match(data, i).end() - 1  # a run of fill bytes before the marker: skipped at once
        if i + 4 > len(data):
            return
        marker = data[i + 1]
        yield i, marker, i - start
        if marker == 0xDA:
            return
        i += 2 if marker == 0x01 or 0xD0 <= marker <= 0xD8 else 2 + int.from_bytes(data[i + 2 : i + 4], "big")


def check_jpeg(data: bytes) -> None:
    """Refuse a JPEG whose decoding would take minutes however few its pixels: too many scans, or header
    segments. (0xFF 0xDA starts a scan; inside a scan's data 0xFF is only followed by 0x00 or a restart
    marker, so counting the pair counts scans, an embedded thumbnail's too.)"""
    scans = data.count(b"\xff\xda")
    if scans > MAX_JPEG_SCANS:
        raise ImageError(f"JPEG of {scans:,} scans, over the {MAX_JPEG_SCANS} any photo has", "corrupt")
    for count, (_, _, fill) in enumerate(header_markers(data), 1):
        if count > MAX_JPEG_SEGMENTS or fill > MAX_JPEG_SEGMENTS:  # (Pillow reads fill bytes one by one)
            raise ImageError(f"JPEG of over {MAX_JPEG_SEGMENTS:,} header segments or fill bytes, which no "
                             f"photo has", "corrupt")


def check_png(data: bytes) -> None:
    """Refuse a PNG of more chunks than any image's pixels need, before Pillow walks them one by one."""
    i, count = 8, 0
    while i + 8 <= len(data):
        count += 1
        if count > MAX_PNG_CHUNKS:
            raise ImageError(f"PNG of over {MAX_PNG_CHUNKS:,} chunks, which no image needs", "corrupt")
        if data[i + 4 : i + 8] == b"IEND":
            return
        i += 12 + int.from_bytes(data[i : i + 4], "big")  # length, type, data, CRC


def check_tiff(data: bytes) -> None:
    """Refuse a TIFF whose first directory lists more strips or tiles than any image's pixels need, before
    Pillow makes a Python tile of each. (Classic and BigTIFF; a directory that cannot be read is left to
    Pillow, which refuses it.)"""
    order = "<" if data[:2] == b"II" else ">"
    big = data[2:4] in (b"+\x00", b"\x00+")
    head, entry, count_at = (16, 20, "Q") if big else (8, 12, "I")
    if len(data) < head:
        return
    start = int.from_bytes(data[8:16] if big else data[4:8], "little" if order == "<" else "big")
    width = 8 if big else 2
    if start + width > len(data):
        return
    entries = int.from_bytes(data[start : start + width], "little" if order == "<" else "big")
    first = start + width
    for i in range(min(entries, (len(data) - first) // entry)):
        at = first + i * entry
        tag = struct.unpack_from(order + "H", data, at)[0]
        if tag in TIFF_STRIP_TAGS:
            count = struct.unpack_from(order + count_at, data, at + 4)[0]
            if count > MAX_TIFF_STRIPS:
                raise ImageError(f"TIFF of {count:,} strips or tiles, over the {MAX_TIFF_STRIPS:,} any image within "
                                 f"the limits needs", "corrupt")


def check_pnm(data: bytes) -> None:
    """Refuse a PNM whose header or plain pixel data Pillow would take seconds to read (MAX_PNM_HEADER): its
    header is walked here as Pillow reads it (blanks, comments to the end of their line, tokens)."""
    kind = data[1:2]
    wanted = 2 if kind in (b"1", b"4") else 3  # width, height (and the largest value, or the scale)
    tokens: list[bytes] = []
    i, end = 2, min(len(data), MAX_PNM_HEADER)
    token = b""
    while i < end and len(tokens) < wanted:
        c = data[i : i + 1]
        if c == b"#":  # a comment, to the end of its line
            stop = min((j for j in (data.find(b"\n", i, end), data.find(b"\r", i, end)) if j >= 0), default=end)
            i = stop + 1
            continue
        if c.isspace():
            if token:
                tokens.append(token)
                token = b""
        else:
            token += c
        i += 1
    if len(tokens) < wanted:
        if len(data) > MAX_PNM_HEADER:
            raise ImageError(f"PNM header of over {MAX_PNM_HEADER:,} bytes, which no image needs", "corrupt")
        return  # a short file: Pillow says what is wrong with it
    if kind in (b"1", b"2", b"3"):
        comments = data.count(b"#", i)
        if comments > MAX_PNM_COMMENTS:
            raise ImageError(f"plain PNM of {comments:,} comments among its pixels, over the {MAX_PNM_COMMENTS}"
                             f" read", "corrupt")
    if kind in (b"2", b"3") and all(t.isdigit() for t in tokens[:2]):
        samples = int(tokens[0]) * int(tokens[1]) * (3 if kind == b"3" else 1)
        if samples > MAX_PLAIN_PNM_SAMPLES:
            raise ImageError(f"plain (text) PNM of {samples:,} values, over the {MAX_PLAIN_PNM_SAMPLES:,} read "
                             f"(Pillow reads each in Python): send a binary PNM or a PNG", "too_large")

"""Property-based fuzzing of the image reader (Hypothesis), over every format it reads.

- Valid images of random sizes, modes and contents, in every format and the
  usual variants (16-bit, palette with transparency, CMYK, progressive,
  compressed TIFF, lossless WebP, ...), decode to the shape they were made
  at, or reduced to the size asked for.
- The same files mutated (bit flips, truncations, splices of another file,
  header fields overwritten with large sizes, bytes inserted or deleted)
  decode to a sane array or raise `ImageError`: never another exception,
  never a hang (an alarm fails the test), never a memory blow-up (the peak
  RSS over the whole run is checked).

Each property runs for a bounded number of examples and stops early past its
time budget, so the file takes about 30 s. TINYVISION_FUZZ_SCALE=20 runs
twenty times as many examples, for as long, for a fuzzing session by hand.
"""

from __future__ import annotations

import io
import math
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tinyvision.image.decode import MAX_PIXELS, ImageError, decode
from tinyvision.image.prepare import Preparation, prepare

# (format, mode made, save options): every format the decoder reads, and the variants users send.
VARIANTS = [
    ("PNG", "1", {}), ("PNG", "L", {}), ("PNG", "LA", {}), ("PNG", "P", {}), ("PNG", "P+alpha", {}),
    ("PNG", "RGB", {}), ("PNG", "RGBA", {}), ("PNG", "I;16", {}), ("PNG", "L", {"interlace": 1}),
    ("JPEG", "L", {}), ("JPEG", "RGB", {}), ("JPEG", "CMYK", {}), ("JPEG", "RGB", {"progressive": True}),
    ("JPEG", "RGB", {"subsampling": 0, "quality": 95}), ("MPO", "RGB", {}),
    ("GIF", "L", {}), ("GIF", "P", {}), ("GIF", "P+alpha", {}),
    ("BMP", "1", {}), ("BMP", "L", {}), ("BMP", "P", {}), ("BMP", "RGB", {}), ("BMP", "RGBA", {}),
    ("TIFF", "1", {}), ("TIFF", "L", {"compression": "tiff_lzw"}), ("TIFF", "LA", {}),
    ("TIFF", "RGB", {"compression": "tiff_adobe_deflate"}), ("TIFF", "RGB", {"compression": "jpeg"}),
    ("TIFF", "RGBA", {}), ("TIFF", "CMYK", {}), ("TIFF", "I;16", {}), ("TIFF", "F", {}),
    ("TIFF", "L", {"compression": "packbits"}),
    ("WEBP", "RGB", {}), ("WEBP", "RGBA", {}), ("WEBP", "RGB", {"lossless": True}),
    ("ICO", "RGBA", {}), ("ICO", "RGB", {"bitmap_format": "bmp"}),
    ("PPM", "1", {}), ("PPM", "L", {}), ("PPM", "RGB", {}), ("PPM", "I;16", {}),
]
GRAY = {"1", "L", "LA", "I;16", "F"}
LONGEST = [None, 28, 64, 100, 512]
HANG_SECONDS = 20  # one decode taking this long is a hang
PEAK_MB = 300  # the whole fuzz run's peak resident memory above its start


def make_image(mode: str, w: int, h: int, seed: int) -> Image.Image:
    """Random content: smooth blobs plus noise, so compressed formats get realistic data."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, max(3, min(w, h)))
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    gray = np.clip(blob * 255 + rng.normal(0, 30, (h, w)), 0, 255).astype(np.uint8)
    if mode == "I;16":
        return Image.frombytes("I;16", (w, h), (gray.astype("<u2") * 257).tobytes())
    if mode == "F":
        return Image.fromarray(gray.astype(np.float32) / 255.0, "F")
    rgb = np.stack([gray, np.roll(gray, 3, 1), rng.integers(0, 256, (h, w), dtype=np.uint8)], -1)
    if mode in ("P", "P+alpha"):
        image = Image.fromarray(rgb, "RGB").quantize(int(rng.integers(2, 64)))
        if mode == "P+alpha":
            image.info["transparency"] = 0
        return image
    if mode in ("RGBA", "LA"):
        return Image.fromarray(np.dstack([rgb, gray[::-1]]), "RGBA").convert(mode)
    return Image.fromarray(rgb, "RGB").convert(mode)


def encode(fmt: str, mode: str, options: dict, w: int, h: int, seed: int) -> bytes:
    image = make_image(mode, w, h, seed)
    options = dict(options)
    if mode == "P+alpha":
        options["transparency"] = 0
    if fmt == "ICO":
        options["sizes"] = [(w, h)]
    if fmt == "MPO":  # a phone's multi-picture JPEG: the photo, then another picture
        options.update(save_all=True, append_images=[image.transpose(Image.Transpose.ROTATE_180)])
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def sizes(fmt: str):
    top = 256 if fmt == "ICO" else 700
    return st.tuples(st.integers(8, top), st.integers(8, top)) if fmt != "ICO" else \
        st.integers(8, top).map(lambda s: (s, s))


@st.composite
def valid_files(draw):
    """(format, mode, options, width, height, seed): `encode` makes the file (after the budget check)."""
    fmt, mode, options = draw(st.sampled_from(VARIANTS))
    w, h = draw(sizes(fmt))
    return fmt, mode, options, w, h, draw(st.integers(0, 2**16))


class Hang(Exception):
    pass


def alarm(signum, frame):
    raise Hang(f"a decode took over {HANG_SECONDS} s")


def bounded(fn, *args):
    """`fn(*args)`, failing the test if it runs past HANG_SECONDS."""
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(HANG_SECONDS)
    try:
        return fn(*args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_sane(pixels: np.ndarray) -> None:
    assert isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8 and pixels.ndim == 3
    assert pixels.shape[-1] in (1, 3) and min(pixels.shape[:2]) >= 1
    assert pixels.shape[0] * pixels.shape[1] <= MAX_PIXELS


class Budget:
    """Past `seconds`, a property's remaining examples pass at once; after a failure it no longer
    applies, so that Hypothesis can replay and shrink the failing example."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = math.inf

    def start(self) -> None:
        self.end = time.monotonic() + self.seconds

    def spent(self) -> bool:
        return time.monotonic() > self.end

    def __enter__(self) -> Budget:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            self.end = math.inf


SCALE = float(os.environ.get("TINYVISION_FUZZ_SCALE", "1"))
VALID_BUDGET, MUTATED_BUDGET = Budget(8 * SCALE), Budget(14 * SCALE)
FUZZ = settings(max_examples=int(300 * SCALE), deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(file=valid_files(), longest=st.sampled_from(LONGEST))
def valid_images_round_trip(file, longest):
    if VALID_BUDGET.spent():
        return
    with VALID_BUDGET:
        fmt, mode, options, w, h, seed = file
        data = encode(fmt, mode, options, w, h, seed)
        pixels = bounded(decode, data, longest)
        assert_sane(pixels)
        out_h, out_w = pixels.shape[:2]
        if longest is None or max(w, h) < 2 * longest:
            assert (out_h, out_w) == (h, w), (fmt, mode, options)
        elif fmt in ("JPEG", "MPO"):  # decoded at 1/2, 1/4 or 1/8 scale first, then reduced
            assert longest <= max(out_h, out_w) < 2 * longest, (fmt, mode, options, (w, h), (out_w, out_h))
        else:  # reduced by an integer factor (a box filter), never below what was asked for
            factor = max(w, h) // longest
            assert (out_h, out_w) == (-(-h // factor), -(-w // factor)), (fmt, mode, options)
        if mode in GRAY and fmt in ("PNG", "TIFF", "JPEG", "PPM"):
            assert pixels.shape[-1] == 1, (fmt, mode)


LARGE = [0, 1, 7, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 40_000, 0x7FFFFFFF, 0xFFFFFFFF]


@st.composite
def mutations(draw, size: int):
    """A list of edits to a file of `size` bytes."""
    kinds = st.sampled_from(["flip", "truncate", "splice", "lie", "insert", "delete", "zero"])
    edits = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(kinds)
        # Headers hold the sizes: most edits land in the first 64 bytes.
        pos = draw(st.one_of(st.integers(0, min(63, size - 1)), st.integers(0, size - 1)))
        if kind == "flip":
            edits.append((kind, pos, draw(st.integers(0, 7))))
        elif kind == "truncate":
            edits.append((kind, pos, 0))
        elif kind == "splice":
            edits.append((kind, pos, draw(st.sampled_from(range(len(VARIANTS))))))
        elif kind == "lie":
            edits.append((kind, pos, (draw(st.sampled_from(LARGE)), draw(st.sampled_from([2, 4])),
                                      draw(st.sampled_from(["big", "little"])))))
        elif kind == "insert":
            edits.append((kind, pos, draw(st.binary(min_size=1, max_size=16))))
        elif kind == "delete":
            edits.append((kind, pos, draw(st.integers(1, 16))))
        else:
            edits.append((kind, pos, draw(st.integers(1, 64))))
    return edits


SPLICE_SOURCES: dict[int, bytes] = {}


def splice_source(index: int) -> bytes:
    if index not in SPLICE_SOURCES:
        fmt, mode, options = VARIANTS[index]
        SPLICE_SOURCES[index] = encode(fmt, mode, options, 40, 30, index)
    return SPLICE_SOURCES[index]


def mutate(data: bytes, edits: list) -> bytes:
    out = bytearray(data)
    for kind, pos, arg in edits:
        pos = min(pos, max(0, len(out) - 1))
        if kind == "flip" and out:
            out[pos] ^= 1 << arg
        elif kind == "truncate":
            del out[pos:]
        elif kind == "splice":
            other = splice_source(arg)
            out[pos:] = other[pos % max(1, len(other)) :]
        elif kind == "lie":
            value, width, order = arg
            out[pos : pos + width] = (value & (2 ** (8 * width) - 1)).to_bytes(width, order)
        elif kind == "insert":
            out[pos:pos] = arg
        elif kind == "delete":
            del out[pos : pos + arg]
        else:
            out[pos : pos + arg] = bytes(len(out[pos : pos + arg]))
    return bytes(out)


DIGIT = Preparation("digit", (1, 28, 28))


@FUZZ
@given(data=st.data(), longest=st.sampled_from(LONGEST))
def mutated_files_only_raise_image_error(data, longest):
    if MUTATED_BUDGET.spent():
        return
    with MUTATED_BUDGET:
        fmt, mode, options, w, h, seed = data.draw(valid_files())
        original = encode(fmt, mode, options, w, h, seed)
        damaged = mutate(original, data.draw(mutations(len(original))))
        try:
            assert_sane(bounded(decode, damaged, longest))
        except ImageError:
            pass
        try:  # and the digit preparation the server runs after the decoder
            pixels = bounded(prepare, damaged, DIGIT)
            assert tuple(pixels.shape) == (1, 28, 28) and pixels.dtype == torch.uint8
        except ImageError:
            pass


def peak_rss_mb_since_reset() -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


@pytest.fixture
def peak_memory():
    """Resets the kernel's peak-RSS mark; after the test, checks the peak stayed within PEAK_MB."""
    clear = Path("/proc/self/clear_refs")
    if not clear.exists():
        yield
        return
    rss, _ = peak_rss_mb_since_reset()
    clear.write_text("5")
    yield
    _, peak = peak_rss_mb_since_reset()
    assert peak - rss <= PEAK_MB, f"peak resident memory rose {peak - rss:.0f} MB during the fuzz run"


def test_valid_images_of_every_format_round_trip_to_sane_shapes(peak_memory):
    VALID_BUDGET.start()
    valid_images_round_trip()


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::PIL.Image.DecompressionBombWarning")
def test_mutated_files_only_ever_raise_image_error(peak_memory):
    MUTATED_BUDGET.start()
    mutated_files_only_raise_image_error()


def test_a_corrupt_tiff_or_a_bomb_header_is_one_image_error_and_nothing_on_stderr(tmp_path):
    """libtiff prints its own complaints to stderr, Pillow warns per bad TIFF tag and of a header
    claiming a huge image: beside the CLI's one-line error these would be extra lines. In a fresh
    process (libtiff's handlers are C state), corrupt LZW strips, corrupt tags and a TIFF header of
    13,000 x 13,000 pixels give ImageError and leave stderr empty."""
    import subprocess
    import sys

    noise = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="TIFF", compression="tiff_lzw")
    good = buffer.getvalue()
    for name, span in (("strip", range(20, 400, 13)), ("tags", range(len(good) - 120, len(good) - 20, 7))):
        bad = bytearray(good)
        for i in span:
            bad[i] ^= 0xFF
        (tmp_path / f"{name}.tif").write_bytes(bytes(bad))
    small = io.BytesIO()
    Image.new("L", (10, 10), 255).save(small, format="TIFF")
    bomb = bytearray(small.getvalue())  # its width and height tags (256, 257) say 13,000 each
    ifd = int.from_bytes(bomb[4:8], "little")
    for k in range(int.from_bytes(bomb[ifd : ifd + 2], "little")):
        entry = ifd + 2 + 12 * k
        if int.from_bytes(bomb[entry : entry + 2], "little") in (256, 257):
            bomb[entry + 8 : entry + 12] = (13000).to_bytes(4, "little")
    (tmp_path / "bomb.tif").write_bytes(bytes(bomb))
    script = (
        "import sys; from pathlib import Path\n"
        "from tinyvision.image.decode import ImageError, decode\n"
        "for path in sorted(Path(sys.argv[1]).glob('*.tif')):\n"
        "    try: decode(path.read_bytes()); print(path.stem, 'decoded')\n"
        "    except ImageError as exc: print(path.stem, 'refused', exc.kind)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "strip refused corrupt" in done.stdout and "bomb refused" in done.stdout, done.stdout


def test_a_float_image_of_huge_negative_values_decodes_without_a_warning():
    """A warning is a second line on the CLI's stderr. A float image whose largest value is at most 1 is
    scaled by 255; pixels near float32's lowest then overflow, which is black, not a RuntimeWarning."""
    import warnings

    values = np.full((40, 40), 1.0, np.float32)
    values[10:30, 18:22] = -3e38
    buffer = io.BytesIO()
    Image.fromarray(values, "F").save(buffer, format="TIFF")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = decode(buffer.getvalue())
    assert image.shape == (40, 40, 1) and int(image.max()) == 255 and int(image.min()) == 0


def test_a_tiff_tag_that_cannot_be_written_back_leaves_the_image_as_stored():
    """Found by the mutation fuzz: one flipped bit made a TIFF tag's integer a fraction, and repacking the
    EXIF block to turn the image raised struct.error (a traceback, not an ImageError or an image)."""
    data = bytearray(encode("TIFF", "RGBA", {}, 8, 8, 0))
    data[108] ^= 1
    try:
        assert_sane(decode(bytes(data), 512))
    except ImageError:
        pass


def test_files_pillow_reads_around_leave_stderr_empty(tmp_path):
    """Pillow warns of what it reads around, two lines each beside the CLI's answer: an APNG whose
    animation control says zero frames (it shows the plain PNG) and an icon whose image is not the size
    its directory says. Both decode, in a fresh process (warning filters are process state), silently."""
    import struct
    import subprocess
    import sys
    import zlib

    digit = Image.fromarray((np.indices((40, 40)).sum(0) % 7 * 30).astype(np.uint8))
    png = io.BytesIO()
    digit.save(png, format="PNG")
    data = png.getvalue()
    body = b"acTL" + struct.pack(">II", 0, 0)  # zero frames, zero plays
    chunk = struct.pack(">I", 8) + body + struct.pack(">I", zlib.crc32(body))
    (tmp_path / "apng.png").write_bytes(data[:33] + chunk + data[33:])  # after the signature and IHDR
    ico = io.BytesIO()
    digit.convert("RGBA").resize((16, 16)).save(ico, format="ICO", sizes=[(16, 16)])
    lying = bytearray(ico.getvalue())
    lying[6:8] = bytes([32, 32])  # the directory now says 32x32
    (tmp_path / "icon.ico").write_bytes(bytes(lying))
    script = (
        "import sys; from pathlib import Path\n"
        "from tinyvision.image.decode import decode\n"
        "for path in sorted(Path(sys.argv[1]).iterdir()): print(path.name, decode(path.read_bytes()).shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.count("(") == 2, done.stdout


def test_a_huge_exif_tag_is_never_unpacked_only_the_orientation_is_read():
    """An upload of a few MB whose EXIF block holds one private tag of millions of numbers: repacking the
    block (Pillow's exif_transpose) made each number a Python object, ~1 GB and seconds of work for a 10 MB
    PNG, outside the decoder's pixel budget. Only the orientation is read, and still honoured."""
    import struct
    import tracemalloc

    count = 2_000_000
    entries = [(0x0112, 3, 1, struct.pack(">HH", 6, 0)),  # orientation 6: turn a quarter to show
               (0xFDE8, 3, count, struct.pack(">I", 8 + 2 + 2 * 12 + 4))]  # a private tag: SHORTs after the IFD
    ifd = struct.pack(">H", len(entries)) + b"".join(struct.pack(">HHI", t, k, n) + v for t, k, n, v in entries)
    values = (np.arange(count) % 60000 + 300).astype(">u2").tobytes()  # numbers Python does not cache
    exif = b"MM\x00\x2a" + struct.pack(">I", 8) + ifd + struct.pack(">I", 0) + values
    stored = np.zeros((20, 40), np.uint8)
    stored[:, :10] = 255  # a bright band on the left as stored: on top once turned
    buffer = io.BytesIO()
    Image.fromarray(stored).save(buffer, format="PNG", exif=exif)
    tracemalloc.start()
    try:
        shown = decode(buffer.getvalue())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert shown.shape == (40, 20, 1) and shown[:10].mean() > 200 and shown[30:].mean() < 50
    assert peak < 40 * 2**20, f"{peak / 2**20:.0f} MB traced for a {len(buffer.getvalue()) / 2**20:.1f} MB file"


def test_a_channels_first_array_is_refused_with_how_to_pass_it():
    # numpy holds images (H, W, C); a (C, H, W) array, as torch holds one, was "not an image" and no more.
    with pytest.raises(ImageError, match=r"\(3, 32, 32\) is not an image: .*channels first\? pass "
                                         r"x\.transpose\(1, 2, 0\), or a torch tensor$"):
        decode(np.zeros((3, 32, 32), np.uint8))
    with pytest.raises(ImageError, match=r"\(32, 32, 7\) is not an image: expected \(H, W\) or \(H, W, C\)$"):
        decode(np.zeros((32, 32, 7), np.uint8))
    assert decode(np.zeros((3, 32, 32), np.uint8).transpose(1, 2, 0)).shape == (32, 32, 3)

"""The decoder's memory bound, measured: hostile 40-megapixel uploads cost at most 100 MB each.

Each file is prepared (decoded for a digit model, as the server does) in a
fresh Python process, which resets the kernel's peak-RSS mark just before
(`/proc/self/clear_refs`) and reports how far the peak rose. The files are
made here, in seconds, by writing PNG rows straight into zlib; the full
per-format table is benchmarks/decode_memory.py.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from tinyvision.image.decode import DEFAULT_LIMITS, ImageError, Limits, decode

BOUND_MB = 100
W, H = 7300, 5470  # 39.9 megapixels, just under the 40 MP cap

CHILD = """
import json, sys, time
from pathlib import Path
from tinyvision.image.decode import ImageError
from tinyvision.image.prepare import Preparation, prepare

def kb(field):
    return next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field))

preparation = Preparation("digit", (1, 28, 28))
if len(sys.argv) > 3:  # through a digit model's predict, as the server and `tinyvision predict` read an upload
    import tinyvision
    step = tinyvision.load(sys.argv[3]).predict
else:
    step = lambda data: prepare(data, preparation)
try:
    step(Path(sys.argv[2]).read_bytes())  # warm-up: libraries and plugins loaded
except ImageError:
    pass
results = {}
for path in sorted(Path(sys.argv[1]).glob("*.png")):  # one file after another, each from a reset peak
    data = path.read_bytes()
    before = kb("VmRSS:")
    Path("/proc/self/clear_refs").write_text("5")
    start = time.perf_counter()
    try:
        step(data)
        outcome = "decoded"
    except ImageError as exc:
        outcome = exc.kind
    results[path.stem] = {"outcome": outcome, "seconds": time.perf_counter() - start,
                          "peak_extra_mb": (kb("VmHWM:") - before) * 1024 / 1e6}
    del data
print(json.dumps(results))
"""


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, color_type: int, depth: int = 8, extra: bytes = b"", ink: bool = True) -> bytes:
    """A page of `width` x `height`: paper (0xFF bytes) with a dark bar across its middle third."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    row_bytes = width * channels * depth // 8
    paper = b"\x00" + b"\xff" * row_bytes
    third = row_bytes // 3
    inked = b"\x00" + b"\xff" * third + b"\x10" * third + b"\xff" * (row_bytes - 2 * third)
    packer = zlib.compressobj(1)
    body = b"".join(packer.compress(inked if ink and height // 3 < y < height // 3 + height // 20 else paper)
                    for y in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def palette_with_transparency() -> bytes:
    # Index 0xFF is white and fully transparent; index 0x10 dark and opaque.
    palette = bytes(v for i in range(256) for v in (i, i, i))
    alpha = bytes(0 if i == 0xFF else 255 for i in range(256))
    return chunk(b"PLTE", palette) + chunk(b"tRNS", alpha)


def icon_of(inner: bytes) -> bytes:
    """An icon whose directory says 256x256, holding `inner` (a PNG of any size)."""
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(inner), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + inner


CASES = {
    # name: (file, what the decoder must do)
    "rgba-6300x6300-bomb": (lambda: png(6300, 6300, 6, ink=False), "too_large"),  # 151 MiB decoded: refused
    # Pillow decodes an icon's image while opening it: 144 MB for a 200 KB upload, unless refused first.
    "icon-hiding-rgba-6000x6000": (lambda: icon_of(png(6000, 6000, 6, ink=False)), "too_large"),
    "gray-40mp": (lambda: png(W, H, 0), "decoded"),
    "palette-alpha-40mp": (lambda: png(W, H, 3, extra=palette_with_transparency()), "decoded"),
    "16-bit-gray-32mp": (lambda: png(5700, 5600, 0, depth=16), "decoded"),
}


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def warm_up(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("warm") / "small.png"
    path.write_bytes(small_png())
    return path


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for name, (make, _) in CASES.items():
        (folder / f"{name}.png").write_bytes(make())
    return folder


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc to measure peak RSS")
@pytest.mark.parametrize("through", ["prepare", "predict"])
def test_a_hostile_upload_costs_at_most_100_mb(through, hostile_files, tmp_path, warm_up):
    # Through `prepare` (the decoder) and through a digit model's `predict`, which looks at the file first
    # for a dataset image: a bare Image.open there decoded the icon's image before the decoder could refuse it.
    # One process reads every file in turn, its peak reset before each (a process per file took 2 s each).
    from digit_photos import untrained_digit_checkpoint

    model = [str(untrained_digit_checkpoint(tmp_path / "model.safetensors"))] if through == "predict" else []
    child = subprocess.run([sys.executable, "-c", CHILD, str(hostile_files), str(warm_up), *model],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    results = json.loads(child.stdout)
    assert set(results) == set(CASES)
    for name, (_, expected) in CASES.items():
        result = results[name]
        assert result["outcome"] == expected, (name, result)
        assert result["peak_extra_mb"] <= BOUND_MB, (name, result)
        assert result["seconds"] < 30, (name, result)


def test_what_a_decoder_holds_besides_the_pixels_counts_against_the_budget():
    """A progressive JPEG keeps every coefficient; a one-strip TIFF a strip as large as the image."""
    budget = Limits(budget_bytes=3 * 2**20)  # 1600x1200 8-bit gray fits (1.9 MB); twice that does not

    def encoded(mode: str, fmt: str, **options) -> bytes:
        buffer = io.BytesIO()
        Image.new(mode, (1600, 1200), "white").save(buffer, format=fmt, **options)
        return buffer.getvalue()

    assert decode(encoded("RGB", "JPEG"), 512, budget).shape == (600, 800, 3)  # baseline, drafted to 1/2
    assert decode(encoded("L", "TIFF", compression="tiff_adobe_deflate"), 512, budget).shape == (400, 534, 1)
    for data in (encoded("RGB", "JPEG", progressive=True),
                 encoded("L", "TIFF", compression="tiff_adobe_deflate", strip_size=2**31)):
        with pytest.raises(ImageError, match="MiB") as refused:
            decode(data, 512, budget)
        assert refused.value.kind == "too_large"
        assert max(decode(data, 512, DEFAULT_LIMITS).shape) >= 512  # within the default budget


def test_an_icon_hiding_a_large_png_is_refused_before_it_is_decoded():
    with pytest.raises(ImageError, match="icon holds a 3000x3000 image") as refused:
        decode(icon_of(png(3000, 3000, 6, ink=False)), 512)
    assert refused.value.kind == "too_large"

"""Users' images: MNIST-style preparation, every file format, bad files, `tinyvision predict`."""

import io
import json
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from digit_photos import DIGITS, one_of_each_digit, thinned, untrained_digit_checkpoint, user_photos
from tinyvision.cli import main
from tinyvision.errors import TinyVisionError
from tinyvision.image.decode import ImageError
from tinyvision.image.prepare import Preparation, choose_preparation, prepare

DIGIT = Preparation("digit", (1, 28, 28))
RESIZE = Preparation("resize", (1, 28, 28))


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(np.corrcoef(a.numpy().ravel().astype(np.float64), b.numpy().ravel().astype(np.float64))[0, 1])


def shifted_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Best correlation over shifts of up to one pixel: MNIST itself centres to within half a pixel."""
    return max(correlation(torch.roll(a, (dy, dx), dims=(-2, -1)), b) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def paper_photo(digit: torch.Tensor, size: int = 240, dark_ink: bool = True) -> Image.Image:
    """The digit scaled up 6x, off centre on a larger sheet: dark ink on light paper or the reverse."""
    ink = Image.fromarray(digit[0].numpy()).resize((168, 168), Image.Resampling.BICUBIC)
    sheet = Image.new("L", (size, size), 0)
    sheet.paste(ink, (50, 20))
    return Image.fromarray(255 - np.asarray(sheet) // 2 * 2) if dark_ink else sheet


@pytest.mark.parametrize("style", user_photos().STYLES)
def test_user_style_photo_is_prepared_back_to_its_mnist_original(style):
    rng = np.random.default_rng(3)
    originals = one_of_each_digit()
    for digit, original in enumerate(originals):
        data = user_photos().user_photo(original[0].numpy(), style, rng, max_angle=0)
        prepared = prepare(data, DIGIT)
        assert prepared.shape == (1, 28, 28) and prepared.dtype == torch.uint8
        # Closer to its own original than to any of the other nine digits ...
        scores = [shifted_correlation(prepared, other) for other in originals]
        assert int(np.argmax(scores)) == digit, (style, digit, scores)
        assert scores[digit] > 0.8
        # ... which a plain resize of the photo is not: it is the preparation that matters.
        assert correlation(prepare(data, RESIZE), original) < 0.45


def test_ink_polarity_dark_on_light_and_light_on_dark_give_the_same_input():
    digit = one_of_each_digit()[3]
    dark_on_light = prepare(encode(paper_photo(digit, dark_ink=True), "PNG"), DIGIT)
    light_on_dark = prepare(encode(paper_photo(digit, dark_ink=False), "PNG"), DIGIT)
    assert correlation(dark_on_light, light_on_dark) > 0.97
    assert dark_on_light[0, 0, 0] == 0 and dark_on_light.max() == 255  # white ink on black, as in MNIST
    assert correlation(dark_on_light, digit) > 0.8


def test_exif_orientation_is_honoured():
    digit = one_of_each_digit()[7]
    upright = paper_photo(digit)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": a phone held sideways
    sideways = encode(upright.rotate(90, expand=True), "JPEG", quality=95, exif=exif)
    expected = prepare(encode(upright, "JPEG", quality=95), DIGIT)
    assert correlation(prepare(sideways, DIGIT), expected) > 0.95
    no_exif = prepare(encode(upright.rotate(90, expand=True), "JPEG", quality=95), DIGIT)
    assert correlation(no_exif, expected) < 0.6  # the tag really changed something
    # The size a number's boxes are mapped back to is the size as shown, read while decoding.
    from tinyvision.image.decode import decode_sized, displayed_size
    pixels, shown = decode_sized(sideways, 64)
    assert shown == displayed_size(sideways) == upright.size
    assert pixels.shape[0] / shown[1] == pytest.approx(pixels.shape[1] / shown[0], rel=0.05)


def mode_variants(image: Image.Image) -> dict[str, bytes]:
    """One dark-on-light digit photo in many formats, bit depths and colour modes."""
    gray16 = Image.fromarray(np.asarray(image).astype(np.uint16) * 257)
    rgba = image.convert("RGBA")
    alpha = Image.fromarray(255 - np.asarray(image))  # ink opaque, paper transparent
    ink_on_clear = Image.merge("RGBA", [Image.new("L", image.size, 20)] * 3 + [alpha])
    white_ink_on_clear = Image.merge("RGBA", [Image.new("L", image.size, 255)] * 3 + [alpha])
    return {
        "png-gray": encode(image, "PNG"),
        "png-16bit": encode(gray16, "PNG"),
        "tiff-16bit": encode(gray16, "TIFF"),
        # A big-endian ('MM') writer's 16-bit TIFF (Pillow's "I;16B"), which has no extrema: it was a 500.
        "tiff-16bit-big-endian": encode(Image.frombytes("I;16B", image.size,
                                                        np.asarray(gray16).astype(">u2").tobytes()), "TIFF"),
        "jpeg-rgb": encode(image.convert("RGB"), "JPEG", quality=85),
        "jpeg-cmyk": encode(image.convert("CMYK"), "JPEG", quality=90),
        "png-rgba-opaque": encode(rgba, "PNG"),
        "png-rgba-transparent-paper": encode(ink_on_clear, "PNG"),
        "png-white-ink-on-transparent": encode(white_ink_on_clear, "PNG"),
        "png-la": encode(ink_on_clear.convert("LA"), "PNG"),
        "png-palette": encode(image.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE), "PNG"),
        "gif-first-frame": encode(image.convert("P"), "GIF", save_all=True,
                                  append_images=[Image.new("P", image.size, 0)]),
        "bmp": encode(image, "BMP"),
        "webp": encode(image.convert("RGB"), "WEBP", quality=90),
        "tiff-rgb": encode(image.convert("RGB"), "TIFF"),
        "png-1bit": encode(image.point(lambda v: 255 if v > 128 else 0).convert("1"), "PNG"),
    }


def test_every_format_and_mode_gives_the_same_input():
    digit = one_of_each_digit()[5]
    variants = mode_variants(paper_photo(digit))
    reference = prepare(variants["png-gray"], DIGIT)
    for name, data in variants.items():
        assert correlation(prepare(data, DIGIT), reference) > 0.9, name


def bad_files() -> dict[str, tuple[bytes, str]]:
    good = encode(paper_photo(one_of_each_digit()[1]), "JPEG")
    bomb = encode(Image.new("1", (9000, 9000)), "PNG")  # 81 megapixels in a few kilobytes
    noisy_blank = Image.fromarray(np.random.default_rng(0).normal(200, 6, (200, 300)).clip(0, 255).astype(np.uint8))
    # libjpeg passes over every block once per scan: a few megabytes of tiny scans decoded for minutes. Here
    # 150 empty AC scans (1 component, coefficients 1-63), and a header padded with a megabyte of fill bytes,
    # which Pillow reads one by one.
    progressive = encode(paper_photo(one_of_each_digit()[1]), "JPEG", progressive=True)
    scans = progressive[:-2] + b"\xff\xda\x00\x08\x01\x01\x00\x01\x3f\x00" * 150 + progressive[-2:]
    png = encode(paper_photo(one_of_each_digit()[1]), "PNG")  # and a PNG padded with 30,000 empty chunks
    empty = b"\x00\x00\x00\x00prIv" + zlib.crc32(b"prIv").to_bytes(4, "big")
    chunks = png[:33] + empty * 30_000 + png[33:]  # after the signature and the header chunk
    return {
        "scans.jpg": (scans, "scans"),
        "chunks.png": (chunks, "chunks"),
        "fill.jpg": (good[:2] + b"\xff" * 1_000_000 + good[2:], "fill bytes"),
        "empty.png": (b"", "empty file"),
        "notes.png": (b"shopping list: milk, eggs\n", "not an image"),
        "truncated.jpg": (good[: len(good) // 2], "truncated"),
        "dot.png": (encode(Image.new("L", (1, 1), 0), "PNG"), "1x1"),
        "bomb.png": (bomb, "pixels"),
        "blank.jpg": (encode(noisy_blank, "JPEG"), "no ink"),
    }


def test_each_bad_file_is_refused_with_a_clear_error():
    for name, (data, words) in bad_files().items():
        with pytest.raises(ImageError) as caught:
            prepare(data, DIGIT)
        assert words in str(caught.value), name
        assert "\n" not in str(caught.value)


def test_predict_cli_reports_bad_files_and_still_predicts_the_rest(tmp_path, capsys):
    checkpoint = untrained_digit_checkpoint(tmp_path / "model.safetensors")
    good = []
    for d, original in enumerate(one_of_each_digit()[:3]):
        good.append(tmp_path / f"digit{d}.jpg")
        good[-1].write_bytes(encode(paper_photo(original), "JPEG"))
    bad = []
    for name, (data, _) in bad_files().items():
        bad.append(tmp_path / name)
        bad[-1].write_bytes(data)
    blank = bad.pop([p.name for p in bad].index("blank.jpg"))  # no digit in it: answered so, not an error
    missing = tmp_path / "missing.png"
    files = [good[0], *bad, good[1], missing, blank, good[2]]

    code = main(["predict", str(checkpoint), *map(str, files), "--top-k", "2", "--show-input", str(tmp_path / "seen")])
    out, err = capsys.readouterr()
    assert code == 2
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == [str(p) for p in (good[0], good[1], blank, good[2])]
    assert lines[2] == f"{blank}: - (not a digit)"
    assert all(line.split(": ")[1].split()[0] in DIGITS for line in lines if line != lines[2])
    assert len(err.splitlines()) == len(bad) + 1 and "Traceback" not in err
    for path in [*bad, missing]:
        assert f"tinyvision: error: {path}: " in err
    seen = sorted(p.name for p in (tmp_path / "seen").iterdir())
    assert seen == [f"{files.index(p):03d}-{p.stem}.png" for p in (good[0], good[1], blank, good[2])]
    with Image.open(tmp_path / "seen" / seen[0]) as shown:
        assert shown.size == (28, 28) and shown.mode == "L"

    code = main(["predict", str(checkpoint), str(good[0]), "--json", "--top-k", "10"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result[0]["file"] == str(good[0])
    top = result[0]["top"]
    assert len(top) == 10 and sum(t["probability"] for t in top) == pytest.approx(1, abs=1e-4)
    assert result[0]["prediction"] == top[0]["class"]


def test_colour_models_are_resized_not_digit_prepared():
    prep = choose_preparation("resize", (3, 32, 32))
    assert prep.mode == "resize"
    image = Image.new("RGB", (64, 48), (255, 0, 0))
    image.paste((0, 0, 255), (32, 0, 64, 48))
    pixels = prepare(encode(image, "PNG"), prep)
    assert pixels.shape == (3, 32, 32)
    assert pixels[0, 16, 4] == 255 and pixels[2, 16, 4] == 0 and pixels[2, 16, 28] == 255
    assert choose_preparation("digit", (1, 28, 28)).mode == "digit"
    assert choose_preparation("digit", (1, 28, 28), "resize").mode == "resize"  # the user's choice wins
    with pytest.raises(TinyVisionError):
        choose_preparation("resize", (3, 32, 32), "digit")


def test_an_8x8_scan_of_a_digit_is_read_better_enlarged_first(brief_digit_run, tmp_path, monkeypatch):
    """An 8x8 grid (a low-resolution scan, as UCI's optdigits) is enlarged before its ink is found: at its own
    size a stroke is a pixel or two. A briefly trained model reads MNIST test digits saved at 8x8 better so."""
    import tinyvision
    import tinyvision.image.digits as digits
    from tinyvision.datasets import load_dataset

    run = brief_digit_run
    model = tinyvision.load(run.path)
    data = load_dataset("mnist")
    scans = [encode(Image.fromarray(d[0].numpy()).resize((8, 8), Image.Resampling.BOX), "PNG")
             for d in data.test_images[:300]]
    truth = [str(int(v)) for v in data.test_labels[:300]]

    def read() -> float:
        answers = []
        for scan in scans:
            try:
                answers.append(model.predict(scan).label)
            except ImageError:
                answers.append(None)
        return float(np.mean([a == t for a, t in zip(answers, truth)]))

    enlarged = read()
    stroke = np.eye(8, dtype=np.uint8)[..., None] * 255
    assert digits.ink_map(stroke).shape == (digits.ENLARGE_TO, digits.ENLARGE_TO)
    monkeypatch.setattr(digits, "ENLARGE_BELOW", 0)  # as before: the ink looked for at 8x8
    as_it_is = read()
    assert enlarged >= 0.8
    assert enlarged >= as_it_is + 0.05


FINE_PEN_RULES = ("MIN_PEN", "THIN_PEN", "TAIL_SPLITS")  # image.digits' rules for a fine pen's ink


def fine_pen_photo(digit: np.ndarray, side: int, grain: float, fmt: str, rng: np.random.Generator) -> bytes:
    """An MNIST digit written again with a fine pen, 224 px tall and one pixel wide (its ink's centre lines),
    dark on light paper `side` px square with grain of `grain` levels, centred."""
    line = thinned(np.asarray(Image.fromarray(digit).resize((224, 224), Image.Resampling.BILINEAR)) > 128)
    page = rng.normal(230, grain, (side, side)) if grain else np.full((side, side), 230.0)
    at = (side - 224) // 2
    page[at : at + 224, at : at + 224][line] = 50
    return encode(Image.fromarray(page.clip(0, 255).astype(np.uint8)), fmt)


def test_digits_written_with_a_fine_pen_are_found_joined_widened_and_read(brief_digit_run, monkeypatch):
    """A fine pen's line is a pixel wide. In a large photo, shrunk to the reader's 512 px, it is a faint
    trace under 1% of the pixels: Otsu's threshold split the paper's grain instead, and the page was "no ink"
    (TAIL_SPLITS); found, it broke into pieces where it was faintest (THIN_PEN joins them); fitted into MNIST's
    20x20 box it was a trace under a pixel wide (MIN_PEN widens it). MNIST's own digits are as they were."""
    import tinyvision
    import tinyvision.image.digits as digits
    from tinyvision.datasets import load_dataset

    model = tinyvision.load(brief_digit_run.path)
    data = load_dataset("mnist")
    rng = np.random.default_rng(0)
    images, truth = data.test_images[:30, 0].numpy(), [str(int(v)) for v in data.test_labels[:30]]
    close = [fine_pen_photo(d, 300, 0, "PNG", rng) for d in images]  # the digit fills the photo
    far = [fine_pen_photo(d, 1200, 5, "JPEG", rng) for d in images[:15]]  # a small part of a large photo

    def read(photos: list[bytes]) -> float:
        return float(np.mean([model.predict(photo).label == t for photo, t in zip(photos, truth)]))

    mnist = [np.ascontiguousarray(d[..., None]) for d in data.test_images[:200, 0].numpy()]
    prepared, inked = [digits.prepare_digit(d) for d in mnist], (model.prepare(close[0]) > 64).sum()
    now = read(close), read(far)
    for name in FINE_PEN_RULES:  # as before: none of them
        monkeypatch.setattr(digits, name, None)
    before = read(close), read(far)
    assert now[0] >= 0.8 and now[0] >= before[0] + 0.3, (now, before)
    assert now[1] >= 0.6 and now[1] >= before[1] + 0.5, (now, before)  # (a briefly trained model: 80% here)
    assert inked > 1.5 * (model.prepare(close[0]) > 64).sum()
    assert all(np.array_equal(a, digits.prepare_digit(d)) for a, d in zip(prepared, mnist))


def _broken(digit: np.ndarray, gap: int = 3) -> np.ndarray:
    """The digit with a vertical band of `gap` columns wiped out at its ink's middle: a 0 becomes two arcs, as
    a calligraphic font's 0 does when its hairlines vanish, or a low-resolution scan breaks a stroke."""
    cols = np.flatnonzero(digit.max(0) > 64)
    middle = (cols[0] + cols[-1] + 1) // 2
    out = digit.copy()
    out[:, middle - gap // 2 : middle - gap // 2 + gap] = 0
    return out


def test_a_digit_in_pieces_is_read_whole_and_a_number_still_as_digits(brief_digit_run, tmp_path, monkeypatch):
    """Several marks no wider than one digit are also read whole (read_number.WHOLE_ASPECT): a briefly trained
    model reads MNIST test 0s broken into two arcs as 0 more often so; two digits written apart are still
    read as a number."""
    import tinyvision
    import tinyvision.read_number as read_number
    from tinyvision.datasets import load_dataset

    run = brief_digit_run
    model = tinyvision.load(run.path)
    data = load_dataset("mnist")
    images, labels = data.test_images[:, 0].numpy(), data.test_labels.numpy()
    zeros = [images[i] for i in np.flatnonzero(labels == 0)[:80]]
    broken = [encode(paper_photo(torch.from_numpy(_broken(z))[None]), "PNG") for z in zeros]
    pairs = [(i, j) for i, j in zip(range(0, 80, 2), range(1, 80, 2))]
    numbers = [encode(Image.fromarray(255 - np.concatenate([images[i], np.zeros((28, 8), np.uint8), images[j]], 1))
                      .resize((256, 112), Image.Resampling.BICUBIC), "PNG") for i, j in pairs]
    truth = [f"{labels[i]}{labels[j]}" for i, j in pairs]

    def read() -> tuple[float, list]:
        zeros_read = float(np.mean([model.predict(b).label == "0" for b in broken]))
        return zeros_read, [model.predict(n).label for n in numbers]

    assert read_number.WHOLE_ASPECT is not None  # on by default
    whole, numbers_whole = read()
    monkeypatch.setattr(read_number, "WHOLE_ASPECT", None)  # as before: only the pieces are read
    pieces, numbers_pieces = read()
    assert whole >= pieces + 0.1, (whole, pieces)
    assert numbers_whole == numbers_pieces  # a number is wider than one digit: never read whole
    assert np.mean([a == t for a, t in zip(numbers_whole, truth)]) >= 0.8


def test_a_one_standing_beside_a_round_digit_is_not_swallowed_by_the_whole_reading(brief_digit_run, monkeypatch):
    """A 9 and a 1 standing apart, narrower together than 0.8 x their height, were read whole, squeezed into
    one box: a sure 9, and the 1 was gone ("91" drawn large on the page was answered "9"). The whole reading
    now wins over an answered reading in pieces only when it is also more likely right."""
    import tinyvision
    import tinyvision.read_number as read_number
    from tinyvision.datasets import load_dataset

    model = tinyvision.load(brief_digit_run.path)
    data = load_dataset("mnist")
    images, labels = data.test_images[:, 0].numpy(), data.test_labels.numpy()
    ones = [images[i] for i in np.flatnonzero(labels == 1)[:40]]
    photos, truth = [], []
    for k, i in enumerate(np.flatnonzero(np.isin(labels, (0, 4, 8, 9)))[:120]):
        first, one = images[i], ones[k % len(ones)]
        cols = lambda d: np.flatnonzero(d.max(0) > 40)  # noqa: E731  the columns a digit's ink spans
        a, b = first[:, cols(first)[0]: cols(first)[-1] + 1], one[:, cols(one)[0]: cols(one)[-1] + 1]
        # Written narrow, as many people write: a round digit 9 px wide and an upright 1 at most 4, of 20 high.
        a = np.asarray(Image.fromarray(a).resize((9, 28), Image.Resampling.BILINEAR))
        b = np.asarray(Image.fromarray(b).resize((min(4, b.shape[1]), 28), Image.Resampling.BILINEAR))
        pair = np.concatenate([a, np.zeros((28, 2), np.uint8), b], 1)
        rows = np.flatnonzero(pair.max(1) > 40)
        if pair.shape[1] > 0.8 * (rows[-1] - rows[0] + 1):
            continue  # wide enough to be a number anyway: not what this is about
        canvas = np.pad(pair, ((4, 4), (8, 8)))
        photos.append(encode(Image.fromarray(255 - canvas).resize((canvas.shape[1] * 6, 216),
                                                                 Image.Resampling.BICUBIC), "PNG"))
        truth.append(f"{labels[i]}1")
    assert len(photos) >= 30

    def read() -> tuple[float, float]:
        said = [model.predict(p).label for p in photos]
        return (float(np.mean([a == t for a, t in zip(said, truth)])),
                float(np.mean([a is not None and len(a) == 1 for a in said])))

    assert read_number.WHOLE_LIKELIER  # on by default
    (likelier, one_digit) = read()
    monkeypatch.setattr(read_number, "WHOLE_LIKELIER", False)  # as before: the whole wins at 0.99
    (before, one_digit_before) = read()
    # Seen when this test was written, with this briefly trained model: read 78% -> 82%, one digit 17% -> 13%.
    assert likelier > before and one_digit < one_digit_before, (likelier, before, one_digit, one_digit_before)


WORDS = ("hello", "world", "email", "house", "wheel", "market", "summer", "winter", "orange", "yellow", "monkey",
         "rabbit", "kitchen", "whisper", "chamber")


def _word_photo(word: str) -> bytes:
    """A word typed large in Pillow's own scalable font (no system font needed), dark on white."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=64)
    left, top, right, bottom = font.getbbox(word)
    image = Image.new("L", (right - left + 80, bottom - top + 80), 255)
    ImageDraw.Draw(image).text((40 - left, 40 - top), word, font=font, fill=0, stroke_width=2, stroke_fill=0)
    return encode(image, "PNG")


def _touching_then_apart(a: np.ndarray, b: np.ndarray, c: np.ndarray | None, overlap: int = 2) -> bytes:
    """Three MNIST digits (28 rows each) as a number: the first two overlapping by `overlap` columns (their
    strokes meet, so the reader must cut them apart), the third written apart (None: the touching pair alone)."""
    def ink(d: np.ndarray) -> np.ndarray:
        cols = np.flatnonzero(d.max(0) > 60)
        return d[:, cols[0] : cols[-1] + 1]

    first, second = ink(a), ink(b)
    pair = np.zeros((28, first.shape[1] + second.shape[1] - overlap), np.uint8)
    pair[:, : first.shape[1]] = first
    np.maximum(pair[:, first.shape[1] - overlap :], second, out=pair[:, first.shape[1] - overlap :])
    gap, margin = np.zeros((28, 8), np.uint8), np.zeros((28, 10), np.uint8)
    line = np.concatenate([margin, pair, margin] if c is None else [margin, pair, gap, c, margin], 1)
    return encode(Image.fromarray(255 - line).resize((line.shape[1] * 4, 112), Image.Resampling.BICUBIC), "PNG")


def _leaning_one_number(a: np.ndarray, one: np.ndarray, c: np.ndarray) -> bytes:
    """Three MNIST digits as a number: a 1 leaning right (sheared 0.35 columns per row) written against the
    first digit, overlapping it by 3 columns, then the third apart."""
    wide = np.zeros((28, 48), np.uint8)
    wide[:, 10:38] = one
    shear = (1, 0.35, -0.35 * 14, 0, 1, 0)  # the top to the right, the foot to the left
    leaning = np.asarray(Image.fromarray(wide).transform((48, 28), Image.Transform.AFFINE, shear,
                                                         Image.Resampling.BILINEAR))
    return _touching_then_apart(a, leaning, c, overlap=3)


def _drawn_117(shift: int, pen: int, lean: float) -> bytes:
    """"117" drawn, both 1s leaning right (`lean` columns per row, the second a little more), the second's
    foot `shift` px from touching the first's."""
    from PIL import ImageDraw

    image = Image.new("L", (200, 140), 255)
    draw = ImageDraw.Draw(image)
    for stroke in ([(46 + 80 * lean, 30), (46, 110)], [(55 + shift + 104 * lean, 30), (55 + shift, 110)],
                   [(125, 32), (175, 32), (140, 110)]):
        draw.line(stroke, fill=0, width=pen)
    return encode(image, "PNG")


def test_a_leaning_one_against_its_neighbour_is_read_by_the_second_opinion(brief_digit_run, tmp_path, monkeypatch):
    """A 1 leaning against the digit before it lies along it, where no upright seam gets between them: the
    pair is read as one digit. read_number's second opinion cuts a doubtful answer again along slants too,
    and answers the reading more likely right as a whole. A briefly trained model reads more numbers with a
    leaning 1 with it (MNIST digits, and "117" drawn with pens of three widths), and it never answers an
    image the first reading refused."""
    import tinyvision
    import tinyvision.read_number as read_number
    from tinyvision.datasets import load_dataset

    run = brief_digit_run
    model = tinyvision.load(run.path)
    data = load_dataset("mnist")
    images, labels = data.test_images[:, 0].numpy(), data.test_labels.numpy()
    ones, others = np.flatnonzero(labels == 1), np.flatnonzero(labels != 1)
    numbers = [_leaning_one_number(images[others[2 * k]], images[ones[k]], images[others[2 * k + 1]])
               for k in range(80)]
    truth = [f"{labels[others[2 * k]]}1{labels[others[2 * k + 1]]}" for k in range(80)]
    numbers += [_drawn_117(shift, pen, lean) for shift in (-2, 0, 2) for pen in (8, 10, 12)
                for lean in (0.25, 0.3, 0.35)]
    truth += ["117"] * 27

    assert read_number.SLANT_MAX is not None  # on by default
    # The second opinion alone: the pair reader (PAIR_BAR) reads many of these pairs whole, with or without it.
    monkeypatch.setattr(read_number, "PAIR_BAR", None)
    read = [model.predict(n).label for n in numbers]
    monkeypatch.setattr(read_number, "SLANT_MAX", None)
    read_before = [model.predict(n).label for n in numbers]
    gained = sum(a == t != b for a, b, t in zip(read, read_before, truth))
    lost = sum(b == t != a for a, b, t in zip(read, read_before, truth))
    # Seen when this test was written: 8 gained, none lost (1 torch thread); 6 gained, none lost (2 threads).
    assert gained >= 3 and gained >= 3 * lost, (gained, lost)
    # Only answers are read again (SLANT_RESCUE is None): a refusal stays a refusal.
    assert all(a is None for a, b in zip(read, read_before) if b is None)


def test_the_second_opinion_scores_no_candidate_digit_twice(tmp_path, monkeypatch):
    """Cut again along slants, a number meets mostly the candidate digits of its first reading, pixel for
    pixel: the model scores each distinct one once per image, and the answers are the same as when every
    request was scored afresh."""
    import tinyvision
    import tinyvision.read_number as read_number

    model = tinyvision.load(untrained_digit_checkpoint(tmp_path / "model.safetensors"))
    numbers = [_drawn_117(shift, 10, lean) for shift in (-2, 2) for lean in (0.25, 0.35)]
    asked: list[bytes] = []
    scored: list[bytes] = []
    score, read = read_number.Scorer.__call__, read_number.Scorer._read
    logits, log_probs = model.logits, model.log_probs
    scoring = [False]  # inside the scorer: its calls of the model are what is counted

    def ask(self, images):
        asked.extend(bytes(x.numpy().tobytes()) for x in read_number.to_uint8(images))
        return score(self, images)

    def scorer_reads(self, images):
        scoring[0] = True
        try:
            return read(self, images)
        finally:
            scoring[0] = False

    def count(inputs):
        if scoring[0]:
            scored.extend(bytes(x.numpy().tobytes()) for x in inputs)
        return logits(inputs)

    monkeypatch.setattr(read_number.Scorer, "__call__", ask)
    monkeypatch.setattr(read_number.Scorer, "_read", scorer_reads)
    monkeypatch.setattr(model, "logits", count)
    for number in numbers:
        asked.clear()
        scored.clear()
        first = model.predict(number)
        assert len(asked) > len(set(asked))  # the second opinion asked again for digits already scored
        assert sorted(scored) == sorted(set(asked))  # ... and each was scored once
        monkeypatch.setattr(read_number.Scorer, "__call__", lambda self, images: log_probs(
            read_number.to_uint8(images)).exp().max(1).values.tolist())
        again = model.predict(number)
        monkeypatch.setattr(read_number.Scorer, "__call__", ask)
        assert (again.label, again.digits) == (first.label, first.digits)


def _askew(digits: list[np.ndarray], angle: float) -> tuple[bytes, list[tuple[float, float]]]:
    """MNIST digits written apart on a line, dark on white paper, the photo turned by `angle` degrees (a camera
    held askew; counter-clockwise for a positive angle); the PNG and each digit's centre (x, y) in it."""
    blank = np.zeros((28, 6), np.uint8)
    line = np.concatenate([blank, *[np.concatenate([d[:, 3:25], blank], 1) for d in digits], blank], 1)
    image = Image.fromarray(255 - line).resize((line.shape[1] * 4, 112), Image.Resampling.BICUBIC)
    turned = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    a = np.radians(angle)
    centres = []
    for k in range(len(digits)):
        x, y = 4 * (6 + 28 * k + 11) - image.width / 2, 56 - image.height / 2
        centres.append((np.cos(a) * x + np.sin(a) * y + turned.width / 2,
                        -np.sin(a) * x + np.cos(a) * y + turned.height / 2))
    return encode(turned, "PNG"), centres


def _three_digit_numbers(count: int = 30) -> tuple[list[list[np.ndarray]], list[str]]:
    """`count` numbers of three MNIST test digits each (uint8 28x28) and the numbers they write."""
    from tinyvision.datasets import load_dataset

    data = load_dataset("mnist")
    images, labels = data.test_images[: 3 * count, 0].numpy(), data.test_labels[: 3 * count].numpy()
    return ([list(images[k : k + 3]) for k in range(0, 3 * count, 3)],
            ["".join(str(int(v)) for v in labels[k : k + 3]) for k in range(0, 3 * count, 3)])


def _with_and_without(monkeypatch, run, rule: str, photo: Callable, amounts: tuple[float, float]) -> tuple:
    """30 three-digit numbers of MNIST test digits, each drawn by `photo(digits, amount)` ((PNG, each digit's
    centre)) with the `amounts` in turn, and the first 10 again with amount 0: the truth, those photos, and the
    answers to both (the warped, then the plain) as the reader ships, then with read_number's `rule` set to
    None (that second reading off)."""
    import tinyvision
    import tinyvision.read_number as read_number

    model = tinyvision.load(run.path)
    numbers, truth = _three_digit_numbers()
    photos = [photo(n, amounts[k % 2]) for k, n in enumerate(numbers)]
    plain = [photo(n, 0.0)[0] for n in numbers[:10]]

    def read(files: list[bytes]) -> list:
        return [model.predict(file) for file in files]

    now, now_plain = read([p for p, _ in photos]), read(plain)
    monkeypatch.setattr(read_number, rule, None)
    return truth, photos, now, now_plain, read([p for p, _ in photos]), read(plain)


def _right(answers: list, truth: list[str]) -> float:
    return float(np.mean([a.label == t for a, t in zip(answers, truth)]))


def _boxes_around_digits(answers: list, truth: list[str], photos: list) -> None:
    """Each right answer's digit boxes lie around that digit's centre in the photo as it was given."""
    for answer, t, (_, centres) in zip(answers, truth, photos):
        if answer.label != t:
            continue
        for digit, (x, y) in zip(answer.digits, centres):
            left, top, width, height = digit["box"]
            assert left <= x <= left + width and top <= y <= top + height, (digit, x, y)


def test_a_number_photographed_askew_is_turned_level_and_read(brief_digit_run, monkeypatch):
    """A camera held askew turns the line of digits and every digit on it: a briefly trained model read few
    numbers turned by 25 degrees. The reader measures the line's tilt from its marks' centres and reads the
    ink turned level as a second opinion (read_number.TILT_MIN); each digit's box is still around that digit
    in the photo as it was taken, and numbers photographed level are read as they were."""
    truth, turned, now, now_level, before, before_level = _with_and_without(
        monkeypatch, brief_digit_run, "TILT_MIN", _askew, (-25.0, 25.0))
    assert _right(now, truth) >= 0.6 and _right(now, truth) >= _right(before, truth) + 0.3, (
        _right(now, truth), _right(before, truth))
    assert [a.label for a in now_level] == [a.label for a in before_level]
    _boxes_around_digits(now, truth, turned)


def _italic(digits: list[np.ndarray], lean: float) -> tuple[bytes, list[tuple[float, float]]]:
    """MNIST digits written apart on a level line, dark on white paper, each leaning `lean` columns per row further
    (the top moving right for a positive lean: italic writing); the PNG and each digit's centre (x, y) in it."""
    blank = np.zeros((28, 6), np.uint8)
    line = np.concatenate([blank, *[np.concatenate([d[:, 3:25], blank], 1) for d in digits], blank], 1)
    image = Image.fromarray(255 - line).resize((line.shape[1] * 4, 112), Image.Resampling.BICUBIC)
    pad = abs(lean) * 112 / 2
    # A point (x, y) moves to (x + lean (56 - y) + pad, y): PIL asks where each new point comes from.
    sheared = image.transform((round(image.width + 2 * pad), 112), Image.Transform.AFFINE,
                              (1, lean, -pad - lean * 56, 0, 1, 0), resample=Image.Resampling.BICUBIC, fillcolor=255)
    return encode(sheared, "PNG"), [(4 * (6 + 28 * k + 11) + pad, 56.0) for k in range(len(digits))]


def test_a_number_in_italic_writing_is_stood_upright_and_read(brief_digit_run, monkeypatch):
    """Italic writing leans every digit on a level line: a briefly trained model read 57-60% of numbers whose
    digits lean 30-35 degrees (two such models; 87% with this). The reader measures the lean from the ink's
    moments and reads the ink sheared upright as a second opinion (read_number.LEAN_MIN); each digit's box is
    still around that digit in the photo, and numbers written upright are read no worse."""
    truth, leaning, now, now_upright, before, before_upright = _with_and_without(
        monkeypatch, brief_digit_run, "LEAN_MIN", _italic, (-0.6, 0.7))
    assert _right(now, truth) >= 0.6 and _right(now, truth) >= _right(before, truth) + 0.15, (
        _right(now, truth), _right(before, truth))
    # Upright numbers lean as MNIST's writers' do, give or take: one whose digits happen to lean far is read
    # again too, and answered so only when likelier.
    assert _right(now_upright, truth) >= _right(before_upright, truth), [a.label for a in now_upright]
    _boxes_around_digits(now, truth, leaning)


def test_a_word_is_not_a_number_and_touching_digits_still_are(brief_digit_run, tmp_path, monkeypatch):
    """A photo of a word is several marks, its letters cut into digit-like pieces (h -> 17, e -> 13, o -> 0):
    read_number.SEVERAL_CUT_BAR refuses such a reading unless it is sure as a whole. A briefly trained model
    refuses words far more often with it, at a much smaller price in numbers with touching digits, and it
    never turns one number into another."""
    import tinyvision
    import tinyvision.read_number as read_number
    from tinyvision.datasets import load_dataset

    run = brief_digit_run
    model = tinyvision.load(run.path)
    words = [_word_photo(w) for w in WORDS] + [_word_photo(w.capitalize()) for w in WORDS]
    data = load_dataset("mnist")
    images, labels = data.test_images[:, 0].numpy(), data.test_labels.numpy()
    numbers = [_touching_then_apart(images[k], images[k + 1], images[k + 2]) for k in range(0, 120, 3)]
    truth = [f"{labels[k]}{labels[k + 1]}{labels[k + 2]}" for k in range(0, 120, 3)]

    def read() -> tuple[float, list]:
        refused = float(np.mean([model.predict(w).label is None for w in words]))
        return refused, [model.predict(n).label for n in numbers]

    assert read_number.SEVERAL_CUT_BAR is not None  # on by default
    words_refused, numbers_read = read()
    monkeypatch.setattr(read_number, "SEVERAL_CUT_BAR", None)
    words_refused_before, numbers_read_before = read()
    assert words_refused >= words_refused_before + 0.2, (words_refused, words_refused_before)
    right = np.mean([a == t for a, t in zip(numbers_read, truth)])
    right_before = np.mean([a == t for a, t in zip(numbers_read_before, truth)])
    # Seen when this test was written: words refused 43% -> 93%, these numbers read 72% -> 62%.
    assert words_refused - words_refused_before >= 3 * (right_before - right), (words_refused, right, right_before)
    assert right >= 0.5, right
    # The rule withholds answers; it gives no more wrong ones. (Not "it never changes one number into another":
    # a first reading refused by it may be answered by a later one, right, as a brief model's "349" once was,
    # where it read "849" without the rule.)
    def wrong(answers: list) -> int:
        return sum(a is not None and a != t for a, t in zip(answers, truth))

    assert wrong(numbers_read) <= wrong(numbers_read_before), (numbers_read, numbers_read_before, truth)


def test_a_folder_is_predicted_image_by_image_from_the_cli_and_from_python(tmp_path, capsys):
    # `predict RUN photos/` said "not a file"; a user with a folder of photos (as Ultralytics takes one)
    # had to list them. A folder now stands for its images, below it too, as a folder dataset lists them.
    import tinyvision

    checkpoint = untrained_digit_checkpoint(tmp_path / "model.safetensors")
    photos = tmp_path / "photos"
    (photos / "more").mkdir(parents=True)
    digits = one_of_each_digit()
    for name, digit in (("b.png", digits[3]), ("a.JPG", digits[5]), ("more/c.png", digits[7])):
        Image.fromarray(digit[0].numpy()).convert("RGB").save(photos / name)
    (photos / "notes.txt").write_text("not an image")
    (photos / ".hidden.png").write_bytes(b"")
    assert main(["predict", str(checkpoint), str(photos), "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)
    assert [a["file"] for a in answers] == [str(photos / n) for n in ("a.JPG", "b.png", "more/c.png")]
    predictions = tinyvision.load(checkpoint).predict(photos)
    assert [p.label for p in predictions] == [a["prediction"] for a in answers]
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(checkpoint), str(tmp_path / "empty"), str(photos / "b.png")]) == 2
    out, err = capsys.readouterr()
    assert "b.png" in out and err.count("\n") == 1 and "no images" in err


def test_a_damaged_file_in_a_folder_is_answered_as_unreadable_and_the_others_still_are(tmp_path):
    # Model.predict(folder) raised on the first file it could not read, and the others' answers were lost;
    # the CLI reports such a file on its own line and goes on. Each answer says which file it is.
    import tinyvision

    model = tinyvision.load(untrained_digit_checkpoint(tmp_path / "model.safetensors"))
    photos = tmp_path / "photos"
    photos.mkdir()
    digits = one_of_each_digit()
    Image.fromarray(digits[3][0].numpy()).save(photos / "a.png")
    (photos / "b.png").write_text("a text file named .png")
    Image.fromarray(digits[5][0].numpy()).save(photos / "c.png")
    answers = model.predict(photos)
    assert [Path(a.path).name for a in answers] == ["a.png", "b.png", "c.png"]
    assert answers[1].label is None and answers[1].reason.startswith("unreadable: ")
    assert [a.label for a in answers[::2]] == [model.predict(photos / n).label for n in ("a.png", "c.png")]
    assert model.predict(str(photos / "a.png")).path == str(photos / "a.png")
    with pytest.raises(ImageError):  # a file named on its own is still an error, as before
        model.predict(photos / "b.png")


def _signed_photo(digits: list[np.ndarray], minus: bool, point_after: int | None, comma: bool = False) -> bytes:
    """MNIST digits side by side (28 px each, 8 px apart) with a minus drawn before them and a point (or a
    `comma`) after digit `point_after`, as dark ink on white, enlarged 4x."""
    from PIL import ImageDraw

    strip = np.concatenate([np.pad(d, ((0, 0), (4, 4))) for d in digits], 1)
    canvas = Image.fromarray(np.pad(strip, ((0, 0), (24, 8))))
    pen = ImageDraw.Draw(canvas)
    if minus:
        pen.line([(8, 14), (20, 14)], fill=255, width=3)
    if point_after is not None:
        x = 24 + 36 * point_after
        pen.ellipse([x - 2, 19, x + 2, 23], fill=255)
        if comma:  # its tail, down and to the left, below the digits' line
            pen.line([(x + 1, 21), (x - 1, 27)], fill=255, width=2)
    return encode(Image.fromarray(255 - np.asarray(canvas)).resize((canvas.width * 4, 112),
                                                                      Image.Resampling.BICUBIC), "PNG")


def test_a_minus_and_a_decimal_point_are_read_with_the_digits(brief_digit_run, tmp_path, monkeypatch, capsys):
    """'-3.14' was read '314': the minus and the point are read (image.signs), wherever the digits are; and
    with one kind of sign off, the others are still read."""
    import tinyvision
    import tinyvision.image.signs as signs
    from tinyvision.datasets import load_dataset

    run = brief_digit_run
    model = tinyvision.load(run.path)
    data = load_dataset("mnist")
    images, labels = data.test_images[:, 0].numpy(), data.test_labels.numpy()
    photos, truth = [], []
    for n, k in enumerate(range(0, 90, 3)):
        minus, point = n % 3 != 1, (1 if n % 3 else None)  # "-123", "1.23", "-1.23", ...
        photos.append(_signed_photo([images[k], images[k + 1], images[k + 2]], minus, point))
        written = "".join(str(labels[k + i]) for i in range(3))
        truth.append(("-" if minus else "") + (written[:1] + "." + written[1:] if point else written))
    answers = [model.predict(p) for p in photos]
    for a, t in zip(answers, truth):  # the signs are where they were drawn, round whatever digits were read
        if a.label is not None:
            shape = ("-" if t.startswith("-") else "") + "d" + ("." if "." in t else "") + "dd"
            assert "".join("d" if c.isdigit() else c for c in a.label) == shape, (a.label, t)
    assert np.mean([a.label == t for a, t in zip(answers, truth)]) >= 0.7
    for name in ("POINT_SIZE", "MINUS_WIDTH", "COMMA_BELOW"):  # as before: no sign looked for
        monkeypatch.setattr(signs, name, None)
    assert not any(model.predict(p).label == t for p, t in zip(photos, truth))
    monkeypatch.undo()
    monkeypatch.setattr(signs, "POINT_SIZE", None)  # points off: minus signs still read, nothing breaks
    assert [model.predict(p).label for p in photos[:6:3]] == [a.label for a in answers[:6:3]]  # "-123"s
    monkeypatch.undo()
    (tmp_path / "minus.png").write_bytes(photos[0])
    assert main(["predict", str(run.path), str(tmp_path / "minus.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["prediction"] == answers[0].label
    # A decimal comma ("3,14": two digits after it, so no thousands comma) is read as a point; it was 314.
    commas = [_signed_photo([images[k], images[k + 1], images[k + 2]], False, 1, comma=True) for k in range(0, 30, 3)]
    shapes = ["".join("d" if c.isdigit() else c for c in model.predict(p).label or "-") for p in commas]
    assert shapes.count("d.dd") >= 7, shapes


def test_what_holds_no_image_is_refused_in_one_line_and_odd_pixel_types_are_read(tmp_path, monkeypatch, capsys):
    # Each of these raised from deep inside numpy, torch or Pillow (or, for "", read the current folder).
    import tinyvision

    model = tinyvision.load(untrained_digit_checkpoint(tmp_path / "model.safetensors"))
    closed = io.BytesIO(encode(paper_photo(one_of_each_digit()[1]), "PNG"))
    closed.close()
    digit = one_of_each_digit()[7][0]  # uint8 (28, 28)
    refused = {
        "an empty path": "",
        "a 0x0 picture": Image.new("L", (0, 0)),
        "a closed file": closed,
        "strings": np.full((28, 28), "x"),
        "dates": np.zeros((28, 28), "datetime64[s]"),
        "objects that are not numbers": np.full((28, 28), None, dtype=object),
        "uint8 wrapped into int8": digit.numpy().astype(np.int8),
        "a sparse tensor": digit.float().to_sparse(),
        "a batch of objects": np.full((3, 28, 28), None, dtype=object),
        # A digit's size on the meta device (no data): torch's NotImplementedError, "Cannot copy out of meta tensor".
        "a meta tensor": torch.zeros(28, 28, device="meta"),
        "a meta tensor in colour planes": torch.zeros(3, 28, 28, device="meta"),
    }
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seven.png").write_bytes(encode(Image.fromarray(255 - digit.numpy()), "PNG"))  # "" read it
    for name, source in refused.items():
        with pytest.raises(TinyVisionError) as caught:
            model.predict(source)
        assert "\n" not in str(caught.value), name
    with pytest.raises(TinyVisionError):
        model.predict(digit).top(-1)  # a slice's -1 dropped the last class
    assert main(["predict", str(tmp_path / "model.safetensors"), ""]) == 2
    assert "empty path" in capsys.readouterr().err
    # Read as the same picture: bfloat16 (numpy has none), and numpy for logits().
    assert model.predict(digit.bfloat16() / 255).probabilities == pytest.approx(
        model.predict(digit.float() / 255).probabilities, abs=0.02)
    batch = digit[None, None].numpy()
    assert torch.equal(model.logits(batch), model.logits(torch.from_numpy(batch)))


def test_model_of_a_path_loads_it_as_ultralytics_users_write_it(tmp_path):
    # `tinyvision.Model("runs/x")`, as `YOLO("best.pt")` is written, raised Python's own TypeError (a missing
    # argument); it now loads the model as `tinyvision.load` does, and anything else is refused in one line.
    import tinyvision

    checkpoint = untrained_digit_checkpoint(tmp_path / "model.safetensors")
    photo = encode(Image.fromarray(one_of_each_digit()[7][0].numpy()), "PNG")
    expected = tinyvision.load(checkpoint).predict(photo)
    for path in (checkpoint, str(checkpoint)):
        model = tinyvision.Model(path)
        assert model.source == tinyvision.load(path).source
        assert model.predict(photo).label == expected.label
        assert model.predict(photo).probability == pytest.approx(expected.probability)
    for bad in (5, None):
        with pytest.raises(TinyVisionError, match=r"Model\(\) takes a run folder"):
            tinyvision.Model(bad)
    with pytest.raises(TinyVisionError):
        tinyvision.Model(tmp_path / "no-such-run")
    with pytest.raises(TinyVisionError, match="the path alone"):
        tinyvision.Model(checkpoint, tmp_path)
    # Their neighbours raised TypeErrors too: a Run of no path, an export to no file, an export format list.
    for bad in (None, 5, ""):
        with pytest.raises(TinyVisionError, match=r"Run\(\) takes a run folder"):
            tinyvision.Run(bad)
    with pytest.raises(TinyVisionError, match="a file path"):
        model.export("onnx", 5)
    with pytest.raises(TinyVisionError, match="unknown export format"):
        model.export(["onnx"])


def test_an_unreadable_file_given_to_predict_is_named_in_its_error(tmp_path):
    # `predict("digit.png")` said "no such file" alone: in a list of paths, nothing told which one failed.
    import tinyvision

    model = tinyvision.load(untrained_digit_checkpoint(tmp_path / "model.safetensors"))
    good = tmp_path / "seven.png"
    Image.fromarray(one_of_each_digit()[7][0].numpy()).save(good)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(TinyVisionError, match=r"missing\.png: no such file$"):
        model.predict([good, tmp_path / "missing.png"])
    with pytest.raises(tinyvision.ImageError, match=r"broken\.png: ") as caught:
        model.predict(str(tmp_path / "broken.png"))
    assert caught.value.kind == "corrupt"  # still the decoder's kind, for the server's status codes


def test_one_mnist_digit_as_keras_or_torchvision_holds_it_is_read_as_evaluation_reads_it(brief_digit_run, mnist):
    # Keras's x_test[0] (uint8 (28, 28)) and torchvision's ToTensor() digit (float (1, 28, 28)) went through the
    # number reader, which prepared the digit a second time: 6 of 1,500 answers differed from the batch
    # x_test[:1] and from what evaluation counted. A user's own 28x28 drawing is still prepared.
    import tinyvision

    model = tinyvision.load(brief_digit_run.path)
    digits = np.round(mnist[0][:100] * 255).astype(np.uint8)
    batch = model.predict(digits)
    for digit, expected in zip(digits, batch):
        # (uint8 (1, 28, 28) is also how torchvision's read_image gives a gray file)
        for one in (digit, torch.from_numpy(digit / 255.0).float()[None], torch.from_numpy(digit)[None]):
            answer = model.predict(one)
            assert answer.label == expected.label and torch.equal(answer.input, torch.from_numpy(digit)[None])
    # Saved as a PNG: `prepare` gives the input `predict` takes (it prepared the digit a second time).
    for digit in digits[:50]:
        saved = encode(Image.fromarray(digit), "PNG")
        assert torch.equal(model.prepare(saved), torch.from_numpy(digit)[None])
        assert torch.equal(model.prepare(saved), model.predict(saved).input)
    # Dark on light, or off-centre by 4 px: no dataset image, so prepared as any image is, and read as well.
    inverted = 255 - digits
    moved = np.zeros_like(digits)
    moved[:, :, 4:] = digits[:, :, :-4]
    # Two digits drawn small side by side in a 28x28 canvas, light on dark and centred: a number, not a
    # dataset's digit (it passed for one, and "41" was read "4").
    pairs = np.zeros((50, 28, 28), np.uint8)
    for k in range(50):
        for side, digit in enumerate(digits[2 * k : 2 * k + 2]):
            pairs[k, 6:22, 2 + 12 * side : 14 + 12 * side] = np.asarray(
                Image.fromarray(digit[4:24, 4:24]).resize((12, 16), Image.Resampling.BILINEAR))
    assert not any(model.is_prepared(p) for p in pairs)
    assert np.mean([len(model.predict(p).digits) == 2 for p in pairs]) > 0.8
    for drawn in (inverted, moved):
        answers = [model.predict(d) for d in drawn]
        assert not any(model.is_prepared(d) for d in drawn)
        right = np.mean([a.label == str(label) for a, label in zip(answers, mnist[1][:100])])
        assert right >= np.mean([a.label == str(label) for a, label in zip(batch, mnist[1][:100])]) - 0.05
        # The same drawing as a uint8 (1, 28, 28) tensor is no dataset image either: the answer is the
        # pixels', not the dtype's (used as it was, dark on light was read right 25 times in 300).
        for d, answer in zip(drawn[:60], answers):
            as_tensor = model.predict(torch.from_numpy(d)[None])
            assert (as_tensor.label, as_tensor.reason) == (answer.label, answer.reason)
            assert torch.equal(as_tensor.input, answer.input)
        # Saved as RGB or RGBA and read by torchvision's read_image ((3 or 4, 28, 28), the planes alike): one
        # image, not three or four digits (three or four answers, none right).
        for d, answer in zip(drawn[:20], answers):
            gray = torch.from_numpy(d)
            opaque = torch.full_like(gray, 255)
            rgb, rgba, gray_alpha = gray.expand(3, 28, 28), torch.stack([gray, gray, gray, opaque]), torch.stack(
                [gray, opaque])
            # Dark ink on a clear white ground, as a drawing app saves one: (255, 255, 255, 0) around the ink.
            clear = torch.where(gray < 250, 255, 0).to(torch.uint8)
            white = torch.where(clear == 0, 255, gray).to(torch.uint8)
            on_clear = torch.stack([white, white, white, clear])
            for planes in (rgb, rgba, gray_alpha, on_clear):
                one = model.predict(planes.clone())
                assert not isinstance(one, list) and (one.label, one.reason) == (answer.label, answer.reason)
    # Digits of a dataset stay a batch, three copies of one and another included (the fourth is no alpha plane).
    four = torch.from_numpy(digits[[7, 7, 7, 1]])
    assert [p.label for p in model.predict(four)] == [batch[k].label for k in (7, 7, 7, 1)]
    assert [p.label for p in model.predict(torch.from_numpy(digits[:2]))] == [batch[k].label for k in (0, 1)]
    with pytest.raises(tinyvision.ImageError, match="a sparse tensor holds no pixels"):
        model.predict(torch.from_numpy(digits[:3]).to_sparse())


def test_a_pattern_or_a_home_path_names_images_as_ultralytics_users_write_them(tmp_path, monkeypatch, capsys):
    # predict("scans/*.png") and predict("~/digit.png") were "no such file" (load took "~" already).
    import tinyvision

    monkeypatch.setenv("HOME", str(tmp_path))
    model = tinyvision.load(untrained_digit_checkpoint(tmp_path / "model.safetensors"))
    scans = tmp_path / "scans"
    (scans / "more").mkdir(parents=True)
    digits = one_of_each_digit()
    for name, digit in (("b.png", digits[3]), ("a.png", digits[5]), ("more/c.png", digits[7]), ("d.jpg", digits[1])):
        Image.fromarray(digit[0].numpy()).save(scans / name)
    one = model.predict("~/scans/a.png")
    assert one.path == str(scans / "a.png") and one.label == model.predict(scans / "a.png").label
    assert [Path(p.path).name for p in model.predict("~/scans/*.png")] == ["a.png", "b.png"]
    assert [Path(p.path).name for p in model.predict(str(scans / "**" / "*.png"))] == ["a.png", "b.png", "c.png"]
    (scans / "empty").mkdir()  # a matched folder without images is no error, and no image is answered twice
    (scans / "notes.txt").write_text("not an image")  # listed as a folder lists its images: these are not
    (scans / "@eaDir" / "a.png").mkdir(parents=True)
    Image.fromarray(digits[5][0].numpy()).save(scans / "@eaDir" / "a.png" / "SYNOPHOTO_THUMB_S.jpg")
    assert [Path(p.path).name for p in model.predict(str(scans / "**"))] == ["a.png", "b.png", "d.jpg", "c.png"]
    assert [Path(p.path).name for p in model.predict(str(scans / "*"))] == ["a.png", "b.png", "d.jpg", "c.png"]
    assert [p.path for p in model.predict(["~/scans/b.png"])] == [str(scans / "b.png")]
    with pytest.raises(TinyVisionError, match=r"\*\.gif: no image matches this pattern$"):
        model.predict("~/scans/*.gif")
    assert main(["predict", str(tmp_path / "model.safetensors"), "~/scans/*.png", "--json"]) == 0
    assert [Path(a["file"]).name for a in json.loads(capsys.readouterr().out)] == ["a.png", "b.png"]


def test_a_batch_of_colour_digits_is_read_as_each_of_them_alone(tmp_path):
    # One (28, 28, 3) digit and a list of them were read; the batch (N, 28, 28, 3) or (N, 3, 28, 28) was refused.
    import tinyvision

    model = tinyvision.load(untrained_digit_checkpoint(tmp_path / "model.safetensors"))
    gray = torch.stack(one_of_each_digit())[:, 0].numpy()
    colour = np.repeat(gray[..., None], 3, axis=-1)
    alone = [model.predict(image) for image in colour]
    for batch in (colour, torch.from_numpy(colour).permute(0, 3, 1, 2), colour.transpose(0, 3, 1, 2)):
        answers = model.predict(batch)
        assert [(a.label, a.probability) for a in answers] == [(a.label, a.probability) for a in alone]


def test_a_numbers_probability_is_how_often_such_a_number_is_read_exactly(brief_digit_run):
    # It was the product of its digits' probabilities, which prices no cut: a digit dropped as noise or a 1
    # swallowed by its neighbour adds no factor, and numbers answered at 0.99-0.999 were wrong ~7% of the time.
    # The knots are the ones fitted on validation numbers (benchmarks/number_confidence.py).
    import tinyvision
    from tinyvision.datasets import load_dataset
    from tinyvision.read_number import NUMBER_CONFIDENCE, number_confidence

    fitted = json.loads((Path(__file__).parent.parent / "benchmarks" / "results" / "number_confidence.json")
                        .read_text())["knots"]
    assert NUMBER_CONFIDENCE == fitted
    products = np.linspace(0, 1, 201)
    calibrated = [number_confidence(float(p)) for p in products]
    assert all(a <= b for a, b in zip(calibrated, calibrated[1:])) and calibrated[-1] < 0.999
    model = tinyvision.load(brief_digit_run.path)
    data = load_dataset("mnist")
    images = data.test_images[:, 0].numpy()
    answers = [model.predict(_touching_then_apart(images[k], images[k + 1], images[k + 2])) for k in range(0, 30, 3)]
    numbers = [a for a in answers if a.label is not None and len(a.digits) > 1]
    assert numbers
    for a in numbers:
        product = float(np.prod([d["probability"] for d in a.digits]))
        assert a.probability == number_confidence(product) == a.to_dict()["probability"]
    one = model.predict(images[0])  # a single digit keeps its own calibrated probability
    assert one.probability == max(one.probabilities.values())


def test_a_batch_of_gray_photos_for_a_colour_model_is_read_as_each_alone(tmp_path):
    # (N, H, W, 1), as numpy holds gray photos, was refused; (N, 1, H, W) was read.
    import tinyvision
    from tinyvision.checkpoint import ModelCard, save_model
    from tinyvision.models import create_model
    from tinyvision.normalization import Normalization

    torch.manual_seed(0)
    card = ModelCard("tvnet", (3, 32, 32), ("a", "b"), Normalization((0.5,) * 3, (0.25,) * 3), "folder:x", {},
                     "test", {"test_acc": 0.5}, kind="folder", preparation="resize")
    save_model(tmp_path / "model.safetensors", create_model("tvnet", (3, 32, 32), 2).eval(), card)
    model = tinyvision.load(tmp_path / "model.safetensors")
    gray = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 1), dtype=np.uint8)
    alone = [model.predict(image[..., 0]) for image in gray]
    for batch in (gray, gray.transpose(0, 3, 1, 2)):
        answers = model.predict(batch)
        assert [(a.label, a.probability) for a in answers] == [(a.label, a.probability) for a in alone]


def test_a_number_too_long_to_read_is_said_so_and_a_line_of_text_is_not_a_digit(brief_digit_run, capsys):
    # A 13-digit number was answered "not a digit", as a blank page is: its writer had no hint of the limit.
    # A line of words is cut into as many pieces, and is still "not a digit".
    import tinyvision
    from tinyvision.datasets import load_dataset
    from tinyvision.image.segment import MAX_DIGITS

    model = tinyvision.load(brief_digit_run.path)
    data = load_dataset("mnist")
    images, labels = data.test_images[:, 0].numpy(), data.test_labels.numpy()
    ones = set(np.flatnonzero(labels == 1).tolist())
    picked = [k for k in range(200) if k not in ones][:20]  # no 1s: none swallowed by a neighbour
    gap = np.zeros((28, 10), np.uint8)

    def number(count: int, doubtful: np.ndarray | None = None) -> bytes:
        shown = [images[k] for k in picked[:count]]
        if doubtful is not None:
            shown[5] = doubtful
        line = np.concatenate([gap] + [part for digit in shown for part in (digit, gap)], 1)
        return encode(Image.fromarray(255 - line).resize((line.shape[1] * 3, 84), Image.Resampling.BICUBIC), "PNG")

    longest = model.predict(number(MAX_DIGITS))
    assert longest.reason is None and len(longest.digits) == MAX_DIGITS
    too_long = model.predict(number(MAX_DIGITS + 1))
    assert (too_long.label, too_long.reason) == (None, "too many digits")
    # A refused piece among them (a smudge where a digit was) makes the line text, as a letter does in a line of
    # words and numbers ("Tel 020 7946 0958"): a share of refused pieces let such lines through as "too many
    # digits" (benchmarks/long_lines.py).
    smudge = np.zeros((28, 28), np.uint8)
    smudge[6:22, 7:21] = 255
    alone = np.full((84, 84), 255, np.uint8)
    alone[18:66, 21:63] = 0
    assert model.predict(encode(Image.fromarray(alone), "PNG")).reason == "not a digit"  # a refused piece
    assert model.predict(number(20, smudge)).reason == "not a digit"
    from matplotlib import font_manager
    from PIL import ImageDraw, ImageFont

    # More pieces than MAX_DIGITS too, but letters: no number. (This briefly trained model refuses a fifth to
    # a third of these lines' pieces; the shipped one 18-65% of lines like them.)
    font = ImageFont.truetype(font_manager.findfont("DejaVu Serif"), 48)
    for line in ("CALL ME TOMORROW AT HOME", "Meet me at the station"):
        words = Image.new("L", (1100, 90), 255)
        ImageDraw.Draw(words).text((20, 10), line, fill=0, font=font)
        text = model.predict(encode(words, "PNG"))
        assert (text.label, text.reason) == (None, "not a digit")
    rng = np.random.default_rng(0)
    marks = np.full((400, 400), 255, np.uint8)
    for top, left in rng.integers(5, 390, size=(300, 2)):  # a page of specks and dashes: no number
        marks[top : top + 4, left : left + 6] = 0
    page = model.predict(encode(Image.fromarray(marks), "PNG"))
    assert (page.label, page.reason) == (None, "not a digit")


def test_touching_digits_the_cut_loses_are_read_by_the_pair_reader_and_single_digits_are_not(brief_digit_run,
                                                                                              monkeypatch):
    """A thin 1 laid against its neighbour leaves no seam to cut along, and a cut touching pair may leave a
    side in doubt: the pair reader reads such a mark whole (read_number.PAIR_BAR). Single digits, and
    numbers the digit model reads surely, are answered as they were."""
    import tinyvision
    import tinyvision.read_number as read_number
    from tinyvision.datasets import load_dataset

    model = tinyvision.load(brief_digit_run.path)
    data = load_dataset("mnist")
    images, labels = data.test_images[:, 0].numpy(), data.test_labels.numpy()
    ones = np.flatnonzero(labels == 1)
    others = np.flatnonzero(labels != 1)
    # "x1y": a 1 laid against the digit before it (3 columns overlapping), then a digit apart.
    numbers = [_touching_then_apart(images[others[k]], images[ones[k]], images[others[k + 100]], overlap=3)
               for k in range(80)]
    truth = [f"{labels[others[k]]}1{labels[others[k + 100]]}" for k in range(80)]
    singles = [encode(paper_photo(data.test_images[k]), "PNG") for k in range(40)]

    def read() -> tuple[float, list]:
        return (float(np.mean([model.predict(n).label == t for n, t in zip(numbers, truth)])),
                [model.predict(s).label for s in singles])

    assert read_number.PAIR_BAR is not None  # on by default
    right, single_labels = read()
    monkeypatch.setattr(read_number, "PAIR_BAR", None)
    right_before, single_labels_before = read()
    # Seen when this test was written, with the briefly trained run: 31% of these numbers read without the
    # pair reader, 52% with it.
    assert right >= right_before + 0.1, (right, right_before)
    assert single_labels == single_labels_before
    # The answer's digits are the pair's, each with its own box, left to right.
    monkeypatch.undo()
    answered = next(p for p in (model.predict(n) for n in numbers) if p.label is not None and len(p.digits) == 3)
    lefts = [d["box"][0] for d in answered.digits]
    assert lefts == sorted(lefts) and all(d["box"][2] > 0 and d["box"][3] > 0 for d in answered.digits)


def test_a_refused_touching_pair_is_answered_by_the_pair_reader_unless_a_letter_could_pass_for_it(brief_digit_run,
                                                                                                   monkeypatch):
    """A touching pair cut into the right digits, one of them a little doubted, is refused with the letters
    whose halves pass for digits; the pair reader, reading the mark uncut, rescues it (read_number.PAIR_RESCUE)
    unless the pair has a 1 or a 7, what a letter's or a shape's strokes pass for: those refusals stand."""
    import tinyvision
    import tinyvision.read_number as read_number
    from tinyvision.datasets import load_dataset

    model = tinyvision.load(brief_digit_run.path)
    data = load_dataset("mnist")
    images, labels = data.test_images[:, 0].numpy(), data.test_labels.numpy()
    plain = np.flatnonzero(~np.isin(labels, [1, 7]))[:160]
    strokes = np.flatnonzero(np.isin(labels, [1, 7]))[:80]

    def pairs(indices: np.ndarray) -> list[tuple[bytes, str]]:
        return [(_touching_then_apart(images[a], images[b], None, overlap=3), f"{labels[a]}{labels[b]}")
                for a, b in zip(indices[0::2], indices[1::2])]

    def read(numbers: list[tuple[bytes, str]]) -> list[str | None]:
        return [model.predict(n).label for n, _ in numbers]

    plain_pairs, stroke_pairs = pairs(plain), pairs(strokes)
    assert read_number.PAIR_RESCUE is not None  # on by default
    plain_read, stroke_read = read(plain_pairs), read(stroke_pairs)
    monkeypatch.setattr(read_number, "PAIR_RESCUE", None)
    plain_before, stroke_before = read(plain_pairs), read(stroke_pairs)
    rescued = [(label, truth) for label, before, (_, truth) in zip(plain_read, plain_before, plain_pairs)
               if before is None and label is not None]
    # Seen when this test was written, with the briefly trained run: 29 of the 80 pairs refused without the
    # rescue, 21 of them answered with it, all 21 right; 16 of the 40 pairs of 1s and 7s refused, all still.
    assert len(rescued) >= 10 and np.mean([label == truth for label, truth in rescued]) >= 0.9, rescued
    assert all(a == b for a, b in zip(plain_read, plain_before) if b is not None)  # answers stand as they were
    assert stroke_read == stroke_before  # a refused "11", "17", "71" or "77" stays refused


def test_a_pair_read_whole_is_boxed_and_shown_digit_by_digit_where_the_digits_are(brief_digit_run):
    """The pair reader reads a mark uncut; the answer still boxes and shows each digit. A thin 1 against a wide
    7 meets it far from the middle: cut in the middle, the 7's box was its bar and its image a dash."""
    import tinyvision
    from tinyvision.datasets import load_dataset
    from tinyvision.read_number import pair_sides

    model = tinyvision.load(brief_digit_run.path)
    data = load_dataset("mnist")
    images, labels = data.test_images[:, 0].numpy(), data.test_labels.numpy()
    checked = 0
    for seven, one in zip(np.flatnonzero(labels == 7)[:10], np.flatnonzero(labels == 1)[:10]):
        a, b = images[seven] / 255.0, images[one] / 255.0
        a = a[:, np.flatnonzero(a.max(0) > 0.25)[0] : np.flatnonzero(a.max(0) > 0.25)[-1] + 1]
        b = b[:, np.flatnonzero(b.max(0) > 0.25)[0] : np.flatnonzero(b.max(0) > 0.25)[-1] + 1]
        ink = np.zeros((28, a.shape[1] + b.shape[1] - 1), np.float32)
        ink[:, : a.shape[1]] = a
        np.maximum(ink[:, a.shape[1] - 1 :], b, out=ink[:, a.shape[1] - 1 :])
        (box_7, box_1), shown = pair_sides(model, ink, (0, 0, 28, ink.shape[1]), [7, 1])
        assert box_7[1] <= 1 and box_7[3] >= 0.8 * a.shape[1], (box_7, a.shape)  # the whole 7, not its bar
        assert box_1[1] >= a.shape[1] - 4, (box_1, a.shape)  # the 1 alone
        assert len(shown) == 2 and all(s.shape == (28, 28) for s in shown)
        checked += 1
    assert checked == 10


def test_a_dataset_digit_in_colour_planes_is_read_as_its_saved_file_is(brief_digit_run, mnist):
    # Saved as an RGB PNG, an MNIST digit is read as the dataset image it is; the same pixels as an array
    # (`np.asarray(Image.open(path))`, (28, 28, 3)) or as torchvision's `read_image` gives them ((3, 28, 28))
    # were prepared a second time, and the answers differed from the file's.
    import tinyvision

    model = tinyvision.load(brief_digit_run.path)
    digits = np.round(mnist[0][:40] * 255).astype(np.uint8)
    for digit, expected in zip(digits, model.predict(digits)):
        file_answer = model.predict(encode(Image.fromarray(digit).convert("RGB"), "PNG"))
        assert file_answer.label == expected.label
        assert file_answer.probability == pytest.approx(expected.probability, abs=1e-5)
        opaque = np.full_like(digit, 255)
        for planes in (np.stack([digit] * 3, -1), np.dstack([digit] * 3 + [opaque]), np.stack([digit] * 3, -1) / 255.0,
                       torch.from_numpy(np.stack([digit] * 3)), torch.from_numpy(np.stack([digit] * 3)).float() / 255):
            answer = model.predict(planes)
            assert (answer.label, answer.probability) == (file_answer.label, file_answer.probability)
            assert torch.equal(answer.input, torch.from_numpy(digit)[None])

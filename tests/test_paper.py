"""Paper that is not a clean sheet: the digits of a number are found on ruled and squared paper, in a
hand's shadow and beside the desk, and what looks like paper but is writing is kept."""

from __future__ import annotations

import numpy as np
import pytest

from test_segment import assert_found, digit, write
from tinyvision.image.digits import ink_map
from tinyvision.image.paper import clear_paper, drop_border_objects, remove_rules
from tinyvision.image.segment import segment


def photo(ink: np.ndarray, paper: np.ndarray | float = 0.9, pen: float = 0.1) -> np.ndarray:
    """An ink map as a gray photo: dark pen on `paper` (a level or a per-pixel map), uint8 (H, W, 3)."""
    gray = paper * (1 - ink) + pen * ink
    return np.repeat(np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2)


def number(mnist, labels=(8, 3, 6)):
    return write([digit(mnist, d) for d in labels])


def test_ruled_lines_under_and_through_a_number_are_not_digits(mnist):
    ink, boxes = number(mnist)
    sheet = np.full(ink.shape, 0.92, np.float32)
    baseline = max(b for _, _, b, _ in boxes)
    for row in range(baseline % 60, ink.shape[0], 60):  # printed rules, one right under the digits
        sheet[row : row + 2] = 0.6
    sheet[:, 20:22] = 0.55  # and a margin left of them
    found = segment(ink_map(photo(ink, sheet)))
    assert_found(found, boxes)


def test_a_rule_is_cleared_but_the_stroke_crossing_it_is_kept():
    ink = np.zeros((120, 300), np.float32)
    ink[60:62] = 1.0  # a printed line, 2 px
    ink[20:100, 150:160] = 1.0  # a stroke crossing it, 10 px wide
    cleared = remove_rules(ink)
    assert cleared[60:62, :140].max() == 0 and cleared[60:62, 170:].max() == 0
    assert (cleared[20:100, 150:160] == 1.0).all()


def test_squared_paper_is_not_read_as_ink(mnist):
    ink, boxes = number(mnist, (4, 0, 7, 1))
    sheet = np.full(ink.shape, 0.9, np.float32)
    sheet[::24] = 0.7
    sheet[:, ::24] = 0.7
    assert_found(segment(ink_map(photo(ink, sheet))), boxes)


def test_a_hands_shadow_over_half_the_number_is_light_not_ink(mnist):
    ink, boxes = number(mnist, (2, 5, 9))
    h, w = ink.shape
    shade = 1 - 0.5 / (1 + np.exp(-(np.arange(w) - w * 0.45) / 6.0))  # a sharp shadow over the right half
    assert_found(segment(ink_map(photo(ink, 0.9 * shade[None, :], pen=0.1 * shade[None, :]))), boxes)


@pytest.mark.parametrize("sides", [("left",), ("bottom", "right")])
def test_the_desk_beside_the_sheet_is_not_a_digit(mnist, sides):
    ink, boxes = number(mnist, (1, 4))
    pad = {"top": 0, "bottom": 0, "left": 0, "right": 0}
    for side in sides:
        pad[side] = 30
    sheet = np.pad(np.full(ink.shape, 0.9, np.float32), ((pad["top"], pad["bottom"]), (pad["left"], pad["right"])),
                   constant_values=0.3)  # a dark desk
    ink = np.pad(ink, ((pad["top"], pad["bottom"]), (pad["left"], pad["right"])))
    boxes = [(t + pad["top"], lf + pad["left"], b + pad["top"], r + pad["left"]) for t, lf, b, r in boxes]
    assert_found(segment(ink_map(photo(ink, sheet))), boxes)


def test_writing_that_looks_like_paper_is_kept(mnist):
    # A tightly cropped 1 runs the whole height of its image, like a margin: alone, it is read.
    one = digit(mnist, 1)
    rows, cols = np.nonzero(one > 0.25)
    tight = one[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    assert np.array_equal(clear_paper(tight), tight)
    # A 7 whose bar lies along the top of a tight crop, beside a speck: the stem is not near the edge.
    seven = np.zeros((80, 60), np.float32)
    seven[0:8, 0:60] = 1.0
    for r in range(8, 80):
        c = 55 - (r - 8) * 40 // 72
        seven[r, c - 4 : c + 4] = 1.0
    seven[70:73, 5:8] = 1.0
    assert np.array_equal(drop_border_objects(seven), seven)
    # A marker's thick strokes, wider than any printed line, close up.
    thick = np.zeros((100, 100), np.float32)
    thick[10:90, 40:65] = 1.0
    thick[10:30, 20:65] = 1.0
    assert np.array_equal(remove_rules(thick), thick)


def test_a_thick_close_up_digit_survives_the_paper_level(mnist):
    big = digit(mnist, 0, height=300)
    canvas = np.pad(big, 20)
    ink = ink_map(photo(canvas))
    assert (ink > 0.25).sum() > 0.7 * (canvas > 0.25).sum()
    assert len(segment(ink)) == 1


def test_the_fast_min_and_max_filters_equal_the_plain_window_ones():
    """filter2d's min and max take log2(size) passes (paper._extreme); they must give exactly what a
    window over every size x size neighbourhood (edges repeated) gives. Sizes are odd, as the paper's are."""
    from numpy.lib.stride_tricks import sliding_window_view

    from tinyvision.image.paper import filter2d

    rng = np.random.default_rng(0)
    for shape, size in (((40, 23), 1), ((40, 23), 3), ((40, 23), 9), ((17, 60), 45), ((64, 64), 33)):
        grid = rng.random(shape, dtype=np.float32)
        for op in (np.min, np.max):
            r = size // 2
            padded = np.pad(grid, r, mode="edge")
            want = op(sliding_window_view(padded, (size, size)), axis=(-2, -1))
            assert np.array_equal(filter2d(grid, size, op), want), (shape, size, op.__name__)


def jpeg_photo(gray: np.ndarray, grain: float = 0.015, seed: int = 0) -> np.ndarray:
    """A gray photo (in [0, 1]) with the paper's grain, through a JPEG at quality 88 as a phone saves it:
    decoded pixels, uint8 (H, W, 3)."""
    import io

    from PIL import Image

    noisy = gray + np.random.default_rng(seed).normal(0, grain, gray.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)).convert("RGB").save(buffer, "JPEG",
                                                                                                 quality=88)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def test_a_lone_digit_on_ruled_paper_is_prepared_as_on_plain_paper(mnist):
    """A lone digit is prepared from all of the image's ink, cropped to every pixel brighter than 0; the
    faint leftovers of the cleared rules lay across the whole page, so the crop took the page and the model
    saw a speck (a red team: 4 of 16 single digits read on ruled paper)."""
    from tinyvision.image.digits import prepare_digit

    ink, _ = write([digit(mnist, 9)], margin=120)
    ruled = np.full(ink.shape, 0.95, np.float32)
    for row in range(10, ink.shape[0], 110):  # anti-aliased rules, one of them under the digit
        ruled[row : row + 2] = 0.72
        ruled[row + 2] = 0.85
    plain = prepare_digit(jpeg_photo(0.95 * (1 - ink) + 0.08 * ink))
    on_rules = prepare_digit(jpeg_photo(ruled * (1 - ink) + 0.08 * ink))
    rows = np.flatnonzero((on_rules > 0.25).any(1))
    assert rows[-1] - rows[0] + 1 >= 18  # fitted into MNIST's 20-px box, not shrunk to a speck
    assert np.abs(on_rules - plain).mean() < 0.05


@pytest.mark.parametrize(("labels", "nth"), [((7, 7, 8, 2), 0), ((7, 3, 3), 2), ((3, 6, 1, 4), 3)])
def test_a_small_number_in_a_large_photo_is_dark_ink_on_light_paper(mnist, labels, nth):
    """A few strokes are under 1% of a large photo's pixels: its 1st and 99th percentiles are both paper,
    and the ink was decided by narrowness on a 128-px copy, where such strokes are under a pixel wide: the
    paper was taken for the ink (a red team: 4000x3000 photos of numbers 150 px tall, 9 of 16 read)."""
    from tinyvision.image.digits import WORK_SIDE, ink_polarity, shrink, to_gray

    ink, _ = write([digit(mnist, d, nth=nth, height=75) for d in labels], gaps=[15] * (len(labels) - 1), margin=8)
    page = np.zeros((1500, 2000), np.float32)
    page[750 : 750 + ink.shape[0], 1000 : 1000 + ink.shape[1]] = ink
    gray = shrink(to_gray(jpeg_photo(0.95 * (1 - page) + 0.08 * page)), WORK_SIDE)
    assert (page > 0.5).mean() < 0.01
    assert np.median(ink_polarity(gray)) < 0.5  # the paper dark and the strokes bright, as in MNIST

"""Whole numbers: `segment` finds every digit of an ink map, left to right, on generated numbers."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from tinyvision.image.components import label_components
from tinyvision.image.decode import ImageError
from tinyvision.image.segment import MAX_DIGITS, segment

HEIGHT = 80  # px: a digit's height in the generated ink maps


def digit(mnist, label: int, nth: int = 0, height: int = HEIGHT) -> np.ndarray:
    """The nth test digit with this label, its 20-px box scaled to `height`, cropped to its ink."""
    images, labels = mnist
    small = images[np.flatnonzero(labels == label)[nth]]
    size = round(28 * height / 20)
    big = np.clip(np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)), 0, 1)
    rows, cols = np.nonzero(big > 0.05)
    return big[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def write(glyphs: list[np.ndarray], gaps: list[int] | None = None, tops: list[int] | None = None,
          margin: int = 40) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Glyphs left to right on black, `gaps` px apart (negative: overlapping), each `tops` px down.

    Returns the ink map and each glyph's true box (top, left, bottom, right).
    """
    gaps = gaps if gaps is not None else [HEIGHT // 4] * (len(glyphs) - 1)
    tops = tops if tops is not None else [0] * len(glyphs)
    lefts = [margin]
    for glyph, gap in zip(glyphs, gaps):
        lefts.append(lefts[-1] + glyph.shape[1] + gap)
    height = max(t + g.shape[0] for t, g in zip(tops, glyphs)) + 2 * margin - min(tops)
    ink = np.zeros((height, lefts[-1] + glyphs[-1].shape[1] + margin), np.float32)
    boxes = []
    for glyph, top, left in zip(glyphs, tops, lefts):
        top += margin - min(tops)
        region = ink[top : top + glyph.shape[0], left : left + glyph.shape[1]]
        np.maximum(region, glyph, out=region)
        rows, cols = np.nonzero(glyph > 0.3)
        boxes.append((top + rows.min(), left + cols.min(), top + rows.max() + 1, left + cols.max() + 1))
    return ink, boxes


def strokes(shape: tuple[int, int], draw) -> np.ndarray:
    """An ink map drawn with Pillow: `draw(ImageDraw)` draws white strokes on black."""
    canvas = Image.new("L", (shape[1], shape[0]), 0)
    draw(ImageDraw.Draw(canvas))
    return np.asarray(canvas, dtype=np.float32) / 255.0


def iou(a, b) -> float:
    h = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    w = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - h * w
    return h * w / union


def assert_found(segments, boxes) -> None:
    assert len(segments) == len(boxes), [s.box for s in segments]
    for s, box in zip(segments, boxes):
        assert iou(s.box, box) >= 0.5, (s.box, box)


def test_twelve_is_two_digits_left_to_right(mnist):
    ink, boxes = write([digit(mnist, 1), digit(mnist, 2)])
    segments = segment(ink)
    assert_found(segments, boxes)
    assert segments[0].box[1] < segments[1].box[1]
    for s in segments:  # prepared as MNIST prepared its digits: 20x20 box, centre of mass at (14, 14)
        assert s.image.shape == (28, 28) and s.image.dtype == np.float32
        rows, cols = np.nonzero(s.image > 0.05)
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 21
        mass = s.image / s.image.sum()
        assert abs((mass.sum(1) @ np.arange(28)) - 14) < 1.5 and abs((mass.sum(0) @ np.arange(28)) - 14) < 1.5


def test_single_digits_stay_single(mnist):
    for label in range(10):
        for nth in range(4):
            ink, boxes = write([digit(mnist, label, nth)])
            assert_found(segment(ink), boxes)


def test_five_with_a_detached_hat_is_one_digit():
    def five(d):
        d.line([(40, 40), (85, 40)], fill=255, width=7)  # the hat, drawn apart from the body
        d.line([(40, 52), (38, 80)], fill=255, width=7)
        d.arc([(30, 68), (85, 122)], start=-150, end=140, fill=255, width=7)

    segments = segment(strokes((160, 130), five))
    assert len(segments) == 1
    assert segments[0].pieces == 2


def test_broken_strokes_of_one_digit_stay_one():
    def four(d):  # a 4 drawn in two strokes that do not meet
        d.line([(50, 30), (30, 85), (80, 85)], fill=255, width=7)
        d.line([(70, 40), (70, 120)], fill=255, width=7)

    def seven(d):  # a 7 whose bar stops short of its stem, and a crossbar
        d.line([(30, 30), (78, 30)], fill=255, width=7)
        d.line([(84, 38), (55, 120)], fill=255, width=7)
        d.line([(55, 75), (88, 75)], fill=255, width=7)

    def open_eight(d):  # an 8 whose loops do not close
        d.arc([(38, 25), (82, 70)], start=100, end=420, fill=255, width=7)
        d.arc([(32, 76), (88, 125)], start=-60, end=250, fill=255, width=7)

    for draw in (four, seven, open_eight):
        assert len(segment(strokes((150, 120), draw))) == 1, draw.__name__


def test_touching_zeros_are_split():
    def zeros(d):  # two round zeros whose sides touch
        d.ellipse([(30, 30), (95, 110)], outline=255, width=8)
        d.ellipse([(93, 30), (158, 110)], outline=255, width=8)

    ink = strokes((140, 190), zeros)
    assert label_components(ink > 0.25)[1] == 1
    segments = segment(ink)
    assert_found(segments, [(30, 30, 111, 96), (30, 93, 111, 159)])
    assert all(s.cut for s in segments)
    # Each zero is prepared from its own ink: the other's is masked out.
    for s in segments:
        assert abs(s.image.sum(0)[:14].sum() - s.image.sum(0)[14:].sum()) < 0.25 * s.image.sum()


def test_a_one_is_not_merged_into_its_neighbour(mnist):
    for other in (7, 0, 4):
        ink, boxes = write([digit(mnist, 1), digit(mnist, other)], gaps=[HEIGHT // 10])
        assert_found(segment(ink), boxes)
    ink, boxes = write([digit(mnist, 1, k) for k in range(4)], gaps=[HEIGHT // 8] * 3)  # tall thin ones
    assert_found(segment(ink), boxes)


def test_specks_and_paper_texture_are_not_digits(mnist):
    ink, boxes = write([digit(mnist, 7), digit(mnist, 3)])
    rng = np.random.default_rng(0)
    h, w = ink.shape
    for _ in range(60):  # specks of dirt and grain, 1-5 px, anywhere
        r, c, s = rng.integers(0, h - 5), rng.integers(0, w - 5), rng.integers(1, 6)
        ink[r : r + s, c : c + s] = np.maximum(ink[r : r + s, c : c + s], rng.uniform(0.5, 1.0))
    assert_found(segment(ink), boxes)


def test_order_is_left_to_right_with_uneven_baselines_and_sizes(mnist):
    glyphs = [digit(mnist, d, height=h) for d, h in zip((3, 8, 6, 2), (70, 95, 80, 60))]
    ink, boxes = write(glyphs, tops=[0, -30, 25, 50])
    assert_found(segment(ink), boxes)


def test_the_digit_limit_is_enforced(mnist):
    glyphs = [digit(mnist, d % 10, height=30) for d in range(MAX_DIGITS + 1)]
    ink, _ = write(glyphs, gaps=[10] * MAX_DIGITS)
    with pytest.raises(ImageError) as error:
        segment(ink)
    assert error.value.kind == "too_many_digits"
    assert len(segment(ink, max_digits=MAX_DIGITS + 1)) == MAX_DIGITS + 1


def test_a_digit_written_small_is_read_when_the_model_takes_it_for_one(mnist):
    """A digit at 0.4 of its neighbours' height is short enough to be a mark dropped as noise ("721" was
    "71"); written apart, dropping it now costs the model's belief that it is a digit, so the model decides."""
    small = round(0.4 * HEIGHT)
    glyphs = [digit(mnist, 7), digit(mnist, 2, height=small), digit(mnist, 1)]
    ink, boxes = write(glyphs, gaps=[HEIGHT // 2] * 2, tops=[0, HEIGHT - small, 0])  # the small one on the line
    assert len(segment(ink)) == 2  # geometry alone: a short mark, noise
    sure = lambda images: [0.999] * len(images)  # noqa: E731
    assert_found(segment(ink, score=sure), boxes)
    # A model that doubts the mark is a digit (a smudge as tall) still has it dropped.
    alone = [segment(write([g])[0])[0].image for g in (glyphs[0], glyphs[2])]

    def sure_of_the_tall_ones(images: list[np.ndarray]) -> list[float]:
        return [0.999 if max(np.corrcoef(image.ravel(), a.ravel())[0, 1] for a in alone) > 0.9 else 0.3
                for image in images]

    assert_found(segment(ink, score=sure_of_the_tall_ones), [boxes[0], boxes[2]])
    # Close beside a stem (a script d's bowl, a broken 2's tail) a short mark is no digit of its own.
    close, _ = write(glyphs, gaps=[3, HEIGHT // 2], tops=[0, HEIGHT - small, 0])
    assert len(segment(close, score=sure)) == 2


def test_a_short_flat_mark_on_the_line_is_no_digit_written_small(mnist):
    """A dash, a tilde or a smile as tall as a digit written small stands on the line beside a number, and a model
    reads it as a sure digit: doubted as one (the shape bound at 1.6 x its height, tried), "18" and a smile was
    answered "180" at 0.997 (a red team). A mark wider than 1.2 x its height is no digit written small."""
    dash = strokes((22, 34), lambda d: d.line([(2, 19), (31, 2)], fill=255, width=7))  # 1.55 x as wide as tall
    rows, cols = np.nonzero(dash > 0.05)
    dash = dash[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    sure = lambda images: [0.999] * len(images)  # noqa: E731
    ink, boxes = write([digit(mnist, 1), digit(mnist, 8), dash], gaps=[HEIGHT // 4, HEIGHT // 2],
                       tops=[0, 0, HEIGHT - dash.shape[0]])
    assert_found(segment(ink, score=sure), boxes[:2])


def test_a_raised_mark_or_one_the_card_refuses_is_no_digit_written_small(mnist):
    """A degree sign after "25" is a small ring a model reads as a sure 0 ("25°" was "250"): only a mark that
    stands on its neighbours' line, and that the card does not refuse alone, is doubted as a small digit."""
    side = round(0.35 * HEIGHT)
    ring = strokes((side + 8, side + 8), lambda d: d.ellipse([(4, 4), (side + 3, side + 3)], outline=255, width=6))
    rows, cols = np.nonzero(ring > 0.05)
    ring = ring[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    glyphs = [digit(mnist, 2), digit(mnist, 5), ring]
    sure = lambda images: [0.999] * len(images)  # noqa: E731
    raised, _ = write(glyphs, gaps=[HEIGHT // 4, HEIGHT // 2])  # its top at the digits' tops
    assert len(segment(raised, score=sure)) == 2
    on_line, boxes = write(glyphs, gaps=[HEIGHT // 4, HEIGHT // 2], tops=[0, 0, HEIGHT - ring.shape[0]])
    assert_found(segment(on_line, score=sure), boxes)  # a small 0
    assert len(segment(on_line, score=sure, refused=lambda images: [True] * len(images))) == 2


def test_blank_ink_is_refused():
    with pytest.raises(ImageError) as error:
        segment(np.zeros((50, 80), np.float32))
    assert error.value.kind == "no_ink"


def test_score_callback_sees_candidate_digits(mnist):
    ink, boxes = write([digit(mnist, 4), digit(mnist, 5)])
    seen = []

    def score(images):
        seen.extend(images)
        return [0.9] * len(images)

    segments = segment(ink, score=score)
    assert_found(segments, boxes)
    assert seen and all(image.shape == (28, 28) for image in seen)
    assert all(s.confidence == 0.9 for s in segments)


def test_the_model_chooses_the_cut():
    """Classifier-guided: where geometry alone keeps a touching "10" (of the number "107") whole, the
    model's trust splits it."""
    def one(d):
        d.line([(40, 30), (40, 110)], fill=255, width=8)

    def zero(d):
        d.ellipse([(42, 30), (102, 110)], outline=255, width=8)

    def seven(d):
        d.line([(125, 32), (175, 32), (140, 110)], fill=255, width=8)

    ink = strokes((140, 200), lambda d: (one(d), zero(d), seven(d)))
    assert label_components(ink > 0.25)[1] == 2 and len(segment(ink)) == 2
    found = segment(ink, score=sure_of((140, 200), (one, zero, seven)))
    assert_found(found, [(30, 36, 111, 45), (30, 42, 111, 103), (28, 121, 114, 180)])
    assert [s.group for s in found][:2] == [found[0].group] * 2 != [found[2].group] * 2  # the cut pair: one mark


def sure_of(shape: tuple[int, int], draws) -> Callable[[list[np.ndarray]], list[float]]:
    """A stand-in model's confidence: sure (0.99) only of images like the digits `draws` draw, each written
    alone on a canvas of `shape`, and unsure (0.5) of anything else."""
    alone = [segment(strokes(shape, draw))[0].image for draw in draws]

    def score(images: list[np.ndarray]) -> list[float]:
        return [0.99 if max(np.corrcoef(image.ravel(), a.ravel())[0, 1] for a in alone) > 0.9 else 0.5
                for image in images]

    return score


def test_a_narrow_pair_read_unsurely_whole_is_cut(monkeypatch):
    """A 1 touching a narrow 0 makes one mark narrower than SPLIT_ASPECT: beside another mark, the model's
    doubt about it whole is enough to look for a cut, and the cut is taken; with the gate off it is "0"."""
    import tinyvision.image.segment as seg

    def one(d):
        d.line([(40, 30), (40, 110)], fill=255, width=8)

    def zero(d):  # narrow: the pair together is about 0.6 x as wide as tall
        d.ellipse([(42, 30), (84, 110)], outline=255, width=8)

    def seven(d):
        d.line([(115, 32), (165, 32), (130, 110)], fill=255, width=8)

    ink = strokes((140, 190), lambda d: (one(d), zero(d), seven(d)))
    assert label_components(ink > 0.25)[1] == 2
    score = sure_of((140, 190), (one, zero, seven))
    assert_found(segment(ink, score=score), [(30, 36, 111, 45), (30, 42, 111, 85), (28, 111, 114, 170)])
    monkeypatch.setattr(seg, "NARROW_SPLIT_ASPECT", None)
    assert len(segment(ink, score=score)) == 2


def test_leaning_ones_that_touch_are_cut_along_their_slant():
    """Two 1s leaning right, the second's foot against the first's ("11" written fast): no seam near an
    upright line gets between them, so upright seams alone read them as one digit; a seam along their
    slant parts them, and the number is read as three digits where they were written."""
    from tinyvision.image.segment import slant_shears
    from tinyvision.read_number import SLANT_MAX

    def first(d):
        d.line([(70, 30), (46, 110)], fill=255, width=8)

    def second(d):
        d.line([(94, 30), (55, 110)], fill=255, width=8)

    def seven(d):
        d.line([(125, 32), (175, 32), (140, 110)], fill=255, width=8)

    ink = strokes((140, 200), lambda d: (first(d), second(d), seven(d)))
    assert label_components(ink > 0.25)[1] == 2
    score = sure_of((140, 200), (first, second, seven))
    assert SLANT_MAX is not None  # the reader's second opinion cuts along slants up to this
    slanted = segment(ink, score=score, slants=slant_shears(SLANT_MAX))
    assert_found(slanted, [(29, 43, 112, 75), (28, 51, 112, 99), (29, 125, 112, 180)])
    assert len(segment(ink, score=score)) == 2  # upright seams only


def test_thick_touching_digits_are_cut_through_not_around(mnist, monkeypatch):
    """Thick MNIST digits touching: the cheapest seam through the pair used to hug the mark's edge, cut
    nothing off and be dropped, so the pair was read as one digit. Seams now stay inside the ink's box."""
    import tinyvision.image.segment as seg

    def thick(glyph):  # a broad marker: strokes ~3 px wider on each side
        return np.asarray(Image.fromarray(glyph).filter(ImageFilter.MaxFilter(7)))

    for a, b, nth, gap in ((1, 2, 0, -6), (0, 6, 1, -10)):
        ink, boxes = write([digit(mnist, 3), thick(digit(mnist, a, nth)), thick(digit(mnist, b, nth))],
                           gaps=[HEIGHT // 4, gap])
        assert label_components(ink > 0.25)[1] == 2
        assert_found(segment(ink), boxes)
        monkeypatch.setattr(seg, "SEAM_INSET", "never")
        assert len(segment(ink)) == 2  # the pair uncut
        monkeypatch.setattr(seg, "SEAM_INSET", "several")


def test_a_lone_mark_is_cut_only_when_wide_enough_for_two_digits(monkeypatch):
    """The image's only mark is cut into digits only when wider than LONE_SPLIT_ASPECT x its height: alone,
    a u is not "11" however sure the model is of each half; two touching zeros, wider, are still cut."""
    import tinyvision.image.segment as seg

    def u(d):  # a u as many hands write it: two stems joined by a round bottom, about as wide as tall
        d.line([(40, 30), (40, 85)], fill=255, width=8)
        d.line([(110, 30), (110, 110)], fill=255, width=8)
        d.arc([(40, 50), (110, 110)], 0, 180, fill=255, width=8)

    def zeros(d):
        d.ellipse([(30, 30), (95, 110)], outline=255, width=8)
        d.ellipse([(93, 30), (158, 110)], outline=255, width=8)

    def sure(images):  # a stand-in model, doubtful only of a candidate wider than tall (the whole mark)
        return [0.3 if np.ptp(np.nonzero(image.max(0) > 0.3)[0]) >= 18 else 0.99 for image in images]

    letter = strokes((140, 150), u)
    monkeypatch.setattr(seg, "LONE_UNSURE_ASPECT", None)  # the width rule alone (the next test: with doubt)
    assert len(segment(letter, score=sure)) == 1
    assert len(segment(strokes((140, 190), zeros), score=sure)) == 2
    with pytest.MonkeyPatch.context() as m:  # the same u beside another mark is read with the usual bar
        m.setattr(seg, "LONE_SPLIT_ASPECT", seg.SPLIT_ASPECT)
        assert len(segment(letter, score=sure)) == 2


def test_a_lone_narrow_pair_doubted_whole_is_cut(monkeypatch):
    """A 1 touching a round 0, alone on the page, is narrower than LONE_SPLIT_ASPECT: when the model
    doubts the mark as one digit it is cut (read_number then holds each digit to LONE_CUT_BAR); when
    the model is sure of it whole, or with the rule off, it stays one digit."""
    import tinyvision.image.segment as seg

    def one(d):
        d.line([(40, 30), (40, 110)], fill=255, width=8)

    def zero(d):  # the pair together is about 0.95 x as wide as tall
        d.ellipse([(42, 30), (110, 110)], outline=255, width=8)

    ink = strokes((140, 150), lambda d: (one(d), zero(d)))
    assert label_components(ink > 0.25)[1] == 1
    alone = [segment(strokes((140, 150), draw))[0].image for draw in (one, zero)]

    def score(images):  # a stand-in model, sure only of images like the two digits written alone
        return [0.99 if max(np.corrcoef(image.ravel(), a.ravel())[0, 1] for a in alone) > 0.9 else 0.5
                for image in images]

    assert seg.LONE_UNSURE_ASPECT is not None and seg.LONE_UNSURE_ASPECT < 0.95 < seg.LONE_SPLIT_ASPECT
    assert_found(segment(ink, score=score), [(30, 36, 111, 45), (30, 42, 111, 111)])
    sure = 1 - (1 - seg.UNSURE_WHOLE) / 2  # above the doubt bar: the mark is not even searched for cuts
    assert len(segment(ink, score=lambda images: [sure] * len(images))) == 1
    monkeypatch.setattr(seg, "LONE_UNSURE_ASPECT", None)
    assert len(segment(ink, score=score)) == 1


def test_statistics_tell_a_blob_from_a_digit(mnist):
    ink, _ = write([digit(mnist, 2)])
    stroke = segment(ink)[0]
    blob = segment(np.pad(np.ones((200, 260), np.float32), 10))[0]
    assert blob.box_fraction > 0.8 > stroke.box_fraction
    assert blob.ink_fraction > 0.95 > 0.6 > stroke.ink_fraction
    assert stroke.pieces == 1


def test_boxes_map_back_to_the_original_pixels(mnist):
    ink, _ = write([digit(mnist, 6)])
    s = segment(ink)[0]
    top, left, bottom, right = s.box
    assert s.original_box(0.5) == (2 * top, 2 * left, 2 * bottom, 2 * right)


def _flood_fill(mask: np.ndarray) -> np.ndarray:
    """8-connected components by breadth-first search, one pixel at a time: the slow, obvious way."""
    labels, count = np.full(mask.shape, -1), 0
    for start in zip(*np.nonzero(mask)):
        if labels[start] >= 0:
            continue
        labels[start] = count
        queue = deque([start])
        while queue:
            r, c = queue.popleft()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < mask.shape[0] and 0 <= cc < mask.shape[1] and mask[rr, cc] and labels[rr, cc] < 0:
                        labels[rr, cc] = count
                        queue.append((rr, cc))
        count += 1
    return labels


def test_label_components_matches_a_flood_fill():
    rng = np.random.default_rng(1)
    for density in (0.05, 0.2, 0.4, 0.55, 0.8):
        mask = rng.random((40, 50)) < density
        labels, count = label_components(mask)
        expected = _flood_fill(mask)
        assert count == expected.max() + 1
        # The same partition of the ink, numbered in the same (row-major first pixel) order.
        assert (labels == expected).all()


def test_large_thick_writing_is_read_as_at_small_size(mnist):
    """A number written 3x larger (a canvas, a close-up photo) is analysed on a coarser copy of
    its ink: the same digits come out, prepared alike, with boxes in the caller's pixels."""
    glyphs = [digit(mnist, d) for d in (3, 0, 7)]
    small, small_boxes = write(glyphs)
    big = np.asarray(Image.fromarray(small).resize((small.shape[1] * 3, small.shape[0] * 3),
                                                   Image.Resampling.BICUBIC), dtype=np.float32).clip(0, 1)
    found_small, found_big = segment(small), segment(big)
    assert_found(found_big, [tuple(3 * v for v in box) for box in small_boxes])
    for a, b in zip(found_small, found_big):
        assert np.abs(a.image - b.image).mean() < 0.03


def test_a_wide_group_the_model_is_sure_of_is_not_cut(monkeypatch):
    """The whole-group gate: touching zeros the stand-in model reads as one digit with near certainty stay
    one (and no cut is searched for); below the gate, or with the gate off, they are cut as before."""
    import tinyvision.image.segment as seg

    def zeros(d):
        d.ellipse([(30, 30), (95, 110)], outline=255, width=8)
        d.ellipse([(93, 30), (158, 110)], outline=255, width=8)

    ink = strokes((140, 190), zeros)
    monkeypatch.setattr(seg, "WHOLE_CONFIDENCE", 0.999)
    searched = []
    real_cuts = seg.candidate_cuts
    monkeypatch.setattr(seg, "candidate_cuts", lambda *a: searched.append(1) or real_cuts(*a))
    sure = segment(ink, score=lambda images: [0.9995] * len(images))
    assert len(sure) == 1 and sure[0].confidence == 0.9995 and not searched
    unsure = segment(ink, score=lambda images: [0.99] * len(images))
    assert len(unsure) == 2 and searched
    monkeypatch.setattr(seg, "WHOLE_CONFIDENCE", None)
    assert len(segment(ink, score=lambda images: [0.9995] * len(images))) == 2


def test_a_lone_mark_is_read_as_k_digits_only_when_k_halves_of_the_bar_wide(monkeypatch):
    """With a lone-mark width of 1.1, an m alone (1.3 x as wide as tall) is cut, but not into three digits
    ("111": three would need 3 / 2 x 1.1 = 1.65); the cap leaves the best reading of at most two. Without
    the cap the stand-in model's reading is three."""
    import tinyvision.image.segment as seg

    monkeypatch.setattr(seg, "LONE_SPLIT_ASPECT", 1.1)

    def m(d):  # three stems joined by two arches, as an m is written
        for x in (30, 90, 150):
            d.line([(x, 40), (x, 110)], fill=255, width=8)
        d.arc([(30, 20), (90, 80)], 180, 360, fill=255, width=8)
        d.arc([(90, 20), (150, 80)], 180, 360, fill=255, width=8)

    ink = strokes((150, 190), m)

    def narrow_is_sure(images):  # a stand-in model, sure only of narrow candidates (a stem: "1")
        return [0.99 if np.ptp(np.nonzero(image.max(0) > 0.3)[0]) <= 12 else 0.3 for image in images]

    rows, cols = np.nonzero(ink > 0.25)
    assert 1.2 < np.ptp(cols) / np.ptp(rows) < 1.5 and label_components(ink > 0.25)[1] == 1
    assert len(segment(ink, score=narrow_is_sure)) <= 2
    monkeypatch.setattr(seg, "LONE_DIGIT_CAP", False)
    assert len(segment(ink, score=narrow_is_sure)) == 3


def test_marks_are_counted_as_the_segmenter_groups_their_pieces():
    """count_marks (read_number holds a refusal of one mark, as a letter is, to its own rescue bar): the halves
    of an 8 drawn open are one mark, an i and its dot one, a 1 beside an 8 two; a speck is none."""
    from tinyvision.image.segment import count_marks

    def eight(d, dx=0):  # drawn open: two rings, one over the other, not touching
        d.ellipse([(60 + dx, 20), (110 + dx, 62)], outline=255, width=8)
        d.ellipse([(55 + dx, 70), (115 + dx, 125)], outline=255, width=8)

    def one(d, x):
        d.line([(x, 20), (x, 125)], fill=255, width=8)

    def i(d):
        d.line([(40, 60), (40, 125)], fill=255, width=8)
        d.ellipse([(35, 35), (45, 45)], fill=255)

    assert count_marks(strokes((150, 170), eight)) == 1
    assert count_marks(strokes((150, 170), i)) == 1
    assert count_marks(strokes((150, 300), lambda d: (one(d, 40), eight(d, 120)))) == 2
    assert count_marks(strokes((150, 300), lambda d: (one(d, 40), one(d, 120), d.point([(250, 140)], fill=255)))) == 2
    assert count_marks(np.zeros((50, 50), np.float32)) == 0

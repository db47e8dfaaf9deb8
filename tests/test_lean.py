"""image.lean: how far a number's digits lean, and the ink map stood upright with its boxes mapped back."""

import numpy as np
import pytest
import torch

from tinyvision.image.lean import MAX_SHEAR, MNIST_LEAN, ink_lean, stand_upright


def leaning_bars(lean: float, count: int = 3, side: int = 200) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """An ink map of `count` bars (digit-high strokes, as 1s are) on a level line, each leaning by `lean` columns
    per row downwards; the map and each bar's centre (x, y)."""
    ink = np.zeros((side, side * 2), np.float32)
    centres = []
    for k in range(count):
        cx, cy = 60 + 80 * k, side / 2
        for y in range(int(cy) - 40, int(cy) + 40):
            x = cx + lean * (y - cy)
            ink[y, round(x) - 4 : round(x) + 4] = 1.0
        centres.append((cx, cy))
    return ink, centres


@pytest.mark.parametrize("lean", [-0.6, -0.12, 0.0, 0.4])
def test_how_far_digits_lean_is_measured_from_their_ink(lean):
    ink, _ = leaning_bars(lean)
    assert abs(ink_lean(ink) - lean) < 0.08
    assert ink_lean(np.zeros((40, 40), np.float32)) is None


def test_mnist_digits_lean_as_the_reader_takes_upright():
    from tinyvision.datasets import load_dataset

    # MNIST_LEAN is the median of the first 20,000; the first 10,000 are within 0.01 of it (the first 2,000,
    # a few writers' digits, lean 0.035 further).
    images = load_dataset("mnist").train_images[:10000, 0].numpy().astype(np.float32) / 255.0
    assert abs(float(np.median([ink_lean(image) for image in images])) - MNIST_LEAN) < 0.02


def test_stood_upright_the_digits_lean_as_mnists_and_their_boxes_map_back():
    ink, centres = leaning_bars(0.5)
    upright, shear = stand_upright(ink, ink_lean(ink))
    assert abs(ink_lean(upright) - MNIST_LEAN) < 0.05
    assert upright.shape[0] == ink.shape[0] and upright.shape[1] > ink.shape[1]
    assert abs(float(upright.sum()) - float(ink.sum())) < 0.02 * float(ink.sum())  # nothing cut off
    # Each bar's box in the upright map, mapped back, is around the bar where it was.
    columns = np.flatnonzero(upright.max(0) > 0.5)
    runs = np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)
    assert len(runs) == len(centres)
    rows = np.flatnonzero(upright.max(1) > 0.5)
    for run, (x, y) in zip(runs, centres):
        top, left, bottom, right = shear.box_back((int(rows[0]), int(run[0]), int(rows[-1]) + 1, int(run[-1]) + 1))
        assert left <= x <= right and top <= y <= bottom, (top, left, bottom, right, x, y)
        assert right - left < 70  # around that bar alone, not its neighbours (80 apart)


def test_ink_lying_nearly_level_is_never_sheared_and_its_upload_stays_cheap(brief_digit_run, monkeypatch):
    # A stroke lying nearly level "leans" by hundreds of columns per row: sheared upright, one upload of a line
    # made a map 68,562 px wide (1.8 GB, 5 s). It is no leaning digit, and the reader does not shear it.
    from PIL import Image, ImageDraw

    import tinyvision
    from tinyvision.image.warp import Warp

    ink = np.zeros((200, 500), np.float32)
    for x in range(10, 490):
        y = round(100 + 3 * (x - 10) / 480)
        ink[y - 1 : y + 2, x] = 1.0
    assert abs(ink_lean(ink) - MNIST_LEAN) > MAX_SHEAR and stand_upright(ink, ink_lean(ink)) is None

    warped = []
    apply = Warp.apply

    def recorded(self: Warp, ink: np.ndarray) -> np.ndarray:
        warped.append((self.shape, self.warped_shape))
        return apply(self, ink)

    monkeypatch.setattr(Warp, "apply", recorded)
    line = Image.new("L", (1000, 1000), 255)
    ImageDraw.Draw(line).line([(50, 500), (950, 506)], fill=0, width=3)
    model = tinyvision.load(brief_digit_run.path)
    model.predict(line)  # (a briefly trained model may read it as a digit: what is checked is the cost)
    # Any second reading's map is at most MAX_SHEAR x its height wider than the ink map read first.
    assert all(columns <= w + MAX_SHEAR * h + 1 for (h, w), (_, columns) in warped), warped


def test_a_refusal_of_one_mark_is_rescued_upright_only_at_its_own_bar(brief_digit_run, monkeypatch):
    # A letter is one mark: sheared upright, refused m's and w's were cut into digits ("11", "26") or passed for
    # one, 0.95-0.99 likely. A refusal of one mark is answered upright at LEAN_RESCUE_LONE; a refusal of several
    # (an italic number, its digits apart) at LEAN_RESCUE. Validation chose the same bar for both (table
    # lean-lone); here each bar is set apart. The readings are stand-ins: the first refuses, the upright one
    # answers at a chosen likelihood.
    from PIL import Image

    import tinyvision
    import tinyvision.read_number as rn
    from tinyvision.classifier import Prediction

    model = tinyvision.load(brief_digit_run.path)
    upright_at = []

    def reading(model, ink, signs, frame, confidence) -> Prediction:
        pixels = torch.zeros(model.input_shape, dtype=torch.uint8)
        if frame.warp is None:  # the first reading, as the ink was found
            return Prediction(None, {}, pixels, reason="not a digit")
        return Prediction("1", {}, pixels, digits=({"class": "1", "probability": upright_at[-1], "box": [0, 0, 1, 1]},))

    monkeypatch.setattr(rn, "read_ink", reading)

    def answer(marks: int, likely: float) -> str | None:
        ink, _ = leaning_bars(0.6, count=marks)
        upright_at.append(likely)
        return model.predict(Image.fromarray(np.uint8(255 - 255 * ink))).label

    monkeypatch.setattr(rn, "LEAN_RESCUE", 0.95)
    monkeypatch.setattr(rn, "LEAN_RESCUE_LONE", 0.99)
    assert answer(2, 0.95) == "1" and answer(2, 0.94) is None
    assert answer(1, 0.98) is None and answer(1, 0.99) == "1"
    monkeypatch.setattr(rn, "LEAN_RESCUE_LONE", None)
    assert answer(1, 1.0) is None and answer(2, 0.96) == "1"

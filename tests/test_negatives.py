"""Non-digits for outlier exposure, the loss that uses them, and the rejection threshold."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tinyvision import font_digits, hand_digits, negatives
from tinyvision.calibration import (
    ENERGY,
    choose_rejection,
    default_quantile,
    number_thresholds,
    refusal_scores,
    refused_mask,
    reject_reason,
    rejection_threshold,
)
from tinyvision.training.loop import train_step, uniform_cross_entropy


def test_generated_negatives_are_prepared_like_digits_and_seeded():
    images, kinds = negatives.generate_negatives(60, seed=3)
    assert images.shape == (60, 28, 28) and images.dtype == np.uint8 and len(kinds) == 60
    again, _ = negatives.generate_negatives(60, seed=3)
    other, _ = negatives.generate_negatives(60, seed=4)
    assert np.array_equal(images, again) and not np.array_equal(images, other)
    assert set(kinds) <= set(negatives.KINDS) and len(set(kinds)) >= 4
    # The digit preparation: ink within a 20x20 box, centre of mass near (14, 14).
    for image in images:
        rows, cols = np.nonzero(image)
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 20
        mass = image.astype(np.float64)
        r = (mass.sum(1) @ np.arange(28)) / mass.sum()
        c = (mass.sum(0) @ np.arange(28)) / mass.sum()
        assert abs(r - 14) <= 4 and abs(c - 14) <= 4  # box clipping at the field's edge may shift it


def test_letters_that_pass_for_digits_are_never_negatives():
    assert not set(negatives.LETTERS) & set("OolI1SZzB")


def test_load_negatives_caches_what_it_generates(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYVISION_DATA", str(tmp_path))
    first = negatives.load_negatives(24, seed=7)
    assert first.shape == (24, 1, 28, 28) and first.dtype == torch.uint8
    assert negatives.cache_file(24, 7).is_file()
    assert torch.equal(negatives.load_negatives(24, seed=7), first)


@pytest.mark.skipif(not negatives.BUNDLE.is_file(), reason="no bundled negatives")
def test_bundled_negatives_are_prepared_non_digits_of_every_kind():
    bundled = negatives.load_negatives()
    assert bundled.shape == (negatives.DEFAULT_COUNT, 1, 28, 28) and bundled.dtype == torch.uint8
    assert negatives.held_out_negatives().shape == (negatives.HELD_OUT_COUNT, 1, 28, 28)
    with np.load(negatives.BUNDLE) as z:
        kinds = set(z["train_kinds"].tolist())
    assert set(negatives.KINDS) | {"font-letters"} == kinds
    ink = bundled.flatten(1) > 0
    assert bool(ink.any(1).all())  # every image has ink: blank ones never reach a model


@pytest.mark.skipif(not font_digits.BUNDLE.is_file(), reason="no bundled font digits")
def test_bundled_font_digits_are_balanced_prepared_digits():
    images, labels = font_digits.load_font_digits()
    assert images.shape[1:] == (1, 28, 28) and images.dtype == torch.uint8 and len(images) == len(labels)
    assert torch.bincount(labels, minlength=10).tolist() == [len(labels) // 10] * 10


def test_missing_font_digits_say_how_to_make_them(tmp_path):
    from tinyvision.errors import TinyVisionError

    with pytest.raises(TinyVisionError, match="make_font_digits"):
        font_digits.load_font_digits(tmp_path / "nope.npz")


def test_uniform_cross_entropy_is_smallest_for_a_uniform_answer():
    flat = torch.zeros(4, 10, requires_grad=True)
    loss = uniform_cross_entropy(flat)
    loss.backward()
    assert math.isclose(float(loss.detach()), math.log(10), rel_tol=1e-6)
    assert float(flat.grad.abs().max()) < 1e-7
    assert float(uniform_cross_entropy(torch.eye(10)[:4] * 5)) > math.log(10)


def test_outlier_exposure_lowers_confidence_on_outliers():
    torch.manual_seed(0)
    x_in, y = torch.randn(64, 8) + 2, torch.randint(0, 3, (64,))
    x_in[torch.arange(64), y] += 4  # separable digits
    x_out = torch.randn(32, 8) * 3  # outliers
    confidences = []
    for weight in (0.0, 1.0):
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(200):
            train_step(model, opt, torch.cat([x_in, x_out]), y, 0.0, None, weight)
        with torch.no_grad():
            confidences.append(float(model(x_out).softmax(1).amax(1).mean()))
        loss, correct = train_step(model, opt, torch.cat([x_in, x_out]), y, 0.0, None, weight)
        assert int(correct) > 50  # digits are still learnt, and counted alone
    assert confidences[1] < confidences[0] - 0.1 and confidences[1] < 0.5


def test_threshold_refuses_at_most_the_chosen_share_of_validation():
    confidence = torch.linspace(0.05, 1.0, 1000)
    threshold = rejection_threshold(confidence, 0.01)
    assert float((confidence < threshold).float().mean()) <= 0.01
    logits = torch.stack([10 * confidence, torch.zeros_like(confidence)], 1)  # calibrated logits
    negatives_ = torch.full((50, 2), -5.0)  # the network hardly responds: a low energy
    report = choose_rejection(logits, 0.01, "digits", negatives_)
    assert report["reason"] == "not a digit" and report["score"] == ENERGY and report["val_digits_rejected"] <= 0.01
    assert report["val_negatives_rejected"] == 1.0
    report = choose_rejection(logits, 0.02, "clothes")
    assert report["reason"] == "unsure" and report["score"] == "top probability" and report["val_rejected"] <= 0.02
    # --reject-quantile's default: lower for a digit model taught non-digits, which refuses them anyway
    assert default_quantile("digits", True) == 0.003
    assert default_quantile("digits", False) == default_quantile("clothes", True) == 0.01


def test_too_few_validation_images_set_no_threshold_rather_than_refuse_too_many():
    # A small folder's 30 validation images put the 1% bar at their lowest score, and 8% of its test images
    # were refused (a 61-image folder: half). A bar is set only where n can bound it (split conformal).
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(2000, generator=g)
    assert rejection_threshold(scores[:30], 0.01) is None and rejection_threshold(scores[:98], 0.01) is None
    assert rejection_threshold(scores[:99], 0.01) == float(scores[:99].min())
    refused = [float((scores[500:] < rejection_threshold(scores[i : i + 99], 0.01)).float().mean())
               for i in range(0, 495, 99)]  # five separate validation splits of 99, each judged on 1,500 more
    assert sum(refused) / len(refused) < 0.02
    logits = torch.stack([4 * scores[:30], torch.zeros(30)], 1)
    report = choose_rejection(logits, 0.01, "clothes")
    assert "threshold" not in report and report["val_rejected"] == 0.0 and "30 validation images" in report["note"]
    assert refused_mask(logits, report).sum() == 0  # a card without a bar answers everything


def test_a_number_of_k_real_digits_is_refused_as_rarely_as_one_digit():
    """With one bar for all, a 4-digit number of validation-like digits is refused ~4x as often as a
    digit; each k's bar keeps it at the chosen share (checked on numbers drawn from the same digits)."""
    g = torch.Generator().manual_seed(0)
    confidence = 1 - torch.rand(20000, generator=g) ** 3 * 0.5  # most near 1, a tail of doubtful digits
    bars = number_thresholds(confidence, 0.01, 6)
    assert list(bars) == ["2", "3", "4", "5", "6"]
    assert all(bars[str(k)] > bars[str(k + 1)] for k in range(2, 6))  # more digits, a lower bar
    single = rejection_threshold(confidence, 0.01)
    for k in (2, 4, 6):
        numbers = confidence[torch.randint(len(confidence), (40000, k), generator=g)].min(1).values
        assert abs(float((numbers < bars[str(k)]).float().mean()) - 0.01) < 0.003
        assert float((numbers < single).float().mean()) > 0.8 * k * 0.01  # the single bar refuses ~k x as many
    logits = torch.stack([8 * confidence, torch.zeros_like(confidence)], 1)
    report = choose_rejection(logits, 0.01, "digits")
    assert report["number_thresholds"]["2"] == pytest.approx(number_thresholds(refusal_scores(logits, ENERGY), 0.01,
                                                                               6)["2"])
    assert "number_thresholds" not in choose_rejection(logits, 0.01, "clothes")


def test_reject_reason_reads_the_card():
    reject = {"threshold": 0.6, "reason": "not a digit", "number_thresholds": {"3": 0.4}}  # an older card's
    p = lambda *probs: torch.tensor(probs).log()  # noqa: E731 - calibrated logits with these probabilities
    assert reject_reason(p(0.5, 0.5), reject) == "not a digit"
    assert reject_reason(p(0.9, 0.1), reject) is None
    assert reject_reason(p(0.5, 0.5), {}) is None
    # The least confident digit of a number written as 3 separate marks meets the 3-digit bar; a card
    # without a bar for that count (or an older card) uses the single-digit one.
    assert reject_reason(p(0.5, 0.5), reject, digits=3) is None
    assert reject_reason(p(0.3, 0.7), reject, digits=3) is None
    assert reject_reason(p(0.35, 0.35, 0.3), reject, digits=3) == "not a digit"
    assert reject_reason(p(0.5, 0.5), reject, digits=2) == "not a digit"


def test_an_energy_card_refuses_what_the_network_hardly_responds_to_however_peaked():
    """A digit card judges the energy (log-sum-exp of the calibrated logits), not the top probability:
    a weak response that happens to favour one class is refused; a strong one between two classes is not."""
    reject = {"threshold": 2.0, "score": ENERGY, "reason": "not a digit"}
    weak_but_peaked = torch.tensor([-3.0, -10.0])  # top probability 0.999, energy about -3
    strong_but_split = torch.tensor([6.0, 6.0])  # top probability 0.5, energy about 6.7
    assert weak_but_peaked.softmax(0).max() > 0.99 and reject_reason(weak_but_peaked, reject) == "not a digit"
    assert reject_reason(strong_but_split, reject) is None
    assert reject_reason(weak_but_peaked, {**reject, "score": "top probability", "threshold": 0.6}) is None


def test_fit_stores_an_unsure_threshold_for_other_datasets(tiny_dataset, tmp_path):
    from conftest import fit_run
    from tinyvision.config import RunConfig

    cfg = RunConfig(dataset=tiny_dataset, model="tutorial-b", epochs=1, batch_size=32, translate=0, ema=0.0)
    result = fit_run(cfg, tmp_path / "run")
    reject = result.card.reject
    assert reject["reason"] == "unsure" and reject["val_rejected"] <= 0.01 + 1e-9  # the default for such models
    assert result.metrics["rejection"] == reject


def test_outlier_exposure_needs_a_digit_dataset(tiny_dataset, tmp_path):
    from conftest import fit_run
    from tinyvision.config import RunConfig
    from tinyvision.errors import TinyVisionError

    cfg = RunConfig(dataset=tiny_dataset, model="tutorial-b", epochs=1, batch_size=32, outlier_exposure=0.5)
    with pytest.raises(TinyVisionError, match="not a digit dataset"):
        fit_run(cfg, tmp_path / "run")


def test_merged_pairs_are_two_digits_side_by_side_prepared_as_one_and_seeded():
    from digit_photos import one_of_each_digit
    from tinyvision.merged_pairs import merged_pairs

    digits = torch.stack(one_of_each_digit())  # uint8 (10, 1, 28, 28)
    pairs = merged_pairs(digits, 40, seed=5)
    assert pairs.shape == (40, 1, 28, 28) and pairs.dtype == torch.uint8
    assert torch.equal(pairs, merged_pairs(digits, 40, seed=5)) and not torch.equal(pairs, merged_pairs(digits, 40, 6))
    widths, heights = [], []
    for image in pairs[:, 0].numpy():
        rows, cols = np.nonzero(image > 25)
        heights.append(rows.max() - rows.min() + 1)
        widths.append(cols.max() - cols.min() + 1)
    # Two digits in one 20x20 box: wider than tall (a single MNIST digit is about 20 tall, 15 wide) ...
    assert np.median(np.array(widths) / np.array(heights)) > 1.2 and max(widths) <= 21
    # ... whose strokes meet: one connected stroke region in most of them.
    from tinyvision.image.components import label_components

    joined = sum(label_components(image > 60)[1] == 1 for image in pairs[:, 0].numpy())
    assert joined >= 20


def test_merged_pairs_are_made_from_a_memory_mapped_split_too(tmp_path):
    """A folder dataset too large for memory stays in its mapped file: the pairs are gathered from it,
    the same pairs as from the split in memory (they were once skipped there without a word)."""
    from digit_photos import one_of_each_digit
    from tinyvision.config import RunConfig
    from tinyvision.datasets.folder_cache import ImageStore, MappedImages
    from tinyvision.datasets.registry import spec_for
    from tinyvision.training.setup import load_outliers

    digits = torch.stack(one_of_each_digit())
    path = tmp_path / "images.u8"
    path.write_bytes(digits.numpy().tobytes())
    mapped = MappedImages(ImageStore(path, (1, 28, 28), len(digits)), np.arange(len(digits)))
    cfg = RunConfig(outlier_exposure=0.5, merged_pairs=30, seed=3)
    with_map = load_outliers(cfg, spec_for("mnist"), torch.device("cpu"), mapped)
    in_memory = load_outliers(cfg, spec_for("mnist"), torch.device("cpu"), digits)
    assert len(with_map) == len(negatives.load_negatives()) + 30 and torch.equal(with_map, in_memory)


def test_merged_pairs_need_outlier_exposure():
    from tinyvision.config import RunConfig
    from tinyvision.errors import TinyVisionError

    with pytest.raises(TinyVisionError, match="needs outlier_exposure"):
        RunConfig(merged_pairs=100).validate()


def test_a_number_of_separate_marks_is_judged_by_its_digit_counts_bar(monkeypatch):
    """read_number's rule: two digits written apart meet the 2-digit bar; the same two digits cut out of
    one mark (as likely a letter: u read as 11) must each meet the single-digit bar."""
    import tinyvision.read_number as rn

    model = SimpleNamespace(classes=("1", "7"), card=SimpleNamespace(reject={"threshold": 0.6, "reason": "not a digit",
                                                         "number_thresholds": {"2": 0.45}}))
    probs = torch.tensor([[0.95, 0.05], [0.5, 0.5]]).log()  # calibrated logits with these probabilities
    monkeypatch.setattr(rn, "LONE_CUT_BAR", None)  # the next test's rule
    assert rn.rejection(model, probs, separate=True) is None
    assert rn.rejection(model, probs, separate=False) == "not a digit"
    monkeypatch.setattr(rn, "NUMBER_RULE", "never")
    assert rn.rejection(model, probs, separate=True) == "not a digit"
    monkeypatch.setattr(rn, "NUMBER_RULE", "always")
    assert rn.rejection(model, probs, separate=False) is None


def test_one_mark_cut_into_digits_is_read_only_when_every_digit_clears_the_cut_bar(monkeypatch):
    """A letter's halves pass the single-digit bar as "11" more easily than a touching number's digits
    do: one mark cut into digits needs each digit at LONE_CUT_BAR; digits written apart, or one digit
    alone, are held only to the card's bars."""
    import tinyvision.read_number as rn

    model = SimpleNamespace(classes=("1", "7"), card=SimpleNamespace(reject={"threshold": 0.6, "reason": "not a digit",
                                                         "number_thresholds": {"2": 0.45}}))
    probs = torch.tensor([[0.99, 0.01], [0.9, 0.1]]).log()  # calibrated logits with these probabilities
    monkeypatch.setattr(rn, "LONE_CUT_BAR", 0.95)
    assert rn.rejection(model, probs, separate=False) == "not a digit"
    assert rn.rejection(model, probs, separate=True) is None
    assert rn.rejection(model, probs[1:], separate=False) is None  # one digit: the card's bar alone
    assert rn.rejection(model, torch.tensor([[0.99, 0.01], [0.02, 0.98]]).log(), separate=False) is None
    monkeypatch.setattr(rn, "LONE_CUT_BAR", None)
    assert rn.rejection(model, probs, separate=False) is None


def test_several_marks_with_one_cut_are_read_only_when_the_whole_reading_clears_the_several_cut_bar(monkeypatch):
    """A word is several marks, and its letters, cut, pass for digits one by one: a reading of several marks
    of which one was cut into digits needs the product of its digits' probabilities (the chance that every
    digit is right) at SEVERAL_CUT_BAR. Marks read uncut are held only to the card's bars."""
    import tinyvision.read_number as rn

    model = SimpleNamespace(classes=("1", "7"), card=SimpleNamespace(reject={"threshold": 0.6, "reason": "not a digit",
                                                         "number_thresholds": {"3": 0.45}}))
    probs = torch.tensor([[0.99, 0.01], [0.98, 0.02], [0.75, 0.25]]).log()  # calibrated logits, these probabilities
    monkeypatch.setattr(rn, "LONE_CUT_BAR", None)
    monkeypatch.setattr(rn, "SEVERAL_CUT_BAR", 0.8)
    assert rn.rejection(model, probs, separate=True, cut=True) == "not a digit"  # 0.99 x 0.98 x 0.75 = 0.73
    assert rn.rejection(model, probs, separate=True, cut=False) is None  # written apart: the 3-digit bar
    assert rn.rejection(model, probs[:2], separate=True, cut=True) is None  # 0.97: sure enough
    two_doubts = torch.tensor([[0.99, 0.01], [0.88, 0.12], [0.88, 0.12]]).log()  # each digit above 0.8 ...
    assert rn.rejection(model, two_doubts, separate=True, cut=True) == "not a digit"  # ... but 0.77 as a whole
    monkeypatch.setattr(rn, "SEVERAL_CUT_BAR", None)
    assert rn.rejection(model, probs, separate=True, cut=True) is None
    monkeypatch.setattr(rn, "SEVERAL_CUT_BAR", 0.8)
    no_rule = SimpleNamespace(classes=("1", "7"), card=SimpleNamespace(reject={}))  # no refusal rule: all answered
    assert rn.rejection(no_rule, probs, separate=True, cut=True) is None


def cut_reading(*digits: tuple[int, float]) -> torch.Tensor:
    """Calibrated logits of a reading: each (digit, probability), the rest spread over the other classes."""
    probs = torch.empty(len(digits), 10)
    for row, (digit, p) in enumerate(digits):
        probs[row] = (1 - p) / 9
        probs[row, digit] = p
    return probs.log()


def test_a_cut_reading_without_a_stroke_digit_is_held_to_the_plain_bars(monkeypatch):
    """Cut apart, a letter's strokes pass for 1s and 7s (an n read "11", an h "17"): a cut reading with
    neither digit needs each digit only at LONE_CUT_BAR_PLAIN (one mark) or their product at
    SEVERAL_CUT_BAR_PLAIN (several marks); a reading with a 1 or a 7 is held to the full bars."""
    import tinyvision.read_number as rn

    model = SimpleNamespace(classes=tuple("0123456789"), card=SimpleNamespace(reject={
        "threshold": 0.6, "reason": "not a digit", "number_thresholds": {"2": 0.45, "3": 0.45}}))
    monkeypatch.setattr(rn, "LONE_CUT_BAR", 0.999)
    monkeypatch.setattr(rn, "LONE_CUT_BAR_PLAIN", 0.98)
    assert rn.rejection(model, cut_reading((2, 0.999), (3, 0.99))) is None  # a touching "23"
    assert rn.rejection(model, cut_reading((1, 0.999), (1, 0.99))) == "not a digit"  # "11", an n's strokes
    assert rn.rejection(model, cut_reading((2, 0.999), (7, 0.99))) == "not a digit"
    assert rn.rejection(model, cut_reading((2, 0.999), (3, 0.97))) == "not a digit"  # under the plain bar too
    monkeypatch.setattr(rn, "LONE_CUT_BAR_PLAIN", None)  # one bar for all
    assert rn.rejection(model, cut_reading((2, 0.999), (3, 0.99))) == "not a digit"
    monkeypatch.setattr(rn, "LONE_CUT_BAR", None)  # no bar at all: the plain bar does not make one
    monkeypatch.setattr(rn, "LONE_CUT_BAR_PLAIN", 0.98)
    assert rn.rejection(model, cut_reading((2, 0.999), (3, 0.9))) is None

    monkeypatch.setattr(rn, "SEVERAL_CUT_BAR", 0.95)
    monkeypatch.setattr(rn, "SEVERAL_CUT_BAR_PLAIN", 0.8)
    number = cut_reading((8, 0.9999), (2, 0.85), (2, 0.9999))  # "822", its cut 2 at 0.85
    assert rn.rejection(model, number, separate=True, cut=True) is None
    word = cut_reading((8, 0.9999), (1, 0.85), (2, 0.9999))  # "812": a 1 among them
    assert rn.rejection(model, word, separate=True, cut=True) == "not a digit"
    assert rn.rejection(model, cut_reading((8, 0.9999), (2, 0.75), (2, 0.9999)), separate=True, cut=True) \
        == "not a digit"  # under the plain bar too


@pytest.mark.skipif(not hand_digits.BUNDLE.is_file(), reason="no bundled hand digits")
def test_bundled_hand_digits_are_other_writers_with_validation_rows_held_out():
    fit_x, fit_y = hand_digits.load_hand_digits("fit")
    check_x, check_y = hand_digits.load_hand_digits("check")
    assert fit_x.shape[1:] == (1, 28, 28) and fit_x.dtype == torch.uint8 and len(fit_x) == len(fit_y)
    assert len(check_x) * 8 < len(fit_x) < len(check_x) * 10  # a tenth held out for validation
    assert (torch.bincount(fit_y, minlength=10) > len(fit_y) // 20).all()  # every digit, none rare
    assert bool((fit_x.flatten(1) > 0).any(1).all())  # every image has ink
    with np.load(hand_digits.BUNDLE) as z:  # no UCI row on both sides, and only the training writers' rows
        rows = {(s, int(r)) for s, r, c in zip(z["source"], z["uci_row"], z["check"]) if c}
        assert not rows & {(s, int(r)) for s, r, c in zip(z["source"], z["uci_row"], z["check"]) if not c}
        limits = {"uci-optdigits": 3823, "uci-pendigits": 7494}  # UCI's training-writer rows come first
        assert all(int(r) < limits[s] for s, r in zip(z["source"], z["uci_row"]))
    pen_x, _ = hand_digits.load_hand_digits("fit", variants=("pen",))
    assert 0 < len(pen_x) < len(fit_x)


def test_missing_hand_digits_say_how_to_make_them(tmp_path):
    from tinyvision.errors import TinyVisionError

    with pytest.raises(TinyVisionError, match="make_hand_digits"):
        hand_digits.load_hand_digits(path=tmp_path / "nope.npz")


def test_hand_digits_need_a_digit_dataset(tiny_dataset, tmp_path):
    from conftest import fit_run
    from tinyvision.config import RunConfig
    from tinyvision.errors import TinyVisionError

    cfg = RunConfig(dataset=tiny_dataset, model="tutorial-b", epochs=1, batch_size=32, hand_digits=0.25)
    with pytest.raises(TinyVisionError, match="hand_digits adds other writers' digits; tiny is not a digit dataset"):
        fit_run(cfg, tmp_path / "run")

"""The one inference path: test-time augmentation, temperature, and the metrics computed from it."""

import numpy as np
import pytest
import torch
from torch import nn

from tinyvision.calibration import fit_temperature
from tinyvision.evaluate import evaluate, expected_calibration_error, per_class_metrics, summary_metrics
from tinyvision.inference import TTA, InferenceGraph, as_log_probs, calibrated_logits, shifted_views
from tinyvision.normalization import Normalization

PLAIN = Normalization((0.0,), (1.0,))


def predict_logits(network, images, tta=0, flip=False, temperature=1.0):
    graph = InferenceGraph(network, PLAIN, TTA(tta, flip), temperature).eval()
    return as_log_probs(calibrated_logits(graph, images))


def test_shifted_views_cover_every_offset_once():
    image = torch.zeros(1, 1, 5, 5, dtype=torch.uint8)
    image[0, 0, 2, 2] = 255  # one bright pixel in the middle
    views = shifted_views(image, 1)
    assert len(views) == 9 and torch.equal(views[0], image)
    where = {tuple(torch.nonzero(v[0, 0])[0].tolist()) for v in views}
    assert where == {(r, c) for r in (1, 2, 3) for c in (1, 2, 3)}


class CentrePixel(nn.Module):
    """Says class 1 when the centre pixel is bright, class 0 otherwise: blind to shifted digits."""

    def forward(self, x):
        centre = x[:, 0, 2, 2]  # 0 or 1
        return torch.stack([1 - 2 * centre, 2 * centre - 1], 1) * 20


def test_tta_averages_probabilities_over_shifts():
    image = torch.zeros(1, 1, 5, 5, dtype=torch.uint8)
    image[0, 0, 2, 3] = 255  # one pixel off centre: the plain model misses it
    plain = predict_logits(CentrePixel(), image)
    assert plain.argmax(1).item() == 0
    averaged = predict_logits(CentrePixel(), image, tta=1)
    # One view of nine sees the pixel: its vote is 1/9 of the average probability.
    assert torch.allclose(averaged.exp().sum(1), torch.ones(1))
    assert averaged.exp()[0, 1].item() == pytest.approx(1 / 9, abs=1e-4)
    result = evaluate(InferenceGraph(CentrePixel(), PLAIN, TTA(1)), image, torch.tensor([0]))
    assert result.loss == pytest.approx(-torch.log(torch.tensor(8 / 9)).item(), abs=1e-4)


class LeftPixel(nn.Module):
    """Says class 1 when the pixel at column 1 is bright: blind to the mirror image."""

    def forward(self, x):
        seen = x[:, 0, 2, 1]
        return torch.stack([1 - 2 * seen, 2 * seen - 1], 1) * 20


def test_flip_tta_averages_each_image_with_its_mirror():
    image = torch.zeros(1, 1, 5, 5, dtype=torch.uint8)
    image[0, 0, 2, 3] = 255  # column 3: its mirror image has the pixel at column 1
    assert predict_logits(LeftPixel(), image).argmax(1).item() == 0
    averaged = predict_logits(LeftPixel(), image, flip=True)
    assert averaged.exp()[0].tolist() == pytest.approx([0.5, 0.5], abs=1e-4)
    # Shifts and mirrors combine: of 9 shifted views and their 9 mirrors, two see the pixel.
    both = predict_logits(CentrePixel(), image, tta=1, flip=True)
    assert both.exp()[0, 1].item() == pytest.approx(2 / 18, abs=1e-4)


class Fixed(nn.Module):
    """Returns given logits, whatever the input."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, x):
        return self.logits[: len(x)]


def test_temperature_changes_confidence_never_the_prediction():
    logits = torch.randn(200, 10) * 4
    images = torch.zeros(200, 1, 5, 5, dtype=torch.uint8)
    cold, hot = predict_logits(Fixed(logits), images), predict_logits(Fixed(logits), images, temperature=3.0)
    assert torch.equal(cold.argmax(1), hot.argmax(1))
    assert (hot.exp().max(1).values <= cold.exp().max(1).values + 1e-6).all()


def test_calibration_finds_the_temperature_that_made_the_labels():
    """Labels drawn from softmax(z / 2): temperature scaling must recover T close to 2 and lower the ECE."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(20000, 10, generator=g) * 5
    labels = torch.multinomial((logits / 2).softmax(1), 1, generator=g).flatten()
    t = fit_temperature(logits[None], labels)
    assert t == pytest.approx(2.0, rel=0.05)
    before = expected_calibration_error(logits.softmax(1), labels)
    after = expected_calibration_error((logits / t).softmax(1), labels)
    assert after < 0.02 < before


def test_a_validation_split_too_small_or_never_wrong_leaves_the_model_uncalibrated(tmp_path, monkeypatch):
    # A folder's 10 validation photos, all right, fitted T 0.12: every answer "100%", refusals included.
    from tinyvision.calibration import too_few_to_calibrate

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(500, 10, generator=g) * 3
    labels = logits.argmax(1)  # none misread
    assert fit_temperature(logits[None], labels) < 0.1  # the fit runs to its bound
    assert "not calibrated" in too_few_to_calibrate(logits[None], labels)
    labels[:20] = (labels[:20] + 1) % 10
    assert too_few_to_calibrate(logits[None], labels) is None
    assert "10 images" in too_few_to_calibrate(logits[None, :10], labels[:10])
    # And a run on such a folder says so, and keeps T = 1 in its card.
    import json

    from PIL import Image

    import tinyvision

    monkeypatch.setenv("TINYVISION_DATA", str(tmp_path / "cache"))
    for k, name in enumerate(("cat", "dog")):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for i in range(20):
            value = np.full((16, 16), 40 + 160 * k, np.uint8)
            value[i % 16, :] = 255 - value[0, 0]
            Image.fromarray(value).save(tmp_path / "pics" / name / f"{i}.png")
    run = tinyvision.train(dataset=f"folder:{tmp_path / 'pics'}", out=tmp_path / "run", epochs=1, progress=False,
                           plots=False, device="cpu")
    calibration = json.loads((run.path / "metrics.json").read_text())["calibration"]
    assert calibration["temperature"] == 1.0 and "not calibrated" in calibration["note"]
    assert tinyvision.load(run.path).card.temperature == 1.0


def test_per_class_f1_macro_f1_and_balanced_accuracy():
    cm = torch.tensor([[8, 2], [0, 90]])  # a small class 0 with two misses, a large class 1
    rows = per_class_metrics(cm, ("a", "b"))
    assert rows[0]["recall"] == pytest.approx(0.8) and rows[0]["precision"] == pytest.approx(1.0)
    assert rows[0]["f1"] == pytest.approx(2 * 0.8 / 1.8)
    summary = summary_metrics(rows)
    assert summary["balanced_acc"] == pytest.approx((0.8 + 1.0) / 2)  # accuracy would say 98%


def test_a_model_in_a_folder_the_user_cannot_write_is_still_evaluated(tiny_dataset, tmp_path, monkeypatch, capsys):
    # A shared or installed run folder: "cannot write run/evaluation.json: Permission denied", exit 2, and the
    # metrics computed were lost. (As root no folder is read-only, so the write fails as it would.)
    import json

    import tinyvision.evaluation_report as evaluation_report
    from conftest import fit_run
    from tinyvision.cli import main
    from tinyvision.config import RunConfig
    from tinyvision.errors import TinyVisionError

    fit_run(RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, limit_batches=2).validate(), tmp_path / "run")

    def denied(report, out):
        raise TinyVisionError(f"cannot write {out}/evaluation.json: Permission denied")

    monkeypatch.setattr(evaluation_report, "write_evaluation", denied)
    assert main(["evaluate", str(tmp_path / "run"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "test_acc" in json.loads(out) and "Permission denied" in err and "--out" in err
    assert main(["evaluate", str(tmp_path / "run"), "--out", str(tmp_path / "elsewhere")]) == 2


def test_evaluate_refuses_a_bad_out_or_limit_before_evaluating_and_names_the_flag(tiny_dataset, tmp_path, monkeypatch,
                                                                                  capsys):
    # `--out report.md` was refused only after the whole evaluation ("File exists"), and `--limit-batches 0` was
    # named as Python's `limit_batches` on the command line.
    import tinyvision
    import tinyvision.evaluation_report as evaluation_report
    from conftest import fit_run
    from tinyvision.cli import main
    from tinyvision.config import RunConfig

    run = tmp_path / "run"
    fit_run(RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, limit_batches=2).validate(), run)
    (tmp_path / "report.md").write_text("an earlier report\n")
    evaluated = []
    real = evaluation_report.evaluate_model
    monkeypatch.setattr(evaluation_report, "evaluate_model", lambda *a, **k: evaluated.append(1) or real(*a, **k))
    capsys.readouterr()
    assert main(["evaluate", str(run), "--out", str(tmp_path / "report.md")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"tinyvision: error: --out={tmp_path / 'report.md'} exists and is not a folder"
    assert not evaluated
    assert main(["evaluate", str(run), "--limit-batches", "0"]) == 2
    assert "error: --limit-batches must be a whole number, at least 1, not 0" in capsys.readouterr().err
    with pytest.raises(tinyvision.TinyVisionError, match="^limit_batches must be a whole number"):
        tinyvision.load(run).evaluate(limit_batches=0)


def test_evaluate_given_a_dataset_or_folder_of_the_wrong_type_says_so_in_one_line(tiny_dataset, tmp_path):
    # `model.evaluate(dataset=3)` ended in an AttributeError ('int' object has no attribute 'startswith'), and
    # `data_dir=3` in a TypeError, from deep inside.
    import tinyvision
    from conftest import fit_run
    from tinyvision.config import RunConfig

    fit_run(RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, limit_batches=2).validate(), tmp_path / "run")
    model = tinyvision.load(tmp_path / "run")
    with pytest.raises(tinyvision.TinyVisionError, match="^dataset must be a dataset's name .*, not int 3$"):
        model.evaluate(dataset=3)
    with pytest.raises(tinyvision.TinyVisionError, match="^data_dir must be a folder's path or None, not int 3$"):
        model.evaluate(data_dir=3)
    assert "test_acc" in model.evaluate()

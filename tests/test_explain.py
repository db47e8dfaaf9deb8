"""Explanations: integrated-gradients saliency, each convolution's feature maps, and the CLI that draws them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import tinyvision
from conftest import fit_run
from tinyvision.classifier import NothingToExplain
from tinyvision.cli import main
from tinyvision.config import RunConfig
from tinyvision.datasets import load_dataset


def test_saliency_lies_on_the_evidence_and_feature_maps_follow_the_convolutions(tiny_dataset, tmp_path):
    cfg = RunConfig(dataset=tiny_dataset, epochs=3, batch_size=32, lr=0.05, seed=3).validate()
    assert fit_run(cfg, tmp_path / "run").metrics["test_acc"] > 0.9
    model = tinyvision.load(tmp_path / "run")
    data = load_dataset(tiny_dataset)
    inside, outside = [], []
    for image, label in zip(data.test_images[:20], data.test_labels[:20]):
        explanation = model.explain(image)
        assert explanation.label == model.predict(image).label
        assert explanation.saliency.shape == (12, 12)
        assert 0 <= explanation.saliency.min() <= explanation.saliency.max() <= 1
        blob = torch.zeros(12, 12, dtype=torch.bool)  # the quadrant whose bright square decides the class
        r, c = (int(label) // 2) * 6, (int(label) % 2) * 6
        blob[r : r + 6, c : c + 6] = True
        inside.append(explanation.saliency[blob].mean())
        outside.append(explanation.saliency[~blob].mean())
    assert torch.stack(inside).mean() > 2 * torch.stack(outside).mean()
    names = [name for name, _ in explanation.feature_maps]
    convs = [n for n, m in model.graph.network.named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert names == convs and explanation.feature_maps[0][1].shape[1:] == (12, 12)  # the first layer: full size


def test_explain_cli_writes_one_picture_per_image_and_reports_bad_files(tiny_dataset, tmp_path, capsys):
    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3).validate()
    fit_run(cfg, tmp_path / "run")
    images = load_dataset(tiny_dataset).test_images[:2]
    files = []
    for i, image in enumerate(images):
        files.append(tmp_path / f"img{i}.png")
        Image.fromarray(np.repeat(image[0].numpy(), 8, 0).repeat(8, 1)).save(files[-1])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    code = main(["explain", str(tmp_path / "run"), str(files[0]), str(broken), str(files[1]),
                 "--out", str(tmp_path / "why")])
    out, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and err.count("broken.png") == 1 and "Traceback" not in err
    written = sorted(p.name for p in (tmp_path / "why").iterdir())
    assert written == ["img0-explained.png", "img1-explained.png"]
    assert (tmp_path / "why" / written[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    (tmp_path / "folder").mkdir()  # a folder stands for its images, as for predict
    for f in files:
        f.rename(tmp_path / "folder" / f.name)
    assert main(["explain", str(tmp_path / "run"), str(tmp_path / "folder"), "--out", str(tmp_path / "why2")]) == 0
    assert sorted(p.name for p in (tmp_path / "why2").iterdir()) == ["img0-explained.png", "img1-explained.png"]


def test_the_worst_mistakes_figure_shows_their_saliency(tiny_dataset, tmp_path):
    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.01, seed=3, limit_batches=3).validate()
    fit_run(cfg, tmp_path / "run")  # barely trained: it makes mistakes
    run = tinyvision.Run(tmp_path / "run")
    saliency = run.mistakes_saliency(load_dataset(tiny_dataset).test_images)
    assert saliency is not None and saliency.shape == (len(run.metrics["worst_mistakes"]), 12, 12)
    run.draw()
    assert (tmp_path / "run" / "misclassified.png").stat().st_size > 0


def test_a_refusal_is_explained_as_one_and_a_page_of_marks_is_an_answer_not_an_error(tiny_dataset, tmp_path,
                                                                                    capsys):
    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3).validate()
    fit_run(cfg, tmp_path / "run")
    model = tinyvision.load(tmp_path / "run")
    image = load_dataset(tiny_dataset).test_images[0]
    model.card.reject.update(threshold=float("inf"), reason="unsure")  # a rule that refuses everything
    prediction, explanation = model.predict(image), model.explain(image)
    assert prediction.label is None and explanation.reason == "unsure"
    assert explanation.label == prediction.top(1)[0][0]  # what the model came closest to, explained as such
    assert explanation.summary().startswith(f"- (unsure; closest {explanation.label} at ")
    explanation.figure()

    from digit_photos import untrained_digit_checkpoint

    digits = untrained_digit_checkpoint(tmp_path / "digits.safetensors")
    page = np.full((200, 300), 255, np.uint8)  # 150 separate marks: more than a number has
    for r in range(10):
        for c in range(15):
            page[10 + 18 * r : 22 + 18 * r, 10 + 19 * c : 18 + 19 * c] = 0
    Image.fromarray(page).save(tmp_path / "page.png")
    with pytest.raises(NothingToExplain):
        tinyvision.load(digits).explain(tmp_path / "page.png")
    capsys.readouterr()
    assert main(["explain", str(digits), str(tmp_path / "page.png"), "--out", str(tmp_path / "why")]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"{tmp_path / 'page.png'}: - (not a digit): no mark was read, nothing to draw"
    assert not (tmp_path / "why").exists()


def test_output_names_too_long_for_the_file_system_are_one_line_errors(tiny_dataset, tmp_path, capsys):
    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3, limit_batches=2).validate()
    fit_run(cfg, tmp_path / "run")
    legal = tmp_path / ("a" * 251 + ".png")  # 255 bytes: a legal name, whose picture's name is not
    Image.fromarray(np.repeat(load_dataset(tiny_dataset).test_images[0][0].numpy(), 8, 0).repeat(8, 1)).save(legal)
    capsys.readouterr()
    assert main(["explain", str(tmp_path / "run"), str(legal), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "too long" in err and len(err.strip().splitlines()) == 1
    assert main(["predict", str(tmp_path / "run"), str(legal), "--show-input", str(tmp_path)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    near = tmp_path / ("c" * 236 + ".png")  # its picture's name is 250 bytes: legal, if its temporary's is not
    near.write_bytes(legal.read_bytes())
    assert main(["explain", str(tmp_path / "run"), str(near), "--out", str(tmp_path / "why")]) == 0
    assert [p.name for p in (tmp_path / "why").iterdir()] == ["c" * 236 + "-explained.png"]


def test_a_file_name_that_is_not_utf8_prints_on_a_strict_utf8_stream(tiny_dataset, tmp_path, monkeypatch):
    import io
    import json
    import os
    import sys

    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3, limit_batches=2).validate()
    fit_run(cfg, tmp_path / "run")
    name = os.fsdecode(os.fsencode(str(tmp_path)) + b"/\xff\xfe-scan.png")  # bytes no UTF-8 decoder takes
    Image.fromarray(np.repeat(load_dataset(tiny_dataset).test_images[0][0].numpy(), 8, 0).repeat(8, 1)).save(name)
    for args in (["predict", str(tmp_path / "run"), name], ["predict", str(tmp_path / "run"), name, "--json"]):
        raw = io.BytesIO()
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8", errors="strict"))
        assert main(args) == 0
        sys.stdout.flush()
        printed = raw.getvalue()
        if "--json" in args:  # JSON cannot hold the bytes: each is shown as \xNN
            assert json.loads(printed)[0]["file"].endswith("\\xff\\xfe-scan.png")
        else:  # the name's own bytes, as ls shows them
            assert printed.startswith(os.fsencode(name) + b": ")


def test_a_batch_or_a_list_is_explained_image_by_image_as_predict_answers_it(tiny_dataset, tmp_path):
    # model.explain(dataset.data[:3]) gave one explanation, of the three digits taken as one colour picture,
    # where predict gives three answers.
    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3, limit_batches=2).validate()
    fit_run(cfg, tmp_path / "run")
    model = tinyvision.load(tmp_path / "run")
    images = load_dataset(tiny_dataset).test_images[:3]  # uint8 (3, 1, H, W)
    for batch in (images, images[:, 0], images.numpy(), list(images)):
        explained, answered = model.explain(batch), model.predict(batch)
        assert isinstance(explained, list) and len(explained) == len(answered) == 3
        for explanation, answer in zip(explained, answered):
            assert explanation.label == answer.top(1)[0][0] and torch.equal(explanation.input, answer.input)
    assert not isinstance(model.explain(images[0]), list)


def test_explain_takes_a_folder_a_pattern_and_a_home_path_as_predict_does_and_names_a_bad_file(
        tiny_dataset, tmp_path, monkeypatch):
    # python-api.md: explain takes `x` as predict takes it. A folder, a pattern and a `~` path were refused as
    # "not a file" / "no such file", and a missing file's message did not name it, where predict answered.
    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3, limit_batches=2).validate()
    fit_run(cfg, tmp_path / "run")
    model = tinyvision.load(tmp_path / "run")
    (tmp_path / "scans").mkdir()
    for i, image in enumerate(load_dataset(tiny_dataset).test_images[:2]):
        Image.fromarray(np.repeat(image[0].numpy(), 4, 0).repeat(4, 1)).save(tmp_path / "scans" / f"s{i}.png")
    monkeypatch.setenv("HOME", str(tmp_path))
    for source in (tmp_path / "scans", str(tmp_path / "scans" / "*.png"), "~/scans"):
        explained, answered = model.explain(source), model.predict(source)
        assert [e.path for e in explained] == [a.path for a in answered] == [str(tmp_path / "scans" / "s0.png"),
                                                                            str(tmp_path / "scans" / "s1.png")]
        assert [e.label for e in explained] == [a.top(1)[0][0] for a in answered]
    assert model.explain("~/scans/s1.png").label == model.predict(tmp_path / "scans" / "s1.png").top(1)[0][0]
    with pytest.raises(tinyvision.ImageError, match=r"missing\.png: no such file"):
        model.explain(str(tmp_path / "missing.png"))
    (tmp_path / "scans" / "s2.png").write_bytes(b"not an image")  # in a folder: named, not "nothing to explain"
    with pytest.raises(tinyvision.TinyVisionError, match=r"s2\.png: unreadable: ") as refused:
        model.explain(tmp_path / "scans")
    assert not isinstance(refused.value, NothingToExplain)


def test_nothing_to_explain_is_named_at_the_top_level_and_names_the_file(tmp_path):
    # The docs name `NothingToExplain` from Python; only tinyvision.classifier had it.
    import subprocess
    import sys

    from digit_photos import untrained_digit_checkpoint

    assert tinyvision.NothingToExplain is NothingToExplain and "NothingToExplain" in tinyvision.__all__
    script = "import sys, tinyvision\nprint('torch' in sys.modules)"  # still lazy: importing it loads no torch
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
    digits = untrained_digit_checkpoint(tmp_path / "digits.safetensors")
    (tmp_path / "pages").mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 300), dtype=np.uint8)).save(
        tmp_path / "pages" / "noise.png")  # read as no mark at all
    with pytest.raises(tinyvision.NothingToExplain, match=r"noise\.png: nothing to explain"):
        tinyvision.load(digits).explain(tmp_path / "pages")

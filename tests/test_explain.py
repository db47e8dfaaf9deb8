"""Explanations: integrated-gradients saliency, each convolution's feature maps, and the CLI that draws them."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

import tinyvision
from conftest import fit_run
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
    assert code == 2 and err.count("\n") == 1 and "broken.png" in err and "Traceback" not in err
    written = sorted(p.name for p in (tmp_path / "why").iterdir())
    assert written == ["img0-explained.png", "img1-explained.png"]
    assert (tmp_path / "why" / written[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_worst_mistakes_figure_shows_their_saliency(tiny_dataset, tmp_path):
    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.01, seed=3, limit_batches=3).validate()
    fit_run(cfg, tmp_path / "run")  # barely trained: it makes mistakes
    run = tinyvision.Run(tmp_path / "run")
    saliency = run.mistakes_saliency(load_dataset(tiny_dataset).test_images)
    assert saliency is not None and saliency.shape == (len(run.metrics["worst_mistakes"]), 12, 12)
    run.draw()
    assert (tmp_path / "run" / "misclassified.png").stat().st_size > 0

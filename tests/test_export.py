"""`tinyvision export` (ONNX, TorchScript) and `predict --runtime onnx`, on a tiny trained model."""

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from tinyvision.checkpoint import load_model
from tinyvision.cli import main
from tinyvision.config import RunConfig
from tinyvision.datasets import load_dataset
from tinyvision.evaluate import predict_logits
from tinyvision.progress import Progress
from tinyvision.run_folder import RunFolder
from tinyvision.train import fit


@pytest.fixture
def tiny_run(tiny_dataset, tmp_path):
    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3).validate()
    metrics, _ = fit(cfg, RunFolder(tmp_path / "run"), Progress(1, bar=False, out=io.StringIO()))
    assert metrics["test_acc"] > 0.5  # it learned something, so predictions are not all one class
    return tmp_path / "run"


def exported_logits(path, fmt, pixels: torch.Tensor) -> torch.Tensor:
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return torch.from_numpy(session.run(None, {"pixels": pixels.numpy()})[0])
    return torch.jit.load(str(path)).eval()(pixels).detach()


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_gives_pytorch_predictions_on_the_test_set(tiny_run, fmt, capsys):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnxscript")
    assert main(["export", str(tiny_run), "--format", fmt]) == 0
    out = capsys.readouterr().out
    path = tiny_run / ("model.onnx" if fmt == "onnx" else "model.pt")
    assert "same prediction for 128/128" in out
    sidecar = json.loads(path.with_name(path.name + ".json").read_text())
    assert sidecar["classes"] == ["nw", "ne", "sw", "se"] and sidecar["input"]["shape"] == ["N", 1, 12, 12]

    # Checked here independently of the CLI: the file alone, fed pixels/255 as documented.
    model, card = load_model(tiny_run)
    data = load_dataset("tiny")
    expected = predict_logits(model, data.test_images, card.normalization, torch.device("cpu"))
    got = exported_logits(path, fmt, data.test_images.float() / 255.0)
    assert torch.equal(got.argmax(1), expected.argmax(1))
    assert (got - expected).abs().max() < 1e-4
    assert not [p for p in tiny_run.iterdir() if p.name.endswith(".tmp")]


def test_predict_with_onnx_runtime_matches_pytorch(tiny_run, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    files = []
    for i, image in enumerate(load_dataset("tiny").test_images[:6]):
        files.append(tmp_path / f"img{i}.png")
        Image.fromarray(np.repeat(image[0].numpy(), 10, 0).repeat(10, 1)).save(files[-1])
    args = ["predict", str(tiny_run), *map(str, files), "--json"]
    assert main([*args, "--runtime", "onnx"]) == 2  # not exported yet: a clear error
    assert "tinyvision export" in capsys.readouterr().err
    assert main(["export", str(tiny_run), "--format", "onnx", "--check-images", "0"]) == 0
    capsys.readouterr()
    assert main(args) == 0
    torch_result = json.loads(capsys.readouterr().out)
    assert main([*args, "--runtime", "onnx"]) == 0
    onnx_result = json.loads(capsys.readouterr().out)
    assert [r["prediction"] for r in onnx_result] == [r["prediction"] for r in torch_result]
    for a, b in zip(onnx_result, torch_result):
        assert [t["probability"] for t in a["top"]] == pytest.approx([t["probability"] for t in b["top"]], abs=1e-5)


def test_export_refuses_a_missing_checkpoint(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing"), "--format", "torchscript"]) == 2
    assert "no checkpoint" in capsys.readouterr().err

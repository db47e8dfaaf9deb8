"""Export a checkpoint to ONNX or TorchScript, with the normalisation inside.

The exported graph takes float32 pixels (N, C, H, W) scaled to [0, 1] (uint8
divided by 255), already prepared as `tinyvision.preprocess` prepares them, and
returns logits. Normalisation is baked in so the file is usable alone; a JSON
sidecar (`<file>.json`) carries the class names, input shape and preparation.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from tinyvision.atomic import atomic_path, write_json
from tinyvision.checkpoint import ModelCard
from tinyvision.errors import TinyVisionError
from tinyvision.preprocess import choose_preparation

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}


class WithNormalization(nn.Module):
    """Pixels in [0, 1] -> logits: the checkpoint's normalisation, then the model."""

    def __init__(self, model: nn.Module, card: ModelCard) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(card.normalization.mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(card.normalization.std).view(1, -1, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model((pixels - self.mean) / self.std)


def sidecar(card: ModelCard, fmt: str) -> dict:
    prep = choose_preparation(card.classes, card.input_shape)
    return {
        "format": fmt,
        "model": card.model,
        "dataset": card.dataset,
        "classes": list(card.classes),
        "input": {
            "name": "pixels",
            "shape": ["N", *card.input_shape],
            "dtype": "float32",
            "scale": "pixel values / 255, in [0, 1]; normalisation is inside the graph",
            "preparation": prep.mode,
            "normalization": card.normalization.to_dict(),
        },
        "output": {"name": "logits", "shape": ["N", len(card.classes)]},
        "test_acc": card.metrics.get("test_acc"),
        "code_version": card.code_version,
    }


@contextlib.contextmanager
def quiet():
    """The exporters print progress and deprecation notices a user cannot act on."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def export_model(model: nn.Module, card: ModelCard, fmt: str, path: Path) -> Path:
    """Write `path` (atomically) and its JSON sidecar; returns `path`."""
    if fmt not in FORMATS:
        raise TinyVisionError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    wrapper = WithNormalization(model.cpu().eval(), card).eval()
    example = torch.rand(2, *card.input_shape)
    with atomic_path(path) as tmp, quiet(), torch.no_grad():
        if fmt == "onnx":
            try:
                import onnxscript  # noqa: F401  (the exporter needs it)
            except ImportError:
                raise TinyVisionError("ONNX export needs the onnx extra: pip install 'tinyvision[onnx]'") from None
            program = torch.onnx.export(
                wrapper, (example,), input_names=["pixels"], output_names=["logits"], dynamo=True,
                dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False,
            )
            program.save(str(tmp), external_data=False)
        else:
            torch.jit.save(torch.jit.trace(wrapper, example), str(tmp))
    write_json(path.with_name(path.name + ".json"), sidecar(card, fmt))
    return path


def onnx_session(path: Path):
    try:
        import onnxruntime as ort
    except ImportError:
        raise TinyVisionError("--runtime onnx needs onnxruntime: pip install 'tinyvision[onnx]'") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise TinyVisionError(f"{path}: not a loadable ONNX model ({exc})") from None


def load_runner(path: Path, fmt: str):
    """A function float pixels (N, C, H, W) in [0, 1] -> logits, running the exported file."""
    if fmt == "onnx":
        session = onnx_session(path)
        return lambda pixels: torch.from_numpy(session.run(None, {"pixels": pixels.numpy()})[0])
    with quiet():
        scripted = torch.jit.load(str(path), map_location="cpu").eval()

    def run(pixels: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return scripted(pixels)

    return run


@dataclass(frozen=True)
class Parity:
    count: int
    same_prediction: int
    max_abs_diff: float


def check_parity(model: nn.Module, card: ModelCard, path: Path, fmt: str, images: torch.Tensor,
                 batch_size: int = 500) -> Parity:
    """Run PyTorch and the exported file on uint8 images; compare predictions and logits."""
    run = load_runner(path, fmt)
    reference = WithNormalization(model.cpu().eval(), card).eval()
    same, worst = 0, 0.0
    for start in range(0, len(images), batch_size):
        pixels = images[start : start + batch_size].float() / 255.0
        with torch.inference_mode():
            expected = reference(pixels)
        got = run(pixels)
        same += int((expected.argmax(1) == got.argmax(1)).sum())
        worst = max(worst, float((expected - got).abs().max()))
    return Parity(len(images), same, worst)


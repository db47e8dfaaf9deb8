"""Predict classes for users' image files with a trained checkpoint.

One `Predictor` serves both `tinyvision predict` and `tinyvision serve`: it
prepares each image (see `preprocess`), runs PyTorch or an exported ONNX file,
and returns the probabilities with the input the model actually saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from tinyvision.checkpoint import load_model, resolve_model_path
from tinyvision.errors import TinyVisionError
from tinyvision.evaluate import predict_logits
from tinyvision.preprocess import MAX_PIXELS, Preparation, choose_preparation, prepare

RUNTIMES = ("torch", "onnx")
MAX_FILE_BYTES = 50_000_000  # a larger file is not a photo of a digit


@dataclass(frozen=True)
class Prediction:
    label: str
    probabilities: dict[str, float]  # every class, in the model's class order
    pixels: torch.Tensor  # uint8 (C, H, W): what the model saw

    def top(self, k: int) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k]


class Predictor:
    """A loaded checkpoint plus the preparation its inputs need."""

    def __init__(self, checkpoint: Path | str, runtime: str = "torch", preparation: str = "auto",
                 max_pixels: int = MAX_PIXELS) -> None:
        if runtime not in RUNTIMES:
            raise TinyVisionError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
        checkpoint = Path(checkpoint)
        self.model, self.card = load_model(checkpoint)
        self.preparation: Preparation = choose_preparation(self.card.classes, self.card.input_shape, preparation)
        self.max_pixels = max_pixels
        self.runtime = runtime
        self._onnx = None
        if runtime == "onnx":
            from tinyvision.export import load_runner

            onnx_path = resolve_model_path(checkpoint).with_name("model.onnx")
            if not onnx_path.is_file():
                raise TinyVisionError(
                    f"no {onnx_path}; write it first with: tinyvision export {checkpoint} --format onnx"
                )
            self._onnx = load_runner(onnx_path, "onnx")

    def logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) -> float32 logits (N, classes)."""
        if self._onnx is not None:
            return self._onnx(pixels.float() / 255.0)
        return predict_logits(self.model, pixels, self.card.normalization, torch.device("cpu"))

    def predict_pixels(self, pixels: torch.Tensor) -> list[Prediction]:
        probs = self.logits(pixels).softmax(1)
        classes = self.card.classes
        return [
            Prediction(classes[int(p.argmax())], {c: float(v) for c, v in zip(classes, p)}, x)
            for p, x in zip(probs, pixels)
        ]

    def prepare(self, data: bytes) -> torch.Tensor:
        return prepare(data, self.preparation, self.max_pixels)

    def predict_bytes(self, data: bytes) -> Prediction:
        return self.predict_pixels(self.prepare(data)[None])[0]


def read_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    if not path.is_file():
        raise TinyVisionError("no such file" if not path.exists() else "not a file")
    size = path.stat().st_size
    if size > max_bytes:
        raise TinyVisionError(f"file is {size:,} bytes, over the limit of {max_bytes:,}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TinyVisionError(f"cannot read ({exc.strerror})") from None


@dataclass(frozen=True)
class FileResult:
    path: Path
    prediction: Prediction | None
    error: str | None


def predict_files(predictor: Predictor, paths: list[Path], batch_size: int = 256) -> list[FileResult]:
    """Each file prepared on its own (a bad one gets its error), the good ones predicted in batches."""
    results: list[FileResult] = []
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        prepared: dict[int, torch.Tensor] = {}
        errors: dict[int, str] = {}
        for i, path in enumerate(chunk):
            try:
                prepared[i] = predictor.prepare(read_file(path))
            except TinyVisionError as exc:
                errors[i] = str(exc)
        predictions = dict(zip(prepared, predictor.predict_pixels(torch.stack(list(prepared.values())))
                               if prepared else []))
        results += [FileResult(p, predictions.get(i), errors.get(i)) for i, p in enumerate(chunk)]
    return results

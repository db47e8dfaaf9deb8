"""Predicting image files: each file read and predicted on its own, a bad one getting its own error.

`tinyvision predict a.png broken.png b.jpg` answers a and b, and exits 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinyvision.classifier import Model, Prediction
from tinyvision.errors import TinyVisionError


@dataclass(frozen=True)
class FileResult:
    path: Path
    prediction: Prediction | None
    error: str | None


def predict_files(model: Model, paths: list[Path]) -> list[FileResult]:
    results = []
    for path in paths:
        try:
            results.append(FileResult(path, model.predict(path), None))
        except TinyVisionError as exc:
            results.append(FileResult(path, None, str(exc)))
    return results

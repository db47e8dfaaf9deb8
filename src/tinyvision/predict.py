"""Predicting image files: each file read and prepared on its own, the good ones predicted in batches.

A bad file gets its own one-line error; the others are still predicted
(`tinyvision predict a.png broken.png b.jpg` answers a and b, and exits 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from tinyvision.classifier import Model, Prediction
from tinyvision.errors import TinyVisionError


@dataclass(frozen=True)
class FileResult:
    path: Path
    prediction: Prediction | None
    error: str | None


def predict_files(model: Model, paths: list[Path], batch_size: int = 256) -> list[FileResult]:
    results: list[FileResult] = []
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        prepared: dict[int, torch.Tensor] = {}
        errors: dict[int, str] = {}
        for i, path in enumerate(chunk):
            try:
                prepared[i] = model.prepare(path)
            except TinyVisionError as exc:
                errors[i] = str(exc)
        predictions = dict(zip(prepared, model.predict_prepared(torch.stack(list(prepared.values())))
                               if prepared else []))
        results += [FileResult(p, predictions.get(i), errors.get(i)) for i, p in enumerate(chunk)]
    return results

"""The run folder: where a run's config, metrics, plots and checkpoints live."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from tinyvision.atomic import check_output_folder, write_json, write_text
from tinyvision.checkpoint import MODEL_FILE, STATE_FILE
from tinyvision.config import RunConfig
from tinyvision.errors import TinyVisionError, flag
from tinyvision.typed_json import is_int, is_number

EPOCH_COLUMNS = (
    "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_seconds", "train_seconds",
)
# What the figures and `Run` read from metrics.json: a file without them is damaged, said in one line.
METRICS_KEYS = ("model", "dataset", "history", "classes", "confusion", "worst_mistakes")
CURVE_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")  # what each epoch's point is drawn from


def metrics_problem(metrics) -> str | None:
    """What makes metrics.json unreadable for the figures and `Run`, or None: a key missing, or a value of
    another type or shape than training writes (an edited file drew nothing but a traceback)."""
    if not isinstance(metrics, dict):
        return "not a JSON object"
    missing = [k for k in METRICS_KEYS if k not in metrics]
    if missing:
        return f"no {', '.join(missing)}"
    classes, history = metrics["classes"], metrics["history"]
    if not (isinstance(metrics["model"], str) and isinstance(metrics["dataset"], str)):
        return "model and dataset must be names"
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        return "classes must be a list of names"
    if not (isinstance(history, list) and all(isinstance(r, dict) and all(
            is_number(r.get(k)) or (k.startswith("val_") and r.get(k) is None) for k in CURVE_KEYS) for r in history)):
        return f"history must be a list of epochs, each with {', '.join(CURVE_KEYS)}"
    confusion, n = metrics["confusion"], len(classes)
    if not (isinstance(confusion, list) and len(confusion) == n
            and all(isinstance(row, list) and len(row) == n and all(map(is_int, row)) for row in confusion)):
        return f"confusion must be {n} rows of {n} counts, one per class"
    mistakes = metrics["worst_mistakes"]
    if not (isinstance(mistakes, list) and all(
            isinstance(m, dict) and is_int(m.get("index")) and m["index"] >= 0 and is_number(m.get("confidence"))
            and all(is_int(m.get(k)) and 0 <= m[k] < n for k in ("label", "predicted")) for m in mistakes)):
        return "worst_mistakes must be test images' index, label, predicted class and confidence"
    return None


class RunFolder:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    config = property(lambda self: self.path / "config.json")
    metrics_csv = property(lambda self: self.path / "metrics.csv")
    metrics_json = property(lambda self: self.path / "metrics.json")
    model = property(lambda self: self.path / MODEL_FILE)
    state = property(lambda self: self.path / STATE_FILE)
    curves = property(lambda self: self.path / "curves.png")
    confusion = property(lambda self: self.path / "confusion.png")
    misclassified = property(lambda self: self.path / "misclassified.png")

    def create(self, config: RunConfig) -> None:
        """Claim the folder for a new run and write its config.

        The config is published exclusively: of two runs racing for one
        folder, one wins and the other gets a one-line error.
        """
        check_output_folder(self.path)
        taken = f"{self.path} already holds a run; pass {flag('resume', self.path)} or a new --out"
        if self.state.exists() or self.model.exists():
            raise TinyVisionError(taken)
        try:
            write_json(self.config, config.to_dict(), exclusive=True)
        except FileExistsError:
            raise TinyVisionError(taken) from None

    def require(self) -> None:
        """Refuse a folder that holds no run. A run writes config.json before anything else (`create`),
        so a run in progress, interrupted or finished has one, and a folder without it is no run."""
        if not self.config.is_file():
            raise TinyVisionError(f"{self.path} is not a run folder (no config.json)")

    def read_config(self) -> RunConfig:
        self.require()
        try:
            d = json.loads(self.config.read_text())
            if not isinstance(d, dict):
                raise TypeError(f"a JSON {type(d).__name__}, not an object")
            return RunConfig.from_dict(d).validate()
        except (ValueError, TypeError) as exc:  # (ValueError: not JSON, or not UTF-8)
            raise TinyVisionError(f"{self.config}: unreadable config ({exc})") from None

    def write_history(self, history: list[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EPOCH_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in history:
            writer.writerow({k: format_cell(row[k]) for k in EPOCH_COLUMNS})
        write_text(self.metrics_csv, buffer.getvalue())

    def write_metrics(self, metrics: dict) -> None:
        write_json(self.metrics_json, metrics)

    def read_metrics(self) -> dict:
        if not self.metrics_json.is_file():
            raise TinyVisionError(f"{self.path} has no metrics.json (did the run finish?)")
        try:
            metrics = json.loads(self.metrics_json.read_text())
        except ValueError as exc:  # not JSON (cut short), or not UTF-8
            raise TinyVisionError(f"{self.metrics_json}: unreadable metrics ({exc})") from None
        problem = metrics_problem(metrics)
        if problem:
            raise TinyVisionError(f"{self.metrics_json}: unreadable metrics ({problem})")
        return metrics


def format_cell(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    return "" if math.isnan(value) else f"{value:.6g}"

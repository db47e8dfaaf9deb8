"""`tinyvision evaluate`: a checkpoint against its dataset's test split."""

from __future__ import annotations

from pathlib import Path

from tinyvision.atomic import write_json
from tinyvision.checkpoint import load_model, resolve_model_path
from tinyvision.datasets import load_dataset
from tinyvision.device import select_device
from tinyvision.errors import TinyVisionError
from tinyvision.evaluate import confusion_matrix, evaluate, per_class_metrics


def evaluate_checkpoint(
    path: Path,
    data_dir: Path | None = None,
    device: str = "auto",
    out: Path | None = None,
    limit_batches: int | None = None,
) -> dict:
    """Evaluate a run folder or checkpoint; writes evaluation.json and confusion.png to `out`."""
    from tinyvision.plots import plot_confusion

    model_path = resolve_model_path(path)
    dev = select_device(device)
    model, card = load_model(model_path, dev)
    data = load_dataset(card.dataset, data_dir, card.config.get("image_size"))
    if data.input_shape != card.input_shape or tuple(data.classes) != card.classes:
        raise TinyVisionError(
            f"{model_path} expects {card.input_shape} images of {len(card.classes)} classes; "
            f"{data.name} here has {data.input_shape} and {len(data.classes)}"
        )
    # A model trained with test-time augmentation is tested the way its run was.
    result = evaluate(model, data.test_images, data.test_labels, card.normalization, dev,
                      limit_batches=limit_batches, tta=int(card.config.get("tta", 0)),
                      flip=bool(card.config.get("tta_flip", False)))
    cm = confusion_matrix(result.predictions, result.labels, len(card.classes))
    out = out or model_path.parent
    report = {
        "checkpoint": str(model_path),
        "model": card.model,
        "dataset": card.dataset,
        "test_count": result.count,
        "test_loss": result.loss,
        "test_acc": result.accuracy,
        "per_class": per_class_metrics(cm, card.classes),
        "confusion": cm.tolist(),
        "classes": list(card.classes),
        "files": {"json": str(out / "evaluation.json"), "confusion_png": str(out / "evaluation_confusion.png")},
    }
    write_json(out / "evaluation.json", report)
    plot_confusion(report["confusion"], report["classes"], out / "evaluation_confusion.png",
                   f"{card.model} on {card.dataset}: test confusion")
    return report

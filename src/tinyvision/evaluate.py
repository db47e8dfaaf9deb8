"""Metrics: loss, accuracy, per-class precision/recall, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tinyvision.device import autocast
from tinyvision.normalization import Normalization


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float  # fraction in [0, 1]
    logits: torch.Tensor  # (N, classes), float32 on the CPU
    labels: torch.Tensor  # (N,)

    @property
    def predictions(self) -> torch.Tensor:
        return self.logits.argmax(1)

    @property
    def count(self) -> int:
        return len(self.labels)


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    norm: Normalization,
    device: torch.device,
    batch_size: int = 1000,
    limit_batches: int | None = None,
    tta: int = 0,
    flip: bool = False,
) -> torch.Tensor:
    """Logits for uint8 images, in large batches; returns float32 on the CPU.

    Test-time augmentation: `tta` > 0 takes every shift of the image by up to
    `tta` pixels (9 views for 1), `flip` adds the mirror image of each view;
    with more than one view it averages their predicted probabilities and
    returns the logarithm, so cross-entropy on it is the ensemble's loss.
    """
    was_training = model.training
    model.eval()
    outputs = []
    for i, start in enumerate(range(0, len(images), batch_size)):
        if limit_batches is not None and i >= limit_batches:
            break
        batch = images[start : start + batch_size].to(device, non_blocking=True)
        views = shifted_views(batch, tta) if tta > 0 else [batch]
        if flip:
            views += [view.flip(-1) for view in views]
        probs = None
        for view in views:
            x = norm.apply(view).contiguous(memory_format=torch.channels_last)
            with autocast(device):
                logits = model(x).float()
            if len(views) == 1:
                break
            p = logits.softmax(1)
            probs = p if probs is None else probs + p
        outputs.append((logits if probs is None else (probs / len(views)).log()).cpu())
    model.train(was_training)
    if not outputs:
        return torch.zeros(0, 0)
    return torch.cat(outputs)


def shifted_views(images: torch.Tensor, radius: int) -> list[torch.Tensor]:
    """The batch shifted by every (dx, dy) in [-radius, radius]^2, zero-filled; (0, 0) first."""
    h, w = images.shape[-2:]
    padded = F.pad(images, (radius,) * 4)
    offsets = [(0, 0)] + [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
                          if (dy, dx) != (0, 0)]
    return [padded[..., radius + dy : radius + dy + h, radius + dx : radius + dx + w] for dy, dx in offsets]


def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    norm: Normalization,
    device: torch.device,
    batch_size: int = 1000,
    limit_batches: int | None = None,
    tta: int = 0,
    flip: bool = False,
) -> Evaluation:
    logits = predict_logits(model, images, norm, device, batch_size, limit_batches, tta, flip)
    labels = labels[: len(logits)].cpu()
    if len(labels) == 0:
        return Evaluation(float("nan"), float("nan"), logits, labels)
    loss = F.cross_entropy(logits, labels).item()
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    return Evaluation(loss, accuracy, logits, labels)


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """cm[true, predicted] = count."""
    flat = labels.long() * num_classes + predictions.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def per_class_metrics(cm: torch.Tensor, classes: tuple[str, ...]) -> list[dict]:
    """Precision, recall and support per class from a confusion matrix."""
    cm = cm.double()
    tp = cm.diag()
    predicted = cm.sum(0)
    actual = cm.sum(1)
    rows = []
    for i, name in enumerate(classes):
        rows.append({
            "class": name,
            "precision": (tp[i] / predicted[i]).item() if predicted[i] > 0 else 0.0,
            "recall": (tp[i] / actual[i]).item() if actual[i] > 0 else 0.0,
            "support": int(actual[i].item()),
        })
    return rows


def worst_mistakes(evaluation: Evaluation, count: int = 36) -> list[dict]:
    """The misclassified examples the model was most confident about."""
    probs = evaluation.logits.softmax(1)
    preds = probs.argmax(1)
    wrong = (preds != evaluation.labels).nonzero().flatten()
    confidence = probs[wrong, preds[wrong]]
    order = confidence.argsort(descending=True)[:count]
    return [
        {"index": int(wrong[i]), "label": int(evaluation.labels[wrong[i]]),
         "predicted": int(preds[wrong[i]]), "confidence": round(float(confidence[i]), 4)}
        for i in order
    ]

"""Metrics of the one inference path: loss, accuracy, per-class scores, confusion, calibration."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tinyvision.inference import InferenceGraph, as_log_probs, calibrated_logits, eval_mode


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float  # fraction in [0, 1]
    log_probs: torch.Tensor  # (N, classes), float32 on the CPU: what users are answered
    labels: torch.Tensor  # (N,)
    logits: torch.Tensor  # (N, classes) the calibrated logits: what a refusal is judged by

    @property
    def predictions(self) -> torch.Tensor:
        return self.log_probs.argmax(1)

    @property
    def count(self) -> int:
        return len(self.labels)


def score(logits: torch.Tensor, labels: torch.Tensor) -> Evaluation:
    """Calibrated logits (N, classes) of the inference path, scored against the labels."""
    log_probs = as_log_probs(logits)
    labels = labels[: len(log_probs)].cpu()
    if len(labels) == 0:
        return Evaluation(float("nan"), float("nan"), log_probs, labels, logits)
    loss = F.nll_loss(log_probs, labels).item()
    accuracy = (log_probs.argmax(1) == labels).float().mean().item()
    return Evaluation(loss, accuracy, log_probs, labels, logits)


def eval_batch_size(images: torch.Tensor, largest: int = 1000) -> int:
    """Images per evaluation batch: 1,000 for MNIST-sized images, fewer for larger ones, whose
    activations (x the test-time views) would otherwise take gigabytes (32x32 RGB: 682, 64x64 RGB: 170)."""
    per_image = int(images.shape[1] * images.shape[2] * images.shape[3])
    return max(32, min(largest, (2 << 20) // max(1, per_image)))


def evaluate(
    graph: InferenceGraph,
    images: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device | str = "cpu",
    limit_batches: int | None = None,
) -> Evaluation:
    """Run the inference graph (in eval mode, restored after) over uint8 images and score it."""
    with eval_mode(graph):
        return score(calibrated_logits(graph, images, device, batch_size=eval_batch_size(images),
                                       limit_batches=limit_batches), labels)


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """cm[true, predicted] = count."""
    flat = labels.long() * num_classes + predictions.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def per_class_metrics(cm: torch.Tensor, classes: tuple[str, ...]) -> list[dict]:
    """Precision, recall, F1 and support per class from a confusion matrix."""
    cm = cm.double()
    tp = cm.diag()
    predicted = cm.sum(0)
    actual = cm.sum(1)
    rows = []
    for i, name in enumerate(classes):
        precision = (tp[i] / predicted[i]).item() if predicted[i] > 0 else 0.0
        recall = (tp[i] / actual[i]).item() if actual[i] > 0 else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        rows.append({"class": name, "precision": precision, "recall": recall, "f1": f1,
                     "support": int(actual[i].item())})
    return rows


def summary_metrics(per_class: list[dict]) -> dict:
    """Macro-F1 and balanced accuracy (mean recall): accuracy that a large class cannot dominate."""
    present = [r for r in per_class if r["support"] > 0]
    if not present:
        return {"macro_f1": float("nan"), "balanced_acc": float("nan")}
    return {
        "macro_f1": sum(r["f1"] for r in present) / len(present),
        "balanced_acc": sum(r["recall"] for r in present) / len(present),
    }


def top_k_accuracy(log_probs: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    top = log_probs.topk(min(k, log_probs.shape[1]), dim=1).indices
    return (top == labels.view(-1, 1)).any(1).float().mean().item()


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """How far confidence is from accuracy, averaged over equal-width confidence bins (Guo et al., 2017).

    0 means "90% sure" is right 90% of the time.
    """
    if len(labels) == 0:
        return float("nan")
    confidence, predicted = probs.max(1)
    correct = (predicted == labels).double()
    edges = torch.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            gap = (confidence[inside].double().mean() - correct[inside].mean()).abs().item()
            ece += gap * inside.double().mean().item()
    return ece


def worst_mistakes(evaluation: Evaluation, count: int = 36, files: list[str] | None = None) -> list[dict]:
    """The misclassified examples the model was most confident about; with the test split's `files` (a
    folder's, in the split's order), each names its file: an index alone leaves a user nothing to open."""
    probs = evaluation.log_probs.exp()
    preds = probs.argmax(1)
    wrong = (preds != evaluation.labels).nonzero().flatten()
    confidence = probs[wrong, preds[wrong]]
    order = confidence.argsort(descending=True)[:count]
    return [
        {"index": int(wrong[i]), **({"file": files[int(wrong[i])]} if files is not None else {}),
         "label": int(evaluation.labels[wrong[i]]), "predicted": int(preds[wrong[i]]),
         "confidence": round(float(confidence[i]), 4)}
        for i in order
    ]


def test_files(split_files: dict[str, str] | None) -> list[str] | None:
    """A dataset of files' test files, in the order of its test images (`ImageData.split_files`)."""
    return None if split_files is None else [f for f, split in split_files.items() if split == "test"]


def abstention_report(evaluation: Evaluation, reject: dict | None) -> dict:
    """With the card's rejection rule (its `reject` entry): the share of test images the model abstains
    on, and its accuracy on the ones it answers (what a user of predict or serve sees, one image at a
    time); the confusion counts every image."""
    from tinyvision.calibration import refused_mask

    if not reject or reject.get("threshold") is None or evaluation.count == 0:
        return {}
    answered = ~refused_mask(evaluation.logits, reject)
    predicted = evaluation.log_probs.argmax(1)
    right = (predicted == evaluation.labels) & answered
    return {"test_abstained": int((~answered).sum()) / evaluation.count,
            "test_acc_answered": right.sum().item() / max(1, int(answered.sum()))}


def split_report(evaluation: Evaluation, classes: tuple[str, ...], reject: dict | None = None,
                 files: list[str] | None = None) -> dict:
    """Everything the test split says about a model, as saved in metrics.json and printed by `evaluate`;
    with the card's rejection rule (`reject`), what it abstains on; with the test `files`, the worst
    mistakes name theirs."""
    cm = confusion_matrix(evaluation.predictions, evaluation.labels, len(classes))
    per_class = per_class_metrics(cm, classes)
    report = {
        "test_loss": evaluation.loss,
        "test_acc": evaluation.accuracy,
        "test_count": evaluation.count,
        **{f"test_{k}": v for k, v in summary_metrics(per_class).items()},
        "test_ece": expected_calibration_error(evaluation.log_probs.exp(), evaluation.labels),
        "classes": list(classes),
        "per_class": per_class,
        "confusion": cm.tolist(),
        "worst_mistakes": worst_mistakes(evaluation, files=files),
        **abstention_report(evaluation, reject),
    }
    if len(classes) > 5:  # top-k only says something when k is well below the number of classes
        report["test_top5_acc"] = top_k_accuracy(evaluation.log_probs, evaluation.labels, 5)
    return report

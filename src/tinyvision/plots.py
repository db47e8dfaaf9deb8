"""Every figure, drawn from saved metrics so it can be redrawn without retraining.

The only module that imports matplotlib. Figures are built with its
object-oriented API (`matplotlib.figure.Figure`, never pyplot): no global
backend or figure registry, so a server thread, a script and a notebook can
all draw. A notebook shows a returned `Figure` inline; files are written
atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib import rcParams
from matplotlib.figure import Figure

from tinyvision.atomic import atomic_path


def save_figure(fig: Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path


def curves_figure(history: list[dict], title: str = "") -> Figure:
    """Loss vs epoch and accuracy vs epoch, train and validation (the tutorial's two plots)."""
    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(11, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for split, style in (("train", "-o"), ("val", "-s")):
        ax_loss.plot(epochs, [r[f"{split}_loss"] for r in history], style, label=split, ms=4)
        ax_acc.plot(epochs, [100 * r[f"{split}_acc"] for r in history], style, label=split, ms=4)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    return fig


def plot_curves(history: list[dict], path: Path, title: str = "") -> Path:
    return save_figure(curves_figure(history, title), path)


def confusion_figure(confusion: list[list[int]], classes: list[str], title: str = "") -> Figure:
    cm = np.asarray(confusion)
    k = len(classes)
    fig = Figure(figsize=(1.0 + 0.55 * k, 0.8 + 0.5 * k))
    ax = fig.subplots()
    # Log colour scale: the diagonal is 100x the errors, which would otherwise vanish.
    im = ax.imshow(np.log1p(cm), cmap="Blues")
    ax.set_xticks(range(k), classes, rotation=45 if max(map(len, classes)) > 2 else 0, ha="right")
    ax.set_yticks(range(k), classes)
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix (test)")
    threshold = np.log1p(cm).max() / 2
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                colour = "white" if np.log1p(cm[i, j]) > threshold else "black"
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(im, ax=ax, fraction=0.046, label="log(1 + count)")
    return fig


def plot_confusion(confusion: list[list[int]], classes: list[str], path: Path, title: str = "") -> Path:
    return save_figure(confusion_figure(confusion, classes, title), path)


def misclassified_figure(images: torch.Tensor, mistakes: list[dict], classes: list[str], columns: int = 6) -> Figure:
    """A grid of the most confident test mistakes: true label, prediction, confidence."""
    count = max(1, len(mistakes))
    rows = (count + columns - 1) // columns
    fig = Figure(figsize=(1.8 * columns, 2.0 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, m in zip(axes.flat, mistakes):
        img = images[m["index"]].permute(1, 2, 0).numpy()
        ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(
            f"true {classes[m['label']]}\npred {classes[m['predicted']]} ({100 * m['confidence']:.0f}%)",
            fontsize=8,
        )
    if not mistakes:
        axes.flat[0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    fig.suptitle("most confident test mistakes")
    return fig


def plot_misclassified(images: torch.Tensor, mistakes: list[dict], classes: list[str], path: Path) -> Path:
    return save_figure(misclassified_figure(images, mistakes, classes), path)


def draw_run(metrics: dict, test_images: torch.Tensor, folder) -> list[Path]:
    """A run folder's three figures, from its metrics.json."""
    title = f"{metrics['model']} on {metrics['dataset']}"
    return [
        plot_curves(metrics["history"], folder.curves, title),
        plot_confusion(metrics["confusion"], metrics["classes"], folder.confusion, f"{title}: test confusion"),
        plot_misclassified(test_images, metrics["worst_mistakes"], metrics["classes"], folder.misclassified),
    ]


def plot_time_to_accuracy(result: dict, path: Path) -> None:
    """Test accuracy against training seconds: one line per preset and seed, plus the reference."""
    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    colours = rcParams["axes.prop_cycle"].by_key()["color"]
    for colour, (preset, block) in zip(colours, result["tinyvision"].items()):
        for i, run in enumerate(block["runs"]):
            xs = [p["train_seconds"] for p in run["points"]]
            ys = [100 * p["test_acc"] for p in run["points"]]
            ax.plot(xs, ys, "-o", color=colour, alpha=0.8, ms=4, label=preset if i == 0 else None)
    ref = result.get("reference_recipe_a")
    if ref:
        ax.axvline(ref["seconds_for_10_epochs"], color="gray", ls="--",
                   label=f"recipe A, 10 epochs ({ref['seconds_for_10_epochs']:.0f} s)")
        ax.plot([sum(ref["epoch_seconds"])], [100 * ref["test_acc_after_run"]], "s", color="gray",
                label=f"recipe A after {ref['epochs_run']} epoch(s)")
    for target in (99.2, 99.5):
        ax.axhline(target, color="gray", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set(xlabel="training seconds (log scale)", ylabel="MNIST test accuracy (%)",
           title="time to accuracy", ylim=(98.0, 100))
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    save_figure(fig, path)


def comparison_figure(report: dict) -> Figure:
    """`tinyvision compare`: validation accuracy vs epoch and vs training time; test accuracy bars."""
    fig = Figure(figsize=(16, 4.5))
    ax_epoch, ax_time, ax_bar = fig.subplots(1, 3)
    colours = rcParams["axes.prop_cycle"].by_key()["color"]
    results = report["results"]
    for colour, r in zip(colours, results):
        history = r["history"]
        val = [100 * h["val_acc"] for h in history]
        ax_epoch.plot([h["epoch"] for h in history], val, "-o", color=colour, ms=4, label=r["model"])
        ax_time.plot([h["train_seconds"] for h in history], val, "-o", color=colour, ms=4, label=r["model"])
    ax_epoch.set(xlabel="epoch", ylabel="validation accuracy (%)", title="accuracy vs epoch")
    ax_epoch.xaxis.get_major_locator().set_params(integer=True)
    ax_time.set(xlabel="training seconds", ylabel="validation accuracy (%)", title="accuracy vs training time")
    accs = [100 * r["test_acc"] for r in results]
    bars = ax_bar.bar([r["model"] for r in results], accs, color=colours[: len(results)])
    for bar, acc in zip(bars, accs):
        ax_bar.text(bar.get_x() + bar.get_width() / 2, acc, f"{acc:.2f}%", ha="center", va="bottom", fontsize=9)
    low = min(accs, default=0.0)
    ax_bar.set(ylabel="test accuracy (%)", title="test accuracy", ylim=(max(0.0, low - 10), 100))
    for ax in (ax_epoch, ax_time):
        ax.grid(alpha=0.3)
        ax.legend()
    ax_bar.grid(alpha=0.3, axis="y")
    fig.suptitle(f"{report['dataset']}: {', '.join(r['model'] for r in results)}")
    return fig


def plot_comparison(report: dict, path: Path) -> Path:
    return save_figure(comparison_figure(report), path)

"""Every figure, drawn from saved metrics so it can be redrawn without retraining.

The only module that imports matplotlib. Figures are built with its
object-oriented API (`matplotlib.figure.Figure`, never pyplot): no global
backend or figure registry, so a server thread, a script and a notebook can
all draw. A notebook shows a returned figure inline (`NotebookFigure`); files
are written atomically.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from matplotlib import rcParams
from matplotlib.figure import Figure

from tinyvision.atomic import atomic_path
from tinyvision.errors import TinyVisionError


@contextlib.contextmanager
def no_glyph_warnings() -> Iterator[None]:
    """A class named in a script the font lacks (日本語) draws as boxes; matplotlib's two-line warning
    for each missing glyph would bury the command's own one-line messages (and fill a notebook cell)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        yield


class NotebookFigure(Figure):
    """A Figure a notebook shows inline as the cell's value. Jupyter draws a plain `Figure` only once
    pyplot has set up its inline backend (`%matplotlib inline`, or any pyplot call); before that,
    `run.plot()` showed the text `<Figure size 1100x400 with 2 Axes>`."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        with no_glyph_warnings():
            self.savefig(buffer, format="png", dpi=rcParams["figure.dpi"], bbox_inches="tight")
        return buffer.getvalue()

    def show(self, warn: bool = True) -> None:
        """In a notebook, draw the figure where it is called (`fig = run.plot(); fig.show()`, as with a
        pyplot figure); Figure's own `show` only works for figures pyplot made. Elsewhere: save it."""
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            get_ipython = None
        if get_ipython is None or get_ipython() is None:
            from tinyvision.errors import TinyVisionError

            raise TinyVisionError("this figure shows in a notebook (fig.show(), or as a cell's value); "
                                  "elsewhere save it: fig.savefig('figure.png')")
        display(self)


def save_figure(fig: Figure, path: Path) -> Path:
    with atomic_path(path) as tmp, no_glyph_warnings():
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path


def curves_figure(history: list[dict], title: str = "") -> Figure:
    """Loss vs epoch and accuracy vs epoch, train and validation (the tutorial's two plots)."""
    epochs = [r["epoch"] for r in history]
    fig = NotebookFigure(figsize=(11, 4))
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
        fig.suptitle(printable(title))
    return fig


def plot_curves(history: list[dict], path: Path, title: str = "") -> Path:
    return save_figure(curves_figure(history, title), path)


def confusion_figure(confusion: list[list[int]], classes: list[str], title: str = "") -> Figure:
    cm = np.asarray(confusion)
    k = len(classes)
    classes, title = [printable(c) for c in classes], printable(title)
    fig = NotebookFigure(figsize=(1.0 + 0.55 * k, 0.8 + 0.5 * k))
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


def check_mistakes(images: torch.Tensor, mistakes: list[dict]) -> None:
    """Each mistake names one of the test images: metrics.json and the test set belong to one run."""
    beyond = [m["index"] for m in mistakes if not 0 <= m["index"] < len(images)]
    if beyond:
        raise TinyVisionError(f"metrics.json names test image {beyond[0]}, but the test set has {len(images)} "
                              f"(metrics of another dataset?)")


def misclassified_figure(images: torch.Tensor, mistakes: list[dict], classes: list[str], columns: int = 6,
                         saliency: torch.Tensor | None = None) -> Figure:
    """A grid of the most confident test mistakes: true label, prediction, confidence.

    With `saliency` ((N, H, W) in [0, 1], one per mistake), each image shows in
    warm colours where the evidence for the wrong answer lies.
    """
    check_mistakes(images, mistakes)
    classes = [printable(c) for c in classes]
    count = max(1, len(mistakes))
    rows = (count + columns - 1) // columns
    # A fixed grid, not a constrained layout: solving the layout of 36 panels costs seconds.
    height = 2.0 * rows + 0.6
    fig = NotebookFigure(figsize=(1.8 * columns, height))
    axes = fig.subplots(rows, columns, squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.95 / height, hspace=0.45, wspace=0.1)
    for ax in axes.flat:
        ax.axis("off")
    for k, (ax, m) in enumerate(zip(axes.flat, mistakes)):
        img = images[m["index"]].permute(1, 2, 0).numpy()
        ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=255)
        if saliency is not None:
            ax.imshow(saliency[k].numpy(), cmap="inferno", alpha=0.45, vmin=0, vmax=1)
        ax.set_title(
            f"true {classes[m['label']]}\npred {classes[m['predicted']]} ({100 * m['confidence']:.0f}%)",
            fontsize=8,
        )
    if not mistakes:
        axes.flat[0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    fig.suptitle("most confident test mistakes" + (" (warm: the evidence for the wrong answer)" if saliency is not None
                                                    else ""), y=1 - 0.12 / height)
    return fig


def plot_misclassified(images: torch.Tensor, mistakes: list[dict], classes: list[str], path: Path,
                       saliency: torch.Tensor | None = None) -> Path:
    return save_figure(misclassified_figure(images, mistakes, classes, saliency=saliency), path)


def draw_run(metrics: dict, test_images: torch.Tensor | None, folder,
             saliency: torch.Tensor | None = None) -> list[Path]:
    """A run folder's three figures, from its metrics.json (and the mistakes' saliency, when given); without
    the test images (their folder is gone), the curves and the confusion."""
    title = f"{metrics['model']} on {metrics['dataset']}"
    drawn = [
        plot_curves(metrics["history"], folder.curves, title),
        plot_confusion(metrics["confusion"], metrics["classes"], folder.confusion, f"{title}: test confusion"),
    ]
    if test_images is not None:
        drawn.append(plot_misclassified(test_images, metrics["worst_mistakes"], metrics["classes"],
                                        folder.misclassified, saliency))
    return drawn


def plot_time_to_accuracy(result: dict, path: Path) -> None:
    """Test accuracy against training seconds: one line per preset and seed, plus the reference."""
    fig = NotebookFigure(figsize=(8, 5))
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
    fig = NotebookFigure(figsize=(16, 4.5))
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
    fig.suptitle(printable(f"{report['dataset']}: {', '.join(r['model'] for r in results)}"))
    return fig


def plot_comparison(report: dict, path: Path) -> Path:
    return save_figure(comparison_figure(report), path)


def explanation_figure(explanation, max_channels: int = 8) -> Figure:
    """The input, its saliency overlay, then up to `max_channels` feature maps of each convolution."""
    layers = explanation.feature_maps
    columns = max(3, min(max_channels, max((m.shape[0] for _, m in layers), default=1)))
    rows = 1 + len(layers)
    fig = NotebookFigure(figsize=(1.6 * columns, 1.7 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    image = explanation.input.permute(1, 2, 0).numpy()
    gray = image[..., 0] if image.shape[2] == 1 else image
    axes[0, 0].imshow(gray, cmap="gray", vmin=0, vmax=255)
    axes[0, 0].set_title("model input", fontsize=8)
    axes[0, 1].imshow(gray, cmap="gray", vmin=0, vmax=255)
    axes[0, 1].imshow(explanation.saliency.numpy(), cmap="inferno", alpha=0.6, vmin=0, vmax=1)
    refused = explanation.reason is not None
    axes[0, 1].set_title(f"why {'closest to ' if refused else ''}'{explanation.label}'\n(integrated gradients)",
                         fontsize=8)
    said = (f"prediction: none ({explanation.reason})\nclosest: {explanation.label}" if refused
            else f"prediction: {explanation.label}")
    axes[0, 2].text(0, 0.5, f"{said}\nprobability: {100 * explanation.probability:.1f}%", fontsize=9, va="center")
    for row, (name, maps) in enumerate(layers, start=1):
        for col in range(min(columns, maps.shape[0])):
            axes[row, col].imshow(maps[col].numpy(), cmap="viridis")
            if col == 0:
                axes[row, col].set_title(f"{name}: {maps.shape[0]}x{maps.shape[1]}x{maps.shape[2]}", fontsize=7,
                                         loc="left")
    fig.suptitle("what the model saw, where its evidence lies, and each convolution's feature maps", fontsize=9)
    return fig


def saliency_overlay(pixels: torch.Tensor, saliency: torch.Tensor, scale: int = 4) -> np.ndarray:
    """uint8 (C, H, W) input + (H, W) saliency in [0, 1] -> (H*scale, W*scale, 3) uint8 heat overlay."""
    image = pixels.float().mean(0).numpy() / 255.0
    heat = saliency.numpy()
    # Dark input, evidence in warm colours (black -> red -> yellow), as matplotlib's "inferno" reads.
    red = np.clip(2 * heat, 0, 1)
    green = np.clip(2 * heat - 1, 0, 1)
    rgb = np.stack([0.55 * image + 0.45 * red, 0.55 * image + 0.45 * green, 0.55 * image], axis=-1)
    rgb = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def show_image(ax, image: torch.Tensor) -> None:
    img = image.permute(1, 2, 0).numpy()
    ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=255)
    ax.set_xticks([])
    ax.set_yticks([])


SAMPLE_CLASSES = 40


def data_check_figure(report: dict, samples: dict[str, torch.Tensor | None]) -> Figure:
    """`tinyvision check-data`: images per class and split (bars), and sample images of every class."""
    classes = report["classes"]
    # Sample rows for the first SAMPLE_CLASSES classes only: a row of axes per class made a 400-class folder's
    # figure take over ten minutes to lay out. The bars still count every class; report.md lists them all.
    shown = classes[:SAMPLE_CLASSES]
    columns = max([len(s) for s in samples.values() if s is not None], default=1)
    fig = NotebookFigure(figsize=(max(8.0, 0.9 * columns + 2), 3.2 + 0.02 * len(classes) + 0.75 * len(shown)),
                         layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[3.0 + 0.02 * len(classes), 0.75 * len(shown)])
    ax = top.subplots()
    left = np.zeros(len(classes))
    for split, counts in report["counts"].items():
        values = np.array([counts.get(c, 0) for c in classes])
        ax.barh([printable(c) for c in classes], values, left=left, label=split)
        left += values
    ax.invert_yaxis()
    ax.set(xlabel="images", title=printable(f"{report['dataset']}: images per class"))
    if report["counts"]:  # no split: no bars to name (a folder none of whose images could be read)
        ax.legend()
    ax.grid(alpha=0.3, axis="x")
    axes = bottom.subplots(len(shown), columns, squeeze=False)
    if len(shown) < len(classes):
        bottom.suptitle(f"samples of the first {len(shown)} of {len(classes)} classes", fontsize=9)
    for row, name in zip(axes, shown):
        for ax in row:
            ax.axis("off")
        images = samples.get(name)
        for ax, image in zip(row, images if images is not None else []):
            show_image(ax, image)
        row[0].text(-0.1, 0.5, printable(name), transform=row[0].transAxes, ha="right", va="center", fontsize=8)
    return fig


def printable(text: str) -> str:
    """Text for a figure: a file or folder name's undecodable bytes (lone surrogates, PEP 383), which no
    font can draw (matplotlib raised), shown as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def duplicate_pairs_figure(pairs: list[tuple[torch.Tensor, torch.Tensor, str]], columns: int = 4) -> Figure:
    """Example duplicate pairs, side by side, with where they sit (across splits, across classes, ...)."""
    rows = (len(pairs) + columns - 1) // columns
    fig = NotebookFigure(figsize=(3.4 * columns, 2.4 * rows), layout="constrained")
    cells = fig.subfigures(rows, columns, squeeze=False)
    for cell in cells.flat:
        cell.set_facecolor("white")
    for cell, (a, b, caption) in zip(cells.flat, pairs):
        ax_a, ax_b = cell.subplots(1, 2)
        show_image(ax_a, a)
        show_image(ax_b, b)
        cell.suptitle(printable(caption), fontsize=7)
    return fig

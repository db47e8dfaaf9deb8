"""A loaded model against its dataset's test split, through the model's own inference path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from tinyvision.atomic import write_json
from tinyvision.config import same_dataset
from tinyvision.datasets import load_dataset
from tinyvision.datasets.folder import moved_hint, nfc
from tinyvision.datasets.registry import DIGITS_PREFIX, FOLDER_PREFIX
from tinyvision.datasets.split import SplitOptions, moved_here, split_of_run
from tinyvision.errors import TinyVisionError
from tinyvision.evaluate import score, split_report, test_files

if TYPE_CHECKING:
    from tinyvision.classifier import Model


def evaluate_model(model: Model, dataset: str | None = None, data_dir: Path | None = None,
                   limit_batches: int | None = None, batch_size: int = 1000) -> dict:
    """Loss, accuracy, per-class scores and confusion of `model` on the test split.

    The predictions and abstentions come from the model's calibrated `logits`, which `predict` and the
    server call, so this accuracy is the accuracy of what answers users.
    """
    card = model.card
    # The run's own folder, however it is spelled (relative, with ~ or a trailing slash, through a link), is
    # the run's: spelled otherwise it was split again with seed 0, and a run of another seed was scored
    # mostly on its own training images.
    own = dataset is None or same_dataset(dataset, card.dataset)
    name = card.dataset if own else dataset
    if not own and moved_here(card.dataset, dataset, model.source):
        own = True  # the run's folder, moved or copied: its test files there, under the new name
    elif dataset is None and (hint := moved_hint(name)):
        raise TinyVisionError(f"{name}: the run's folder is gone; {hint}")
    if not own:
        name = as_the_model_reads(name, card.preparation)
    # A folder the run split itself: its own test files, as its split.json (or its seed) says. Any folder
    # is decoded to the model's input shape, as predict reads a file: the run's files give the tensors it
    # was tested on even after the folder has grown, and another folder of other sizes can be evaluated.
    shape = tuple(card.input_shape)
    # Another labelled folder is evaluated whole (its test/ when it has one): it was never trained on.
    split = split_of_run(model.source, card.config, shape) if own else \
        SplitOptions(shape=shape, needed=("test",), all_test=True)
    data = load_dataset(name, data_dir, card.config.get("image_size") if own else None, split=split)
    labels = data.test_labels
    # Names compared as text, whatever their Unicode form: macOS writes "café" decomposed, and a model of a
    # Mac's folder did not know the same classes copied from Linux or Windows.
    known = [nfc(c) for c in card.classes]
    if [nfc(c) for c in data.classes] != known:
        unknown = [c for c in data.classes if nfc(c) not in known]
        if unknown:
            raise TinyVisionError(f"{model.source} knows the classes {listed(card.classes)}; {data.name} has "
                                  f"{listed(unknown)}, which it does not")
        # Some of the model's classes (a folder of cats and dogs for a model of ten): labelled as the model
        # numbers its classes; the others have no test images (support 0).
        index = torch.tensor([known.index(nfc(c)) for c in data.classes])
        labels = index[labels]
    if data.input_shape != card.input_shape:
        raise TinyVisionError(
            f"{model.source} takes {'x'.join(map(str, card.input_shape))} images; "
            f"{data.name} has {'x'.join(map(str, data.input_shape))}"
        )
    images = data.test_images
    if limit_batches is not None:
        images = images[: limit_batches * batch_size]
    result = score(logits_in_chunks(model, images, batch_size), labels[: len(images)])
    return {
        "checkpoint": str(model.source),
        "model": card.model,
        "dataset": data.name,
        "tta": card.tta.to_dict(),
        "temperature": card.temperature,
        **split_report(result, card.classes, card.reject, test_files(data.split_files)),
    }


def as_the_model_reads(name: str, preparation: str) -> str:
    """Another folder named for evaluation, prepared as `predict` prepares this model's inputs: a digit
    model's files as digits (`digits:`), any other model's resized (`folder:`). Named `folder:`, a digit
    model's photos were scored plain-resized (20% where predict read 96.5% of the same files)."""
    for prefix in (FOLDER_PREFIX, DIGITS_PREFIX):
        if name.startswith(prefix):
            return (DIGITS_PREFIX if preparation == "digit" else FOLDER_PREFIX) + name[len(prefix):]
    return name


def logits_in_chunks(model: Model, images, batch_size: int) -> torch.Tensor:
    """`model.logits` of a split a chunk at a time: a folder too large for memory stays in its mapped file
    (`MappedImages`), and only a chunk of it is gathered at once (it was refused whole)."""
    if isinstance(images, torch.Tensor):
        return model.logits(images)
    return torch.cat([model.logits(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


def listed(classes, shown: int = 8) -> str:
    """Class names for a one-line message: the first few, then how many in all."""
    names = ", ".join(classes[:shown])
    return names if len(classes) <= shown else f"{names}, ... ({len(classes)} in all)"


def write_evaluation(report: dict, out: Path) -> dict[str, Path]:
    """evaluation.json and evaluation_confusion.png in `out`."""
    from tinyvision.plots import plot_confusion

    files = {"json": out / "evaluation.json", "confusion_png": out / "evaluation_confusion.png"}
    write_json(files["json"], report)
    plot_confusion(report["confusion"], report["classes"], files["confusion_png"],
                   f"{report['model']} on {report['dataset']}: test confusion")
    return files

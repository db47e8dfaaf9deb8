"""An exported `.onnx`, loaded back: its sidecar card, its runner, and whether it is its run's current export.

`Model.load` reads an export through these: the card beside the graph must be the one written for that very
file (its SHA-256), the graph must take and give what the card says, and a run's `model.onnx` exported from
weights the run has since replaced is refused, with the command that writes it again.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from tinyvision.checkpoint import MODEL_FILE, ModelCard, read_card, stored_digest, unfinished
from tinyvision.errors import TinyVisionError, UnfinishedRunWarning, resume_command

Runner = Callable[[torch.Tensor], torch.Tensor]  # uint8 (N, C, H, W) -> calibrated logits (N, classes)


def onnx_runner(path: Path, card: ModelCard) -> Runner:
    """The exported file as a runner, once its input and output fit its sidecar's card: a sidecar from
    another export (other classes, another size) would otherwise index answers that do not exist."""
    from tinyvision.export import onnx_session

    session = onnx_session(path)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    # One input and one output, as export writes them: a graph with a second output computed it at every
    # prediction (one of terabytes failed in a traceback), and only the first was looked at.
    given = [inputs[0].shape[1:], outputs[0].shape[1:]] if len(inputs) == 1 and len(outputs) == 1 else None
    if given != [list(card.input_shape), [len(card.classes)]]:
        shown = given or f"{len(inputs)} inputs and {len(outputs)} outputs"
        raise TinyVisionError(f"{path}: the model takes and gives {shown}, its card says "
                              f"{[list(card.input_shape), [len(card.classes)]]} (a sidecar of another export?)")
    names = [inputs[0].name], [outputs[0].name]

    def run_chunk(pixels: np.ndarray) -> np.ndarray:
        try:
            return session.run(names[1], {names[0][0]: pixels})[0]
        except Exception as exc:  # ONNX Runtime's own error types: a damaged or hostile graph, in one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TinyVisionError(f"{path}: the exported model failed to run ({first[:300]})") from None

    def run(pixels: torch.Tensor) -> torch.Tensor:
        outputs = [run_chunk((pixels[i : i + 500].float() / 255.0).numpy()) for i in range(0, len(pixels), 500)]
        return torch.from_numpy(np.concatenate(outputs)) if outputs else torch.zeros(0, 0)

    return run


def onnx_card(path: Path) -> tuple[ModelCard, str | None]:
    """An export's card, and the digest of the checkpoint weights it was exported from (None: not recorded,
    an older export)."""
    sidecar = path.with_name(path.name + ".json")
    if not sidecar.is_file():
        raise TinyVisionError(f"{path}: no {sidecar.name} beside it (written by tinyvision export)")
    try:
        beside = json.loads(sidecar.read_text())
        card_json, expected = beside["card"], beside.get("model_sha256")  # (older exports have no checksum)
        exported_from = beside.get("weights_sha256")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TinyVisionError(f"{sidecar}: not a tinyvision export card ({exc})") from None
    if expected is not None:
        from tinyvision.export import file_sha256

        try:
            found = file_sha256(path)
        except OSError as exc:
            raise TinyVisionError(f"{path}: cannot read ({exc.strerror or exc})") from None
        if found != expected:
            raise TinyVisionError(f"{path}: {sidecar.name} beside it is the card of another export (its checksum "
                                  f"differs; an export stopped midway?): export again")
    return ModelCard.from_json(json.dumps(card_json), sidecar), exported_from


def check_export_current(onnx_path: Path, exported, checkpoint: Path) -> None:
    """Refuse a run's `model.onnx` exported from other weights (`exported`, the digest its card records) than
    the run's checkpoint now holds (the run was resumed, or was still training, after the export). An export
    made before the card recorded its weights is taken as it is."""
    if exported is not None and checkpoint.is_file() and exported != stored_digest(checkpoint):
        raise TinyVisionError(f"{onnx_path} was exported from other weights than {checkpoint} holds now (the run "
                              f"trained on after it): export it again with: tinyvision export "
                              f"{checkpoint.parent} --format onnx")


def export_command(onnx_path: Path, checkpoint: Path | None) -> str:
    """The shell command that writes a missing `.onnx` from `checkpoint` (None: none beside it, RUN_DIR): export
    reads a run, not the file it is to write (`tinyvision export RUN/model.onnx` answered that RUN/model.onnx
    was missing). `model.onnx` beside the checkpoint is export's default; another name or place is its --out."""
    from shlex import quote

    source = "RUN_DIR" if checkpoint is None else quote(str(checkpoint.parent if checkpoint.name == MODEL_FILE
                                                             else checkpoint))
    default = checkpoint is not None and onnx_path == checkpoint.with_name("model.onnx")
    return f"tinyvision export {source} --format onnx" + ("" if default else f" --out {quote(str(onnx_path))}")


def warn_unfinished_export(card: ModelCard, onnx_path: Path) -> None:
    """`warn_unfinished` for an export, saying what gives a finished one: finishing the run never rewrites its
    export (the run beside it may have finished since, and `--resume` then answers "already finished"), and
    an export written elsewhere is not in its run's folder."""
    why = unfinished(card)
    if why is None:
        return
    checkpoint = onnx_path.with_name(MODEL_FILE)
    try:
        finished = checkpoint.is_file() and unfinished(read_card(checkpoint)) is None
    except TinyVisionError:  # a damaged checkpoint beside it: the export is still what was asked for
        finished = False
    export = export_command(onnx_path, checkpoint if checkpoint.is_file() else None)
    if finished:
        advice = f"its run has finished since: export it again with: {export}"
    else:
        folder = onnx_path.parent if checkpoint.is_file() else "RUN_DIR"
        advice = f"finish its run with: {resume_command(folder)}, then export it again with: {export}"
    warnings.warn(f"{onnx_path}: {why}; {advice}", UnfinishedRunWarning, stacklevel=4)

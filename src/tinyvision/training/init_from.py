"""Start a run from another run's weights (`--init-from RUN_OR_CHECKPOINT`): fine-tuning.

Every tensor of the new model whose name and shape match a tensor of the
checkpoint is copied; the rest keep their fresh initialisation. The head
(the model's last linear layer) is copied only when the two models have the
same classes, in the same order: a head trained to say "cat" in row 3 would
otherwise start out wrong. So MNIST -> a folder of digit photos (same classes,
28x28 gray) starts with every layer trained, and MNIST -> a folder of other
things keeps the trained features under a new head.

The checkpoint is read with safetensors (no code runs from the file) and checked as
every load is (`checkpoint.load_state`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from tinyvision.checkpoint import load_state, read_card, resolve_model_path
from tinyvision.datasets.folder import nfc
from tinyvision.errors import TinyVisionError, flag


@dataclass(frozen=True)
class InitReport:
    source: Path
    loaded: list[str]
    skipped: list[str]  # name (reason)
    new_head: bool

    def line(self) -> str:
        head = "; a new head, the classes differing from the source's" if self.new_head else ""
        shown = ", ".join(self.skipped[:4]) + (f" and {len(self.skipped) - 4} more" if len(self.skipped) > 4 else "")
        skipped = f" (kept fresh: {shown})" if self.skipped else ""
        return (f"init from {self.source}: loaded {len(self.loaded)} tensors, "
                f"skipped {len(self.skipped)}{skipped}{head}")


def head_names(model: nn.Module) -> set[str]:
    """The state-dict names of the model's last linear layer (its classifier head)."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        return set()
    return {f"{last}.{k}" for k, _ in model.get_submodule(last).named_parameters()}


def init_from(model: nn.Module, path: str | Path, classes: tuple[str, ...], name: str) -> InitReport:
    """Copy the checkpoint's matching tensors into `model` (the registered model `name`, in place) and
    say what was copied. A checkpoint of another model is refused: a layer that matches another
    network's by name and shape alone is not the same layer."""
    source = resolve_model_path(Path(path).expanduser())
    card = read_card(source)
    if card.model != name:
        raise TinyVisionError(f"{flag('init-from', source)} holds a {card.model!r}, not a {name!r} "
                              f"(fine-tune the same model: drop --model, or pass {flag('model', card.model)})")
    saved, _ = load_state(source)  # checked as every load is (its shapes, its checksum, finite weights)
    from tinyvision.classifier import warn_unfinished

    warn_unfinished(card, source)  # weights from the middle of a run: said, as loading them anywhere says
    new_head = [nfc(c) for c in card.classes] != [nfc(c) for c in classes]  # (a name's Unicode form aside)
    head = head_names(model) if new_head else set()
    own = model.state_dict()
    loaded, skipped = [], []
    with torch.no_grad():
        for name, tensor in own.items():
            theirs = saved.get(name)
            if name in head:
                skipped.append(f"{name} (head)")
            elif theirs is None:
                skipped.append(f"{name} (not in the checkpoint)")
            elif theirs.shape != tensor.shape:
                skipped.append(f"{name} (shape {tuple(theirs.shape)} vs {tuple(tensor.shape)})")
            else:
                tensor.copy_(theirs.to(tensor.dtype))
                loaded.append(name)
    if not any(n for n in loaded if not n.endswith("num_batches_tracked")):
        raise TinyVisionError(
            f"{flag('init-from', source)}: no layer of its {card.model!r} fits this {type(model).__name__} "
            f"(same names and shapes needed)"
        )
    return InitReport(source, loaded, skipped, new_head)

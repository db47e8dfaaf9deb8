"""What happens around the loop: reporting progress and saving the run, as callbacks.

The loop calls every callback at the same points (start, each step, each
epoch's end, an interruption, the end); a callback does one job. `Saver`
writes the run folder (rank 0 only), `Reporter` prints progress. Others (a
TensorBoard writer, a benchmark's timer) plug in the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from tinyvision.checkpoint import ModelCard, save_model, save_train_state
from tinyvision.datasets.split import SPLIT_FILE, SplitOptions, write_split
from tinyvision.progress import Progress
from tinyvision.run_folder import RunFolder
from tinyvision.version import code_version

if TYPE_CHECKING:
    from tinyvision.training.loop import Position
    from tinyvision.training.setup import Setup


class Callback:
    """Override what you need; every hook defaults to doing nothing."""

    wants_loss = False  # whether `on_step` needs the step's loss as a number (a device sync)

    def on_start(self, s: Setup, pos: Position, resumed: bool) -> None: ...
    def on_epoch_start(self, s: Setup, pos: Position, steps: int) -> None: ...
    def on_step(self, s: Setup, pos: Position, loss: float | None, images_per_second: float) -> None: ...
    def on_epoch_end(self, s: Setup, pos: Position, row: dict) -> None: ...
    def on_interrupt(self, s: Setup, pos: Position) -> None: ...
    def on_end(self, s: Setup, pos: Position, metrics: dict, card: ModelCard) -> None: ...


class Callbacks:
    """Calls a list of callbacks in order."""

    def __init__(self, callbacks: list[Callback]) -> None:
        self.callbacks = list(callbacks)

    def start(self, s: Setup, pos: Position, resumed: bool) -> None:
        for cb in self.callbacks:
            cb.on_start(s, pos, resumed)

    def epoch_start(self, s: Setup, pos: Position, steps: int) -> None:
        for cb in self.callbacks:
            cb.on_epoch_start(s, pos, steps)

    def step(self, s: Setup, pos: Position, loss: torch.Tensor, images_per_second: float) -> None:
        """`loss` is the step's mean loss on the device: read (a sync) only when a callback wants it."""
        value = loss.item() if any(cb.wants_loss for cb in self.callbacks) else None
        for cb in self.callbacks:
            cb.on_step(s, pos, value, images_per_second)

    def epoch_end(self, s: Setup, pos: Position, row: dict) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(s, pos, row)

    def interrupt(self, s: Setup, pos: Position) -> None:
        for cb in self.callbacks:
            cb.on_interrupt(s, pos)

    def end(self, s: Setup, pos: Position, metrics: dict, card: ModelCard) -> None:
        for cb in self.callbacks:
            cb.on_end(s, pos, metrics, card)


def model_card(s: Setup, metrics: dict, temperature: float = 1.0, reject: dict | None = None) -> ModelCard:
    return ModelCard(
        model=s.cfg.model, input_shape=s.data.input_shape, classes=s.data.classes,
        normalization=s.norm, dataset=s.data.name, config=s.cfg.to_dict(),
        code_version=code_version(), metrics=metrics, kind=s.spec.kind, preparation=s.spec.preparation,
        tta=s.tta, temperature=temperature, reject=reject or {},
    )


def training_state(s: Setup, pos: Position) -> dict[str, Any]:
    return {
        "position": {k: v for k, v in vars(pos).items() if k != "history"},
        "history": pos.history,
        "model": {k: v.detach().cpu() for k, v in s.model.state_dict().items()},
        "optimizer": s.optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if s.device.type == "cuda" else [],
        "aug_rng": s.aug_generator.get_state(),
        "average": s.average.state_dict() if s.average is not None else None,
    }


class Saver(Callback):
    """Writes the run folder: the state to resume from first, then what refers to it.

    Order matters for a crash at any instant: `train_state.pt` (with the
    history) is written before `model.safetensors` and `metrics.csv`, so the
    folder never shows an epoch that the state to resume from does not hold.
    """

    def __init__(self, run: RunFolder) -> None:
        self.run = run

    def on_start(self, s: Setup, pos: Position, resumed: bool) -> None:
        if not resumed:
            self.run.create(s.cfg)
        # Which file went where: evaluate and resume use the same (a run restarted before its first
        # epoch was saved may not have written it).
        if s.data.split_files is not None and not (self.run.path / SPLIT_FILE).exists():
            write_split(self.run.path / SPLIT_FILE, s.data.name, s.data.split_files,
                        SplitOptions(s.cfg.seed, s.cfg.val_fraction, s.cfg.test_fraction), s.data.input_shape)

    def save_progress(self, s: Setup, pos: Position) -> None:
        save_train_state(self.run.state, training_state(s, pos))
        last = pos.history[-1] if pos.history else {}
        save_model(self.run.model, s.eval_model, model_card(s, {"val_acc": last.get("val_acc"), "epoch": pos.epoch}))

    def on_epoch_end(self, s: Setup, pos: Position, row: dict) -> None:
        self.save_progress(s, pos)
        self.run.write_history(pos.history)

    def on_interrupt(self, s: Setup, pos: Position) -> None:
        self.save_progress(s, pos)

    def on_end(self, s: Setup, pos: Position, metrics: dict, card: ModelCard) -> None:
        save_model(self.run.model, s.eval_model, card)
        self.run.write_metrics(metrics)


class Reporter(Callback):
    """Progress on screen: a bar (terminal or notebook) or one line per epoch."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    @property
    def wants_loss(self) -> bool:  # type: ignore[override]
        return self.progress.wants_loss

    def on_start(self, s: Setup, pos: Position, resumed: bool) -> None:
        if resumed and pos.epoch >= s.cfg.epochs:  # stopped after its last epoch, in the calibration or test
            self.progress.message(f"resuming after the last epoch ({pos.epoch}): calibrating and testing")
        elif resumed:
            self.progress.message(f"resuming at epoch {pos.epoch + 1}, step {pos.step}")
        self.progress.message(
            f"{s.cfg.model}: {sum(p.numel() for p in s.model.parameters()):,} parameters | {s.data.name} "
            f"{len(s.train_x)} train / {len(s.val_x)} val / {len(s.data.test_images)} test | "
            f"device {s.device} | {s.dist.describe_batch(s.cfg.batch_size)} | "
            f"{s.cfg.optimizer} lr {s.cfg.lr} {s.cfg.schedule}"
        )
        for note in s.notes:
            self.progress.message(note)

    def on_epoch_start(self, s: Setup, pos: Position, steps: int) -> None:
        self.progress.start_epoch(pos.epoch + 1, steps, pos.step)

    def on_step(self, s: Setup, pos: Position, loss: float | None, images_per_second: float) -> None:
        self.progress.step(loss, images_per_second)

    def on_epoch_end(self, s: Setup, pos: Position, row: dict) -> None:
        self.progress.end_epoch(row)

    def on_interrupt(self, s: Setup, pos: Position) -> None:
        self.progress.close()

"""The run's `status.json` (running / finished / interrupted / failed): see `runs_index.py`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyvision.run_folder import RunFolder
from tinyvision.runs_index import write_status
from tinyvision.training.callbacks import Callback

if TYPE_CHECKING:
    from tinyvision.checkpoint import ModelCard
    from tinyvision.training.loop import Position
    from tinyvision.training.setup import Setup


class StatusWriter(Callback):
    """Records how the run stands; `failed` is written by `failed()`, called where the error is caught."""

    def __init__(self, run: RunFolder) -> None:
        self.run = run
        self.started = False  # only a run that claimed its folder may mark it (never another run's folder)

    def on_start(self, s: Setup, pos: Position, resumed: bool) -> None:
        self.started = True
        write_status(self.run.path, "running", epoch=pos.epoch)

    def on_epoch_end(self, s: Setup, pos: Position, row: dict) -> None:
        write_status(self.run.path, "running", epoch=pos.epoch)

    def on_interrupt(self, s: Setup, pos: Position) -> None:
        write_status(self.run.path, "interrupted", epoch=pos.epoch)

    def on_end(self, s: Setup, pos: Position, metrics: dict, card: ModelCard) -> None:
        write_status(self.run.path, "finished", epoch=pos.epoch)

    def failed(self, error: BaseException) -> None:
        if self.started and isinstance(error, KeyboardInterrupt):  # a second Ctrl-C: the last epoch is saved
            write_status(self.run.path, "interrupted")
        elif self.started:
            lines = str(error).strip().splitlines()
            write_status(self.run.path, "failed", error=f"{type(error).__name__}: {lines[0] if lines else ''}")

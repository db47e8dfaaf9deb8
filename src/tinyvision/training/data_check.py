"""The one-line data check `tinyvision train` prints before training on a folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyvision.progress import Progress
from tinyvision.training.callbacks import Callback

if TYPE_CHECKING:
    from tinyvision.training.loop import Position
    from tinyvision.training.setup import Setup


class DataCheck(Callback):
    """Runs `datasets.data_check` on the split being trained (a folder: the same files), says what it found,
    and warns when test images have copies in train (leakage)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def on_start(self, s: Setup, pos: Position, resumed: bool) -> None:
        from tinyvision.datasets.data_check import check_image_data

        if resumed or s.data.split_files is None:  # datasets of files only (folder:, digits:)
            return
        report = check_image_data(s.data, s.cfg.image_size)
        self.progress.message(report.summary())
        leak = report.leakage()
        if leak:
            self.progress.message(f"warning: {leak}")

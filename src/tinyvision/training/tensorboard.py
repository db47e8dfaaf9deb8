"""`--tensorboard`: TensorBoard event files in the run folder (`tensorboard --logdir RUN_DIR`).

Per epoch: every number of the epoch's row (train/val loss and accuracy,
learning rate, seconds). At the end: the test metrics, the hyper-parameters
with the final metrics (TensorBoard's HPARAMS tab, to compare runs), and the
curves and confusion figures as images. Written by rank 0 only, as the run
folder is.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from tinyvision.errors import TinyVisionError
from tinyvision.run_folder import RunFolder
from tinyvision.training.callbacks import Callback

if TYPE_CHECKING:
    from tinyvision.checkpoint import ModelCard
    from tinyvision.training.loop import Position
    from tinyvision.training.setup import Setup

LOG_DIR = "tensorboard"
TEST_METRICS = ("test_acc", "test_loss", "test_balanced_acc", "test_macro_f1", "test_ece")


def hyperparameters(config: dict) -> dict:
    """The config's values TensorBoard can show (numbers, strings, booleans); None as a string."""
    return {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in config.items()
            if k != "extra"}


def figure_pixels(figure) -> np.ndarray:
    """A matplotlib Figure -> (H, W, 3) uint8, rendered to PNG and decoded (no pyplot)."""
    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


class TensorBoardWriter(Callback):
    def __init__(self, run: RunFolder) -> None:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:  # said before anything is written
            raise TinyVisionError("--tensorboard needs the tensorboard package: pip install 'tinyvision[tensorboard]'")
        self.run = run
        self.writer = None

    def on_start(self, s: Setup, pos: Position, resumed: bool) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # On resume, drop anything logged after the epoch the run restarts from.
        self.writer = SummaryWriter(str(self.run.path / LOG_DIR), purge_step=pos.epoch + 1 if resumed else None)

    def on_epoch_end(self, s: Setup, pos: Position, row: dict) -> None:
        for key, value in row.items():
            if key != "epoch":
                group = "seconds" if key.endswith("seconds") else key.split("_")[-1]
                self.writer.add_scalar(f"{group}/{key}", value, row["epoch"])
        self.writer.flush()

    def on_interrupt(self, s: Setup, pos: Position) -> None:
        self.writer.close()

    def on_end(self, s: Setup, pos: Position, metrics: dict, card: ModelCard) -> None:
        from tinyvision import plots

        final = {k: float(metrics[k]) for k in TEST_METRICS if k in metrics}
        for key, value in final.items():
            self.writer.add_scalar(f"test/{key}", value, pos.epoch)
        self.writer.add_hparams(hyperparameters(s.cfg.to_dict()), {f"hparam/{k}": v for k, v in final.items()},
                                run_name="hparams")
        title = f"{s.cfg.model} on {s.data.name}"
        figures = {
            "curves": plots.curves_figure(metrics["history"], title),
            "confusion": plots.confusion_figure(metrics["confusion"], metrics["classes"], f"{title}: test confusion"),
        }
        for name, figure in figures.items():
            self.writer.add_image(f"figures/{name}", figure_pixels(figure), pos.epoch, dataformats="HWC")
        self.writer.close()

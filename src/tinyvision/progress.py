"""Reporting progress: a live bar on a terminal or in a notebook, plain fixed-column lines elsewhere."""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO

from tqdm import tqdm

# What `train(progress=...)` and `compare(progress=...)` accept -> Progress's `bar` (None: a bar where
# one can be drawn, else lines).
PROGRESS_CHOICES = {True: None, "auto": None, "bar": True, "lines": False, False: False}


def progress_bar(progress) -> bool | None:
    """The `bar` of a `progress` option, or one line saying what it may be."""
    from tinyvision.errors import TinyVisionError

    if not isinstance(progress, (bool, str)) or progress not in PROGRESS_CHOICES:
        raise TinyVisionError(f"progress must be True, False, 'auto', 'bar' or 'lines', got {progress!r}")
    return PROGRESS_CHOICES[progress]


def in_notebook() -> bool:
    """Whether we run inside a Jupyter kernel (where a terminal bar would print a line per update)."""
    shell = sys.modules.get("IPython")
    try:
        return shell is not None and type(shell.get_ipython()).__name__ == "ZMQInteractiveShell"
    except Exception:  # noqa: BLE001 - any IPython oddity means "not a notebook"
        return False


def bar_class() -> type[tqdm] | None:
    """The bar that suits where we run: a widget in notebooks (if ipywidgets is there), else a terminal bar."""
    if in_notebook():
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm as notebook_tqdm

            return notebook_tqdm
        except ImportError:
            return None  # lines are clearer than a text bar re-printed in a cell
    return tqdm


def epoch_line(row: dict, epochs: int) -> str:
    """One flat, fixed-column line per epoch (the same numbers as metrics.csv)."""

    def pct(v: float) -> str:
        return "   n/a " if math.isnan(v) else f"{100 * v:6.2f}%"

    def num(v: float) -> str:
        return "   n/a" if math.isnan(v) else f"{v:.4f}"

    return (
        f"epoch {row['epoch']:>3}/{epochs:<3} "
        f"train_loss {num(row['train_loss'])}  train_acc {pct(row['train_acc'])}  "
        f"val_loss {num(row['val_loss'])}  val_acc {pct(row['val_acc'])}  "
        f"lr {row['lr']:.2e}  time {row['epoch_seconds']:6.1f}s  total {row['train_seconds']:6.1f}s"
    )


class Progress:
    """Shows training progress.

    `bar=None` picks a bar on a terminal or in a notebook, lines elsewhere;
    `quiet=True` shows nothing at all.
    """

    def __init__(self, epochs: int, bar: bool | None = None, out: TextIO | None = None, quiet: bool = False) -> None:
        self.epochs = epochs
        self.quiet = quiet
        wanted = (sys.stderr.isatty() or in_notebook()) if bar is None else bar
        self.bar_type = bar_class() if wanted and not quiet else None
        self.out = out or sys.stdout  # looked up now, not at import: tests and callers may swap stdout
        self._bar: tqdm | None = None
        self._last = 0.0

    def start_epoch(self, epoch: int, steps: int, done: int) -> None:
        if self.bar_type is not None:
            self._bar = self.bar_type(
                total=steps, initial=done, desc=f"epoch {epoch}/{self.epochs}",
                unit="step", leave=False, dynamic_ncols=True,
            )

    def step(self, loss: float | None, images_per_second: float) -> None:
        if self._bar is None:
            return
        self._bar.update(1)
        now = time.monotonic()
        if loss is not None and now - self._last > 0.25:
            self._bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{images_per_second:,.0f}")
            self._last = now

    @property
    def wants_loss(self) -> bool:
        return self._bar is not None and time.monotonic() - self._last > 0.25

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def end_epoch(self, row: dict) -> None:
        self.close()
        self.message(epoch_line(row, self.epochs))

    def message(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.out, flush=True)

"""What every command shares: the one-line error parser, exit codes, device and progress flags."""

from __future__ import annotations

import argparse

from tinyvision.errors import TinyVisionError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
DEVICES = ["auto", "cpu", "cuda", "mps"]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise TinyVisionError(f"{self.prog}: {message}")


def interrupted_message(exc: BaseException) -> str | None:
    """The message of a training run stopped by Ctrl-C (`tinyvision.Interrupted`), else None."""
    import sys

    loop = sys.modules.get("tinyvision.training.loop")
    if loop is not None and isinstance(exc, loop.Interrupted):
        return str(exc)
    return None


def progress_choice(value: str) -> bool | str:
    return {"auto": True, "bar": "bar", "lines": "lines"}[value]

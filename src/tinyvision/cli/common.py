"""What every command shares: the one-line error parser, exit codes, device and progress flags."""

from __future__ import annotations

import argparse
import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

from tinyvision.errors import TinyVisionError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
DEVICES = ["auto", "cpu", "cuda", "mps"]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise TinyVisionError(f"{self.prog}: {message}")


def path_arg(text: str) -> Path:
    """A path argument. An empty one is refused: Path("") is ".", so an unset "$IMG" read every image in
    the current folder and below, and explain wrote a picture of each there."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path names no file or folder")
    return Path(text)


# The signals that have interrupted this command (Ctrl-C; SIGTERM where it ends a command as one), in order.
INTERRUPTS: list[int] = []


def interrupt(signum, frame) -> None:  # noqa: ARG001
    """A signal handler: Ctrl-C's KeyboardInterrupt, remembered. One that lands inside an import (numpy's, as
    `plot` imports matplotlib) can come out of it as another exception ("ImportError: cannot load module more
    than once per process", an AttributeError of a half-imported module), which was shown as a traceback:
    remembered, it is reported as the interruption it was."""
    INTERRUPTS.append(signum)
    raise KeyboardInterrupt


@contextlib.contextmanager
def handling(signum: int, untouched, handler) -> Iterator[None]:
    """Within this block `handler` answers `signum` where its handler is still `untouched` (Python's own): an
    ignored signal (a job started with `&`) or a caller's handler stays, and where none can be set (main()
    called from a thread) none is."""
    ours = signal.getsignal(signum) == untouched
    try:
        if ours:
            signal.signal(signum, handler)
    except ValueError:  # not the main thread
        ours = False
    try:
        yield
    finally:
        if ours:
            signal.signal(signum, untouched)


def interrupts_remembered() -> contextlib.AbstractContextManager[None]:
    """Within this block Ctrl-C is `interrupt`: a KeyboardInterrupt, as ever, and remembered."""
    INTERRUPTS.clear()
    return handling(signal.SIGINT, signal.default_int_handler, interrupt)


def sigterm_as_ctrl_c() -> contextlib.AbstractContextManager[None]:
    """Within this block SIGTERM (kill, docker stop, systemd) ends the command as Ctrl-C does (`interrupt`): what
    it staged is removed, and it ends in one line with EXIT_INTERRUPTED. It ended the process at once (rc -15),
    its staged files left for a later command to clean. A second SIGTERM ends it at once."""

    def handler(signum, frame):
        signal.signal(signum, signal.SIG_DFL)
        interrupt(signum, frame)

    return handling(signal.SIGTERM, signal.SIG_DFL, handler)


def interrupted_message(exc: BaseException) -> str | None:
    """The message of a command stopped by Ctrl-C whose KeyboardInterrupt came out as `exc`: a training run's
    (`tinyvision.Interrupted`), or any exception raised after a Ctrl-C (`interrupt`); else None."""
    import sys

    loop = sys.modules.get("tinyvision.training.loop")
    if loop is not None and isinstance(exc, loop.Interrupted):
        return str(exc)
    if INTERRUPTS:
        return "interrupted"
    return None


def names_error(exc: UnicodeError) -> tuple[str, int]:
    """The "names" codec error handler: a file name's undecodable bytes (held as lone surrogates, PEP 383)
    go out as those bytes, as `ls` shows them; anything else the stream cannot encode, backslash-escaped."""
    import codecs

    if isinstance(exc, UnicodeEncodeError):
        bad = exc.object[exc.start : exc.end]
        if all(0xDC80 <= ord(c) <= 0xDCFF for c in bad):
            return codecs.lookup_error("surrogateescape")(exc)
    return codecs.backslashreplace_errors(exc)


def guard_output() -> None:
    """Make stdout and stderr unable to fail on a file name: a name that is not valid UTF-8 printed to a
    strict UTF-8 stream (en_US.UTF-8, PYTHONIOENCODING=utf-8) raised UnicodeEncodeError mid-command."""
    import codecs
    import sys

    try:
        codecs.lookup_error("names")
    except LookupError:
        codecs.register_error("names", names_error)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="names")


def json_name(path) -> str:
    """A file name for JSON, which cannot hold its undecodable bytes: each shown as \\xNN."""
    import os

    return os.fsencode(path).decode("utf-8", "backslashreplace")


def progress_choice(value: str) -> bool | str:
    return {"auto": True, "bar": "bar", "lines": "lines"}[value]

"""What every command shares: the one-line error parser, exit codes, device and progress flags."""

from __future__ import annotations

import argparse
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


def interrupted_message(exc: BaseException) -> str | None:
    """The message of a training run stopped by Ctrl-C (`tinyvision.Interrupted`), else None."""
    import sys

    loop = sys.modules.get("tinyvision.training.loop")
    if loop is not None and isinstance(exc, loop.Interrupted):
        return str(exc)
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

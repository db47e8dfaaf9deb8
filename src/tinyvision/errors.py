"""The one exception type for mistakes a user can make (bad file, bad flag).

The CLI catches it once and prints a single line; anything else is a bug and
keeps its traceback.

A message names an option as its command-line flag (`--batch-size`), since
the CLI and the Python API share one validation. Raised to a Python caller
(a notebook, a script) it names the keyword argument instead (`batch_size`,
`--no-tta-flip` as `tta_flip=False`): the CLI says when it is the caller
(`command_line`). A flag given a value that is no number is written with
`flag()` (`--model=tvnet`, which the shell takes too), so the Python spelling
knows where the value ends: `model='tvnet'`. A `tinyvision ...` command quoted
in a message, something to type in a shell, keeps its flags.
"""

from __future__ import annotations

import contextlib
import re
import shlex
from collections.abc import Iterator

# A flag (not inside a quoted value or a path: `unknown model '--tvnet'`), with the number it is given, if any.
# A value joined with "=" (`flag()`) is shell-quoted when it needs to be, and ends where its quote or word does.
_FLAG = re.compile(r"(?<![\w/'\"-])--(no-)?([a-z][a-z0-9]*(?:-[a-z0-9]+)*)"
                   r"(?: (\d+(?:\.\d+)?)(?![\w.])|=((?:'[^']*'|\"'\")+|[^\s'\",;()]+?(?=[.:]?(?:[\s,;()]|$))))?")
_COMMAND = re.compile(r"\btinyvision [a-z]")  # from here on, a shell command: left as it is
_callers = ["python"]


@contextlib.contextmanager
def command_line() -> Iterator[None]:
    """Within this block the caller is the CLI: messages keep the flags' spelling."""
    _callers.append("cli")
    try:
        yield
    finally:
        _callers.pop()


def resume_command(folder) -> str:
    """How the caller continues a run: the shell command on the command line, the call in Python."""
    if _callers[-1] == "cli":
        return f"tinyvision train --resume {folder}"
    return f"tinyvision.train(resume={str(folder)!r})"


def flag(name: str, value: object) -> str:
    """A flag with its value, for a message: `--model=tvnet` on the command line (shell-quoted when it must
    be: `--out='my runs'`), `model='tvnet'` to a Python caller."""
    text = str(value)
    quoted = shlex.quote(text)
    if quoted == text and (text.endswith((".", ":")) or any(c in text for c in ",;()")):
        # Safe for the shell, but a message's punctuation would seem to end it ("--resume=.." read as '.'):
        # quoted, it ends where its quote does.
        quoted = "'" + text + "'"
    return f"--{name}={quoted}"


def python_spelling(message: str) -> str:
    """`--batch-size` -> `batch_size`, `--font-digits 0` -> `font_digits=0`, `--no-tta-flip` ->
    `tta_flip=False`, `--model=tvnet` -> `model='tvnet'`; a quoted command is kept."""
    command = _COMMAND.search(message)
    cut = command.start() if command else len(message)

    def keyword(m: re.Match) -> str:
        name = m.group(2).replace("-", "_")
        if m.group(4):
            return f"{name}={shlex.split(m.group(4))[0]!r}"
        return f"{name}=False" if m.group(1) else f"{name}={m.group(3)}" if m.group(3) else name

    return _FLAG.sub(keyword, message[:cut]) + message[cut:]


class TinyVisionError(Exception):
    """A problem with the user's input, reported as one line with exit code 2."""

    def __str__(self) -> str:
        text = super().__str__()
        return text if _callers[-1] == "cli" else python_spelling(text)


class ImageError(TinyVisionError):
    """A file that cannot be used as an image; `kind` says why, for HTTP status codes."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # empty | not_image | corrupt | too_large | too_small | no_ink | not_a_file


def expect(value, kinds: type | tuple[type, ...], name: str, what: str) -> None:
    """A Python caller's argument of the wrong type, refused in one line ("`name` must be WHAT, not ..."),
    where it would have failed later in a traceback (`train(dataset=3)`, `compare(models=None)`). A bool
    is no number here, and no number a bool."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    wrong = not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)
    if wrong:
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise TinyVisionError(f"{name} must be {what}, not {type(value).__name__} {shown}")


class TinyVisionWarning(UserWarning):
    """Something a user should know that does not stop the command; the CLI prints it as one line
    (`tinyvision: warning: ...`)."""


class UnfinishedRunWarning(TinyVisionWarning):
    """A model loaded from a run that stopped before its end: uncalibrated, and it never abstains.
    The CLI prints it as one line (`tinyvision: warning: ...`)."""

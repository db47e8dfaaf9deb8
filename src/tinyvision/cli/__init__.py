"""The `tinyvision` command: one module per command, each a thin caller of the Python API.

User mistakes (TinyVisionError, bad flags) print one line on stderr and exit
with code 2; Ctrl-C during training saves and exits with 130. Importing this
package loads no torch: each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

from tinyvision import __version__
from tinyvision.cli import check_data, compare, evaluate, explain, export, models, plot, predict, runs, serve, train
from tinyvision.cli.common import EXIT_INTERRUPTED, EXIT_USER_ERROR, Parser, guard_output, interrupts_remembered
from tinyvision.errors import TinyVisionError, command_line

EXIT_BROKEN_PIPE = 141  # what a shell reports for a command killed by SIGPIPE (128 + 13)

COMMANDS = {
    m.NAME: m
    for m in (train, evaluate, predict, explain, serve, export, compare, check_data, runs, plot, models)
}

DESCRIPTION = """\
Train, compare, explain and serve small image classifiers: a plain neural
network (MLP) against convolutional networks, on MNIST (bundled, offline),
Fashion-MNIST, CIFAR-10 or your own folders of images."""

EXAMPLES = """\
examples:
  tinyvision train --out runs/digits             the default digit recipe on the bundled MNIST: reads other
                                                 people's handwriting, says "not a digit" (~1 minute, 2 cores)
  tinyvision train --preset fast --out runs/fast one epoch of the small CNN, for a quick 99.2%
  tinyvision compare --dataset fashion-mnist     the MLP against the CNN, with a report and plots
  tinyvision predict runs/digits my_number.jpg   read a photo or scan of a number
  tinyvision serve runs/digits                   a draw-a-number page on http://127.0.0.1:8000/

`tinyvision COMMAND --help` lists a command's options. Python: `import tinyvision`."""


def build_parser() -> Parser:
    parser = Parser(prog="tinyvision", description=DESCRIPTION, epilog=EXAMPLES,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"tinyvision {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    for module in COMMANDS.values():
        module.add(sub)
    return parser


def one_line_warnings() -> None:
    """Our own warnings (an unfinished run's model) as one line, like the errors; others as Python shows them."""
    import warnings

    from tinyvision.errors import TinyVisionWarning

    shown = warnings.showwarning
    if getattr(shown, "one_line", False):  # already installed (main called again in one process)
        return

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, TinyVisionWarning):
            print(f"tinyvision: warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    show.one_line = True
    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    # A mistake is named by its flag, as the user typed it; a Ctrl-C at any point is one line and exit 130.
    with interrupts_remembered(), command_line():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    try:
        guard_output()
        one_line_warnings()
        args = build_parser().parse_args(argv)
        code = COMMANDS[args.command].run(args)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at the interpreter's exit
        return code
    except TinyVisionError as exc:
        print(f"tinyvision: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("tinyvision: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (`tinyvision predict ... | head`): nothing left to say to it.
        # Point stdout at nothing so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        from tinyvision.cli.common import interrupted_message

        if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
            # (pathlib's exists() and is_file() raise it on Python 3.11 for a name over 255 bytes)
            name = os.fsdecode(exc.filename) if exc.filename is not None else "a path"
            print(f"tinyvision: error: {name[:60]}{'...' if len(name) > 60 else ''}: file name too long",
                  file=sys.stderr)
            return EXIT_USER_ERROR
        message = interrupted_message(exc)
        if message is None:
            raise
        print(f"tinyvision: {message}", file=sys.stderr)
        return EXIT_INTERRUPTED

"""The command line's entry: `python -m tinyvision`, and the `tinyvision` script (pyproject's [project.scripts]).

A Ctrl-C that lands before `main` answers it (as the command line's modules import) ends the command as one
anywhere else does, in one line with exit code 130: it was a KeyboardInterrupt traceback. (One that lands in
the interpreter's own start, or in `import tinyvision` before this module runs, comes before any code of ours.)
"""

import sys


def run() -> int:
    try:
        from tinyvision.cli import main

        return main()
    except KeyboardInterrupt:
        print("tinyvision: interrupted", file=sys.stderr)
        return 130  # EXIT_INTERRUPTED, which tinyvision.cli.common may not have defined yet


if __name__ == "__main__":
    raise SystemExit(run())

"""`tinyvision plot`: redraw a run's figures from its saved metrics."""

from __future__ import annotations

import argparse

from tinyvision.cli.common import path_arg

NAME = "plot"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help="redraw a run's figures from its saved metrics")
    p.add_argument("run", type=path_arg, metavar="RUN_DIR")


def run(args: argparse.Namespace) -> int:
    from tinyvision.run import Run

    files = Run(args.run).draw()
    print("wrote " + ", ".join(map(str, files)))
    return 0

"""`tinyvision plot`: redraw a run's figures from its saved metrics."""

from __future__ import annotations

import argparse

from tinyvision.cli.common import path_arg

NAME = "plot"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help="redraw a run's figures from its saved metrics")
    p.add_argument("run", type=path_arg, metavar="RUN_DIR")


def run(args: argparse.Namespace) -> int:
    from tinyvision.errors import TinyVisionError
    from tinyvision.run import Run

    run = Run(args.run)
    if not run.folder.metrics_json.is_file() and run.folder.state.is_file():
        # An unfinished run (interrupted, or still training): its curves so far, as `Run.plot("curves")`
        # draws them; the confusion and the mistakes come with its test metrics, at the end.
        from tinyvision.plots import plot_curves

        history = run.history
        if not history:
            raise TinyVisionError(f"{run.path}: no epoch has finished yet; nothing to plot")
        cfg = run.config
        path = plot_curves(history, run.folder.curves, f"{cfg.model} on {cfg.dataset} (unfinished)")
        print(f"wrote {path} (an unfinished run: confusion.png and misclassified.png come with its test metrics, "
              f"at the end)")
        return 0
    files = run.draw()
    print("wrote " + ", ".join(map(str, files)))
    return 0

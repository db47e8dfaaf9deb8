"""`tinyvision runs [DIR]`: one line per run folder: model, dataset, test accuracy, training time, status."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tinyvision.cli.common import path_arg

NAME = "runs"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help="list run folders: model, dataset, test accuracy, time, status",
                       description="List the run folders under DIR (default runs/), oldest first. Status: "
                       "finished, interrupted (resume it), failed (an error, or the process died), running, "
                       "damaged (finished, but its model.safetensors is missing or empty).")
    p.add_argument("dir", nargs="?", type=path_arg, default=None, metavar="DIR")
    p.add_argument("--json", action="store_true", help="one JSON list instead of the table")


def run(args: argparse.Namespace) -> int:
    from tinyvision.errors import TinyVisionError
    from tinyvision.runs_index import list_runs

    if args.dir is not None and not args.dir.is_dir():  # a folder named by the user must exist
        raise TinyVisionError(f"{args.dir} is not a folder")
    args.dir = args.dir or Path("runs")  # the default: none yet is no mistake
    runs = list_runs(args.dir)
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], indent=2))
        return 0
    if not runs:
        print(f"no run folders under {args.dir}")
        return 0
    # Columns as wide as their longest entry (a model name such as tvresnet-wide shifted its row), the
    # run and dataset columns within bounds: a long path keeps its end, which names it.
    runs_width = min(40, max(3, *(len(str(r.path)) for r in runs)))
    model_width = max(5, *(len(r.model) for r in runs))
    print(f"{'run':<{runs_width}} {'model':<{model_width}} {'dataset':<24} {'test_acc':>8} {'time':>8} "
          f"{'epochs':>7}  status")
    for r in runs:
        acc = f"{100 * r.test_acc:.2f}%" if r.test_acc is not None else "-"
        seconds = f"{r.train_seconds:.0f}s" if r.train_seconds is not None else "-"
        dataset = r.dataset if len(r.dataset) <= 24 else "…" + r.dataset[-23:]
        detail = f" ({r.detail})" if r.detail else ""
        path = str(r.path) if len(str(r.path)) <= runs_width else "…" + str(r.path)[-runs_width + 1:]
        print(f"{path:<{runs_width}} {r.model:<{model_width}} {dataset:<24} {acc:>8} {seconds:>8} {r.epochs:>7}  "
              f"{r.status}{detail}")
    return 0

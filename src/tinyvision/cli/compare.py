"""`tinyvision compare`: flags -> `tinyvision.compare(...)` -> the report's table on stdout."""

from __future__ import annotations

import argparse

from tinyvision.cli.common import DEVICES, path_arg, progress_choice

NAME = "compare"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help="train several models on one split; write report.md/json and compare.png")
    p.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist, cifar10 or folder:PATH")
    p.add_argument("--models", default="mlp,tutorial-a,default",
                   help="comma-separated model names, each optionally NAME:EPOCHS; "
                   "`default` is the dataset's default CNN")
    p.add_argument("--epochs", type=int, help="the same number of epochs for all (default: each recipe's own)")
    p.add_argument("--out", type=path_arg, help="output folder (default: runs/compare-<dataset>-<time>)")
    p.add_argument("--data-dir", help="folder holding the dataset files")
    p.add_argument("--image-size", type=int, help="folder: datasets: resize to NxN")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, help="validation share (default: the dataset's)")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--limit-batches", type=int, help="smoke runs: at most N batches per loop")
    p.add_argument("--dry-run", action="store_true", help="1 epoch of 2 batches per model")
    p.add_argument("--no-plots", action="store_true", help="skip compare.png and the runs' figures")
    p.add_argument("--progress", choices=["auto", "bar", "lines"], default="auto")


def run(args: argparse.Namespace) -> int:
    import tinyvision

    comparison = tinyvision.compare(
        dataset=args.dataset, models=args.models.split(","), out=args.out,
        epochs=1 if args.dry_run else args.epochs, seed=args.seed, progress=progress_choice(args.progress),
        plots=not args.no_plots, data_dir=args.data_dir, image_size=args.image_size,
        val_fraction=args.val_fraction, device=args.device, limit_batches=2 if args.dry_run else args.limit_batches,
    )
    print(comparison.table(), end="")
    print(f"-> {comparison.path}")
    return 0 if comparison.report["results"] else 2

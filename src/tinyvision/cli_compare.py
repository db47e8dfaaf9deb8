"""`tinyvision compare`: flags -> a Comparison -> run_comparison -> one table on stdout."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="train several models on one split; write report.md/json and compare.png")
    p.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist, cifar10 or folder:PATH")
    p.add_argument("--models", default="mlp,tutorial-a,default",
                   help="comma-separated model names, each optionally NAME:EPOCHS; "
                   "`default` is the dataset's default CNN")
    p.add_argument("--epochs", type=int, help="the same number of epochs for all (default: each recipe's own)")
    p.add_argument("--out", type=Path, help="output folder (default: runs/compare-<dataset>-<time>)")
    p.add_argument("--data-dir", help="folder holding the dataset files")
    p.add_argument("--image-size", type=int, help="folder: datasets: resize to NxN")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, help="validation share (default: the dataset's)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    p.add_argument("--limit-batches", type=int, help="smoke runs: at most N batches per loop")
    p.add_argument("--dry-run", action="store_true", help="1 epoch of 2 batches per model")
    p.add_argument("--no-plots", action="store_true", help="skip compare.png")
    p.add_argument("--progress", choices=["auto", "bar", "lines"], default="auto")


def cmd_compare(args: argparse.Namespace) -> int:
    from tinyvision.compare import REPORT_MD, Comparison, run_comparison

    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe_name = args.dataset.replace("/", "_").replace(":", "-")
    comparison = Comparison(
        dataset=args.dataset,
        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
        out=args.out or Path("runs") / f"compare-{safe_name}-{stamp}",
        data_dir=args.data_dir, image_size=args.image_size,
        epochs=1 if args.dry_run else args.epochs, seed=args.seed, val_fraction=args.val_fraction,
        device=args.device, limit_batches=2 if args.dry_run else args.limit_batches,
    )
    bar = {"auto": None, "bar": True, "lines": False}[args.progress]
    report = run_comparison(comparison, progress_bar=bar, draw=not args.no_plots)
    print((comparison.out / REPORT_MD).read_text(), end="")
    print(f"-> {comparison.out}")
    return 0 if report["results"] else 2

"""The command line: parse flags, call one library function, report.

User mistakes (TinyVisionError, bad flags) print one line on stderr and exit
with code 2; Ctrl-C during training saves and exits with 130.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

from tinyvision import cli_compare, cli_predict  # light: their heavy imports stay inside the commands
from tinyvision.errors import TinyVisionError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise TinyVisionError(f"{self.prog}: {message}")


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model and write a run folder")
    p.add_argument("--model", help="registered model name (see `tinyvision models`)")
    p.add_argument("--preset", help="named recipe: default, tutorial-a, tutorial-b, mlp, ...")
    p.add_argument("--dataset", help="dataset name (default: mnist, bundled)")
    p.add_argument("--data-dir", help="folder holding the dataset files (torchvision layout or plain)")
    p.add_argument("--image-size", type=int, help="folder: datasets: resize to NxN (default: most common size)")
    p.add_argument("--hflip", action=argparse.BooleanOptionalAction, help="random horizontal flips (photos)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="the global batch: under torchrun, split evenly over the ranks")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--optimizer", choices=["sgd", "adam"])
    p.add_argument("--schedule", choices=["onecycle", "constant"])
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--translate", type=int, help="random shifts of up to N pixels")
    p.add_argument("--ema", type=float, help="evaluate an EMA of the weights with this decay (e.g. 0.999)")
    p.add_argument("--tta", type=int, help="evaluate averaging over shifts of up to N pixels (0: off)")
    p.add_argument("--tta-flip", action=argparse.BooleanOptionalAction,
                   help="evaluate averaging each image with its mirror (models trained with --hflip)")
    p.add_argument("--val-fraction", type=float, help="share of the training set held out (0.1)")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--limit-batches", type=int, help="smoke runs: at most N batches per loop")
    p.add_argument("--sync-bn", action="store_true", default=None,
                   help="under torchrun on GPUs: BatchNorm statistics over the global batch")
    p.add_argument("--dry-run", action="store_true", help="1 epoch of 2 batches: check the pipeline")
    p.add_argument("--out", type=Path, help="run folder (default: runs/<model>-<time>)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue an interrupted run")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--progress", choices=["auto", "bar", "lines"], default="auto")


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="test a checkpoint: loss, accuracy, per-class, confusion")
    p.add_argument("checkpoint", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("--data-dir", help="where the dataset lives (default: its usual source)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    p.add_argument("--out", type=Path, help="folder for evaluation.json and confusion.png")
    p.add_argument("--limit-batches", type=int)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def build_parser() -> Parser:
    parser = Parser(prog="tinyvision", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_train(sub)
    add_evaluate(sub)
    for add in (cli_predict.add_predict, cli_predict.add_serve, cli_predict.add_export):
        add(sub)
    sub.add_parser("models", help="list the registered models with parameter counts")
    p = sub.add_parser("plot", help="redraw a run's figures from its saved metrics")
    p.add_argument("run", type=Path, metavar="RUN_DIR")
    cli_compare.add_compare(sub)
    return parser


TRAIN_FLAGS = (
    "model", "dataset", "data_dir", "epochs", "batch_size", "lr", "optimizer", "schedule",
    "weight_decay", "label_smoothing", "translate", "ema", "tta", "val_fraction", "seed", "limit_batches",
    "sync_bn", "image_size", "hflip", "tta_flip",
)


def cmd_train(args: argparse.Namespace) -> int:
    from tinyvision.config import build_config
    from tinyvision.distributed import lost_ranks_reported, start_ranks, stop_ranks
    from tinyvision.progress import Progress
    from tinyvision.run_folder import RunFolder
    from tinyvision.train import fit

    overrides = {k: getattr(args, k) for k in TRAIN_FLAGS}
    if args.resume is not None:
        given = [f"--{k.replace('_', '-')}" for k, v in overrides.items() if v is not None]
        if given or args.preset or args.out:
            raise TinyVisionError(
                f"--resume continues the run with its saved config; drop {', '.join(given or ['--preset/--out'])}"
            )
        run = RunFolder(args.resume)
        cfg = run.read_config()
        if args.device:
            cfg.device = args.device
    else:
        if args.dry_run:
            overrides.update(epochs=1, limit_batches=2)
        overrides["device"] = args.device
        cfg = build_config(args.preset, overrides)
    ranks = start_ranks(cfg.device)  # one rank without torchrun
    if args.resume is None:
        # Under torchrun every rank must pick the same folder: rank 0's clock decides.
        default = ranks.from_main(f"{cfg.model}-{time.strftime('%Y%m%d-%H%M%S')}")
        run = RunFolder(args.out or Path("runs") / default)
    bar = {"auto": None, "bar": True, "lines": False}[args.progress]
    # Rank 0 alone reports and writes; the other ranks train silently.
    if ranks.is_main:
        progress = Progress(cfg.epochs, bar=bar)
    else:
        progress = Progress(cfg.epochs, bar=False, out=io.StringIO())
    with lost_ranks_reported():
        metrics, setup = fit(cfg, run, progress, resume=args.resume is not None)
    stop_ranks()
    if not ranks.is_main:
        return 0
    if not args.no_plots:
        draw_run_plots(run, setup.data.test_images)
    print(
        f"test_loss {metrics['test_loss']:.4f}  test_acc {100 * metrics['test_acc']:.2f}%  "
        f"({metrics['test_count']} images)  train time {metrics['train_seconds']:.1f}s  -> {run.path}"
    )
    return 0


def draw_run_plots(run, test_images) -> None:
    from tinyvision import plots

    metrics = run.read_metrics()
    title = f"{metrics['model']} on {metrics['dataset']}"
    plots.plot_curves(metrics["history"], run.curves, title)
    plots.plot_confusion(metrics["confusion"], metrics["classes"], run.confusion, f"{title}: test confusion")
    plots.plot_misclassified(test_images, metrics["worst_mistakes"], metrics["classes"], run.misclassified)


def cmd_plot(args: argparse.Namespace) -> int:
    from tinyvision.datasets import load_dataset
    from tinyvision.run_folder import RunFolder

    run = RunFolder(args.run)
    cfg = run.read_config()
    data = load_dataset(cfg.dataset, Path(cfg.data_dir) if cfg.data_dir else None, cfg.image_size)
    draw_run_plots(run, data.test_images)
    print(f"wrote {run.curves}, {run.confusion}, {run.misclassified}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from tinyvision.evaluation_report import evaluate_checkpoint

    report = evaluate_checkpoint(
        args.checkpoint, data_dir=Path(args.data_dir) if args.data_dir else None,
        device=args.device, out=args.out, limit_batches=args.limit_batches,
    )
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['model']} on {report['dataset']} test set ({report['test_count']} images)")
    print(f"test_loss {report['test_loss']:.4f}  test_acc {100 * report['test_acc']:.2f}%")
    print(f"{'class':>12}  {'precision':>9}  {'recall':>7}  {'support':>7}")
    for row in report["per_class"]:
        print(f"{row['class']:>12}  {100 * row['precision']:8.2f}%  {100 * row['recall']:6.2f}%  {row['support']:>7}")
    print(f"confusion matrix -> {report['files']['confusion_png']}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:  # noqa: ARG001
    from tinyvision.models import DESCRIPTIONS, MODELS, count_parameters, create_model

    print(f"{'model':<14} {'params (MNIST)':>14}  description")
    for name in MODELS:
        params = count_parameters(create_model(name, (1, 28, 28), 10))
        print(f"{name:<14} {params:>14,}  {DESCRIPTIONS[name]}")
    return 0


COMMANDS = {
    "train": cmd_train, "evaluate": cmd_evaluate, "models": cmd_models, "plot": cmd_plot,
    "compare": cli_compare.cmd_compare,
    "predict": cli_predict.cmd_predict, "serve": cli_predict.cmd_serve, "export": cli_predict.cmd_export,
}


def main(argv: list[str] | None = None) -> int:
    from tinyvision.train import Interrupted

    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except TinyVisionError as exc:
        print(f"tinyvision: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Interrupted as exc:
        print(f"tinyvision: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("tinyvision: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED

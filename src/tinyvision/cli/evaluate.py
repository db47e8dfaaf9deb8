"""`tinyvision evaluate`: a checkpoint's test metrics, through the path that answers users."""

from __future__ import annotations

import argparse
import json
import sys

from tinyvision.cli.common import DEVICES, path_arg
from tinyvision.errors import TinyVisionError

NAME = "evaluate"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help="test a checkpoint: loss, accuracy, per-class scores, confusion")
    p.add_argument("checkpoint", type=path_arg, metavar="RUN_DIR_OR_CHECKPOINT",
                   help="a run folder, a model.safetensors or an exported model.onnx")
    p.add_argument("--dataset", help="another dataset with the same classes and image size (default: the model's)")
    p.add_argument("--data-dir", help="where the dataset lives (default: its usual source)")
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.add_argument("--out", type=path_arg, help="folder for evaluation.json and evaluation_confusion.png")
    p.add_argument("--limit-batches", type=int)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    import tinyvision
    from tinyvision.atomic import check_output_folder
    from tinyvision.evaluation_report import write_evaluation

    if args.out is not None:  # refused before the evaluation, not after it (its figures were lost)
        check_output_folder(args.out)
    model = tinyvision.load(args.checkpoint, device=args.device)
    report = model.evaluate(args.dataset, data_dir=args.data_dir, limit_batches=args.limit_batches)
    try:
        files = write_evaluation(report, args.out or model.source.parent)
    except TinyVisionError as exc:
        if args.out:
            raise
        # A model in a folder this user cannot write (shared, installed): the metrics were lost with the error.
        print(f"tinyvision: warning: {exc}; the metrics are printed only (pass --out to keep them)",
              file=sys.stderr)
        files = {}
    report["files"] = {k: str(v) for k, v in files.items()}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['model']} on {report['dataset']} test set ({report['test_count']} images)")
    print(f"test_loss {report['test_loss']:.4f}  test_acc {100 * report['test_acc']:.2f}%  "
          f"balanced_acc {100 * report['test_balanced_acc']:.2f}%  macro_f1 {100 * report['test_macro_f1']:.2f}%"
          + (f"  top5_acc {100 * report['test_top5_acc']:.2f}%" if "test_top5_acc" in report else ""))
    print(f"{'class':>12}  {'precision':>9}  {'recall':>7}  {'f1':>7}  {'support':>7}")
    from tinyvision.datasets.check_report import escaped

    for row in report["per_class"]:  # a class name with a newline in it would break the table's lines
        name = escaped(row["class"], bytes_as_text=False)
        print(f"{name:>12}  {100 * row['precision']:8.2f}%  {100 * row['recall']:6.2f}%  "
              f"{100 * row['f1']:6.2f}%  {row['support']:>7}")
    if files:
        print(f"confusion matrix -> {files['confusion_png']}")
    return 0

"""`tinyvision predict`: image files in, one answer per file (a bad file gets its own error)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tinyvision.cli.common import json_name, path_arg
from tinyvision.errors import TinyVisionError

NAME = "predict"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help="predict image files or folders of them (photos, scans and drawings of numbers too)")
    p.add_argument("checkpoint", type=path_arg, metavar="RUN_DIR_OR_CHECKPOINT",
                   help="a run folder, a model.safetensors or an exported model.onnx")
    p.add_argument("images", type=path_arg, nargs="+", metavar="IMAGE",
                   help="an image file, a folder (every image in it and below) or a quoted pattern ('scans/*.jpg')")
    p.add_argument("--top-k", type=int, default=3, help="how many classes to list per image (3)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    p.add_argument("--show-input", type=path_arg, metavar="PATH",
                   help="save what the model saw: a PNG file for one image, else a folder of them")
    p.add_argument("--prep", choices=["auto", "digit", "resize"], default="auto",
                   help="digit: MNIST-style preparation; resize: plain resize (auto: the model's own)")
    p.add_argument("--runtime", choices=["torch", "onnx"], default="torch",
                   help="onnx: run RUN_DIR/model.onnx (from `tinyvision export`) with ONNX Runtime")


def show_input_paths(target: Path, images: list[Path]) -> list[Path]:
    if len(images) == 1 and target.suffix.lower() == ".png":
        return [target]
    return [target / f"{i:03d}-{p.stem}.png" for i, p in enumerate(images)]


def describe(prediction, k: int) -> str:
    """`7    (7 99.1%  1 0.4%  ...)`, `2026    (2 99.8%  0 ...)` digit by digit, or `- (not a digit)`."""
    label = prediction.label if prediction.label is not None else f"- ({prediction.reason})"
    if len(prediction.digits) > 1:
        parts = [f"{d['class']} {100 * d['probability']:.1f}%" for d in prediction.digits]
    else:
        parts = [f"{c} {100 * p:.1f}%" for c, p in prediction.top(k)]
    return f"{label}    ({'  '.join(parts)})" if parts else label


def run(args: argparse.Namespace) -> int:
    import tinyvision
    from tinyvision.atomic import write_bytes
    from tinyvision.image.decode import to_png
    from tinyvision.predict import predict_files

    if args.top_k < 1:
        raise TinyVisionError("--top-k must be at least 1")
    model = tinyvision.load(args.checkpoint, preparation=args.prep, runtime=args.runtime)
    results = predict_files(model, args.images)
    if args.show_input is not None:
        for result, target in zip(results, show_input_paths(args.show_input, [r.path for r in results])):
            if result.prediction is not None:
                write_bytes(target, to_png(result.prediction.input))
    k = min(args.top_k, len(model.classes))
    if args.json:
        print(json.dumps([
            {"file": json_name(r.path), "error": r.error} if r.error
            else {"file": json_name(r.path), **r.prediction.to_dict(k)}
            for r in results
        ], indent=2))
    for r in results:
        if r.error:
            print(f"tinyvision: error: {r.path}: {r.error}", file=sys.stderr)
        elif not args.json:
            print(f"{r.path}: {describe(r.prediction, k)}")
    return 2 if any(r.error for r in results) else 0

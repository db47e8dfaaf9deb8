"""CLI for using a trained model: `predict` on image files, `serve` a web page, `export` to files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tinyvision.errors import TinyVisionError


def add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict the class of image files (photos and scans of digits too)")
    p.add_argument("checkpoint", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    p.add_argument("--top-k", type=int, default=3, help="how many classes to list per image (3)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    p.add_argument("--show-input", type=Path, metavar="PATH",
                   help="save what the model saw: a PNG file for one image, else a folder of them")
    p.add_argument("--prep", choices=["auto", "digit", "resize"], default="auto",
                   help="digit: MNIST-style preparation; resize: plain resize (auto: digit for 28x28 digit models)")
    p.add_argument("--runtime", choices=["torch", "onnx"], default="torch",
                   help="onnx: run RUN_DIR/model.onnx (from `tinyvision export`) with ONNX Runtime")


def add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="a draw-a-digit web page and a JSON prediction API")
    p.add_argument("checkpoint", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-bytes", type=int, default=10_000_000, help="largest accepted upload in bytes (10 MB)")


def add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write the model as ONNX or TorchScript, checked on the test set")
    p.add_argument("checkpoint", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("--format", choices=["onnx", "torchscript"], required=True)
    p.add_argument("--out", type=Path, help="output file (default: model.onnx / model.pt beside the checkpoint)")
    p.add_argument("--data-dir", help="where the test set lives (default: its usual source)")
    p.add_argument("--check-images", type=int, default=None,
                   help="compare with PyTorch on the first N test images (default: all; 0: skip)")


def show_input_paths(target: Path, images: list[Path]) -> list[Path]:
    if len(images) == 1 and target.suffix.lower() == ".png":
        return [target]
    return [target / f"{i:03d}-{p.stem}.png" for i, p in enumerate(images)]


def cmd_predict(args: argparse.Namespace) -> int:
    from tinyvision.atomic import atomic_path
    from tinyvision.predict import Predictor, predict_files
    from tinyvision.preprocess import to_png

    if args.top_k < 1:
        raise TinyVisionError("--top-k must be at least 1")
    predictor = Predictor(args.checkpoint, runtime=args.runtime, preparation=args.prep)
    results = predict_files(predictor, args.images)
    if args.show_input is not None:
        for result, target in zip(results, show_input_paths(args.show_input, args.images)):
            if result.prediction is not None:
                with atomic_path(target) as tmp:
                    tmp.write_bytes(to_png(result.prediction.pixels))
    k = min(args.top_k, len(predictor.card.classes))
    if args.json:
        print(json.dumps([
            {"file": str(r.path), "error": r.error} if r.error else
            {"file": str(r.path), "prediction": r.prediction.label,
             "top": [{"class": c, "probability": round(p, 6)} for c, p in r.prediction.top(k)]}
            for r in results
        ], indent=2))
    for r in results:
        if r.error:
            print(f"tinyvision: error: {r.path}: {r.error}", file=sys.stderr)
        elif not args.json:
            top = "  ".join(f"{c} {100 * p:5.1f}%" for c, p in r.prediction.top(k))
            print(f"{r.path}: {r.prediction.label}    ({top})")
    return 2 if any(r.error for r in results) else 0


def cmd_serve(args: argparse.Namespace) -> int:
    from tinyvision.predict import Predictor
    from tinyvision.serve import run_server

    predictor = Predictor(args.checkpoint)
    run_server(predictor, args.host, args.port, args.max_bytes)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from tinyvision.checkpoint import load_model, resolve_model_path
    from tinyvision.export import FORMATS, check_parity, export_model

    source = resolve_model_path(args.checkpoint)
    model, card = load_model(source)
    out = args.out or source.with_name("model" + FORMATS[args.format])
    export_model(model, card, args.format, out)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB) and {out.name}.json; "
          f"input: float32 pixels/255 (N, {', '.join(map(str, card.input_shape))}), output: logits")
    if args.check_images == 0:
        return 0
    from tinyvision.datasets import load_dataset

    try:
        data = load_dataset(card.dataset, Path(args.data_dir) if args.data_dir else None,
                            image_size=card.config.get("image_size"))
    except TinyVisionError as exc:  # the export itself is done; say why it is unchecked
        print(f"tinyvision: not checked against PyTorch: {exc} (try --data-dir)", file=sys.stderr)
        return 0
    images = data.test_images[: args.check_images] if args.check_images else data.test_images
    parity = check_parity(model, card, out, args.format, images)
    print(f"check on {parity.count} {card.dataset} test images: same prediction for "
          f"{parity.same_prediction}/{parity.count}, max |logit difference| {parity.max_abs_diff:.2e}")
    if parity.max_abs_diff > 1e-3:  # float32 reorderings give ~1e-6; more is an exporter bug
        print(f"tinyvision: exported model disagrees with PyTorch; do not use {out}", file=sys.stderr)
        return 1
    return 0

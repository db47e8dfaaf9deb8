"""`tinyvision explain`: one picture per image of why the model answered what it did."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinyvision.cli.common import path_arg

NAME = "explain"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help="draw why the model answers what it does: saliency and feature maps, per image")
    p.add_argument("checkpoint", type=path_arg, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("images", type=path_arg, nargs="+", metavar="IMAGE",
                   help="an image file, or a folder: every image in it and below")
    p.add_argument("--out", type=path_arg, default=Path("."),
                   help="folder for IMAGE-explained.png files (default: here)")
    p.add_argument("--prep", choices=["auto", "digit", "resize"], default="auto")


def run(args: argparse.Namespace) -> int:
    import tinyvision
    from tinyvision.classifier import NothingToExplain
    from tinyvision.errors import TinyVisionError
    from tinyvision.plots import save_figure
    from tinyvision.predict import files_of

    model = tinyvision.load(args.checkpoint, preparation=args.prep)
    failed = False
    images = []  # a folder stands for its images, as for predict
    for path, error in files_of(args.images):
        if error is None:
            images.append(path)
        else:
            print(f"tinyvision: error: {path}: {error}", file=sys.stderr)
            failed = True
    for i, path in enumerate(images):
        try:
            # Each file read as `predict` reads one (`predict_files`): its errors are shown with its path here.
            explanation = model.explanation(model.predict_one(path))
        except NothingToExplain as refused:  # an answer, as predict gives it: nothing drawn, not an error
            print(f"{path}: - ({refused.reason}): no mark was read, nothing to draw")
            continue
        except TinyVisionError as exc:
            print(f"tinyvision: error: {path}: {exc}", file=sys.stderr)
            failed = True
            continue
        name = f"{path.stem}-explained.png" if len({p.stem for p in images}) == len(images) \
            else f"{i:03d}-{path.stem}-explained.png"
        out = save_figure(explanation.figure(), args.out / name)
        print(f"{path}: {explanation.summary()} -> {out}")
    return 2 if failed else 0

"""`tinyvision export`: the inference path as an ONNX or TorchScript file, checked on the test set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinyvision.cli.common import path_arg
from tinyvision.errors import TinyVisionError

NAME = "export"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help="write the model as ONNX or TorchScript, checked on the test set")
    p.add_argument("checkpoint", type=path_arg, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("--format", choices=["onnx", "torchscript"], required=True)
    p.add_argument("--out", type=path_arg, help="output file (default: model.onnx / model.pt beside the checkpoint)")
    p.add_argument("--data-dir", help="where the test set lives (default: its usual source)")
    p.add_argument("--check-images", type=int, default=None,
                   help="compare with PyTorch on the first N test images (default: all; 0: skip)")


def run(args: argparse.Namespace) -> int:
    import tinyvision
    from tinyvision.export import check_parity

    if args.check_images is not None and args.check_images < 0:
        raise TinyVisionError("--check-images must be at least 0 (0: skip the check)")
    model = tinyvision.load(args.checkpoint)
    out = model.export(args.format, args.out)
    card = model.card
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB) and {out.name}.json; "
          f"input: float32 pixels/255 (N, {', '.join(map(str, card.input_shape))}), output: calibrated logits "
          f"(temperature {card.temperature:g}, test-time views {card.tta.views})")
    if args.check_images == 0:
        return 0
    from tinyvision.datasets import load_dataset
    from tinyvision.datasets.split import split_of_run

    try:
        data = load_dataset(card.dataset, Path(args.data_dir) if args.data_dir else None,
                            image_size=card.config.get("image_size"),
                            split=split_of_run(model.source, card.config, card.input_shape))
    except TinyVisionError as exc:  # the export itself is done; say why it is unchecked
        print(f"tinyvision: not checked against PyTorch: {exc} (try --data-dir)", file=sys.stderr)
        return 0
    images = data.test_images[: args.check_images] if args.check_images else data.test_images
    parity = check_parity(model.graph, out, args.format, images)
    print(f"check on {parity.count} {card.dataset} test images: same prediction for "
          f"{parity.same_prediction}/{parity.count}, max |logit difference| {parity.max_abs_diff:.2e}")
    if parity.max_abs_diff > 1e-3:  # float32 reorderings give ~1e-6; more is an exporter bug
        for rejected in (out, out.with_name(out.name + ".json")):  # never left where it looks usable
            rejected.unlink(missing_ok=True)
        print(f"tinyvision: exported model disagrees with PyTorch; {out} removed", file=sys.stderr)
        return 1
    return 0

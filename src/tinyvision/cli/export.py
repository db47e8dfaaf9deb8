"""`tinyvision export`: the inference path as an ONNX or TorchScript file, checked on the test set."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tinyvision.cli.common import path_arg, sigterm_as_ctrl_c
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
    with sigterm_as_ctrl_c():  # a kill (docker stop, systemd) midway left the export's staged files, and no line
        return export(args)


def export(args: argparse.Namespace) -> int:
    import tinyvision
    from tinyvision.export import check_parity

    if args.check_images is not None and args.check_images < 0:
        raise TinyVisionError("--check-images must be at least 0 (0: skip the check)")
    model = tinyvision.load(args.checkpoint)
    card = model.card
    images, why = (None, None) if args.check_images == 0 else check_images(model, args)
    if images is None:
        out = model.export(args.format, args.out)
        report_written(out, card)
        if why:
            print(f"tinyvision: not checked against PyTorch: {why} (try --data-dir)", file=sys.stderr)
        return 0
    # Written under a hidden name, checked, and only then published: a check stopped midway (Ctrl-C) left a
    # model in place that was never checked, and one that failed was published for a moment.
    final = model.export_target(args.format, args.out)
    remove_stale_staging(final)
    staged = model.export(args.format, staging_name(final))
    published = False
    try:
        parity = check_parity(model.graph, staged, args.format, images)
        print(f"check on {parity.count} {card.dataset} test images: same prediction for "
              f"{parity.same_prediction}/{parity.count}, max |logit difference| {parity.max_abs_diff:.2e}")
        if parity.max_abs_diff > 1e-3:  # float32 reorderings give ~1e-6; more is an exporter bug
            print(f"tinyvision: exported model disagrees with PyTorch; {final} not written", file=sys.stderr)
            return 1
        out = publish(staged, final)
        published = True
    finally:
        if not published:
            for leftover in (staged, staged.with_name(staged.name + ".json")):
                leftover.unlink(missing_ok=True)
    report_written(out, card)
    return 0


def check_images(model, args: argparse.Namespace):
    """The test images export's check runs on (None, and why, when they cannot be loaded)."""
    from tinyvision.datasets import load_dataset
    from tinyvision.datasets.split import split_of_run

    card = model.card
    try:
        data = load_dataset(card.dataset, Path(args.data_dir) if args.data_dir else None,
                            image_size=card.config.get("image_size"),
                            split=split_of_run(model.source, card.config, card.input_shape))
    except TinyVisionError as exc:  # the export can still be written; say why it is unchecked
        return None, str(exc)
    return (data.test_images[: args.check_images] if args.check_images else data.test_images), None


def staging_name(final: Path) -> Path:
    """Where an export is written before its check: hidden, beside where it goes (one file system)."""
    return final.with_name(f".{final.name}.{os.getpid()}.unchecked{final.suffix}")


def remove_stale_staging(final: Path) -> None:
    """Staged exports of `final` (and their cards, and the temporary files they were written through) that an
    export killed midway (SIGKILL, SIGTERM, a power cut) left behind: named for a process that is gone and
    untouched for `atomic.STALE_SECONDS`. No later export's name held that process id, so each kill left a
    hidden copy of the model in the folder for good."""
    from tinyvision.atomic import left_by_dead_process

    try:
        names = os.listdir(final.parent)
    except OSError:
        return
    for name in names:
        for prefix in (f".{final.name}.", f"..{final.name}."):  # the staged file; a temporary file of it
            pid = name[len(prefix):].split(".", 1)[0]
            if not name.startswith(prefix) or ".unchecked" not in name or not pid.isdigit():
                continue
            path = final.parent / name
            try:
                if left_by_dead_process(path, pid):
                    path.unlink()
            except OSError:  # gone already, or not ours to remove: harmless
                pass
            break


def publish(staged: Path, final: Path) -> Path:
    """The checked export and its card, renamed into place: the card first, the model last (as
    `export_graph` publishes), so no model is ever without its card."""
    try:
        staged.with_name(staged.name + ".json").replace(final.with_name(final.name + ".json"))
        staged.replace(final)
    except OSError as exc:  # a folder where the file goes, a read-only folder
        raise TinyVisionError(f"cannot write {final}: {exc.strerror or exc}") from None
    return final


def report_written(out: Path, card) -> None:
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB) and {out.name}.json; "
          f"input: float32 pixels/255 (N, {', '.join(map(str, card.input_shape))}), output: calibrated logits "
          f"(temperature {card.temperature:g}, test-time views {card.tta.views})")

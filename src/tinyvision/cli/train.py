"""`tinyvision train`: flags -> `tinyvision.train(...)`, with Ctrl-C handled here, at the edge."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
from collections.abc import Iterator

from tinyvision.cli.common import DEVICES, path_arg, progress_choice

NAME = "train"
# Flags that map one-to-one onto RunConfig fields (None: not given, the recipe decides).
CONFIG_FLAGS = (
    "epochs", "batch_size", "lr", "optimizer", "schedule", "weight_decay", "label_smoothing", "translate",
    "ema", "tta", "val_fraction", "seed", "limit_batches", "sync_bn", "image_size", "hflip", "tta_flip",
    "data_dir", "device", "precision", "test_fraction", "balance", "init_from", "tensorboard",
    "augment", "outlier_exposure", "merged_pairs", "font_digits", "hand_digits", "cut_digits",
    "reject_quantile",
)


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help="train a model and write a run folder",
                       description="Train a model; flags override the preset, which overrides the dataset's recipe.")
    p.add_argument("--model", help="registered model name (see `tinyvision models`)")
    p.add_argument("--preset", help="named recipe: default, plain, fast, best, mlp, tutorial-a, tutorial-b, "
                   "tutorial-mlp")
    p.add_argument("--dataset", help="mnist (default, bundled), fashion-mnist, cifar10, folder:PATH (your images) "
                   "or digits:PATH (your digits, prepared as MNIST's)")
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
    p.add_argument("--augment", metavar="POLICY",
                   help="augmentation policy: shift, or handwriting (slant, rotation, pen width, wobble, "
                   "blur, low-resolution scans; the MNIST default)")
    p.add_argument("--outlier-exposure", type=float, metavar="WEIGHT",
                   help="digit models: learn to refuse non-digits (letters, marks, photos) with this loss "
                   "weight (0: off)")
    p.add_argument("--merged-pairs", type=int, metavar="COUNT",
                   help="digit models with outlier exposure: also teach this many pairs of touching training "
                   "digits, squeezed into one image, as non-digits, so that a number's touching digits are cut")
    p.add_argument("--font-digits", type=float, metavar="SHARE",
                   help="digit models: add digits drawn in fonts, this share of each batch (0: off)")
    p.add_argument("--hand-digits", type=float, metavar="SHARE",
                   help="digit models: add digits by writers other than MNIST's, this share of each batch (0: off)")
    p.add_argument("--cut-digits", type=float, metavar="SHARE",
                   help="digit models: add training digits cut from touching neighbours, as a number's touching "
                   "digits are cut, this share of each batch (0: off)")
    p.add_argument("--reject-quantile", type=float, metavar="Q",
                   help="the 'not a digit'/'unsure' threshold leaves this share of validation images "
                   "unanswered (digit models trained with non-digits: 0.003; others: 0.01)")
    p.add_argument("--ema", type=float, help="evaluate an EMA of the weights with this decay (e.g. 0.999)")
    p.add_argument("--tta", type=int, help="test-time augmentation: average over shifts of up to N pixels (0: off)")
    p.add_argument("--tta-flip", action=argparse.BooleanOptionalAction,
                   help="test-time augmentation: average each image with its mirror (models trained with --hflip)")
    p.add_argument("--val-fraction", type=float,
                   help="share held out for validation: of the training set (0.1), or of a one-folder dataset")
    p.add_argument("--test-fraction", type=float,
                   help="one-folder datasets (folder:PATH/<class>/*): share kept for testing (0.1)")
    p.add_argument("--balance", choices=["none", "weights", "sampler"],
                   help="imbalanced classes: class-weighted loss, or class-balanced sampling of each epoch")
    p.add_argument("--init-from", metavar="RUN_OR_CHECKPOINT",
                   help="start from another run's weights: layers of the same name and shape (a new head "
                   "when the classes differ)")
    p.add_argument("--tensorboard", action="store_true", default=None,
                   help="write TensorBoard event files into the run folder (tensorboard --logdir RUN_DIR)")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=DEVICES)
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                   help="training steps: bf16 autocast, or fp32; auto (default) takes bf16 on CUDA and on "
                   "CPUs with native bf16 (AVX512-BF16, AMX). Evaluation, calibration and inference stay fp32 "
                   "on every device")
    p.add_argument("--limit-batches", type=int, help="smoke runs: at most N batches per loop")
    p.add_argument("--sync-bn", action="store_true", default=None,
                   help="under torchrun on GPUs: BatchNorm statistics over the global batch")
    p.add_argument("--dry-run", action="store_true", help="1 epoch of 2 batches: check the pipeline")
    p.add_argument("--out", type=path_arg, help="run folder (default: runs/<model>-<time>)")
    p.add_argument("--resume", type=path_arg, metavar="RUN_DIR", help="continue an interrupted run")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--progress", choices=["auto", "bar", "lines"], default="auto")


# What a second signal does: Ctrl-C raises KeyboardInterrupt (the last epoch is saved), SIGTERM ends the process.
SECOND = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}


@contextlib.contextmanager
def stop_on_signal(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C, or SIGTERM (docker stop, Slurm preemption, systemd, Kubernetes), asks training to stop
    after the current step (and save); a second one kills.

    Under torchrun each rank would see the signal at a different step, and
    stopping them together would cost a collective per step: there Ctrl-C ends
    the run, and --resume continues from the last completed epoch.
    """
    import os

    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        stop.set()
        signal.signal(signum, SECOND[signum])

    try:
        previous = {sig: signal.signal(sig, handler) for sig in SECOND}
    except ValueError:  # not the main thread: no handler, plain KeyboardInterrupt
        yield
        return
    try:
        yield
    finally:
        for sig, was in previous.items():
            signal.signal(sig, was)


def run(args: argparse.Namespace) -> int:
    import tinyvision

    options = {k: getattr(args, k) for k in CONFIG_FLAGS}
    stop = threading.Event()
    with stop_on_signal(stop):
        result = tinyvision.train(
            dataset=args.dataset, model=args.model, preset=args.preset, out=args.out,
            progress=progress_choice(args.progress), plots=not args.no_plots, resume=args.resume,
            dry_run=args.dry_run, stop=stop, **options,
        )
    from tinyvision.distributed import launch_info

    # Under torchrun, rank 0 speaks for the run: the others see its metrics.json on a shared disk too.
    launched = launch_info(os.environ)
    if (launched is not None and launched[0] != 0) or not result.folder.metrics_json.is_file():
        return 0
    m = result.metrics
    print(
        f"test_loss {m['test_loss']:.4f}  test_acc {100 * m['test_acc']:.2f}%  "
        f"({m['test_count']} images)  train time {m['train_seconds']:.1f}s  -> {result.path}"
    )
    return 0

"""A user's small folder of photos: which batch size the folder recipe should default to.

The folder recipe is CIFAR-10's (batch 256, 6 epochs); on a folder of a few
hundred images that is one or two optimiser steps an epoch, and a run ended at
100% training accuracy and 41% on its test split (train red team, finding 2).
This trains the folder recipe on small folders made from the CIFAR-10 JPEG
copy's training split (5 classes x 60 and x 150 images, 10 classes x 200 and
x 500; the first images of each class folder, sorted by name), with the
recipe's batch of 256 and with the batch that gives an epoch about
SMALL_FOLDER_STEPS steps (a power of two from 16 to 256:
`registry.small_folder_batch`, the rule it chose), at the recipe's learning
rate and at that rate scaled by the square root of the batch's share of 256.
The choice is read off the validation accuracy; the test accuracy is recorded
beside it.

    OMP_NUM_THREADS=2 python benchmarks/small_folders.py --cifar-train /tmp/cifar10-jpeg/train
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts this folder first on sys.path for a script run from it: search it last, so that no
# script here can shadow a standard-library module.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402

FOLDERS = {"5x60": (5, 60), "5x150": (5, 150), "10x200": (10, 200), "10x500": (10, 500)}  # classes x per class
RECIPE_BATCH, RECIPE_LR = 256, 0.2  # the photo recipe's (datasets/registry.py PHOTO_DEFAULTS)


def make_folder(source: Path, out: Path, classes: int, per_class: int) -> None:
    for name in sorted(p.name for p in source.iterdir() if p.is_dir())[:classes]:
        (out / name).mkdir(parents=True)
        for image in sorted((source / name).iterdir())[:per_class]:
            shutil.copyfile(image, out / name / image.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cifar-train", type=Path, required=True, help="the CIFAR-10 JPEG copy's train/ folder")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "small_folders.json")
    args = parser.parse_args()
    import tinyvision
    from tinyvision.datasets.registry import SMALL_FOLDER_STEPS, small_folder_batch

    with recorded() as provenance, tempfile.TemporaryDirectory() as tmp:
        rows = []
        for folder, (classes, per_class) in FOLDERS.items():
            root = Path(tmp) / folder
            make_folder(args.cifar_train, root, classes, per_class)
            train_images = round(classes * per_class * 0.8)  # the folder recipe's 80/10/10 split
            batch = small_folder_batch(train_images, RECIPE_BATCH)
            variants = {
                "recipe (batch 256)": (RECIPE_BATCH, RECIPE_LR),
                f"batch {batch}": (batch, RECIPE_LR),
                f"batch {batch}, lr x sqrt(batch / 256)": (batch, round(RECIPE_LR * math.sqrt(batch / 256), 4)),
            }
            for variant, (batch_size, lr) in variants.items():
                for seed in range(args.seeds):
                    started = time.perf_counter()
                    run = tinyvision.train(dataset=f"folder:{root}", out=Path(tmp) / "runs" / f"{folder}-{batch_size}"
                                           f"-{lr}-{seed}", batch_size=batch_size, lr=lr, seed=seed, progress=False,
                                           plots=False)
                    metrics = run.metrics
                    rows.append({"folder": folder, "images": classes * per_class, "variant": variant,
                                 "batch_size": batch_size, "lr": lr, "seed": seed,
                                 "val_acc": metrics["final"]["val_acc"], "test_acc": metrics["test_acc"],
                                 "seconds": round(time.perf_counter() - started, 1)})
                    print(rows[-1], flush=True)
        summary = {}
        for row in rows:
            summary.setdefault(row["folder"], {}).setdefault(row["variant"], []).append(row)
        table = {folder: {variant: {"val_acc_mean": statistics.mean(r["val_acc"] for r in runs),
                                    "test_acc_mean": statistics.mean(r["test_acc"] for r in runs),
                                    "runs": len(runs)}
                          for variant, runs in variants.items()}
                 for folder, variants in summary.items()}
    write_results(args.out, {"about": __doc__.splitlines()[0], "steps_per_epoch": SMALL_FOLDER_STEPS,
                             "runs": rows, "summary": table, "provenance": provenance})
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()

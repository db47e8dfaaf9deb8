"""Peer: Keras's "Simple MNIST convnet" example, Keras 3 on the torch backend.

The published example as its readers run it: pixels scaled to [0, 1] in
(28, 28, 1) arrays, one-hot labels; Conv2D 32 3x3 ReLU -> MaxPool 2 -> Conv2D
64 3x3 ReLU -> MaxPool 2 -> Flatten -> Dropout 0.5 -> Dense 10 softmax;
categorical cross-entropy, Adam (Keras defaults), batch 128, 15 epochs, the
last 10% of the training images held out by `validation_split`; test accuracy
from `model.evaluate` after training. Keras runs on PyTorch here
(KERAS_BACKEND=torch), so the machine and the tensor library are the same as
tinyvision's. Uses no tinyvision code (only the MNIST files it bundles).

Prints one JSON document (per-epoch seconds and validation accuracy, test
accuracy, training seconds, the whole command's seconds, provenance):

    python benchmarks/peers/keras_mnist_convnet.py --out benchmarks/results/peers/keras_mnist_convnet.json
    python benchmarks/peers/keras_mnist_convnet.py --epochs 1 --limit-batches 5 --subset 2000   # smoke

Needs keras (`pip install 'tinyvision[bench]'`).
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported: the backend is chosen once, at import

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.append(str(Path(__file__).resolve().parents[1]))  # benchmarks/, last: for provenance
from mnist_files import BUNDLED, load_mnist  # noqa: E402
from provenance import process_seconds, recorded, write_results  # noqa: E402

EPOCHS = 15
BATCH = 128
VALIDATION_SPLIT = 0.1


def prepare(images: np.ndarray, labels: np.ndarray, keras) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]; labels -> one-hot (N, 10)."""
    x = np.expand_dims(images.astype("float32") / 255, -1)
    return x, keras.utils.to_categorical(labels, 10)


def build_model(keras):
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


def epoch_timer(keras, total_epochs: int):
    """A callback that splits each epoch's seconds into training and validation.

    Keras runs the validation inside the epoch (between the last step and
    `on_epoch_end`), calling the test hooks, so the training part ends at
    `on_test_begin`.
    """

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epochs: list[dict] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = self.train_end = time.perf_counter()
            self.in_epoch = True

        def on_test_begin(self, logs=None):
            if self.in_epoch:
                self.train_end = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            end, logs = time.perf_counter(), logs or {}
            if self.train_end == self.start:  # no validation ran
                self.train_end = end
            self.in_epoch = False
            row = {"epoch": epoch + 1, "seconds": round(self.train_end - self.start, 2),
                   "train_loss": round(float(logs["loss"]), 4), "train_acc": float(logs["accuracy"]),
                   "val_loss": round(float(logs["val_loss"]), 4), "val_acc": float(logs["val_accuracy"]),
                   "val_seconds": round(end - self.train_end, 2)}
            self.epochs.append(row)
            print(f"epoch {row['epoch']}/{total_epochs}  train_loss {row['train_loss']:.4f}  "
                  f"val_acc {100 * row['val_acc']:.2f}%  time {row['seconds']:.1f}s", file=sys.stderr)

    return EpochTimer()


def run(args: argparse.Namespace) -> dict:
    import keras

    keras.utils.set_random_seed(args.seed)
    mnist = load_mnist(args.data_dir)
    n_train = min(args.subset or len(mnist["train_labels"]), len(mnist["train_labels"]))
    n_test = min(args.subset or len(mnist["test_labels"]), len(mnist["test_labels"]))
    x_train, y_train = prepare(mnist["train_images"][:n_train], mnist["train_labels"][:n_train], keras)
    x_test, y_test = prepare(mnist["test_images"][:n_test], mnist["test_labels"][:n_test], keras)

    model = build_model(keras)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    timer = epoch_timer(keras, args.epochs)
    model.fit(x_train, y_train, batch_size=BATCH, epochs=args.epochs, validation_split=VALIDATION_SPLIT,
              steps_per_epoch=args.limit_batches, callbacks=[timer], verbose=0)
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    n_val = n_train - math.floor(n_train * (1 - VALIDATION_SPLIT))  # Keras holds out the last 10%, unshuffled
    return {
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "parameters": model.count_params(),
        "train_images": n_train - n_val, "val_images": n_val, "test_images": n_test,
        "epochs": timer.epochs,
        "epoch_seconds": [e["seconds"] for e in timer.epochs],
        "val_acc": [e["val_acc"] for e in timer.epochs],
        "train_seconds": round(sum(e["seconds"] for e in timer.epochs), 2),
        "test_loss": round(float(test_loss), 4),
        "test_acc": float(test_acc),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"the example trains {EPOCHS}")
    parser.add_argument("--seed", type=int, default=0, help="keras.utils.set_random_seed")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    parser.add_argument("--limit-batches", type=int, help="smoke runs: training batches per epoch")
    parser.add_argument("--subset", type=int, help="smoke runs: use the first N training and N test images")
    parser.add_argument("--data-dir", type=Path, default=BUNDLED, help="folder of the four MNIST IDX files")
    parser.add_argument("--out", type=Path, help="also write the JSON here (atomically)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    # Keras may print (warnings, progress) on stdout: keep stdout for the JSON alone.
    with recorded() as prov, contextlib.redirect_stdout(sys.stderr):
        result = {
            "peer": "keras_mnist_convnet",
            "recipe": {"model": "Keras example convnet", "optimizer": "adam (Keras defaults)",
                       "loss": "categorical_crossentropy", "batch_size": BATCH, "epochs": args.epochs,
                       "split": f"validation_split {VALIDATION_SPLIT} (the last 10% of the training set)",
                       "input": "float32 pixels / 255, shape (28, 28, 1)"},
            "seed": args.seed,
            "smoke": bool(args.limit_batches or args.subset),
            "limit_batches": args.limit_batches,
            "subset": args.subset,
            **run(args),
        }
    result["wall_seconds"] = process_seconds()
    result["provenance"] = prov
    if args.out:
        write_results(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

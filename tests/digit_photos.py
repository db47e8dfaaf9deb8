"""Helpers for the predict/serve/export tests: MNIST digits, user-style photos, a checkpoint."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np
import torch

from tinyvision.checkpoint import ModelCard, save_model
from tinyvision.datasets import load_dataset
from tinyvision.models import create_model
from tinyvision.normalization import Normalization

DIGITS = tuple(str(d) for d in range(10))


@cache
def user_photos():
    """benchmarks/user_photos.py, which builds user-style photos of MNIST digits."""
    path = Path(__file__).parents[1] / "benchmarks" / "user_photos.py"
    spec = importlib.util.spec_from_file_location("user_photos", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def mnist_test() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_dataset("mnist")
    return data.test_images, data.test_labels


def one_of_each_digit() -> list[torch.Tensor]:
    """The first test image of each class 0-9, as uint8 (1, 28, 28)."""
    images, labels = mnist_test()
    return [images[int((labels == d).nonzero()[0])] for d in range(10)]


def untrained_digit_checkpoint(path: Path, seed: int = 0) -> Path:
    """An MNIST-shaped checkpoint with random weights: enough for input handling tests."""
    torch.manual_seed(seed)
    model = create_model("tvnet", (1, 28, 28), 10).eval()
    card = ModelCard("tvnet", (1, 28, 28), DIGITS, Normalization((0.1307,), (0.3081,)), "mnist", {}, "test",
                     {"test_acc": 0.5}, kind="digits", preparation="digit")
    save_model(path, model, card)
    return path


def thinned(mask: np.ndarray) -> np.ndarray:
    """The centre lines of a boolean mask, one pixel wide (Zhang and Suen's thinning, 1984): a stroke as a fine
    pen draws it."""
    skeleton = np.pad(mask.astype(bool), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = skeleton
            # p2..p9: north, north-east, east, ... clockwise round each pixel
            n = [np.roll(np.roll(p, dy, 0), dx, 1) for dy, dx in
                 ((1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1))]
            count = sum(v.astype(np.int8) for v in n)
            turns = sum((~a & b).astype(np.int8) for a, b in zip(n, n[1:] + n[:1]))
            if step == 0:
                gone = ~(n[0] & n[2] & n[4]) & ~(n[2] & n[4] & n[6])
            else:
                gone = ~(n[0] & n[2] & n[6]) & ~(n[0] & n[4] & n[6])
            remove = p & (count >= 2) & (count <= 6) & (turns == 1) & gone
            if remove.any():
                skeleton = p & ~remove
                changed = True
        if not changed:
            return skeleton[1:-1, 1:-1]

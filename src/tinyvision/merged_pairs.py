"""Two touching training digits prepared as one image: a non-digit for outlier exposure.

Reading a number, the segmenter proposes candidate digits and lets the model's
confidence choose among them (`image.segment`). Two digits that touch ("85")
are also proposed uncut, squeezed into one 20x20 box; a model that never saw
such an image may read it as one digit with confidence (a "5" at 0.99), and the
reading keeps it whole. Taught that a pair is no digit, the model gives the
uncut pair a low confidence, so the cut wins.

The pairs are made from the run's own training digits (never its validation
or test digits), side by side with their boxes touching or overlapping a
little, at slightly different sizes and heights, then prepared as every
digit is (`image.digits.prepare_ink`).
"""

from __future__ import annotations

import numpy as np
import torch

from tinyvision.image.digits import crop_to_ink, prepare_ink, resize_to_height


def merged_pair(first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two 28x28 digits in [0, 1], side by side and touching, prepared as one 28x28 digit image."""
    a, b = crop_to_ink(first), crop_to_ink(second)
    b = resize_to_height(b, max(1, round(a.shape[0] * rng.uniform(0.85, 1.15))))  # a little larger or smaller
    overlap = int(rng.integers(0, 4))  # boxes touching (0) to overlapping by 3 px: strokes meet or nearly
    drop = int(rng.integers(-3, 4))  # the second digit's baseline a little higher or lower
    top_a, top_b = max(0, -drop), max(0, drop)
    canvas = np.zeros((max(top_a + a.shape[0], top_b + b.shape[0]), a.shape[1] + b.shape[1] - overlap),
                      np.float32)
    canvas[top_a : top_a + a.shape[0], : a.shape[1]] = a
    start = a.shape[1] - overlap
    region = canvas[top_b : top_b + b.shape[0], start : start + b.shape[1]]
    np.maximum(region, b, out=region)
    return prepare_ink(canvas)


def merged_pairs(images: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """`count` merged pairs of random digits from `images` (uint8 (N, 1, 28, 28)): uint8 (count, 1, 28, 28)."""
    rng = np.random.default_rng([seed, 2])
    pick = rng.integers(0, len(images), (count, 2))
    digits = images[torch.from_numpy(pick.ravel())].reshape(count, 2, 28, 28).float().div(255).numpy()
    out = np.stack([merged_pair(d[0], d[1], rng) for d in digits])
    return torch.from_numpy(np.round(out * 255).astype(np.uint8)).unsqueeze(1)

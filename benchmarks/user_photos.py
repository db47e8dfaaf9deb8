"""Accuracy on user-style photos of digits, next to the same model's MNIST accuracy.

Builds images the way users make them from MNIST test digits: dark ink on
light paper or the reverse, blue pen, off centre, 200-400 px, slightly
rotated, textured paper under uneven light, JPEG or PNG, some RGBA with a
transparent background. Writes them as files and predicts them through the
same code as `tinyvision predict`. Prints JSON.

    python benchmarks/user_photos.py /tmp/tv-default --count 500
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

STYLES = ("dark-on-light-jpeg", "dark-on-light-png", "light-on-dark-jpeg", "blue-pen-jpeg",
          "rgba-transparent-png")


def paper(h: int, w: int, rng: np.random.Generator, level: float) -> np.ndarray:
    """Paper under uneven light: a linear gradient across the sheet plus grain."""
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * gx / w + np.sin(angle) * gy / h) * rng.uniform(0.05, 0.25)
    grain = rng.normal(0, rng.uniform(0.01, 0.04), (h, w))
    return np.clip(level + ramp - ramp.mean() + grain, 0, 1).astype(np.float32)


def ink_coverage(digit: np.ndarray, height: int, angle: float) -> np.ndarray:
    """An MNIST digit scaled up so its 20-px box becomes `height` px, then rotated."""
    size = round(28 * height / 20)
    big = Image.fromarray(digit.astype(np.float32) / 255.0).resize((size, size), Image.Resampling.BICUBIC)
    turned = np.clip(np.asarray(big.rotate(angle, Image.Resampling.BICUBIC, expand=True)), 0, 1)
    rows, cols = np.nonzero(turned > 0.02)
    return turned[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def encode(rgb: np.ndarray, fmt: str, rng: np.random.Generator, alpha: np.ndarray | None = None) -> bytes:
    pixels = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    if alpha is not None:
        pixels = np.dstack([pixels, np.round(alpha * 255).astype(np.uint8)])
    buffer = io.BytesIO()
    image = Image.fromarray(pixels)
    if fmt == "JPEG":
        image.save(buffer, format="JPEG", quality=int(rng.integers(50, 92)))
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()


def user_photo(digit: np.ndarray, style: str, rng: np.random.Generator, max_angle: float = 12.0) -> bytes:
    """One user-style image file (bytes) of a 28x28 uint8 MNIST digit."""
    h, w = int(rng.integers(200, 401)), int(rng.integers(200, 401))
    coverage = ink_coverage(digit, int(min(h, w) * rng.uniform(0.35, 0.65)), rng.uniform(-max_angle, max_angle))
    ch, cw = coverage.shape
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    alpha = np.zeros((h, w), np.float32)
    alpha[top : top + ch, left : left + cw] = coverage
    if style == "rgba-transparent-png":
        pen = np.full((h, w, 3), rng.uniform(0.0, 0.3), np.float32)
        return encode(pen, "PNG", rng, alpha=alpha)
    light = not style.startswith("light-on-dark")
    sheet = paper(h, w, rng, rng.uniform(0.7, 0.95) if light else rng.uniform(0.05, 0.3))
    ink_level = rng.uniform(0.02, 0.3) if light else rng.uniform(0.75, 0.98)
    gray = sheet * (1 - alpha) + ink_level * alpha
    rgb = np.repeat(gray[..., None], 3, axis=2)
    if style == "blue-pen-jpeg":
        pen = np.array([0.1, 0.15, rng.uniform(0.45, 0.7)], np.float32)
        rgb = sheet[..., None] * (1 - alpha[..., None]) + pen * alpha[..., None]
    return encode(rgb, "PNG" if style.endswith("png") else "JPEG", rng)


def main() -> None:
    import tinyvision
    from tinyvision.datasets import load_dataset
    from tinyvision.predict import predict_files

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="run folder or model.safetensors of an MNIST model")
    parser.add_argument("--count", type=int, default=500, help="test digits used (each once, one style each)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    predictor = tinyvision.load(args.checkpoint)
    data = load_dataset("mnist")
    rng = np.random.default_rng(args.seed)
    index = torch.from_numpy(rng.choice(len(data.test_labels), args.count, replace=False))
    digits, labels = data.test_images[index], data.test_labels[index]
    styles = [STYLES[i % len(STYLES)] for i in range(args.count)]
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (digit, style) in enumerate(zip(digits, styles)):
            path = Path(tmp) / f"{i:04d}-{style}.{'png' if style.endswith('png') else 'jpg'}"
            path.write_bytes(user_photo(digit[0].numpy(), style, rng))
            paths.append(path)
        start = time.perf_counter()
        results = predict_files(predictor, paths)
        seconds = time.perf_counter() - start
        # What a tutorial does with a photo: grayscale and resize to 28x28, nothing else.
        naive = predict_files(tinyvision.load(args.checkpoint, preparation="resize"), paths)
    classes = predictor.card.classes
    right = [r.prediction is not None and r.prediction.label == classes[int(y)] for r, y in zip(results, labels)]
    raw = predictor.log_probs(digits).argmax(1)
    by_style = {s: [ok for ok, st in zip(right, styles) if st == s] for s in STYLES}
    print(json.dumps({
        "images": args.count,
        "user_photo_accuracy": round(sum(right) / len(right), 4),
        "naive_resize_accuracy": round(sum(
            r.prediction is not None and r.prediction.label == classes[int(y)] for r, y in zip(naive, labels)
        ) / len(labels), 4),
        "same_digits_mnist_accuracy": round(float((raw == labels).float().mean()), 4),
        "model_mnist_test_accuracy": predictor.card.metrics.get("test_acc"),
        "by_style": {s: round(sum(v) / len(v), 4) for s, v in by_style.items() if v},
        "errors": sum(r.error is not None for r in results),
        "seconds_per_image": round(seconds / args.count, 4),
        "image_size_px": "200-400 per side, digit 35-65% of the short side, rotated up to 12 degrees",
    }, indent=2))


if __name__ == "__main__":
    main()

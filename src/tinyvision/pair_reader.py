"""Reading two touching digits as one picture: a second reader for a number's touching marks.

The segmenter cuts touching digits apart along seams and lets the digit model
judge each side (`image.segment`). Where no seam gets between them (a thin 1
laid against its neighbour: "31" read "3"), or every cut leaves one side in
doubt (a touching "23" refused), cutting loses the number. The pair reader
does not cut: it reads one mark, squeezed into a 28x48 field as MNIST
squeezed a digit into 28x28, as one of the 100 pairs "00".."99" or as no pair
(one digit, three digits, a letter, a word's pieces, a scribble).

It is trained once, on MNIST's training digits outside the validation split
of seed 0 (the split the reading rules are chosen on), and ships with
tinyvision (datasets/bundled/pair-reader/, written by
scripts/make_pair_reader.py); a digit model of any run reads pairs with it.
The pairs are drawn here: two digits, each scaled, stretched and turned a
little, side by side on baselines up to 3 px apart, moved together until
their strokes meet, then crossed by up to 2 px; the non-pairs are single
digits (wide ones too), three touching digits, and the bundled non-digits,
alone and two by two.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from tinyvision.image.digits import crop_to_ink, fit_box, ink_extent, place_by_centre_of_mass, prepare_ink

HEIGHT, WIDTH = 28, 48  # the pair's field: MNIST's 28 rows, room for two digits side by side
BOX_HEIGHT, BOX_WIDTH = 20, 40  # ... the ink fitted into this box, keeping its aspect, as MNIST fitted 20x20
NO_PAIR = 100  # the class of everything that is not two digits
CLASSES = NO_PAIR + 1
VERSION = 1
BUNDLE = (Path(__file__).resolve().parent / "datasets" / "bundled" / "pair-reader"
          / f"pair-reader-v{VERSION}.safetensors")


def prepare_pair(ink: np.ndarray) -> np.ndarray:
    """One mark's ink (bright on black, in [0, 1]) -> a HEIGHT x WIDTH float image: cropped to its ink,
    fitted into BOX_HEIGHT x BOX_WIDTH keeping its aspect, centre of mass at the field's centre."""
    fitted = fit_box(ink.astype(np.float32), BOX_HEIGHT, width=BOX_WIDTH, level=0.1)
    return place_by_centre_of_mass(fitted, HEIGHT, width=WIDTH)


class PairNet(nn.Module):
    """A small VGG-style network over the 28x48 field: 101 classes (the pairs, then NO_PAIR)."""

    def __init__(self) -> None:
        super().__init__()

        def conv(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

        self.features = nn.Sequential(conv(1, 32), conv(32, 32), nn.MaxPool2d(2), conv(32, 64), conv(64, 64),
                                      nn.MaxPool2d(2), conv(64, 128), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(128 * 3 * 6, 256), nn.ReLU(),
                                  nn.Dropout(0.3), nn.Linear(256, CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# --- drawing training examples -------------------------------------------------------------------

def _jitter(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A digit's ink scaled (0.85-1.15), stretched (0.85-1.15 wide) and turned (+-8 degrees) a little."""
    scale = rng.uniform(0.85, 1.15)
    size = (max(1, round(ink.shape[1] * scale * rng.uniform(0.85, 1.15))), max(1, round(ink.shape[0] * scale)))
    image = Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.BILINEAR)
    image = image.rotate(rng.uniform(-8, 8), Image.Resampling.BILINEAR, expand=True)
    return crop_to_ink(np.clip(np.asarray(image, np.float32), 0.0, 1.0))


def _edges(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the leftmost and rightmost inked column (nan where the row is empty)."""
    cols = np.arange(mask.shape[1])
    any_ink = mask.any(1)
    left = np.where(any_ink, np.where(mask, cols, np.iinfo(np.int32).max).min(1), np.nan)
    right = np.where(any_ink, np.where(mask, cols, -1).max(1), np.nan)
    return left, right


def touching(inks: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Inks side by side on baselines up to 3 px apart, each moved left until its strokes meet the ink
    before it, then 0-2 px further (strokes crossing): one touching mark."""
    line = inks[0]
    for ink in inks[1:]:
        drop = int(rng.integers(-3, 4))
        height = max(line.shape[0] + max(0, -drop), ink.shape[0] + max(0, drop))
        a = np.zeros((height, line.shape[1]), np.float32)
        a[max(0, -drop) : max(0, -drop) + line.shape[0]] = line
        b = np.zeros((height, ink.shape[1]), np.float32)
        b[max(0, drop) : max(0, drop) + ink.shape[0]] = ink
        _, a_right = _edges(a > 0.3)
        b_left, _ = _edges(b > 0.3)
        space = (a.shape[1] - 1 - a_right) + b_left
        gap = int(np.nanmin(space)) if np.isfinite(space).any() else 0
        start = max(1, a.shape[1] - gap - int(rng.integers(0, 3)))
        canvas = np.zeros((height, max(a.shape[1], start + b.shape[1])), np.float32)
        canvas[:, : a.shape[1]] = a
        region = canvas[:, start : start + b.shape[1]]
        np.maximum(region, b, out=region)
        line = canvas
    return line


def _wide(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One mark stretched 1-1.8x wide: a single digit written wide is no pair."""
    size = (max(1, round(ink.shape[1] * rng.uniform(1.0, 1.8))), ink.shape[0])
    return np.asarray(Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.BILINEAR), np.float32)


def examples(digits: np.ndarray, labels: np.ndarray, negatives: np.ndarray, count: int,
             rng: np.random.Generator, no_pair_share: float = 0.25) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` prepared examples: uint8 (count, 1, HEIGHT, WIDTH) and their classes. `digits` (N, 28, 28) and
    `negatives` (M, 28, 28) are uint8 images; a `no_pair_share` of the examples are no pair, in four equal
    kinds: one digit, three touching digits, one non-digit, two touching non-digits."""
    images = np.zeros((count, HEIGHT, WIDTH), np.uint8)
    classes = np.zeros(count, np.int64)
    digit = lambda: int(rng.integers(len(digits)))  # noqa: E731
    ink = lambda k: _jitter(crop_to_ink(digits[k] / 255.0), rng)  # noqa: E731
    other = lambda: _jitter(crop_to_ink(negatives[int(rng.integers(len(negatives)))] / 255.0), rng)  # noqa: E731
    for i in range(count):
        if rng.random() >= no_pair_share:
            first, second = digit(), digit()
            mark = touching([ink(first), ink(second)], rng)
            classes[i] = 10 * int(labels[first]) + int(labels[second])
        else:
            kind = int(rng.integers(4))
            if kind == 0:
                mark = _wide(ink(digit()), rng)
            elif kind == 1:
                mark = touching([ink(digit()) for _ in range(3)], rng)
            elif kind == 2:
                mark = _wide(other(), rng)
            else:
                mark = touching([other(), other()], rng)
            classes[i] = NO_PAIR
        images[i] = np.round(prepare_pair(mark) * 255.0)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(classes)


# --- reading -------------------------------------------------------------------------------------

class PairReader:
    """The bundled pair reader: `read(inks)` -> per mark, the pair it reads ("31") or None (no pair), and
    how sure it is (the softmax's top probability)."""

    def __init__(self, net: PairNet) -> None:
        self.net = net.eval()

    @torch.no_grad()
    def probabilities(self, inks: list[np.ndarray]) -> torch.Tensor:
        """(N, 101) probabilities of each mark's ink (the pairs "00".."99", then NO_PAIR)."""
        x = torch.from_numpy(np.round(np.stack([prepare_pair(k) for k in inks]) * 255.0) / 255.0)
        return self.net(x.float().unsqueeze(1)).softmax(1)

    def read(self, inks: list[np.ndarray]) -> list[tuple[str | None, float]]:
        if not inks:
            return []
        sure, k = self.probabilities(inks).max(1)
        return [(None if int(c) == NO_PAIR else f"{int(c) // 10}{int(c) % 10}", float(p))
                for c, p in zip(k, sure)]


@cache
def bundled() -> PairReader:
    """The pair reader that ships with tinyvision (weights only: safetensors runs no code)."""
    from safetensors.torch import load_file

    with torch.random.fork_rng(devices=[]):  # its random init, overwritten at once, must not move the caller's
        net = PairNet()
    state = {k: v.float() for k, v in load_file(str(BUNDLE)).items()}
    net.load_state_dict(state)
    return PairReader(net)


# --- a mark of a reading ---------------------------------------------------------------------------

def mark_ink(segments: list) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The ink of one mark from the digits found in it (`image.segment.Segment`s of one group), and its
    box (top, left, bottom, right) in the ink map: each digit's own ink, at its box's size, in one field."""
    top, left = min(s.box[0] for s in segments), min(s.box[1] for s in segments)
    bottom, right = max(s.box[2] for s in segments), max(s.box[3] for s in segments)
    out = np.zeros((bottom - top, right - left), np.float32)
    for s in segments:
        h, w = s.box[2] - s.box[0], s.box[3] - s.box[1]
        own = s.ink if s.ink.shape == (h, w) else np.asarray(
            Image.fromarray(s.ink.astype(np.float32)).resize((w, h), Image.Resampling.BILINEAR), np.float32)
        region = out[s.box[0] - top : s.box[2] - top, s.box[1] - left : s.box[3] - left]
        np.maximum(region, own, out=region)
    return out, (top, left, bottom, right)


SPLIT_CANDIDATES = 16  # columns tried as where a pair's two digits meet, between a fifth and four fifths across


def split_columns(ink: np.ndarray) -> list[int]:
    """The columns tried as where a pair's two digits meet (`sides`): evenly between a fifth and four fifths
    of the mark's width. A thin 1 beside a wide digit meets it far from the middle."""
    width = ink.shape[1]
    columns = np.linspace(0.2 * width, 0.8 * width, SPLIT_CANDIDATES).round().astype(int)
    return sorted({int(c) for c in columns if 0 < c < width})


def sides(ink: np.ndarray, box: tuple[int, int, int, int], column: int) -> tuple[list, list[np.ndarray]]:
    """A pair's mark cut at `column`: each side's box (top, left, bottom, right) in the ink map, shrunk to its
    ink, and each side prepared as MNIST prepared its digits (28x28): where the answer boxes the two digits
    and what it shows of them (the pair reader itself reads the mark uncut)."""
    top, left = box[0], box[1]
    boxes, images = [], []
    for a, b in ((0, column), (column, ink.shape[1])):
        side = ink[:, a:b]
        t, lf, bt, rt = ink_extent(side > 0.1) if (side > 0.1).any() else (0, 0, ink.shape[0], b - a)
        boxes.append((top + t, left + a + lf, top + bt, left + a + rt))
        images.append(prepare_ink(side) if (side > 0.1).any() else np.zeros((28, 28), np.float32))
    return boxes, images


def digit_probabilities(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A pair reading's (101,) probabilities -> each digit's (10,), given that the mark is a pair."""
    pairs = probs[:NO_PAIR].reshape(10, 10)
    pairs = pairs / pairs.sum().clamp_min(1e-12)
    return pairs.sum(1), pairs.sum(0)

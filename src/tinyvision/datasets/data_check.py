"""`tinyvision check-data`: what a dataset holds, and what is wrong with it, before training on it.

    report = tinyvision.datasets.check("folder:~/photos")   # or "mnist", "cifar10", ... (this module)
    report.problems        # one line each; empty when nothing was found
    report.write("checks/photos")                           # report.md, report.json, check.png, duplicates.png

What is checked:
- counts: images per class and per split; image sizes and modes (from the files' headers);
- unreadable files, each with the decoder's reason (the decoder training and predict use);
- exact duplicates: identical file bytes (blake2b), and identical pixels once
  decoded and resized to the training size (what the model sees);
- near duplicates: candidates are the pairs whose perceptual hashes (pHash,
  64 bits, `hashing.py`) are within `NEAR_DISTANCE` bits, and each image with
  its `NEAR_NEIGHBOURS` nearest others by a small thumbnail centred on its
  centre of mass; a candidate is a near duplicate when its gray thumbnails
  correlate at least `NEAR_CORRELATION` (for one-channel images
  `NEAR_CORRELATION_GRAY`), 16x16 as they are, or 32x32 at their best
  alignment (moved by up to 2/32 of the side, trimmed by up to 2/32 a side):
  a re-encoded, resized, brightened, slightly moved or trimmed copy is found,
  two different photos are not. Among colour images the pair must also agree
  in colour (`NEAR_COLOUR`, on 4x4 chromaticity thumbnails): the rest is gray,
  and a red and a green disc are not copies of each other. Simple images that really are alike (two
  plain handwritten 1s) can pass: look at `duplicates.png`;
- each duplicate is placed: within a class, across classes (the same image
  with two labels: one of them is wrong), or across splits (the same image in
  train and test: leakage, which inflates the test accuracy);
- class imbalance: the largest class over the smallest, and classes with
  fewer than `TINY_CLASS` training images.

Everything is computed on whole uint8 tensors (hashes, thumbnails, pair
search by matrix products), so MNIST's 70,000 images take seconds.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tinyvision.datasets.hashing import (
    align_thumbnails,
    aligned_correlations,
    centred_descriptors,
    details,
    gray_thumbnails,
    hamming,
    mirrored,
    near_pairs,
    nearest_pairs,
    normalised_rows,
    perceptual_hashes,
    pixel_hashes,
)
from tinyvision.datasets.image_data import ImageData
from tinyvision.datasets.split import SPLITS, SplitOptions
from tinyvision.errors import TinyVisionError

NEAR_DISTANCE = 8  # pHash bits (of 64) two near duplicates may differ in (JPEG q85 of a smooth photo: ~6)
# ... and the least correlation of their 16x16 gray thumbnails: for colour images (photos), and for one-channel
# ones (digits, strokes on paper), whose plain shapes correlate more when they are distinct: two writers' 1s
# pass 0.99. Chosen on training images (benchmarks/near_duplicates.py, results/near_duplicates.json, table
# near-duplicate-thresholds in docs/datasets.md): at 0.97 a photo's half-size copy is found 97% of the time
# (0.99: 30%) and no distinct photo of 3,000 is flagged; for digits 0.97 flagged 33 times the distinct pairs.
NEAR_CORRELATION = 0.97
NEAR_CORRELATION_GRAY = 0.99
# Each image's nearest others by centred thumbnail, also candidates: a copy moved or trimmed by a pixel or
# two, whose pHash moved too far, is among them (benchmarks/near_duplicates.py).
NEAR_NEIGHBOURS = 4
# An image's candidates by pHash are at most its this many nearest among the images listed after it: in a
# folder of many alike images (a burst of photos, a video's frames) every pair is within NEAR_DISTANCE, and
# keeping them all took 3.7 GB and 2.5 minutes for 6,000 frames (a red team); the pairs the report counts are
# then a bound from below, and each group of alike images stays linked.
NEAR_PAIRS_PER_IMAGE = 16
# A pair that passes only aligned, or was found only as nearest neighbours, must also match in its details
# (each thumbnail less its blur) at least this much: as a whole, two photos of a plain sky over a horizon
# correlate as copies do (in the CIFAR-10 copy's photos, 12 such pairs of different classes at 0.97, their
# details at most 0.46; moved and trimmed copies' details were at least 0.8 wherever the whole passed:
# benchmarks/near_duplicates.py).
NEAR_DETAIL = 0.8
# Colour images are also searched for mirrored copies (each image's nearest others by its mirror image's
# centred thumbnail, judged as a moved copy is): a photo flipped left to right is the same photo to a
# model trained with flips, as photo models are. Gray images are not: a mirrored digit is another
# character, and the plain shapes of two writers' 1s or 0s pass for each other's mirror images.
# Which images count as gray (the stricter bar, no mirrors) is read from their pixels, not their channels:
# digits saved as RGB files are still digits (two writers' 1s passed the colour bar as near duplicates). An
# image is gray when its channels differ by under GRAY_SPREAD levels on average (JPEG's colour noise on a gray
# scan: about 1); the dataset, when GRAY_SHARE of its images are.
GRAY_SPREAD = 4.0
GRAY_SHARE = 0.9
# Every rule above compares gray thumbnails, so colour never counted: two classes that differ only in colour
# (red discs and green discs, each image drawn apart) passed as each other's copies (a red team: 58 label
# conflicts, and leakage). Among colour images a near duplicate must also agree in colour: each image keeps
# its 4x4 thumbnail's chromaticity, each channel's share of its cell, (channel + COLOUR_EPS) / (sum + 3
# COLOUR_EPS), which a brightened copy keeps, and a near-black cell reads as gray rather than as JPEG's colour
# noise. A pair is no near duplicate when, in some cell, the shares differ by more than NEAR_COLOUR (summed
# over the three channels, from 0 to 2). Chosen on training images (benchmarks/near_duplicates.py,
# results/near_duplicates_colour.json, table near-duplicate-colour in docs/datasets.md): of 400 CIFAR-10
# training photos' copies, the furthest in colour was a copy cropped 2 px a side (0.27; JPEG q30: 0.25), and at
# 0.3, the least bar measured that finds every kind of copy as often as no colour test does, none is lost;
# the red team's red and green discs differ by 1.1 or more. A photo with its red and green swapped still
# passes three times in four: most photos are nearly gray, and then it is nearly the same photo.
NEAR_COLOUR = 0.3
COLOUR_EPS = 8.0  # levels of 255: a near-black cell's few levels of noise hardly move its shares
COLOUR_SIDE = 4
TINY_CLASS = 10  # a class with fewer training images than this can hardly be learnt or measured
IMBALANCE_RATIO = 10.0  # largest class / smallest class in training, from which to warn
NEAR_SEARCH_LIMIT = 20_000  # the one-line summary at training skips the (quadratic) near search above this
CHUNK = 4096
EXAMPLES = 20  # example pairs kept per kind in the report


@dataclass
class CheckInput:
    """A dataset as the checks see it: one row per readable image, in any order."""

    name: str
    classes: tuple[str, ...]
    labels: np.ndarray  # (N,)
    splits: np.ndarray  # (N,) index into SPLITS
    ids: list[str]  # file names, or "train[123]" for a built-in dataset
    images: Callable[[int, int], torch.Tensor]  # (start, stop) -> uint8 (n, C, H, W)
    shape: tuple[int, int, int]
    byte_hashes: list[str] | None = None
    sizes: Counter = field(default_factory=Counter)  # "WxH" -> files
    modes: Counter = field(default_factory=Counter)
    unreadable: dict[str, str] = field(default_factory=dict)  # file -> reason
    layout: str = "built-in"
    unused: list[str] = field(default_factory=list)  # images the layout leaves out, where (`folder.unused_images`)

    def chunks(self) -> Iterator[torch.Tensor]:
        for start in range(0, len(self.labels), CHUNK):
            yield self.images(start, min(len(self.labels), start + CHUNK))


def from_image_data(data: ImageData) -> CheckInput:
    parts = [(s, getattr(data, f"{s}_images"), getattr(data, f"{s}_labels")) for s in SPLITS
             if getattr(data, f"{s}_images") is not None]
    offsets = np.cumsum([0] + [len(x) for _, x, _ in parts])

    def images(start: int, stop: int) -> torch.Tensor:
        out = []
        for (_, x, _), lo, hi in zip(parts, offsets[:-1], offsets[1:]):
            a, b = max(start, lo), min(stop, hi)
            if a < b:
                out.append(x[a - lo : b - lo])
        return torch.cat(out)

    c, h, w = data.input_shape
    mode = "L" if c == 1 else "RGB"
    n = int(offsets[-1])
    return CheckInput(
        name=data.name, classes=data.classes,
        labels=torch.cat([y for _, _, y in parts]).numpy(),
        splits=np.concatenate([np.full(len(x), SPLITS.index(s), np.int8) for s, x, _ in parts]),
        ids=[f"{s}[{i}]" for s, x, _ in parts for i in range(len(x))],
        images=images, shape=(c, h, w), sizes=Counter({f"{w}x{h}": n}), modes=Counter({mode: n}),
    )


def from_folder(name: str, image_size: int | None, split: SplitOptions) -> CheckInput:
    from tinyvision.datasets.folder import open_folder, split_codes, unused_images

    # A class folder with no images is a problem to list with the others, not a reason to check nothing.
    folder = open_folder(name, image_size, shape=split.shape, saved=split.saved, empty_classes=True)
    codes = split_codes(folder, split)
    rows = np.flatnonzero(folder.ok & (codes >= 0))
    index = folder.index

    def images(start: int, stop: int) -> torch.Tensor:
        return torch.from_numpy(folder.store.gather(rows[start:stop]))

    listed = np.flatnonzero(codes >= 0)
    return CheckInput(
        name=name, classes=folder.listing.classes, labels=np.asarray(index.labels)[rows], splits=codes[rows],
        ids=[index.files[i] for i in rows], images=images, shape=tuple(index.shape),
        byte_hashes=[index.byte_hashes[i] for i in rows],
        sizes=Counter(f"{index.sizes[i][0]}x{index.sizes[i][1]}" for i in listed if index.sizes[i]),
        modes=Counter(index.modes[i] for i in listed if index.modes[i]),
        unreadable={f: r for f, r in index.errors.items()}, layout=folder.listing.layout,
        unused=unused_images(folder.listing),  # (train's own check too: it said "no problems found" after them)
    )


# -- the checks -----------------------------------------------------------------------------------


def groups_of(keys: np.ndarray) -> list[np.ndarray]:
    """Rows with equal keys, for every key held by more than one row."""
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    dup = np.flatnonzero(counts[inverse] > 1)
    order = dup[np.argsort(inverse[dup], kind="stable")]
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, bounds) if len(order) else []


def place(members: np.ndarray, inp: CheckInput) -> str:
    """Where a set of duplicates sits: across splits (leakage), across classes (conflict), or within."""
    if len(set(inp.splits[members].tolist())) > 1:
        return "across_splits"
    if len(set(inp.labels[members].tolist())) > 1:
        return "across_classes"
    return "within_class"


def describe(members, inp: CheckInput) -> list[dict]:
    return [{"id": inp.ids[i], "class": inp.classes[inp.labels[i]], "split": SPLITS[inp.splits[i]]}
            for i in members]


def exact_duplicates(keys: np.ndarray, inp: CheckInput) -> dict:
    """Groups of identical items, counted by where they sit, with examples."""
    out: dict = {"groups": 0, "extra_copies": 0, "within_class": 0, "across_classes": 0, "across_splits": 0,
                 "examples": []}
    for members in groups_of(keys):
        where = place(members, inp)
        out["groups"] += 1
        out["extra_copies"] += len(members) - 1
        out[where] += 1
        if where == "across_splits" and len(set(inp.labels[members].tolist())) > 1:
            out["across_classes"] += 1  # leakage and a label conflict both: counted as each
        if len(out["examples"]) < EXAMPLES or where != "within_class" and len(out["examples"]) < 3 * EXAMPLES:
            out["examples"].append({"where": where, "items": describe(members[:6], inp), "count": len(members)})
    return out


@dataclass
class Fingerprints:
    """Per image: `pixel` hashes (exact copies); for the near-duplicate search (empty without it) `phash`,
    normalised 16x16 gray `thumbs`, `centred` descriptors and uint8 32x32 gray `aligned` thumbnails;
    `gray`: whether the images are gray (`GRAY_SHARE`), which sets the bar and leaves out the mirrored search
    and the colour test; `colour`: (N, 3, COLOUR_SIDE, COLOUR_SIDE) chromaticities (`colour_descriptors`)."""

    pixel: np.ndarray
    phash: np.ndarray
    thumbs: torch.Tensor
    centred: torch.Tensor
    aligned: torch.Tensor
    gray: bool = True
    colour: torch.Tensor | None = None

    @property
    def mirrors(self) -> bool:
        """Mirrored copies are searched for among colour images only (see GRAY_SPREAD)."""
        return not self.gray

    @functools.cached_property
    def mirror_phash(self) -> np.ndarray:
        """Each image's mirror image's pHash, from its 32x32 thumbnail (the pHash's own input), once."""
        chunks = [self.aligned[k:k + CHUNK] for k in range(0, len(self.aligned), CHUNK)]
        return np.concatenate([np.zeros(0, np.uint64)] + [perceptual_hashes(mirrored(c)[:, None]) for c in chunks])


def fingerprints(inp: CheckInput, near: bool = True) -> Fingerprints:
    """Every image's fingerprints, chunk by chunk (about 2 KB an image for the near search)."""
    pixel, phash, thumbs, centred, aligned, colour, gray = [], [], [], [], [], [], 0
    for x in inp.chunks():
        pixel.append(pixel_hashes(x.numpy()))
        gray += int(gray_images(x).sum())
        if not near:
            continue
        phash.append(perceptual_hashes(x))
        thumbs.append(normalised_rows(gray_thumbnails(x, 16)).half())
        centred.append(centred_descriptors(x).half())
        aligned.append(align_thumbnails(x))
        colour.append(colour_descriptors(x))
    pixel = np.concatenate(pixel) if pixel else np.zeros((0, 2), np.uint64)
    gray = gray >= GRAY_SHARE * max(1, len(pixel))
    if not phash:
        return Fingerprints(pixel, np.zeros(0, np.uint64), torch.zeros(0, 256, dtype=torch.float16),
                            torch.zeros(0, 64, dtype=torch.float16), torch.zeros(0, 32, 32, dtype=torch.uint8), gray,
                            torch.zeros(0, 3, COLOUR_SIDE, COLOUR_SIDE, dtype=torch.float16))
    return Fingerprints(pixel, np.concatenate(phash), torch.cat(thumbs), torch.cat(centred), torch.cat(aligned), gray,
                        torch.cat(colour))


def colour_descriptors(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, COLOUR_SIDE, COLOUR_SIDE) float16 chromaticity of uint8 (N, C, H, W) images (see NEAR_COLOUR):
    each cell's channels' shares of their sum; one-channel images are gray, a third each."""
    if x.shape[1] < 3:
        return torch.full((len(x), 3, COLOUR_SIDE, COLOUR_SIDE), 1 / 3, dtype=torch.float16)
    cells = torch.nn.functional.adaptive_avg_pool2d(x[:, :3].float(), COLOUR_SIDE)
    return ((cells + COLOUR_EPS) / (cells.sum(1, keepdim=True) + 3 * COLOUR_EPS)).half()


def colour_differences(fp: Fingerprints, i: np.ndarray, j: np.ndarray, flip: np.ndarray | None = None) -> np.ndarray:
    """How far apart rows i and j are in colour (i's mirror image where `flip`): the largest, over cells, of
    their chromaticities' difference summed over channels (0 the same colours, 2 apart)."""
    a, b = fp.colour[i].float(), fp.colour[j].float()
    if flip is not None:
        a = torch.where(torch.from_numpy(np.asarray(flip, bool)).view(-1, 1, 1, 1), a.flip(-1), a)
    return (a - b).abs().sum(1).flatten(1).amax(1).numpy() if len(a) else np.zeros(0, np.float32)


def gray_images(x: torch.Tensor) -> torch.Tensor:
    """(N,) bool for uint8 (N, C, H, W): one channel, or channels that differ by under GRAY_SPREAD levels."""
    if x.shape[1] == 1:
        return torch.ones(len(x), dtype=torch.bool)
    spread = (x.amax(dim=1).float() - x.amin(dim=1).float()).mean(dim=(1, 2))
    return spread < GRAY_SPREAD


def candidate_pairs(fp: Fingerprints) -> np.ndarray:
    """(K, 4) rows (i, j, pHash distance, mirrored), i < j: pHashes within NEAR_DISTANCE bits, and each
    image with its NEAR_NEIGHBOURS nearest by centred thumbnail (mirrored 0); with `fp.mirrors`, also each
    image with the NEAR_NEIGHBOURS nearest to its mirror image (mirrored 1, the distance from i's mirror
    image's pHash). A pair may come twice, once each way."""
    close = near_pairs(fp.phash, NEAR_DISTANCE, NEAR_PAIRS_PER_IMAGE)[:, :2]
    pairs = np.unique(np.concatenate([close, nearest_pairs(fp.centred.float(), NEAR_NEIGHBOURS)]), axis=0)
    rows = [np.column_stack([pairs, hamming(fp.phash[pairs[:, 0]], fp.phash[pairs[:, 1]]),
                             np.zeros(len(pairs), np.int64)])]
    if fp.mirrors:
        flipped = nearest_pairs(mirrored(fp.centred.float()), NEAR_NEIGHBOURS, against=fp.centred.float())
        rows.append(np.column_stack([flipped, hamming(fp.mirror_phash[flipped[:, 0]], fp.phash[flipped[:, 1]]),
                                     np.ones(len(flipped), np.int64)]))
    return np.concatenate(rows).astype(np.int64)


def phash_distances(fp: Fingerprints, i: np.ndarray, j: np.ndarray, flip: np.ndarray | None) -> np.ndarray:
    """pHash bits rows i and j differ in; where `flip`, i's mirror image's pHash (`mirror_phash`)."""
    distance = hamming(fp.phash[i], fp.phash[j])
    turn = np.flatnonzero(flip) if flip is not None else np.zeros(0, np.int64)
    if len(turn):
        distance[turn] = hamming(fp.mirror_phash[i[turn]], fp.phash[j[turn]])
    return distance


def thumb_correlations(fp: Fingerprints, i: np.ndarray, j: np.ndarray, flip: np.ndarray | None = None) -> np.ndarray:
    """Rows i and j's 16x16 thumbnails' correlation as they stand (i's mirrored where `flip`), 65,536 pairs
    at a time; within [-1, 1]."""
    out = [np.zeros(0, np.float32)]
    for k in range(0, len(i), 65536):
        a = fp.thumbs[i[k:k + 65536]].float()
        if flip is not None:
            a = torch.where(torch.from_numpy(flip[k:k + 65536]).view(-1, 1).bool(), mirrored(a), a)
        out.append((a * fp.thumbs[j[k:k + 65536]].float()).sum(1).numpy())
    # Clipped: float16 unit rows multiply to a little over 1 (an image and its mirror copy: 1.0001, reported so).
    return np.clip(np.concatenate(out), -1.0, 1.0)


def pair_correlations(fp: Fingerprints, i: np.ndarray, j: np.ndarray, bar: float,
                      flip: np.ndarray | None = None, colour: float | None = NEAR_COLOUR) -> np.ndarray:
    """How alike rows i and j are (i mirrored where `flip`), as `bar` judges them (a pair under it is not a
    near duplicate).

    A pair whose pHashes are within NEAR_DISTANCE bits passes on its 16x16 thumbnails' correlation as they
    stand (blur and resizing move it least). Any other pair, or one that fails so, passes on its 32x32
    thumbnails' correlation at their best alignment (a moved or trimmed copy) when their details match too
    (NEAR_DETAIL): as a whole, two photos of a plain sky over a horizon correlate as copies do. A mirrored
    pair is judged on i's mirror image the same way (its pHash too: a half-size mirrored copy fails the
    details). Among colour images, a pair whose colours differ by more than `colour` (NEAR_COLOUR; None: no
    colour test) fails whatever its thumbnails."""
    corr = thumb_correlations(fp, i, j, flip)
    far = phash_distances(fp, i, j, flip) > NEAR_DISTANCE
    rest = np.flatnonzero(far | (corr < bar))
    if len(rest):
        left = fp.aligned[i[rest]]
        if flip is not None:
            turn = torch.from_numpy(flip[rest].astype(bool))
            left = torch.where(turn.view(-1, 1, 1), mirrored(left), left)
        aligned = aligned_correlations(left, fp.aligned[j[rest]])
        check = np.flatnonzero(aligned >= bar)
        sharp = aligned_correlations(details(left[check]), details(fp.aligned[j[rest[check]]]))
        passed = np.zeros(len(rest), bool)
        passed[check[sharp >= NEAR_DETAIL]] = True
        corr[rest] = np.where(passed, aligned, np.minimum(corr[rest], bar - 1e-3))  # failed: under the bar
    if not fp.gray and colour is not None:
        apart = colour_differences(fp, i, j, flip) > colour
        corr[apart] = np.minimum(corr[apart], bar - 1e-3)
    return corr


def where_pairs(i: np.ndarray, j: np.ndarray, inp: CheckInput) -> np.ndarray:
    """For pairs of rows: 0 within a class, 1 across classes (same split), 2 across splits."""
    across_splits = inp.splits[i] != inp.splits[j]
    across_classes = inp.labels[i] != inp.labels[j]
    return np.where(across_splits, 2, np.where(across_classes, 1, 0))


WHERE = ("within_class", "across_classes", "across_splits")


def near_correlation(fp: Fingerprints) -> float:
    return NEAR_CORRELATION_GRAY if fp.gray else NEAR_CORRELATION


def near_duplicates(fp: Fingerprints, inp: CheckInput) -> dict:
    """Candidate pairs (`candidate_pairs`) whose thumbnails correlate (`pair_correlations`), not identical."""
    pairs = candidate_pairs(fp)
    pairs = pairs[~(fp.pixel[pairs[:, 0]] == fp.pixel[pairs[:, 1]]).all(1)]
    bar = near_correlation(fp)
    corr = pair_correlations(fp, pairs[:, 0], pairs[:, 1], bar, pairs[:, 3])
    keep = corr >= bar
    pairs, corr = pairs[keep], corr[keep]
    # A pair found both as it stands and mirrored (a nearly symmetric photo) counts once, at its best.
    best = np.lexsort((-corr, pairs[:, 1], pairs[:, 0]))
    first = np.unique(pairs[best][:, :2], axis=0, return_index=True)[1]
    pairs, corr = pairs[best[first]], corr[best[first]]
    i, j, distance, flip = pairs[:, 0], pairs[:, 1], pairs[:, 2], pairs[:, 3]
    where = where_pairs(i, j, inp)
    train, test = SPLITS.index("train"), SPLITS.index("test")
    leaks = np.concatenate([j[(inp.splits[i] == train) & (inp.splits[j] == test)],
                            i[(inp.splits[j] == train) & (inp.splits[i] == test)]])
    counts = {w: int((where == k).sum()) for k, w in enumerate(WHERE)}
    counts["across_classes"] += int(((where == 2) & (inp.labels[i] != inp.labels[j])).sum())  # both, as above
    out: dict = {"pairs": int(len(i)), **counts, "mirrored": int(flip.sum()),
                 "test_images_with_a_train_near_duplicate": int(len(np.unique(leaks))), "examples": []}
    # Examples: the closest pairs, those across splits and classes first.
    order = np.lexsort((-corr, -where))
    shown = np.concatenate([order[where[order] > 0][: 2 * EXAMPLES], order[where[order] == 0][:EXAMPLES]])
    for k in shown:
        out["examples"].append({"where": WHERE[where[k]], "distance": int(distance[k]), "mirrored": bool(flip[k]),
                                "correlation": round(float(corr[k]), 4), "items": describe([i[k], j[k]], inp)})
    return out


def leaked_test_images(keys: np.ndarray, inp: CheckInput) -> int:
    """Test images with an identical image in train."""
    train, test = SPLITS.index("train"), SPLITS.index("test")
    count = 0
    for members in groups_of(keys):
        splits = inp.splits[members]
        if (splits == train).any():
            count += int((splits == test).sum())
    return count


def counts_table(inp: CheckInput) -> dict:
    table = {}
    for s, split in enumerate(SPLITS):
        sel = inp.splits == s
        if sel.any():
            table[split] = {c: int((inp.labels[sel] == k).sum()) for k, c in enumerate(inp.classes)}
    return table


def imbalance(counts: dict, classes: tuple[str, ...]) -> dict:
    train = counts.get("train", {})
    values = [train.get(c, 0) for c in classes]
    # Among the classes with training images: an empty class is a problem of its own (`empty_classes`), and
    # counted here it made the ratio None, which hid a 30-to-1 imbalance among the others.
    held = [v for v in values if v]
    smallest, largest = min(held, default=0), max(held, default=0)
    return {
        "largest": largest, "smallest": smallest,
        "ratio": round(largest / smallest, 2) if smallest else None,
        "tiny_classes": [c for c, v in zip(classes, values) if v < TINY_CLASS],
        "empty_classes": [c for c, v in zip(classes, values) if v == 0],
        # A class the test split lacks (a test/ folder without it, or no test split at all: --test-fraction 0,
        # which train refuses) has no test accuracy to measure.
        "untested_classes": [c for c, v in zip(classes, values) if v and not counts.get("test", {}).get(c, 0)],
    }


def some(names: list[str], most: int = 12) -> str:
    """Class names for a one-line summary: the first `most`, then how many more (report.md lists all)."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


def problems_of(report: dict) -> list[str]:
    problems = []
    if report["unreadable"]:
        problems.append(f"{len(report['unreadable'])} unreadable file(s)")
    problems += [f"not used: {place}" for place in report.get("unused", [])]
    for kind, label in (("identical_files", "identical files"), ("identical_pixels", "identical images")):
        d = report[kind]
        if d is None or not d["groups"]:
            continue
        parts = [f"{d[w]} {w.replace('_', ' ')}" for w in ("across_splits", "across_classes", "within_class") if d[w]]
        problems.append(f"{d['groups']} group(s) of {label} ({', '.join(parts)})")
    near = report["near_duplicates"]
    if near is not None and (near["across_splits"] or near["across_classes"]):
        problems.append(f"{near['across_splits']} near-duplicate pair(s) across splits, "
                        f"{near['across_classes']} across classes")
    bal = report["imbalance"]
    if bal["tiny_classes"]:
        problems.append(f"tiny class(es) (< {TINY_CLASS} training images): {some(bal['tiny_classes'])}")
    if bal.get("untested_classes"):
        problems.append(f"class(es) with no test images: {some(bal['untested_classes'])} (their accuracy "
                        f"cannot be measured)")
    if bal.get("empty_classes"):
        problems.append(f"class(es) with no readable training images: {some(bal['empty_classes'])}")
    if bal["ratio"] is not None and bal["ratio"] >= IMBALANCE_RATIO:
        problems.append(f"class imbalance: largest/smallest = {bal['ratio']} "
                        "(try --balance=weights or --balance=sampler)")
    return problems


def run_checks(inp: CheckInput, near: bool = True) -> CheckReport:
    started = time.perf_counter()
    fp = fingerprints(inp, near)
    pixel = fp.pixel
    counts = counts_table(inp)
    report = {
        "dataset": inp.name, "layout": inp.layout, "classes": list(inp.classes),
        "image_shape": list(inp.shape) if len(inp.labels) else None,  # (no image read: no shape was chosen)
        "images": int(len(inp.labels)), "counts": counts, "sizes": dict(inp.sizes.most_common()),
        "modes": dict(inp.modes.most_common()), "unreadable": inp.unreadable, "unused": inp.unused,
        "identical_files": None, "identical_pixels": exact_duplicates(pixel, inp),
        "near_duplicates": near_duplicates(fp, inp) if near else None,
        "imbalance": imbalance(counts, inp.classes),
        "leakage": {"test_images_identical_to_a_train_image": leaked_test_images(pixel, inp)},
        "thresholds": {"near_distance_bits": NEAR_DISTANCE, "near_neighbours": NEAR_NEIGHBOURS,
                       "near_detail_correlation": NEAR_DETAIL, "near_mirrored": fp.mirrors, "gray": fp.gray,
                       "near_thumbnail_correlation": near_correlation(fp),
                       "near_colour_difference": None if fp.gray else NEAR_COLOUR,
                       "tiny_class": TINY_CLASS, "imbalance_ratio": IMBALANCE_RATIO},
    }
    if inp.byte_hashes is not None:
        report["identical_files"] = exact_duplicates(np.array(inp.byte_hashes), inp)
    if report["near_duplicates"] is not None:
        report["leakage"]["test_images_with_a_train_near_duplicate"] = \
            report["near_duplicates"]["test_images_with_a_train_near_duplicate"]
    report["seconds"] = round(time.perf_counter() - started, 2)
    report["problems"] = problems_of(report)
    return CheckReport(report, inp)


# -- the report -----------------------------------------------------------------------------------


class CheckReport:
    """What `check` found: `.problems` (lines), `.data` (the report.json dict), `.write(folder)`."""

    def __init__(self, data: dict, inp: CheckInput) -> None:
        self.data = data
        self.input = inp

    @property
    def problems(self) -> list[str]:
        return self.data["problems"]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line, as `tinyvision train` prints it."""
        d = self.data
        per_split = " / ".join(f"{sum(v.values())} {s}" for s, v in d["counts"].items())
        per_split = f" ({per_split})" if per_split else ""  # (none: no image could be read)
        found = "; ".join(self.problems) if self.problems else "no problems found"
        near = "" if d["near_duplicates"] is not None else " (near duplicates not searched)"
        return f"data check: {d['images']} images{per_split}, {len(d['classes'])} classes: {found}{near}"

    def leakage(self) -> str | None:
        """A warning line when test images have (near) copies in train, else None."""
        leak = self.data["leakage"]
        same, near = leak["test_images_identical_to_a_train_image"], leak.get("test_images_with_a_train_near_duplicate")
        if not same and not near:
            return None
        test = sum(self.data["counts"].get("test", {}).values())
        near_text = f" and {near} a near duplicate" if near else ""
        return (f"leakage: {same} of {test} test images are identical to a training image{near_text}: "
                f"test accuracy will flatter the model (tinyvision check-data {self.data['dataset']})")

    def markdown(self) -> str:
        from tinyvision.datasets.check_report import render_markdown

        return render_markdown(self.data)

    def write(self, out: str | Path, figures: bool = True) -> dict[str, Path]:
        from tinyvision.datasets.check_report import write_report

        return write_report(self, Path(out), figures)

    def __repr__(self) -> str:
        return f"CheckReport({self.summary()})"


def check(name: str, image_size: int | None = None, split: SplitOptions | None = None,
          data_dir: str | Path | None = None, near: bool = True) -> CheckReport:
    """Check a dataset by name (`mnist`, `cifar10`, `folder:PATH`, ...); see the module's docstring."""
    from tinyvision.datasets.registry import is_folder, load_dataset

    if is_folder(name):
        if data_dir is not None:
            raise TinyVisionError(f"--data-dir does not apply to {name}: the path is part of the name")
        return run_checks(from_folder(name, image_size, split or SplitOptions()), near)
    data = load_dataset(name, Path(data_dir).expanduser() if data_dir else None, image_size)
    return run_checks(from_image_data(data), near)


def check_image_data(data: ImageData, image_size: int | None = None) -> CheckReport:
    """The checks of a dataset being trained on: its files' checks for a folder (the same split)."""
    if data.split_files is not None:
        saved = dict(data.split_files)
        inp = from_folder(data.name, image_size, SplitOptions(saved=saved, shape=data.input_shape))
    else:
        inp = from_image_data(data)
    return run_checks(inp, near=len(inp.labels) <= NEAR_SEARCH_LIMIT)

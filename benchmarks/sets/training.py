"""Training-side sources, disjoint from every evaluation set: non-digits for outlier exposure, font digits.

Disjoint means no source of an evaluation set appears here: no CIFAR-10, no
Fashion-MNIST, no EVAL-group font, no Hershey file that shares a glyph with
an EVAL one, no Symbola or Noto emoji, no Hershey symbol font, and none of
other.py's scribble, doodle or blank-paper generators (the strokes and
shapes here are drawn by different code: hatching, zigzags, spirals, crosses,
filled polygons). No real handwriting either: all of it is kept for
evaluation.

Images are raw uint8 greyscale arrays of any size; ink marks come dark on a
light ground (20% inverted), photos and textures as they are. Pass them
through the same preparation as a user's image (tinyvision.image.prepare)
before training on them.

    for image, meta in training_negatives(5000, seed=1): ...
    for image, label, meta in training_font_digits(2000, seed=1): ...
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from . import fonts, strokes
from .handwritten import package_dir
from .lettering import LOOKALIKES

# What each negative source is, and how often it is drawn.
NEGATIVE_SOURCES = {
    "letters": (0.35, "A-Z a-z in TRAIN-group outline fonts (handwriting and printed) and the TRAIN Hershey fonts "
                      "(scriptc, rowmand, timesi); digit look-alike letters (O, l, S, ...) left out unless asked"),
    "strokes": (0.15, "pen marks that are not characters: hatching, cross-hatching, zigzags, waves, spirals of 2-4 "
                      "turns, crosses and asterisks (never one straight line or one closed loop, which read as 1, 0)"),
    "shapes": (0.10, "filled triangles, squares, stars, polygons and discs, one to three, or an outlined triangle or "
                     "star (no outlined circle or box, which read as 0)"),
    "photo": (0.15, "crops of photos shipped with scikit-image, scikit-learn, matplotlib and pyclustering (people, "
                    "animals, fruit, landscapes, satellite views, microscopy), greyscale"),
    "texture": (0.08, "crops of scikit-image's brick, grass, gravel and chessboard images, or drawn stripes and "
                      "checks"),
    "face": (0.05, "scikit-image's 200 Labeled Faces in the Wild crops (25x25)"),
    "noise": (0.07, "Gaussian or salt-and-pepper noise, or smooth random blobs"),
    "blank": (0.05, "a flat or gently graded grey field, nothing on it"),
}
PHOTOS = {  # package -> files (relative to the package folder); text, pages, clocks and logos left out
    "skimage": ["data/astronaut.png", "data/camera.png", "data/cell.png", "data/chelsea.png", "data/coffee.png",
                "data/coins.png", "data/color.png", "data/horse.png", "data/ihc.png", "data/microaneurysms.png",
                "data/moon.png", "data/motorcycle_left.png", "data/phantom.png", "data/hubble_deep_field.jpg",
                "data/retina.jpg", "data/rocket.jpg"],
    "sklearn": ["datasets/images/china.jpg", "datasets/images/flower.jpg"],
    "matplotlib": ["mpl-data/sample_data/grace_hopper.jpg", "mpl-data/sample_data/Minduka_Present_Blue_Pack.png"],
    "pyclustering": [f"samples/images/{n}.png" for n in ("ImageBuildings", "ImageFieldFlower", "ImageFieldTree",
                     "ImageNile", "ImageSimpleBeach", "ImageSimpleBuilding", "ImageSimpleFruits", "ImageWhiteSea")],
}
TEXTURES = ["data/brick.png", "data/grass.png", "data/gravel.png", "data/chessboard_GRAY.png"]  # scikit-image


@cache
def _images(kind: str) -> tuple[tuple[str, np.ndarray], ...]:
    """The greyscale photos or textures that are installed, as (name, uint8 array)."""
    table = PHOTOS if kind == "photo" else {"skimage": TEXTURES}
    out = []
    for package, files in table.items():
        root = package_dir(package)
        for rel in files:
            path = Path(root) / rel if root else None
            if path and path.is_file():
                with Image.open(path) as im:
                    out.append((f"{package}:{rel}", np.asarray(im.convert("L"))))
    return tuple(out)


@cache
def _faces() -> np.ndarray | None:
    root = package_dir("skimage")
    path = Path(root) / "data" / "lfw_subset.npy" if root else None
    if not path or not path.is_file():
        return None
    faces = np.load(path)
    return np.round(np.clip(faces, 0, 1) * 255).astype(np.uint8) if faces.dtype != np.uint8 else faces


def _train_font_sources(style: str | None) -> list[tuple[str, list[str]]]:
    """(design, its files or [hershey:name]) for every installed TRAIN-group design."""
    out = [(f.name, f.files()) for f in fonts.families(fonts.TRAIN, style)]
    if style in (None, "handwriting"):
        out += [(f"hershey-{n}", [f"hershey:{n}"]) for n in fonts.hershey_fonts(fonts.TRAIN)]
    return out


def _pick_font(rng: np.random.Generator, sources: list[tuple[str, list[str]]]) -> tuple[str, str]:
    """A design uniformly (so a family with six files is not six times as common), then one of its files."""
    design, files = sources[int(rng.integers(len(sources)))]
    return design, files[int(rng.integers(len(files)))]


def _on_ground(coverage: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Ink coverage -> a small grey image: 24-64 px mark, uneven margins, a light ground (20% inverted)."""
    from .paper import crop_to_ink, scale_to_height

    mark = scale_to_height(crop_to_ink(coverage), int(rng.integers(24, 65)), Image.Resampling.LANCZOS)
    mh, mw = mark.shape
    t, b, left, r = (int(rng.uniform(0.1, 0.5) * mh) + 1 for _ in range(4))
    canvas = np.zeros((mh + t + b, mw + left + r), np.float32)
    canvas[t : t + mh, left : left + mw] = mark
    ground, ink = rng.uniform(0.7, 1.0), rng.uniform(0.0, 0.35)
    inverted = bool(rng.random() < 0.2)
    if inverted:
        ground, ink = 1 - ground, 1 - ink
    image = ground + (ink - ground) * canvas + rng.normal(0, rng.uniform(0, 0.03), canvas.shape)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), {"polarity": "light-on-dark" if inverted
                                                                   else "dark-on-light"}


def letters_on_ground(rng: np.random.Generator, sources: list[tuple[str, list[str]]], letters: str,
                      count: int) -> list[np.ndarray]:
    """`count` glyphs of `letters`, each in a font picked from `sources`, on a paper ground (`_on_ground`)."""
    from . import fonts

    images: list[np.ndarray] = []
    while len(images) < count:
        _, source = _pick_font(rng, sources)
        coverage = fonts.glyph(source, letters[int(rng.integers(len(letters)))], rng, hand=True)
        if coverage is not None:
            images.append(_on_ground(coverage, rng)[0])
    return images


def _letter(rng: np.random.Generator, lookalikes: bool) -> tuple[np.ndarray, dict]:
    sources = _train_font_sources(None)
    letters = [c for c in string.ascii_letters if lookalikes or c not in LOOKALIKES]
    while True:
        design, source = _pick_font(rng, sources)
        ch = letters[int(rng.integers(len(letters)))]
        coverage = fonts.glyph(source, ch, rng, hand=True)
        if coverage is not None:
            image, meta = _on_ground(coverage, rng)
            return image, {**meta, "font": design, "char": ch}


def _stroke_paths(rng: np.random.Generator) -> tuple[list[np.ndarray], str]:
    kind = str(rng.choice(["hatch", "cross-hatch", "zigzag", "wave", "spiral", "cross", "asterisk"]))
    if kind in ("hatch", "cross-hatch"):
        n, angle = int(rng.integers(3, 8)), rng.uniform(0, np.pi)
        d, u = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
        paths = [np.array([c * u - 40 * d, c * u + 40 * d], np.float32) for c in np.linspace(-35, 35, n)]
        if kind == "cross-hatch":
            paths += [p @ np.array([[0, -1], [1, 0]], np.float32) for p in paths]
        return paths, kind
    if kind in ("zigzag", "wave"):
        x = np.linspace(0, 100, 200 if kind == "wave" else 2 * int(rng.integers(4, 9)) + 1)
        periods = rng.uniform(3, 7)
        y = 12 * (np.sin(2 * np.pi * periods * x / 100) if kind == "wave" else (-1.0) ** np.arange(len(x)))
        return [np.stack([x, y], 1).astype(np.float32)], kind
    if kind == "spiral":
        t = np.linspace(0, 2 * np.pi * rng.uniform(2, 4), 300)
        return [np.stack([t * np.cos(t), t * np.sin(t)], 1).astype(np.float32)], kind
    n = 2 if kind == "cross" else int(rng.integers(3, 5))
    angles = rng.uniform(0, np.pi) + np.arange(n) * np.pi / n
    return [np.array([[-40 * np.cos(a), -40 * np.sin(a)], [40 * np.cos(a), 40 * np.sin(a)]], np.float32)
            for a in angles], kind


def _stroke(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    paths, kind = _stroke_paths(rng)
    paths = strokes.affine([strokes.resample(p, 1.5) for p in paths], rng.uniform(-0.3, 0.3), rng.uniform(-30, 30),
                           rng.uniform(0.7, 1.3))
    paths = strokes.wobble(paths, rng, rng.uniform(0, 2), rng.uniform(10, 30))
    image, meta = _on_ground(strokes.draw(paths, 96, rng.uniform(0.03, 0.1)), rng)
    return image, {**meta, "kind": kind}


def _shape(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    from PIL import ImageDraw

    canvas = Image.new("L", (128, 128), 0)
    pen = ImageDraw.Draw(canvas)
    kinds = []
    for _ in range(int(rng.integers(1, 4))):
        kind = str(rng.choice(["triangle", "square", "star", "polygon", "disc", "triangle-outline", "star-outline"]))
        cx, cy, r = rng.uniform(30, 98), rng.uniform(30, 98), rng.uniform(12, 40)
        turn = rng.uniform(0, 2 * np.pi)
        n = {"triangle": 3, "square": 4, "polygon": int(rng.integers(5, 9))}.get(kind.split("-")[0], 10)
        radii = np.where(np.arange(n) % 2 == 1, 0.45 * r, r) if kind.startswith("star") else np.full(n, r)
        pts = [(cx + q * np.cos(turn + 2 * np.pi * i / n), cy + q * np.sin(turn + 2 * np.pi * i / n))
               for i, q in enumerate(radii)]
        if kind == "disc":
            pen.ellipse((cx - r, cy - r * rng.uniform(0.6, 1), cx + r, cy + r), fill=255)
        elif kind.endswith("outline"):
            pen.line([*pts, pts[0]], fill=255, width=int(rng.integers(3, 9)), joint="curve")
        else:
            pen.polygon(pts, fill=255)
        kinds.append(kind)
    image, meta = _on_ground(np.asarray(canvas, np.float32) / 255, rng)
    return image, {**meta, "kind": "+".join(kinds)}


def _crop(rng: np.random.Generator, pool: tuple[tuple[str, np.ndarray], ...]) -> tuple[np.ndarray, dict]:
    name, image = pool[int(rng.integers(len(pool)))]
    h, w = image.shape
    side = int(rng.uniform(0.15, 1.0) * min(h, w))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    out = int(rng.integers(28, 129))
    crop = Image.fromarray(image[y : y + side, x : x + side]).resize((out, out), Image.Resampling.LANCZOS)
    return np.asarray(crop), {"image": name}


def _texture(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    pool = _images("texture")
    if pool and rng.random() < 0.6:
        return _crop(rng, pool)
    size, f, angle = int(rng.integers(28, 97)), rng.uniform(2, 10), rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / size
    u = np.cos(angle) * xx + np.sin(angle) * yy
    v = -np.sin(angle) * xx + np.cos(angle) * yy
    kind = str(rng.choice(["stripes", "checks"]))
    wave = np.sin(2 * np.pi * f * u) if kind == "stripes" else np.sign(np.sin(2 * np.pi * f * u) *
                                                                      np.sin(2 * np.pi * f * v))
    return np.round(127.5 + 100 * wave).astype(np.uint8), {"image": f"drawn:{kind}"}


def _noise(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    size = int(rng.integers(28, 97))
    kind = str(rng.choice(["gaussian", "salt-pepper", "blobs"]))
    if kind == "gaussian":
        image = rng.normal(rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.3), (size, size))
    elif kind == "salt-pepper":
        image = np.full((size, size), rng.uniform(0.3, 0.9))
        image[rng.random((size, size)) < rng.uniform(0.02, 0.2)] = rng.choice([0.0, 1.0])
    else:
        coarse = rng.normal(0, 1, (int(rng.integers(3, 8)),) * 2).astype(np.float32)
        image = np.asarray(Image.fromarray(coarse, "F").resize((size, size), Image.Resampling.BICUBIC))
        image = 0.5 + 0.25 * image
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), {"kind": kind}


def _blank(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    size = int(rng.integers(28, 97))
    yy = np.linspace(0, 1, size)[:, None] * np.ones((1, size))
    image = rng.uniform(0.1, 0.95) + rng.uniform(-0.1, 0.1) * yy
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), {}


def training_negatives(count: int, seed: int = 0, kinds: tuple[str, ...] | None = None,
                       lookalikes: bool = False) -> Iterator[tuple[np.ndarray, dict]]:
    """`count` non-digit images (uint8 grey, any size) with {source, ...} meta; see NEGATIVE_SOURCES.

    `kinds` restricts the sources (names of NEGATIVE_SOURCES); kinds whose
    packages are missing are dropped. `lookalikes` also draws letters that can
    pass for digits (O, l, S, Z, B, g, ...): off by default, as teaching a
    model that O is "not a digit" teaches it to refuse some 0s.
    """
    rng = np.random.default_rng([seed, 13])
    makers = {"letters": lambda: _letter(rng, lookalikes), "strokes": lambda: _stroke(rng),
              "shapes": lambda: _shape(rng), "photo": lambda: _crop(rng, _images("photo")),
              "texture": lambda: _texture(rng), "face": lambda: _face(rng), "noise": lambda: _noise(rng),
              "blank": lambda: _blank(rng)}
    ready = {"letters": bool(_train_font_sources(None)), "photo": bool(_images("photo")), "face": _faces() is not None}
    names = [k for k in (kinds or NEGATIVE_SOURCES) if ready.get(k, True)]
    if not names:
        raise ValueError("no training negative source is installed (see benchmarks/sets/SOURCES.md)")
    weights = np.array([NEGATIVE_SOURCES[k][0] for k in names])
    for k in rng.choice(len(names), size=count, p=weights / weights.sum()):
        image, meta = makers[names[k]]()
        yield image, {"source": names[k], **meta}


def _face(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    faces = _faces()
    i = int(rng.integers(len(faces)))
    return faces[i], {"image": f"skimage:data/lfw_subset.npy[{i}]"}


def training_font_digits(count: int, seed: int = 0, styles: tuple[str, ...] = ("handwriting",)
                         ) -> Iterator[tuple[np.ndarray, int, dict]]:
    """`count` digits (uint8 grey, any size, label 0-9, {font, ...}) in TRAIN-group fonts of the given styles.

    Styles: "handwriting" (TRAIN handwriting outline fonts and the TRAIN
    Hershey fonts) and/or "printed". Labels cycle 0-9, so classes are balanced.
    """
    rng = np.random.default_rng([seed, 14])
    sources = [s for style in styles for s in _train_font_sources(style)]
    if not sources:
        raise ValueError("no TRAIN-group font is installed (see benchmarks/sets/SOURCES.md)")
    made = 0
    while made < count:
        design, source = _pick_font(rng, sources)
        label = made % 10
        coverage = fonts.glyph(source, str(label), rng, hand=True)
        if coverage is None:
            continue
        image, meta = _on_ground(coverage, rng)
        yield image, label, {**meta, "font": design, "font_file": source, "font_group": fonts.TRAIN}
        made += 1

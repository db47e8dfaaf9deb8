"""Images that are not digits, for teaching a digit model to say so (outlier exposure).

A digit model trained on digits alone answers a digit for anything: a cat, a
T-shirt, a letter. Outlier exposure (Hendrycks et al., 2019) mixes non-digits
into training with a target of "no class more than another" (a uniform
prediction), so their calibrated confidence stays low and a threshold can
refuse them.

The non-digits must exist on a fresh install with no network, so they are
drawn here from what every install has, by seed:

- letters, Greek letters, symbols and short words in the STIX and Computer
  Modern fonts that matplotlib ships (not its DejaVu fonts: the benchmarks
  measure rejection on DejaVu letters), slanted, rotated, bolder or thinner;
  letters a hand can make look like a digit (O, l, S, Z, ...) are left out,
  as teaching "O is not a digit" teaches the model to refuse some zeros;
- pen marks that are no character: tangles, zigzags, waves, hatching, grids,
  spirals, stars, crosses; filled shapes and smooth blobs (silhouettes);
- crops of matplotlib's sample images (a portrait, an MRI slice, terrain
  maps, a logo, a present), textures and noise.

Each is drawn as a photo (ink on paper, sometimes the reverse) and put
through the preparation a user's image gets (`image.digits.prepare_digit`),
so training sees them exactly as prediction will.

What training uses ships with tinyvision (datasets/bundled/negatives/,
written by scripts/make_negatives.py): these drawings plus letters in
handwriting and printed fonts of the benchmarks' TRAIN group, since no font
matplotlib ships looks handwritten. Any other (count, seed) is drawn here and
kept in the cache folder.
"""

from __future__ import annotations

import gzip
import string
import time
from functools import cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from tinyvision.image.decode import ImageError
from tinyvision.image.digits import prepare_digit

VERSION = 3  # bump when the drawing changes: cached files carry it in their name
DEFAULT_COUNT = 8000
HELD_OUT_SEED = 1_000_003  # never used for training: the rejection threshold's check
HELD_OUT_COUNT = 1000

# Letters a hand can make look like a digit (O 0, l 1, Z 2, S 5, b 6, T 7, B 8, g 9, ...), never taught
# as "not a digit"; the same list as the benchmarks' letters set (benchmarks/sets/lettering.py).
LOOKALIKES = set("OoDQIliJTZzSsBbGgq")
LETTERS = "".join(c for c in string.ascii_letters if c not in LOOKALIKES)
GREEK = "αηλμπχψωΓΛΠΣΨΞ"
SYMBOLS = "+×÷=≠≈<>≤≥±∑∏∫√∂∇∈∀∃∩∪⊂←→↑↓↔⇒★☆♠♣♥♦@#%*†‡∴"
LETTER_FONTS = ("STIXGeneral.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBol.ttf", "STIXGeneralBolIta.ttf",
                "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmti10.ttf", "cmb10.ttf", "cmmi10.ttf")
SYMBOL_FONTS = ("STIXGeneral.ttf", "STIXGeneralBol.ttf")

# What is drawn, and how often.
KINDS = {"letters": 0.28, "symbols": 0.10, "pen": 0.20, "shapes": 0.12, "photo": 0.18, "texture": 0.12}


def mpl_data() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path())


@cache
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(mpl_data() / "fonts" / "ttf" / name), size)


@cache
def _charset(name: str) -> frozenset[int]:
    """The code points a font maps (Pillow would draw a box for a missing one)."""
    from fontTools.ttLib import TTFont  # a dependency of matplotlib

    return frozenset(TTFont(str(mpl_data() / "fonts" / "ttf" / name), lazy=True).getBestCmap())


# ----------------------------------------------------------------------------- drawing helpers


def text_coverage(font: str, text: str, size: int = 64) -> np.ndarray:
    """Ink coverage (0..1) of `text` drawn in one of matplotlib's fonts."""
    f = _font(font, size)
    left, top, right, bottom = f.getbbox(text)
    image = Image.new("L", (right - left + 16, bottom - top + 16), 0)
    ImageDraw.Draw(image).text((8 - left, 8 - top), text, font=f, fill=255)
    return np.asarray(image, np.float32) / 255


def warp(coverage: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hand's or a camera's variation: weight (max/min filter), slant, rotation, aspect."""
    image = Image.fromarray(np.round(coverage * 255).astype(np.uint8))
    weight = int(rng.choice([-1, 0, 0, 1, 2]))
    if weight > 0:
        image = image.filter(ImageFilter.MaxFilter(2 * weight + 1))
    elif weight < 0:
        thinner = image.filter(ImageFilter.MinFilter(3))
        if np.asarray(thinner).sum() > 0.4 * np.asarray(image).sum():
            image = thinner
    w, h = image.size
    slant, angle, aspect = rng.uniform(-0.3, 0.3), np.radians(rng.uniform(-20, 20)), rng.uniform(0.75, 1.3)
    pad = max(w, h) // 3
    image = Image.fromarray(np.pad(np.asarray(image), pad))
    cx, cy = image.width / 2, image.height / 2
    # The forward map is rotate @ slant @ diag(aspect, 1) about the centre; Pillow wants its inverse.
    forward = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ \
        np.array([[1.0, slant], [0.0, 1.0]]) @ np.diag([aspect, 1.0])
    (a, b), (d, e) = np.linalg.inv(forward)
    data = (a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy)
    image = image.transform(image.size, Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)
    return np.asarray(image, np.float32) / 255


def on_paper(coverage: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage -> a grey photo of it: 24-160 px mark, margins, paper tone, ink tone, light, noise, blur."""
    rows, cols = np.nonzero(coverage > 0.02)
    if rows.size == 0:
        return np.full((64, 64), 200, np.uint8)
    mark = coverage[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height = int(np.exp(rng.uniform(np.log(24), np.log(160))))
    scale = height / mark.shape[0]
    width = max(1, min(4 * height, round(mark.shape[1] * scale)))
    mark = np.asarray(Image.fromarray(mark, "F").resize((width, height), Image.Resampling.BILINEAR))
    margins = [int(rng.uniform(0.1, 0.6) * height) + 2 for _ in range(4)]
    cover = np.pad(np.clip(mark, 0, 1), ((margins[0], margins[1]), (margins[2], margins[3])))
    blur = rng.uniform(0, 0.8) * height / 100
    if blur > 0.2:
        soft = Image.fromarray(np.round(cover * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(blur))
        cover = np.asarray(soft, np.float32) / 255
    paper, ink = rng.uniform(0.65, 0.98), rng.uniform(0.0, 0.4)
    if rng.random() < 0.2:
        paper, ink = 1 - paper, 1 - ink
    h, w = cover.shape
    ramp = (np.linspace(-0.5, 0.5, w)[None, :] * rng.uniform(-0.2, 0.2)
            + np.linspace(-0.5, 0.5, h)[:, None] * rng.uniform(-0.2, 0.2))
    sheet = paper + ramp + rng.normal(0, rng.uniform(0.0, 0.03), (h, w))
    return np.round(np.clip(sheet + (ink - sheet) * cover, 0, 1) * 255).astype(np.uint8)


def pen_paths(rng: np.random.Generator) -> list[np.ndarray]:
    """Pen marks that are no character, as lists of (x, y) points (any scale: `draw_paths` fits them)."""
    kind = rng.choice(["tangle", "zigzag", "wave", "hatch", "grid", "spiral", "star", "cross", "loops"])
    if kind == "tangle":  # a random walk with momentum: many turns, crossing itself
        steps = int(rng.integers(60, 120))
        heading = np.cumsum(rng.normal(0, 0.6, steps)) + rng.uniform(0, 2 * np.pi)
        xy = np.cumsum(np.stack([np.cos(heading), np.sin(heading)], 1) * rng.uniform(3, 7), 0)
        return [xy]
    if kind in ("zigzag", "wave"):
        x = np.linspace(0, 110, 160 if kind == "wave" else 2 * int(rng.integers(4, 9)) + 1)
        periods = rng.uniform(2.5, 6)
        y = 16 * (np.sin(2 * np.pi * periods * x / 110) if kind == "wave" else (-1.0) ** np.arange(len(x)))
        return [np.stack([x, y], 1)]
    if kind in ("hatch", "grid"):
        n = int(rng.integers(3, 8))
        a = rng.uniform(0, np.pi)
        d, u = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
        lines = [np.stack([o * u - 45 * d, o * u + 45 * d]) for o in np.linspace(-40, 40, n)]
        if kind == "grid":
            b = a + rng.uniform(np.pi / 3, 2 * np.pi / 3)
            d, u = np.array([np.cos(b), np.sin(b)]), np.array([-np.sin(b), np.cos(b)])
            lines += [np.stack([o * u - 45 * d, o * u + 45 * d]) for o in np.linspace(-40, 40, n)]
        return lines
    if kind == "spiral":
        t = np.linspace(0, 2 * np.pi * rng.uniform(2.2, 4.5), 300)
        return [np.stack([t * np.cos(t), t * np.sin(t)], 1) * rng.uniform(1.5, 2.5)]
    if kind == "star":
        n = int(rng.choice([5, 7]))
        t = rng.uniform(0, 2 * np.pi) + np.arange(n + 1) * 2 * np.pi * (n // 2) / n
        return [np.stack([np.cos(t), np.sin(t)], 1) * 50]
    if kind == "cross":  # 3-6 strokes through one point: an asterisk
        n = int(rng.integers(3, 7))
        angles = rng.uniform(0, np.pi) + np.arange(n) * np.pi / n
        return [np.array([[-45 * np.cos(a), -45 * np.sin(a)], [45 * np.cos(a), 45 * np.sin(a)]]) for a in angles]
    # loops: a row of 4-7 overlapping loops, as when someone tries a pen
    t = np.linspace(0, 2 * np.pi * int(rng.integers(4, 8)), 400)
    return [np.stack([t * 2.2 + 14 * np.cos(t), 14 * np.sin(t)], 1)]


def draw_paths(paths: list[np.ndarray], width: float, size: int = 96) -> np.ndarray:
    """Paths (any coordinates) fitted into a size x size frame and drawn with a round pen."""
    points = np.concatenate(paths)
    low, high = points.min(0), points.max(0)
    scale = (size - 2 * width - 8) / max(float((high - low).max()), 1.0)
    image = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(image)
    for p in paths:
        xy = (p - low) * scale + width + 4
        pen.line([tuple(q) for q in xy], fill=255, width=max(1, round(width)), joint="curve")
    return np.asarray(image, np.float32) / 255


def shapes(rng: np.random.Generator) -> np.ndarray:
    """1-3 filled polygons, discs, stars or smooth blobs (silhouettes), or an outlined triangle or star."""
    image = Image.new("L", (128, 128), 0)
    pen = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.choice(["polygon", "disc", "star", "blob", "blob", "outline"])
        cx, cy, r = rng.uniform(35, 93), rng.uniform(35, 93), rng.uniform(14, 40)
        turn = rng.uniform(0, 2 * np.pi)
        if kind == "disc":
            pen.ellipse((cx - r, cy - r * rng.uniform(0.5, 1), cx + r, cy + r), fill=255)
            continue
        if kind == "blob":  # a smooth random outline: r(t) = 1 + sum of a few random harmonics
            t = np.linspace(0, 2 * np.pi, 90, endpoint=False)
            radius = 1 + sum(rng.uniform(0, 0.35 / k) * np.cos(k * t + rng.uniform(0, 2 * np.pi)) for k in range(2, 6))
            outline = np.stack([cx + r * radius * np.cos(t), cy + r * radius * np.sin(t) * rng.uniform(0.5, 1.2)], 1)
            pen.polygon([tuple(p) for p in outline], fill=255)
            continue
        n = int(rng.integers(3, 8)) if kind == "polygon" else int(rng.choice([3, 5]))
        star = kind == "star" or (kind == "outline" and n == 5)
        corners = 2 * n if star else n
        radii = np.where(np.arange(corners) % 2 == 1, 0.45 * r, r) if star else np.full(corners, r)
        t = turn + 2 * np.pi * np.arange(corners) / corners
        pts = [(cx + q * np.cos(a), cy + q * np.sin(a)) for q, a in zip(radii, t)]
        if kind == "outline":
            pen.line([*pts, pts[0]], fill=255, width=int(rng.integers(3, 9)), joint="curve")
        else:
            pen.polygon(pts, fill=255)
    return np.asarray(image, np.float32) / 255


@cache
def sample_images() -> tuple[np.ndarray, ...]:
    """matplotlib's sample photos and scans, as grey float arrays in 0..1."""
    root = mpl_data() / "sample_data"
    out = []
    for name in ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png", "logo2.png"):
        with Image.open(root / name) as im:
            if im.mode == "RGBA":  # transparent background -> white paper
                ground = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(ground, im)
            out.append(np.asarray(im.convert("L"), np.float32) / 255)
    with gzip.open(root / "s1045.ima.gz") as f:  # a 256x256 16-bit MRI slice
        out.append(np.frombuffer(f.read(), dtype="<u2").reshape(256, 256).astype(np.float32))
    with np.load(root / "jacksboro_fault_dem.npz") as z:
        out.append(z["elevation"].astype(np.float32))
    with np.load(root / "topobathy.npz") as z:
        out.append(z["topo"].astype(np.float32))
    normalised = []
    for a in out:
        low, high = np.percentile(a, 1), np.percentile(a, 99)
        normalised.append(np.clip((a - low) / max(high - low, 1e-6), 0, 1))
    return tuple(normalised)


def photo_crop(rng: np.random.Generator) -> np.ndarray:
    images = sample_images()
    a = images[int(rng.integers(len(images)))]
    h, w = a.shape
    side = max(8, int(rng.uniform(0.12, 1.0) * min(h, w)))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    out = int(rng.integers(28, 161))
    crop = Image.fromarray(a[y : y + side, x : x + side], "F").resize((out, out), Image.Resampling.BILINEAR)
    crop = np.asarray(crop)
    if rng.random() < 0.5:
        crop = 1 - crop
    return np.round(np.clip(crop, 0, 1) * 255).astype(np.uint8)


def texture(rng: np.random.Generator) -> np.ndarray:
    size = int(rng.integers(28, 129))
    yy, xx = np.mgrid[0:size, 0:size] / size
    kind = rng.choice(["stripes", "checks", "dots", "smooth", "noise"])
    a, f = rng.uniform(0, np.pi), rng.uniform(2, 9)
    u = np.cos(a) * xx + np.sin(a) * yy
    v = -np.sin(a) * xx + np.cos(a) * yy
    if kind == "stripes":
        image = 0.5 + 0.4 * np.sign(np.sin(2 * np.pi * f * u))
    elif kind == "checks":
        image = 0.5 + 0.4 * np.sign(np.sin(2 * np.pi * f * u) * np.sin(2 * np.pi * f * v))
    elif kind == "dots":
        image = 0.9 - 0.8 * ((np.sin(2 * np.pi * f * u) * np.sin(2 * np.pi * f * v)) > 0.6)
    elif kind == "smooth":
        coarse = rng.normal(0, 1, (int(rng.integers(3, 9)),) * 2).astype(np.float32)
        image = 0.5 + 0.3 * np.asarray(Image.fromarray(coarse, "F").resize((size, size), Image.Resampling.BICUBIC))
    else:
        image = rng.normal(rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.3), (size, size))
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def letters(rng: np.random.Generator) -> np.ndarray:
    font = LETTER_FONTS[int(rng.integers(len(LETTER_FONTS)))]
    n = 1 if rng.random() < 0.8 else int(rng.integers(2, 5))  # now and then a short word
    text = "".join(LETTERS[int(rng.integers(len(LETTERS)))] for _ in range(n))
    return on_paper(warp(text_coverage(font, text), rng), rng)


def symbols(rng: np.random.Generator) -> np.ndarray:
    font = SYMBOL_FONTS[int(rng.integers(len(SYMBOL_FONTS)))]
    chars = [c for c in GREEK + SYMBOLS if ord(c) in _charset(font)]
    return on_paper(warp(text_coverage(font, chars[int(rng.integers(len(chars)))]), rng), rng)


def pen(rng: np.random.Generator) -> np.ndarray:
    coverage = draw_paths(pen_paths(rng), width=rng.uniform(1.5, 9))
    return on_paper(warp(coverage, rng), rng)


MAKERS = {
    "letters": letters,
    "symbols": symbols,
    "pen": pen,
    "shapes": lambda rng: on_paper(warp(shapes(rng), rng), rng),
    "photo": photo_crop,
    "texture": texture,
}


# ----------------------------------------------------------------------------- the set


def generate_negatives(count: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """`count` non-digits prepared as users' digits are: uint8 (N, 28, 28), and the kind of each."""
    rng = np.random.default_rng([seed, 13, VERSION])
    names = list(KINDS)
    weights = np.array([KINDS[k] for k in names])
    out, kinds = np.zeros((count, 28, 28), np.uint8), []
    while len(kinds) < count:
        kind = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        photo = MAKERS[kind](rng)
        try:
            prepared = prepare_digit(photo[..., None])
        except ImageError:  # e.g. a flat texture: prediction refuses it before any model sees it
            continue
        out[len(kinds)] = np.round(prepared * 255).astype(np.uint8)
        kinds.append(kind)
    return out, kinds


BUNDLE = Path(__file__).resolve().parent / "datasets" / "bundled" / "negatives" / f"negatives-v{VERSION}.npz"
BUNDLED = {"train": (DEFAULT_COUNT, 0), "held_out": (HELD_OUT_COUNT, HELD_OUT_SEED)}  # what the bundle holds


def cache_file(count: int, seed: int) -> Path:
    from tinyvision.datasets.cache import cache_root

    return cache_root() / "negatives" / f"negatives-v{VERSION}-{count}-seed{seed}.npz"


def load_negatives(count: int = DEFAULT_COUNT, seed: int = 0) -> torch.Tensor:
    """uint8 (N, 1, 28, 28) non-digits, prepared like users' digits.

    The default set and the held-out one ship with tinyvision (written by
    scripts/make_negatives.py with this module); any other (count, seed) is
    generated once and kept in the cache folder.
    """
    from tinyvision.atomic import atomic_path

    for key, wanted in BUNDLED.items():
        if (count, seed) == wanted and BUNDLE.is_file():
            with np.load(BUNDLE) as z:
                return torch.from_numpy(z[key]).unsqueeze(1)
    path = cache_file(count, seed)
    if path.is_file():
        with np.load(path) as z:
            return torch.from_numpy(z["images"]).unsqueeze(1)
    start = time.perf_counter()
    images, kinds = generate_negatives(count, seed)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, images=images, kinds=np.array(kinds), seconds=np.array(time.perf_counter() - start))
    return torch.from_numpy(images).unsqueeze(1)


def held_out_negatives() -> torch.Tensor:
    """Non-digits never trained on (another seed): what the rejection threshold is checked against."""
    return load_negatives(HELD_OUT_COUNT, HELD_OUT_SEED)


__all__ = ["DEFAULT_COUNT", "KINDS", "generate_negatives", "held_out_negatives", "load_negatives"]

"""Other things a user sends that are not digits, one `kind` each, reported separately from photos and letters.

blank        paper with nothing on it: plain, ruled or squared, under uneven light
emoji        emoji and pictographs drawn in ink from Symbola's outlines (faces, animals, food, weather, objects)
emoji-color  Noto Color Emoji as a colour sticker or screenshot on a plain ground
symbol       Hershey astrology, music and symbol glyphs drawn as pen strokes (no letters, digits, lines)
scribble     a tangle: one smooth pen path through random points, as when someone tests the pen
doodle       a quick drawing: smiley, house, star, heart, sun, tree, stick figure, cat, flower, cloud

None of these generators or fonts is used on the training side (training.py),
which draws its strokes and shapes differently and from other fonts.
Glyphs that show a numeral (keycap ten, 100 points, billiard 8-ball,
calendars, circled digits) are excluded by code point.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import fonts, hershey, paper, strokes
from .store import SetSpec, SetWriter

COUNTS = {"blank": 300, "emoji": 300, "emoji-color": 200, "symbol": 300, "scribble": 250, "doodle": 300}
SYMBOLA = "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf"
NOTO_EMOJI = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
EMOJI_RANGES = ((0x1F600, 0x1F64F), (0x1F400, 0x1F43F), (0x1F330, 0x1F37F), (0x1F680, 0x1F6C5),
                (0x2600, 0x2604), (0x2614, 0x2615), (0x263A, 0x263C), (0x2660, 0x2667), (0x2708, 0x270C))
NUMERALS = {0x1F51F, 0x1F522, 0x1F4AF, 0x1F3B1, 0x1F4C5, 0x1F4C6, 0x1F5D3, 0x1F6C6}
SOURCES = {
    "procedural": {"what": "drawn by code in benchmarks/sets/other.py (paper, scribbles, doodles)",
                   "package": "-", "licence": "same as tinyvision", "attribution": "tinyvision"},
    "symbola": {"what": "Symbola font (emoji, pictographs)", "package": "fonts-symbola",
                "licence": "free for any use (George Douros)", "attribution": "George Douros"},
    "noto-color-emoji": {"what": "Noto Color Emoji font", "package": "fonts-noto-color-emoji",
                         "licence": "SIL Open Font License 1.1", "attribution": "Google"},
    "hershey-symbols": {"what": f"Hershey symbol fonts {', '.join(fonts.HERSHEY_SYMBOLS)}: symbols only",
                        "package": "hershey-fonts-data", "licence": fonts.HERSHEY_LICENCE,
                        "attribution": "Dr. A. V. Hershey, U.S. National Bureau of Standards; James Hurt"},
}


def emoji_points(path: str) -> list[int]:
    """Code points in EMOJI_RANGES that the font draws, numerals excluded."""
    cmap = fonts.codepoints(path)
    return [c for lo, hi in EMOJI_RANGES for c in range(lo, hi + 1) if c in cmap and c not in NUMERALS]


def blank(rng: np.random.Generator) -> tuple[bytes, str, dict]:
    h, w = int(rng.integers(80, 481)), int(rng.integers(80, 481))
    tone = paper.PAPERS[str(rng.choice(list(paper.PAPERS)))][0]
    sheet = paper.paper(h, w, rng, tone)
    ruling = str(rng.choice(["plain", "ruled", "squared"]))
    if ruling != "plain":
        step = int(rng.integers(14, 40))
        line = np.array([0.55, 0.7, 0.9], np.float32)  # pale blue ruling
        off = int(rng.integers(step))
        sheet[off::step, :, :] = sheet[off::step, :, :] * 0.6 + line * 0.4
        if ruling == "squared":
            sheet[:, off::step, :] = sheet[:, off::step, :] * 0.6 + line * 0.4
    data, ext, look = paper.encode(sheet, rng)
    look.update(size=[w, h], ruling=ruling)
    return data, ext, look


def emoji_ink(rng: np.random.Generator, points: list[int]) -> tuple[bytes, str, dict]:
    code = points[int(rng.integers(len(points)))]
    coverage = fonts.outline_coverage(SYMBOLA, chr(code), rng, hand=False)
    data, ext, look = paper.present(coverage, rng)
    look["codepoint"] = f"U+{code:04X}"
    return data, ext, look


def emoji_color(rng: np.random.Generator, points: list[int]) -> tuple[bytes, str, dict]:
    code = points[int(rng.integers(len(points)))]
    font = ImageFont.truetype(NOTO_EMOJI, 109)  # the one size its bitmaps come in
    ground = tuple(int(v) for v in (rng.integers(215, 256, 3) if rng.random() < 0.8 else rng.integers(0, 256, 3)))
    image = Image.new("RGB", (150, 150), ground)
    ImageDraw.Draw(image).text((75, 75), chr(code), font=font, embedded_color=True, anchor="mm")
    side = int(rng.integers(48, 321))
    image = image.resize((side, side), Image.Resampling.LANCZOS)
    data, ext, look = paper.encode(np.asarray(image, np.float32) / 255, rng, gray=False)
    look.update(size=[side, side], codepoint=f"U+{code:04X}")
    return data, ext, look


def symbol(rng: np.random.Generator) -> tuple[bytes, str, dict]:
    choices = [(name, ch) for name, chars in fonts.HERSHEY_SYMBOLS.items() for ch in chars]
    name, ch = choices[int(rng.integers(len(choices)))]
    data, ext, look = paper.present(fonts.hershey_coverage(name, ch, rng), rng)
    look.update(hershey_font=name, hershey_char=ch)
    return data, ext, look


def scribble_path(rng: np.random.Generator) -> list[np.ndarray]:
    """A tangle: a smooth pen path through 9-15 random points in a box, as when someone tests a pen."""
    points = rng.uniform(0, 100, (int(rng.integers(9, 16)), 2)).astype(np.float32)
    points[:, 1] *= rng.uniform(0.5, 1.2)
    return [strokes.catmull_rom(points, per_segment=12)]


def _circle(cx, cy, r, n=40, start=0.0, end=2 * np.pi, ry=None):
    t = np.linspace(start, end, n)
    return np.stack([cx + r * np.cos(t), cy + (ry or r) * np.sin(t)], 1).astype(np.float32)


def _poly(*pts):
    return np.array(pts, np.float32)


def doodle_paths(kind: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Simple drawings built from circles and lines, in units where the drawing is about 100 tall."""
    if kind in ("smiley", "sad-face"):
        mouth = _circle(50, 58, 22, 20, 0.2 * np.pi, 0.8 * np.pi) if kind == "smiley" else \
            _circle(50, 82, 22, 20, 1.2 * np.pi, 1.8 * np.pi)
        return [_circle(50, 50, 45), _circle(35, 38, 4, 10), _circle(65, 38, 4, 10), mouth]
    if kind == "house":
        return [_poly((10, 45), (50, 5), (90, 45)), _poly((18, 38), (18, 95), (82, 95), (82, 38)),
                _poly((42, 95), (42, 65), (58, 65), (58, 95))]
    if kind == "star":
        t = np.pi / 2 + np.arange(6) * 4 * np.pi / 5
        return [np.stack([50 - 48 * np.cos(t), 52 - 48 * np.sin(t)], 1).astype(np.float32)]
    if kind == "heart":
        t = np.linspace(0, 2 * np.pi, 60)
        x, y = 16 * np.sin(t) ** 3, 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
        return [np.stack([50 + 3 * x, 50 - 3 * y], 1).astype(np.float32)]
    if kind == "sun":
        rays = [_poly((50 + 30 * np.cos(a), 50 + 30 * np.sin(a)), (50 + 48 * np.cos(a), 50 + 48 * np.sin(a)))
                for a in np.arange(8) * np.pi / 4 + rng.uniform(0, 0.4)]
        return [_circle(50, 50, 22), *rays]
    if kind == "tree":
        return [_circle(50, 35, 32, 40, ry=28), _poly((44, 62), (44, 98)), _poly((56, 62), (56, 98))]
    if kind == "stick-figure":
        return [_circle(50, 14, 12), _poly((50, 26), (50, 65)), _poly((25, 42), (75, 42)),
                _poly((30, 98), (50, 65), (70, 98))]
    if kind == "cat":
        return [_circle(50, 58, 38, ry=34), _poly((18, 40), (22, 6), (42, 26)), _poly((58, 26), (78, 6), (82, 40)),
                _circle(37, 52, 4, 10), _circle(63, 52, 4, 10), _poly((5, 64), (35, 68)), _poly((65, 68), (95, 64))]
    if kind == "flower":
        petals = [_circle(50 + 22 * np.cos(a), 35 + 22 * np.sin(a), 12, 24) for a in np.arange(6) * np.pi / 3]
        return [_circle(50, 35, 10, 20), *petals, _poly((50, 57), (50, 100)), _poly((50, 80), (68, 68))]
    # cloud
    return [np.vstack([_circle(30, 55, 18, 20, 0.5 * np.pi, 1.5 * np.pi), _circle(45, 38, 18, 20, np.pi, 2 * np.pi),
                       _circle(68, 42, 16, 20, 1.2 * np.pi, 2.2 * np.pi), _circle(78, 60, 13, 16, 1.5 * np.pi,
                       2.5 * np.pi), _poly((78, 73), (30, 73))])]


DOODLES = ("smiley", "sad-face", "house", "star", "heart", "sun", "tree", "stick-figure", "cat", "flower", "cloud")


def drawn(paths: list[np.ndarray], rng: np.random.Generator, wobble: float) -> tuple[bytes, str, dict]:
    paths = [strokes.resample(p, 1.5) for p in paths]
    paths = strokes.affine(paths, rng.uniform(-0.15, 0.15), rng.uniform(-10, 10), rng.uniform(0.85, 1.15))
    paths = strokes.wobble(paths, rng, amount=rng.uniform(0.3, 1.0) * wobble, scale=rng.uniform(15, 30))
    return paper.present(strokes.draw(paths, height=128, width_frac=rng.uniform(0.02, 0.06)), rng)


def build(writer: SetWriter, rng: np.random.Generator) -> None:
    symbola = emoji_points(SYMBOLA) if os.path.isfile(SYMBOLA) else []
    noto = emoji_points(NOTO_EMOJI) if os.path.isfile(NOTO_EMOJI) else []
    makers = {
        "blank": ("procedural", lambda: blank(rng)),
        "emoji": ("symbola", lambda: emoji_ink(rng, symbola)) if symbola else None,
        "emoji-color": ("noto-color-emoji", lambda: emoji_color(rng, noto)) if noto else None,
        "symbol": ("hershey-symbols", lambda: symbol(rng)) if hershey.available() else None,
        "scribble": ("procedural", lambda: drawn(scribble_path(rng), rng, 1.0)),
    }
    for kind, made in makers.items():
        for _ in range(COUNTS[kind] if made else 0):
            data, ext, look = made[1]()
            writer.add(data, ext, variant=kind, label=None, source=made[0], kind=kind, style=look)
    for n in range(COUNTS["doodle"]):
        kind = DOODLES[n % len(DOODLES)]
        data, ext, look = drawn(doodle_paths(kind, rng), rng, 2.5)
        writer.add(data, ext, variant="doodle", label=None, source="procedural", kind=kind, style=look)


SETS = [SetSpec(
    "other-marks", "non-digits",
    "Other non-digits a user might send: blank paper, emoji, symbols, scribbles, doodles (`kind` says which)",
    "blank: paper tone, light ramp, texture and grain, 1/3 with pale blue ruled lines, 1/3 squared. emoji: Symbola "
    "outline glyphs drawn as ink. emoji-color: Noto Color Emoji at 109 px on a plain (mostly light) ground, resized "
    "to 48-320 px. symbol: Hershey symbol glyphs drawn as pen strokes. scribble: a Catmull-Rom path through "
    "9-15 random points. "
    "doodle: simple line drawings, wobbled by hand. Ink marks are presented as in paper.py.",
    {k: k for k in ("blank", "emoji", "emoji-color", "symbol", "scribble", "doodle")},
    SOURCES, build)]

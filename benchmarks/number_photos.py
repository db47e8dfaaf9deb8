"""Reading whole numbers: user-style photos of 2-4 digit numbers made from MNIST test digits.

`build` writes the set: random MNIST *test* digits (never training digits;
`--source val`: the validation split of the training digits, for choices)
placed left to right the way people write numbers (uneven gaps, sizes and
baselines, a slant shared by the line, some pairs touching or overlapping),
rendered in the photo styles of benchmarks/user_photos.py (`--paper hard`: on ruled or
squared paper, under a shadow, beside the desk the sheet lies on, in pencil; `--paper
marked`: underlined, boxed or circled by the writer; `--paper signed`: with a minus sign, a
decimal point, both ("-3.14"), or a comma: a thousands comma before three digits, a
decimal comma before any other count; `--paper form`: each digit in a cell of a printed row of
boxes; `--paper thin-pen`: written with a fine pen, 1-3 px, in a photo up to 3 times larger; `--paper
tilted`: photographed askew, the line and its digits turned 5-35 degrees either way), plus
manifest.json (file, number, style, touching, each digit's true box). `segment` scores the
segmenter alone; `read` segments and classifies with a trained model. Both
print JSON; `score_reads` is what a benchmark calls to score its predictions.

    python benchmarks/number_photos.py build --count 1000
    python benchmarks/number_photos.py build --count 1000 --paper hard --out /tmp/numbers-paper
    python benchmarks/number_photos.py build --count 400 --paper marked --source val --seed 3 \\
        --out /tmp/numbers-marked-val
    python benchmarks/number_photos.py build --count 400 --paper signed --source val --seed 4 \\
        --out /tmp/numbers-signed-val
    python benchmarks/number_photos.py build --count 300 --paper form --touch-rate 0 --source val \\
        --seed 6 --out /tmp/numbers-form-val
    python benchmarks/number_photos.py segment
    python benchmarks/number_photos.py read RUN_DIR --results benchmarks/results/numbers.json
"""

import argparse
import importlib.util
import json
import sys
import time
from collections import defaultdict
from functools import cache
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path.home() / ".cache" / "tinyvision" / "bench-sets" / "numbers"
LENGTHS = (2, 3, 4)
TOUCH_RATE = 0.12  # chance that a neighbouring pair is pushed into contact
UNEVEN_RATE = 0.3  # chance that a number has uneven sizes and baselines
SMALL_SIZE = (0.35, 0.6)  # `--small-rate`: one digit written this much smaller than the line's digits
PNG_SIGNATURE = b"\x89PNG"
MAX_ANGLE = 8.0  # the line's slant, degrees; each digit adds up to +-4 of its own
BOX_LEVEL = 0.3  # coverage above which a pixel is visible ink: a digit's true box, touching


@cache
def user_photos():
    """benchmarks/user_photos.py (paper, ink coverage, encoding), loaded by path."""
    spec = importlib.util.spec_from_file_location("user_photos", Path(__file__).with_name("user_photos.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- composing a number ----------------------------------------------------------------------

def _profiles(coverage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the leftmost and rightmost inked column (nan where the row is empty)."""
    ink = coverage > BOX_LEVEL
    cols = np.arange(ink.shape[1])
    left = np.where(ink.any(1), np.where(ink, cols, np.inf).min(1), np.nan)
    right = np.where(ink.any(1), np.where(ink, cols, -np.inf).max(1), np.nan)
    return left, right


def _contact_gap(a: np.ndarray, a_top: int, b: np.ndarray, b_top: int) -> float | None:
    """The gap between boxes (b's left - a's right) at which b's ink first meets a's, or None."""
    _, a_right = _profiles(a)
    b_left, _ = _profiles(b)
    top, bottom = max(a_top, b_top), min(a_top + a.shape[0], b_top + b.shape[0])
    if bottom <= top:
        return None
    # Rows within one pixel of each other touch (8-connectivity): compare each b row with a's row +-1.
    rows = np.arange(top, bottom)
    best = np.inf
    for shift in (-1, 0, 1):
        ar = np.clip(rows + shift - a_top, 0, a.shape[0] - 1)
        space = (a.shape[1] - 1 - a_right[ar]) + b_left[rows - b_top]
        best = min(best, np.nanmin(space) if np.isfinite(space).any() else np.inf)
    return None if not np.isfinite(best) else -float(best)


def compose(digits: list[np.ndarray], rng: np.random.Generator, touch_rate: float = TOUCH_RATE,
            height_range: tuple[int, int] = (200, 400),
            small_rate: float = 0.0) -> tuple[np.ndarray, list[list[int]], dict]:
    """MNIST digits (28x28 uint8) -> ink coverage of the written number, each digit's box, and facts.
    `small_rate`: the chance that one digit, any, is written SMALL_SIZE of the others' height (a digit
    squeezed in, or written small): the reader must read it, or doubt the number, never drop it."""
    photos = user_photos()
    h_img = int(rng.integers(*height_range))
    height = h_img * rng.uniform(0.3, 0.55)  # a digit's nominal height, px
    uneven = bool(rng.random() < UNEVEN_RATE)
    size_spread, base_spread = (0.25, 0.15) if uneven else (0.1, 0.05)
    # Drawn only when asked for, so sets built without small digits stay the same image for image.
    small = int(rng.integers(len(digits))) if small_rate and rng.random() < small_rate else None
    slant = rng.uniform(-MAX_ANGLE, MAX_ANGLE)
    layers, tops, lefts, touch_planned = [], [], [], []
    x = 0.0
    for i, digit in enumerate(digits):
        size = max(8, round(height * rng.uniform(1 - size_spread, 1 + size_spread)))
        if i == small:
            size = max(8, round(size * rng.uniform(*SMALL_SIZE)))
        cov = photos.ink_coverage(digit, size, slant + rng.uniform(-4, 4))
        if i > 0:
            x = lefts[-1] + layers[-1].shape[1] + 0.25 * height  # about where this digit goes
        # Bottoms sit on a baseline that follows the slant (PIL turns counter-clockwise for positive angles).
        base = -np.tan(np.radians(slant)) * x + rng.uniform(-base_spread, base_spread) * height
        top = round(base - cov.shape[0])
        touch = i > 0 and rng.random() < touch_rate
        if i > 0:
            prev, prev_left = layers[-1], lefts[-1]
            gap = rng.uniform(0.08, 0.45) * height
            if touch:
                contact = _contact_gap(prev, tops[-1], cov, top)
                touch = contact is not None
                if touch:
                    gap = contact - rng.uniform(0.0, 0.05) * height  # meet, sometimes cross a little
            x = prev_left + prev.shape[1] + gap
        layers.append(cov)
        tops.append(top)
        lefts.append(round(x))
        touch_planned.append(bool(touch))
    # Put the line on a canvas with margins on every side.
    top0, left0 = min(tops), min(lefts)
    bottom = max(t + c.shape[0] for t, c in zip(tops, layers)) - top0
    right = max(lf + c.shape[1] for lf, c in zip(lefts, layers)) - left0
    m_top, m_bottom = (int(rng.uniform(0.2, 1.0) * height) + 4 for _ in range(2))
    m_left, m_right = (int(rng.uniform(0.15, 1.0) * height) + 4 for _ in range(2))
    h, w = bottom + m_top + m_bottom, right + m_left + m_right
    alpha = np.zeros((h, w), np.float32)
    masks, boxes = [], []
    for cov, t, lf in zip(layers, tops, lefts):
        r, c = t - top0 + m_top, lf - left0 + m_left
        region = alpha[r : r + cov.shape[0], c : c + cov.shape[1]]
        np.maximum(region, cov, out=region)  # one pen: overlapping strokes do not add up
        mask = np.zeros((h, w), bool)
        mask[r : r + cov.shape[0], c : c + cov.shape[1]] = cov > BOX_LEVEL
        rows, cols = np.nonzero(mask)
        boxes.append([int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1])
        masks.append(mask)
    touching = [bool((_dilate(a) & b).any()) for a, b in zip(masks, masks[1:])]
    facts = {"touching": any(touching), "touching_pairs": sum(touching), "uneven": uneven, "small": small is not None,
             "slant": round(float(slant), 1), "digit_height": round(float(height))}
    return alpha, boxes, facts


BESIDE_MARKS = ("degree", "comma", "apostrophe", "blot", "specks")  # `--beside-rate`: marks that are no digit


def add_beside_mark(alpha: np.ndarray, boxes: list[list[int]], height: float, kind: str,
                    rng: np.random.Generator) -> np.ndarray:
    """The line with a mark that is no digit written after its last digit, the number unchanged: a degree
    sign (a raised ring), a comma (hanging below the line), an apostrophe (a raised stroke), an ink blot or a
    few specks (on the line), in a pen about as wide as the digits'. The canvas grows to its right."""
    from PIL import Image, ImageDraw

    pen = max(2, round(0.1 * height))
    top, _, bottom, right = boxes[-1]
    x = right + rng.uniform(0.1, 0.3) * height
    grown = np.pad(alpha, ((0, 0), (0, int(0.8 * height) + pen)))
    canvas = Image.new("L", (grown.shape[1], grown.shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    size = rng.uniform(0.25, 0.42) * height
    if kind == "degree":
        draw.ellipse([x, top, x + size, top + size], outline=255, width=pen)
    elif kind == "comma":
        draw.line([(x + 0.1 * size, bottom - 0.2 * size), (x + 0.15 * size, bottom + 0.3 * size),
                   (x - 0.2 * size, bottom + 0.8 * size)], fill=255, width=pen, joint="curve")
    elif kind == "apostrophe":
        draw.line([(x + 0.15 * size, top), (x, top + size)], fill=255, width=pen)
    elif kind == "blot":
        draw.ellipse([x, bottom - size, x + size * rng.uniform(0.7, 1.2), bottom], fill=255)
    else:  # specks
        for _ in range(int(rng.integers(3, 7))):
            cx, cy, d = x + rng.uniform(0, size), bottom - rng.uniform(0, size), rng.uniform(0.4, 1.0) * pen
            draw.ellipse([cx, cy, cx + d, cy + d], fill=255)
    np.maximum(grown, np.asarray(canvas, np.float32) / 255.0, out=grown)
    return grown


FLAT_MARKS = ("dash", "tilde", "smile", "equals")  # `--flat-rate`: flat marks that are no digit


def add_flat_mark(alpha: np.ndarray, boxes: list[list[int]], height: float, kind: str,
                  rng: np.random.Generator) -> tuple[np.ndarray, list[list[int]]]:
    """The line with a short flat mark that is no digit standing on it, before the number or after it (a dash, a
    tilde, a smile, an equals sign), the number unchanged: as tall as a digit written small (0.3-0.45 of the
    digit height) and 1.2-2.2 x as wide as tall, a pen width or more from the digits, in the digits' pen. The
    canvas grows on that side; the boxes move with it."""
    from PIL import Image, ImageDraw

    pen = max(2, round(0.1 * height))
    tall = rng.uniform(0.3, 0.45) * height
    wide = tall * rng.uniform(1.2, 2.2)
    gap = rng.uniform(1.2, 3.0) * pen
    before = bool(rng.random() < 0.5)
    room = int(wide + gap + 2 * pen)
    grown = np.pad(alpha, ((0, 0), (room, 0) if before else (0, room)))
    if before:
        boxes = [[t, lf + room, b, r + room] for t, lf, b, r in boxes]
    near = boxes[0] if before else boxes[-1]
    bottom = near[2] - rng.uniform(0.0, 0.1) * height  # on the line
    x0 = near[1] - gap - wide if before else near[3] + gap
    x1, y0 = x0 + wide, bottom - tall
    half = pen / 2  # strokes kept inside the box, so the mark is as tall and wide as drawn
    canvas = Image.new("L", (grown.shape[1], grown.shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    if kind == "dash":
        draw.line([(x0 + half, bottom - half), (x1 - half, y0 + half)], fill=255, width=pen)
    elif kind == "tilde":
        xs = np.linspace(x0 + half, x1 - half, 24)
        ys = (y0 + bottom) / 2 - (tall / 2 - half) * np.sin(np.linspace(0, 2 * np.pi, 24))
        draw.line(list(zip(xs.tolist(), ys.tolist())), fill=255, width=pen, joint="curve")
    elif kind == "smile":
        draw.arc([x0 + half, 2 * y0 - bottom + half, x1 - half, bottom - half], 0, 180, fill=255, width=pen)
    else:  # equals
        for y in (y0 + half, bottom - half):
            draw.line([(x0 + half, y), (x1 - half, y)], fill=255, width=pen)
    np.maximum(grown, np.asarray(canvas, np.float32) / 255.0, out=grown)
    return grown, boxes


def _dilate(mask: np.ndarray) -> np.ndarray:
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.any([padded[i : i + h, j : j + w] for i in range(3) for j in range(3)], axis=0)


def render(alpha: np.ndarray, style: str, rng: np.random.Generator) -> bytes:
    """Ink coverage -> an image file in one of user_photos' styles (same paper, pens and encoders)."""
    photos = user_photos()
    h, w = alpha.shape
    if style == "rgba-transparent-png":
        pen = np.full((h, w, 3), rng.uniform(0.0, 0.3), np.float32)
        return photos.encode(pen, "PNG", rng, alpha=alpha)
    light = not style.startswith("light-on-dark")
    sheet = photos.paper(h, w, rng, rng.uniform(0.7, 0.95) if light else rng.uniform(0.05, 0.3))
    if style == "blue-pen-jpeg":
        pen = np.array([0.1, 0.15, rng.uniform(0.45, 0.7)], np.float32)
        rgb = sheet[..., None] * (1 - alpha[..., None]) + pen * alpha[..., None]
    else:
        ink = rng.uniform(0.02, 0.3) if light else rng.uniform(0.75, 0.98)
        rgb = np.repeat((sheet * (1 - alpha) + ink * alpha)[..., None], 3, axis=2)
    return photos.encode(rgb, "PNG" if style.endswith("png") else "JPEG", rng)


# Paper that is not a clean sheet, as phones photograph it: printed rules (one under the digits, as people
# write on them), squares, a hand's or a phone's shadow, the desk beside the sheet, and pencil. Each is
# drawn in the line's slant, as a photo taken at that angle shows it.
HARD_STYLES = ("ruled", "squared", "shadow", "desk-edge", "pencil")


def _rules(h: int, w: int, spacing: float, offset: float, slant: float, width: float,
           vertical: bool = False) -> np.ndarray:
    """Coverage (0..1) of straight printed lines `spacing` px apart, tilted by `slant` degrees."""
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.tan(np.radians(slant))
    across = (gx - t * gy) if vertical else (gy + t * gx)  # as PIL turns the digits: counter-clockwise
    distance = np.abs((across - offset + spacing / 2) % spacing - spacing / 2)
    return np.clip(width / 2 + 0.5 - distance, 0, 1)  # anti-aliased: 1 inside, a 1-px ramp at the edge


def render_hard(alpha: np.ndarray, boxes: list[list[int]], facts: dict, style: str,
                rng: np.random.Generator) -> tuple[bytes, np.ndarray, list[list[int]]]:
    """Ink coverage -> a photo on hard paper (JPEG); also the canvas's size and the boxes in it, which
    move when the desk is added beside the sheet."""
    photos = user_photos()
    height, slant = facts["digit_height"], facts["slant"]
    if style == "desk-edge":  # the sheet ends short of one or two sides of the frame
        sides = rng.choice(4, size=int(rng.integers(1, 3)), replace=False)
        pads = [0, 0, 0, 0]  # top, bottom, left, right
        for side in sides:
            pads[side] = int(rng.uniform(0.08, 0.25) * (alpha.shape[0] if side < 2 else alpha.shape[1]))
        sheet_mask = np.pad(np.ones_like(alpha), ((pads[0], pads[1]), (pads[2], pads[3])))
        alpha = np.pad(alpha, ((pads[0], pads[1]), (pads[2], pads[3])))
        boxes = [[t + pads[0], lf + pads[2], b + pads[0], r + pads[2]] for t, lf, b, r in boxes]
    h, w = alpha.shape
    sheet = photos.paper(h, w, rng, rng.uniform(0.75, 0.95))
    rgb = np.repeat(sheet[..., None], 3, axis=2)
    if style == "ruled":
        spacing = height / rng.uniform(0.65, 0.9)
        # The digits sit on a rule: through the bottoms of the boxes, along the slant.
        t = np.tan(np.radians(slant))
        base = float(np.median([b + t * (lf + r) / 2 for _, lf, b, r in boxes])) + rng.uniform(-0.1, 0.05) * height
        lines = _rules(h, w, spacing, base, slant, rng.uniform(1.0, 3.0)) * rng.uniform(0.5, 0.9)
        colour = np.array([0.55, 0.7, 0.9], np.float32) * rng.uniform(0.85, 1.05)
        rgb = rgb * (1 - lines[..., None]) + colour * lines[..., None]
        if rng.random() < 0.5:  # the red margin, left of the first digit
            left = min(lf for _, lf, _, _ in boxes)
            if left > 6:
                margin = _rules(h, w, 10 * w, rng.uniform(2, left - 3), slant, rng.uniform(1.0, 2.5), vertical=True)
                red = np.array([0.85, 0.4, 0.4], np.float32)
                rgb = rgb * (1 - margin[..., None]) + red * margin[..., None]
    elif style == "squared":
        spacing = height * rng.uniform(0.3, 0.55)
        width = rng.uniform(0.8, 2.0)
        grid = np.maximum(_rules(h, w, spacing, rng.uniform(0, spacing), slant, width),
                          _rules(h, w, spacing, rng.uniform(0, spacing), slant, width, vertical=True))
        grid *= rng.uniform(0.4, 0.8)
        colour = np.array([0.6, 0.68, 0.8], np.float32)
        rgb = rgb * (1 - grid[..., None]) + colour * grid[..., None]
    if style == "pencil":
        ink, alpha = np.full(3, rng.uniform(0.3, 0.5), np.float32), alpha * rng.uniform(0.7, 1.0)
    else:
        ink = np.full(3, rng.uniform(0.02, 0.25), np.float32)
        if rng.random() < 0.4:
            ink = np.array([0.1, 0.15, rng.uniform(0.45, 0.7)], np.float32)  # blue pen
    rgb = rgb * (1 - alpha[..., None]) + ink * alpha[..., None]
    if style == "desk-edge":
        desk = np.array([0.45, 0.3, 0.18], np.float32) * rng.uniform(0.3, 1.1) if rng.random() < 0.6 \
            else np.full(3, rng.uniform(0.05, 0.45), np.float32)
        desk_light = photos.paper(h, w, rng, 1.0)[..., None]  # its own grain and light
        rgb = np.where(sheet_mask[..., None] > 0, rgb, np.clip(desk * desk_light, 0, 1))
    elif style == "shadow":  # a soft-edged shadow over part of the sheet
        gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        along = np.cos(angle) * (gx - w / 2) + np.sin(angle) * (gy - h / 2)
        edge = rng.uniform(-0.3, 0.3) * np.hypot(h, w) / 2
        softness = rng.uniform(0.03, 0.12) * np.hypot(h, w)
        shade = 1 - rng.uniform(0.3, 0.55) / (1 + np.exp(-(along - edge) / softness))
        rgb = rgb * shade[..., None]
    return photos.encode(rgb, "JPEG", rng), np.array([h, w]), boxes


# How people mark a number they wrote: underlined (once or twice), boxed, circled. Drawn with the writer's
# own pen into the ink, at the line's slant, with a hand's wobble, then photographed in a user style.
MARKS = ("underlined", "double-underlined", "boxed", "circled")
# `--paper circled-one`: one digit of the number circled, the ring often across its neighbours (a red team:
# the ring and the neighbours it touched were one piece, and the neighbours were cleared with it).
ONE_MARKS = ("circled-one",)
# `--paper form`: each digit written into a cell of a printed row of boxes, the cells sharing their walls (a red
# team: the inner walls were kept and read as 1s). Build it with --touch-rate 0: one digit to a cell.
FORMS = ("form-boxes",)


def _stroke(points: np.ndarray, width: float, shape: tuple[int, int]) -> np.ndarray:
    """Ink coverage of a pen drawn through `points` ((n, 2) x, y), anti-aliased by 4x supersampling."""
    from PIL import Image, ImageDraw

    k = 4
    canvas = Image.new("L", (shape[1] * k, shape[0] * k), 0)
    draw = ImageDraw.Draw(canvas)
    scaled = [(float(x) * k, float(y) * k) for x, y in points]
    draw.line(scaled, fill=255, width=max(1, round(width * k)), joint="curve")
    r = width * k / 2
    for x, y in (scaled[0], scaled[-1]):  # round pen ends
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(canvas.resize((shape[1], shape[0]), Image.BOX), np.float32) / 255.0


def hand_ellipse(cx: float, cy: float, rx: float, ry: float, rng: np.random.Generator, turn: float = 2 * np.pi,
                 start: float | None = None, n: int = 60) -> np.ndarray:
    """Points ((n, 2) x, y) along a hand-drawn ellipse (or an arc of `turn` radians), its radius wobbling."""
    start = rng.uniform(0, 2 * np.pi) if start is None else start
    a = start + np.linspace(0, turn, n)
    wobble = 1 + rng.uniform(-0.04, 0.04) * np.sin(3 * a + rng.uniform(0, 6))
    return np.stack([cx + rx * wobble * np.cos(a), cy + ry * wobble * np.sin(a)], 1)


SIGNS = ("minus", "point", "minus-point", "comma")


def render_signed(alpha: np.ndarray, boxes: list[list[int]], facts: dict, style: str,
                  rng: np.random.Generator) -> tuple[np.ndarray, list[list[int]], int]:
    """The number with a minus before it, a decimal point in it, both, or a comma (`style`, one of SIGNS),
    drawn in the writer's pen; returns the ink, the digits' boxes and where the decimal mark went (the count
    of digits before it; 0: none). A comma before three digits groups thousands, and the number is read
    without it; before any other count it is a decimal comma, read as a point. The point or comma goes in a
    gap between two digits that do not touch, widened for it as people leave room for one; a number whose
    digits all touch gets neither."""
    height, slant = facts["digit_height"], facts["slant"]
    width = height * rng.uniform(0.08, 0.15)  # about a digit's stroke
    pad = int(1.0 * height)  # room for the minus
    alpha = np.pad(alpha, ((0, 0), (pad, 0)))
    boxes = [[t, lf + pad, b, r + pad] for t, lf, b, r in boxes]
    rise = -np.tan(np.radians(slant))  # the line's slant: y change per x
    after = 0
    if style.endswith("point") or style == "comma":
        gaps = [k for k in range(1, len(boxes)) if boxes[k][1] - boxes[k - 1][3] > 0]
        if gaps:
            after = int(rng.choice(gaps))
            size = width * rng.uniform(1.0, 1.8)  # a dot a little wider than the stroke
            room = int(size + rng.uniform(0.05, 0.2) * height)
            cut = (boxes[after - 1][3] + boxes[after][1]) // 2  # an empty column between the two digits
            alpha = np.concatenate([alpha[:, :cut], np.zeros((alpha.shape[0], room), alpha.dtype), alpha[:, cut:]], 1)
            boxes = [b if k < after else [b[0], b[1] + room, b[2], b[3] + room] for k, b in enumerate(boxes)]
            x = (boxes[after - 1][3] + boxes[after][1]) / 2 + rng.uniform(-0.1, 0.1) * room
            base = max(boxes[after - 1][2], boxes[after][2])
            y = base - size / 2 - rng.uniform(-0.05, 0.1) * height
            dot = np.array([[x, y], [x + rng.uniform(-0.1, 0.1) * size, y + rng.uniform(-0.1, 0.1) * size]])
            if style == "comma":  # the dot's tail, down and to the left, below the line
                tail = rng.uniform(0.15, 0.35) * height
                dot = np.array([[x + 0.2 * size, y - 0.2 * size], [x + 0.1 * size, y + 0.3 * tail],
                                [x - rng.uniform(0.1, 0.3) * tail, y + tail]])
                np.maximum(alpha, _stroke(dot[:1], size, alpha.shape), out=alpha)  # its head
                size = width * rng.uniform(0.8, 1.0)
                after = 0 if len(boxes) - after == 3 else after  # a thousands comma: none
            np.maximum(alpha, _stroke(dot, size, alpha.shape), out=alpha)
    if style.startswith("minus"):
        first = boxes[0]
        length = rng.uniform(0.3, 0.6) * height
        x1 = first[1] - rng.uniform(0.1, 0.35) * height
        x0 = x1 - length
        y = first[0] + rng.uniform(0.4, 0.6) * (first[2] - first[0])
        xs = np.linspace(x0, x1, 8)
        ys = y + (rise + rng.uniform(-0.08, 0.08)) * (xs - x1)
        np.maximum(alpha, _stroke(np.stack([xs, ys], 1), width, alpha.shape), out=alpha)
    return alpha, boxes, after


def render_marked(alpha: np.ndarray, boxes: list[list[int]], facts: dict, style: str,
                  rng: np.random.Generator) -> tuple[bytes, np.ndarray, list[list[int]]]:
    """The number with a mark drawn around or under it (MARKS), photographed in a random user style; also
    the canvas's size and the digits' boxes in it."""
    height, slant = facts["digit_height"], facts["slant"]
    pad = int(0.7 * height)  # room for the mark
    alpha = np.pad(alpha, pad)
    boxes = [[t + pad, lf + pad, b + pad, r + pad] for t, lf, b, r in boxes]
    top, left = min(b[0] for b in boxes), min(b[1] for b in boxes)
    bottom, right = max(b[2] for b in boxes), max(b[3] for b in boxes)
    width = height * rng.uniform(0.08, 0.15)  # about a digit's stroke
    rise = -np.tan(np.radians(slant))  # the line's slant: y change per x

    def wobbly(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        bend = rng.uniform(-0.04, 0.04) * height * np.sin(np.linspace(0, np.pi, len(xs)))
        return np.stack([xs, ys + bend], 1)

    marks = []
    if style in ("underlined", "double-underlined"):
        x0, x1 = left - rng.uniform(0.0, 0.3) * height, right + rng.uniform(0.0, 0.3) * height
        xs = np.linspace(x0, x1, 24)
        y0 = bottom + rng.uniform(0.06, 0.3) * height
        marks.append(wobbly(xs, y0 + rise * (xs - x0)))
        if style == "double-underlined":
            y1 = y0 + rng.uniform(0.15, 0.3) * height
            marks.append(wobbly(xs, y1 + rise * (xs - x0)))
    elif style == "boxed":
        m = [rng.uniform(0.1, 0.4) * height for _ in range(4)]
        t, lf, b, r = top - m[0], left - m[1], bottom + m[2], right + m[3]
        corners = np.array([[lf, t], [r, t + rise * (r - lf)], [r, b + rise * (r - lf)], [lf, b], [lf, t]])
        corners += rng.uniform(-0.04, 0.04, corners.shape) * height
        corners[-1] = corners[0] + rng.uniform(-0.05, 0.1, 2) * height  # the pen closes roughly
        marks.append(corners)
    elif style == "circled-one":  # a ring round one digit, drawn as tight as people draw it
        t, lf, b, r = boxes[int(rng.integers(len(boxes)))]
        cx, cy = (lf + r) / 2, (t + b) / 2
        rx = (r - lf) / 2 + rng.uniform(0.15, 0.45) * height
        ry = (b - t) / 2 + rng.uniform(0.1, 0.3) * height
        points = hand_ellipse(cx, cy, rx, ry, rng, turn=2 * np.pi + rng.uniform(0.1, 0.4), n=72)
        points[:, 1] += rise * (points[:, 0] - cx)
        marks.append(points)
    elif style == "form-boxes":  # printed: straight thin lines, lighter than the pen, walls between the digits
        line = height * rng.uniform(0.02, 0.06)
        shade = rng.uniform(0.55, 1.0)
        t, b = top - rng.uniform(0.1, 0.35) * height, bottom + rng.uniform(0.1, 0.35) * height
        walls = [left - rng.uniform(0.1, 0.35) * height]
        walls += [(boxes[k - 1][3] + boxes[k][1]) / 2 for k in range(1, len(boxes))]
        walls.append(right + rng.uniform(0.1, 0.35) * height)
        printed = np.zeros_like(alpha)
        lines = [np.array([[walls[0], t], [walls[-1], t]]), np.array([[walls[0], b], [walls[-1], b]])]
        lines += [np.array([[x, t], [x, b]]) for x in walls]
        for points in lines:  # (square to the canvas: the writing's slant tilts the digits in their cells)
            np.maximum(printed, _stroke(points, line, alpha.shape), out=printed)
        np.maximum(alpha, shade * printed, out=alpha)
    else:  # circled: an ellipse round the number, its ends overlapping a little
        # Through points near the number's corners, a little outside or (a tight circle) inside them.
        cx, cy = (left + right) / 2, (top + bottom) / 2
        rx = np.sqrt(2) * ((right - left) / 2 + rng.uniform(-0.1, 0.3) * height)
        ry = np.sqrt(2) * ((bottom - top) / 2 + rng.uniform(-0.1, 0.3) * height)
        start = rng.uniform(0, 2 * np.pi)
        points = hand_ellipse(cx, cy, rx, ry, rng, turn=2 * np.pi + rng.uniform(0.1, 0.4), start=start, n=72)
        points[:, 1] += rise * (points[:, 0] - cx)
        marks.append(points)
    for points in marks:
        np.maximum(alpha, _stroke(points, width, alpha.shape), out=alpha)
    look = user_photos().STYLES[int(rng.integers(len(user_photos().STYLES)))]
    return render(alpha, look, rng), np.array(alpha.shape), boxes


def dotted(zero: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An MNIST 0 (28x28 uint8) with a dot in its hole, as some people and monospace fonts write it: an
    upright stroke 0.25-0.45 of the digit's height (shorter, or one pixel wide, where the hole is small), at
    the hole's centre, a pixel clear of the ring (left as it was when the hole has no room for one)."""
    from tinyvision.image.marks import interior

    hole = interior(zero > 32)
    if not hole.any():
        return zero
    edge = np.pad(~hole, 1, constant_values=True)
    room = hole & ~edge[:-2, 1:-1] & ~edge[2:, 1:-1] & ~edge[1:-1, :-2] & ~edge[1:-1, 2:]  # a pixel clear of it
    rows, cols = np.nonzero(hole)
    cy, cx = float(rows.mean()), float(cols.mean())
    ink = np.flatnonzero((zero > 32).any(1))
    share = rng.uniform(0.25, 0.45)
    for scale in (1.0, 0.8, 0.6):
        for width in (2, 1):
            half = share * scale * (ink[-1] - ink[0] + 1) / 2
            top, bottom, left = round(cy - half), round(cy + half), round(cx - width / 2)
            dot = np.zeros_like(hole)
            dot[max(0, top) : bottom + 1, max(0, left) : left + width] = True
            if not (dot & ~room).any():
                out = zero.copy()
                out[dot] = 255
                return out
    return zero


THIN_PENS = (1.0, 2.0, 3.0)  # `--paper thin-pen`: a fine-liner's or a ballpoint's line, px of the photo ...
THIN_ENLARGE = (1.0, 3.0)  # ... in a photo this many times the size of the other sets'


def thin_pen(alpha: np.ndarray, boxes: list[list[int]], facts: dict,
             rng: np.random.Generator) -> tuple[np.ndarray, list[list[int]]]:
    """The number written again with a fine pen: its strokes' centre lines (a skeleton of the ink, in a photo
    enlarged THIN_ENLARGE times), drawn THIN_PENS px wide, anti-aliased (drawn at twice the size, averaged
    down). MNIST's strokes are about a seventh of a digit's height; a fine pen's, in a large photo, a hundredth."""
    from PIL import Image
    from skimage.filters import gaussian
    from skimage.morphology import skeletonize

    grow, pen = float(rng.uniform(*THIN_ENLARGE)), float(rng.choice(THIN_PENS))
    h, w = alpha.shape
    big = Image.fromarray(alpha).resize((round(2 * w * grow), round(2 * h * grow)), Image.Resampling.BILINEAR)
    ink = np.asarray(big) > 0.5
    # Smoothed first, so that the centre lines have few spurs from the ink's rough edges.
    ink = gaussian(ink.astype(np.float32), sigma=2.0 * grow) > 0.5
    line = skeletonize(ink)
    reach = max(0, round(pen - 1))  # at twice the size: a (2 reach + 1) square is about `pen` px when halved
    if reach:
        from tinyvision.image.marks import dilate

        line = dilate(line, reach)
    drawn = np.asarray(Image.fromarray(line.astype(np.float32)).resize((round(w * grow), round(h * grow)),
                                                                        Image.Resampling.BOX), np.float32)
    facts.update({"pen_px": pen, "enlarged": round(grow, 2), "digit_height": round(facts["digit_height"] * grow)})
    return np.clip(drawn, 0.0, 1.0), [[round(v * grow) for v in box] for box in boxes]


TILTS = (5.0, 35.0)  # `--paper tilted`: the photo taken askew, the line and its digits turned this many degrees


def tilted(alpha: np.ndarray, boxes: list[list[int]], facts: dict,
           rng: np.random.Generator) -> tuple[np.ndarray, list[list[int]]]:
    """The number's ink turned by TILTS degrees (either way) about its centre, as a camera held askew over the
    sheet turns it (the paper is drawn under it afterwards); each box the box around its turned corners."""
    from PIL import Image

    angle = float(rng.uniform(*TILTS) * rng.choice((-1, 1)))
    h, w = alpha.shape
    turned = np.asarray(Image.fromarray(alpha.astype(np.float32), mode="F").rotate(
        angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=0.0), np.float32)
    th, tw = turned.shape
    a = np.radians(angle)  # PIL turns counter-clockwise: a point's (x, y) about the centre, y pointing down
    cos, sin = np.cos(a), np.sin(a)

    def turn(top: int, left: int, bottom: int, right: int) -> list[int]:
        x = np.array([left, right, left, right], np.float64) - w / 2
        y = np.array([top, top, bottom, bottom], np.float64) - h / 2
        u, v = cos * x + sin * y + tw / 2, -sin * x + cos * y + th / 2
        return [int(np.floor(v.min())), int(np.floor(u.min())), int(np.ceil(v.max())), int(np.ceil(u.max()))]

    facts["tilt"] = round(angle, 1)
    return np.clip(turned, 0.0, 1.0), [turn(*box) for box in boxes]


LEANS = (10.0, 35.0)  # `--paper italic`: each digit leaning this many degrees further, either way


def italic(alpha: np.ndarray, boxes: list[list[int]], facts: dict,
           rng: np.random.Generator) -> tuple[np.ndarray, list[list[int]]]:
    """The number written leaning: its ink sheared by LEANS degrees (either way; the line stays level, each
    digit's top moves sideways against its bottom), as an italic or a backhand writer writes; each box the
    box around its sheared corners. MNIST's own digits lean a little to the right already."""
    from PIL import Image

    degrees = float(rng.uniform(*LEANS) * rng.choice((-1, 1)))
    k = float(np.tan(np.radians(degrees)))  # columns the ink moves right per row upwards
    h, w = alpha.shape
    pad = abs(k) * h / 2
    width = int(np.ceil(w + abs(k) * h))
    # A point (x, y) moves to (x + k (h/2 - y) + pad, y): PIL asks where each new point comes from.
    sheared = np.asarray(Image.fromarray(alpha.astype(np.float32), mode="F").transform(
        (width, h), Image.Transform.AFFINE, (1.0, k, -pad - k * h / 2, 0.0, 1.0, 0.0),
        resample=Image.Resampling.BICUBIC, fillcolor=0.0), np.float32)

    def shear(top: int, left: int, bottom: int, right: int) -> list[int]:
        xs = [x + k * (h / 2 - y) + pad for x in (left, right) for y in (top, bottom)]
        return [top, int(np.floor(min(xs))), bottom, int(np.ceil(max(xs)))]

    facts["lean"] = round(degrees, 1)
    return np.clip(sheared, 0.0, 1.0), [shear(*box) for box in boxes]


def validation_digits() -> tuple[np.ndarray, np.ndarray]:
    """MNIST's validation digits of a seed-0 run (val_fraction 0.1): uint8 (N, 28, 28) and labels."""
    from tinyvision.datasets import load_dataset
    from tinyvision.datasets.image_data import split_indices

    data = load_dataset("mnist")
    _, val = split_indices(len(data.train_images), 0.1, 0)
    return data.train_images[val, 0].numpy(), data.train_labels[val].numpy()


def source_digits(source: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The digits a set's numbers are composed of, as `build` draws them (a manifest's `digit_index` points into
    them): 28x28 uint8 images (N, 28, 28) and labels (N,). `source`: see `build`."""
    from tinyvision.datasets import load_dataset

    if source == "val":
        return validation_digits()
    if source.startswith("writers-"):
        from sets.handwritten import number_digits

        return number_digits(source.removeprefix("writers-"), seed)
    data = load_dataset("mnist")
    return data.test_images[:, 0].numpy(), data.test_labels.numpy()


def build(out: Path, count: int = 1000, seed: int = 0, touch_rate: float = TOUCH_RATE,
          source: str = "test", paper: str = "user", small_rate: float = 0.0,
          beside_rate: float = 0.0, flat_rate: float = 0.0, digit_counts: tuple[int, ...] = LENGTHS) -> list[dict]:
    """Write `count` number photos and manifest.json into `out`; return the manifest.
    `source`: "test", MNIST's test digits (the reported figure), or "val", the validation split
    (val_fraction 0.1, seed 0) of MNIST's training digits, for choices among seed-0 runs; "writers-test"
    and "writers-val", numbers by other writers than MNIST's (sets/handwritten.py `number_digits`: the UCI
    test writers, or the training writers' rows that training leaves out).
    `paper`: "user", user_photos' styles, or "hard", HARD_STYLES. `small_rate`: see `compose`; `beside_rate`:
    the chance that a mark that is no digit follows the number (BESIDE_MARKS in turn, `add_beside_mark`);
    `flat_rate`: that a short flat mark stands on the line before or after it (FLAT_MARKS, `add_flat_mark`).
    `digit_counts`: the digit counts drawn from (1: single digits on the same paper, what a lone digit's
    preparation is chosen on)."""
    images, labels = source_digits(source, seed)
    rng = np.random.default_rng(seed)
    styles = HARD_STYLES if paper == "hard" else MARKS if paper == "marked" \
        else ONE_MARKS if paper == "circled-one" else FORMS if paper == "form" else SIGNS if paper == "signed" \
        else user_photos().STYLES
    lengths = rng.choice(digit_counts, count)
    # Each test digit at most once while they last.
    order = rng.permutation(len(labels))
    order = np.concatenate([order] * (1 + int(lengths.sum()) // len(labels)))
    out.mkdir(parents=True, exist_ok=True)
    manifest, used = [], 0
    for i, n in enumerate(lengths):
        index = order[used : used + n]
        used += n
        style = styles[i % len(styles)]
        glyphs = [images[j] for j in index]
        if paper == "dotted-zero":  # one of its digits a 0, drawn with a dot in its hole
            zeros = np.flatnonzero(labels == 0)
            k = int(rng.integers(n))
            index = index.copy()
            index[k] = zeros[int(rng.integers(len(zeros)))]
            glyphs = [images[j] for j in index]
            glyphs[k] = dotted(glyphs[k], rng)
        alpha, boxes, facts = compose(glyphs, rng, touch_rate, small_rate=small_rate)
        if paper == "dotted-zero":
            facts["dotted"] = not np.array_equal(glyphs[k], images[index[k]])  # (no room in its hole: no dot)
        if beside_rate and rng.random() < beside_rate:  # drawn only when asked for: other sets stay the same
            facts["beside"] = BESIDE_MARKS[i % len(BESIDE_MARKS)]
            alpha = add_beside_mark(alpha, boxes, facts["digit_height"], facts["beside"], rng)
        if flat_rate and rng.random() < flat_rate:  # (the same)
            facts["beside"] = FLAT_MARKS[i % len(FLAT_MARKS)]
            alpha, boxes = add_flat_mark(alpha, boxes, facts["digit_height"], facts["beside"], rng)
        if paper == "thin-pen":
            alpha, boxes = thin_pen(alpha, boxes, facts, rng)
        if paper == "tilted":
            alpha, boxes = tilted(alpha, boxes, facts, rng)
        if paper == "italic":
            alpha, boxes = italic(alpha, boxes, facts, rng)
        size = list(alpha.shape)
        number = "".join(str(int(labels[j])) for j in index)
        if paper in ("hard", "marked", "circled-one", "form"):
            render_on = render_hard if paper == "hard" else render_marked
            data, shape, boxes = render_on(alpha, boxes, facts, style, rng)
            size = [int(v) for v in shape]
        elif paper == "signed":
            alpha, boxes, point = render_signed(alpha, boxes, facts, style, rng)
            number = ("-" if style.startswith("minus") else "") + (
                number[:point] + "." + number[point:] if point else number)
            look = user_photos().STYLES[int(rng.integers(len(user_photos().STYLES)))]
            data, size = render(alpha, look, rng), list(alpha.shape)
        else:
            data = render(alpha, style, rng)
        kind = "png" if data.startswith(PNG_SIGNATURE) else "jpg"
        name = f"{i:04d}-{style}.{kind}"
        (out / name).write_bytes(data)
        manifest.append({"file": name, "number": number, "style": style, **facts,
                         "size": size, "boxes": boxes, "digit_index": index.tolist()})  # into the source's digits
    (out / "manifest.json").write_text(json.dumps({"seed": seed, "count": count, "touch_rate": touch_rate,
                                                   "small_rate": small_rate, "beside_rate": beside_rate,
                                                   "flat_rate": flat_rate, "lengths": list(digit_counts),
                                                   "paper": paper, "source": source,
                                                   "images": manifest}, indent=1))
    return manifest


def load_manifest(folder: Path) -> list[dict]:
    return json.loads((folder / "manifest.json").read_text())["images"]


def set_facts(folder: Path) -> dict:
    """How a set was built: its digits' source, seed and paper (sets built before `source` was recorded
    were MNIST's test digits)."""
    head = json.loads((folder / "manifest.json").read_text())
    return {"source": head.get("source", "test"), "seed": head.get("seed"), "paper": head.get("paper", "user")}


# --- scoring ---------------------------------------------------------------------------------

def _rates(groups: dict[str, list[bool]]) -> dict[str, dict]:
    return {k: {"rate": round(sum(v) / len(v), 4), "images": len(v)} for k, v in sorted(groups.items())}


def digit_count(number: str) -> int:
    """The digits a number is written with (a signed set's "-3.14" has three)."""
    return sum(c.isdigit() for c in number)


def _breakdown(manifest: list[dict], right: list[bool]) -> dict:
    by: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for entry, ok in zip(manifest, right):
        by["by_length"][str(digit_count(entry["number"]))].append(ok)
        by["by_style"][entry["style"]].append(ok)
        by["by_touching"]["touching" if entry["touching"] else "separate"].append(ok)
        by["by_uneven"]["uneven" if entry["uneven"] else "even"].append(ok)
        if entry.get("small"):  # (sets built before small digits have none)
            by["by_small"]["one digit small"].append(ok)
        if entry.get("beside"):
            by["by_beside"][entry["beside"]].append(ok)
    return {"images": len(right), "rate": round(sum(right) / max(1, len(right)), 4),
            **{k: _rates(v) for k, v in by.items()}}


LAYOUTS = ("apart", "several marks", "one mark")  # digits apart; some touching; every neighbour touching
OUTCOMES = ("read", "refused", "too_many", "too_few", "misread")


def outcome(truth: str, read: str | None) -> str:
    """How one number was answered: read exactly, refused (or unreadable), or which way it went wrong."""
    if read == truth:
        return "read"
    if read is None:
        return "refused"
    return "too_many" if len(read) > len(truth) else "too_few" if len(read) < len(truth) else "misread"


def _outcomes(manifest: list[dict], reads: dict[str, str | None]) -> dict[str, dict[str, int]]:
    """Each layout's numbers by outcome: where the reader loses numbers, and how."""
    found = {layout: dict.fromkeys(("images", *OUTCOMES), 0) for layout in LAYOUTS}
    for e in manifest:
        layout = LAYOUTS[0 if not e["touching"] else 2 if e["touching_pairs"] == digit_count(e["number"]) - 1 else 1]
        found[layout]["images"] += 1
        found[layout][outcome(e["number"], reads.get(e["file"]))] += 1
    return found


def score_reads(manifest: list[dict], reads: dict[str, str | None]) -> dict:
    """Exact-match rate of predicted digit strings (file -> string, None for a failed read).

    Overall and by number length, style, touching pairs and uneven writing; a
    missing file counts as wrong. `outcomes`: each layout's numbers read, refused,
    or read with too many, too few or wrong digits.
    """
    right = [reads.get(e["file"]) == e["number"] for e in manifest]
    count = [reads.get(e["file"]) is not None and len(reads[e["file"]]) == len(e["number"]) for e in manifest]
    return {**_breakdown(manifest, right), "digit_count_rate": round(sum(count) / max(1, len(count)), 4),
            "outcomes": _outcomes(manifest, reads)}


def each_digit_right(model, manifest: list[dict], facts: dict) -> list[bool] | None:
    """Per number: whether the model reads every one of its digits right alone, from their 28x28 source images
    (`source_digits`) through its inference path, as evaluation reads MNIST's test set; None for a set built
    before its manifest pointed into them (no `digit_index`)."""
    import torch

    if any("digit_index" not in e for e in manifest):
        return None
    images, labels = source_digits(facts["source"], facts["seed"])
    used = sorted({i for e in manifest for i in e["digit_index"]})
    read = {}
    for k in range(0, len(used), 1024):
        chunk = used[k : k + 1024]
        read.update(zip(chunk, model.logits(torch.from_numpy(images[chunk][:, None])).argmax(1).tolist()))
    return [all(read[i] == labels[i] for i in e["digit_index"]) for e in manifest]


def score_alone(manifest: list[dict], reads: dict[str, str | None], each: list[bool]) -> dict:
    """The numbers read exactly from the photo, split by whether every digit alone is read right (`each`).
    `each_digit_right`: their share, about what a reader that loses nothing on the photo would read; of them,
    the share read exactly (what the reader loses there is its own: finding, cutting, preparing, judging), and
    of the rest."""
    right = [reads.get(e["file"]) == e["number"] for e in manifest]
    kept = [r for r, ok in zip(right, each) if ok]
    rest = [r for r, ok in zip(right, each) if not ok]
    return {"images": len(manifest), "each_digit_right": round(sum(each) / max(1, len(each)), 4),
            "each_digit_right_images": len(kept),
            "read_when_each_digit_right": round(sum(kept) / len(kept), 4) if kept else None,
            "read_when_a_digit_wrong": round(sum(rest) / len(rest), 4) if rest else None,
            # Where the reader loses the numbers the model can read: each layout's of them by outcome.
            "outcomes_when_each_digit_right": _outcomes([e for e, ok in zip(manifest, each) if ok], reads)}


def box_iou(a: list[float], b: list[float]) -> float:
    """Intersection over union of two (top, left, bottom, right) boxes."""
    h = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    w = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = h * w
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def score_segmentation(manifest: list[dict], boxes: dict[str, list[list[float]]], min_iou: float = 0.5) -> dict:
    """Fraction of images whose found boxes (left to right, original pixels) are exactly the digits:
    the right count, and each box overlapping its digit's true box with IoU >= `min_iou`."""
    right = []
    for e in manifest:
        found = boxes.get(e["file"])
        right.append(found is not None and len(found) == len(e["boxes"])
                     and all(box_iou(f, t) >= min_iou for f, t in zip(found, e["boxes"])))
    return _breakdown(manifest, right)


# --- running the segmenter and a model on the set ------------------------------------------------

def analyse(path: Path, original_size: tuple[int, int], score=None):
    """An image file -> (segments, scale) through the decoder and the digit ink map of tinyvision.

    `scale` (analysed / original pixels) maps the segments' boxes back to the file's pixels.
    """
    from tinyvision.image.decode import decode
    from tinyvision.image.digits import WORK_SIDE, ink_map
    from tinyvision.image.segment import segment

    ink = ink_map(decode(path, WORK_SIDE))
    scale = max(ink.shape) / max(original_size)
    return segment(ink, score=score), scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="write the photos and manifest.json")
    b.add_argument("--count", type=int, default=1000)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--touch-rate", type=float, default=TOUCH_RATE, help="chance a neighbouring pair touches")
    b.add_argument("--beside-rate", type=float, default=0.0,
                   help=f"chance that a mark that is no digit follows a number ({', '.join(BESIDE_MARKS)})")
    b.add_argument("--flat-rate", type=float, default=0.0,
                   help=f"chance that a short flat mark that is no digit stands on the line before or after a "
                        f"number ({', '.join(FLAT_MARKS)})")
    b.add_argument("--small-rate", type=float, default=0.0,
                   help=f"chance that one digit of a number is written {SMALL_SIZE[0]:g}-{SMALL_SIZE[1]:g} of the "
                        "others' height")
    b.add_argument("--lengths", default=",".join(map(str, LENGTHS)),
                   help="comma-separated digit counts a number is drawn with (1: single digits)")
    b.add_argument("--source", choices=("test", "val", "writers-test", "writers-val"), default="test",
                   help="MNIST's test digits (the reported figure), or the validation split of its training "
                        "digits (val_fraction 0.1, seed 0), for choosing among seed-0 runs; writers-test, "
                        "writers-val: other writers' digits (UCI test writers; training writers' held-out rows)")
    b.add_argument("--paper", choices=("user", "hard", "marked", "circled-one", "form", "dotted-zero", "signed",
                                     "thin-pen", "tilted", "italic"), default="user",
                   help="user: user_photos' styles; hard: ruled and squared paper, a shadow, the desk beside "
                        "the sheet, pencil; marked: the number underlined (once or twice), boxed or circled "
                        "in the writer's pen; circled-one: one of its digits circled; form: each digit in a cell "
                        "of a printed row of boxes (with --touch-rate 0); dotted-zero: one of its digits a 0 with a "
                        "dot in its hole (user_photos' styles); thin-pen: written with a 1-3 px pen in a photo 1-3 "
                        "times as large (user_photos' styles); tilted: turned 5-35 degrees either way, a photo "
                        "taken askew (user_photos' styles); italic: each digit leaning 10-35 degrees further "
                        "either way, the line level (user_photos' styles); signed: a minus before it, "
                        "a decimal point in it, both, or a comma (thousands before three digits, decimal otherwise)")
    s = commands.add_parser("segment", help="score the segmenter alone (count and IoU >= 0.5 of every box)")
    r = commands.add_parser("read", help="read every photo as a user does: tinyvision.load(RUN).predict(file)")
    r.add_argument("checkpoint", type=Path, help="run folder or model.safetensors of an MNIST model")
    r.add_argument("--results", type=Path, help="write the figures (with provenance) to this JSON file")
    r.add_argument("--reader", default="", metavar="NAME=VALUE;...",
                   help="read with constants of image.segment or read_number changed (e.g. SLANT_MAX=None): a "
                        "rule's before and after on the same photos")
    for p in (b, s, r):
        p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the set's folder")
        p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    args = parser.parse_args()

    if args.command == "build":
        manifest = build(args.out, args.count, args.seed, args.touch_rate, args.source, args.paper, args.small_rate,
                         args.beside_rate, args.flat_rate, tuple(int(n) for n in args.lengths.split(",")))
        print(json.dumps({"out": str(args.out), "images": len(manifest),
                          "touching": sum(e["touching"] for e in manifest)}, indent=2))
        return
    manifest = load_manifest(args.out)[: args.limit]
    if args.command == "read":
        read(args, manifest)
        return
    boxes, start = {}, time.perf_counter()
    for e in manifest:
        try:
            segments, scale = analyse(args.out / e["file"], e["size"])
        except Exception as exc:  # a failure counts as wrong; say why
            print(f"{e['file']}: {exc}", file=sys.stderr)
            continue
        boxes[e["file"]] = [s.original_box(scale) for s in segments]
    seconds = (time.perf_counter() - start) / max(1, len(manifest))
    print(json.dumps({"segmentation": score_segmentation(manifest, boxes),
                      "seconds_per_image": round(seconds, 4)}, indent=2))


def read(args, manifest: list[dict]) -> None:
    """The official figure: each photo through the user's path, `Model.predict(file)`, scored exactly."""
    sys.path.append(str(Path(__file__).resolve().parent))
    from provenance import recorded, write_results
    from segment_costs import reader_settings

    import tinyvision
    from tinyvision.checkpoint import stored_digest
    from tinyvision.errors import TinyVisionError

    reader = reader_settings(args.reader)
    model = tinyvision.load(args.checkpoint)
    reads, boxes, start = {}, {}, time.perf_counter()
    with recorded() as prov:
        for e in manifest:
            try:
                prediction = model.predict(args.out / e["file"])
            except TinyVisionError as exc:
                print(f"{e['file']}: {exc}", file=sys.stderr)
                reads[e["file"]] = None
                continue
            reads[e["file"]] = prediction.label
            boxes[e["file"]] = [[d["box"][1], d["box"][0], d["box"][1] + d["box"][3], d["box"][0] + d["box"][2]]
                                for d in prediction.digits]
    facts = set_facts(args.out)
    each = each_digit_right(model, manifest, facts)
    result = {
        "images": len(manifest), "model": str(args.checkpoint),
        "weights_sha256": stored_digest(args.checkpoint), "model_test_acc": model.card.metrics.get("test_acc"),
        "read": score_reads(manifest, reads),
        "alone": None if each is None else score_alone(manifest, reads, each),
        "segmentation": score_segmentation(manifest, boxes),
        "abstained": sum(v is None for v in reads.values()),
        "seconds_per_image": round((time.perf_counter() - start) / max(1, len(manifest)), 4),
        "set": {"folder": str(args.out), "count": len(manifest), **facts}, "reader_settings": reader,
        "provenance": prov,
    }
    if args.results:
        write_results(args.results, result)
    print(json.dumps({k: v for k, v in result.items() if k != "provenance"}, indent=2))


if __name__ == "__main__":
    main()

"""Pen strokes: polylines drawn with a round pen into an anti-aliased ink coverage map.

Used for everything that is a path rather than an outline: Hershey glyphs,
the UCI pen-tablet digits, scribbles and doodles. A hand is never exact, so a
stroke can be slanted, rotated, squashed and made to wobble (a smooth random
displacement along its length) before it is drawn; it is drawn 4x larger and
shrunk, which anti-aliases it the way a camera does.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

SUPERSAMPLE = 4


def catmull_rom(points: np.ndarray, per_segment: int = 8) -> np.ndarray:
    """A smooth curve through `points` (n, 2): pen-tablet samples become a pen's path."""
    if len(points) < 3:
        return points
    padded = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, per_segment, endpoint=False, dtype=np.float32)[:, None]
    out = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (3 * p1 - p0 - 3 * p2 + p3) * t**3))
    out.append(points[-1:])
    return np.vstack(out).astype(np.float32)


def resample(stroke: np.ndarray, step: float) -> np.ndarray:
    """Points every `step` units along a polyline, so a wobble can bend long straight segments."""
    if len(stroke) < 2:
        return stroke
    seg = np.linalg.norm(np.diff(stroke, axis=0), axis=1)
    dist = np.concatenate([[0], np.cumsum(seg)])
    if dist[-1] == 0:
        return stroke[:1]
    at = np.linspace(0, dist[-1], max(2, int(dist[-1] / step) + 1))
    return np.stack([np.interp(at, dist, stroke[:, 0]), np.interp(at, dist, stroke[:, 1])], 1).astype(np.float32)


def wobble(strokes: list[np.ndarray], rng: np.random.Generator, amount: float, scale: float) -> list[np.ndarray]:
    """Displace points by a smooth random field: `amount` in units, varying over about `scale` units."""
    if amount <= 0:
        return strokes
    k = rng.normal(0, 1, (2, 4, 2))  # a few low-frequency sine waves per axis
    phase = rng.uniform(0, 2 * np.pi, (2, 4))
    out = []
    for s in strokes:
        d = np.zeros_like(s)
        for axis in range(2):
            for j in range(4):
                d[:, axis] += np.sin(s @ k[axis, j] / scale + phase[axis, j]) / 2
        out.append(s + amount * d)
    return out


def affine(strokes: list[np.ndarray], slant: float = 0.0, rotate: float = 0.0, aspect: float = 1.0) -> list[np.ndarray]:
    """Slant (x += slant * -y, so positive leans right), rotate (degrees), squash x by `aspect`."""
    c, s = np.cos(np.radians(rotate)), np.sin(np.radians(rotate))
    m = np.array([[c, -s], [s, c]], np.float32) @ np.array([[aspect, -slant], [0, 1]], np.float32)
    return [st @ m.T for st in strokes]


def draw(strokes: list[np.ndarray], height: int, width_frac: float, pad: float = 0.15) -> np.ndarray:
    """Strokes scaled so the drawing is `height` px tall, pen width `width_frac` of it -> coverage map."""
    strokes = [s for s in strokes if len(s) > 0]
    pts = np.vstack(strokes)
    lo, hi = pts.min(0), pts.max(0)
    span = max(hi[1] - lo[1], (hi[0] - lo[0]) * 0.25, 1e-3)  # flat marks (a dash) keep a sane scale
    k = SUPERSAMPLE * height / span
    pen = max(1.0, width_frac * height * SUPERSAMPLE)
    border = pen + pad * height * SUPERSAMPLE
    size = (int((hi[0] - lo[0]) * k + 2 * border) + 1, int((hi[1] - lo[1]) * k + 2 * border) + 1)
    image = Image.new("L", size, 0)
    ink = ImageDraw.Draw(image)
    r = pen / 2
    for s in strokes:
        xy = [(float(x), float(y)) for x, y in (s - lo) * k + border]
        if len(xy) > 1:
            ink.line(xy, fill=255, width=max(1, round(pen)), joint="curve")
        for x, y in (xy[0], xy[-1]):  # round pen ends (PIL's lines end square)
            ink.ellipse((x - r, y - r, x + r, y + r), fill=255)
    small = image.resize((max(1, size[0] // SUPERSAMPLE), max(1, size[1] // SUPERSAMPLE)), Image.Resampling.BOX)
    return np.asarray(small, np.float32) / 255.0

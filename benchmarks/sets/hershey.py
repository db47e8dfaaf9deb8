"""Hershey stroke fonts (Debian's `hershey-fonts-data`): glyphs as pen paths, not outlines.

A Hershey glyph is a list of polylines a plotter pen follows, which is what a
hand does too: drawn with a round pen of varying width, slant and wobble, a
Hershey script digit is a far better stand-in for handwriting than a filled
outline. The `.jhf` format (James Hurt's): one glyph a line, 95 glyphs for the
printable ASCII characters in order; columns 5-7 hold the number of
coordinate pairs, then the left and right bearings, then pairs of letters
coding x, y as offsets from 'R'; the pair " R" lifts the pen.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

HERSHEY_DIR = Path("/usr/share/hershey-fonts")

Stroke = np.ndarray  # (n, 2) float32 points, x right, y down, in Hershey units (about 32 per cap height)


def _parse_glyph(line: str) -> list[Stroke]:
    pairs = int(line[5:8])
    body = line[8 : 8 + 2 * pairs][2:]  # drop the left/right bearing pair
    strokes, current = [], []
    for i in range(0, len(body) - 1, 2):
        if body[i : i + 2] == " R":
            if len(current) > 0:
                strokes.append(np.array(current, np.float32))
            current = []
        else:
            current.append((ord(body[i]) - ord("R"), ord(body[i + 1]) - ord("R")))
    if current:
        strokes.append(np.array(current, np.float32))
    return strokes


@cache
def load_font(name: str) -> dict[str, list[Stroke]]:
    """The glyphs of `<name>.jhf` keyed by character (printable ASCII, space to tilde)."""
    path = HERSHEY_DIR / f"{name}.jhf"
    lines = [line.rstrip("\n") for line in path.read_text(encoding="latin-1").splitlines() if line.strip()]
    return {chr(32 + i): _parse_glyph(line) for i, line in enumerate(lines[:95])}


def available() -> bool:
    return HERSHEY_DIR.is_dir()

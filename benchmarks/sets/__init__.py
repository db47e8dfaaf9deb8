"""Evaluation sets beyond MNIST, and training sources kept apart from them (issue 13).

Evaluation sets, each written as image files plus manifest.json by
`build_set` (or `python benchmarks/build_sets.py`) and read back by
`read_set(name)`:

    hand-optdigits      real handwriting, 43 UCI writers, 8x8 scans       handwritten.py
    hand-pendigits      real handwriting, 44 UCI writers, pen-tablet paths handwritten.py
    hand-pyclustering   real handwriting, one writer, 32x32               handwritten.py
    font-digits         digits in EVAL handwriting fonts + Hershey        lettering.py
    printed-digits      digits in EVAL printed fonts                       lettering.py
    letters             A-Z a-z in EVAL fonts, look-alikes flagged         lettering.py
    photos-cifar10      CIFAR-10 test photos, as-is and upscaled           photos.py
    clothes-fashion     Fashion-MNIST test clothes, both polarities        clothes.py
    other-marks         blank paper, emoji, symbols, scribbles, doodles    other.py
    words               whole words and names in EVAL fonts                words.py

Training side, disjoint from every source above (training.py):
`training_negatives(count, seed)` yields non-digit images and
`training_font_digits(count, seed)` digits in TRAIN fonts; `font_split()`
checks and returns the TRAIN/EVAL font split. Import with the
benchmarks folder on sys.path, *after* the standard library (the folder
holds a `numbers.py` that would shadow the standard module):

    sys.path.append("benchmarks"); from sets import training_negatives
"""

from __future__ import annotations

import json
import os
import time
import zlib
from pathlib import Path

import numpy as np

from . import clothes, handwritten, lettering, other, photos, words
from .fonts import check_split as font_split
from .store import SetSpec, SetWriter
from .training import training_font_digits, training_negatives

SETS: dict[str, SetSpec] = {s.name: s for m in (handwritten, lettering, photos, clothes, other, words) for s in m.SETS}
DEFAULT_ROOT = Path.home() / ".cache" / "tinyvision" / "bench-sets"


def default_root() -> Path:
    return Path(os.environ.get("TINYVISION_BENCH_SETS") or DEFAULT_ROOT).expanduser()


def set_rng(name: str, seed: int) -> np.random.Generator:
    """Each set its own stream, so building one set alone gives the same files as building all."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def read_set(name: str, root: Path | None = None) -> dict:
    """A built set's manifest, each item given `path`, the absolute path of its file."""
    folder = Path(root or default_root()) / name
    manifest = json.loads((folder / "manifest.json").read_text())
    for item in manifest["items"]:
        item["path"] = str(folder / item["file"])
    return manifest


def build_set(name: str, root: Path | None = None, seed: int = 0, contact_sheet: bool = False) -> dict:
    """Build one set into `root/<name>/`; returns its summary (or why it was skipped)."""
    spec = SETS[name]
    missing = spec.requires()
    if missing:
        return {"name": name, "skipped": f"needs: {missing}"}
    start = time.perf_counter()
    writer = SetWriter(root or default_root(), name, description=spec.description, kind=spec.kind, seed=seed,
                       sources=spec.sources, rendering=spec.rendering, variants=spec.variants)
    spec.build(writer, set_rng(name, seed))
    summary = writer.finish(contact_sheet)
    summary["seconds"] = round(time.perf_counter() - start, 1)
    return summary


__all__ = ["SETS", "build_set", "default_root", "font_split", "read_set", "training_font_digits",
           "training_negatives"]

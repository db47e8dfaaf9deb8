"""Write the font digits that ship with tinyvision: src/tinyvision/datasets/bundled/font-digits/.

    python scripts/make_font_digits.py        # needs the fonts of benchmarks/sets/SOURCES.md

Digits 0-9 (balanced) drawn by benchmarks/sets/training.py from the TRAIN-group
fonts only (handwriting fonts, Hershey scriptc/rowmand/timesi, printed fonts;
the EVAL group, which the benchmarks measure with, is never used), each varied
in weight, slant, rotation and aspect, put on paper with noise, then prepared
as a user's image is (`tinyvision.image.digits.prepare_digit`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "benchmarks"))  # after the standard library: benchmarks/ holds a numbers.py

COUNT, SEED = 6000, 2026


def main() -> None:
    from sets import font_split, training_font_digits

    from tinyvision import font_digits
    from tinyvision.atomic import write_npz
    from tinyvision.image.digits import prepare_digit

    font_split()  # raises if a font were in both groups
    start = time.perf_counter()
    images, labels, fonts = [], [], []
    for image, label, meta in training_font_digits(COUNT, seed=SEED, styles=("handwriting", "printed")):
        prepared = prepare_digit(image[..., None])
        images.append(np.round(prepared * 255).astype(np.uint8))
        labels.append(label)
        fonts.append(meta["font"])
    write_npz(font_digits.BUNDLE, images=np.stack(images), labels=np.array(labels, np.uint8),
              fonts=np.array(fonts))
    print(json.dumps({"file": str(font_digits.BUNDLE), "bytes": font_digits.BUNDLE.stat().st_size,
                      "count": len(images), "designs": sorted(set(fonts)),
                      "seconds": round(time.perf_counter() - start, 1)}, indent=1))


if __name__ == "__main__":
    main()

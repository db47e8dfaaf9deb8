"""Write the non-digits that ship with tinyvision: src/tinyvision/datasets/bundled/negatives/.

    python scripts/make_negatives.py          # a few minutes on one core; needs benchmarks/sets' fonts

Two sources, both prepared as users' digits are (`image.digits`):

- `tinyvision.negatives.generate_negatives`: letters and symbols in
  matplotlib's STIX and Computer Modern fonts, pen marks, shapes, crops of
  matplotlib's sample images, textures (any install can draw these);
- letters in the TRAIN-group fonts of benchmarks/sets (handwriting fonts,
  Hershey stroke fonts, printed fonts; never the EVAL group the benchmarks
  measure with), without the letters that pass for digits: handwritten
  letters are the non-digits users most often send, and no font shipped with
  matplotlib looks handwritten.

The file holds a training set and a held-out set (other seeds) that the
rejection threshold is checked on. Shipping it saves every install a few
minutes and fixes the training data byte for byte across versions of
Pillow and FreeType.
"""

from __future__ import annotations

import json
import string
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "benchmarks"))  # after the standard library: benchmarks/ holds a numbers.py

LETTER_SHARE = 0.35  # of each set: letters in TRAIN-group fonts


def font_letters(count: int, seed: int) -> list[np.ndarray]:
    """`count` letters (no digit look-alikes) in TRAIN-group fonts, prepared like users' digits."""
    from sets.training import _train_font_sources, letters_on_ground

    from tinyvision.image.digits import prepare_digit
    from tinyvision.negatives import LOOKALIKES

    letters = "".join(c for c in string.ascii_letters if c not in LOOKALIKES)
    drawn = letters_on_ground(np.random.default_rng([seed, 17]), _train_font_sources(None), letters, count)
    return [np.round(prepare_digit(image[..., None]) * 255).astype(np.uint8) for image in drawn]


def one_set(count: int, seed: int) -> tuple[np.ndarray, list[str]]:
    from tinyvision import negatives

    letters = round(LETTER_SHARE * count)
    drawn, kinds = negatives.generate_negatives(count - letters, seed)
    mixed = np.concatenate([drawn, np.stack(font_letters(letters, seed))])
    kinds = kinds + ["font-letters"] * letters
    order = np.random.default_rng([seed, 18]).permutation(len(mixed))
    return mixed[order], [kinds[i] for i in order]


def main() -> None:
    from sets import font_split

    from tinyvision import negatives
    from tinyvision.atomic import write_npz

    font_split()  # raises if a font were in both groups
    start = time.perf_counter()
    train, train_kinds = one_set(*negatives.BUNDLED["train"])
    held_out, held_kinds = one_set(*negatives.BUNDLED["held_out"])
    write_npz(negatives.BUNDLE, train=train, held_out=held_out, train_kinds=np.array(train_kinds),
              held_out_kinds=np.array(held_kinds))
    counts = {k: train_kinds.count(k) for k in sorted(set(train_kinds))}
    print(json.dumps({"file": str(negatives.BUNDLE), "bytes": negatives.BUNDLE.stat().st_size,
                      "train": len(train), "held_out": len(held_out), "train_kinds": counts,
                      "seconds": round(time.perf_counter() - start, 1)}, indent=1))


if __name__ == "__main__":
    main()

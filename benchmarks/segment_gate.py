"""Choosing `image.segment.WHOLE_CONFIDENCE` on validation: the confidence above which a wide group
of ink is read as one digit without searching for cuts through it.

For each gate value, one seed-0 run reads, through `Model.predict` (the user's path):
- whole numbers composed from MNIST's *validation* digits (the split of training seed 0:
  `number_photos.py build --source val`), scored exactly;
- single validation digits as user-style photos (benchmarks/user_photos.py), scored as
  right / refused.
Never MNIST's test split: the chosen value is then measured on the test-side sets by
number_photos.py and handwriting.py. Writes benchmarks/results/segment_gate.json.

    python benchmarks/number_photos.py build --count 1000 --seed 1 --source val --out /tmp/numbers-val
    OMP_NUM_THREADS=1 python benchmarks/segment_gate.py /tmp/tta/default-seed0 --numbers /tmp/numbers-val
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
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402


def single_digits(count: int, seed: int) -> list[tuple[bytes, str]]:
    """`count` validation digits (training seed 0's split) as user-style photos: (bytes, label)."""
    import number_photos
    import user_photos

    images, labels = number_photos.validation_digits()
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(labels), count, replace=False)
    return [(user_photos.user_photo(images[j], user_photos.STYLES[i % len(user_photos.STYLES)], rng),
             str(int(labels[j]))) for i, j in enumerate(pick)]


def answer(model, source) -> str | None:
    """The user path's answer to one image (None: refused, or an image the reader cannot use)."""
    from tinyvision.errors import TinyVisionError

    try:
        return model.predict(source).label
    except TinyVisionError:
        return None


def read_singles(model, singles: list[tuple[bytes, str]], digits: int | None = None) -> dict:
    """Share of the single digits read right, and refused; `digits`: rounded to that many places."""
    answers = [answer(model, data) for data, _ in singles]
    right = sum(a == label for a, (_, label) in zip(answers, singles)) / len(singles)
    refused = sum(a is None for a in answers) / len(singles)
    return {"singles_right": right if digits is None else round(right, digits),
            "singles_refused": refused if digits is None else round(refused, digits)}


def validation_arguments(parser: argparse.ArgumentParser) -> None:
    """The seed-0 run and the validation sets it is read on (shared with number_rules.py)."""
    parser.add_argument("run", type=Path, help="a run trained with seed 0 (its validation split is the sets')")
    parser.add_argument("--numbers", type=Path, required=True, help="number_photos.py build --source val's folder")
    parser.add_argument("--singles", type=int, default=1500)
    parser.add_argument("--words", type=int, default=600, help="whole words in TRAIN-group fonts")


def read_numbers(model, folder: Path) -> dict:
    import number_photos

    from tinyvision.errors import TinyVisionError

    manifest = number_photos.load_manifest(folder)
    reads, start = {}, time.perf_counter()
    for e in manifest:
        try:
            reads[e["file"]] = model.predict(folder / e["file"]).label
        except TinyVisionError:  # an unreadable image: counted as wrong
            reads[e["file"]] = None
    seconds = (time.perf_counter() - start) / len(manifest)
    scored = number_photos.score_reads(manifest, reads)
    return {"read_exactly": scored["rate"], "by_touching": {k: v["rate"] for k, v in scored["by_touching"].items()},
            "not_answered": round(sum(v is None for v in reads.values()) / len(reads), 4),
            "seconds_per_image": round(seconds, 4), "images": len(manifest)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    validation_arguments(parser)
    parser.add_argument("--gates", default="none,0.99,0.999,0.9999")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "segment_gate.json")
    args = parser.parse_args()

    import tinyvision
    import tinyvision.image.segment as segment

    torch.set_num_threads(1)
    model = tinyvision.load(args.run)
    singles = single_digits(args.singles, seed=5)
    rows = []
    with recorded() as prov:
        for gate in args.gates.split(","):
            segment.WHOLE_CONFIDENCE = None if gate == "none" else float(gate)
            numbers = read_numbers(model, args.numbers)
            rows.append({"gate": segment.WHOLE_CONFIDENCE, **{f"numbers_{k}": v for k, v in numbers.items()},
                         **read_singles(model, singles)})
            print(json.dumps(rows[-1]), flush=True)
    write_results(args.out, {"run": str(args.run), "numbers_set": str(args.numbers), "singles": len(singles),
                             "gates": rows, "provenance": prov})


if __name__ == "__main__":
    main()

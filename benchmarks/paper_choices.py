"""Choosing how far the paper's level may reach (`image.paper.OPENING_REACH`) on validation.

The paper's level is a grayscale opening: whatever is narrower than the reach (a share of the image's
longest side) is ink, whatever is broader is light. Too short a reach, and the thick strokes of a
blown-up low-resolution scan count as light and fade; too long, and a shadow's edge is no longer
followed. One call reads, with one seed-0 run and one reach:

- whole numbers from MNIST's validation digits on clean paper (`number_photos.py build --source val`)
  and on hard paper (`... --paper hard`), through `Model.predict`;
- MNIST validation digits as user photos, redrawn with other pens, and scanned at low resolution
  (the stand-ins of benchmarks/digit_val.py, built afresh: its cache holds inputs prepared by the
  code that built it), prepared as a user's image is.

Never the evaluation sets. The reach with the largest sum of the five, in points, is chosen:

    python benchmarks/number_photos.py build --count 1000 --seed 1 --source val --out /tmp/numbers-val
    python benchmarks/number_photos.py build --count 1000 --seed 1 --source val --paper hard \\
        --out /tmp/numbers-paper-val
    OMP_NUM_THREADS=1 python benchmarks/paper_choices.py /tmp/tinyvision-trials/precision-bf16-seed0 \\
        --reach 0.35 --out benchmarks/results/paper_reach_0.35.json
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _here] + [_here]

import argparse  # noqa: E402
import json  # noqa: E402

import torch  # noqa: E402
from provenance import recorded, write_results  # noqa: E402
from segment_gate import read_numbers  # noqa: E402

STAND_INS = ("photo", "pen", "scan")


def stand_in(model, name: str, count: int) -> dict:
    """One digit_val stand-in, built and prepared now: right (answered and correct) and refused shares."""
    import digit_val

    files, labels = {
        "photo": lambda: digit_val.build_mnist_photo(count),
        "pen": lambda: digit_val.build_mnist_redrawn(count, digit_val.redraw_with_pen, seed=2),
        "scan": lambda: digit_val.build_mnist_redrawn(count, digit_val.scan_low_resolution, seed=3),
    }[name]()
    images, kept = digit_val.prepare_all(files)
    truth = torch.tensor(labels)[kept]
    from tinyvision.calibration import refused_mask

    with torch.no_grad():
        logits = model.logits(images)
    predicted = logits.argmax(1)
    answered = ~refused_mask(logits, model.card.reject)
    return {"right": round(float(((predicted == truth) & answered).sum()) / len(files), 4),
            "refused": round(float((~answered).sum()) / len(files), 4), "no_ink": len(files) - len(kept)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a seed-0 run of the default digit recipe")
    parser.add_argument("--reach", type=float, required=True, help="image.paper.OPENING_REACH for this call")
    parser.add_argument("--numbers", type=Path, default=Path("/tmp/numbers-val"))
    parser.add_argument("--hard", type=Path, default=Path("/tmp/numbers-paper-val"))
    parser.add_argument("--count", type=int, default=1000, help="images per stand-in")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import tinyvision
    import tinyvision.image.paper as paper
    from tinyvision.checkpoint import stored_digest

    paper.OPENING_REACH = args.reach
    model = tinyvision.load(args.run)
    with recorded() as prov:
        result = {"run": str(args.run), "weights_sha256": stored_digest(args.run), "reach": args.reach,
                  "numbers_set": str(args.numbers),
                  "hard_set": str(args.hard), "numbers_read": read_numbers(model, args.numbers)["read_exactly"],
                  "hard_read": read_numbers(model, args.hard)["read_exactly"],
                  **{name: stand_in(model, name, args.count) for name in STAND_INS}}
    result["points"] = round(100 * (result["numbers_read"] + result["hard_read"]
                                    + sum(result[n]["right"] for n in STAND_INS)), 2)
    write_results(args.out, {**result, "provenance": prov})
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

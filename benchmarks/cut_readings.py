"""What cut readings say with the cut bars off: the evidence for read_number.STROKE_DIGITS, on validation.

A reading cut out of ink (one mark cut into digits, or several marks one of which was cut) is held to
read_number's cut bars, because a letter's strokes, cut apart, pass for digits. This reads the
validation sets of benchmarks/number_rules.py (numbers from MNIST's validation digits, letters of the
TRAIN fonts' odd half, the training side's other non-digits and words in TRAIN fonts) with one seed-0
run and LONE_CUT_BAR and SEVERAL_CUT_BAR off, and keeps every answer that came from a cut reading: its
digits, how sure each digit was, and which bar judges it (`lone`: one mark; `several`: several marks, one
cut). Per set and bar: how many images were answered so, how many of those readings have a digit of
STROKE_DIGITS, and for the rest, how sure their least sure digit (lone) or the reading as a whole
(several) was at most. Never the evaluation sets.

    OMP_NUM_THREADS=1 python benchmarks/cut_readings.py /tmp/tta4/default-seed0 --numbers /tmp/numbers-val4k
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _here] + [_here]

import argparse  # noqa: E402
import math  # noqa: E402

import torch  # noqa: E402
from number_rules import validation_sets  # noqa: E402
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402
from segment_gate import answer, validation_arguments  # noqa: E402


def watch_cuts(read_number) -> list[dict]:
    """Record each cut reading `read_number.rejection` judges (its digits, their probabilities, the bar),
    into the list returned; the rule itself is unchanged."""
    seen: list[dict] = []
    judge = read_number.rejection

    def rejection(model, logits, separate=False, cut=False):
        reason = judge(model, logits, separate, cut)
        if len(logits) > 1 and (cut or not separate):
            sure, read = logits.softmax(1).max(1)
            seen.append({"read": "".join(model.classes[int(k)] for k in read),
                         "sure": [round(float(p), 5) for p in sure], "bar": "several" if separate else "lone",
                         "answered": reason is None})
        return reason

    read_number.rejection = rejection
    return seen


def answered_by_cut(model, source, seen: list[dict]) -> tuple[str | None, dict | None]:
    """The answer to one image, and the cut reading it came from (None: not a cut reading)."""
    seen.clear()
    label = answer(model, source)
    cut = [s for s in seen if s["answered"] and s["read"] == label]
    return label, (cut[-1] if cut else None)


def summary(rows: list[dict], stroke_digits: str) -> dict:
    """Per bar: images answered by a cut reading, those with a stroke digit, and how sure the others were."""
    out = {}
    for bar in ("lone", "several"):
        mine = [r for r in rows if r["bar"] == bar]
        plain = [r for r in mine if not any(c in stroke_digits for c in r["read"])]
        sure = [min(r["sure"]) if bar == "lone" else math.prod(r["sure"]) for r in plain]
        out[bar] = {"answered": len(mine), "with_stroke_digit": len(mine) - len(plain),
                    "without": len(plain), "without_most_sure": round(max(sure), 4) if sure else None}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    validation_arguments(parser)
    parser.add_argument("--letters", type=int, default=600)
    parser.add_argument("--negatives", type=int, default=600)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "cut_readings.json")
    args = parser.parse_args()
    torch.set_num_threads(1)

    import number_photos

    import tinyvision
    import tinyvision.read_number as read_number
    from tinyvision.checkpoint import stored_digest

    read_number.LONE_CUT_BAR = read_number.SEVERAL_CUT_BAR = None
    seen = watch_cuts(read_number)
    model = tinyvision.load(args.run)
    singles, letters, negatives, words = validation_sets(args)
    report: dict = {"run": str(args.run), "weights_sha256": stored_digest(args.run),
                    "numbers_set": str(args.numbers), "stroke_digits": read_number.STROKE_DIGITS, "sets": {}}
    with recorded() as prov:
        manifest = number_photos.load_manifest(args.numbers)
        sources = {"numbers": [(args.numbers / e["file"], e["number"]) for e in manifest],
                   "singles": [(data, str(label)) for data, label in singles],
                   "letters": [(data, None) for data in letters], "negatives": [(data, None) for data in negatives],
                   "words": [(data, None) for data in words]}
        for name, items in sources.items():
            rows = []
            for source, truth in items:
                label, cut = answered_by_cut(model, source, seen)
                if cut is not None:
                    rows.append({**cut, "right": None if truth is None else label == truth})
            report["sets"][name] = {"images": len(items), **summary(rows, read_number.STROKE_DIGITS),
                                    "readings": [{k: v for k, v in r.items() if k != "answered"} for r in rows]}
            print(name, {k: v for k, v in report["sets"][name].items() if k != "readings"}, flush=True)
    report["provenance"] = prov
    write_results(args.out, report)


if __name__ == "__main__":
    main()

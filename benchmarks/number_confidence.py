"""How often a whole number answered at probability p is read exactly: fitting that on validation numbers.

A number's probability was the product of its digits' calibrated probabilities: the chance that every digit
read is right. It leaves out how the number was cut: a digit dropped as noise, or a 1 swallowed by its
neighbour, adds no factor, and numbers answered at 0.99-0.999 were wrong about 7% of the time (API red team,
finding 1). `fit` reads validation numbers (`number_photos.py build --source val`: MNIST validation digits; `--source
writers-val`: other writers' validation digits) through `Model.predict`, as a user's photo is read, and fits
the exact-reading rate of the answers of two or more digits against that product, each set weighing the same:
quantile bins of the product, made monotone (pool adjacent violators).
Those knots are `read_number.NUMBER_CONFIDENCE`. `check` measures the reliability and the expected
calibration error (ECE) of the product and of the calibrated probability on other sets, test sets once the
knots are fixed.

    OMP_NUM_THREADS=1 python benchmarks/number_confidence.py fit /tmp/tta4/default-seed0 \\
        --numbers /tmp/numbers-val4k --numbers /tmp/numbers-writers-val --out benchmarks/results/number_confidence.json
    OMP_NUM_THREADS=1 python benchmarks/number_confidence.py check /tmp/tta4/default-seed0 \\
        --numbers /tmp/numbers --numbers /tmp/numbers-writers --out benchmarks/results/number_confidence_test.json
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts this folder first on sys.path for a script run from it: search it last, so that no
# script here can shadow a standard-library module.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402
from provenance import recorded, write_results  # noqa: E402

BINS = 12  # quantile bins of the product for the fit: about 300 answers each on 4,000 validation numbers
REPORT_EDGES = (0.0, 0.5, 0.9, 0.99, 0.999, 1.0 + 1e-9)  # the reliability table's bins


def readings(run: Path, folder: Path) -> list[dict]:
    """Each image of a number set read as `tinyvision predict` reads it: truth, answer, product, probability."""
    import tinyvision

    manifest = json.loads((folder / "manifest.json").read_text())
    items = manifest["images"] if isinstance(manifest, dict) else manifest
    model = tinyvision.load(run)
    out = []
    for item in items:
        p = model.predict(folder / item["file"])
        product = float(np.prod([d["probability"] for d in p.digits])) if p.digits else p.probability
        out.append({"truth": item["number"], "read": p.label, "digits": len(p.digits), "product": product,
                    "probability": p.probability, "touching": bool(item.get("touching"))})
    return out


def answered_numbers(rows: list[dict]) -> list[dict]:
    """Answers of two or more digits: what the calibration applies to."""
    return [r for r in rows if r["read"] is not None and r["digits"] >= 2]


def fit_knots(x: np.ndarray, right: np.ndarray, weight: np.ndarray | None = None,
              bins: int = BINS) -> list[list[float]]:
    """(product, exact rate) knots: bins of x holding equal weight, their weighted mean x and rate, pooled
    until the rate rises with x; then (0, 0) below and the top bin's rate at 1. Each rate is estimated by the
    rule of succession, (right + 1) / (answers + 2) over the bin's effective number of answers: a bin whose
    few hundred validation numbers were all read exactly says "rarely wrong", not "never" (a knot at 1.0 would
    state a number certain)."""
    weight = np.ones_like(x) if weight is None else weight
    order = np.argsort(x, kind="stable")
    x, right, weight = x[order], right[order], weight[order]
    below = np.cumsum(weight) - weight  # the weight of the answers under each one
    bin_of = np.minimum((below / weight.sum() * bins).astype(int), bins - 1)
    # Per bin: weighted sums of x, of right answers and of weights, and the sum of squared weights (for the
    # effective number of answers, (sum w)^2 / sum w^2: each set weighing the same, answers weigh unequally).
    blocks = [[float((weight * x)[inside].sum()), float((weight * right)[inside].sum()), float(weight[inside].sum()),
               float((weight * weight)[inside].sum())] for inside in (bin_of == b for b in range(bins)) if inside.any()]

    def rate(block: list[float]) -> float:
        _, sy, n, n2 = block
        answers = n * n / n2
        return (sy / n * answers + 1) / (answers + 2)

    pooled: list[list[float]] = []
    for block in blocks:
        pooled.append(list(block))
        while len(pooled) > 1 and rate(pooled[-2]) >= rate(pooled[-1]):
            last = pooled.pop()
            pooled[-1] = [a + b for a, b in zip(pooled[-1], last)]
    knots = [[round(block[0] / block[2], 6), round(rate(block), 6)] for block in pooled]
    return [[0.0, 0.0], *knots, [1.0, knots[-1][1]]]


def reliability(p: np.ndarray, right: np.ndarray) -> dict:
    """Per bin of stated probability: answers, mean probability, exact rate; and the ECE over all answers."""
    rows, ece = [], 0.0
    for lo, hi in zip(REPORT_EDGES[:-1], REPORT_EDGES[1:]):
        inside = (p >= lo) & (p < hi)
        if inside.any():
            gap = abs(float(p[inside].mean()) - float(right[inside].mean()))
            ece += gap * inside.sum() / len(p)
            rows.append({"from": lo, "to": min(hi, 1.0), "answers": int(inside.sum()),
                         "mean_probability": round(float(p[inside].mean()), 4),
                         "exact": round(float(right[inside].mean()), 4)})
    return {"answers": len(p), "ece": round(ece, 4), "bins": rows}


def measured(rows: list[dict], knots: list[list[float]] | None) -> dict:
    numbers = answered_numbers(rows)
    right = np.array([r["read"] == r["truth"] for r in numbers], dtype=float)
    product = np.array([r["product"] for r in numbers])
    shown = np.array([r["probability"] for r in numbers])
    result = {"images": len(rows), "answered_numbers": len(numbers), "exact": round(float(right.mean()), 4),
              "product": reliability(product, right), "probability": reliability(shown, right)}
    if knots is not None:
        calibrated = np.interp(product, *np.array(knots).T)
        result["with_knots"] = reliability(calibrated, right)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("fit", "check"))
    parser.add_argument("run", type=Path, help="a digit run folder")
    parser.add_argument("--numbers", type=Path, action="append", required=True,
                        help="a number set (benchmarks/number_photos.py build); fit: validation sets, weighed equally")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from tinyvision.checkpoint import stored_digest
    from tinyvision.read_number import NUMBER_CONFIDENCE

    with recorded() as provenance:
        sets = {str(folder): readings(args.run, folder) for folder in args.numbers}
        if args.mode == "fit":
            # Each validation set is one population of writers and weighs the same, however many numbers it
            # holds: 4,000 numbers of MNIST's writers would outweigh 1,000 of other writers four to one.
            answers = [answered_numbers(rows) for rows in sets.values()]
            pick = [(r, 1.0 / len(numbers)) for numbers in answers for r in numbers]
            knots = fit_knots(np.array([r["product"] for r, _ in pick]),
                              np.array([r["read"] == r["truth"] for r, _ in pick], dtype=float),
                              np.array([w for _, w in pick]))
            result = {"knots": knots, "fitted_on": list(sets), "weighting": "each set equally",
                      "sets": {name: measured(rows, knots) for name, rows in sets.items()}}
        else:
            result = {"knots_in_use": NUMBER_CONFIDENCE,
                      "sets": {name: measured(rows, None) for name, rows in sets.items()}}
    result = {"run": str(args.run), "weights_sha256": stored_digest(args.run), **result, "provenance": provenance}
    write_results(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "provenance"}, indent=1))


if __name__ == "__main__":
    main()

"""Which score should refuse non-digits? The calibrated top probability against the logits' energy, on validation.

A digit model refuses an image when its confidence is under a threshold set on MNIST's
validation split. The confidence in use is the top calibrated probability (MSP). The
energy score (Liu et al., 2020: the log-sum-exp of the calibrated logits) and the top
logit keep what the softmax divides away, how strongly the network responds at all,
and are often better at telling what a network never saw. This benchmark compares
the three on validation stand-ins only, at these operating points:

- the card's rule: the threshold refuses 1% of MNIST's validation digits (and 0.3%, 0.5%, 0.75%);
- the same share of held-out non-digits refused as the top probability refuses under the card's rule.

Each point's `points` is the sum over sets of digits kept plus non-digits refused, in %.

Digits: MNIST validation (seed-0 split), digit_val's stand-ins (photos, pens, low-resolution
scans, TRAIN fonts) and the other writers' held-out rows; non-digits: the held-out
non-digits of `tinyvision.negatives`, held-out TRAIN-font letters and training-side
non-digits (digit_val). All are prepared tensors.

    OMP_NUM_THREADS=1 python benchmarks/rejection_scores.py /tmp/tinyvision-trials/precision-bf16-seed0 \\
        --out benchmarks/results/rejection_scores.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __name__ == "__main__":
    _here = str(Path(__file__).resolve().parent)  # this folder after the standard library (see digit_val.py)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _here] + [_here]

import torch  # noqa: E402

QUANTILE = 0.01  # the card's rule: --reject-quantile's default
QUANTILES = (0.003, 0.005, 0.0075, 0.01)  # other shares of MNIST's validation digits refused, for the comparison
DIGITS = ("mnist-val-photo", "mnist-val-pen", "mnist-val-scan", "font-train")
NON_DIGITS = ("neg-letters-check", "neg-train")


def validation_sets() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """({name: uint8 (N, 1, 28, 28)} of digits, the same of non-digits); MNIST validation leads the digits."""
    import digit_val

    from tinyvision.datasets import load_dataset, split_indices
    from tinyvision.hand_digits import load_hand_digits
    from tinyvision.negatives import held_out_negatives

    data = load_dataset("mnist")
    _, val = split_indices(len(data.train_images), 0.1, 0)
    digits = {"mnist-val": data.train_images[val]}
    digits.update({name: digit_val.load_set(name)["images"] for name in DIGITS})
    digits["writers-held-out"] = load_hand_digits("check")[0]
    negatives = {"held-out-non-digits": held_out_negatives()}
    negatives.update({name: digit_val.load_set(name)["images"] for name in NON_DIGITS})
    return digits, negatives


def scores(model, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per image, from the model's own inference path (`Model.logits`): the top calibrated probability and
    the energy as a card judges them (`calibration.refusal_scores`), and the top logit."""
    from tinyvision.calibration import ENERGY, TOP_PROBABILITY, refusal_scores

    logits = model.logits(images)
    return {TOP_PROBABILITY: refusal_scores(logits, TOP_PROBABILITY), ENERGY: refusal_scores(logits, ENERGY),
            "top logit": logits.amax(1)}


def refused(values: torch.Tensor, threshold: float) -> float:
    return round(float((values < threshold).float().mean()), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a digit model's run folder (trained on the seed-0 split)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from provenance import recorded, write_results

    import tinyvision
    from tinyvision.calibration import rejection_threshold
    from tinyvision.checkpoint import stored_digest

    model = tinyvision.load(args.run)
    with recorded() as prov:
        digits, negatives = validation_sets()
        measured = {name: scores(model, x) for name, x in {**digits, **negatives}.items()}
        kinds = list(measured["mnist-val"])
        # The card's rule: the threshold under which QUANTILE of MNIST's validation digits fall.
        card = {k: rejection_threshold(measured["mnist-val"][k], QUANTILE) for k in kinds}
        matched_share = refused(measured["held-out-non-digits"]["top probability"], card["top probability"])
        matched = {k: rejection_threshold(measured["held-out-non-digits"][k], matched_share) for k in kinds}
        rules = {f"{100 * q:g}% of MNIST validation": {k: rejection_threshold(measured["mnist-val"][k], q)
                                                        for k in kinds} for q in QUANTILES}
        rules["non-digits matched"] = matched
        points = {}
        for name, thresholds in rules.items():
            points[name] = {}
            for k in kinds:
                kept = {s: refused(measured[s][k], thresholds[k]) for s in digits}
                out = {s: refused(measured[s][k], thresholds[k]) for s in negatives}
                points[name][k] = {"threshold": round(thresholds[k], 4), "digits refused": kept,
                                   "non-digits refused": out,
                                   "points": round(sum(100 * (1 - v) for v in kept.values())
                                                   + sum(100 * v for v in out.values()), 2)}
    result = {"about": "Refusal scores compared on validation stand-ins: share refused per set",
              "run": str(args.run), "weights_sha256": stored_digest(args.run), "quantile": QUANTILE,
              "counts": {s: len(x) for s, x in {**digits, **negatives}.items()},
              "matched_non_digit_share": matched_share, "operating_points": points, "provenance": prov}
    if args.out:
        write_results(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "provenance"}, indent=1))


if __name__ == "__main__":
    main()

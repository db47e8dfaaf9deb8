"""Honest confidence: temperature scaling chosen on the validation split (Guo et al., 2017).

A network trained with label smoothing says "92%" when it is right 99.5% of
the time. Dividing its logits by one number T, the value that minimises the
validation loss, makes the probabilities mean what they say without changing
a single prediction (the argmax of z / T is the argmax of z). The temperature
is stored in the model card and applied by every inference path.
"""

from __future__ import annotations

import math

import torch

from tinyvision.evaluate import expected_calibration_error
from tinyvision.inference import as_log_probs, combine_views

LOG_T_RANGE = (math.log(0.05), math.log(20.0))


def nll(view_logits: torch.Tensor, labels: torch.Tensor, temperature: float) -> float:
    log_probs = as_log_probs(combine_views(view_logits, temperature))
    return float(torch.nn.functional.nll_loss(log_probs, labels))


def fit_temperature(view_logits: torch.Tensor, labels: torch.Tensor, iterations: int = 60) -> float:
    """The temperature minimising the validation NLL: golden-section search over log T.

    The NLL is unimodal in T for one view; with averaged views it is close
    enough that a bracketing search on a wide range finds its minimum.
    """
    if len(labels) == 0:
        return 1.0
    lo, hi = LOG_T_RANGE
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(view_logits, labels, math.exp(a)), nll(view_logits, labels, math.exp(b))
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(view_logits, labels, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(view_logits, labels, math.exp(b))
    return round(math.exp((lo + hi) / 2), 4)


# A temperature is fitted on at least this many validation images, one of them misread at least. With none
# misread the loss keeps falling as the temperature sharpens, and the fit stops at its search's bound: a
# folder's 10 validation photos, all right, gave T 0.12, and "100%" for every answer, refusals included.
MIN_CALIBRATION_IMAGES = 100


def too_few_to_calibrate(view_logits: torch.Tensor, labels: torch.Tensor) -> str | None:
    """Why this validation split cannot choose a temperature (the model is then left uncalibrated, T = 1), or
    None when it can."""
    wrong = int((combine_views(view_logits, 1.0).argmax(1) != labels).sum())
    if len(labels) >= MIN_CALIBRATION_IMAGES and wrong:
        return None
    return (f"validation split of {len(labels)} images, {wrong} misread: too few to calibrate on (at least "
            f"{MIN_CALIBRATION_IMAGES} images, one misread); not calibrated")


def calibration_report(view_logits: torch.Tensor, labels: torch.Tensor, temperature: float) -> dict:
    """Expected calibration error and loss before (T = 1) and after scaling, on the given split."""
    before = as_log_probs(combine_views(view_logits, 1.0)).exp()
    after = as_log_probs(combine_views(view_logits, temperature)).exp()
    return {
        "temperature": temperature,
        "ece_before": expected_calibration_error(before, labels),
        "ece_after": expected_calibration_error(after, labels),
        "nll_before": nll(view_logits, labels, 1.0),
        "nll_after": nll(view_logits, labels, temperature),
    }


# ----------------------------------------------------------------------------- abstaining
# Calibrated logits also say when to give no answer: a digit model refuses what is "not a digit"
# (trained for it with outlier exposure, see negatives.py), other models say "unsure". The threshold is
# the score below which a chosen share of validation images falls, so its cost in refused real images
# is known; it is stored in the model card and applied by predict, serve and evaluation alike.
#
# The score: for a model saying "unsure", its top calibrated probability (doubt between classes). For a
# digit model, refusing what is none of its classes, the energy (Liu et al., 2020): the log-sum-exp of
# the calibrated logits, how strongly the network responds at all, which the softmax divides away.
# Chosen on validation (benchmarks/rejection_scores.py, results/rejection_scores.json): at every share
# of MNIST validation digits refused that it tried, the energy kept more validation digits plus refused
# more non-digits, in points, than the top probability; at the same non-digits refused, it refused half
# as many digits. Cards written before the choice name no score: the top probability.
ENERGY, TOP_PROBABILITY = "energy", "top probability"
# A digit model's share of validation digits under the threshold when --reject-quantile is not given, if
# it was trained with non-digits (outlier exposure, as the default recipe is): the share with the most
# points in the same benchmark, on the default recipe's seed-0 run (0.3%, 0.5%, 0.75% and 1% tried; 0.3%
# and 0.5% within a point). It refuses as many validation non-digits as the top probability did at 1%.
# A digit model trained without them (`--preset plain`, `fast`) gains more there by refusing more: on the
# plain recipe's seed-0 run the same benchmark chose 1% (results/rejection_scores_plain.json).
DIGIT_QUANTILE = 0.003
QUANTILE = 0.01  # any other model's


def default_quantile(kind: str, outlier_exposure: bool) -> float:
    """--reject-quantile's default: DIGIT_QUANTILE for a digit model trained with non-digits, else QUANTILE."""
    return DIGIT_QUANTILE if kind == "digits" and outlier_exposure else QUANTILE


def score_of(reject: dict | None) -> str:
    """The score a card's rejection rule (its `reject` entry) judges; cards written before: the top probability."""
    return str((reject or {}).get("score", TOP_PROBABILITY))


def refusal_scores(logits: torch.Tensor, score: str) -> torch.Tensor:
    """Calibrated logits (N, classes) -> (N,) scores; an image is refused when its score is low."""
    logits = logits.float()
    if score == ENERGY:
        return torch.logsumexp(logits, 1)
    return logits.softmax(1).amax(1)


def images_for(quantile: float) -> int:
    """The fewest validation images that place a bar at `quantile` (`rejection_threshold`); 0 for none."""
    return math.ceil(1 / quantile) - 1 if quantile > 0 else 0


def rejection_threshold(confidence: torch.Tensor, quantile: float) -> float | None:
    """The score below which at most `quantile` of new images like these (validation) images fall: the
    k-th lowest score, k = floor(quantile x (n + 1)) (split conformal: a new image's score is as likely to
    rank anywhere among the n + 1). None when n is too small for that bar (k < 1): the lowest of 30
    validation scores refused 8% of a small folder's test images where the quantile promised 1%."""
    rank = math.floor(quantile * (len(confidence) + 1))
    if rank < 1:
        return None
    return float(confidence.flatten().sort().values[rank - 1])


def number_thresholds(confidence: torch.Tensor, quantile: float, max_digits: int) -> dict[str, float]:
    """Per digit count k >= 2, the score below which the least of k validation digits' scores falls for
    `quantile` of k-digit numbers.

    A number is refused when any digit is under the bar; with one bar for all, a four-digit number of
    real digits would be refused about four times as often as a single digit. The least of k
    independent scores is under t with probability 1 - (1 - F(t))^k, so the bar that keeps it at
    `quantile` is the single-digit quantile 1 - (1 - quantile)^(1/k): exact, no sampling.
    """
    bars = {str(k): rejection_threshold(confidence, 1 - (1 - quantile) ** (1 / k)) for k in range(2, max_digits + 1)}
    return {k: bar for k, bar in bars.items() if bar is not None}


def choose_rejection(val_logits: torch.Tensor, quantile: float, kind: str,
                     negative_logits: torch.Tensor | None = None) -> dict:
    """The model card's `reject` entry from validation calibrated logits (N, classes).

    Digit models refuse with "not a digit", by the energy score, and, given the logits of held-out
    non-digits, report the share of them the threshold refuses; other models say "unsure", by the top
    probability.
    """
    score = ENERGY if kind == "digits" else TOP_PROBABILITY
    confidence = refusal_scores(val_logits, score)
    threshold = rejection_threshold(confidence, quantile)
    refused = float((confidence < threshold).float().mean()) if threshold is not None else 0.0
    report: dict = {"score": score, "reason": "not a digit" if kind == "digits" else "unsure",
                    "quantile": quantile, "split": "validation"}
    if threshold is None and quantile <= 0:  # asked to refuse nothing
        report["note"] = "no threshold: --reject-quantile 0 refuses nothing"
    elif threshold is None:  # nothing refused: too few validation images to bound what a bar would refuse
        report["note"] = (f"no threshold: {len(confidence)} validation images cannot place a bar at the "
                          f"{quantile:g} quantile (at least {images_for(quantile)} can)")
    else:
        report["threshold"] = threshold
    if kind != "digits":
        return {**report, "val_rejected": refused}
    report["val_digits_rejected"] = refused
    from tinyvision.image.segment import MAX_DIGITS

    report["number_thresholds"] = number_thresholds(confidence, quantile, MAX_DIGITS)
    if negative_logits is not None and len(negative_logits):
        negatives = refusal_scores(negative_logits, score)
        report["val_negatives_rejected"] = \
            float((negatives < threshold).float().mean()) if threshold is not None else 0.0
        report["val_negatives"] = len(negative_logits)
    return report


def refused_mask(logits: torch.Tensor, reject: dict | None, digits: int = 1) -> torch.Tensor:
    """(N,) bool: which images (calibrated logits, (N, classes)) a card's rejection rule (its `reject`
    entry) refuses, each judged as one of a number of `digits` digits written apart (see `reject_reason`)."""
    reject = reject or {}
    threshold = reject.get("threshold")
    if digits > 1:
        threshold = (reject.get("number_thresholds") or {}).get(str(digits), threshold)
    if threshold is None:
        return torch.zeros(len(logits), dtype=torch.bool)
    return refusal_scores(logits, score_of(reject)) < threshold


def reject_reason(logits: torch.Tensor, reject: dict | None, digits: int = 1) -> str | None:
    """Why a model with this rejection rule (a card's `reject`) gives no answer for one image's calibrated
    logits (classes,); None when it answers.

    `digits` > 1: the logits are the weakest digit of a number written as that many separate marks,
    judged by the card's bar for that many digits (cards written before those bars existed use the
    single-digit one)."""
    if bool(refused_mask(torch.as_tensor(logits).reshape(1, -1), reject, digits)[0]):
        return str(reject.get("reason", "unsure"))
    return None

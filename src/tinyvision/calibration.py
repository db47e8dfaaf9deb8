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
from tinyvision.inference import combine_views

LOG_T_RANGE = (math.log(0.05), math.log(20.0))


def nll(view_logits: torch.Tensor, labels: torch.Tensor, temperature: float) -> float:
    log_probs = combine_views(view_logits, temperature)
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


def calibration_report(view_logits: torch.Tensor, labels: torch.Tensor, temperature: float) -> dict:
    """Expected calibration error and loss before (T = 1) and after scaling, on the given split."""
    before = combine_views(view_logits, 1.0).exp()
    after = combine_views(view_logits, temperature).exp()
    return {
        "temperature": temperature,
        "ece_before": expected_calibration_error(before, labels),
        "ece_after": expected_calibration_error(after, labels),
        "nll_before": nll(view_logits, labels, 1.0),
        "nll_after": nll(view_logits, labels, temperature),
    }


# ----------------------------------------------------------------------------- abstaining
# Calibrated probabilities also say when to give no answer: a digit model refuses what is "not a digit"
# (trained for it with outlier exposure, see negatives.py), other models say "unsure". The threshold is
# the confidence below which a chosen share of validation images falls, so its cost in refused real
# images is known; it is stored in the model card and applied by predict and serve.


def rejection_threshold(confidence: torch.Tensor, quantile: float) -> float:
    """The calibrated confidence below which at most `quantile` of these (validation) images fall."""
    if len(confidence) == 0:
        return 0.0
    ordered = confidence.flatten().sort().values
    return float(ordered[int(quantile * (len(ordered) - 1))])


def number_thresholds(confidence: torch.Tensor, quantile: float, max_digits: int) -> dict[str, float]:
    """Per digit count k >= 2, the confidence below which the least confident of k validation digits
    falls for `quantile` of k-digit numbers.

    A number is refused when any digit is under the bar; with one bar for all, a four-digit number of
    real digits would be refused about four times as often as a single digit. The least of k
    independent confidences is under t with probability 1 - (1 - F(t))^k, so the bar that keeps it at
    `quantile` is the single-digit quantile 1 - (1 - quantile)^(1/k): exact, no sampling.
    """
    return {str(k): rejection_threshold(confidence, 1 - (1 - quantile) ** (1 / k)) for k in range(2, max_digits + 1)}


def choose_rejection(val_probs: torch.Tensor, quantile: float, kind: str,
                     negative_probs: torch.Tensor | None = None) -> dict:
    """The model card's `reject` entry from validation probabilities (N, classes).

    Digit models refuse with "not a digit" and, given the probabilities of
    held-out non-digits, report the share of them the threshold refuses;
    other models say "unsure".
    """
    confidence = val_probs.amax(1)
    threshold = rejection_threshold(confidence, quantile)
    refused = float((confidence < threshold).float().mean()) if len(confidence) else 0.0
    report: dict = {"threshold": threshold, "reason": "not a digit" if kind == "digits" else "unsure",
                    "quantile": quantile, "split": "validation"}
    if kind != "digits":
        return {**report, "val_rejected": refused}
    report["val_digits_rejected"] = refused
    from tinyvision.image.segment import MAX_DIGITS

    report["number_thresholds"] = number_thresholds(confidence, quantile, MAX_DIGITS)
    if negative_probs is not None and len(negative_probs):
        report["val_negatives_rejected"] = float((negative_probs.amax(1) < threshold).float().mean())
        report["val_negatives"] = len(negative_probs)
    return report


def reject_reason(probs, card, digits: int = 1) -> str | None:
    """Why a model with this card gives no answer for these calibrated probabilities (a tensor of one
    image's class probabilities, or a {class: probability} dict); None when it answers.

    `digits` > 1: the probabilities are the least confident digit of a number written as that many
    separate marks, judged by the card's bar for that many digits (cards written before those bars
    existed use the single-digit one)."""
    threshold = (card.reject or {}).get("threshold")
    if digits > 1:
        threshold = (card.reject.get("number_thresholds") or {}).get(str(digits), threshold)
    if threshold is None:
        return None
    top = max(probs.values()) if isinstance(probs, dict) else float(torch.as_tensor(probs).max())
    return str(card.reject.get("reason", "unsure")) if top < threshold else None

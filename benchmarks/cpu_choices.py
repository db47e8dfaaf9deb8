"""The CPU choices behind `tvnet`, each timed against its alternative.

One training step (forward, backward, SGD; `train_step.py`) at batch 128 on
random 28x28 inputs, median over repeats, converted to seconds per MNIST epoch of steps
(54,000 images):

- memory layout and precision: channels_last fp32 (what tinyvision uses),
  the default contiguous layout, and bf16 autocast;
- block order: conv -> pool -> BN -> ReLU (ours) against the usual
  conv -> BN -> ReLU -> pool;
- widths: the chosen 16-32-32-64 layout against the alternatives tried.

Speed does not depend on the pixel values, so the inputs are random. Prints JSON.

    python benchmarks/cpu_choices.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from provenance import RESULTS_DIR, recorded, write_results
from torch import nn
from train_step import BATCH, STEPS_PER_EPOCH, make_step, median_step_seconds

from tinyvision.models import TVNet

WIDTHS = {
    "16-32-32-64 (tvnet)": ((16, True), (32, True), (32, False), (64, True)),
    "16-32-64-64": ((16, True), (32, True), (64, False), (64, True)),
    "16-48-64-64 (first tvnet)": ((16, True), (48, True), (64, False), (64, True)),
    "16-32-64 (three convs)": ((16, True), (32, True), (64, True)),
    "24-48-48-96": ((24, True), (48, True), (48, False), (96, True)),
}


def pool_last(model: TVNet) -> TVNet:
    """The same network with the usual order: conv -> BN -> ReLU -> pool."""
    layers = list(model.features)
    reordered: list[nn.Module] = []
    i = 0
    while i < len(layers):
        conv = layers[i]
        if isinstance(layers[i + 1], nn.MaxPool2d):
            pool, bn, relu = layers[i + 1 : i + 4]
            reordered += [conv, bn, relu, pool]
            i += 4
        else:
            reordered += layers[i : i + 3]
            i += 3
    model.features = nn.Sequential(*reordered)
    return model


def epoch_seconds(model: nn.Module, channels_last: bool = True, bf16: bool = False, repeats: int = 30) -> float:
    step = make_step(model, channels_last=channels_last, bf16=bf16)
    return round(median_step_seconds(step, repeats) * STEPS_PER_EPOCH, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "cpu_choices.json")
    args = parser.parse_args()
    with recorded() as prov:
        result = measure_all(args.repeats)
    result["provenance"] = prov
    write_results(args.out, result)
    print(json.dumps(result, indent=2))


def measure_all(repeats: int) -> dict:
    torch.manual_seed(0)
    r = repeats

    def tvnet() -> TVNet:
        return TVNet((1, 28, 28), 10)

    layout = {
        "channels_last fp32 (used)": epoch_seconds(tvnet(), repeats=r),
        "contiguous fp32": epoch_seconds(tvnet(), channels_last=False, repeats=r),
        "channels_last bf16 autocast": epoch_seconds(tvnet(), bf16=True, repeats=max(5, r // 5)),
    }
    order = {
        "conv-pool-BN-ReLU (used)": epoch_seconds(tvnet(), repeats=r),
        "conv-BN-ReLU-pool": epoch_seconds(pool_last(tvnet()), repeats=r),
    }
    widths = {
        name: {
            "epoch_seconds": epoch_seconds(TVNet((1, 28, 28), 10, stages=stages), repeats=r),
            "parameters": sum(p.numel() for p in TVNet((1, 28, 28), 10, stages=stages).parameters()),
        }
        for name, stages in WIDTHS.items()
    }
    return {
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "unit": f"seconds of training steps per MNIST epoch ({STEPS_PER_EPOCH} steps of batch {BATCH})",
        "layout_and_precision": layout,
        "block_order": order,
        "widths": widths,
    }


if __name__ == "__main__":
    main()

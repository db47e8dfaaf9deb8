"""benchmarks/number_photos.py: a number read from its photo, against its digits read alone."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


number_photos = load("benchmarks_number_photos", BENCHMARKS / "number_photos.py")


def test_numbers_are_split_by_whether_the_model_reads_every_digit_right_alone():
    """`alone`: a number whose digits the model all reads right from their 28x28 source images is one it can read;
    what the reader then loses of it from the photo is the reader's. The digits are the manifest's, by index into
    the set's source (MNIST's test digits here)."""
    from tinyvision.datasets import load_dataset

    data = load_dataset("mnist")
    images, labels = data.test_images[:, 0].numpy(), data.test_labels.numpy()

    class StandIn:  # reads every test digit right, but the fourth
        def logits(self, x: torch.Tensor) -> torch.Tensor:
            found = [int(np.flatnonzero((images == image.numpy()).all((1, 2)))[0]) for image in x[:, 0]]
            read = [(labels[k] + (k == 3)) % 10 for k in found]
            return torch.nn.functional.one_hot(torch.tensor(read), 10).float()

    def number(*index: int) -> str:
        return "".join(str(int(labels[k])) for k in index)

    manifest = [{"file": "a", "number": number(0, 1), "digit_index": [0, 1], "touching": False},
                {"file": "b", "number": number(2, 3), "digit_index": [2, 3], "touching": False},
                {"file": "c", "number": number(4, 5, 6), "digit_index": [4, 5, 6], "touching": True,
                 "touching_pairs": 1},
                {"file": "d", "number": number(7), "digit_index": [7], "touching": False}]
    each = number_photos.each_digit_right(StandIn(), manifest, {"source": "test", "seed": 0})
    assert each == [True, False, True, True]
    # "a" read exactly, "b" read all the same (its photo read right), "c" refused, "d" misread.
    reads = {"a": number(0, 1), "b": number(2, 3), "c": None, "d": str((int(labels[7]) + 1) % 10)}
    alone = number_photos.score_alone(manifest, reads, each)
    outcomes = alone.pop("outcomes_when_each_digit_right")
    assert alone == {"images": 4, "each_digit_right": 0.75, "each_digit_right_images": 3,
                     "read_when_each_digit_right": round(1 / 3, 4), "read_when_a_digit_wrong": 1.0}
    # The reader's own losses, by layout: "c" (several marks, one pair touching) refused, "d" (apart) misread.
    assert outcomes["apart"] == {"images": 2, "read": 1, "refused": 0, "too_many": 0, "too_few": 0, "misread": 1}
    assert outcomes["several marks"] == {"images": 1, "read": 0, "refused": 1, "too_many": 0, "too_few": 0,
                                         "misread": 0}
    assert outcomes["one mark"]["images"] == 0

"""Training digits cut out of touching neighbours (cut_digits.py): what a number's touching digits look
like to the model once the segmenter has cut them apart."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinyvision.cut_digits import cut_digits
from tinyvision.image.digits import prepare_ink


def _ten_digits() -> tuple[torch.Tensor, torch.Tensor]:
    from digit_photos import one_of_each_digit

    return torch.stack(one_of_each_digit()), torch.arange(10)


def test_a_cut_digit_is_its_own_digit_with_a_stub_of_a_neighbour_and_seeded():
    digits, labels = _ten_digits()
    images, cut_labels = cut_digits(digits, labels, 60, seed=5)
    assert images.shape == (60, 1, 28, 28) and images.dtype == torch.uint8 and cut_labels.shape == (60,)
    again, again_labels = cut_digits(digits, labels, 60, seed=5)
    assert torch.equal(images, again) and torch.equal(cut_labels, again_labels)
    assert not torch.equal(images, cut_digits(digits, labels, 60, seed=6)[0])

    # Each is mostly its own digit: closer to its label's prepared digit than to any other digit's ...
    own = np.stack([prepare_ink(d[0].numpy() / 255.0) for d in digits]).reshape(10, -1)
    own = own / np.linalg.norm(own, axis=1, keepdims=True)
    flat = images[:, 0].float().numpy().reshape(60, -1)
    nearest = (flat @ own.T).argmax(1)
    assert (nearest == cut_labels.numpy()).mean() >= 0.8
    # ... but not the digit as MNIST prepared it: a neighbour's stub or a missing tip changes the image.
    plain = np.stack([np.round(prepare_ink(digits[k, 0].numpy() / 255.0) * 255) for k in cut_labels.tolist()])
    changed = np.abs(images[:, 0].float().numpy() - plain).mean((1, 2)) > 2.0
    assert changed.mean() >= 0.5


def test_a_digit_run_mixes_in_cut_digits_from_its_training_split_memory_mapped_or_not(tmp_path, monkeypatch):
    import tinyvision.cut_digits
    from tinyvision.datasets.folder_cache import ImageStore, MappedImages
    from tinyvision.datasets.registry import spec_for
    from tinyvision.training.setup import load_extra_digits

    monkeypatch.setattr(tinyvision.cut_digits, "POOL", 30)
    digits, labels = _ten_digits()
    path = tmp_path / "images.u8"
    path.write_bytes(digits.numpy().tobytes())
    mapped = MappedImages(ImageStore(path, (1, 28, 28), len(digits)), np.arange(len(digits)))
    cpu = torch.device("cpu")
    in_memory = load_extra_digits("cut", 0.125, spec_for("mnist"), cpu, (digits, labels), seed=3)
    with_map = load_extra_digits("cut", 0.125, spec_for("mnist"), cpu, (mapped, labels), seed=3)
    assert len(in_memory[0]) == 30 and all(torch.equal(a, b) for a, b in zip(in_memory, with_map))
    assert load_extra_digits("cut", 0.0, spec_for("mnist"), cpu, (digits, labels)) is None


def test_cut_digits_are_for_digit_datasets_and_a_share_of_the_batch():
    from tinyvision.config import RunConfig, build_config
    from tinyvision.datasets.registry import spec_for
    from tinyvision.errors import TinyVisionError
    from tinyvision.training.setup import load_extra_digits

    digits, labels = _ten_digits()
    with pytest.raises(TinyVisionError, match="cifar10 is not a digit dataset"):
        load_extra_digits("cut", 0.125, spec_for("cifar10"), torch.device("cpu"), (digits, labels))
    with pytest.raises(TinyVisionError, match="cut_digits must be in"):
        RunConfig(cut_digits=1.5).validate()
    assert build_config("plain", {}).cut_digits == 0.0  # the MNIST-only presets stay MNIST-only

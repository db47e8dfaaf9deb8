"""The handwriting augmentation: each op keeps the batch's form, is seeded, and does what it says."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tinyvision.augment import (
    POLICIES,
    AugmentOptions,
    affine_theta,
    augment_batch,
    gaussian_blur,
    handwriting,
    ink_box_and_centre,
    ink_gain,
    low_resolution,
    policy_options,
    random_translate,
    refit_theta,
    stroke_width,
)


def strokes(n: int = 16, seed: int = 0) -> torch.Tensor:
    """uint8 (n, 1, 28, 28) digit-like images: a vertical and a slanted stroke of random length, box <= 20."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, 28, 28, dtype=torch.uint8)
    for i in range(n):
        top, length = int(torch.randint(4, 8, (1,), generator=g)), int(torch.randint(10, 17, (1,), generator=g))
        x[i, 0, top : top + length, 13:15] = 255
        for k in range(length // 2):
            x[i, 0, top + k, 9 + k // 2] = 200
    return x


def box(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    extent, centre = ink_box_and_centre(images.float() / 255)
    return extent, centre


@pytest.mark.parametrize("op", ["stroke", "blur", "low_res", "gain"])
def test_each_op_keeps_shape_dtype_and_device(op):
    x = strokes().float() / 255
    n = len(x)
    out = {
        "stroke": lambda: stroke_width(x, torch.linspace(-1, 2, n)),
        "blur": lambda: gaussian_blur(x, torch.linspace(0, 1.5, n)),
        "low_res": lambda: low_resolution(x, torch.tensor([0, 7, 9, 11] * (n // 4)), (7, 9, 11)),
        "gain": lambda: ink_gain(x, torch.linspace(0.5, 2, n)),
    }[op]()
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert 0 <= float(out.min()) and float(out.max()) <= 1


def test_neutral_parameters_change_nothing():
    x = strokes().float() / 255
    zeros = torch.zeros(len(x))
    assert torch.equal(stroke_width(x, zeros), x)
    assert torch.allclose(gaussian_blur(x, zeros), x, atol=1e-6)
    assert torch.equal(low_resolution(x, zeros.long(), (7, 9)), x)
    assert torch.equal(ink_gain(x, torch.ones(len(x))), x)


def test_dilation_adds_ink_and_erosion_removes_it():
    x = strokes().float() / 255
    ink = x.sum((1, 2, 3))
    bolder = stroke_width(x, torch.full((len(x),), 1.0)).sum((1, 2, 3))
    boldest = stroke_width(x, torch.full((len(x),), 2.0)).sum((1, 2, 3))
    thinner = stroke_width(x, torch.full((len(x),), -1.0)).sum((1, 2, 3))
    assert bool((thinner < ink).all() and (ink < bolder).all() and (bolder < boldest).all())
    # Half way is between the two.
    half = stroke_width(x, torch.full((len(x),), 0.5)).sum((1, 2, 3))
    assert bool(((ink < half) & (half < bolder)).all())


def test_rotation_moves_mass_and_turns_a_bar():
    x = torch.zeros(2, 1, 28, 28)
    x[:, :, 13:15, 4:24] = 1.0  # a horizontal bar
    theta = affine_theta(torch.tensor([0.0, math.pi / 2]), torch.zeros(2), torch.zeros(2), torch.zeros(2), 28, 28)
    out = F.grid_sample(x, F.affine_grid(theta, [2, 1, 28, 28], align_corners=False), align_corners=False)
    assert torch.allclose(out[0], x[0], atol=1e-5)  # angle 0: unchanged
    turned = out[1, 0]
    assert float(turned[4:24, 13:15].mean()) > 0.9 and float(turned[13:15, 4:10].sum()) < 1e-3


def test_slant_moves_the_top_sideways():
    x = torch.zeros(1, 1, 28, 28)
    x[:, :, 4:24, 13:15] = 1.0  # a vertical bar
    theta = affine_theta(torch.zeros(1), torch.tensor([0.4]), torch.zeros(1), torch.zeros(1), 28, 28)
    out = F.grid_sample(x, F.affine_grid(theta, [1, 1, 28, 28], align_corners=False), align_corners=False)
    cols = torch.arange(28.0)
    top = (out[0, 0, 5] @ cols) / out[0, 0, 5].sum()
    bottom = (out[0, 0, 22] @ cols) / out[0, 0, 22].sum()
    assert float(bottom - top) > 4  # x moves by shear * y: the bottom leans right of the top


def test_refit_scales_the_ink_box_to_twenty_and_centres_the_mass():
    x = torch.zeros(1, 1, 28, 28)
    x[:, :, 3:13, 3:8] = 1.0  # a small mark, far from the centre: extent 10
    extent, centre = ink_box_and_centre(x)
    assert float(extent) == 10
    identity = torch.eye(2, 3).unsqueeze(0)
    theta = refit_theta(identity, extent, centre, (28, 28), 20.0, (14.0, 14.0))
    out = F.grid_sample(x, F.affine_grid(theta, [1, 1, 28, 28], align_corners=False), align_corners=False)
    extent2, centre2 = ink_box_and_centre(out, level=0.5)
    assert abs(float(extent2) - 20) <= 1
    assert torch.allclose(centre2, torch.tensor([[14.0, 14.0]]), atol=0.5)


def test_blur_spreads_ink_and_keeps_it():
    x = strokes().float() / 255
    out = gaussian_blur(x, torch.full((len(x),), 1.0))
    assert torch.allclose(out.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=1e-4)  # ink away from the border
    assert bool(((out > 0.01).sum((1, 2, 3)) > (x > 0.01).sum((1, 2, 3))).all())


def test_low_resolution_removes_fine_detail():
    x = strokes().float() / 255
    out = low_resolution(x, torch.full((len(x),), 7), (7,))

    def detail(t: torch.Tensor) -> torch.Tensor:  # energy of differences between neighbours
        return (t[..., 1:] - t[..., :-1]).pow(2).sum((1, 2, 3))

    assert bool((detail(out) < 0.6 * detail(x)).all())


def test_handwriting_policy_keeps_the_batch_form_and_is_seeded():
    x = strokes(64)
    o = policy_options("handwriting", translate=1)
    a = augment_batch(x, o, torch.Generator().manual_seed(3))
    b = augment_batch(x, o, torch.Generator().manual_seed(3))
    c = augment_batch(x, o, torch.Generator().manual_seed(4))
    assert a.shape == x.shape and a.dtype == torch.uint8 and a.device == x.device
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_handwriting_redraws_its_share_and_passes_the_rest_through():
    x = strokes(400)
    o = AugmentOptions(**{**POLICIES["handwriting"], "share": 0.5, "refit": True})
    out = handwriting(x, o, torch.Generator().manual_seed(0))
    changed = (out != x).flatten(1).any(1)
    assert 150 < int(changed.sum()) < 250  # about half
    # Whatever is redrawn is refitted as a user's image is prepared: box 20, mass near the centre.
    extent, centre = box(out[changed])
    assert float((extent - 20).abs().float().median()) <= 1
    assert float((centre - 14).abs().max()) < 2.5  # the wobble moves ink after the refit


def test_generator_advances_the_same_whatever_the_options():
    """Resume depends on the generator's state only: options must not change how many numbers are drawn."""
    x = strokes(32)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    handwriting(x, policy_options("handwriting"), g1)
    handwriting(x, policy_options("handwriting", share=0.01, low_res=0.0, refit=False), g2)
    assert torch.equal(g1.get_state(), g2.get_state())


def test_shift_policy_is_the_old_augmentation():
    x = strokes(32)
    old = random_translate(x, 1, torch.Generator().manual_seed(9))
    new = augment_batch(x, policy_options("shift", translate=1), torch.Generator().manual_seed(9))
    assert torch.equal(old, new)


def test_handwriting_training_still_learns(tmp_path):
    """A short MNIST run with the handwriting policy (and outlier exposure) beats chance by far."""
    import tinyvision

    run = tinyvision.train(out=tmp_path / "run", epochs=1, limit_batches=60, device="cpu", progress=False,
                           plots=False, augment="handwriting", outlier_exposure=0.5)
    m = run.metrics
    assert m["final"]["val_acc"] > 0.85
    assert m["history"][0]["train_loss"] < 2.0
    assert m["rejection"]["reason"] == "not a digit" and m["rejection"]["score"] == "energy"
    assert m["rejection"]["val_digits_rejected"] <= 0.003 + 1e-9

import pytest
import torch
from torch import nn

from tinyvision.evaluate import evaluate, predict_logits, shifted_views
from tinyvision.normalization import Normalization


def test_shifted_views_cover_every_offset_once():
    image = torch.zeros(1, 1, 5, 5, dtype=torch.uint8)
    image[0, 0, 2, 2] = 255  # one bright pixel in the middle
    views = shifted_views(image, 1)
    assert len(views) == 9 and torch.equal(views[0], image)
    where = {tuple(torch.nonzero(v[0, 0])[0].tolist()) for v in views}
    assert where == {(r, c) for r in (1, 2, 3) for c in (1, 2, 3)}


class CentrePixel(nn.Module):
    """Says class 1 when the centre pixel is bright, class 0 otherwise: blind to shifted digits."""

    def forward(self, x):
        centre = x[:, 0, 2, 2]  # 0 or 1
        return torch.stack([1 - 2 * centre, 2 * centre - 1], 1) * 20


def test_tta_averages_probabilities_over_shifts():
    image = torch.zeros(1, 1, 5, 5, dtype=torch.uint8)
    image[0, 0, 2, 3] = 255  # one pixel off centre: the plain model misses it
    norm = Normalization((0.0,), (1.0,))
    plain = predict_logits(CentrePixel(), image, norm, torch.device("cpu"))
    assert plain.argmax(1).item() == 0
    averaged = predict_logits(CentrePixel(), image, norm, torch.device("cpu"), tta=1)
    # One view of nine sees the pixel: its vote is 1/9 of the average probability.
    assert torch.allclose(averaged.exp().sum(1), torch.ones(1))
    assert averaged.exp()[0, 1].item() == pytest.approx(1 / 9, abs=1e-4)
    result = evaluate(CentrePixel(), image, torch.tensor([0]), norm, torch.device("cpu"), tta=1)
    assert result.loss == pytest.approx(-torch.log(torch.tensor(8 / 9)).item(), abs=1e-4)


class LeftPixel(nn.Module):
    """Says class 1 when the pixel at column 1 is bright: blind to the mirror image."""

    def forward(self, x):
        seen = x[:, 0, 2, 1]
        return torch.stack([1 - 2 * seen, 2 * seen - 1], 1) * 20


def test_flip_tta_averages_each_image_with_its_mirror():
    image = torch.zeros(1, 1, 5, 5, dtype=torch.uint8)
    image[0, 0, 2, 3] = 255  # column 3: its mirror image has the pixel at column 1
    norm = Normalization((0.0,), (1.0,))
    assert predict_logits(LeftPixel(), image, norm, torch.device("cpu")).argmax(1).item() == 0
    averaged = predict_logits(LeftPixel(), image, norm, torch.device("cpu"), flip=True)
    assert averaged.exp()[0].tolist() == pytest.approx([0.5, 0.5], abs=1e-4)
    # Shifts and mirrors combine: of 9 shifted views and their 9 mirrors, two see the pixel.
    both = predict_logits(CentrePixel(), image, norm, torch.device("cpu"), tta=1, flip=True)
    assert both.exp()[0, 1].item() == pytest.approx(2 / 18, abs=1e-4)

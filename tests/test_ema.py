import pytest
import torch
from torch import nn

from tinyvision.ema import WeightAverage


def test_average_follows_a_fixed_model_and_lags_a_moving_one():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    average = WeightAverage(model, decay=0.9)
    start = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(5.0)
    for _ in range(200):
        average.update(model)
    # A fixed target is reached; buffers are copied, not averaged.
    assert torch.allclose(average.model[0].weight, model[0].weight, atol=1e-6)
    assert torch.equal(average.model[1].running_mean, model[1].running_mean)

    with torch.no_grad():
        model[0].weight.add_(1.0)
    average.update(model)
    # One step after a jump the average has moved a tenth of the way (decay 0.9).
    assert torch.allclose(average.model[0].weight, start + 1.1, atol=1e-5)
    assert not any(p.requires_grad for p in average.model.parameters())


def test_decay_ramps_up_then_holds():
    average = WeightAverage(nn.Linear(2, 2), decay=0.999)
    assert average.current_decay() == pytest.approx(0.1)
    average.updates = 10_000
    assert average.current_decay() == 0.999


def test_state_round_trip():
    torch.manual_seed(0)
    model = nn.Linear(4, 4)
    a = WeightAverage(model, 0.99)
    for _ in range(3):
        with torch.no_grad():
            model.weight.mul_(0.5)
        a.update(model)
    b = WeightAverage(nn.Linear(4, 4), 0.99)
    b.load_state_dict(a.state_dict())
    assert b.updates == 3
    assert torch.equal(b.model.weight, a.model.weight)

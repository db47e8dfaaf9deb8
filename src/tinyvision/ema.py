"""An exponential moving average of a model's weights, for evaluation.

Averaging the weights of the last few hundred steps smooths out the noise of
SGD: the averaged model usually tests a little better than the last iterate,
at the cost of one extra copy of the weights and a lerp per step.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        # Early on the average would be dominated by the random initial weights:
        # ramp the decay up so it only remembers what training has produced.
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        weight = 1.0 - self.current_decay()
        self.updates += 1
        torch._foreach_lerp_(list(self.model.parameters()), list(model.parameters()), weight)
        # BatchNorm running statistics are already averages: take the model's.
        for mine, theirs in zip(self.model.buffers(), model.buffers()):
            mine.copy_(theirs)

    def state_dict(self) -> dict:
        return {"weights": {k: v.detach().cpu() for k, v in self.model.state_dict().items()}, "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["weights"])
        self.updates = int(state["updates"])

"""One training step of a model on a fixed random batch, and its timing.

Shared by the step benchmarks (`compile.py`, `cpu_choices.py`). Speed does not
depend on the pixel values, so the batch is random; the step is the default
recipe's: SGD with Nesterov momentum, cross-entropy with label smoothing 0.1.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

BATCH = 128
STEPS_PER_EPOCH = 54_000 // BATCH  # the default recipe's steps in one MNIST epoch


def make_step(
    model: nn.Module, batch: int = BATCH, channels_last: bool = True, bf16: bool = False, compiled: bool = False
) -> Callable[[], None]:
    """A function that runs one optimisation step of `model` (28x28 gray inputs)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    x = torch.randn(batch, 1, 28, 28).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,))

    def forward_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return F.cross_entropy(model(x).float(), y, label_smoothing=0.1)

    loss_fn = torch.compile(forward_loss) if compiled else forward_loss

    def step() -> None:
        loss = loss_fn(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def median_step_seconds(step: Callable[[], None], repeats: int, warmup: int = 5) -> float:
    """Median wall time of one step, after `warmup` untimed steps (oneDNN picks and caches kernels)."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        step()
        sync()  # CUDA runs asynchronously: time the work, not its launch
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()

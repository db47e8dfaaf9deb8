"""Does `torch.compile` pay for itself when training the default model on the CPU?

Times the same training steps of `tvnet` (batch 128, channels_last, SGD) in
eager mode and compiled (inductor), and reports the compile time, the
per-step times, and how many steps a run needs before compiling breaks even.
Random inputs: speed does not depend on the pixel values. Prints JSON.

    python benchmarks/compile.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from tinyvision.config import RunConfig
from tinyvision.models import create_model

STEPS_PER_EPOCH = 54_000 // 128  # the default recipe's steps in one MNIST epoch


def make_step(model: torch.nn.Module, compiled: bool):
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)

    def forward_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x), y, label_smoothing=0.1)

    loss_fn = torch.compile(forward_loss) if compiled else forward_loss

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        loss = loss_fn(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def measure(compiled: bool, steps: int, batch: int) -> dict:
    torch.manual_seed(0)
    model = create_model("tvnet", (1, 28, 28), 10).to(memory_format=torch.channels_last).train()
    x = torch.randn(batch, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    step = make_step(model, compiled)
    start = time.perf_counter()
    step(x, y)  # the first call compiles (or, eagerly, warms the allocator)
    step(x, y)
    first_two = time.perf_counter() - start
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - t)
    return {"first_two_steps_s": round(first_two, 3), "median_step_ms": round(1000 * statistics.median(times), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    eager = measure(False, args.steps, args.batch)
    compiled = measure(True, args.steps, args.batch)
    saved_per_step = (eager["median_step_ms"] - compiled["median_step_ms"]) / 1000
    compile_cost = compiled["first_two_steps_s"] - eager["first_two_steps_s"]
    result = {
        "threads": torch.get_num_threads(),
        "eager": eager,
        "compiled": compiled,
        "step_speedup": round(eager["median_step_ms"] / compiled["median_step_ms"], 3),
        "compile_seconds": round(compile_cost, 1),
        # None: compiled steps are not faster, so compiling never pays.
        "break_even_steps": round(compile_cost / saved_per_step) if saved_per_step > 0 else None,
        "steps_in_default_run": RunConfig().epochs * STEPS_PER_EPOCH,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

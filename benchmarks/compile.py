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
import time
from pathlib import Path

import torch
from provenance import RESULTS_DIR, recorded, write_results
from train_step import BATCH, STEPS_PER_EPOCH, make_step, median_step_seconds

from tinyvision.config import RunConfig
from tinyvision.models import create_model


def measure(compiled: bool, steps: int, batch: int) -> dict:
    torch.manual_seed(0)
    step = make_step(create_model("tvnet", (1, 28, 28), 10), batch, compiled=compiled)
    start = time.perf_counter()
    step()  # the first call compiles (or, eagerly, warms the allocator)
    step()
    first_two = time.perf_counter() - start
    median = median_step_seconds(step, steps, warmup=0)
    return {"first_two_steps_s": round(first_two, 3), "median_step_ms": round(1000 * median, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "compile.json")
    args = parser.parse_args()
    with recorded() as prov:
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
        "provenance": prov,
    }
    write_results(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

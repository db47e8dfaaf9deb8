"""One process against two (torchrun + DDP, gloo) on this machine's CPU, real MNIST.

All runs train the same recipe with the same global batch through the real
CLI: one process with every core as torch threads, one process with one
thread, and two ranks sharing the cores equally (OMP_NUM_THREADS), so the
second and the last compare one core against two cores' worth of ranks.
Reports rank 0's timed training seconds (the steps only), the wall-clock time
of the whole command (start-up, data, evaluation included), and accuracy.

    python benchmarks/distributed.py --epochs 1
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from provenance import RESULTS_DIR, recorded, write_results


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_training(processes: int, threads: int, flags: list[str], out: Path) -> dict:
    if processes == 1:
        launcher = [sys.executable, "-m", "tinyvision"]
    else:
        launcher = [
            sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
            "--master_addr", "127.0.0.1", "--master_port", str(free_port()), "-m", "tinyvision",
        ]
    command = [*launcher, "train", *flags, "--out", str(out), "--no-plots", "--progress", "lines"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "processes": processes,
        "threads_per_process": threads,
        "command": " ".join([f"OMP_NUM_THREADS={threads}", "python", *command[1:-5]]),
        "train_seconds": round(metrics["train_seconds"], 2),
        "wall_seconds": round(wall, 2),
        "final_train_loss": round(metrics["final"]["train_loss"], 4),
        "val_acc": round(metrics["final"]["val_acc"], 4),
        "test_acc": round(metrics["test_acc"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--model", default="tvnet")
    parser.add_argument("--batch-size", type=int, default=128, help="the global batch, in both runs")
    parser.add_argument("--limit-batches", type=int, help="smoke runs only")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "distributed.json")
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    load_before = round(os.getloadavg()[0], 2)
    # The MNIST-only recipe: the default's non-digits and font digits are not what is compared here.
    flags = ["--preset", "plain", "--model", args.model, "--epochs", str(args.epochs),
             "--batch-size", str(args.batch_size)]
    if args.limit_batches:
        flags += ["--limit-batches", str(args.limit_batches)]
    with recorded() as prov, tempfile.TemporaryDirectory() as tmp:
        one = run_training(1, cores, flags, Path(tmp) / "one")
        one_thread = run_training(1, 1, flags, Path(tmp) / "one_thread")
        two = run_training(2, max(1, cores // 2), flags, Path(tmp) / "two")
    report = {
        "benchmark": "1 vs 2 processes (torchrun, DDP, gloo) on the CPU, MNIST",
        "cpu_cores": cores,
        "model": args.model,
        "epochs": args.epochs,
        "global_batch": args.batch_size,
        "one_process": one,
        "one_process_one_thread": one_thread,
        "two_processes": two,
        "speedup_train": round(one["train_seconds"] / two["train_seconds"], 3),
        "speedup_wall": round(one["wall_seconds"] / two["wall_seconds"], 3),
        "speedup_train_vs_one_thread": round(one_thread["train_seconds"] / two["train_seconds"], 3),
        # Others' work on the machine skews every figure: report how busy it was.
        "load_average_1min_before": load_before,
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "provenance": prov,
    }
    write_results(args.out, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

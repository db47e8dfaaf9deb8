"""Time to accuracy on real MNIST: tinyvision's fixed recipes over seeds, beside peers, in one run.

Each tinyvision row is the whole command a user types, `tinyvision train
--preset P --seed S`, run as its own process: its final test accuracy (read
once, after the last epoch, from metrics.json), its training seconds (the
optimisation steps) and its whole-command wall seconds (start-up, data,
validation, calibration, test, plots). A recipe's claim is its mean ± std
test accuracy over the seeds with its median times; nothing is read off the
test set mid-run and nothing is chosen here.

The peers run in the same session, each its own process (benchmarks/peers):
the PyTorch tutorial's recipe A in its own pipeline for all 10 epochs, and
the Keras "Simple MNIST convnet" example (when keras is installed: the
`bench` extra). Speed-ups compare like with like: the median time of our
fastest fixed recipe whose MEAN accuracy reaches a peer's own final accuracy,
against that peer's whole run.

    python benchmarks/time_to_accuracy.py --presets fast:10,default:5 --peers tutorial-recipe-a,keras-mnist-convnet
    python benchmarks/time_to_accuracy.py --presets fast:10,plain:5,default:3,default/fp32:3
    python benchmarks/time_to_accuracy.py --presets best:3 --peers none \
        --out benchmarks/results/time_to_accuracy_best.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peers import PeerFailed, run_peer
from provenance import RESULTS_DIR, recorded, write_results


def train_once(recipe: str, seed: int, folder: Path, threads: int | None) -> dict:
    """One `tinyvision train` command in its own process; its metrics and wall time.

    `recipe` is a preset name, optionally with a training precision: `default/fp32` is the
    default recipe trained with `--precision fp32`, the reference for bf16's speed-up.
    """
    preset, _, precision = recipe.partition("/")
    out = folder / f"{recipe.replace('/', '-')}-seed{seed}"
    argv = [sys.executable, "-m", "tinyvision", "train", "--seed", str(seed), "--out", str(out), "--progress", "lines"]
    if preset != "default":
        argv[4:4] = ["--preset", preset]
    if precision:
        argv[4:4] = ["--precision", precision]
    env = None
    if threads is not None:
        import os

        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed:\n{done.stderr[-2000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "preset": recipe, "seed": seed, "model": metrics["model"], "epochs": metrics["epochs"],
        "precision": metrics.get("precision"),
        "test_acc": metrics["test_acc"], "train_seconds": round(metrics["train_seconds"], 2),
        "wall_seconds": round(wall, 2), "final_val_acc": metrics["final"]["val_acc"],
        "val_acc_by_epoch": [round(r["val_acc"], 5) for r in metrics["history"]],
        "calibration": {k: metrics["calibration"].get(k) for k in ("temperature", "ece_before", "ece_after")},
        "test_ece": metrics.get("test_ece"),
        "command": shlex.join(["tinyvision", *argv[3:]]),
    }


def summarise(runs: list[dict]) -> dict:
    accs = [r["test_acc"] for r in runs]
    return {
        "seeds": [r["seed"] for r in runs],
        "test_acc_mean": statistics.mean(accs),
        "test_acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,  # sample std (n - 1)
        "test_acc_min": min(accs), "test_acc_max": max(accs),
        "train_seconds_median": statistics.median(r["train_seconds"] for r in runs),
        "wall_seconds_median": statistics.median(r["wall_seconds"] for r in runs),
    }


def speedups(ours: dict[str, dict], peers: dict[str, dict]) -> dict:
    """Per peer: our fastest recipe whose mean accuracy reaches the peer's final accuracy, and the ratios."""
    result = {}
    for name, peer in peers.items():
        if "test_acc" not in peer:
            continue
        reaching = [(s["summary"]["train_seconds_median"], p) for p, s in ours.items()
                    if s["summary"]["test_acc_mean"] >= peer["test_acc"]]
        if not reaching:
            result[name] = {"peer_test_acc": peer["test_acc"], "recipe": None}
            continue
        _, preset = min(reaching)
        summary = ours[preset]["summary"]
        result[name] = {
            "peer_test_acc": peer["test_acc"], "recipe": preset, "recipe_test_acc_mean": summary["test_acc_mean"],
            "peer_train_seconds": peer["train_seconds"], "recipe_train_seconds": summary["train_seconds_median"],
            "train_speedup": round(peer["train_seconds"] / summary["train_seconds_median"], 1),
            "peer_wall_seconds": peer["runner"]["wall_seconds"], "recipe_wall_seconds": summary["wall_seconds_median"],
            "wall_speedup": round(peer["runner"]["wall_seconds"] / summary["wall_seconds_median"], 1),
        }
    return result


def plot(result: dict, path: Path) -> None:
    from matplotlib import rcParams
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    colours = iter(rcParams["axes.prop_cycle"].by_key()["color"])
    for preset, block in result["tinyvision"].items():
        colour = next(colours)
        xs = [r["wall_seconds"] for r in block["runs"]]
        ys = [100 * r["test_acc"] for r in block["runs"]]
        s = block["summary"]
        ax.scatter(xs, ys, color=colour, alpha=0.5, s=18)
        ax.errorbar([s["wall_seconds_median"]], [100 * s["test_acc_mean"]], yerr=[100 * s["test_acc_std"]],
                    fmt="o", color=colour, ms=8, capsize=4,
                    label=f"tinyvision {preset}: {100 * s['test_acc_mean']:.2f}% (n={len(block['runs'])})")
    for name, peer in result["peers"].items():
        if "test_acc" in peer:
            ax.scatter([peer["runner"]["wall_seconds"]], [100 * peer["test_acc"]], marker="s", s=60,
                       color=next(colours), label=f"{name}: {100 * peer['test_acc']:.2f}%")
    ax.set_xscale("log")
    ax.set(xlabel="whole-command wall seconds (log scale)", ylabel="MNIST test accuracy (%)",
           title="MNIST: final test accuracy against wall time (each dot a run)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="fast:10,default:5",
                        help="PRESET[/PRECISION]:SEEDS, comma-separated (default/fp32:3: the default recipe with "
                        "--precision fp32)")
    parser.add_argument("--peers", default="tutorial-recipe-a,keras-mnist-convnet", help="peer names, or none")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for every process (default: torch's own)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "time_to_accuracy.json")
    parser.add_argument("--keep", type=Path, help="keep the run folders here (default: a temporary folder)")
    args = parser.parse_args()
    plan = [(p, int(n or 1)) for p, _, n in (item.partition(":") for item in args.presets.split(",") if item)]
    peer_names = [] if args.peers == "none" else args.peers.split(",")
    result: dict = {"tinyvision": {}, "peers": {}}
    with recorded() as prov, tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or scratch
        for name in peer_names:
            if name == "keras-mnist-convnet" and importlib.util.find_spec("keras") is None:
                result["peers"][name] = {"skipped": "keras is not installed (pip install 'tinyvision[bench]')"}
                continue
            print(f"peer {name} ...", file=sys.stderr, flush=True)
            try:
                result["peers"][name] = run_peer(name, threads=args.threads, quiet=True)
            except PeerFailed as exc:
                result["peers"][name] = {"failed": str(exc)[:2000]}
        for preset, seeds in plan:
            runs = []
            for seed in range(seeds):
                print(f"tinyvision train --preset {preset} --seed {seed} ...", file=sys.stderr, flush=True)
                runs.append(train_once(preset, seed, Path(tmp), args.threads))
            result["tinyvision"][preset] = {"summary": summarise(runs), "runs": runs}
    result["speedups"] = speedups(result["tinyvision"], result["peers"])
    result["provenance"] = prov
    write_results(args.out, result)
    plot(result, args.out.with_suffix(".png"))
    print(json.dumps({k: v for k, v in result.items() if k != "provenance"}, indent=2))


if __name__ == "__main__":
    main()

"""Recipe trials: which model, epochs and augmentation each dataset's recipe should use.

Every choice is made on the run's own validation split (the final epoch's
`val_acc`), never on the test set. Each trial is one `tinyvision.train(...)`
call, recorded with its options, validation curve, seconds and the machine's
load, and appended to `benchmarks/results/recipes/<dataset>-trials.json`; a
trial's test accuracy is neither printed nor stored.

`--final` then runs the chosen recipe as a user would (`tinyvision train ...`,
one process per seed) and writes `<dataset>-final.json`: the test accuracy
read once at the end of each run, its training seconds and the whole
command's wall seconds.

    OMP_NUM_THREADS=1 python benchmarks/recipes.py fashion-mnist --trials tvnet-12,wide-12
    OMP_NUM_THREADS=2 python benchmarks/recipes.py fashion-mnist --final --seeds 0,1,2 --threads 2

Datasets: `fashion-mnist` (Debian's copy) and `cifar10-jpeg` (the JPEG folder,
extracted to /tmp/cifar10-jpeg, or `--cifar-folder`).

Candidate architectures that lost live here, not in the library: they are
registered for this process only, so a trial can name them.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder leads sys.path: import the standard library and torch with the
# folder off the path (no script here can shadow them), then put it back for `provenance`.
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _HERE]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, _HERE)
from provenance import REPO_ROOT, RESULTS_DIR, load_average, recorded, write_results  # noqa: E402

from tinyvision.models import DESCRIPTIONS, MODELS, TVNet, TVResNet, conv_pool_bn  # noqa: E402

OUT_DIR = RESULTS_DIR / "recipes"
RUNS_DIR = REPO_ROOT / "runs" / "recipes"


# --- candidate architectures (this process only) --------------------------------------------------

def candidate(name: str, build) -> None:
    MODELS[name] = build
    DESCRIPTIONS[name] = "recipe candidate (benchmarks/recipes.py)"


def tvnet_stages(*stages: tuple[int, bool]):
    return lambda input_shape, num_classes: TVNet(input_shape, num_classes, stages=stages)


def tvresnet_widths(widths: tuple[int, ...], stem: int):
    return lambda input_shape, num_classes: TVResNet(input_shape, num_classes, widths=widths, stem=stem)


class DeepResidual(nn.Module):
    """x + (conv-BN-ReLU)^2(x): a ResNet-9 style residual of two convolutions."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*conv_pool_bn(width, width, False), *conv_pool_bn(width, width, False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def tvresnet_deep_last(widths: tuple[int, ...], stem: int):
    """TVResNet whose last stage's residual has two convolutions (cheap at 4x4)."""

    def build(input_shape, num_classes):
        model = TVResNet(input_shape, num_classes, widths=widths, stem=stem)
        model.features[-1] = DeepResidual(widths[-1])
        return model

    return build


CANDIDATES = {
    "c-tvnet-24-48-48-96": tvnet_stages((24, True), (48, True), (48, False), (96, True)),
    "c-tvnet-32-64-64-128": tvnet_stages((32, True), (64, True), (64, False), (128, True)),
    "c-tvnet-32-64-64-64-128": tvnet_stages((32, True), (64, True), (64, False), (64, False), (128, True)),
    "c-tvnet-32-64-96-96-128": tvnet_stages((32, True), (64, True), (96, False), (96, False), (128, True)),
    "c-tvresnet-16-32-64-256": tvresnet_widths((32, 64, 256), 16),
    "c-tvresnet-16-32-96-192": tvresnet_widths((32, 96, 192), 16),
    "c-tvresnet-24-48-96-192": tvresnet_widths((48, 96, 192), 24),
    "c-tvresnet-16-32-64-192": tvresnet_widths((32, 64, 192), 16),
    "c-tvresnet-16-32-64-256-d2": tvresnet_deep_last((32, 64, 256), 16),
    "c-tvresnet-16-32-64-128-d2": tvresnet_deep_last((32, 64, 128), 16),
}
for _name, _build in CANDIDATES.items():
    candidate(_name, _build)


# --- candidate augmentation (this process only) ---------------------------------------------------

def cutout(images: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Zero a size x size square at a random centre of each image (it may hang over the edge)."""
    n, _, h, w = images.shape
    centre = torch.stack([torch.randint(0, h, (n,), generator=generator),
                          torch.randint(0, w, (n,), generator=generator)]).to(images.device)
    top, left = centre[0] - size // 2, centre[1] - size // 2
    rows = torch.arange(h, device=images.device).view(1, h)
    cols = torch.arange(w, device=images.device).view(1, w)
    inside_rows = (rows >= top.view(n, 1)) & (rows < (top + size).view(n, 1))
    inside_cols = (cols >= left.view(n, 1)) & (cols < (left + size).view(n, 1))
    hole = (inside_rows.view(n, 1, h, 1) & inside_cols.view(n, 1, 1, w))
    return images.masked_fill(hole, 0)


@contextlib.contextmanager
def with_cutout(size: int | None) -> Iterator[None]:
    """Trials only: cutout after the loop's own augmentation (a wrapper, nothing else changed)."""
    from tinyvision.training import loop

    augment = loop.augment_batch

    def augment_then_cut(images, options, generator, *args, **kwargs):
        return cutout(augment(images, options, generator, *args, **kwargs), size, generator)

    if size:
        loop.augment_batch = augment_then_cut
    try:
        yield
    finally:
        loop.augment_batch = augment


# --- the trials ---------------------------------------------------------------------------------

DATASETS = {"fashion-mnist": "fashion-mnist", "cifar10-jpeg": "folder:/tmp/cifar10-jpeg"}

# name -> options for tinyvision.train, on top of the dataset's registry recipe.
TRIALS: dict[str, dict[str, dict]] = {
    "fashion-mnist": {
        "tvnet-12": dict(model="tvnet", epochs=12),
        "tvnet-12-t1": dict(model="tvnet", epochs=12, translate=1),
        "tvnet-12-t2": dict(model="tvnet", epochs=12, translate=2),
        "w24-12": dict(model="c-tvnet-24-48-48-96", epochs=12),
        "w32-12": dict(model="c-tvnet-32-64-64-128", epochs=12),
        "wide-12": dict(model="tvnet-wide", epochs=12),
        "w32-12-t1": dict(model="c-tvnet-32-64-64-128", epochs=12, translate=1),
        "w32-12-t2": dict(model="c-tvnet-32-64-64-128", epochs=12, translate=2),
        "w32-12-cut8": dict(model="c-tvnet-32-64-64-128", epochs=12, cutout=8),
        "w32-12-t1-cut8": dict(model="c-tvnet-32-64-64-128", epochs=12, translate=1, cutout=8),
        "w32d-12-t1": dict(model="c-tvnet-32-64-64-64-128", epochs=12, translate=1),
        "w32dd-12-t1": dict(model="c-tvnet-32-64-96-96-128", epochs=12, translate=1),
    },
    "cifar10-jpeg": {
        "tvresnet-6": dict(model="tvresnet", epochs=6),
        "tvresnet-6-b128": dict(model="tvresnet", epochs=6, batch_size=128, lr=0.1),
        "tvresnet-9": dict(model="tvresnet", epochs=9),
        "r256-6": dict(model="c-tvresnet-16-32-64-256", epochs=6),
        "r192-6": dict(model="c-tvresnet-16-32-64-192", epochs=6),
        "r256d2-6": dict(model="c-tvresnet-16-32-64-256-d2", epochs=6),
        "r128d2-6": dict(model="c-tvresnet-16-32-64-128-d2", epochs=6),
        "tvresnet-12": dict(model="tvresnet", epochs=12),
        "r256-9": dict(model="c-tvresnet-16-32-64-256", epochs=9),
    },
}

# Whether a dataset's images keep their class when mirrored (flip TTA is an option at all).
MIRROR_SAFE = {"fashion-mnist": True, "cifar10-jpeg": True}

# The recipe each dataset's --final runs (chosen on validation accuracy; see the trials file).
FINAL: dict[str, dict] = {
    "fashion-mnist": dict(model="tvnet-clothes", epochs=12, translate=1),  # trial w32d-12-t1
    "cifar10-jpeg": dict(model="tvresnet-wide", epochs=6),  # trial c-tvresnet-16-32-64-256
}


# --- running ------------------------------------------------------------------------------------

def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


EPOCH_CPU_SECONDS: list[float] = []


def time_epochs_in_cpu_seconds() -> None:
    """Record each epoch's training CPU seconds (the span `train_seconds` times, on this thread).

    On a shared machine wall seconds depend on the neighbours; with one torch
    thread all the work runs on this thread, so its CPU time is the cost of the
    epoch itself. A wrapper around the loop's `run_epoch`: behaviour unchanged.
    """
    import importlib

    fit_module = importlib.import_module("tinyvision.training.fit")  # the module, not the function

    run_epoch = fit_module.run_epoch

    def timed(*args, **kwargs):
        started = time.thread_time()
        run_epoch(*args, **kwargs)
        EPOCH_CPU_SECONDS.append(time.thread_time() - started)

    fit_module.run_epoch = timed


def run_trial(dataset: str, name: str, options: dict, seed: int, dry_run: bool = False) -> dict:
    """One training run; returns its record (validation figures only: the test split stays unread)."""
    import tinyvision

    out = RUNS_DIR / dataset / f"{name}-seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    trial_options, options = options, dict(options)
    size = options.pop("cutout", None)  # not a RunConfig field: a candidate augmentation (`with_cutout`)
    load_before = load_average()
    EPOCH_CPU_SECONDS.clear()
    wall, cpu = time.perf_counter(), cpu_seconds()
    with with_cutout(size):
        run = tinyvision.train(dataset=DATASETS[dataset], out=out, progress="lines", plots=False, seed=seed,
                               dry_run=dry_run, **options)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    metrics = run.metrics
    history = metrics["history"]
    return {
        "trial": name,
        "command": f"OMP_NUM_THREADS={torch.get_num_threads()} python benchmarks/recipes.py {dataset} "
                   f"--trials {name} --seed {seed}",
        "options": trial_options,
        "seed": seed,
        "config": run.config.to_dict(),
        "parameters": metrics["parameters"],
        "val_acc": metrics["final"]["val_acc"],  # the final epoch's: what the choice is made on
        "val_curve": [round(r["val_acc"], 4) for r in history],
        "epoch_seconds": [round(r["epoch_seconds"], 1) for r in history],
        "train_seconds": round(metrics["train_seconds"], 1),
        "epoch_cpu_seconds": [round(c, 1) for c in EPOCH_CPU_SECONDS],
        "train_cpu_seconds": round(sum(EPOCH_CPU_SECONDS), 1),
        "wall_seconds": round(wall, 1),
        # CPU seconds over wall seconds of the whole call: under 1.0 (one thread) when other
        # processes took the core, so seconds compare only between trials of similar share.
        "cpu_seconds": round(cpu, 1),
        "cpu_share": round(cpu / wall, 2),
        "threads": torch.get_num_threads(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "run": str(out.relative_to(REPO_ROOT)),
    }


def tta_check(dataset: str, run_dir: Path, variants: list[tuple[int, bool]]) -> dict:
    """A trained run's final model on its own validation split under other test-time augmentations.

    The split is rebuilt from the run's config (seeded, so the same images);
    the network and normalisation come from the saved checkpoint. Temperature 1,
    as in training's per-epoch validation.
    """
    from tinyvision.checkpoint import load_model
    from tinyvision.datasets import load_dataset
    from tinyvision.evaluate import evaluate
    from tinyvision.inference import TTA, InferenceGraph
    from tinyvision.run import Run
    from tinyvision.training.setup import split

    run = Run(run_dir)
    cfg = run.config
    _, _, val_x, val_y = split(load_dataset(cfg.dataset, None, cfg.image_size), cfg)
    network, card = load_model(run.path, torch.device("cpu"))
    accuracy = {}
    for shift, flip in variants:
        graph = InferenceGraph(network, card.normalization, TTA(shift, flip)).eval()
        accuracy[f"shift{shift}{'+flip' if flip else ''}"] = evaluate(graph, val_x, val_y).accuracy
    return {"trial": f"tta-check:{run_dir.name}", "kind": "tta-check", "run": str(run.path.relative_to(REPO_ROOT)),
            "model": cfg.model, "epochs": cfg.epochs, "val_acc_by_tta": accuracy, "val_count": len(val_y)}


def append_trial(dataset: str, record: dict) -> Path:
    """Add a record to the dataset's trials file (every trial ever run stays in it)."""
    path = OUT_DIR / f"{dataset}-trials.json"
    data = json.loads(path.read_text()) if path.exists() else {
        "dataset": DATASETS[dataset],
        "chosen_on": "final-epoch val_acc on the run's own validation split; test accuracy not read",
        "trials": [],
    }
    data["trials"].append(record)
    return write_results(path, data)


def cli_command(dataset: str, options: dict, seed: int, out: Path) -> list[str]:
    """`tinyvision train ...` for a recipe: what a user types (every option has a flag)."""
    cmd = [sys.executable, "-m", "tinyvision", "train", "--dataset", DATASETS[dataset], "--seed", str(seed),
           "--out", str(out), "--progress", "lines"]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            cmd.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            cmd += [flag, str(value)]
    return cmd


def run_final(dataset: str, seeds: list[int], threads: int) -> dict:
    options = FINAL[dataset]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    runs = []
    for seed in seeds:
        out = RUNS_DIR / dataset / f"final-seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
        cmd = cli_command(dataset, options, seed, out)
        print("$", shlex.join(cmd), flush=True)
        load_before = load_average()
        started = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=REPO_ROOT, check=True)
        wall = time.perf_counter() - started
        metrics = json.loads((out / "metrics.json").read_text())
        runs.append({
            "seed": seed,
            "command": shlex.join(["python", *cmd[1:]]),
            "test_acc": metrics["test_acc"],  # read once, at the end of the run
            "val_acc": metrics["final"]["val_acc"],
            "train_seconds": round(metrics["train_seconds"], 1),
            "wall_seconds": round(wall, 1),
            "epoch_seconds": [round(r["epoch_seconds"], 1) for r in metrics["history"]],
            "load_average_before": load_before,
            "load_average_after": load_average(),
            "run": str(out.relative_to(REPO_ROOT)),
        })
    accs = [r["test_acc"] for r in runs]
    return {
        "dataset": DATASETS[dataset],
        "recipe": options,
        "threads": threads,
        "seeds": seeds,
        "test_acc_mean": statistics.mean(accs),
        "test_acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
        "train_seconds_median": statistics.median(r["train_seconds"] for r in runs),
        "wall_seconds_median": statistics.median(r["wall_seconds"] for r in runs),
        "runs": runs,
    }


def thread_factor(dataset: str, model: str, batches: int, repeats: int) -> dict:
    """Training seconds of the same short run at 1 and 2 torch threads, alternated; the best of each.

    Only meaningful on a quiet machine: the load average is recorded with each run.
    """
    seconds: dict[int, list[float]] = {1: [], 2: []}
    loads = []
    for i in range(repeats):
        for threads in (1, 2):
            out = RUNS_DIR / dataset / f"threads-{threads}-{i}-{time.strftime('%Y%m%d-%H%M%S')}"
            cmd = cli_command(dataset, dict(model=model, epochs=1, limit_batches=batches), 0, out) + ["--no-plots"]
            env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
            loads.append(load_average())
            subprocess.run(cmd, env=env, cwd=REPO_ROOT, check=True, capture_output=True)
            seconds[threads].append(json.loads((out / "metrics.json").read_text())["train_seconds"])
    best = {t: min(v) for t, v in seconds.items()}
    return {"kind": "thread-factor", "dataset": DATASETS[dataset], "model": model, "batches": batches,
            "train_seconds": seconds, "best": best, "factor": round(best[1] / best[2], 2), "load_averages": loads}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", choices=sorted(DATASETS))
    p.add_argument("--trials", help="comma-separated trial names (default: all of the dataset's)")
    p.add_argument("--seed", type=int, default=0, help="trials' seed (the same split for every trial)")
    p.add_argument("--final", action="store_true", help="run the chosen recipe over --seeds with the CLI")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared: 1)")
    p.add_argument("--cifar-folder", default="/tmp/cifar10-jpeg")
    p.add_argument("--list", action="store_true", help="print the trials and exit")
    p.add_argument("--dry-run", action="store_true", help="trials: 1 epoch of 2 batches each, nothing recorded")
    p.add_argument("--thread-factor", metavar="MODEL",
                   help="time a short run of MODEL at 1 and 2 threads (a quiet machine only)")
    p.add_argument("--tta-check", type=Path, metavar="RUN_DIR",
                   help="a trial's run: its validation accuracy under each test-time augmentation")
    args = p.parse_args()
    DATASETS["cifar10-jpeg"] = f"folder:{args.cifar_folder}"
    trials = TRIALS[args.dataset]
    if args.list:
        print(json.dumps(trials, indent=1))
        return
    torch.set_num_threads(args.threads)
    if args.thread_factor:
        batches = 60 if args.dataset == "cifar10-jpeg" else 200
        with recorded() as prov:
            record = thread_factor(args.dataset, args.thread_factor, batches, repeats=3)
        record["command"] = prov["command"]
        record["provenance"] = prov
        print(json.dumps({k: record[k] for k in ("train_seconds", "factor", "load_averages")}))
        path = OUT_DIR / f"{args.dataset}-threads.json"
        data = json.loads(path.read_text()) if path.exists() else {"measurements": []}
        data["measurements"].append(record)
        print("wrote", write_results(path, data))
        return
    if args.tta_check:
        flips = [False, True] if MIRROR_SAFE[args.dataset] else [False]
        with recorded() as prov:
            record = tta_check(args.dataset, args.tta_check.resolve(), [(s, f) for s in (0, 1) for f in flips])
        record["command"] = prov["command"]
        record["provenance"] = prov
        print(json.dumps(record["val_acc_by_tta"]))
        print("appended to", append_trial(args.dataset, record))
        return
    if args.final:
        with recorded() as prov:
            result = run_final(args.dataset, [int(s) for s in args.seeds.split(",")], args.threads)
        result["provenance"] = prov
        path = write_results(OUT_DIR / f"{args.dataset}-final.json", result)
        print(json.dumps({k: v for k, v in result.items() if k not in ("runs", "provenance")}, indent=1))
        print("wrote", path)
        return
    if args.threads == 1:
        time_epochs_in_cpu_seconds()
    names = args.trials.split(",") if args.trials else list(trials)
    unknown = [n for n in names if n not in trials]
    if unknown:
        p.error(f"unknown trial(s) {', '.join(unknown)}; see --list")
    for name in names:
        with recorded() as prov:
            record = run_trial(args.dataset, name, trials[name], args.seed, args.dry_run)
        print(json.dumps({k: record[k] for k in ("trial", "val_acc", "val_curve", "train_seconds", "train_cpu_seconds",
                                                 "cpu_share",
                                                 "load_average_before")}), flush=True)
        if not args.dry_run:
            record["provenance"] = prov
            print("appended to", append_trial(args.dataset, record), flush=True)


if __name__ == "__main__":
    main()

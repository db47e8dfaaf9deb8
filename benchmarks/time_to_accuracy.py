"""Time to accuracy on real MNIST: reference recipe A against tinyvision's presets.

In one process on one machine:
1. Recipe A exactly as the tutorial runs it: torchvision's MNIST Dataset with
   per-sample ToTensor + Normalize(0.5, 0.5), an 80/20 random_split, a
   DataLoader of batch 64, Adam 1e-3, the `tutorial-a` model. Per-sample
   loading is part of what that recipe costs, so it is kept. One epoch is
   timed (or --reference-epochs), and its 10-epoch time extrapolated.
2. tinyvision's presets (default: fast, default), each for every seed, with
   test accuracy measured after every epoch against training seconds.

Prints JSON (medians over seeds, ratios against the reference) and writes a
plot of test accuracy against training time.

    python benchmarks/time_to_accuracy.py --seeds 0,1,2 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from tinyvision.atomic import write_json
from tinyvision.config import build_config
from tinyvision.datasets.mnist import BUNDLED_DIR, FILES
from tinyvision.evaluate import evaluate
from tinyvision.models import create_model
from tinyvision.progress import Progress
from tinyvision.run_folder import RunFolder
from tinyvision.train import fit

REFERENCE_EPOCHS = 10  # the tutorial's recipe A trains for 10 epochs


def torchvision_layout(root: Path) -> Path:
    """The bundled MNIST, decompressed where torchvision.datasets.MNIST looks for it."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        (raw / name).write_bytes(gzip.decompress((BUNDLED_DIR / "mnist" / f"{name}.gz").read_bytes()))
    return root


def reference_recipe_a(root: Path, epochs: int, seed: int) -> dict:
    from torch.utils.data import DataLoader, random_split
    from torchvision import datasets, transforms

    torch.manual_seed(seed)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    full = datasets.MNIST(str(root), train=True, download=False, transform=tf)
    test = datasets.MNIST(str(root), train=False, download=False, transform=tf)
    train_set, _val_set = random_split(full, [48000, 12000], generator=torch.Generator().manual_seed(seed))
    loader = DataLoader(train_set, batch_size=64, shuffle=True)
    model = create_model("tutorial-a", (1, 28, 28), 10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    epoch_seconds = []
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        epoch_seconds.append(time.perf_counter() - start)
    model.eval()
    correct = 0
    with torch.inference_mode():
        for x, y in DataLoader(test, batch_size=1000):
            correct += (model(x).argmax(1) == y).sum().item()
    per_epoch = statistics.median(epoch_seconds)
    return {
        "epochs_run": epochs,
        "epoch_seconds": [round(s, 2) for s in epoch_seconds],
        "seconds_for_10_epochs": round(per_epoch * REFERENCE_EPOCHS if epochs < 10 else sum(epoch_seconds), 1),
        "test_acc_after_run": correct / len(test),
    }


def ours(preset: str, seed: int, out: Path) -> dict:
    cfg = build_config(preset, {"seed": seed})
    points = []

    def measure(setup, row) -> None:
        test = evaluate(setup.eval_model, setup.data.test_images, setup.data.test_labels, setup.norm,
                        setup.device, tta=setup.cfg.tta, flip=setup.cfg.tta_flip)
        points.append({"epoch": row["epoch"], "train_seconds": round(row["train_seconds"], 2),
                       "test_acc": test.accuracy})

    metrics, _ = fit(cfg, RunFolder(out / f"{preset}-seed{seed}"), Progress(cfg.epochs, bar=False,
                     out=io.StringIO()), on_epoch_end=measure)
    return {"preset": preset, "model": cfg.model, "epochs": cfg.epochs, "seed": seed,
            "final_test_acc": metrics["test_acc"], "train_seconds": round(metrics["train_seconds"], 2),
            "points": points}


def time_to(points: list[dict], target: float) -> float | None:
    hits = [p["train_seconds"] for p in points if p["test_acc"] >= target]
    return min(hits) if hits else None


def summarise(runs: list[dict], targets: tuple[float, ...]) -> dict:
    finals = [r["final_test_acc"] for r in runs]
    summary = {
        "final_test_acc_median": statistics.median(finals),
        "final_test_acc_mean": statistics.mean(finals),
        "final_test_acc_std": statistics.pstdev(finals),
        "train_seconds_median": statistics.median(r["train_seconds"] for r in runs),
    }
    for t in targets:
        times = [time_to(r["points"], t) for r in runs]
        reached = [x for x in times if x is not None]
        summary[f"seeds_reaching_{t}"] = f"{len(reached)}/{len(runs)}"
        # A seed that never reaches the target makes the median infinite, not smaller.
        median = statistics.median([x if x is not None else float("inf") for x in times])
        summary[f"median_seconds_to_{t}"] = None if median == float("inf") else median
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--presets", default="fast,default")
    parser.add_argument("--reference-epochs", type=int, default=1)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    targets = (0.992, 0.995, 0.9965)
    result: dict = {"machine": {"threads": torch.get_num_threads(), "torch": torch.__version__}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not args.skip_reference:
            result["reference_recipe_a"] = reference_recipe_a(torchvision_layout(tmp / "tv"), args.reference_epochs,
                                                              seeds[0])
        runs = {p: [ours(p, s, tmp / "runs") for s in seeds] for p in args.presets.split(",")}
    result["tinyvision"] = {p: {"summary": summarise(r, targets), "runs": r} for p, r in runs.items()}
    if "reference_recipe_a" in result:
        ref = result["reference_recipe_a"]["seconds_for_10_epochs"]
        times = [v["summary"]["median_seconds_to_0.992"] for v in result["tinyvision"].values()]
        times = [t for t in times if t is not None]
        result["speedup_to_99.2_vs_recipe_a_10_epochs"] = round(ref / min(times), 1) if times else None
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "time_to_accuracy.json", result)
    from tinyvision.plots import plot_time_to_accuracy

    plot_time_to_accuracy(result, args.out / "time_to_accuracy.png")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

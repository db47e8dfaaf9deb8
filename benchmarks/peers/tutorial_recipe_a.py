"""Peer: the classic PyTorch tutorial's recipe A on MNIST, in the tutorial's own pipeline.

What a reader of the tutorial runs, kept as it is: torchvision's MNIST Dataset
turning each image into a tensor and normalising it one sample at a time
(ToTensor + Normalize((0.5,), (0.5,))), an 80/20 random_split of the 60,000
training images, a shuffled DataLoader of batch 64 in the main process, the
tutorial's CNN "A", Adam at 1e-3 with cross-entropy for 10 epochs; validation
accuracy on the 20% after every epoch, test accuracy once, after the last.
The per-sample loading is part of what this recipe costs, so it is timed with
the steps. Uses no tinyvision code (only the MNIST files it bundles).

Prints one JSON document (per-epoch seconds and validation accuracy, test
accuracy, training seconds, the whole command's seconds, provenance):

    python benchmarks/peers/tutorial_recipe_a.py --out benchmarks/results/peers/tutorial_recipe_a.json
    python benchmarks/peers/tutorial_recipe_a.py --epochs 1 --limit-batches 5 --subset 2000   # smoke
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset, random_split

sys.path.append(str(Path(__file__).resolve().parents[1]))  # benchmarks/, last: for provenance
from mnist_files import BUNDLED, torchvision_folder  # noqa: E402
from provenance import process_seconds, recorded, write_results  # noqa: E402

EPOCHS = 10
BATCH = 64
LR = 1e-3
TRAIN_SHARE = 0.8


class TutorialCNN(nn.Module):
    """CNN "A": two blocks of conv3x3 (padding 1) + BatchNorm + ReLU + 2x2 max-pool, then 7*7*64 -> 128 -> 10."""

    def __init__(self) -> None:
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2))
        self.fc1 = nn.Linear(7 * 7 * 64, 128)
        self.dropout = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block2(self.block1(x))
        x = self.dropout(F.relu(self.fc1(x.flatten(1))))
        return self.fc2(x)


def datasets(root: Path, seed: int, subset: int | None):
    from torchvision import datasets as tv_datasets
    from torchvision import transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    full = tv_datasets.MNIST(str(root), train=True, download=False, transform=transform)
    test = tv_datasets.MNIST(str(root), train=False, download=False, transform=transform)
    if subset:  # smoke runs: the first `subset` images of each split
        full, test = Subset(full, range(min(subset, len(full)))), Subset(test, range(min(subset, len(test))))
    n_train = int(TRAIN_SHARE * len(full))
    train, val = random_split(full, [n_train, len(full) - n_train], generator=torch.Generator().manual_seed(seed))
    return train, val, test


def train_one_epoch(model: nn.Module, loader: DataLoader, opt: torch.optim.Optimizer, device: torch.device,
                    limit: int | None) -> tuple[float, float]:
    """(mean training loss, seconds); the seconds include the DataLoader's per-sample work."""
    model.train()
    total, batches = 0.0, 0
    start = time.perf_counter()
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
        batches += 1
        if limit and batches >= limit:
            break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return total / max(batches, 1), time.perf_counter() - start


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[float, float]:
    """(mean loss, accuracy) over every sample of `loader`."""
    model.eval()
    loss, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            n += len(y)
    return loss / n, correct / n


def run(args: argparse.Namespace, root: Path, device: torch.device) -> dict:
    torch.manual_seed(args.seed)
    train, val, test = datasets(root, args.seed, args.subset)
    train_loader = DataLoader(train, batch_size=BATCH, shuffle=True)
    val_loader = DataLoader(val, batch_size=BATCH)
    test_loader = DataLoader(test, batch_size=BATCH)
    model = TutorialCNN().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    epochs = []
    for epoch in range(1, args.epochs + 1):
        train_loss, seconds = train_one_epoch(model, train_loader, opt, device, args.limit_batches)
        start = time.perf_counter()
        val_loss, val_acc = evaluate(model, val_loader, device)
        epochs.append({"epoch": epoch, "seconds": round(seconds, 2), "train_loss": round(train_loss, 4),
                       "val_loss": round(val_loss, 4), "val_acc": val_acc,
                       "val_seconds": round(time.perf_counter() - start, 2)})
        print(f"epoch {epoch}/{args.epochs}  train_loss {train_loss:.4f}  val_acc {100 * val_acc:.2f}%  "
              f"time {seconds:.1f}s", file=sys.stderr)
    test_loss, test_acc = evaluate(model, test_loader, device)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_images": len(train), "val_images": len(val), "test_images": len(test),
        "epochs": epochs,
        "epoch_seconds": [e["seconds"] for e in epochs],
        "val_acc": [e["val_acc"] for e in epochs],
        "train_seconds": round(sum(e["seconds"] for e in epochs), 2),
        "test_loss": round(test_loss, 4),
        "test_acc": test_acc,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"the tutorial trains {EPOCHS}")
    parser.add_argument("--seed", type=int, default=0, help="model init, split and shuffling")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    parser.add_argument("--limit-batches", type=int, help="smoke runs: training batches per epoch")
    parser.add_argument("--subset", type=int, help="smoke runs: use the first N training and N test images")
    parser.add_argument("--data-dir", type=Path, default=BUNDLED, help="folder of the four MNIST IDX files")
    parser.add_argument("--device", default="auto", help="auto (CUDA if there is one), cpu, cuda")
    parser.add_argument("--out", type=Path, help="also write the JSON here (atomically)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    label = f"cuda: {torch.cuda.get_device_name(device)}" if device.type == "cuda" else device.type

    with recorded(device=label) as prov, tempfile.TemporaryDirectory() as tmp:
        result = {
            "peer": "tutorial_recipe_a",
            "recipe": {"model": "tutorial CNN A", "optimizer": "adam", "lr": LR, "batch_size": BATCH,
                       "epochs": args.epochs, "split": "random_split 80/20 of the training set",
                       "transform": "per-sample ToTensor + Normalize((0.5,), (0.5,))",
                       "loader": "DataLoader, shuffled, num_workers 0"},
            "seed": args.seed,
            "smoke": bool(args.limit_batches or args.subset),
            "limit_batches": args.limit_batches,
            "subset": args.subset,
            **run(args, torchvision_folder(Path(tmp), args.data_dir), device),
        }
    result["wall_seconds"] = process_seconds()
    result["provenance"] = prov
    if args.out:
        write_results(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

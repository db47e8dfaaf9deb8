"""Train the pair reader that ships with tinyvision: src/tinyvision/datasets/bundled/pair-reader/.

    OMP_NUM_THREADS=2 python scripts/make_pair_reader.py     # about 15 minutes on two cores

Its examples are drawn by `tinyvision.pair_reader.examples` from MNIST's training digits outside the
validation split of seed 0 (the split every reading rule is chosen on; never the test split) and from the
bundled non-digits' training set. Fresh examples each epoch. The held-out figures printed (and stored in the
file's metadata) are on pairs of seed 0's validation digits and the bundled held-out non-digits: a check
that training worked, not a choice.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tinyvision.atomic import atomic_path  # noqa: E402
from tinyvision.datasets import load_dataset, split_indices  # noqa: E402
from tinyvision.negatives import BUNDLED, load_negatives  # noqa: E402
from tinyvision.pair_reader import BUNDLE, NO_PAIR, VERSION, PairNet, examples  # noqa: E402

SEED = 0
EPOCHS = 4
PER_EPOCH = 80_000
BATCH = 128
PEAK_LR = 4e-3


def main() -> None:
    from safetensors.torch import save_file

    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    data = load_dataset("mnist")
    train, val = split_indices(len(data.train_images), 0.1, SEED)
    digits, labels = data.train_images[train, 0].numpy(), data.train_labels[train].numpy()
    negatives = load_negatives(*BUNDLED["train"])[:, 0].numpy()
    check_x, check_y = examples(data.train_images[val, 0].numpy(), data.train_labels[val].numpy(),
                                load_negatives(*BUNDLED["held_out"])[:, 0].numpy(), 4000,
                                np.random.default_rng(SEED + 1))
    net = PairNet()
    optimizer = torch.optim.AdamW(net.parameters(), lr=PEAK_LR / 10, weight_decay=1e-4)
    steps = EPOCHS * (PER_EPOCH // BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, PEAK_LR, total_steps=steps)
    start = time.perf_counter()
    for epoch in range(EPOCHS):
        x, y = examples(digits, labels, negatives, PER_EPOCH, rng)
        net.train()
        order = torch.randperm(PER_EPOCH)
        for i in range(PER_EPOCH // BATCH):
            batch = order[i * BATCH : (i + 1) * BATCH]
            loss = F.cross_entropy(net(x[batch].float() / 255.0), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        net.eval()
        with torch.no_grad():
            read = net(check_x.float() / 255.0).argmax(1)
        pairs = check_y != NO_PAIR
        figures = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - start, 1),
                   "held_out_pairs_read": round(float((read[pairs] == check_y[pairs]).float().mean()), 4),
                   "held_out_no_pairs_refused": round(float((read[~pairs] == NO_PAIR).float().mean()), 4)}
        print(json.dumps(figures), flush=True)
    state = {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    metadata = {"version": str(VERSION), "command": "python scripts/make_pair_reader.py", "seed": str(SEED),
                "figures": json.dumps(figures)}
    BUNDLE.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(BUNDLE) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    print(f"wrote {BUNDLE}")


if __name__ == "__main__":
    main()

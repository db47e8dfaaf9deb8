"""The training loop: one pure step, epochs of steps, validation after each epoch.

Data flow: uint8 split on the device -> batches sliced by a seeded permutation
-> augment -> normalise -> model -> loss -> optimizer. Everything random is
derived from the seed and the epoch, or saved in the training state, so a
resumed run ends exactly where an uninterrupted one would (on the CPU).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from tinyvision.augment import augment_batch
from tinyvision.config import RunConfig
from tinyvision.device import autocast
from tinyvision.evaluate import evaluate
from tinyvision.training.callbacks import Callbacks
from tinyvision.training.setup import Setup


class Interrupted(Exception):
    """Training stopped on request (Ctrl-C) after saving its state."""


@dataclass
class Position:
    """Where training stands, and the running sums of the epoch in progress."""

    epoch: int = 0  # epochs completed
    step: int = 0  # steps completed within the current epoch
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    train_seconds: float = 0.0  # time spent in training steps, all epochs
    epoch_start_seconds: float = 0.0  # train_seconds when the current epoch began
    history: list[dict] = field(default_factory=list)


def learning_rate(step: int, total_steps: int, cfg: RunConfig) -> float:
    """One-cycle: linear warm-up from lr/25 to lr, then linear decay to zero."""
    if cfg.schedule == "constant":
        return cfg.lr
    warmup = max(1, int(cfg.warmup_fraction * total_steps))
    if step < warmup:
        return cfg.lr * (0.04 + 0.96 * step / warmup)
    return cfg.lr * max(0.0, (total_steps - step) / max(1, total_steps - warmup))


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    label_smoothing: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step; returns (summed cross-entropy, correct count) as device tensors.

    The reported loss is plain cross-entropy, without label smoothing, so the
    train and validation curves measure the same thing.
    """
    with autocast(x.device):
        logits = model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    logits = logits.detach().float()
    if label_smoothing:
        loss = F.cross_entropy(logits, y)
    return loss.detach() * len(y), (logits.argmax(1) == y).sum()


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The epoch's permutation of the training set, a pure function of (seed, epoch)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def steps_per_epoch(n: int, batch_size: int, limit: int | None) -> int:
    # Drop the last partial batch: a tiny batch gives BatchNorm noisy statistics.
    steps = max(1, n // batch_size)
    return min(steps, limit) if limit is not None else steps


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer measures the work and not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_epoch(s: Setup, pos: Position, callbacks: Callbacks, stop: threading.Event) -> None:
    """Train from `pos` to the end of the epoch (or until `stop` is set), updating `pos`."""
    cfg, model = s.cfg, s.train_model
    n_steps = steps_per_epoch(len(s.train_x), cfg.batch_size, cfg.limit_batches)
    total_steps = n_steps * cfg.epochs
    order = epoch_order(len(s.train_x), cfg.seed, pos.epoch).to(s.device)
    model.train()
    callbacks.epoch_start(s, pos, n_steps)
    # Each rank sums over its own slice of the batches; the position holds the sums
    # over all ranks, so only rank 0 carries them on (one process: unchanged).
    loss_sum = torch.tensor(pos.loss_sum if s.dist.is_main else 0.0, device=s.device)
    correct = torch.tensor(pos.correct if s.dist.is_main else 0, device=s.device)
    while pos.step < n_steps and not stop.is_set():
        synchronize(s.device)
        started = time.perf_counter()
        idx = order[pos.step * cfg.batch_size : (pos.step + 1) * cfg.batch_size]
        # Every rank augments the whole global batch, then keeps its slice: the augmentation
        # RNG then runs as in one process, and stays the same on all ranks (for resume).
        xb = s.dist.shard(augment_batch(s.train_x[idx], cfg.augment_options(), s.aug_generator))
        x = s.norm.apply(xb).contiguous(memory_format=torch.channels_last)
        lr = learning_rate(pos.epoch * n_steps + pos.step, total_steps, cfg)
        for group in s.optimizer.param_groups:
            group["lr"] = lr
        step_loss, step_correct = train_step(model, s.optimizer, x, s.train_y[s.dist.shard(idx)], cfg.label_smoothing)
        if s.average is not None:
            s.average.update(model)
        loss_sum += step_loss
        correct += step_correct
        pos.seen += len(idx)
        pos.step += 1
        synchronize(s.device)
        elapsed = time.perf_counter() - started
        pos.train_seconds += elapsed
        callbacks.step(s, pos, step_loss / len(x), len(idx) / elapsed)
    pos.loss_sum, pos.correct = float(s.dist.sum(loss_sum)), int(s.dist.sum(correct))


def close_epoch(s: Setup, pos: Position) -> dict:
    """Validate the epoch's model and append its row to the history."""
    cfg = s.cfg
    s.dist.sync_buffers(s.eval_model)  # all ranks evaluate rank 0's weights, and agree
    val = evaluate(s.graph(), s.val_x, s.val_y, s.device, limit_batches=cfg.limit_batches)
    n_steps = steps_per_epoch(len(s.train_x), cfg.batch_size, cfg.limit_batches)
    row = {
        "epoch": pos.epoch + 1,
        "train_loss": pos.loss_sum / max(1, pos.seen),
        "train_acc": pos.correct / max(1, pos.seen),
        "val_loss": val.loss,
        "val_acc": val.accuracy,
        "lr": learning_rate((pos.epoch + 1) * n_steps - 1, n_steps * cfg.epochs, cfg),
        "epoch_seconds": pos.train_seconds - pos.epoch_start_seconds,
        "train_seconds": pos.train_seconds,
    }
    pos.history.append(row)
    pos.epoch += 1
    pos.step, pos.loss_sum, pos.correct, pos.seen = 0, 0.0, 0, 0
    pos.epoch_start_seconds = pos.train_seconds
    return row

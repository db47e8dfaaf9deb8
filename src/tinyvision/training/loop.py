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
from tinyvision.device import training_autocast
from tinyvision.evaluate import evaluate
from tinyvision.training.balance import balanced_order
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
    class_weights: torch.Tensor | None = None,
    outlier_weight: float = 0.0,
    precision: str = "fp32",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step; returns (summed cross-entropy, correct count) as device tensors.

    The reported loss is plain cross-entropy, without label smoothing or class
    weights, so the train and validation curves measure the same thing. Rows
    of `x` after the first `len(y)` are non-digits (outlier exposure): they
    add `outlier_weight` times their cross-entropy to a uniform prediction.
    `precision` bf16 runs the forward pass under autocast (`device.training_precision`).
    """
    with training_autocast(x.device, precision):
        logits = model(x).float()
        others = logits[len(y) :]
        logits = logits[: len(y)]
        loss = smoothed_cross_entropy(logits, y, label_smoothing, class_weights)
        if len(others):
            loss = loss + outlier_weight * uniform_cross_entropy(others)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    logits = logits.detach()
    if label_smoothing or class_weights is not None:
        loss = F.cross_entropy(logits, y)
    return loss.detach() * len(y), (logits.argmax(1) == y).sum()


def smoothed_cross_entropy(logits: torch.Tensor, y: torch.Tensor, smoothing: float,
                           class_weights: torch.Tensor | None) -> torch.Tensor:
    """Cross-entropy with label smoothing, each image weighted by its class's weight (--balance weights).

    PyTorch's `cross_entropy(weight=..., label_smoothing=...)` weights the smoothing term by every class's
    weight, not the image's: at 100:1 each majority image then paid the rare class's weight for not
    predicting it, "all rare class" was the cheapest answer, and a 99% folder trained to 1%. Here the
    weight is the image's own, on its whole smoothed target."""
    if class_weights is None or not smoothing:
        return F.cross_entropy(logits, y, weight=class_weights, label_smoothing=smoothing)
    log_p = logits.log_softmax(1)
    per_image = -(1 - smoothing) * log_p.gather(1, y[:, None])[:, 0] - smoothing * log_p.mean(1)
    weights = class_weights[y]
    return (weights * per_image).sum() / weights.sum()


def uniform_cross_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy between the softmax of `logits` and the uniform distribution over classes
    (Hendrycks et al., 2019): zero gradient only when no class is preferred."""
    return (torch.logsumexp(logits, 1) - logits.mean(1)).mean()


def rows_per_step(pool: torch.Tensor | None, share: float, s: Setup) -> int:
    """How many images of an extra pool (non-digits, font digits) join each global batch."""
    if pool is None or share <= 0:
        return 0
    return max(s.dist.world_size, round(share * s.cfg.batch_size))


def pool_rows(order: torch.Tensor, count: int, step: int) -> torch.Tensor:
    """Step `step`'s `count` rows of an extra pool, taken from the pool's order for the epoch, cycled."""
    return order[(step * count + torch.arange(count, device=order.device)) % len(order)]


def epoch_order(n: int, seed: int, epoch: int, sample_weights: torch.Tensor | None = None) -> torch.Tensor:
    """The epoch's permutation of the training set (or, with --balance sampler, its class-balanced
    draw), a pure function of (seed, epoch)."""
    if sample_weights is not None:
        return balanced_order(sample_weights, seed, epoch)
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
    order = epoch_order(len(s.train_x), cfg.seed, pos.epoch, s.sample_weights).to(s.device)
    # Extra rows per step: font digits, other writers' digits and cut digits (labelled), and non-digits (outlier
    # exposure), each drawn from its pool in an order that is a pure function of (seed, epoch, step), so
    # resume stays exact.
    extra = []  # (images, labels, rows per step, order) of each labelled pool in use
    pools = ((s.font_digits, cfg.font_digits, 104_729), (s.hand_digits, cfg.hand_digits, 130_363),
             (s.cut_digits, cfg.cut_digits, 155_921))
    for pool, share, offset in pools:
        n = rows_per_step(pool[0] if pool else None, share, s)
        if n:
            extra.append((*pool, n, epoch_order(len(pool[0]), cfg.seed + offset, pos.epoch).to(s.device)))
    n_extra = sum(n for *_, n, _ in extra)
    n_out = rows_per_step(s.negatives, cfg.outlier_share if cfg.outlier_exposure > 0 else 0.0, s)
    out_order = epoch_order(len(s.negatives), cfg.seed + 7919, pos.epoch).to(s.device) if n_out else None
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
        # A slice of the split on the device, or (a folder too large for memory) rows gathered
        # from its memory-mapped file and moved to the device.
        parts = [s.train_x[idx].to(s.device, non_blocking=True)]
        labels = [s.train_y[s.dist.shard(idx)]]
        for pool_x, pool_y, n, pool_order in extra:  # digits MNIST's writers never wrote
            pick = pool_rows(pool_order, n, pos.step)
            parts.append(pool_x[pick])
            labels.append(s.dist.shard(pool_y[pick]))
        if n_out:  # outlier exposure: non-digits, after all the digits
            parts.append(s.negatives[pool_rows(out_order, n_out, pos.step)])
        # One augmentation call for every row: each row draws its own parameters, so this is the same
        # distribution as a call per pool, for one pass of each op. Every rank augments the whole global
        # batch, then keeps its slice of each part: the augmentation RNG then runs as in one process, and
        # stays the same on all ranks (for resume).
        options = cfg.augment_options()
        strength = options.strength((pos.epoch * n_steps + pos.step) / total_steps)
        augmented = augment_batch(torch.cat(parts), options, s.aug_generator, strength)
        xb = torch.cat([s.dist.shard(part) for part in augmented.split([len(p) for p in parts])])
        y = torch.cat(labels)
        x = s.norm.apply(xb).contiguous(memory_format=torch.channels_last)
        lr = learning_rate(pos.epoch * n_steps + pos.step, total_steps, cfg)
        for group in s.optimizer.param_groups:
            group["lr"] = lr
        step_loss, step_correct = train_step(model, s.optimizer, x, y, cfg.label_smoothing, s.loss_weights,
                                             cfg.outlier_exposure, s.precision)
        if s.average is not None:
            s.average.update(model)
        loss_sum += step_loss
        correct += step_correct
        pos.seen += len(idx) + n_extra  # the rows train_step sums its loss over, all ranks
        pos.step += 1
        synchronize(s.device)
        elapsed = time.perf_counter() - started
        pos.train_seconds += elapsed
        callbacks.step(s, pos, step_loss / len(y), len(idx) / elapsed)
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

"""The training loop: data on the device, one pure step, epochs, checkpoints, resume.

Data flow: ImageData (uint8) -> train/val split on the device -> batches sliced
by a seeded permutation -> augment -> normalise -> model -> loss -> optimizer.
Everything random is derived from the seed and the epoch, or saved in the
training state, so a resumed run ends exactly where an uninterrupted one would
(on the CPU).
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tinyvision.augment import augment_batch
from tinyvision.checkpoint import ModelCard, load_train_state, load_weights, save_model, save_train_state
from tinyvision.config import RunConfig
from tinyvision.datasets import ImageData, load_dataset, split_indices
from tinyvision.device import autocast, configure_backends
from tinyvision.distributed import Distributed, check_batch_size, start_ranks
from tinyvision.ema import WeightAverage
from tinyvision.errors import TinyVisionError
from tinyvision.evaluate import confusion_matrix, evaluate, per_class_metrics, worst_mistakes
from tinyvision.models import count_parameters, create_model
from tinyvision.normalization import Normalization
from tinyvision.progress import Progress
from tinyvision.run_folder import RunFolder
from tinyvision.version import code_version


class Interrupted(Exception):
    """Training stopped on Ctrl-C after saving its state."""


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


def make_optimizer(model: nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    # Weight decay on BN scales and biases only fights the normalisation; skip them.
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)


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


@contextlib.contextmanager
def stop_on_sigint(enabled: bool = True) -> Iterator[dict]:
    """First Ctrl-C asks the loop to stop after the current step; a second one kills.

    Not under torchrun (`enabled=False`): each rank would see the signal at a
    different step, and stopping them together would cost a collective per
    step. There Ctrl-C ends the run; --resume continues from the last epoch.
    """
    flag = {"stop": False}
    if not enabled:
        yield flag
        return

    def handler(signum, frame):  # noqa: ARG001
        flag["stop"] = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: no handler, plain KeyboardInterrupt
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class Setup:
    """Everything a run holds in memory."""

    cfg: RunConfig
    data: ImageData
    device: torch.device
    model: nn.Module
    optimizer: torch.optim.Optimizer
    norm: Normalization
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    aug_generator: torch.Generator
    average: WeightAverage | None = None  # EMA of the weights, when cfg.ema > 0
    dist: Distributed = field(default_factory=Distributed)  # this process's rank; one rank without torchrun
    ddp: nn.Module | None = None  # under torchrun: the DistributedDataParallel wrapper of `model`

    @property
    def train_model(self) -> nn.Module:
        """What a training step calls: under torchrun, DDP, which averages gradients across ranks."""
        return self.ddp if self.ddp is not None else self.model

    @property
    def eval_model(self) -> nn.Module:
        """The model that is evaluated and saved: the weight average when there is one."""
        return self.average.model if self.average is not None else self.model


def prepare(cfg: RunConfig) -> Setup:
    data = load_dataset(cfg.dataset, Path(cfg.data_dir) if cfg.data_dir else None, cfg.image_size)
    dist = start_ranks(cfg.device)
    check_batch_size(cfg.batch_size, dist.world_size)
    device = dist.device
    configure_backends(device)
    torch.manual_seed(cfg.seed)
    train_idx, val_idx = split_indices(len(data.train_images), cfg.val_fraction, cfg.seed)
    train_x = data.train_images[train_idx]
    if cfg.normalization == "half":  # the tutorials' (x - 0.5) / 0.5
        norm = Normalization.uniform(data.input_shape[0], 0.5, 0.5)
    else:
        norm = Normalization.from_images(train_x)
    model = create_model(cfg.model, data.input_shape, len(data.classes))
    model = model.to(device, memory_format=torch.channels_last)
    model, ddp = dist.wrap(model, cfg.sync_bn)
    return Setup(
        cfg=cfg, data=data, device=device, model=model, optimizer=make_optimizer(model, cfg), norm=norm,
        train_x=train_x.to(device), train_y=data.train_labels[train_idx].to(device),
        val_x=data.train_images[val_idx].to(device), val_y=data.train_labels[val_idx].to(device),
        aug_generator=torch.Generator().manual_seed(cfg.seed + 1),
        average=WeightAverage(model, cfg.ema) if cfg.ema > 0 else None, dist=dist, ddp=ddp,
    )


def model_card(s: Setup, metrics: dict) -> ModelCard:
    return ModelCard(
        model=s.cfg.model, input_shape=s.data.input_shape, classes=s.data.classes,
        normalization=s.norm, dataset=s.data.name, config=s.cfg.to_dict(),
        code_version=code_version(), metrics=metrics,
    )


def training_state(s: Setup, pos: Position) -> dict:
    return {
        "position": {k: v for k, v in vars(pos).items() if k != "history"},
        "history": pos.history,
        "model": {k: v.detach().cpu() for k, v in s.model.state_dict().items()},
        "optimizer": s.optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if s.device.type == "cuda" else [],
        "aug_rng": s.aug_generator.get_state(),
        "average": s.average.state_dict() if s.average is not None else None,
    }


def restore(s: Setup, state: dict, source: Path) -> Position:
    load_weights(s.model, state["model"], source, s.cfg.model)
    s.optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] and s.device.type == "cuda":
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    s.aug_generator.set_state(state["aug_rng"])
    if s.average is not None:
        s.average.load_state_dict(state["average"])
    return Position(**state["position"], history=list(state["history"]))


def save_progress(s: Setup, pos: Position, run: RunFolder) -> None:
    save_train_state(run.state, training_state(s, pos))
    last = pos.history[-1] if pos.history else {}
    save_model(run.model, s.eval_model, model_card(s, {"val_acc": last.get("val_acc"), "epoch": pos.epoch}))


def run_epoch(s: Setup, pos: Position, progress: Progress, stop: dict) -> None:
    """Train from `pos` to the end of the epoch (or until asked to stop), updating `pos`."""
    cfg, model = s.cfg, s.train_model
    n_steps = steps_per_epoch(len(s.train_x), cfg.batch_size, cfg.limit_batches)
    total_steps = n_steps * cfg.epochs
    order = epoch_order(len(s.train_x), cfg.seed, pos.epoch).to(s.device)
    model.train()
    progress.start_epoch(pos.epoch + 1, n_steps, pos.step)
    # Each rank sums over its own slice of the batches; the position holds the sums
    # over all ranks, so only rank 0 carries them on (one process: unchanged).
    loss_sum = torch.tensor(pos.loss_sum if s.dist.is_main else 0.0, device=s.device)
    correct = torch.tensor(pos.correct if s.dist.is_main else 0, device=s.device)
    while pos.step < n_steps and not stop["stop"]:
        started = time.perf_counter()
        idx = order[pos.step * cfg.batch_size : (pos.step + 1) * cfg.batch_size]
        # Every rank augments the whole global batch, then keeps its slice: the augmentation
        # RNG then runs as in one process, and stays the same on all ranks (for resume).
        xb = s.dist.shard(augment_batch(s.train_x[idx], cfg.translate, cfg.hflip, s.aug_generator))
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
        if s.device.type == "cuda" and progress.wants_loss:
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - started
        pos.train_seconds += elapsed
        progress.step(step_loss.item() / len(x) if progress.wants_loss else None, len(idx) / elapsed)
    pos.loss_sum, pos.correct = float(s.dist.sum(loss_sum)), int(s.dist.sum(correct))


def close_epoch(s: Setup, pos: Position) -> dict:
    cfg = s.cfg
    s.dist.sync_buffers(s.eval_model)  # all ranks evaluate rank 0's weights, and agree
    val = evaluate(s.eval_model, s.val_x, s.val_y, s.norm, s.device, limit_batches=cfg.limit_batches,
                   tta=cfg.tta, flip=cfg.tta_flip)
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


def final_metrics(s: Setup, pos: Position) -> dict:
    test = evaluate(s.eval_model, s.data.test_images, s.data.test_labels, s.norm, s.device,
                    limit_batches=s.cfg.limit_batches, tta=s.cfg.tta, flip=s.cfg.tta_flip)
    cm = confusion_matrix(test.predictions, test.labels, len(s.data.classes))
    return {
        "model": s.cfg.model,
        "dataset": s.data.name,
        "parameters": count_parameters(s.model),
        "device": str(s.device),
        "world_size": s.dist.world_size,
        "epochs": pos.epoch,
        "train_seconds": pos.train_seconds,
        "final": pos.history[-1],
        "best_val": max(pos.history, key=lambda r: -math.inf if math.isnan(r["val_acc"]) else r["val_acc"]),
        "test_loss": test.loss,
        "test_acc": test.accuracy,
        "test_count": test.count,
        "classes": list(s.data.classes),
        "per_class": per_class_metrics(cm, s.data.classes),
        "confusion": cm.tolist(),
        "worst_mistakes": worst_mistakes(test),
        "history": pos.history,
        "code_version": code_version(),
    }


EpochHook = Callable[["Setup", dict], None]


def fit(
    cfg: RunConfig,
    run: RunFolder,
    progress: Progress,
    resume: bool = False,
    on_epoch_end: EpochHook | None = None,
) -> tuple[dict, Setup]:
    """Train (or resume) a run to the end; returns its final metrics and the in-memory setup.

    `on_epoch_end(setup, row)` runs after each epoch's checkpoint (benchmarks use
    it to measure test accuracy against training time; its time is not counted).
    """
    s = prepare(cfg)
    pos = Position()
    if resume:
        pos = restore(s, load_train_state(run.state), run.state)
        if pos.epoch >= cfg.epochs:
            raise TinyVisionError(f"{run.path} already finished its {cfg.epochs} epochs")
        progress.message(f"resuming {run.path} at epoch {pos.epoch + 1}, step {pos.step}")
    elif s.dist.is_main:  # under torchrun, rank 0 alone writes the run folder
        run.prepare_new()
        run.write_config(cfg)
    progress.message(
        f"{cfg.model}: {count_parameters(s.model):,} parameters | {s.data.name} "
        f"{len(s.train_x)} train / {len(s.val_x)} val / {len(s.data.test_images)} test | "
        f"device {s.device} | {s.dist.describe_batch(cfg.batch_size)} | {cfg.optimizer} lr {cfg.lr} {cfg.schedule}"
    )
    with stop_on_sigint(enabled=not s.dist.launched) as stop:
        while pos.epoch < cfg.epochs:
            run_epoch(s, pos, progress, stop)
            if stop["stop"]:
                save_progress(s, pos, run)
                raise Interrupted(
                    f"interrupted at epoch {pos.epoch + 1}, step {pos.step}; state saved. "
                    f"Continue with: tinyvision train --resume {run.path}"
                )
            row = close_epoch(s, pos)
            if s.dist.is_main:
                run.write_history(pos.history)
                save_progress(s, pos, run)
            progress.end_epoch(row)
            if on_epoch_end is not None:
                on_epoch_end(s, row)
    metrics = final_metrics(s, pos)
    if s.dist.is_main:
        save_model(run.model, s.eval_model, model_card(s, {
            "val_acc": metrics["final"]["val_acc"], "test_acc": metrics["test_acc"],
            "test_loss": metrics["test_loss"], "epoch": pos.epoch,
        }))
        run.write_metrics(metrics)
    return metrics, s

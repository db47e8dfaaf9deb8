"""Run setup: the dataset on the device, the train/validation split, normalisation, the model.

Everything a run holds in memory is one `Setup`; nothing here writes files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from tinyvision.config import RunConfig
from tinyvision.datasets import ImageData, spec_for, split_indices
from tinyvision.datasets.registry import DatasetSpec, load_dataset
from tinyvision.device import configure_backends
from tinyvision.distributed import Distributed, check_batch_size
from tinyvision.ema import WeightAverage
from tinyvision.inference import TTA, InferenceGraph
from tinyvision.models import create_model
from tinyvision.normalization import Normalization


@dataclass
class Setup:
    """Everything a run holds in memory."""

    cfg: RunConfig
    spec: DatasetSpec
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

    @property
    def tta(self) -> TTA:
        return TTA(self.cfg.tta, self.cfg.tta_flip)

    def graph(self, temperature: float = 1.0) -> InferenceGraph:
        """The inference path around the evaluated model: what validation, test and users see."""
        return InferenceGraph(self.eval_model, self.norm, self.tta, temperature)


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


def load_data(cfg: RunConfig, dist: Distributed) -> ImageData:
    """The dataset, with rank 0 first under torchrun: it downloads while the others wait."""
    data_dir = Path(cfg.data_dir) if cfg.data_dir else None
    if not dist.is_main:
        dist.barrier()
    data = load_dataset(cfg.dataset, data_dir, cfg.image_size)
    if dist.is_main:
        dist.barrier()
    return data


def split(data: ImageData, cfg: RunConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train_x, train_y, val_x, val_y): the dataset's own validation split, or a seeded share of train."""
    if data.val_images is not None:
        return data.train_images, data.train_labels, data.val_images, data.val_labels
    train_idx, val_idx = split_indices(len(data.train_images), cfg.val_fraction, cfg.seed)
    return (data.train_images[train_idx], data.train_labels[train_idx],
            data.train_images[val_idx], data.train_labels[val_idx])


def build_setup(cfg: RunConfig, dist: Distributed, data: ImageData | None = None) -> Setup:
    check_batch_size(cfg.batch_size, dist.world_size)
    data = data if data is not None else load_data(cfg, dist)
    device = dist.device
    configure_backends(device)
    train_x, train_y, val_x, val_y = split(data, cfg)
    if cfg.normalization == "half":  # the tutorials' (x - 0.5) / 0.5
        norm = Normalization.uniform(data.input_shape[0], 0.5, 0.5)
    else:
        norm = Normalization.from_images(train_x)
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    model = create_model(cfg.model, data.input_shape, len(data.classes))
    model = model.to(device, memory_format=torch.channels_last)
    model, ddp = dist.wrap(model, cfg.sync_bn)
    # From here on, random numbers (dropout) differ per rank: seed + rank.
    torch.manual_seed(cfg.seed + dist.rank)
    return Setup(
        cfg=cfg, spec=spec_for(cfg.dataset), data=data, device=device, model=model,
        optimizer=make_optimizer(model, cfg), norm=norm,
        train_x=train_x.to(device), train_y=train_y.to(device), val_x=val_x.to(device), val_y=val_y.to(device),
        aug_generator=torch.Generator().manual_seed(cfg.seed + 1),
        average=WeightAverage(model, cfg.ema) if cfg.ema > 0 else None, dist=dist, ddp=ddp,
    )

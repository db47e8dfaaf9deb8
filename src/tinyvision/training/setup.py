"""Run setup: the dataset on the device, the train/validation split, normalisation, the model.

Everything a run holds in memory is one `Setup`; nothing here writes files.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from tinyvision.config import RunConfig
from tinyvision.datasets import ImageData, spec_for, split_indices
from tinyvision.datasets.folder_cache import MappedImages
from tinyvision.datasets.registry import DatasetSpec, load_dataset
from tinyvision.datasets.split import SplitOptions
from tinyvision.device import configure_backends, training_precision
from tinyvision.distributed import Distributed, check_batch_size
from tinyvision.ema import WeightAverage
from tinyvision.errors import TinyVisionError
from tinyvision.inference import TTA, InferenceGraph
from tinyvision.models import create_model
from tinyvision.normalization import Normalization
from tinyvision.training.balance import loss_weights, sample_weights
from tinyvision.training.init_from import init_from


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
    loss_weights: torch.Tensor | None = None  # --balance weights: per-class loss weights, on the device
    sample_weights: torch.Tensor | None = None  # --balance sampler: each training image's chance per draw
    negatives: torch.Tensor | None = None  # outlier exposure: uint8 non-digits (negatives.py), on the device
    font_digits: tuple[torch.Tensor, torch.Tensor] | None = None  # (uint8 images, labels) in fonts, on the device
    hand_digits: tuple[torch.Tensor, torch.Tensor] | None = None  # ... by other writers than MNIST's
    cut_digits: tuple[torch.Tensor, torch.Tensor] | None = None  # ... cut from touching neighbours
    notes: list[str] = field(default_factory=list)  # what setup did that the user should hear (--init-from)
    dist: Distributed = field(default_factory=Distributed)  # this process's rank; one rank without torchrun
    ddp: nn.Module | None = None  # under torchrun: the DistributedDataParallel wrapper of `model`
    precision: str = "fp32"  # of the training steps, resolved from cfg.precision for this device

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


def load_data(cfg: RunConfig, dist: Distributed, saved_split: dict[str, str] | None = None,
              saved_shape: tuple[int, int, int] | None = None) -> ImageData:
    """The dataset, with rank 0 first under torchrun: it downloads (or decodes) while the others wait.

    A folder is split by the run's seed and shares, or as its saved split.json says (on resume), and
    decoded to the shape split.json records (on resume: the files of the run, as the run saw them).
    """
    data_dir = Path(cfg.data_dir) if cfg.data_dir else None
    if not dist.is_main:
        dist.barrier()
    split = SplitOptions(cfg.seed, cfg.val_fraction, cfg.test_fraction, saved_split, saved_shape)
    if saved_split is None and cfg.init_from:
        split = fine_tune_split(cfg, split)
    data = load_dataset(cfg.dataset, data_dir, cfg.image_size, split=split)
    if dist.is_main:
        dist.barrier()
    return data


def fine_tune_split(cfg: RunConfig, split: SplitOptions) -> SplitOptions:
    """A fine-tune on the folder its source run was split from keeps that split (its training files stay
    out of the new test split), and splits only the files added since (`SplitOptions.extend`). The folder
    moved or copied elsewhere is the same folder, as `evaluate` and `--resume` know it (`moved_here`):
    compared by path alone, a copy was split afresh, and the source's training images were scored as unseen."""
    from tinyvision.checkpoint import read_card, resolve_model_path
    from tinyvision.config import same_dataset
    from tinyvision.datasets.split import moved_here, split_beside

    source = resolve_model_path(Path(cfg.init_from).expanduser())
    files, _ = split_beside(source)
    if not files:
        return split
    source_dataset = read_card(source).dataset
    if not (same_dataset(source_dataset, cfg.dataset) or moved_here(source_dataset, cfg.dataset, source)):
        return split
    return dataclasses.replace(split, saved=files, extend=True)


def split(data: ImageData, cfg: RunConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train_x, train_y, val_x, val_y): the dataset's own validation split, or a seeded share of train."""
    if data.val_images is not None:
        return data.train_images, data.train_labels, data.val_images, data.val_labels
    train_idx, val_idx = split_indices(len(data.train_images), cfg.val_fraction, cfg.seed)
    return (data.train_images[train_idx], data.train_labels[train_idx],
            data.train_images[val_idx], data.train_labels[val_idx])


def on_device(images: torch.Tensor | MappedImages, device: torch.device) -> torch.Tensor | MappedImages:
    """A split moves to the device whole; one too large for memory stays in its memory-mapped
    file, and the loop gathers each batch from it (`folder_cache.MappedImages`)."""
    return images if isinstance(images, MappedImages) else images.to(device)


# What each digit-only option does, for the error that refuses it on a dataset of other images.
DIGIT_OPTIONS = {
    "outlier-exposure": "teaches a digit model what is not a digit",
    "font-digits": "adds digits in fonts", "hand-digits": "adds other writers' digits",
    "cut-digits": "adds digits cut from touching neighbours",
}


def require_digits(spec: DatasetSpec, option: str) -> None:
    """Refuse a digit-only option (DIGIT_OPTIONS) for a dataset that is not of digits."""
    if spec.preparation != "digit":
        raise TinyVisionError(f"--{option} {DIGIT_OPTIONS[option]}; {spec.name} is not a digit dataset "
                              f"(use --{option} 0)")


def check_digit_options(cfg: RunConfig, spec: DatasetSpec) -> None:
    """Every digit-only option the run asks for, refused before any data is loaded (or downloaded) when the
    dataset is not of digits."""
    shares = {"outlier-exposure": cfg.outlier_exposure, "font-digits": cfg.font_digits,
              "hand-digits": cfg.hand_digits, "cut-digits": cfg.cut_digits}
    for option, share in shares.items():
        if share > 0:
            require_digits(spec, option)


def load_outliers(cfg: RunConfig, spec: DatasetSpec, device: torch.device,
                  train_x: torch.Tensor | MappedImages | None = None) -> torch.Tensor | None:
    """The non-digits of outlier exposure, when the run asks for it (digit datasets only); with
    `merged_pairs`, also pairs of touching digits made from the training split (never validation's)."""
    if cfg.outlier_exposure <= 0:
        return None
    require_digits(spec, "outlier-exposure")
    from tinyvision.negatives import load_negatives

    negatives = load_negatives()
    if cfg.merged_pairs > 0 and train_x is not None:
        from tinyvision.merged_pairs import merged_pairs

        # A memory-mapped split gives just the 2 x COUNT digits the pairs are made of.
        source = train_x if isinstance(train_x, MappedImages) else train_x.cpu()
        negatives = torch.cat([negatives, merged_pairs(source, cfg.merged_pairs, cfg.seed)])
    return negatives.to(device)


def load_extra_digits(kind: str, share: float, spec: DatasetSpec, device: torch.device,
                      train: tuple | None = None, seed: int = 0) -> tuple | None:
    """Digits in fonts (`font`), by other writers (`hand`) or cut from touching neighbours (`cut`, made
    from the `train` split, never validation's, seeded by `seed`), mixed into a digit model's batches
    when the run asks for them (`share` > 0)."""
    if share <= 0:
        return None
    require_digits(spec, f"{kind}-digits")
    if kind == "font":
        from tinyvision.font_digits import load_font_digits

        images, labels = load_font_digits()
    elif kind == "cut":
        from tinyvision.cut_digits import POOL, cut_digits

        # A memory-mapped split gives just the 3 x POOL digits the cut digits are made of.
        train_x, train_y = train
        source = train_x if isinstance(train_x, MappedImages) else train_x.cpu()
        images, labels = cut_digits(source, train_y.cpu(), POOL, seed)
    else:
        from tinyvision import hand_digits

        images, labels = hand_digits.load_hand_digits("fit", variants=hand_digits.TRAIN_VARIANTS)
    return images.to(device), labels.to(device)


def build_setup(cfg: RunConfig, dist: Distributed, data: ImageData | None = None,
                saved_split: dict[str, str] | None = None, saved_shape: tuple[int, int, int] | None = None,
                init: bool = True) -> Setup:
    """`init`: apply --init-from (a resumed run has its own weights); `saved_split`, `saved_shape`: what a
    run's split.json says."""
    check_batch_size(cfg.batch_size, dist.world_size)
    spec = spec_for(cfg.dataset)
    check_digit_options(cfg, spec)
    data = data if data is not None else load_data(cfg, dist, saved_split, saved_shape)
    device = dist.device
    configure_backends(device)
    train_x, train_y, val_x, val_y = split(data, cfg)
    if cfg.normalization == "half":  # the tutorials' (x - 0.5) / 0.5
        norm = Normalization.uniform(data.input_shape[0], 0.5, 0.5)
    elif isinstance(train_x, MappedImages):  # chunks of ~8 MB: the float64 copy stays small
        norm = Normalization.from_images(train_x, chunk=max(1, (8 << 20) // train_x.store.row_bytes))
    else:
        norm = Normalization.from_images(train_x)
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    model = create_model(cfg.model, data.input_shape, len(data.classes))
    notes = []
    if cfg.init_from and init:
        notes.append(init_from(model, cfg.init_from, data.classes, cfg.model).line())
    model = model.to(device, memory_format=torch.channels_last)
    model, ddp = dist.wrap(model, cfg.sync_bn)
    # From here on, random numbers (dropout) differ per rank: seed + rank.
    torch.manual_seed(cfg.seed + dist.rank)
    return Setup(
        cfg=cfg, spec=spec, data=data, device=device, model=model,
        optimizer=make_optimizer(model, cfg), norm=norm,
        train_x=on_device(train_x, device), train_y=train_y.to(device),
        val_x=on_device(val_x, device), val_y=val_y.to(device),
        aug_generator=torch.Generator().manual_seed(cfg.seed + 1),
        average=WeightAverage(model, cfg.ema) if cfg.ema > 0 else None, dist=dist, ddp=ddp,
        loss_weights=loss_weights(train_y, len(data.classes)).to(device) if cfg.balance == "weights" else None,
        sample_weights=sample_weights(train_y, len(data.classes)) if cfg.balance == "sampler" else None,
        negatives=load_outliers(cfg, spec, device, train_x),
        font_digits=load_extra_digits("font", cfg.font_digits, spec, device),
        hand_digits=load_extra_digits("hand", cfg.hand_digits, spec, device),
        cut_digits=load_extra_digits("cut", cfg.cut_digits, spec, device, (train_x, train_y),
                                     cfg.seed),
        notes=notes, precision=training_precision(device, cfg.precision),
    )

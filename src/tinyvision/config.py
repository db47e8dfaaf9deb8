"""What a training run is: one typed dataclass, plus named presets.

`build_config` layers the defaults, the dataset's registry entry, a preset,
then the options the user gave (CLI flags or `tinyvision.train(...)`
keywords); the result is saved as `config.json` in the run folder and inside
every checkpoint, so a run can always be repeated or resumed.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from tinyvision.augment import POLICIES, AugmentOptions, policy_options
from tinyvision.device import PRECISIONS
from tinyvision.errors import TinyVisionError

BALANCE = ("none", "weights", "sampler")


# Past this a batch outgrows every dataset here, and the digit recipe's pools, drawn per batch, outgrow memory
# (a batch of 10**9 asked for 98 GB and ended in a traceback).
MAX_BATCH = 1 << 16


@dataclass
class RunConfig:
    dataset: str = "mnist"
    data_dir: str | None = None
    image_size: int | None = None  # folder: datasets: resize to NxN (default: the folder's most common size)
    model: str = "tvnet"
    epochs: int = 5
    batch_size: int = 128
    optimizer: str = "sgd"  # sgd (Nesterov momentum) | adam
    lr: float = 0.1  # peak learning rate of the schedule
    momentum: float = 0.9
    weight_decay: float = 5e-4  # applied to conv/linear weights only, never BN or biases
    schedule: str = "onecycle"  # onecycle (linear warm-up, then linear decay to 0) | constant
    warmup_fraction: float = 0.2
    label_smoothing: float = 0.1
    translate: int = 1  # random shift of each training image by up to this many pixels
    augment: str = "shift"  # shift | handwriting: also slant, rotation, pen width, wobble, blur, low-res scans
    outlier_exposure: float = 0.0  # weight of a loss pushing non-digits (negatives.py) to a uniform answer (0: off)
    outlier_share: float = 0.25  # non-digits added to each batch, as a share of the batch size
    merged_pairs: int = 0  # two touching training digits as one image, added to the non-digits (merged_pairs.py)
    font_digits: float = 0.0  # digits in fonts (font_digits.py) added to each batch, as a share of it (0: off)
    hand_digits: float = 0.0  # digits by other writers (hand_digits.py) added to each batch, as a share of it
    cut_digits: float = 0.0  # training digits cut from touching neighbours (cut_digits.py), a share of each batch
    # The "not a digit"/"unsure" threshold: this share of validation images is below (None: 0.3% for a digit
    # model trained with non-digits, by its energy score; 1% for others: calibration.default_quantile).
    reject_quantile: float | None = None
    hflip: bool = False  # random horizontal flips (photos only: a flipped digit is another glyph)
    ema: float = 0.995  # decay of an exponential moving average of the weights, evaluated and saved (0: off)
    tta: int = 0  # test-time augmentation: average predictions over shifts of up to N pixels
    tta_flip: bool = False  # ... and over mirror images (only for models trained with flips)
    normalization: str = "dataset"  # dataset: train-split statistics | half: mean 0.5, std 0.5
    val_fraction: float = 0.1
    test_fraction: float = 0.1  # one-folder datasets (folder:PATH/<class>/*): the share kept for testing
    balance: str = "none"  # none | weights (class-weighted loss) | sampler (class-balanced epochs)
    init_from: str | None = None  # start from another run's weights (layers of the same name and shape)
    tensorboard: bool = False  # write TensorBoard event files into the run folder
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    precision: str = "auto"  # training steps: auto (bf16 where the hardware has it) | fp32 | bf16
    limit_batches: int | None = None  # smoke runs: at most this many batches per loop
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over the global batch (CUDA only)
    preset: str | None = None
    extra: dict = field(default_factory=dict)

    def check_types(self) -> None:
        """Each option of the type its field declares (an API caller can pass anything; the CLI's parser has
        typed them already): `image_size="32"` is refused in one line, not deep inside the run. An integer
        passes for a float, numpy's numbers for Python's (stored as Python's, so config.json can hold
        them); a bool passes for nothing but a bool."""
        kinds = {"int": (numbers.Integral,), "float": (numbers.Real,), "str": (str,), "bool": (bool, np.bool_),
                 "dict": (dict,)}
        cast = {"int": int, "float": float, "bool": bool}
        words = {"int": "an integer", "float": "a number", "str": "a string", "bool": "True or False",
                 "dict": "a dict"}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind, _, optional = str(f.type).partition(" | ")
            if value is None and optional == "None":
                continue
            ok = isinstance(value, kinds[kind]) and (kind == "bool" or not isinstance(value, bool))
            if not ok:
                wanted = words[kind] + (" or None" if optional else "")
                raise TinyVisionError(f"{f.name} must be {wanted}, got {value!r}")
            if kind in cast:
                setattr(self, f.name, cast[kind](value))

    def validate(self) -> RunConfig:
        self.check_types()
        checks = [
            (self.epochs >= 1, "--epochs must be at least 1"),
            (1 <= self.batch_size <= MAX_BATCH, f"--batch-size must be from 1 to {MAX_BATCH:,}"),
            # (seeds are mixed, e.g. x 1,000,003, before they seed a generator: 2**63 overflowed)
            (0 <= self.seed < 2**32, "--seed must be from 0 to 4294967295 (2**32 - 1)"),
            (self.lr > 0 and math.isfinite(self.lr), "--lr must be a positive number"),
            (self.weight_decay >= 0 and math.isfinite(self.weight_decay), "--weight-decay must be >= 0"),
            (0 <= self.momentum < 1, "--momentum must be in [0, 1)"),
            (self.optimizer in ("sgd", "adam"), "--optimizer must be sgd or adam"),
            (self.schedule in ("onecycle", "constant"), "--schedule must be onecycle or constant"),
            (0 <= self.warmup_fraction < 1, "warm-up fraction must be in [0, 1)"),
            (0 <= self.label_smoothing < 1, "--label-smoothing must be in [0, 1)"),
            (0 <= self.val_fraction < 1, "--val-fraction must be in [0, 1)"),
            (0 <= self.test_fraction < 1, "--test-fraction must be in [0, 1)"),
            (self.val_fraction + self.test_fraction < 1, "--val-fraction + --test-fraction leave no training images"),
            (self.balance in BALANCE, f"--balance must be one of {', '.join(BALANCE)}"),
            (self.translate >= 0, "--translate must be >= 0"),
            (self.augment in POLICIES, f"--augment must be one of {', '.join(POLICIES)}"),
            (self.outlier_exposure >= 0, "--outlier-exposure must be >= 0 (0 turns it off)"),
            (0 < self.outlier_share <= 1, "outlier share must be in (0, 1]"),
            (self.merged_pairs >= 0, "--merged-pairs must be >= 0 (0 turns it off)"),
            (self.merged_pairs == 0 or self.outlier_exposure > 0,
             "--merged-pairs adds to outlier exposure's non-digits: it needs --outlier-exposure > 0"),
            (0 <= self.font_digits <= 1, "--font-digits must be in [0, 1]"),
            (0 <= self.hand_digits <= 1, "--hand-digits must be in [0, 1]"),
            (0 <= self.cut_digits <= 1, "--cut-digits must be in [0, 1]"),
            (self.reject_quantile is None or 0 <= self.reject_quantile < 0.5, "--reject-quantile must be in [0, 0.5)"),
            (0 <= self.ema < 1, "--ema must be in [0, 1) (e.g. 0.999; 0 turns it off)"),
            (0 <= self.tta <= 3, "--tta must be 0 (off) to 3 pixels"),
            (self.hflip or not self.tta_flip,
             "--tta-flip (on by default for fashion-mnist) needs --hflip, training on mirror images; "
             "or add --no-tta-flip"),
            (self.normalization in ("dataset", "half"), "normalization must be dataset or half"),
            (self.device in ("auto", "cpu", "cuda", "mps"), "--device must be auto|cpu|cuda|mps"),
            (self.precision in PRECISIONS, f"--precision must be {'|'.join(PRECISIONS)}"),
            (self.limit_batches is None or self.limit_batches >= 1, "--limit-batches must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise TinyVisionError(message)
        return self

    def augment_options(self) -> AugmentOptions:
        return policy_options(self.augment, translate=self.translate, hflip=self.hflip)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise TinyVisionError(f"config has unknown fields: {', '.join(sorted(unknown))}")
        return cls(**d)


def dataset_defaults(dataset: str) -> dict:
    """The recipe values the dataset's registry entry asks for (before presets and flags)."""
    from tinyvision.datasets.registry import spec_for

    return dict(spec_for(dataset).defaults)


# The speed and MNIST-test presets train on MNIST alone: the default digit recipe's handwriting
# augmentation, non-digits, font digits and other writers' digits buy robustness to other writers at
# about 3x the time.
PLAIN = dict(augment="shift", outlier_exposure=0.0, font_digits=0.0, hand_digits=0.0, cut_digits=0.0)

# The tutorials' recipes, kept faithful so their figures can be reproduced.
PRESETS: dict[str, dict] = {
    # Our default: 5 epochs of tvnet, SGD+Nesterov, one-cycle LR, label smoothing,
    # 1-pixel shifts, an EMA of the weights.
    "default": {},
    # The default of earlier releases: MNIST alone, the small tvnet, 1-pixel shifts. About three times as
    # fast to train as the default, a little more accurate on MNIST's test set, far weaker on other
    # people's handwriting.
    "plain": dict(model="tvnet", **PLAIN),
    # The shortest schedule that reaches 99.2% on MNIST: one epoch of the small tvnet, no
    # augmentation and no non-digits (an average of weights lags a schedule this short, so it is off).
    "fast": dict(model="tvnet", epochs=1, translate=0, ema=0.0, **PLAIN),
    # A longer, larger recipe: the wide tvnet, 10 epochs of shifts by up to 2 pixels and a slower
    # weight average (not re-measured, nor re-chosen on validation, in this release).
    "best": dict(model="tvnet-wide", epochs=10, translate=2, ema=0.999, **PLAIN),
    "tutorial-a": dict(
        model="tutorial-a", optimizer="adam", lr=1e-3, batch_size=64, epochs=10,
        schedule="constant", weight_decay=0.0, label_smoothing=0.0,
        normalization="half", val_fraction=0.2, translate=0, ema=0.0, **PLAIN,
    ),
    "tutorial-b": dict(
        model="tutorial-b", optimizer="sgd", lr=0.01, momentum=0.0, batch_size=100, epochs=5,
        schedule="constant", weight_decay=0.0, label_smoothing=0.0,
        normalization="half", val_fraction=0.2, translate=0, ema=0.0, **PLAIN,
    ),
    # The MLP with a good recipe (see README: why the tutorial's got 91%).
    "mlp": dict(model="mlp", epochs=10, lr=0.05, translate=1, ema=0.0, **PLAIN),
    # The tutorial's MLP recipe, for contrast: plain SGD at a small constant rate for three
    # epochs, no momentum, no regularisation. It stops near 91%, far short of what the
    # same network reaches with the `mlp` preset.
    "tutorial-mlp": dict(
        model="mlp", optimizer="sgd", lr=0.01, momentum=0.0, batch_size=100, epochs=3,
        schedule="constant", weight_decay=0.0, label_smoothing=0.0,
        normalization="half", val_fraction=0.2, translate=0, ema=0.0, **PLAIN,
    ),
}


def build_config(preset: str | None, overrides: dict) -> RunConfig:
    """Defaults, the dataset's defaults, the preset, then explicit overrides (None means 'not given')."""
    from tinyvision.datasets.registry import recipe_defaults

    dataset = overrides.get("dataset") or PRESETS.get(preset or "", {}).get("dataset") or RunConfig.dataset
    values: dict = recipe_defaults(dataset)  # (a folder of photos: with the batch its size suits)
    if preset is not None:
        if preset not in PRESETS:
            raise TinyVisionError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        values.update(PRESETS[preset])
        values["preset"] = preset
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["dataset"] = anchored(values.get("dataset", RunConfig.dataset))
    return RunConfig(**values).validate()


def anchored(dataset: str) -> str:
    """A folder dataset (`folder:PATH`, `digits:PATH`) with its PATH absolute: the run's config.json and
    split.json name it, and `evaluate` or `--resume` from another directory must find the same folder."""
    import os

    from tinyvision.datasets.registry import DIGITS_PREFIX, FOLDER_PREFIX

    for prefix in (FOLDER_PREFIX, DIGITS_PREFIX):
        if isinstance(dataset, str) and dataset.startswith(prefix) and len(dataset) > len(prefix):
            return prefix + os.path.abspath(os.path.expanduser(dataset[len(prefix):]))
    return dataset


def same_dataset(a: str, b: str) -> bool:
    """Whether two dataset names are one dataset: equal, or folder datasets of one folder, however their paths
    are spelled (relative, `~`, a trailing slash, a link to it; `folder:` or `digits:`, the same files)."""
    import os

    from tinyvision.datasets.registry import DIGITS_PREFIX, FOLDER_PREFIX

    if a == b:
        return True
    folders = [s for s in (a, b) if isinstance(s, str) and s.startswith((FOLDER_PREFIX, DIGITS_PREFIX))]
    if len(folders) < 2:
        return False
    return os.path.realpath(os.path.expanduser(a.split(":", 1)[1])) == os.path.realpath(os.path.expanduser(
        b.split(":", 1)[1]))

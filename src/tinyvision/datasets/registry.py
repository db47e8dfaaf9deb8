"""The dataset registry: everything tinyvision knows about a dataset, in one entry.

An entry says what the images are (`kind`), how users' images are prepared
for a model trained on it (`preparation`), which recipe suits it (`defaults`,
applied before any preset or flag) and how to load it. Training, evaluation,
predict, serve and `compare` all read these entries, so adding a dataset is
adding one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tinyvision.datasets.image_data import ImageData
from tinyvision.datasets.split import SplitOptions
from tinyvision.errors import TinyVisionError

FOLDER_PREFIX = "folder:"
DIGITS_PREFIX = "digits:"  # a folder of digit photos, prepared as MNIST's (see datasets/folder.py)
Loader = Callable[[Path | None, int | None], ImageData]
KINDS = ("digits", "clothes", "photos", "folder")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    kind: str  # digits | clothes | photos | folder
    preparation: str  # how users' images become inputs: "digit" (MNIST-style) | "resize"
    load: Loader  # (data_dir, image_size) -> ImageData
    description: str
    defaults: dict = field(default_factory=dict)  # recipe values, before any preset or flag
    fixed_size: bool = True  # False: --image-size may resize (folders)


def _mnist(data_dir: Path | None, image_size: int | None) -> ImageData:  # noqa: ARG001
    from tinyvision.datasets.mnist import MNIST, load_mnist_format

    return load_mnist_format(MNIST, data_dir)


def _fashion(data_dir: Path | None, image_size: int | None) -> ImageData:  # noqa: ARG001
    from tinyvision.datasets.mnist import FASHION_MNIST, load_mnist_format

    return load_mnist_format(FASHION_MNIST, data_dir)


def _cifar10(data_dir: Path | None, image_size: int | None) -> ImageData:  # noqa: ARG001
    from tinyvision.datasets.cifar10 import load_cifar10

    return load_cifar10(data_dir)


# Photos (CIFAR-like, users' folders): random crops (shifts with zero padding)
# and flips, and the colour CNN with its recipe. A photo's mirror image shows
# the same thing, so the prediction also averages each image with its mirror.
PHOTO_DEFAULTS = dict(
    model="tvresnet-wide", epochs=6, batch_size=256, lr=0.2, label_smoothing=0.2, translate=2, hflip=True,
    val_fraction=0.05, tta_flip=True,
)

REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    if spec.kind not in KINDS:
        raise ValueError(f"dataset {spec.name}: unknown kind {spec.kind!r}")
    REGISTRY[spec.name] = spec
    return spec


register(DatasetSpec(
    "mnist", "digits", "digit", _mnist, "28x28 gray handwritten digits (bundled with tinyvision)",
    # Digits: never flipped (a flipped 2 or 7 is not a 2 or 7). The recipe that reads other people's
    # handwriting, chosen on validation (benchmarks/digit_recipes.py): the handwriting augmentation,
    # non-digits pushed to a uniform answer (so "not a digit" can be said), digits in fonts and digits by
    # other writers (hand_digits.py) mixed in.
    defaults=dict(model="tvnet-digits", translate=1, hflip=False, augment="handwriting",
                  outlier_exposure=0.5, outlier_share=0.25, font_digits=0.125, hand_digits=0.125),
))
register(DatasetSpec(
    "fashion-mnist", "clothes", "resize", _fashion, "28x28 gray photos of clothes, 10 classes",
    # Clothes keep their class when mirrored. Model, shifts and flip TTA chosen on validation
    # (benchmarks/results/recipes/fashion-mnist-trials.json; the tta-check trial: flip 93.88%, none 93.60%).
    defaults=dict(model="tvnet-clothes", translate=1, hflip=True, epochs=12, tta_flip=True),
))
register(DatasetSpec(
    "cifar10", "photos", "resize", _cifar10, "32x32 colour photos, 10 classes (the official python archive)",
    defaults=PHOTO_DEFAULTS,
))


# A small folder trains in batches that give an epoch about this many steps (a power of two, 16 at least, the
# photo recipe's 256 at most): at 256 a folder of 750 photos took 2 steps an epoch, 12 in all, and ended at 100%
# on its training images and 41% on its test split. Chosen on validation (benchmarks/small_folders.py,
# results/small_folders.json, table small-folders in docs/datasets.md): CIFAR-10 folders of 300 to 5,000
# photos; scaling the learning rate with the batch as well changed nothing beyond the seeds' spread.
SMALL_FOLDER_STEPS = 25


def small_folder_batch(train_images: int, largest: int) -> int:
    """The batch size that gives `train_images` about SMALL_FOLDER_STEPS steps an epoch: a power of two
    from 16 to `largest` (the recipe's own)."""
    fitting = 2 ** max(0, int(train_images / SMALL_FOLDER_STEPS).bit_length() - 1)
    return int(min(largest, max(16, fitting)))


def recipe_defaults(name: str) -> dict:
    """The recipe a run of `name` starts from (before presets and flags): its entry's defaults, and for a folder
    of photos the batch that suits its size (`small_folder_batch`). The folder is listed for it here, where a
    run's recipe is built, not each time its entry is looked up (loading, evaluating, checking it)."""
    spec = spec_for(name)
    defaults = dict(spec.defaults)
    if spec.kind == "folder":
        from tinyvision.datasets.folder import train_count

        count = train_count(name)
        if count is not None:
            defaults["batch_size"] = small_folder_batch(count, defaults["batch_size"])
    return defaults


def folder_spec(name: str) -> DatasetSpec:
    from tinyvision.datasets.folder import load_folder, one_folder

    # One folder is split 80/10/10 (validation and test: shares of the whole folder); with train/
    # and test/, the photos' 5% of train/ is held out for validation.
    defaults = {**PHOTO_DEFAULTS, "val_fraction": 0.1} if one_folder(name) else PHOTO_DEFAULTS
    return DatasetSpec(
        name, "folder", "resize",
        lambda data_dir, image_size, split=None: load_folder(name, image_size, split),
        "your images: PATH/<class>/*, or PATH/train/<class>/* and PATH/test/<class>/*",
        defaults=defaults, fixed_size=False,
    )


def digits_folder_spec(name: str) -> DatasetSpec:
    from tinyvision.datasets.folder import load_folder

    return DatasetSpec(
        name, "digits", "digit",
        lambda data_dir, image_size, split=None: load_folder(name, image_size, split),
        "your photos of digits: PATH/<class>/* (or train/ and test/), each prepared as MNIST's digits",
        # MNIST's recipe on the MNIST model's input: --init-from a digit run keeps every layer.
        defaults=dict(model="tvnet-digits", translate=1, hflip=False, val_fraction=0.1), fixed_size=False,
    )


def is_folder(name: str) -> bool:
    """`folder:PATH` or `digits:PATH`: a user's own files (split by tinyvision, split.json, --image-size)."""
    return name.startswith((FOLDER_PREFIX, DIGITS_PREFIX))


def spec_for(name: str) -> DatasetSpec:
    """The registry entry for `name`, or a folder entry for `folder:PATH` / `digits:PATH`."""
    prefix, _, where = name.partition(":")
    if is_folder(name) and not where.strip():
        # An empty path would be the working directory: its sub-folders (docs/, src/) taken as classes.
        raise TinyVisionError(f"{prefix}: needs a folder after it, e.g. {prefix}:~/pictures (one sub-folder per class)")
    if name.startswith(FOLDER_PREFIX):
        return folder_spec(name)
    if name.startswith(DIGITS_PREFIX):
        return digits_folder_spec(name)
    if name not in REGISTRY:
        raise TinyVisionError(
            f"unknown dataset {name!r}; choose from {', '.join(REGISTRY)}, {FOLDER_PREFIX}PATH or {DIGITS_PREFIX}PATH"
        )
    return REGISTRY[name]


def load_dataset(name: str, data_dir: Path | None = None, image_size: int | None = None,
                 split: SplitOptions | None = None) -> ImageData:
    """Load the dataset registered as `name` (or `folder:PATH`), from `data_dir` or its default sources.

    `image_size` resizes folder datasets; a fixed-size dataset accepts only its own size.
    `split` says how a folder is split (seed, shares, or a run's saved split.json); other datasets
    bring their own test split.
    """
    spec = spec_for(name)
    if data_dir is not None and not spec.fixed_size:
        raise TinyVisionError(f"--data-dir does not apply to {name}: the path is part of the name")
    extra = {"split": split} if split is not None and is_folder(name) else {}
    data = spec.load(Path(data_dir) if data_dir is not None else None, image_size, **extra)
    _, h, w = data.input_shape
    if spec.fixed_size and image_size is not None and (image_size, image_size) != (h, w):
        raise TinyVisionError(
            f"--image-size {image_size} does not match {name}, whose images are {h}x{w} "
            f"(resizing applies to {FOLDER_PREFIX}PATH datasets only)"
        )
    return data

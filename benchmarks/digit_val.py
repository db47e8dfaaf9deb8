"""Validation sets for choosing the digit recipe, built from TRAINING-side sources only.

The evaluation sets of benchmarks/sets/ (other people's handwriting, EVAL
fonts, CIFAR-10, Fashion-MNIST, ...) are for the final figures alone. To
choose a recipe without looking at them, this module builds stand-ins from
what the training side may use:

    mnist-val-photo  MNIST validation digits (seed-0 split) as user photos (benchmarks/user_photos.py)
    mnist-val-pen    the same writers' digits redrawn with other pens: skeleton of the digit, drawn
                     again with a round pen from hairline to marker, then photographed
    mnist-val-scan   the same digits scanned at low resolution (6-12 px across the digit's box),
                     blown up again with a bicubic filter, on paper
    font-train       digits in TRAIN-group fonts (benchmarks/sets/training.py), handwriting and printed
    neg-train        non-digits from benchmarks/sets/training.py (TRAIN-font letters without digit
                     look-alikes, pen strokes, shapes, photo crops, textures, faces, noise, blank fields)
    neg-lookalike    TRAIN-font letters that can pass for digits (O, l, S, Z, ...), reported apart

Every image is written as a file's bytes and read back through the user
path (`tinyvision.image.prepare`: decode, find the ink, fit 20x20, centre by
mass), then cached as uint8 (N, 1, 28, 28) tensors with their labels in
~/.cache/tinyvision/digit-val/<name>.pt. Images the preparation refuses ("no
ink") are counted, not kept.

    python benchmarks/digit_val.py            # build (or reuse) every set, print a summary
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script, this folder leads sys.path: move it to the end, so that no script here can
    # shadow a standard-library module.
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _here] + [_here]

import io  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

HERE = Path(__file__).resolve().parent
CACHE = Path.home() / ".cache" / "tinyvision" / "digit-val"
VERSION = 1
COUNT = 2000


def _sets_module():
    """benchmarks/sets, imported with this folder *after* the standard library."""
    if str(HERE) not in sys.path:
        sys.path.append(str(HERE))
    import sets

    return sets


def png(gray: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, format="PNG")
    return buffer.getvalue()


def prepare_all(items: list[bytes]) -> tuple[torch.Tensor, list[int]]:
    """Image files' bytes -> uint8 (N, 1, 28, 28) as a user's image is prepared; indices of those kept."""
    from tinyvision.image.decode import ImageError
    from tinyvision.image.prepare import Preparation, prepare

    how = Preparation("digit", (1, 28, 28))
    out, kept = [], []
    for i, data in enumerate(items):
        try:
            out.append(prepare(data, how))
            kept.append(i)
        except ImageError:
            pass
    return (torch.stack(out) if out else torch.zeros(0, 1, 28, 28, dtype=torch.uint8)), kept


def mnist_validation(count: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` digits of MNIST's validation split as the default recipe draws it (seed 0, 10%)."""
    from tinyvision.datasets import load_dataset, split_indices

    data = load_dataset("mnist")
    _, val_idx = split_indices(len(data.train_images), 0.1, 0)
    pick = val_idx[torch.randperm(len(val_idx), generator=torch.Generator().manual_seed(seed))[:count]]
    return data.train_images[pick], data.train_labels[pick]


def on_paper(coverage: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage (0..1) -> a grey photo: dark ink on light paper (15%: light on dark), light ramp, noise."""
    h, w = coverage.shape
    pad = int(0.3 * max(h, w))
    cover = np.pad(coverage, pad)
    h, w = cover.shape
    paper, ink = rng.uniform(0.7, 0.97), rng.uniform(0.02, 0.35)
    if rng.random() < 0.15:
        paper, ink = 1 - paper, 1 - ink
    ramp = np.linspace(-0.5, 0.5, w)[None, :] * rng.uniform(-0.15, 0.15)
    sheet = paper + ramp + rng.normal(0, rng.uniform(0.0, 0.03), (h, w))
    image = sheet + (ink - sheet) * cover
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def redraw_with_pen(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit's skeleton drawn again with a round pen of another width, at 112 px."""
    from scipy.ndimage import binary_dilation
    from skimage.morphology import disk, skeletonize

    big = np.asarray(Image.fromarray(digit).resize((112, 112), Image.Resampling.BICUBIC), np.float32) / 255
    skeleton = skeletonize(big > 0.5)
    radius = int(rng.integers(0, 9))  # 0: a hairline; 8: a marker about a fifth of the digit's height
    stroke = binary_dilation(skeleton, disk(radius)) if radius else skeleton
    soft = Image.fromarray((stroke * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    return np.asarray(soft, np.float32) / 255


def scan_low_resolution(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit scanned at 6-12 px across its box (area average), blown up 6-16x again (bicubic)."""
    ink = digit.astype(np.float32) / 255
    rows, cols = np.nonzero(ink > 0)
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    side = int(rng.integers(6, 13))
    h, w = crop.shape
    scale = side / max(h, w)
    small = Image.fromarray(crop, "F").resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                              Image.Resampling.BOX)
    factor = rng.uniform(6, 16)
    size = (max(1, round(small.width * factor)), max(1, round(small.height * factor)))
    return np.clip(np.asarray(small.resize(size, Image.Resampling.BICUBIC)), 0, 1)


def build_mnist_photo(count: int) -> tuple[list[bytes], list[int]]:
    if str(HERE) not in sys.path:
        sys.path.append(str(HERE))
    from user_photos import STYLES, user_photo
    images, labels = mnist_validation(count, seed=1)
    rng = np.random.default_rng(101)
    files = [user_photo(images[i, 0].numpy(), STYLES[i % len(STYLES)], rng) for i in range(len(images))]
    return files, labels.tolist()


def build_mnist_redrawn(count: int, how, seed: int) -> tuple[list[bytes], list[int]]:
    images, labels = mnist_validation(count, seed=seed)
    rng = np.random.default_rng(seed + 100)
    return [png(on_paper(how(images[i, 0].numpy(), rng), rng)) for i in range(len(images))], labels.tolist()


def build_font_train(count: int) -> tuple[list[bytes], list[int]]:
    sets = _sets_module()
    files, labels = [], []
    for image, label, _ in sets.training_font_digits(count, seed=11, styles=("handwriting", "printed")):
        files.append(png(image))
        labels.append(label)
    return files, labels


def font_designs(half: int) -> list[tuple[str, list[str]]]:
    """Half of the TRAIN-group designs (0: even positions, 1: odd), handwriting and printed: one half to
    train on, the other to check that what fonts teach carries over to designs never seen."""
    _sets_module()
    from sets.training import _train_font_sources

    designs = _train_font_sources("handwriting") + _train_font_sources("printed")
    return designs[half::2]


def font_digits(count: int, seed: int, half: int) -> tuple[list[np.ndarray], list[int]]:
    """`count` digits (balanced 0-9) drawn like training_font_digits, from one half of the TRAIN designs."""
    _sets_module()
    from sets import fonts
    from sets.training import _on_ground, _pick_font

    rng = np.random.default_rng([seed, 15, half])
    sources = font_designs(half)
    images, labels = [], []
    while len(images) < count:
        _, source = _pick_font(rng, sources)
        label = len(images) % 10
        coverage = fonts.glyph(source, str(label), rng, hand=True)
        if coverage is None:
            continue
        images.append(_on_ground(coverage, rng)[0])
        labels.append(label)
    return images, labels


def font_letters(count: int, seed: int, half: int) -> list[np.ndarray]:
    """`count` letters A-Z a-z that do not pass for digits (benchmarks/sets/lettering.py's LOOKALIKES are left
    out), drawn like training_negatives' letters, from one half of the TRAIN designs."""
    import string

    _sets_module()
    from sets.lettering import LOOKALIKES
    from sets.training import letters_on_ground

    letters = "".join(c for c in string.ascii_letters if c not in LOOKALIKES)
    return letters_on_ground(np.random.default_rng([seed, 16, half]), font_designs(half), letters, count)


def build_font_half(count: int, seed: int, half: int) -> tuple[list[bytes], list[int]]:
    images, labels = font_digits(count, seed, half)
    return [png(i) for i in images], labels


def build_words(count: int, seed: int) -> tuple[list[bytes], list[int]]:
    """Whole words in TRAIN-group fonts (benchmarks/sets/words.py; the evaluation set uses EVAL fonts)."""
    _sets_module()
    from sets import fonts, words

    rng = np.random.default_rng([seed, 17])
    return [data for data, _, _ in words.render_words(rng, fonts.TRAIN, count)], [-1] * count


def build_negatives(count: int, lookalikes: bool) -> tuple[list[bytes], list[int]]:
    sets = _sets_module()
    if lookalikes:
        from sets.lettering import LOOKALIKES

        files = []
        for image, meta in sets.training_negatives(20 * count, seed=22, kinds=("letters",), lookalikes=True):
            if meta["char"] in LOOKALIKES:
                files.append(png(image))
            if len(files) == count:
                break
        return files, [-1] * len(files)
    files = [png(image) for image, _ in sets.training_negatives(count, seed=21)]
    return files, [-1] * len(files)


BUILDERS = {
    "mnist-val-photo": lambda: build_mnist_photo(COUNT),
    "mnist-val-pen": lambda: build_mnist_redrawn(COUNT, redraw_with_pen, seed=2),
    "mnist-val-scan": lambda: build_mnist_redrawn(COUNT, scan_low_resolution, seed=3),
    "font-train": lambda: build_font_train(COUNT),
    "font-check": lambda: build_font_half(COUNT, seed=31, half=1),  # the odd half of the TRAIN designs
    "font-fit": lambda: build_font_half(5000, seed=32, half=0),  # the even half: a training candidate
    "letters-fit": lambda: ([png(i) for i in font_letters(3000, seed=33, half=0)], [-1] * 3000),  # candidate
    "neg-letters-check": lambda: ([png(i) for i in font_letters(1000, seed=34, half=1)], [-1] * 1000),
    "neg-train": lambda: build_negatives(3000, lookalikes=False),
    "neg-words-check": lambda: build_words(600, seed=35),
    "neg-lookalike": lambda: build_negatives(500, lookalikes=True),
}
DIGIT_SETS = ("mnist-val-photo", "mnist-val-pen", "mnist-val-scan", "font-train")
NEGATIVE_SETS = ("neg-train", "neg-lookalike", "neg-letters-check")


def load_set(name: str, rebuild: bool = False) -> dict:
    """{images: uint8 (N,1,28,28), labels: (N,) (-1 for non-digits), refused: how many had no ink, ...}."""
    path = CACHE / f"{name}-v{VERSION}.pt"
    if path.is_file() and not rebuild:
        return torch.load(path, weights_only=True)
    start = time.perf_counter()
    files, labels = BUILDERS[name]()
    images, kept = prepare_all(files)
    result = {"name": name, "images": images, "labels": torch.tensor([labels[i] for i in kept]),
              "made": len(files), "refused": len(files) - len(kept), "seconds": round(time.perf_counter() - start, 1)}
    CACHE.mkdir(parents=True, exist_ok=True)
    torch.save(result, path)
    return result


def contact_sheet(name: str, path: Path, count: int = 96) -> None:
    images = load_set(name)["images"][:count, 0]
    rows = [torch.cat(list(images[r * 16 : (r + 1) * 16]), 1) for r in range(len(images) // 16)]
    sheet = torch.cat(rows, 0).numpy()
    Image.fromarray(sheet).resize((sheet.shape[1] * 2, sheet.shape[0] * 2), Image.Resampling.NEAREST).save(path)


def main() -> None:
    torch.set_num_threads(1)
    summary = {}
    for name in BUILDERS:
        s = load_set(name, rebuild="--rebuild" in sys.argv)
        summary[name] = {"kept": len(s["labels"]), "made": s["made"], "refused": s["refused"], "seconds": s["seconds"]}
        if "--sheets" in sys.argv:
            contact_sheet(name, CACHE / f"{name}.png")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

"""Choosing check-data's near-duplicate thresholds: copies found, and distinct images flagged.

`tinyvision check-data` calls two images near duplicates when their perceptual
hashes differ in at most NEAR_DISTANCE bits and their 16x16 gray thumbnails
correlate at least NEAR_CORRELATION (`datasets/data_check.py`). Both sides of
that choice are measured here, on training images only (CIFAR-10's train
photos, MNIST's train digits), through the project's own decoding and
fingerprints:

- recall: copies a user would call duplicates (re-saved as JPEG, half size,
  blurred, brightened, cropped by a pixel, shifted by one) of SOURCES images,
  each decoded as a folder dataset decodes its files;
- cost: pairs of distinct images in a sample of the same set that the rule
  flags (a sample can hold real duplicates: CIFAR-10 does).

    OMP_NUM_THREADS=1 python benchmarks/near_duplicates.py --cifar-train /tmp/cifar10-jpeg/train
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402

SOURCES = 400
SAMPLE = {"photos": 3000, "digits": 5000}
DISTANCE = 8
CORRELATIONS = (0.95, 0.97, 0.98, 0.985, 0.99)


def copies(image) -> dict[str, bytes]:
    """Files a user would call copies of `image` (a PIL image as the dataset holds it)."""
    from PIL import Image, ImageEnhance, ImageFilter

    def saved(picture, fmt="PNG", quality=75) -> bytes:
        buffer = io.BytesIO()
        picture.save(buffer, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
        return buffer.getvalue()

    w, h = image.size
    moved = np.pad(np.asarray(image), ((1, 0), (1, 0)) + ((0, 0),) * (np.asarray(image).ndim - 2), mode="edge")
    return {
        "JPEG q75": saved(image, "JPEG", 75), "JPEG q50": saved(image, "JPEG", 50),
        "JPEG q30": saved(image, "JPEG", 30),
        "half size": saved(image.resize((w // 2, h // 2), Image.Resampling.BILINEAR)),
        "blurred (radius 1)": saved(image.filter(ImageFilter.GaussianBlur(1.0))),
        "brightened 10%, JPEG q75": saved(ImageEnhance.Brightness(image).enhance(1.1), "JPEG", 75),
        "cropped 1 px each side": saved(image.crop((1, 1, w - 1, h - 1))),
        "shifted 1 px": saved(Image.fromarray(np.ascontiguousarray(moved[:h, :w]))),
    }


def fingerprints(images):
    """check-data's own fingerprints of uint8 (N, C, H, W) images: pixel hashes, pHashes, thumbnails."""
    from tinyvision.datasets.data_check import CheckInput
    from tinyvision.datasets.data_check import fingerprints as of

    n = len(images)
    inp = CheckInput(name="sample", classes=("x",), labels=np.zeros(n, np.int64), splits=np.zeros(n, np.int8),
                     ids=[str(i) for i in range(n)], images=lambda a, b: images[a:b], shape=tuple(images.shape[1:]))
    return of(inp, near=True)


def correlations(thumbs, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """As `near_duplicates` computes them: the normalised fp16 thumbnails' dot products, in float32."""
    return (thumbs[i].float() * thumbs[j].float()).sum(1).numpy() if len(i) else np.zeros(0)


def measure(images) -> dict:
    import torch
    from PIL import Image

    from tinyvision.datasets.hashing import near_pairs
    from tinyvision.image.prepare import Preparation, prepare

    preparation = Preparation("resize", tuple(images.shape[1:]))
    sources = images[:SOURCES]
    names, rows = [], []
    for x in sources:
        picture = Image.fromarray(x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy())
        for name, data in copies(picture).items():
            names.append(name)
            rows.append(prepare(data, preparation))  # as a folder dataset decodes a file
    made = torch.stack(rows)
    source = np.repeat(np.arange(len(sources)), len(rows) // len(sources))
    pixel_a, hash_a, thumbs_a = fingerprints(sources)
    pixel_b, hash_b, thumbs_b = fingerprints(made)
    bits = np.array([bin(int(v)).count("1") for v in (hash_a[source] ^ hash_b)])
    corr = correlations(torch.cat([thumbs_a, thumbs_b]), source, len(sources) + np.arange(len(made)))
    same = (pixel_a[source] == pixel_b).all(1)
    names = np.array(names)
    recall = {name: {str(c): round(float(((same | (bits <= DISTANCE) & (corr >= c))[names == name]).mean()), 4)
                     for c in CORRELATIONS} for name in dict.fromkeys(names)}
    pixel, phash, thumbs = fingerprints(images)
    pairs = near_pairs(phash, DISTANCE)
    i, j = pairs[:, 0], pairs[:, 1]
    corr = correlations(thumbs, i, j)
    distinct = ~(pixel[i] == pixel[j]).all(1)
    flagged = {str(c): int((distinct & (corr >= c)).sum()) for c in CORRELATIONS}
    return {"images": len(images), "sources": len(sources), "recall": recall, "distinct_pairs_flagged": flagged,
            "flagged_per_1000_images": {c: round(1000 * v / len(images), 2) for c, v in flagged.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cifar-train", type=Path, required=True,
                        help="CIFAR-10's train photos in class folders (the JPEG copy, unpacked)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "near_duplicates.json")
    args = parser.parse_args()

    import torch

    from tinyvision.datasets import load_dataset
    from tinyvision.image.prepare import Preparation, prepare

    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    files = sorted(args.cifar_train.glob("*/*.jpg"))
    if not files:
        raise SystemExit(f"no class folders of .jpg files in {args.cifar_train}")
    with recorded() as prov:
        photos = torch.stack([prepare(files[k].read_bytes(), Preparation("resize", (3, 32, 32)))
                              for k in rng.choice(len(files), SAMPLE["photos"], replace=False)])
        digits = load_dataset("mnist").train_images
        digits = digits[torch.from_numpy(np.sort(rng.choice(len(digits), SAMPLE["digits"], replace=False)))]
        result = {"about": __doc__.splitlines()[0], "distance": DISTANCE, "correlations": list(CORRELATIONS),
                  "photos": measure(photos), "digits": measure(digits)}
    result["provenance"] = prov
    write_results(args.out, result)
    print({k: result[k]["distinct_pairs_flagged"] for k in ("photos", "digits")})


if __name__ == "__main__":
    main()

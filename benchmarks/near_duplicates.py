"""Choosing check-data's near-duplicate thresholds: copies found, and distinct images flagged.

`tinyvision check-data` calls two images near duplicates when they are
candidates (perceptual hashes within NEAR_DISTANCE bits, or among each other's
NEAR_NEIGHBOURS nearest by centred thumbnail) and their gray thumbnails
correlate at least NEAR_CORRELATION, as they stand or at their best alignment
(`datasets/data_check.py`). Both sides of that choice are measured here, on
training images only (CIFAR-10's train photos, MNIST's train digits), through
the project's own decoding, fingerprints, candidates and correlations:

- recall: copies a user would call duplicates (re-saved as JPEG, half size,
  blurred, brightened, cropped by one or two pixels a side, shifted by one or
  two, mirrored) of SOURCES images, each decoded as a folder dataset decodes
  its files and searched for among the sample and every copy;
- cost: pairs of distinct images in a sample of the same set that the rule
  flags (a sample can hold real duplicates: CIFAR-10 does).

`--rule phash` measures the rule before the neighbours and the alignment
(candidates by pHash alone, 16x16 thumbnails as they stand).

For colour images the shipped rule also wants a pair to agree in colour
(NEAR_COLOUR). Its bar is measured on the photos at the shipped correlation
bar, at each of COLOURS: the copies found (recall), the largest colour
difference among the copies found without the colour test, the distinct pairs
flagged, and how many recoloured copies (red and green channels swapped, a
photo of another colour) are still flagged. The `recall` figures at each
correlation apply the colour test at NEAR_COLOUR as shipped.

    OMP_NUM_THREADS=1 python benchmarks/near_duplicates.py --cifar-train /tmp/cifar10-jpeg/train
    OMP_NUM_THREADS=1 python benchmarks/near_duplicates.py --cifar-train /tmp/cifar10-jpeg/train \
        --kinds photos --out benchmarks/results/near_duplicates_colour.json
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402

SOURCES = 400
SAMPLE = {"photos": 3000, "digits": 5000}
DISTANCE = 8
CORRELATIONS = (0.95, 0.97, 0.98, 0.985, 0.99)
COLOURS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.75, 1.0, 2.0)  # 2.0: no colour test (the largest difference)


def copies(image) -> dict[str, bytes]:
    """Files a user would call copies of `image` (a PIL image as the dataset holds it)."""
    from PIL import Image, ImageEnhance, ImageFilter, ImageOps

    def saved(picture, fmt="PNG", quality=75) -> bytes:
        buffer = io.BytesIO()
        picture.save(buffer, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
        return buffer.getvalue()

    w, h = image.size
    pixels = np.asarray(image)
    more = ((0, 0),) * (pixels.ndim - 2)
    moved = np.pad(pixels, ((1, 0), (1, 0)) + more, mode="edge")
    moved_2 = np.pad(pixels, ((2, 0), (0, 0)) + more, mode="edge")
    return {
        "JPEG q75": saved(image, "JPEG", 75), "JPEG q50": saved(image, "JPEG", 50),
        "JPEG q30": saved(image, "JPEG", 30),
        "half size": saved(image.resize((w // 2, h // 2), Image.Resampling.BILINEAR)),
        "blurred (radius 1)": saved(image.filter(ImageFilter.GaussianBlur(1.0))),
        "brightened 10%, JPEG q75": saved(ImageEnhance.Brightness(image).enhance(1.1), "JPEG", 75),
        "cropped 1 px each side": saved(image.crop((1, 1, w - 1, h - 1))),
        "cropped 2 px each side": saved(image.crop((2, 2, w - 2, h - 2))),
        "shifted 1 px": saved(Image.fromarray(np.ascontiguousarray(moved[:h, :w]))),
        "shifted 2 px down": saved(Image.fromarray(np.ascontiguousarray(moved_2[:h]))),
        "mirrored": saved(ImageOps.mirror(image)),
        "mirrored, half size": saved(ImageOps.mirror(image).resize((w // 2, h // 2),
                                                                   Image.Resampling.BILINEAR)),
        "mirrored, blurred (radius 1)": saved(ImageOps.mirror(image).filter(ImageFilter.GaussianBlur(1.0))),
    }


def fingerprints(images):
    """check-data's own fingerprints of uint8 (N, C, H, W) images."""
    from tinyvision.datasets.data_check import CheckInput
    from tinyvision.datasets.data_check import fingerprints as of

    n = len(images)
    inp = CheckInput(name="sample", classes=("x",), labels=np.zeros(n, np.int64), splits=np.zeros(n, np.int8),
                     ids=[str(i) for i in range(n)], images=lambda a, b: images[a:b], shape=tuple(images.shape[1:]))
    return of(inp, near=True)


def candidates(fp, rule: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs (i, j, mirrored) under check-data's rule or the pHash-only one."""
    from tinyvision.datasets import data_check
    from tinyvision.datasets.hashing import near_pairs

    if rule == "phash":
        pairs = near_pairs(fp.phash, DISTANCE)
        return pairs[:, 0], pairs[:, 1], np.zeros(len(pairs), np.int64)
    pairs = data_check.candidate_pairs(fp)  # with mirrored pairs for colour images; a pair may come twice
    return pairs[:, 0], pairs[:, 1], pairs[:, 3]


def flagged_pairs(fp, rule: str) -> tuple[np.ndarray, np.ndarray, dict[float, np.ndarray]]:
    """Candidate pairs (i, j) and, for each bar, their correlations as that bar judges them, under
    check-data's rule (with its colour test) or the pHash-only one."""
    from tinyvision.datasets import data_check

    i, j, flip = candidates(fp, rule)
    if rule == "phash":
        corr = data_check.thumb_correlations(fp, i, j)
        return i, j, {c: corr for c in CORRELATIONS}
    return i, j, {c: data_check.pair_correlations(fp, i, j, c, flip) for c in CORRELATIONS}


def colour_pairs(fp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """check-data's candidate pairs (i, j) that pass at the shipped colour-image correlation bar without
    the colour test, and their colour differences."""
    from tinyvision.datasets import data_check

    i, j, flip = candidates(fp, "shipped")
    corr = data_check.pair_correlations(fp, i, j, data_check.NEAR_CORRELATION, flip, colour=None)
    keep = corr >= data_check.NEAR_CORRELATION
    return i[keep], j[keep], data_check.colour_differences(fp, i[keep], j[keep], flip[keep])


def colour_recall(fp, n: int, sources: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of `sources` copies (row n + k, of row k): whether it is identical to its source, and the
    least colour difference among its pairs with its source that pass without the colour test (inf: none)."""
    i, j, difference = colour_pairs(fp)
    own = j == i + n
    least = np.full(sources, np.inf)
    np.minimum.at(least, i[own], difference[own])
    return (fp.pixel[:sources] == fp.pixel[n:n + sources]).all(1), least


def recoloured(images):
    """The same photos with their red and green channels swapped: as a red and a green disc, another
    colour, the same gray picture."""
    return images[:, [1, 0, 2]]


def measure_colour(images, made, names: np.ndarray, sources: int) -> dict:
    """The colour test's bar (COLOURS) at the shipped correlation bar: copies found, the largest colour
    difference among copies found without it, distinct pairs flagged, recoloured photos still flagged."""
    import torch

    n = len(images)
    out: dict = {"bars": list(COLOURS), "recall": {}, "largest_difference_of_a_copy": {},
                 "recoloured_flagged": {}}
    for name in [*dict.fromkeys(names.tolist()), "recoloured (red and green swapped)"]:
        copied = recoloured(images[:sources]) if name.startswith("recoloured") else made[names == name]
        same, least = colour_recall(fingerprints(torch.cat([images, copied])), n, sources)
        found = {str(c): round(float((same | (least <= c)).mean()), 4) for c in COLOURS}
        if name.startswith("recoloured"):
            out["recoloured_flagged"] = found
        else:
            out["recall"][name] = found
            finite = least[np.isfinite(least) & ~same]
            out["largest_difference_of_a_copy"][name] = round(float(finite.max()), 4) if len(finite) else None
    sample = fingerprints(images)
    i, j, difference = colour_pairs(sample)
    distinct = ~(sample.pixel[i] == sample.pixel[j]).all(1)
    out["distinct_pairs_flagged"] = {
        str(c): len(np.unique(np.stack([i, j], 1)[distinct & (difference <= c)], axis=0)) for c in COLOURS}
    return out


def measure(images, rule: str, sources: int = SOURCES) -> dict:
    import torch
    from PIL import Image

    from tinyvision.image.prepare import Preparation, prepare

    preparation = Preparation("resize", tuple(images.shape[1:]))
    names, rows = [], []
    for x in images[:sources]:
        picture = Image.fromarray(x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy())
        for name, data in copies(picture).items():
            names.append(name)
            rows.append(prepare(data, preparation))  # as a folder dataset decodes a file
    names = np.array(names)
    made = torch.stack(rows)
    sample = fingerprints(images)
    n = len(images)
    recall = {}
    for name in dict.fromkeys(names.tolist()):
        # The sample and one kind of copy searched together, as one folder holding them would be: a copy is
        # found when the pair (its source, it) is flagged, or when the two are identical.
        both = fingerprints(torch.cat([images, made[names == name]]))
        i, j, corr = flagged_pairs(both, rule)
        own = (j == i + n)  # copy k of this kind is row n + k, and its source is row k
        same = (both.pixel[:sources] == both.pixel[n:]).all(1)
        recall[name] = {}
        for c in CORRELATIONS:
            best = np.full(sources, -1.0)
            np.maximum.at(best, i[own], corr[c][own])
            recall[name][str(c)] = round(float((same | (best >= c)).mean()), 4)
    i, j, corr = flagged_pairs(sample, rule)
    distinct = ~(sample.pixel[i] == sample.pixel[j]).all(1)
    flagged = {str(c): len(np.unique(np.stack([i, j], 1)[distinct & (corr[c] >= c)], axis=0))  # each pair once
               for c in CORRELATIONS}
    out = {"images": len(images), "sources": sources, "recall": recall, "distinct_pairs_flagged": flagged,
           "flagged_per_1000_images": {c: round(1000 * v / len(images), 2) for c, v in flagged.items()}}
    if rule == "shipped" and not sample.gray:
        out["colour"] = measure_colour(images, made, names, sources)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cifar-train", type=Path, required=True,
                        help="CIFAR-10's train photos in class folders (the JPEG copy, unpacked)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rule", choices=("shipped", "phash"), default="shipped",
                        help="check-data's rule, or candidates by pHash alone with thumbnails as they stand")
    parser.add_argument("--kinds", default="photos,digits",
                        help="which sets to measure: photos (CIFAR-10, colour), digits (MNIST, gray)")
    parser.add_argument("--sources", type=int, default=SOURCES, help="images copied, for each kind of copy")
    parser.add_argument("--photos", type=int, default=SAMPLE["photos"], help="photos sampled")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "near_duplicates.json")
    args = parser.parse_args()

    import torch

    from tinyvision.datasets import data_check, load_dataset
    from tinyvision.image.prepare import Preparation, prepare

    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    files = sorted(args.cifar_train.glob("*/*.jpg"))
    if not files:
        raise SystemExit(f"no class folders of .jpg files in {args.cifar_train}")
    with recorded() as prov:
        photos = torch.stack([prepare(files[k].read_bytes(), Preparation("resize", (3, 32, 32)))
                              for k in rng.choice(len(files), args.photos, replace=False)])
        kinds = {"photos": photos}
        if "digits" in args.kinds.split(","):
            digits = load_dataset("mnist").train_images
            kinds["digits"] = digits[torch.from_numpy(np.sort(rng.choice(len(digits), SAMPLE["digits"],
                                                                         replace=False)))]
        shipped = args.rule == "shipped"
        result = {"about": __doc__.splitlines()[0], "rule": args.rule, "distance": DISTANCE,
                  "neighbours": data_check.NEAR_NEIGHBOURS if shipped else None,
                  "detail": data_check.NEAR_DETAIL if shipped else None,
                  "colour": data_check.NEAR_COLOUR if shipped else None,
                  "colour_eps": data_check.COLOUR_EPS if shipped else None,
                  "correlations": list(CORRELATIONS)}
        for kind, images in kinds.items():
            if kind in args.kinds.split(","):
                result[kind] = measure(images, args.rule, args.sources)
    result["provenance"] = prov
    write_results(args.out, result)
    print({k: result[k]["distinct_pairs_flagged"] for k in ("photos", "digits") if k in result})
    if "colour" in result.get("photos", {}):
        print(json.dumps(result["photos"]["colour"]))


if __name__ == "__main__":
    main()

"""Choosing how the reader clears a writer's marks (`image.marks`) on validation sets of our own.

A number underlined, boxed or circled by its writer (`number_photos.py build --paper marked`, from
MNIST's validation digits) should be read; a drawing whose outline holds other marks (a face, a clock,
a target, a house with a window, an eye, a planet, a framed scribble) should still be refused once its
outline is cleared: what is inside a face is no number. `doodles` draws those with a pen of our own
(never the evaluation sets' doodles), photographed in the user styles of benchmarks/user_photos.py.

Each variant sets constants of `image.marks` (NAME=VALUE, None for off; `off` clears no marks at all:
FRAME_CONTENT=None;UNDERLINE_WIDTH=None;HOLE_MARK=None)
and is read through `Model.predict` by one seed-0 run:

    python benchmarks/number_photos.py build --count 400 --paper marked --source val --seed 3 \\
        --out /tmp/numbers-marked-val
    OMP_NUM_THREADS=1 python benchmarks/marks_choices.py /tmp/tta4/default-seed0 \\
        --numbers /tmp/numbers-marked-val --variant off --variant default ... --out results/marks_choices.json
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _here] + [_here]

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

import numpy as np  # noqa: E402
from number_photos import PNG_SIGNATURE, _stroke, hand_ellipse, load_manifest, render, user_photos  # noqa: E402
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402

OFF = "FRAME_CONTENT=None;UNDERLINE_WIDTH=None;HOLE_MARK=None"  # the reader before image.marks
DOODLES = ("face", "clock", "target", "house", "eye", "planet", "framed-scribble", "sun")


def _closed(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A loop drawn past its start a little, as a pen closes it."""
    extra = max(2, int(len(points) * rng.uniform(0.03, 0.1)))
    return np.concatenate([points, points[1:extra]])


def _box(t: float, left: float, b: float, r: float, rng: np.random.Generator, size: float) -> np.ndarray:
    corners = np.array([[left, t], [r, t], [r, b], [left, b], [left, t]], float)
    corners += rng.uniform(-0.02, 0.02, corners.shape) * size
    corners[-1] = corners[0] + rng.uniform(-0.01, 0.03, 2) * size
    return corners


def doodle(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage (size x size) of one drawing of `kind`, in one pen."""
    c, r = size / 2, size * rng.uniform(0.3, 0.4)
    width = size * rng.uniform(0.02, 0.045)
    lines: list[np.ndarray] = []
    if kind == "face":
        lines.append(_closed(hand_ellipse(c, c, r, r * rng.uniform(0.9, 1.15), rng), rng))
        for side in (-1, 1):
            eye = hand_ellipse(c + side * r * 0.38, c - r * 0.3, r * rng.uniform(0.06, 0.14),
                           r * rng.uniform(0.08, 0.18), rng)
            lines.append(_closed(eye, rng))
        smile = rng.choice([-1, 1])
        lines.append(hand_ellipse(c, c + r * 0.2 - smile * 0.15 * r, r * 0.45, r * 0.25, rng,
                              turn=np.pi * 0.8, start=np.pi * (0.1 if smile > 0 else 1.1)))
    elif kind == "clock":
        lines.append(_closed(hand_ellipse(c, c, r, r, rng), rng))
        for angle in rng.uniform(0, 2 * np.pi, 2):
            length = r * rng.uniform(0.45, 0.8)
            lines.append(np.array([[c, c], [c + length * np.cos(angle), c + length * np.sin(angle)]]))
        if rng.random() < 0.5:
            for k in range(4):
                a = k * np.pi / 2
                lines.append(np.array([[c + 0.8 * r * np.cos(a), c + 0.8 * r * np.sin(a)],
                                       [c + 0.92 * r * np.cos(a), c + 0.92 * r * np.sin(a)]]))
    elif kind == "target":
        for k in range(int(rng.integers(2, 4))):
            scale = 1 - k * rng.uniform(0.28, 0.36)
            lines.append(_closed(hand_ellipse(c, c, r * scale, r * scale, rng), rng))
        lines.append(hand_ellipse(c, c, r * 0.05, r * 0.05, rng))
    elif kind == "house":
        t, b = c - r * 0.3, c + r
        lines.append(_box(t, c - r, b, c + r, rng, size))
        lines.append(np.array([[c - r * 1.1, t], [c, c - r * 1.05], [c + r * 1.1, t]]))
        wx = c + rng.choice([-1, 1]) * r * 0.45
        lines.append(_box(t + r * 0.25, wx - r * 0.25, t + r * 0.7, wx + r * 0.25, rng, size))
        if rng.random() < 0.5:
            dx = c - np.sign(wx - c) * r * 0.4
            lines.append(np.array([[dx - r * 0.2, b], [dx - r * 0.2, b - r * 0.75], [dx + r * 0.2, b - r * 0.75],
                                   [dx + r * 0.2, b]]))
    elif kind == "eye":
        lines.append(hand_ellipse(c, c + r * 0.5, r * 1.1, r * 0.9, rng, turn=np.pi * 0.7, start=np.pi * 1.15))
        lines.append(hand_ellipse(c, c - r * 0.5, r * 1.1, r * 0.9, rng, turn=np.pi * 0.7, start=np.pi * 0.15))
        lines.append(_closed(hand_ellipse(c, c, r * 0.32, r * 0.32, rng), rng))
        lines.append(hand_ellipse(c, c, r * 0.1, r * 0.1, rng))
    elif kind == "planet":
        lines.append(_closed(hand_ellipse(c, c, r * 0.7, r * 0.7, rng), rng))
        lines.append(_closed(hand_ellipse(c, c, r * 1.25, r * 0.3, rng), rng))
        if rng.random() < 0.5:
            lines.append(hand_ellipse(c - r * 0.2, c - r * 0.2, r * 0.12, r * 0.12, rng))
    elif kind == "framed-scribble":
        if rng.random() < 0.5:
            lines.append(_box(c - r, c - r, c + r, c + r, rng, size))
        else:
            lines.append(_closed(hand_ellipse(c, c, r, r, rng), rng))
        points = rng.uniform(c - 0.55 * r, c + 0.55 * r, (int(rng.integers(4, 9)), 2))
        lines.append(points)
    else:  # sun: a disc's outline with rays, and sometimes a face
        lines.append(_closed(hand_ellipse(c, c, r * 0.6, r * 0.6, rng), rng))
        rays = int(rng.integers(6, 12))
        for a in np.linspace(0, 2 * np.pi, rays, endpoint=False) + rng.uniform(0, 1):
            lines.append(np.array([[c + 0.75 * r * np.cos(a), c + 0.75 * r * np.sin(a)],
                                   [c + 1.1 * r * np.cos(a), c + 1.1 * r * np.sin(a)]]))
        if rng.random() < 0.5:
            for side in (-1, 1):
                lines.append(hand_ellipse(c + side * r * 0.22, c - r * 0.15, r * 0.06, r * 0.08, rng))
            lines.append(hand_ellipse(c, c + r * 0.05, r * 0.3, r * 0.2, rng, turn=np.pi * 0.8, start=np.pi * 0.1))
    alpha = np.zeros((size, size), np.float32)
    for points in lines:
        np.maximum(alpha, _stroke(points, width, alpha.shape), out=alpha)
    return alpha


def build_doodles(out: Path, count: int, seed: int) -> list[dict]:
    """`count` drawings, the kinds in turn, each in a random user style; manifest.json beside them."""
    rng = np.random.default_rng([seed, 11])
    styles = user_photos().STYLES
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for i in range(count):
        kind = DOODLES[i % len(DOODLES)]
        data = render(doodle(kind, int(rng.integers(150, 400)), rng), styles[int(rng.integers(len(styles)))], rng)
        name = f"{i:04d}-{kind}.{'png' if data.startswith(PNG_SIGNATURE) else 'jpg'}"
        (out / name).write_bytes(data)
        manifest.append({"file": name, "kind": kind})
    (out / "manifest.json").write_text(json.dumps({"seed": seed, "images": manifest}, indent=1))
    return manifest


def apply(variant: str) -> dict:
    """Set `image.marks` constants from 'NAME=VALUE;...' ('default': as shipped; 'off': no marks cleared)."""
    from segment_costs import reader_settings

    return reader_settings(OFF if variant == "off" else variant)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a seed-0 run of the default digit recipe")
    parser.add_argument("--numbers", type=Path, required=True, help="a --paper marked set from validation digits")
    parser.add_argument("--doodles", type=Path, default=Path("/tmp/doodles-val"), help="built here if missing")
    parser.add_argument("--doodle-count", type=int, default=400)
    parser.add_argument("--variant", action="append", default=None, metavar="NAME=VALUE;...|default|off")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "marks_choices.json")
    args = parser.parse_args()

    import torch
    from segment_costs import constants_of

    import tinyvision
    import tinyvision.image.marks as marks
    from tinyvision.checkpoint import stored_digest

    torch.set_num_threads(1)

    if not (args.doodles / "manifest.json").is_file():
        build_doodles(args.doodles, args.doodle_count, seed=1)
    doodles = json.loads((args.doodles / "manifest.json").read_text())["images"]
    numbers = load_manifest(args.numbers)
    model = tinyvision.load(args.checkpoint)
    shipped = constants_of(marks)
    with recorded() as prov:
        rows = [read_variant(v, model, numbers, doodles, args, shipped) for v in args.variant or ["default"]]
    kinds = ("FRAME_", "FORM_", "UNDERLINE_", "BAR_", "HOLE_")
    constants = {name: v for name, v in shipped.items() if name.startswith(kinds)}
    write_results(args.out, {"about": __doc__.splitlines()[0], "constants": constants, "numbers": str(args.numbers),
                             "numbers_count": len(numbers), "doodles": str(args.doodles),
                             "doodles_count": len(doodles), "run": str(args.checkpoint),
                             "weights_sha256": stored_digest(args.checkpoint), "variants": rows,
                             "provenance": prov})


def read_variant(variant: str, model, numbers: list[dict], doodles: list[dict], args, shipped: dict) -> dict:
    """One variant's figures: marked validation numbers read and misread, doodles refused."""
    from segment_costs import restore

    import tinyvision.image.marks as marks

    restore(marks, shipped)
    settings = apply(variant)
    start = time.perf_counter()
    counts, by_mark = Counter(), Counter()
    for e in numbers:
        label = model.predict(args.numbers / e["file"]).label
        outcome = "read" if label == e["number"] else "refused" if label is None else "misread"
        counts[outcome] += 1
        by_mark[(e["style"], outcome)] += 1
    refused = Counter(d["kind"] for d in doodles if model.predict(args.doodles / d["file"]).label is None)
    row = {
        "variant": variant, "settings": settings,
        "numbers_read": round(counts["read"] / len(numbers), 4),
        "numbers_misread": round(counts["misread"] / len(numbers), 4),
        "numbers_by_mark": {m: round(by_mark[(m, "read")] / max(1, sum(by_mark[(m, o)] for o in
                                                                        ("read", "refused", "misread"))), 4)
                            for m in sorted({e["style"] for e in numbers})},
        "doodles_refused": round(sum(refused.values()) / len(doodles), 4),
        "doodles_by_kind": {k: round(refused[k] / sum(d["kind"] == k for d in doodles), 4) for k in DOODLES},
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(row), flush=True)
    return row


if __name__ == "__main__":
    main()

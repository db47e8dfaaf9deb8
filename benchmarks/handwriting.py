"""Digits beyond MNIST's writers, and things that are not digits, read the way users' files are read.

Every image of the evaluation sets (benchmarks/build_sets.py; other people's
handwriting, EVAL-group fonts, printed digits, letters, CIFAR-10 photos,
Fashion-MNIST clothes, other marks; of the UCI sets only the test writers,
since the default recipe trains on the training writers) and user-style
photos of MNIST *test* digits (benchmarks/user_photos.py) is read from its file by
`tinyvision.load(run).predict(path)`, the user path (decode, find the digits,
prepare each as MNIST did, classify, abstain under the card's threshold).
The same files are also read as one digit each (`model.prepare(path)` then
the model's inference path), which isolates the classifier from the
segmentation of numbers.

Per digit set: accuracy (the right digit and nothing else), refused (no
answer: "not a digit", or an image the reader cannot use), misread. Per
non-digit set: refused (higher is better), letters also without the letters
that can pass for digits. Nothing here chooses anything: recipes are chosen
on validation (benchmarks/digit_recipes.py); this is the final measurement.

    python benchmarks/handwriting.py RUN_DIR [RUN_DIR ...]      # writes benchmarks/results/handwriting.json
    python benchmarks/handwriting.py RUN_DIR --limit 200 --out /tmp/hw.json   # a quick look
    python benchmarks/handwriting.py RUN_DIR --sets words --reader SEVERAL_CUT_BAR=None --out ...
        # the same runs read with a rule of the number reader changed: a rule's before and after
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _here] + [_here]

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "handwriting.json"
HANDWRITING = ("hand-optdigits", "hand-pendigits", "hand-pyclustering", "font-digits")  # not MNIST's writers
USER_PHOTOS = "user-photos-mnist-test"
# The UCI training writers of optdigits and pendigits are training data (src/tinyvision/hand_digits.py,
# scripts/make_hand_digits.py): only their test writers are measured here.
TRAINING_WRITERS = frozenset({"uci-train-30-writers"})


def sets_root(root: Path | None) -> Path:
    if str(HERE) not in sys.path:
        sys.path.append(str(HERE))
    from sets import default_root

    return (root or default_root()).expanduser()


def read_manifest(folder: Path, limit: int | None) -> tuple[dict, list[dict]]:
    manifest = json.loads((folder / "manifest.json").read_text())
    items = [i for i in manifest["items"] if i.get("writer_group") not in TRAINING_WRITERS]
    if limit is not None and len(items) > limit:  # spread over the set: every variant and class
        items = items[:: max(1, len(items) // limit)][:limit]
    return manifest, items


def user_photo_files(folder: Path, count: int, seed: int = 0) -> list[dict]:
    """User-style photos of MNIST test digits (benchmarks/user_photos.py), written into `folder`."""
    if str(HERE) not in sys.path:
        sys.path.append(str(HERE))
    from user_photos import STYLES, user_photo

    from tinyvision.datasets import load_dataset

    data = load_dataset("mnist")
    rng = np.random.default_rng(seed)
    index = rng.choice(len(data.test_labels), count, replace=False)
    items = []
    for i, k in enumerate(index):
        style = STYLES[i % len(STYLES)]
        name = f"{i:04d}-{style}.{'png' if style.endswith('png') else 'jpg'}"
        (folder / name).write_bytes(user_photo(data.test_images[k, 0].numpy(), style, rng))
        items.append({"file": name, "label": int(data.test_labels[k]), "variant": style})
    return items


def read_all(models: list, folder: Path, items: list[dict]) -> list[list[dict]]:
    """Each file through each model's user path, and through the one-digit path (prepared once: the
    digit preparation does not depend on the model). One list of rows per model."""
    from tinyvision.calibration import refused_mask
    from tinyvision.errors import TinyVisionError

    out: list[list[dict]] = [[] for _ in models]
    for item in items:
        path = folder / item["file"]
        try:
            prepared = models[0].prepare(path)[None]
        except TinyVisionError:
            prepared = None
        for model, rows in zip(models, out):
            row: dict = {}
            try:
                p = model.predict(path)
                row.update(label=p.label, reason=p.reason, digits=len(p.digits) or (1 if p.label is not None else 0))
            except TinyVisionError as exc:
                row.update(label=None, reason=f"error: {exc}"[:80])
            if prepared is None:
                row.update(one=None, confidence=0.0, one_refused=True)
            else:
                logits = model.logits(prepared)
                probs = logits.softmax(1)[0]
                row.update(one=int(probs.argmax()), confidence=float(probs.max()),
                           one_refused=bool(refused_mask(logits, model.card.reject)[0]))
            rows.append(row)
    return out


def share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def digit_figures(items: list[dict], rows: list[dict]) -> dict:
    truth = [str(i["label"]) for i in items]
    return {
        "count": len(items),
        "accuracy": share([r["label"] == t for r, t in zip(rows, truth)]),
        "refused": share([r["label"] is None for r in rows]),
        "misread": share([r["label"] is not None and r["label"] != t for r, t in zip(rows, truth)]),
        "one_digit_accuracy": share([r["one"] is not None and str(r["one"]) == t for r, t in zip(rows, truth)]),
        "one_digit_refused": share([r["one_refused"] for r in rows]),
        "one_digit_accuracy_answered": share([str(r["one"]) == t for r, t in zip(rows, truth) if not r["one_refused"]]),
    }


def negative_figures(items: list[dict], rows: list[dict]) -> dict:
    return {
        "count": len(items),
        "refused": share([r["label"] is None for r in rows]),
        "one_digit_refused": share([r["one_refused"] for r in rows]),
    }


def by(items: list[dict], rows: list[dict], key: str, figures) -> dict:
    groups: dict = {}
    for item, row in zip(items, rows):
        groups.setdefault(str(item.get(key)), ([], []))
        groups[str(item.get(key))][0].append(item)
        groups[str(item.get(key))][1].append(row)
    return {k: figures(i, r) for k, (i, r) in sorted(groups.items())}


def measure(runs: list[Path], root: Path, names: list[str], limit: int | None, photos: int) -> list[dict]:
    import tinyvision
    from tinyvision.checkpoint import stored_digest

    models = [tinyvision.load(run) for run in runs]
    results = [{"run": str(run), "weights_sha256": stored_digest(run), "model": m.card.model,
                "config": m.card.config, "reject": m.card.reject,
                "temperature": m.card.temperature, "mnist_test_acc": m.card.metrics.get("test_acc"), "sets": {}}
               for run, m in zip(runs, models)]
    for name in names:
        start = time.perf_counter()
        if name == USER_PHOTOS:
            with tempfile.TemporaryDirectory() as tmp:
                items = user_photo_files(Path(tmp), photos)
                per_model = read_all(models, Path(tmp), items)
            kind = "digits"
        else:
            manifest, items = read_manifest(root / name, limit)
            per_model = read_all(models, root / name, items)
            kind = manifest["kind"]
        seconds = round(time.perf_counter() - start, 1)
        for result, rows in zip(results, per_model):
            result["sets"][name] = set_figures(name, kind, items, rows)
            result["sets"][name]["seconds_all_models"] = seconds
            entry = result["sets"][name]
            print(f"handwriting: {Path(result['run']).name} {name}: "
                  f"{json.dumps({k: v for k, v in entry.items() if not isinstance(v, dict)})}", file=sys.stderr)
    for result in results:
        sets = result["sets"]
        hand = [sets[n] for n in HANDWRITING if n in sets]
        if hand:  # pooled over every handwriting image not from MNIST
            total = sum(s["count"] for s in hand)
            result["handwriting_pooled"] = {
                k: round(sum(s[k] * s["count"] for s in hand) / total, 4)
                for k in ("accuracy", "refused", "one_digit_accuracy", "one_digit_refused")}
            result["handwriting_pooled"]["count"] = total
    return results


def set_figures(name: str, kind: str, items: list[dict], rows: list[dict]) -> dict:
    figures = digit_figures if kind == "digits" else negative_figures
    entry = {"kind": kind, **figures(items, rows), "by_variant": by(items, rows, "variant", figures)}
    if name in ("letters", "words"):
        plain = [(i, r) for i, r in zip(items, rows) if i.get("lookalike") is None]
        entry["without_lookalikes"] = negative_figures([i for i, _ in plain], [r for _, r in plain])
        look = [(i, r) for i, r in zip(items, rows) if i.get("lookalike") is not None]
        entry["lookalikes_only"] = negative_figures([i for i, _ in look], [r for _, r in look])
    if name in ("photos-cifar10", "clothes-fashion", "other-marks"):
        entry["by_kind"] = by(items, rows, "kind", negative_figures)
    if name == "hand-pendigits":
        single = [(i, r) for i, r in zip(items, rows) if not i.get("multi_stroke")]
        entry["single_stroke_digits"] = digit_figures([i for i, _ in single], [r for _, r in single])
    return entry


def recipe_of(result: dict) -> str:
    return result["config"].get("preset") or "default"


def summaries(results: list[dict]) -> dict:
    """Per recipe (the runs' preset): mean and std over its runs (seeds) of each set's headline figure."""
    recipes = dict.fromkeys(recipe_of(r) for r in results)
    return {name: {"runs": sum(recipe_of(r) == name for r in results),
                   **summary([r for r in results if recipe_of(r) == name])} for name in recipes}


def spread(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0  # sample std (n - 1), as every benchmark


def summary(results: list[dict]) -> dict:
    """Mean and std over the runs (seeds) of each set's headline figure."""
    out: dict = {}
    names = results[0]["sets"].keys()
    for name in names:
        key = "accuracy" if results[0]["sets"][name]["kind"] == "digits" else "refused"
        values = [r["sets"][name][key] for r in results]
        entry = {key: round(statistics.mean(values), 4), f"{key}_std": round(spread(values), 4)}
        if key == "accuracy":
            refused = [r["sets"][name]["refused"] for r in results]
            entry["refused"] = round(statistics.mean(refused), 4)
        if name in ("letters", "words"):
            entry["refused_without_lookalikes"] = round(statistics.mean(
                r["sets"][name]["without_lookalikes"]["refused"] for r in results), 4)
        out[name] = entry
    if all("handwriting_pooled" in r for r in results):
        out["handwriting_pooled"] = {k: round(statistics.mean(r["handwriting_pooled"][k] for r in results), 4)
                                     for k in ("accuracy", "refused", "one_digit_accuracy", "one_digit_refused")}
        out["handwriting_pooled"]["accuracy_std"] = round(spread([r["handwriting_pooled"]["accuracy"]
                                                                  for r in results]), 4)
    return out


def main() -> None:
    from provenance import recorded, write_results

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="run folders (e.g. one per seed of a recipe)")
    p.add_argument("--root", type=Path, help="where build_sets.py wrote the sets (default: its default)")
    p.add_argument("--sets", default="all", help="comma-separated set names, or all")
    p.add_argument("--limit", type=int, help="at most N images per set (a quick look; not for figures)")
    p.add_argument("--photos", type=int, default=1000, help="user-style photos of MNIST test digits")
    p.add_argument("--reader", default="", metavar="NAME=VALUE;...",
                   help="read with these constants of image.segment or read_number changed (None: off), to "
                        "measure a rule's before and after on the same runs (benchmarks/segment_costs.py's form)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    torch.set_num_threads(1)
    from segment_costs import reader_settings

    reader = reader_settings(args.reader)
    root = sets_root(args.root)
    available = sorted(d.name for d in root.iterdir() if (d / "manifest.json").is_file())
    names = (available if args.sets == "all" else args.sets.split(",")) + [USER_PHOTOS]
    with recorded() as prov:
        results = measure(args.runs, root, names, args.limit, args.photos)
    report = {"about": __doc__.split("\n")[0], "limit_per_set": args.limit, "reader_settings": reader,
              "summary": summaries(results), "runs": results, "provenance": prov}
    write_results(args.out, report)
    print(json.dumps(report["summary"], indent=1))


if __name__ == "__main__":
    main()

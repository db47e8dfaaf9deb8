"""Does a single digit's stated probability mean what it says for other people's handwriting too?

The card's temperature is fitted on MNIST's validation digits (the issue's rule), so its probabilities are
honest for MNIST's writers by construction. This reads the evaluation sets of digits (benchmarks/build_sets.py:
other writers, EVAL-group fonts, printed digits; of the UCI sets only the test writers) and user-style photos
of MNIST test digits through `Model.predict(path)`, as a user's file is read, and compares each answer's stated
probability (`Prediction.probability`) with how often such answers are right: per set, the reliability bins
and the expected calibration error (ECE) over the answers (refusals are no answer). Nothing here chooses
anything; it is a measurement of the shipped runs.

    OMP_NUM_THREADS=1 python benchmarks/digit_confidence.py RUN_DIR [RUN_DIR ...] \\
        --out benchmarks/results/digit_confidence.json
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts this folder first on sys.path for a script run from it: search it last, so that no
# script here can shadow a standard-library module.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from handwriting import HANDWRITING, USER_PHOTOS, read_manifest, sets_root, user_photo_files  # noqa: E402
from number_confidence import REPORT_EDGES, reliability  # noqa: E402
from provenance import recorded, write_results  # noqa: E402

SETS = (*HANDWRITING, "printed-digits")
POOLED = "handwriting"  # the four sets of other writers' handwriting (HANDWRITING), every answer together


def stated(models: list, folder: Path, items: list[dict]) -> list[list[tuple[float, bool]]]:
    """Per model, each answered image's (stated probability, right)."""
    from tinyvision.errors import TinyVisionError

    out: list[list[tuple[float, bool]]] = [[] for _ in models]
    for item in items:
        for model, rows in zip(models, out):
            try:
                p = model.predict(folder / item["file"])
            except TinyVisionError:
                continue  # a file the reader cannot use is no answer
            if p.label is not None:
                rows.append((float(p.probability), p.label == str(item["label"])))
    return out


def figures(rows: list[tuple[float, bool]], images: int) -> dict:
    p = np.array([r[0] for r in rows])
    right = np.array([r[1] for r in rows], dtype=float)
    sure = p >= 0.99
    return {"images": images, **reliability(p, right), "accuracy_answered": round(float(right.mean()), 4),
            "stated_at_least_0.99": round(float(sure.mean()), 4),
            "right_when_stated_at_least_0.99": round(float(right[sure].mean()), 4) if sure.any() else None}


def measure(runs: list[Path], root: Path, photos: int, limit: int | None = None) -> list[dict]:
    import tinyvision
    from tinyvision.checkpoint import stored_digest

    models = [tinyvision.load(run) for run in runs]
    answers: list[dict[str, list]] = [{} for _ in models]
    images: dict[str, int] = {}
    for name in (*SETS, USER_PHOTOS):
        if name == USER_PHOTOS:
            with tempfile.TemporaryDirectory() as tmp:
                items = user_photo_files(Path(tmp), photos)
                per_model = stated(models, Path(tmp), items)
        else:
            _, items = read_manifest(root / name, limit)
            per_model = stated(models, root / name, items)
        images[name] = len(items)
        for mine, rows in zip(answers, per_model):
            mine[name] = rows
        print(f"digit_confidence: {name}: {len(items)} images", file=sys.stderr)
    results = []
    for run, model, mine in zip(runs, models, answers):
        sets = {name: figures(rows, images[name]) for name, rows in mine.items()}
        sets[POOLED] = figures([r for name in HANDWRITING for r in mine[name]], sum(images[n] for n in HANDWRITING))
        results.append({"run": str(run), "weights_sha256": stored_digest(run), "temperature": model.card.temperature,
                        "sets": sets})
    return results


def summary(results: list[dict]) -> dict:
    """Per set, over the runs (seeds): mean and sample std of the ECE, and the means of the rest."""
    out = {}
    for name in results[0]["sets"]:
        each = [r["sets"][name] for r in results]
        ece = [s["ece"] for s in each]
        out[name] = {"ece": round(statistics.mean(ece), 4),
                     "ece_std": round(statistics.stdev(ece), 4) if len(ece) > 1 else 0.0,
                     **{k: round(statistics.mean(s[k] for s in each), 4)
                        for k in ("answers", "accuracy_answered", "stated_at_least_0.99")}}
        right = [s["right_when_stated_at_least_0.99"] for s in each if s["right_when_stated_at_least_0.99"] is not None]
        out[name]["right_when_stated_at_least_0.99"] = round(statistics.mean(right), 4) if right else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="digit run folders (e.g. one per seed of a recipe)")
    parser.add_argument("--root", type=Path, help="where build_sets.py wrote the sets (default: its default)")
    parser.add_argument("--photos", type=int, default=1000, help="user-style photos of MNIST test digits")
    parser.add_argument("--limit", type=int, help="at most N images per set (a quick look; not for figures)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with recorded() as provenance:
        results = measure(args.runs, sets_root(args.root), args.photos, args.limit)
    report = {"about": __doc__.splitlines()[0], "limit_per_set": args.limit, "bins": list(REPORT_EDGES[:-1]) + [1.0],
              "summary": summary(results), "runs": results, "provenance": provenance}
    write_results(args.out, report)
    print(json.dumps(report["summary"], indent=1))


if __name__ == "__main__":
    main()

"""How long `tinyvision predict RUN IMAGE` takes from the shell: the wait of a user who reads one file.

Each source tree given (`--src LABEL=PATH/src`, e.g. this checkout and a worktree of an older commit) runs
the command in a fresh process, with PYTHONPATH pointing at it; `python -c "import torch"` runs beside them as
the reference (what no tinyvision code can save). The runs are interleaved, so a busy spell of this shared
machine falls on every tree alike, and the medians are reported with their ratio to the reference. Writes JSON.

    OMP_NUM_THREADS=1 python benchmarks/cold_start.py /tmp/tta4/default-seed0 digit.png \\
        --src before=/tmp/tv-old/src --src after=src --out benchmarks/results/cold_start.json
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts this folder first on sys.path for a script run from it: search it last, so that no
# script here can shadow a standard-library module.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from provenance import recorded, write_results  # noqa: E402

REFERENCE = "import torch"


def seconds(argv: list[str], pythonpath: str | None) -> float:
    """Wall time of one fresh process; it must succeed."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder")
    parser.add_argument("image", type=Path, help="one image file")
    parser.add_argument("--src", action="append", required=True, help="LABEL=PATH: a tinyvision source tree")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    trees = dict(s.split("=", 1) for s in args.src)
    command = [sys.executable, "-m", "tinyvision", "predict", str(args.run), str(args.image)]
    with recorded() as provenance:
        times: dict[str, list[float]] = {label: [] for label in [REFERENCE, *trees]}
        seconds(command, str(Path(next(iter(trees.values()))).resolve()))  # warm the file cache once
        for _ in range(args.repeats):
            times[REFERENCE].append(seconds([sys.executable, "-c", REFERENCE], None))
            for label, src in trees.items():
                times[label].append(seconds(command, str(Path(src).resolve())))
    reference = statistics.median(times[REFERENCE])
    result = {
        "about": "wall seconds of `tinyvision predict RUN IMAGE` in a fresh process, per source tree; "
                 f"reference: python -c {REFERENCE!r}",
        "run": str(args.run), "image": str(args.image), "repeats": args.repeats,
        "trees": {label: str(src) for label, src in trees.items()},
        "median_seconds": {label: round(statistics.median(t), 3) for label, t in times.items()},
        "ratio_to_reference": {label: round(statistics.median(t) / reference, 2) for label, t in times.items()},
        "seconds": {label: [round(x, 3) for x in t] for label, t in times.items()},
        "provenance": provenance,
    }
    write_results(args.out, result)
    print({k: result[k] for k in ("median_seconds", "ratio_to_reference")})


if __name__ == "__main__":
    main()

"""Build the evaluation sets of benchmarks/sets/ as image files with a manifest.json each; print JSON.

Every set is regenerated from installed packages and a seed: the same
packages and seed give the same files. Sets go to
~/.cache/tinyvision/bench-sets/<set>/ unless --out or TINYVISION_BENCH_SETS
says otherwise. The whole build takes a few minutes on one core.

    python benchmarks/build_sets.py                       # every set
    python benchmarks/build_sets.py --sets letters,hand-optdigits --sheets
    python benchmarks/build_sets.py --list                # names, descriptions, what is missing

What to install (Debian, PyPI) is listed in benchmarks/sets/SOURCES.md.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script, this folder leads sys.path: move it to the end, so that no script here can
    # shadow a standard-library module, and `sets` is still found.
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here] + [str(_here)]
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # a shared machine: one core is plenty

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

from sets import SETS, build_set, default_root, font_split  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the sets (default $TINYVISION_BENCH_SETS or ~/.cache/tinyvision/bench-sets)")
    p.add_argument("--sets", default="all", help=f"comma-separated names, or all: {', '.join(SETS)}")
    p.add_argument("--seed", type=int, default=0, help="the seed every set's randomness derives from")
    p.add_argument("--sheets", action="store_true", help="also write contact-sheet.png in each set, to check by eye")
    p.add_argument("--list", action="store_true", help="list the sets and what each still needs; build nothing")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = list(SETS) if args.sets == "all" else [n.strip() for n in args.sets.split(",") if n.strip()]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        print(f"build_sets: unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS)}", file=sys.stderr)
        return 2
    if args.list:
        print(json.dumps([{"name": n, "kind": SETS[n].kind, "description": SETS[n].description,
                           "needs": SETS[n].requires()} for n in names], indent=1))
        return 0
    root = (args.out or default_root()).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    split = font_split()  # raises if a font file or Hershey glyph were on both sides
    (root / "font-split.json").write_text(json.dumps(split, indent=1) + "\n")
    start = time.perf_counter()
    results = []
    for name in names:
        results.append(build_set(name, root, args.seed, args.sheets))
        print(f"build_sets: {name}: {results[-1].get('count', results[-1].get('skipped'))}", file=sys.stderr)
    print(json.dumps({"out": str(root), "seed": args.seed, "seconds": round(time.perf_counter() - start, 1),
                      "sets": results, "font_split": str(root / "font-split.json")}, indent=1))
    return 1 if any("skipped" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

"""`tinyvision check-data`: a dataset's counts, unreadable files, duplicates, leakage and imbalance.

Exit code 0: nothing found; 1: problems found (listed, and in the report); 2: a bad request.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from tinyvision.cli.common import path_arg

NAME = "check-data"
EXIT_PROBLEMS = 1


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help="check a dataset: counts, unreadable files, duplicates, leakage, imbalance",
                       description="Check a dataset before training on it; write report.md, report.json, "
                       "check.png and duplicates.png. Exit code 0: clean, 1: problems found, 2: bad request.")
    p.add_argument("dataset", metavar="DATASET", help="mnist, fashion-mnist, cifar10 or folder:PATH")
    p.add_argument("--data-dir", help="folder holding the dataset files (built-in datasets)")
    p.add_argument("--image-size", type=int, help="folder: datasets: resize to NxN, as training would")
    p.add_argument("--seed", type=int, default=0, help="one-folder datasets: the split's seed (as train --seed)")
    p.add_argument("--val-fraction", type=float, help="one-folder datasets: validation share (0.1)")
    p.add_argument("--test-fraction", type=float, default=0.1, help="one-folder datasets: test share (0.1)")
    p.add_argument("--no-near", action="store_true", help="skip the near-duplicate search (quadratic in images)")
    p.add_argument("--out", type=path_arg, help="folder for the report (default: checks/<dataset>-<time>)")
    p.add_argument("--json", action="store_true", help="print report.json instead of the summary")


def run(args: argparse.Namespace) -> int:
    from tinyvision.datasets.check_report import check_report_folder
    from tinyvision.datasets.data_check import check
    from tinyvision.datasets.folder import check_outside
    from tinyvision.datasets.registry import spec_for
    from tinyvision.datasets.split import SplitOptions
    from tinyvision.errors import TinyVisionError

    val = args.val_fraction
    if val is None:  # the dataset's own recipe share, as `tinyvision train` would use
        val = spec_for(args.dataset).defaults.get("val_fraction", 0.1)
    if not 0 <= args.seed < 2**32:  # as train's --seed
        raise TinyVisionError("--seed must be from 0 to 4294967295 (2**32 - 1)")
    split = SplitOptions(args.seed, val, args.test_fraction)
    safe = args.dataset.replace("/", "_").replace(":", "-").strip("_")
    out = args.out or Path("checks") / f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}"
    check_outside(args.dataset, out, "the report folder")  # before the check: refused at once
    check_report_folder(out)
    report = check(args.dataset, args.image_size, split, data_dir=args.data_dir, near=not args.no_near)
    report.data["command"] = shlex.join(["tinyvision", *sys.argv[1:]]) if sys.argv[0].endswith("tinyvision") else None
    files = report.write(out)
    if args.json:
        print(json.dumps(report.data, indent=2))
    else:
        print(report.summary())
        leak = report.leakage()
        if leak:
            print(f"warning: {leak}")
        for problem in report.problems:
            print(f"  - {problem}")
        print(f"-> {', '.join(str(p) for p in files.values())}")
    return 0 if report.ok else EXIT_PROBLEMS

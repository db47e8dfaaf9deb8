"""The plain network against the CNN on one dataset: `tinyvision.compare`, recorded with its provenance.

Trains each model in turn on one split with one seed (each with its own
recipe: `mlp` is the MLP preset, `default` the dataset's default CNN), then
keeps the comparison's report.json (with the provenance added), report.md and
compare.png in benchmarks/results/compare-DATASET/; the run folders (weights)
stay in a temporary folder.

    python benchmarks/compare.py mnist --models mlp,default
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from provenance import RESULTS_DIR, recorded, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--models", default="mlp,default")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import tinyvision

    target = RESULTS_DIR / f"compare-{args.dataset.replace('/', '_').replace(':', '-')}"
    with tempfile.TemporaryDirectory() as tmp:
        with recorded() as prov:
            comparison = tinyvision.compare(args.dataset, models=args.models.split(","), out=Path(tmp) / "cmp",
                                            seed=args.seed, progress="lines")
        target.mkdir(parents=True, exist_ok=True)
        for name in ("report.md", "compare.png"):
            shutil.copyfile(comparison.path / name, target / name)
        write_results(target / "report.json", {**comparison.report, "provenance": prov})
    print(f"-> {target}")


if __name__ == "__main__":
    main()

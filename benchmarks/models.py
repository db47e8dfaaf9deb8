"""Every registered model's parameter count, on MNIST-sized and CIFAR-sized inputs (10 classes).

Counted from the models as built, so the docs' model table is written from this file, not typed.

    python benchmarks/models.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

from provenance import RESULTS_DIR, recorded, write_results

SHAPES = {"1x28x28": (1, 28, 28), "3x32x32": (3, 32, 32)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "models.json")
    args = parser.parse_args()
    from tinyvision.models import DESCRIPTIONS, MODELS, create_model

    with recorded() as prov:
        rows = [{"name": name, "description": DESCRIPTIONS[name],
                 "parameters": {label: sum(p.numel() for p in create_model(name, shape, 10).parameters())
                                for label, shape in SHAPES.items()}}
                for name in MODELS]
    write_results(args.out, {"models": rows, "provenance": prov})
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()

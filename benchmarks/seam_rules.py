"""Choosing how the number reader looks for cuts through touching digits, on validation.

Three settings of `tinyvision.image.segment`, each a way to find the cut between two digits that
touch, are switched on one after another:
- `SEAM_INSET`: a seam may not run along the edge of the ink it cuts ("always", only in images
  of "several" marks, or "never"). Without it the cheapest "cut" through a thick pair often hugs
  the border, cuts nothing off and is thrown away, so the pair is never cut at all;
- `MIDDLE_START`: a seam also starts at the middle of the ink, where two digits of one size meet,
  when the column profile has no valley to start from;
- `NARROW_SPLIT_ASPECT` / `UNSURE_WHOLE`: among several marks, a group narrower than two digits
  (a 1 touching its neighbour) gets candidate cuts too when the model reads it whole unsurely.

Each variant is read, through `Model.predict` (the user's path), by one seed-0 run on the sets of
benchmarks/number_rules.py: numbers composed from MNIST's *validation* digits, single validation
digits as photos, letters in the odd half of the TRAIN fonts and the training side's other
non-digits (a cut letter can pass as "11"). Never the evaluation sets: the chosen settings are
measured there by number_photos.py and handwriting.py. The first variant is the reference.

    python benchmarks/number_photos.py build --count 1000 --seed 1 --source val --out /tmp/numbers-val
    OMP_NUM_THREADS=1 python benchmarks/seam_rules.py /tmp/tta/default-seed0 --numbers /tmp/numbers-val
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _here] + [_here]

import argparse  # noqa: E402
from collections.abc import Callable  # noqa: E402

from number_rules import read_variants  # noqa: E402
from provenance import RESULTS_DIR  # noqa: E402
from segment_gate import validation_arguments  # noqa: E402

SETTINGS = ("SEAM_INSET", "MIDDLE_START", "NARROW_SPLIT_ASPECT", "UNSURE_WHOLE")
OFF = "SEAM_INSET=never MIDDLE_START=False NARROW_SPLIT_ASPECT=None"
DEFAULT_VARIANTS = ";".join([
    OFF,
    "SEAM_INSET=always MIDDLE_START=False NARROW_SPLIT_ASPECT=None",
    "SEAM_INSET=always MIDDLE_START=True NARROW_SPLIT_ASPECT=None",
    "SEAM_INSET=always MIDDLE_START=True NARROW_SPLIT_ASPECT=0.5 UNSURE_WHOLE=0.9",
    "SEAM_INSET=always MIDDLE_START=False NARROW_SPLIT_ASPECT=0.5 UNSURE_WHOLE=0.9",
    "SEAM_INSET=several MIDDLE_START=False NARROW_SPLIT_ASPECT=None",
    "SEAM_INSET=several MIDDLE_START=False NARROW_SPLIT_ASPECT=0.5 UNSURE_WHOLE=0.9",
    "SEAM_INSET=several MIDDLE_START=False NARROW_SPLIT_ASPECT=0.5 UNSURE_WHOLE=0.99",
])


def parse_variant(text: str) -> dict[str, object]:
    """'NAME=VALUE NAME=VALUE' -> {NAME: value}; values are True, False, None, numbers or words."""
    words = {"True": True, "False": False, "None": None}
    settings = {}
    for item in text.split():
        name, _, value = item.partition("=")
        if name not in SETTINGS:
            raise SystemExit(f"seam_rules: unknown setting {name!r} (one of {', '.join(SETTINGS)})")
        try:
            settings[name] = words[value] if value in words else float(value)
        except ValueError:
            settings[name] = value  # SEAM_INSET's "several", "always", "never"
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    validation_arguments(parser)
    parser.add_argument("--variants", default=DEFAULT_VARIANTS,
                        help="';'-separated variants, each space-separated NAME=VALUE settings of image.segment")
    parser.add_argument("--letters", type=int, default=600)
    parser.add_argument("--negatives", type=int, default=600)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "seam_rules.json")
    args = parser.parse_args()

    import tinyvision.image.segment as segment

    def variant(settings: dict[str, object]) -> Callable[[], dict]:
        def apply() -> dict:
            for name, value in settings.items():
                setattr(segment, name, value)
            return {"settings": {name: getattr(segment, name) for name in SETTINGS}}
        return apply

    read_variants(args, [variant(parse_variant(v)) for v in args.variants.split(";")])


if __name__ == "__main__":
    main()

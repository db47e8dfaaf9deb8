"""Choosing the reading's rules and costs (constants of `image.segment` and `read_number`) on validation.

A number's reading is the cheapest cover of its ink by digits, and the rules say which marks are searched
for cuts and which readings are refused. Each variant sets some of those constants (NAME=VALUE, None for
off) and is read, through `Model.predict` (the user's path), by one seed-0 run on the validation sets of
benchmarks/number_rules.py: whole numbers from MNIST's validation digits, single validation digits,
letters of the TRAIN-group fonts' odd half, and the training side's other non-digits. Never the
evaluation sets: a chosen variant is measured there by number_photos.py and handwriting.py.
results/segment_costs_{a,b}.json, two calls on one run, one per core (table lone-doubt):

    python benchmarks/number_photos.py build --count 4000 --seed 1 --source val --out /tmp/numbers-val4k
    OMP_NUM_THREADS=1 python benchmarks/segment_costs.py /tmp/tta/default-seed0 --numbers /tmp/numbers-val4k \\
        --variant "LONE_UNSURE_ASPECT=None;LONE_CUT_BAR=None;LONE_SPLIT_ASPECT=1.4" ... --out ...segment_costs_a.json
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


def settings(variant: str, modules: list) -> dict[str, tuple]:
    """'K=V;K=V' (or 'default') as {constant: (module, value)}; a name neither module has is refused."""
    found = {}
    for item in filter(None, variant.split(";")):
        name, _, value = item.partition("=")
        if name == "default":
            continue
        module = next((m for m in modules if hasattr(m, name)), None)
        current = getattr(module, name, "missing")
        if not name.isupper() or isinstance(current, bool) or not isinstance(current, (int, float, type(None))):
            raise SystemExit(f"segment_costs.py: {name!r} is not a numeric constant of image.segment, read_number, "
                             f"image.marks, image.signs or image.digits")
        found[name] = (module, None if value == "None" else float(value))
    return found


def apply(found: dict[str, tuple]) -> dict:
    """Set the constants `settings` found; returns {constant: value} as set."""
    for name, (module, value) in found.items():
        setattr(module, name, value)
    return {name: value for name, (_, value) in found.items()}


def constants_of(module) -> dict:
    """A module's constants (its UPPER_CASE names) as they are now: what each variant is set against."""
    return {name: getattr(module, name) for name in dir(module) if name.isupper()}


def restore(module, constants: dict) -> None:
    """Set a module's constants back (`constants_of`) before the next variant sets its own."""
    for name, value in constants.items():
        setattr(module, name, value)


def reader_modules() -> list:
    """The modules whose constants a variant may set."""
    import tinyvision.image.digits as digits
    import tinyvision.image.marks as marks
    import tinyvision.image.segment as segment
    import tinyvision.image.signs as signs
    import tinyvision.read_number as read_number

    return [segment, read_number, marks, signs, digits]


def reader_settings(text: str) -> dict:
    """Apply 'NAME=VALUE;...' to the number reader's modules; returns what was set (empty: as shipped)."""
    return apply(settings(text, reader_modules()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    validation_arguments(parser)
    parser.add_argument("--letters", type=int, default=600)
    parser.add_argument("--negatives", type=int, default=600)
    parser.add_argument("--variant", action="append", default=None,
                        help="'NAME=VALUE;NAME=VALUE' of image.segment, read_number, image.marks or image.signs "
                             "constants, or "
                             "'default' "
                             "(repeat; the first is the reference)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "segment_costs.json")
    args = parser.parse_args()

    chosen = {v: settings(v, reader_modules()) for v in args.variant or ["default"]}
    defaults = {name: (module, getattr(module, name))
                for found in chosen.values() for name, (module, _) in found.items()}

    def variant(label: str, found: dict[str, tuple]) -> Callable[[], dict]:
        def set_variant() -> dict:
            return {"variant": label, "settings": apply({**defaults, **found})}
        return set_variant

    read_variants(args, [variant(label, found) for label, found in chosen.items()])


if __name__ == "__main__":
    main()

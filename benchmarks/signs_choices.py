"""Choosing how the reader tells a minus sign and a decimal point (`image.signs`) on validation sets.

A number written with a minus, a point or both (`number_photos.py build --paper signed`, from MNIST's
validation digits) should be read with them ("-3.14"); a number written without them should be read
as before, with no sign made up out of a speck or a stray stroke. Each variant sets constants of
`image.signs` (NAME=VALUE, None for off; `off` reads no sign: POINT_SIZE=None;MINUS_WIDTH=None;COMMA_BELOW=None)
and is read through `Model.predict` by one seed-0 run, on the signed numbers and on the first
`--plain-count` plain validation numbers:

    python benchmarks/number_photos.py build --count 400 --paper signed --source val --seed 4 \\
        --out /tmp/numbers-signed-val
    OMP_NUM_THREADS=1 python benchmarks/signs_choices.py /tmp/tta4/default-seed0 \\
        --numbers /tmp/numbers-signed-val --plain /tmp/numbers-val4k --variant off --variant default ... \\
        --out results/signs_choices.json
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

from number_photos import load_manifest  # noqa: E402
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402

OFF = "POINT_SIZE=None;MINUS_WIDTH=None;COMMA_BELOW=None"  # the reader before image.signs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a seed-0 run of the default digit recipe")
    parser.add_argument("--numbers", type=Path, required=True, help="a --paper signed set from validation digits")
    parser.add_argument("--plain", type=Path, required=True, help="a plain set from validation digits")
    parser.add_argument("--plain-count", type=int, default=1000)
    parser.add_argument("--variant", action="append", default=None, metavar="NAME=VALUE;...|default|off")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "signs_choices.json")
    args = parser.parse_args()

    import torch
    from segment_costs import constants_of

    import tinyvision
    import tinyvision.image.signs as signs
    from tinyvision.checkpoint import stored_digest

    torch.set_num_threads(1)
    numbers, plain = load_manifest(args.numbers), load_manifest(args.plain)[: args.plain_count]
    model = tinyvision.load(args.checkpoint)
    shipped = constants_of(signs)
    with recorded() as prov:
        rows = [read_variant(v, model, numbers, plain, args, shipped) for v in args.variant or ["default"]]
    constants = {name: v for name, v in shipped.items() if name.startswith(("POINT_", "MINUS_", "COMMA_"))}
    write_results(args.out, {"about": __doc__.splitlines()[0], "constants": constants, "numbers": str(args.numbers),
                             "numbers_count": len(numbers), "plain": str(args.plain), "plain_count": len(plain),
                             "run": str(args.checkpoint), "weights_sha256": stored_digest(args.checkpoint),
                             "variants": rows, "provenance": prov})


def read_variant(variant: str, model, numbers: list[dict], plain: list[dict], args, shipped: dict) -> dict:
    """One variant's figures: signed validation numbers read (by which signs), and plain ones read and
    given a sign they were not written with."""
    from segment_costs import reader_settings, restore

    import tinyvision.image.signs as signs

    restore(signs, shipped)
    settings = reader_settings(OFF if variant == "off" else "" if variant == "default" else variant)
    start = time.perf_counter()
    by_style = Counter()
    for e in numbers:
        by_style[(e["style"], model.predict(args.numbers / e["file"]).label == e["number"])] += 1
    plain_labels = [model.predict(args.plain / e["file"]).label for e in plain]
    row = {
        "variant": variant, "settings": settings,
        "signed_read": round(sum(v for (_, ok), v in by_style.items() if ok) / len(numbers), 4),
        "signed_by_style": {s: round(by_style[(s, True)] / (by_style[(s, True)] + by_style[(s, False)]), 4)
                            for s in sorted({e["style"] for e in numbers})},
        "plain_read": round(sum(a == e["number"] for a, e in zip(plain_labels, plain)) / len(plain), 4),
        "plain_signed": round(sum(a is not None and not a.isdigit() for a in plain_labels) / len(plain), 4),
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(row), flush=True)
    return row


if __name__ == "__main__":
    main()

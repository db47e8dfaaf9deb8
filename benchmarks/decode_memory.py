"""Peak memory of decoding one large or hostile upload, per format: the decoder's bound, measured.

Each case (`hostile_images.CASES`) is prepared in a fresh Python process, as
the server prepares an upload for a digit model (`image.prepare`: decode at
the size the model needs, then MNIST-style preparation). The child reads its
file, imports everything and decodes a small image first, then resets the
kernel's peak-RSS mark (`/proc/self/clear_refs`) and prepares the file: the
peak extra memory is VmHWM after minus VmRSS before. Writes JSON to
benchmarks/results/decode_memory.json.

    python benchmarks/decode_memory.py                 # every case
    python benchmarks/decode_memory.py --cases png-gray-40mp,jpeg-40mp
"""

from __future__ import annotations

import sys

# This folder leads sys.path when a script here runs; move it last, so that a
# benchmark named like a standard-library module cannot shadow that module.
sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from hostile_images import CASES, hostile_file  # noqa: E402
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402

BOUND_MB = 100  # the target: peak extra memory of one 40-megapixel request


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def measure_in_this_process(path: Path) -> dict:
    """Prepare the file at `path` as the server does; the peak extra resident memory it took."""
    from tinyvision.image.decode import ImageError
    from tinyvision.image.prepare import Preparation, prepare

    preparation = Preparation("digit", (1, 28, 28))
    data = path.read_bytes()
    try:  # warm-up: every library and plugin loaded before the mark
        prepare(_small_png(), preparation)
    except ImageError:
        pass
    before = status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
    start = time.perf_counter()
    try:
        prepare(data, preparation)
        outcome, message = "decoded", ""
    except ImageError as exc:
        outcome, message = exc.kind, str(exc)
    seconds = time.perf_counter() - start
    peak_extra = (status_kb("VmHWM") - before) * 1024
    return {"outcome": outcome, "message": message[:200], "seconds": round(seconds, 2),
            "peak_extra_mb": round(peak_extra / 1e6, 1), "file_kb": round(len(data) / 1024, 1)}


def _small_png() -> bytes:
    from hostile_images import page, save

    return save(page((200, 200)), "PNG")


def measure(name: str, cache: Path) -> dict:
    hostile_file(name, cache)  # made here, so the child only reads it
    child = subprocess.run([sys.executable, __file__, "--child", str(cache / f"{name}.bin")],
                           capture_output=True, text=True, timeout=300)
    if child.returncode != 0:
        return {"outcome": "crashed", "message": child.stderr.strip()[-500:], "returncode": child.returncode}
    return json.loads(child.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/tinyvision-hostile"), help="where files are kept")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "decode_memory.json")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_in_this_process(args.child)))
        return
    names = args.cases.split(",") if args.cases else list(CASES)
    with recorded() as prov:
        cases = {}
        for name in names:
            cases[name] = measure(name, args.cache)
            print(f"{name:32s} {json.dumps(cases[name])}", file=sys.stderr, flush=True)
    within = [c["peak_extra_mb"] <= BOUND_MB for c in cases.values() if "peak_extra_mb" in c]
    result = {"bound_mb": BOUND_MB, "all_within_bound": all(within) and len(within) == len(cases),
              "cases": cases, "provenance": prov}
    write_results(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Prediction throughput of the files users get: PyTorch, TorchScript and ONNX Runtime.

For each run folder given, the model is exported with `tinyvision export`'s
own code (`Model.export`) and each exported file is loaded the way a user
loads it: `tinyvision.load(run)` (PyTorch), `tinyvision.load("model.onnx")`
(ONNX Runtime), and the TorchScript file through the exporter's runner. Each
is timed on the real MNIST test images (uint8, already prepared: decoding
users' files is measured by the serve load test) at batch 1 and batch 1,000,
through the whole inference path: normalisation, test-time views and the
calibrated temperature, as `evaluate` and `predict` run it. Writes JSON.

    python benchmarks/inference.py runs/default runs/tutorial-a
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from provenance import RESULTS_DIR, recorded, write_results

import tinyvision
from tinyvision.datasets import load_dataset
from tinyvision.export import load_runner


def images_per_second(fn, batch: torch.Tensor, min_seconds: float, repeats: int = 3) -> float:
    """Median over `repeats` timings, each running `fn` for at least `min_seconds`."""
    for _ in range(3):  # warm-up: allocator, one-time kernels, graph optimisation
        fn(batch)
    rates = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < min_seconds:
            fn(batch)
            calls += 1
        rates.append(calls * len(batch) / elapsed)
    return statistics.median(rates)


def runners(run: Path, folder: Path) -> dict:
    """Each runtime as a function of uint8 (N, C, H, W) -> log-probabilities, from the exported files."""
    model = tinyvision.load(run)
    onnx_file = model.export("onnx", folder / "model.onnx")
    script_file = model.export("torchscript", folder / "model.pt")
    script = load_runner(script_file, "torchscript")
    return {
        "pytorch": model.log_probs,
        "torchscript": lambda pixels: script(pixels.float() / 255.0),
        "onnxruntime": tinyvision.load(onnx_file).log_probs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (MNIST models)")
    parser.add_argument("--batches", default="1,1000")
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum time per measurement")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "inference.json")
    args = parser.parse_args()
    images = load_dataset("mnist").test_images
    results = []
    with recorded() as prov:
        for run in args.runs:
            card = tinyvision.load(run).card
            with tempfile.TemporaryDirectory() as tmp:
                fns = runners(run, Path(tmp))
                reference = fns["pytorch"](images[:1000]).argmax(1)
                for runtime, fn in fns.items():
                    agree = int((fn(images[:1000]).argmax(1) == reference).sum())
                    for batch_size in (int(b) for b in args.batches.split(",")):
                        rate = images_per_second(fn, images[:batch_size], args.seconds)
                        results.append({"model": card.model, "run": str(run), "views": card.tta.views,
                                        "batch": batch_size, "runtime": runtime, "images_per_second": round(rate),
                                        "same_prediction_as_pytorch_of_1000": agree})
    result = {"results": results, "provenance": prov}
    write_results(args.out, result)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

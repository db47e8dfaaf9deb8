"""Batch-prediction throughput: eager PyTorch vs TorchScript vs ONNX Runtime.

Images per second at batch 1 and batch 1,000 for `tutorial-a` and the default
model, on 28x28 inputs already normalised (the model's own cost; decoding
image files is measured by the serve load test). Weights are random: speed
does not depend on their values. Prints JSON.

    python benchmarks/inference.py
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time

import torch

from tinyvision.models import create_model


def images_per_second(fn, batch: torch.Tensor, min_seconds: float = 1.0, repeats: int = 3) -> float:
    """Median over `repeats` timings, each running `fn` for at least `min_seconds`."""
    for _ in range(3):  # warm-up: allocator, one-time kernels, JIT profiling runs
        fn(batch)
    rates = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < min_seconds:
            fn(batch)
            calls += 1
        rates.append(calls * len(batch) / elapsed)
    return statistics.median(rates)


def eager_runner(model: torch.nn.Module):
    model = model.eval().to(memory_format=torch.channels_last)

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(x.contiguous(memory_format=torch.channels_last))

    return run


def torchscript_runner(model: torch.nn.Module, example: torch.Tensor):
    with torch.no_grad():
        scripted = torch.jit.freeze(torch.jit.trace(model.eval(), example))

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return scripted(x)

    return run


def onnx_runner(model: torch.nn.Module, example: torch.Tensor):
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    buffer = io.BytesIO()
    torch.onnx.export(model.eval(), example, buffer, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x.numpy()})[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tutorial-a,tvnet")
    parser.add_argument("--batches", default="1,1000")
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum time per measurement")
    args = parser.parse_args()
    results = []
    for name in args.models.split(","):
        model = create_model(name, (1, 28, 28), 10)
        for batch_size in (int(b) for b in args.batches.split(",")):
            x = torch.randn(batch_size, 1, 28, 28)
            runners = {
                "eager": eager_runner(model),
                "torchscript": torchscript_runner(model, x),
                "onnxruntime": onnx_runner(model, x),
            }
            for runtime, fn in runners.items():
                if fn is None:
                    continue
                rate = images_per_second(fn, x, args.seconds)
                results.append({"model": name, "batch": batch_size, "runtime": runtime,
                                "images_per_second": round(rate)})
    print(json.dumps({"threads": torch.get_num_threads(), "torch": torch.__version__, "results": results},
                     indent=2))


if __name__ == "__main__":
    main()

"""Export a model's inference path to ONNX or TorchScript.

What is exported is `inference.InferenceGraph`, the very module evaluation and
prediction run: normalisation, the test-time augmentation views and the
calibrated temperature are inside the file, so it answers exactly as
`tinyvision predict` does. It takes float32 pixels (N, C, H, W) scaled to
[0, 1] (uint8 divided by 255), prepared as `tinyvision.image.prepare`
prepares them, and returns calibrated logits (softmax of them: the
probabilities; argmax: the prediction; log-sum-exp: the energy a digit
model's card refuses by). A JSON sidecar (`<file>.json`) holds
the model card, so `tinyvision.load("model.onnx")` knows the classes and the
preparation.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from tinyvision.atomic import atomic_path, write_json
from tinyvision.checkpoint import ModelCard
from tinyvision.errors import TinyVisionError
from tinyvision.inference import InferenceGraph

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sidecar(card: ModelCard, fmt: str, model_sha256: str, weights_sha256: str | None = None,
            split: dict | None = None) -> dict:
    return {
        "format": fmt,
        # The file this card belongs to: written over by another export and stopped between the two files,
        # the pair held one model's card beside another's graph, and was used so without a word.
        "model_sha256": model_sha256,
        # The checkpoint's weights it was exported from: a run resumed (or still training) after its export
        # kept answering with the old model through `--runtime onnx`, without a word.
        "weights_sha256": weights_sha256,
        "model": card.model,
        "dataset": card.dataset,
        "classes": list(card.classes),
        "input": {
            "name": "pixels",
            "shape": ["N", *card.input_shape],
            "dtype": "float32",
            "scale": "pixel values / 255, in [0, 1]; normalisation is inside the graph",
            "preparation": card.preparation,
        },
        "output": {
            "name": "logits", "shape": ["N", len(card.classes)],
            "meaning": "calibrated logits: their softmax is the class probabilities (averaged over the "
                       "test-time views), their log-sum-exp the energy score a digit model refuses by",
        },
        "tta": card.tta.to_dict(),
        "temperature": card.temperature,
        "test_acc": card.metrics.get("test_acc"),
        "code_version": card.code_version,
        "card": json.loads(card.to_json()),
        # The test part of the run's split.json (a folder dataset's: `datasets.split.test_part`): evaluated away
        # from its run folder, the export still scores the run's own test files, and knows its folder moved.
        "split": split,
    }


@contextlib.contextmanager
def quiet():
    """The exporters print progress and deprecation notices a user cannot act on."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def export_graph(graph: InferenceGraph, card: ModelCard, fmt: str, path: Path,
                 weights_sha256: str | None = None, split: dict | None = None) -> Path:
    """Write `path` and its JSON sidecar, each atomically; returns `path`. The model is published last, once
    its sidecar is written: a sidecar that cannot be written (a folder by that name, a full disk) leaves
    no model without one. A full disk is one line, not a traceback (TorchScript writes through Python:
    its own writer aborts the process when the disk fills)."""
    if fmt not in FORMATS:
        raise TinyVisionError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    graph = graph.cpu().eval()
    # Any pixels trace the same graph; drawn from a generator of its own, so exporting leaves the caller's as it was.
    example = torch.rand(2, *card.input_shape, generator=torch.Generator().manual_seed(0))
    beside = path.with_name(path.name + ".json")
    try:
        with atomic_path(path) as tmp, quiet(), torch.no_grad():
            if fmt == "onnx":
                try:
                    import onnxscript  # noqa: F401  (the exporter needs it)
                except ImportError:
                    raise TinyVisionError("ONNX export needs the onnx extra: pip install 'tinyvision[onnx]'") from None
                program = torch.onnx.export(
                    graph, (example,), input_names=["pixels"], output_names=["logits"], dynamo=True,
                    dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False,
                )
                program.save(str(tmp), external_data=False)
            else:
                buffer = io.BytesIO()
                torch.jit.save(torch.jit.trace(graph, example), buffer)
                tmp.write_bytes(buffer.getvalue())
            write_json(beside, sidecar(card, fmt, file_sha256(tmp), weights_sha256, split))
    except OSError as exc:
        raise TinyVisionError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def onnx_session(path: Path):
    try:
        import onnxruntime as ort
    except ImportError:
        raise TinyVisionError("--runtime=onnx needs onnxruntime: pip install 'tinyvision[onnx]'") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.log_severity_level = 4  # its own log lines on stderr: a failure is reported once, in our line
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise TinyVisionError(f"{path}: not a loadable ONNX model ({exc})") from None


def load_runner(path: Path, fmt: str):
    """A function float pixels (N, C, H, W) in [0, 1] -> calibrated logits, running the exported file.

    TorchScript files are programs: only load ones you wrote (here: to check an export).
    """
    if fmt == "onnx":
        session = onnx_session(path)
        return lambda pixels: torch.from_numpy(session.run(None, {"pixels": pixels.numpy()})[0])
    with quiet():
        scripted = torch.jit.load(str(path), map_location="cpu").eval()

    def run(pixels: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return scripted(pixels)

    return run


@dataclass(frozen=True)
class Parity:
    count: int
    same_prediction: int
    max_abs_diff: float


def check_parity(graph: InferenceGraph, path: Path, fmt: str, images: torch.Tensor,
                 batch_size: int = 500) -> Parity:
    """Run PyTorch and the exported file on uint8 images; compare predictions and calibrated logits."""
    run = load_runner(path, fmt)
    graph = graph.cpu().eval()
    same, worst = 0, 0.0
    for start in range(0, len(images), batch_size):
        pixels = images[start : start + batch_size].float() / 255.0
        with torch.inference_mode():
            expected = graph(pixels)
        got = run(pixels)
        same += int((expected.argmax(1) == got.argmax(1)).sum())
        # NaN anywhere (in either output) is the largest difference: Python's max() dropped it, and a file
        # answering NaN for every image was called identical.
        worst = max(worst, float(torch.nan_to_num((expected - got).abs(), nan=float("inf")).max()))
    return Parity(len(images), same, worst)

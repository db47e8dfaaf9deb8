"""A trained model, loaded for use: `tinyvision.load(path).predict(image)`.

`Model` is what `predict`, `serve`, `evaluate` and `export` all hold. It runs
one inference path (`inference.InferenceGraph`: normalisation, test-time
augmentation and the calibrated temperature, as the model card says), in
PyTorch or, for an exported `.onnx` file, in ONNX Runtime, on inputs prepared
by the one decoder (`image.prepare`).
"""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tinyvision.checkpoint import (
    MODEL_FILE,
    STATE_FILE,
    ModelCard,
    load_model,
    read_card,
    refuse_pytorch_file,
    resolve_model_path,
    stored_digest,
    unfinished,
)
from tinyvision.dataset_inputs import as_pixels, gray_in_planes, gray_of_size, gray_plane, looks_prepared
from tinyvision.device import select_device
from tinyvision.errors import TinyVisionError, UnfinishedRunWarning, expect, resume_command
from tinyvision.exported import (
    Runner,
    check_export_current,
    export_command,
    onnx_card,
    onnx_runner,
    warn_unfinished_export,
)
from tinyvision.image.decode import DEFAULT_LIMITS, ImageError, Limits
from tinyvision.image.prepare import Preparation, choose_preparation, prepare
from tinyvision.inference import InferenceGraph, as_log_probs, calibrated_logits

UNREADABLE = "unreadable: "  # the reason of a folder's file that could not be read (`Model.predict_found`)
class NothingToExplain(TinyVisionError):
    """The model refused an image before reading any mark in it (a page of noise, a textured photo): no
    input it classified, so no saliency or feature maps to draw. The refusal itself is the answer."""

    def __init__(self, reason: str | None, path: str | None = None) -> None:
        self.reason = reason
        self.path = path  # the file, when it was read from one (in a folder's list, which one)
        named = f"{path}: " if path else ""
        super().__init__(f"{named}nothing to explain: the model answered {reason!r} before reading any mark")


@dataclass(frozen=True)
class Prediction:
    """What a model answers for one image."""

    label: str | None  # the class name (a digit model: the number read), or None when it abstains
    probabilities: dict[str, float]  # every class, in the model's class order (calibrated)
    input: torch.Tensor  # uint8 (C, H, W): what the model saw
    reason: str | None = None  # why it abstained: "not a digit", "unsure"
    digits: tuple[dict, ...] = field(default_factory=tuple)  # a number's digits, left to right
    path: str | None = None  # the file it was read from, when it was given as a path (or found in a folder)
    # A number of two or more digits: the probability that it is read exactly, calibrated on validation numbers
    # (`read_number.NUMBER_CONFIDENCE`); None: the product of its digits' probabilities stands.
    whole: float | None = None

    @property
    def probability(self) -> float:
        """The probability of `label` (for a number, that every digit is right and none missing or extra)."""
        if self.whole is not None:
            return self.whole
        if self.digits:
            p = 1.0
            for d in self.digits:
                p *= d["probability"]
            return p
        return max(self.probabilities.values()) if self.probabilities else 0.0

    def __repr__(self) -> str:
        # Short, as a notebook shows it: the answer, not the input's pixels.
        said = (f"path={self.path!r}, " if self.path else "") + f"label={self.label!r}" \
            + (f", reason={self.reason!r}" if self.reason else "")
        if self.digits:
            detail = ", digits=[" + ", ".join(f"{d['class']} {d['probability']:.3f}" for d in self.digits) + "]"
        else:
            detail = ", top=[" + ", ".join(f"{c} {p:.3f}" for c, p in self.top(3)) + "]" if self.probabilities else ""
        return f"Prediction({said}, probability={self.probability:.3f}{detail}, input={tuple(self.input.shape)})"

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The k most probable classes with their probabilities."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:  # (a slice's -1 would drop the last class)
            raise TinyVisionError(f"top(k) takes a whole number k >= 1, not {k!r}")
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k]

    def to_dict(self, top_k: int = 3) -> dict:
        reply = {"prediction": self.label, "probability": round(self.probability, 6)}
        if self.reason:
            reply["reason"] = self.reason
        reply["probabilities"] = {c: round(p, 6) for c, p in self.probabilities.items()}
        reply["top"] = [{"class": c, "probability": round(p, 6)} for c, p in self.top(top_k)]
        if self.digits:
            reply["digits"] = list(self.digits)
        return reply


class Model:
    """A trained classifier: its card, its inference path, and how its inputs are prepared."""

    def __init__(self, card: ModelCard | str | os.PathLike, source: Path | None = None,
                 network: nn.Module | None = None, runner: Runner | None = None, preparation: str = "auto",
                 device: torch.device | str = "cpu", limits: Limits = DEFAULT_LIMITS) -> None:
        if isinstance(card, (str, os.PathLike)):
            # `Model("runs/x")`, as Ultralytics users write `YOLO("best.pt")`: the same as `tinyvision.load`.
            if source is not None or network is not None or runner is not None:
                raise TinyVisionError("Model(path) takes the path alone (and preparation, device); "
                                      "or use tinyvision.load(path)")
            self.__dict__.update(Model.load(card, preparation, str(device)).__dict__)
            return
        if not isinstance(card, ModelCard) or source is None:
            raise TinyVisionError(f"Model() takes a run folder, a model.safetensors or a .onnx path (as "
                                  f"tinyvision.load does), not a {type(card).__name__}")
        self.card = card
        self.source = source
        self.network = network
        self.device = torch.device(device)
        self.limits = limits
        self.preparation: Preparation = choose_preparation(card.preparation, card.input_shape, preparation)
        self._graph: InferenceGraph | None = None
        if network is not None:
            # Put in eval mode once, here: requests served in parallel threads never change module state.
            self._graph = InferenceGraph(network, card.normalization, card.tta, card.temperature)
            self._graph.to(self.device).eval()
        if runner is None:
            if self._graph is None:
                raise ValueError("a Model needs a network or a runner")
            graph = self._graph
            runner = lambda pixels: calibrated_logits(graph, pixels, self.device)  # noqa: E731
        self._runner = runner

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path, preparation: str = "auto", device: str = "cpu",
             runtime: str = "auto") -> Model:
        """A run folder (or the `Run` that `train` returned), a `model.safetensors`, or an exported `.onnx`
        (with its `.onnx.json` beside it).

        `runtime="onnx"` runs a run folder's exported `model.onnx` instead of PyTorch.
        """
        if not isinstance(path, (str, os.PathLike)):  # (a `Run` is a PathLike: its folder)
            raise TinyVisionError(f"load() takes a run folder, a model.safetensors or a .onnx path, "
                                  f"not a {type(path).__name__}")
        path = Path(path).expanduser()
        refuse_pytorch_file(path, "load its run folder, a model.safetensors or a .onnx export instead")
        if runtime not in ("auto", "torch", "onnx"):
            raise TinyVisionError(f"unknown runtime {runtime!r}; choose torch or onnx")
        if path.suffix.lower() == ".onnx" or runtime == "onnx":
            given = path.suffix.lower() == ".onnx"  # the export itself, or the run it was made from
            checkpoint = path.with_name(MODEL_FILE) if given else resolve_model_path(path)
            onnx_path = path if given else checkpoint.with_name("model.onnx")
            if not onnx_path.is_file():
                command = export_command(onnx_path, checkpoint if checkpoint.is_file() else None)
                raise TinyVisionError(f"no {onnx_path}; write it first with: {command}")
            card, exported_from = onnx_card(onnx_path)
            if not given:
                check_export_current(onnx_path, exported_from, checkpoint)
            warn_unfinished_export(card, onnx_path)
            return cls(card, onnx_path, runner=onnx_runner(onnx_path, card), preparation=preparation)
        dev = select_device(device)
        network, card = load_model(path, dev)
        warn_unfinished(card, path)
        return cls(card, resolve_model_path(path), network=network, preparation=preparation, device=dev)

    # -- what it is --------------------------------------------------------------------------

    @property
    def classes(self) -> tuple[str, ...]:
        return self.card.classes

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.card.input_shape

    @property
    def graph(self) -> InferenceGraph:
        """The PyTorch inference path (normalisation, TTA, temperature around the network), in eval mode."""
        if self._graph is None:
            raise TinyVisionError(f"{self.source} is an exported file: it has no PyTorch network")
        return self._graph

    def __repr__(self) -> str:
        return (f"Model({self.card.model!r} on {self.card.dataset!r}, {len(self.classes)} classes, "
                f"input {self.input_shape}, preparation {self.preparation.mode!r}, source {str(self.source)!r})")

    # -- inference -----------------------------------------------------------------------------

    def logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """Prepared inputs (N, C, H, W) -> calibrated logits (N, classes): the one inference path. Their
        softmax is the probabilities; the card's rejection rule judges them (`calibration`). Inputs are
        pixels: uint8, or floats in [0, 1] (`x.float() / 255`), as a user's array is read; a numpy array too."""
        if isinstance(pixels, np.ndarray):
            pixels = torch.from_numpy(np.ascontiguousarray(pixels))
        if not isinstance(pixels, torch.Tensor):
            raise TinyVisionError(f"logits() takes a tensor or numpy array (N, {self.input_shape}), "
                                  f"not a {type(pixels).__name__}: predict() reads images of any kind")
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != tuple(self.input_shape):
            raise TinyVisionError(f"inputs of shape {tuple(pixels.shape)}; this model takes (N, {self.input_shape})")
        return self._runner(as_pixels(pixels))

    def log_probs(self, pixels: torch.Tensor) -> torch.Tensor:
        """Prepared uint8 inputs (N, C, H, W) -> log-probabilities (N, classes)."""
        return as_log_probs(self.logits(pixels))

    def is_prepared(self, source) -> bool:
        """A dataset image is used as it is (`dataset_image`)."""
        return self.dataset_image(source) is not None

    def dataset_image(self, source) -> torch.Tensor | None:
        """`source` as the uint8 (C, H, W) input it already is, or None (an image to prepare).

        For other models, a uint8 tensor shaped like the model's input is one. For a digit model, one digit of
        the model's size is, (H, W) (or a (1, H, W) tensor; uint8, or floats in [0, 1]), when it already looks as
        preparation leaves a digit: light ink on a dark frame, its centre of mass at the centre (as MNIST
        centred it; every MNIST digit within 1.42 px), one digit fitted to MNIST's box (`one_fitted_digit`:
        99.78% of MNIST's test digits; a small number drawn in the canvas is not). That is MNIST's
        `x_test[0]` in Keras, or
        torchvision's `ToTensor()` digit: read as a user's image it was prepared a second time, and the
        answer could differ from the batch `x_test[:1]` and from evaluation (6 of 1,500 test digits). A
        user's own drawing of that size, dark on light or off-centre, is prepared as any image is, whatever
        its dtype: a uint8 (1, H, W) tensor too (torchvision's `read_image` of a 28x28 drawing; used as it
        was, a drawing dark on light was read right 25 times in 300, and 293 times as floats)."""
        if isinstance(source, torch.Tensor) and source.dtype == torch.uint8 and not source.is_meta \
                and tuple(source.shape) == tuple(self.input_shape) and self.preparation.mode != "digit":
            return source.cpu()
        channels, height, width = self.input_shape
        if self.preparation.mode != "digit" or not isinstance(source, (torch.Tensor, np.ndarray)) \
                or (isinstance(source, torch.Tensor) and (source.layout != torch.strided or source.is_meta)):
            return None  # sparse or meta: refused later, by the decoder (it holds no pixels)
        source = gray_plane(source, height, width)
        shape = tuple(source.shape)
        if shape != (height, width) and not (isinstance(source, torch.Tensor) and shape == (1, height, width)):
            return None
        if isinstance(source, torch.Tensor):  # (uint8 stays uint8: 0-255 as floats would be refused)
            source = source.detach().cpu()
            values = source.numpy() if source.dtype == torch.uint8 else source.float().numpy()
        else:
            values = source
        if values.dtype != np.uint8 and not (np.issubdtype(values.dtype, np.floating) and np.isfinite(values).all()
                                             and 0.0 <= float(values.min()) and float(values.max()) <= 1.0):
            return None
        ink = values.reshape(height, width).astype(np.float32) / (255.0 if values.dtype == np.uint8 else 1.0)
        if not looks_prepared(ink):
            return None
        # (a copy: a decoded image's pixels are Pillow's read-only buffer, which torch refuses to share)
        return as_pixels(torch.from_numpy(np.array(values, copy=True)).reshape(1, height, width))

    def prepare(self, source) -> torch.Tensor:
        """Any image source -> the uint8 (C, H, W) input this model takes.

        A dataset image (see `dataset_image`), or for a digit model a file of one (an MNIST digit saved as a
        PNG, `saved_dataset_image`), is taken as it is, as `predict` takes it; anything else goes through the
        decoder and the model's preparation (MNIST-style for digit models: the image's ink as one digit;
        `predict` reads every digit).
        """
        taken = self.dataset_image(source)
        if taken is None and self.preparation.mode == "digit":
            source, taken = self.saved_dataset_image(source)
        return taken if taken is not None else prepare(source, self.preparation, self.limits)

    def prepared_batch(self, source) -> torch.Tensor | None:
        """`source` as a batch of prepared inputs (N, C, H, W), when it is one; else None (one image, or a
        list). A batch is a 4-D tensor (N, C, H, W), a 4-D numpy array (N, C, H, W) or (N, H, W, C), or, for a
        one-channel model, a 3-D array or tensor (N, H, W) of images of the model's size: MNIST as Keras
        (`x_test`, `x_test[:1]`) and torchvision (`dataset.data[:4]`) hold it. A (3, 28, 28) or (4, 28, 28)
        tensor is three or four digits, not one colour image of the model's exact size (which was the
        reading once: a learner's `dataset.data[:4]` came back as one made-up number). A (1, H, W) tensor
        stays one image, as torchvision's ToTensor gives one; a (1, H, W) numpy array is a batch of one. So is a
        gray drawing in colour planes (`gray_in_planes`), as torchvision's `read_image` reads one saved as RGB,
        RGBA or gray with alpha (three or four answers, none right). A sparse or meta tensor is no batch: the
        decoder says it holds no pixels."""
        if not isinstance(source, (torch.Tensor, np.ndarray)) or source.ndim not in (3, 4):
            return None
        if isinstance(source, torch.Tensor) and (source.layout != torch.strided or source.is_meta):
            return None
        channels, height, width = self.input_shape
        if source.ndim == 3:
            if channels != 1 or tuple(source.shape[1:]) != (height, width):
                return None
            if isinstance(source, torch.Tensor) and (source.shape[0] == 1 or gray_in_planes(source)):
                return None  # one (1, H, W) image, as torch holds one, or one gray image in colour planes
            source = source[:, None]
        if isinstance(source, np.ndarray) and source.dtype.kind not in "biuf":  # objects, strings, dates: refused
            from tinyvision.image.decode import pixel_values

            source = pixel_values(source)
        batch = torch.as_tensor(np.ascontiguousarray(source)) if isinstance(source, np.ndarray) else source
        if isinstance(source, np.ndarray) and batch.shape[1] != channels and (
                batch.shape[-1] == channels or batch.shape[-1] in (1, 3, 4) and batch.shape[1] not in (1, 3, 4)):
            batch = batch.permute(0, 3, 1, 2)  # numpy's (N, H, W, C)
        return batch

    def predict_prepared(self, pixels: torch.Tensor) -> list[Prediction]:
        """Predictions for prepared inputs (N, C, H, W), uint8 or floats in [0, 1]; under the card's threshold,
        an abstention. Each `Prediction.input` is the uint8 image the model saw."""
        from tinyvision.read_number import rejection

        pixels = as_pixels(pixels)
        logits = self.logits(pixels)
        answers = []
        for z, p, x in zip(logits, logits.softmax(1), pixels):
            probabilities = {c: float(v) for c, v in zip(self.classes, p)}
            reason = rejection(self, z[None])
            label = None if reason else self.classes[int(p.argmax())]
            answers.append(Prediction(label, probabilities, x, reason=reason))
        return answers

    def predict_one(self, source) -> Prediction:
        taken = self.dataset_image(source)  # (looked at once: it was asked twice for every array)
        if taken is not None:
            answer = self.predict_prepared(taken[None])[0]
        elif self.preparation.mode == "digit":
            from tinyvision.read_number import read_number

            data, saved = self.saved_dataset_image(source)
            # A dataset image saved as a file is read as evaluation reads it; anything else as a user's
            # image: every digit on it, left to right.
            answer = self.predict_prepared(saved[None])[0] if saved is not None else read_number(self, data)
        else:
            answer = self.predict_prepared(prepare(source, self.preparation, self.limits)[None])[0]
        return replace(answer, path=os.fspath(source)) if isinstance(source, (str, os.PathLike)) else answer

    def saved_dataset_image(self, source) -> tuple[object, torch.Tensor | None]:
        """For a digit model: a file, bytes or PIL image of exactly the model's size that holds a dataset
        image (`dataset_image`: MNIST's test digits saved as PNG) -> (its bytes, the image as the model takes
        it); any other source -> (it, read once if it was a stream, None). Saved as files, MNIST's test
        digits were prepared a second time by the reader, and 7 of 2,000 answers differed from what
        evaluation counted, each wrong (an 8 read "53")."""
        from PIL import Image

        from tinyvision.image.decode import read_file, read_stream

        data = read_stream(source, self.limits)  # a stream, read once for both looks
        if isinstance(data, (str, os.PathLike)) and Path(data).is_file():
            data = read_file(data, self.limits)
        if not isinstance(data, (Image.Image, bytes, bytearray, memoryview)):
            return data, None
        _, height, width = self.input_shape
        gray = gray_of_size(data, height, width, self.limits)
        return data, None if gray is None else self.dataset_image(gray)

    def predict_found(self, path: Path) -> Prediction:
        """A folder's image: its prediction, or, when it cannot be read, an answer saying so (label None,
        reason "unreadable: ..."), so that one damaged file among many does not lose the others' answers."""
        try:
            return self.predict_one(path)
        except TinyVisionError as exc:
            return Prediction(None, {}, torch.zeros(self.input_shape, dtype=torch.uint8), reason=f"{UNREADABLE}{exc}",
                              path=os.fspath(path))

    def predict(self, source) -> Prediction | list[Prediction]:
        """Predict one image or a list of them.

        `source`: a file path, bytes, a PIL image, a numpy array ((H, W) or
        (H, W, C), uint8 or float in [0, 1]), a torch tensor, or a list of these;
        a batch of prepared inputs (`prepared_batch`: a tensor or numpy array (N, C, H, W), or MNIST's
        (N, H, W) as Keras and torchvision hold it; uint8, or floats in [0, 1]) gives one prediction each,
        and a folder one per image in it and below, as does a pattern of file names ("scans/*.jpg"; sorted;
        one that cannot be read is answered with label None and reason "unreadable: ..."). A path may start
        with `~`. An answer for a file has its `path`.
        A digit model reads a whole number: `label` is every digit, left to right.
        """
        batch = self.prepared_batch(source)
        if batch is not None and batch.shape[1] != self.input_shape[0] and batch.shape[1] in (1, 3, 4):
            # Colour digits for a gray model (or gray photos for a colour one): each image converted as one
            # alone or in a list is (a batch of them was refused).
            return [self.predict_one(image) for image in batch]  # each (C, H, W), as torch holds one image
        if batch is not None:
            return self.predict_prepared(batch)
        if isinstance(source, (str, os.PathLike)):
            if not os.fspath(source):  # Path("") is the current folder
                raise TinyVisionError("an empty path names no image or folder")
            from tinyvision.predict import expand, is_pattern

            path = Path(source).expanduser()
            if path.is_dir() or is_pattern(path):
                # A folder: the images in it and below, as a folder dataset lists them; a pattern
                # ("scans/*.jpg"): the files it matches. Each is answered, a damaged one as such.
                try:
                    found = expand(path)
                except TinyVisionError as exc:
                    raise TinyVisionError(f"{path}: {exc}") from None
                return [self.predict_found(each) for each in found]
            return self.predict_named(path)
        if isinstance(source, (list, tuple)):
            return [self.predict_named(Path(s).expanduser() if isinstance(s, (str, os.PathLike)) else s)
                    for s in source]
        return self.predict_named(source)

    __call__ = predict

    def predict_named(self, source) -> Prediction:
        """`predict_one`, its errors naming the file when the source is a path (in a list of paths, which
        one failed)."""
        try:
            return self.predict_one(source)
        except TinyVisionError as exc:
            if not isinstance(source, (str, os.PathLike)):
                raise
            named = f"{os.fspath(source)}: {exc}"
            raise (ImageError(named, exc.kind) if isinstance(exc, ImageError) else TinyVisionError(named)) from None

    def explained_inputs(self, prediction: Prediction) -> tuple[list[torch.Tensor], list[str]]:
        """The inputs a prediction was made from (a number: each digit) and the class each was given."""
        if prediction.digits:
            inputs = list(prediction.input.split(self.input_shape[2], dim=2))  # the strip, one digit each
            return inputs, [d["class"] for d in prediction.digits]
        if not prediction.probabilities:
            if prediction.reason and prediction.reason.startswith(UNREADABLE):  # a folder's file: no answer at all
                raise TinyVisionError(f"{prediction.path}: {prediction.reason}")
            raise NothingToExplain(prediction.reason, prediction.path)
        return [prediction.input], [prediction.top(1)[0][0]]

    def saliency(self, prediction: Prediction) -> torch.Tensor:
        """(H, W) in [0, 1] over `prediction.input`: where the evidence for each answer lies."""
        from tinyvision.explain import saliency_maps

        inputs, labels = self.explained_inputs(prediction)
        targets = torch.tensor([self.classes.index(c) for c in labels])
        maps = saliency_maps(self.graph.network, self.card.normalization, torch.stack(inputs), targets)
        return torch.cat(list(maps), dim=1)

    def explain(self, source):
        """Why the model answers what it does for an image: an `Explanation` (`.figure()` draws it). `source`
        is anything `predict` takes, read as it reads it: a batch of prepared inputs, a list, a folder or a
        pattern gives a list, one for each of `predict`'s answers (a batch explained as one image was a made-up
        colour picture's explanation; a folder, a pattern or a `~` path was refused as no file).
        A refusal is explained by the class it came closest to, with its `reason`; `NothingToExplain`
        (a `TinyVisionError`) when the model read no mark at all (a page of noise: "not a digit").

        The saliency (integrated gradients) and the feature maps are computed on
        the PyTorch network for the prepared input (for a number: each digit,
        side by side); test-time views are not part of the picture.
        """
        answers = self.predict(source)
        return [self.explanation(p) for p in answers] if isinstance(answers, list) else self.explanation(answers)

    def explanation(self, prediction: Prediction):
        """The `Explanation` of one of this model's predictions (see `explain`)."""
        from tinyvision.explain import Explanation, feature_maps

        inputs, labels = self.explained_inputs(prediction)
        maps = [feature_maps(self.graph.network, self.card.normalization, x) for x in inputs]
        stitched = [(name, torch.cat([m[k][1] for m in maps], dim=2)) for k, (name, _) in enumerate(maps[0])]
        # A refusal is explained too, as one: the class the model came closest to, and that it was refused.
        return Explanation(
            input=prediction.input, label="".join(labels), probability=prediction.probability,
            saliency=self.saliency(prediction), feature_maps=stitched, reason=prediction.reason, path=prediction.path,
        )

    # -- evaluation and export -------------------------------------------------------------------

    def evaluate(self, dataset: str | None = None, data_dir: str | Path | None = None,
                 limit_batches: int | None = None) -> dict:
        """Test-split metrics of this model's inference path: loss, accuracy, per class, confusion."""
        from tinyvision.evaluation_report import evaluate_model

        if limit_batches is not None and (isinstance(limit_batches, bool) or not isinstance(limit_batches, int)
                                          or limit_batches < 1):
            # (written as the flag: the CLI shows it so, a Python caller reads `limit_batches`)
            raise TinyVisionError(f"--limit-batches must be a whole number, at least 1, not {limit_batches!r}")
        # (a number or None here ended in an AttributeError or TypeError from deep inside)
        expect(dataset, (str, type(None)), "dataset", "a dataset's name (mnist, folder:PATH, ...) or None")
        expect(data_dir, (str, os.PathLike, type(None)), "data_dir", "a folder's path or None")
        return evaluate_model(self, dataset, Path(data_dir) if data_dir else None, limit_batches)

    def export(self, format: str = "onnx", path: str | Path | None = None) -> Path:  # noqa: A002
        """Write the inference path as an ONNX or TorchScript file (plus a JSON card beside it)."""
        from tinyvision.datasets.split import split_record, test_part
        from tinyvision.export import export_graph

        out = self.export_target(format, path)
        weights = stored_digest(self.source) if self.source.suffix == ".safetensors" else None
        split, _ = split_record(self.source)
        return export_graph(copy.deepcopy(self.graph).cpu().eval(), self.card, format, out, weights,
                            test_part(split))

    def export_target(self, format: str, path: str | Path | None = None) -> Path:  # noqa: A002
        """Where `export` writes (default: model.onnx / model.pt beside the checkpoint), refused when it is a
        file of the run's own or its suffix names the other format."""
        from tinyvision.export import FORMATS

        if not isinstance(format, str) or format not in FORMATS:
            raise TinyVisionError(f"unknown export format {format!r}; choose from {', '.join(FORMATS)}")
        if path is not None and (not isinstance(path, (str, os.PathLike)) or not str(path)):
            raise TinyVisionError(f"export() writes to a file path, not {path!r}")
        out = Path(path) if path is not None else self.source.with_name("model" + FORMATS[format])
        own = {self.source.resolve()} | {self.source.resolve().with_name(n) for n in (MODEL_FILE, STATE_FILE)}
        # Beside the checkpoint, a file that is no export is the run's own (config.json, metrics.json,
        # split.json ...): written over, the run could no longer be plotted or resumed.
        beside = out.resolve().parent == self.source.resolve().parent and out.exists() \
            and out.suffix.lower() not in FORMATS.values()
        if out.resolve() in own or beside:  # (it wrote over the checkpoint it read, and said so with success)
            raise TinyVisionError(f"{out}: the run's own {out.name}; export to another file")
        if out.is_symlink() or (out.exists() and not out.is_file()):
            # Published by renaming over it: --out /dev/null (as root) made /dev/null a plain file, and a link
            # became a file beside what it pointed to.
            what = "a link" if out.is_symlink() else "a folder" if out.is_dir() else "not a plain file"
            raise TinyVisionError(f"{out}: {what}; export to a file's path")
        other = next((f for f, suffix in FORMATS.items() if suffix == out.suffix.lower() and f != format), None)
        if other is not None:  # loading goes by the suffix: an ONNX graph named .pt was refused as TorchScript
            raise TinyVisionError(f"{out}: {out.suffix} names a {other} file; name a {format} export "
                                  f"{FORMATS[format]}")
        if out.suffix.lower() != FORMATS[format]:
            # Any other name was written: `--out photo.png` replaced the user's photo with a graph, which no
            # loader then read (files are loaded by their suffix).
            raise TinyVisionError(f"{out}: a {format} export is named *{FORMATS[format]} (files are loaded by "
                                  f"their suffix); name it {out.with_suffix(FORMATS[format]).name}")
        return out


def warn_unfinished(card: ModelCard, path: Path) -> None:
    """An `UnfinishedRunWarning` when the model is not its run's end (an interrupted or running run):
    it loads, to be tried, but its answers are not the finished model's."""
    why = unfinished(card)
    if why is not None:
        folder = path if path.is_dir() else path.parent
        warnings.warn(f"{path}: {why}; finish it with: {resume_command(folder)}", UnfinishedRunWarning,
                      stacklevel=4)


def load(path: str | Path, preparation: str = "auto", device: str = "cpu", runtime: str = "auto") -> Model:
    """Load a trained model: a run folder, a `model.safetensors`, or an exported `.onnx`."""
    return Model.load(path, preparation=preparation, device=device, runtime=runtime)


def describe(path: str | Path) -> ModelCard:
    """A checkpoint's card without loading its weights."""
    return read_card(Path(path))


__all__ = ["Model", "Prediction", "describe", "load"]

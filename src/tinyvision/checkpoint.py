"""Checkpoints: atomic saves, and loads that never execute code from the file.

`model.safetensors` holds the weights and, in its metadata, everything needed
to use the model alone: model name, input shape, class names, normalisation,
the run's config and the code version. `train_state.pt` holds what resuming
needs (optimizer, RNG states, position in the epoch); it is read with
`torch.load(weights_only=True)`, which refuses pickled code.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import safetensors
import safetensors.torch
import torch
from torch import nn

from tinyvision.atomic import atomic_path
from tinyvision.errors import TinyVisionError
from tinyvision.inference import TTA
from tinyvision.models import create_model
from tinyvision.normalization import Normalization

MODEL_FILE = "model.safetensors"
STATE_FILE = "train_state.pt"
DIGEST_KEY = "tinyvision-weights-sha256"  # safetensors metadata: the weights' checksum (weights_digest)
FORMAT_VERSION = 2  # 2: kind, preparation, tta and temperature are the card's own fields
DIGIT_CLASSES = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class ModelCard:
    """The metadata a checkpoint carries beside its weights: all that using the model needs."""

    model: str
    input_shape: tuple[int, int, int]
    classes: tuple[str, ...]
    normalization: Normalization
    dataset: str
    config: dict
    code_version: str
    metrics: dict
    kind: str = "folder"  # the dataset's kind (registry): digits | clothes | photos | folder
    preparation: str = "resize"  # how users' images become inputs: digit | resize
    tta: TTA = TTA()  # test-time augmentation, applied by evaluate, predict, serve and export alike
    temperature: float = 1.0  # calibrated on the validation split: probabilities = softmax(logits / T)
    reject: dict = field(default_factory=dict)  # "not a digit" / "unsure": thresholds chosen on validation

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT_VERSION,
            "model": self.model,
            "input_shape": list(self.input_shape),
            "classes": list(self.classes),
            "normalization": self.normalization.to_dict(),
            "dataset": self.dataset,
            "kind": self.kind,
            "preparation": self.preparation,
            "tta": self.tta.to_dict(),
            "temperature": self.temperature,
            "reject": self.reject,
            "config": self.config,
            "code_version": self.code_version,
            "metrics": self.metrics,
        })

    @classmethod
    def from_json(cls, text: str, source: Path) -> ModelCard:
        try:
            d = json.loads(text)
            if d.get("format") not in (1, FORMAT_VERSION):
                raise ValueError(f"format {d.get('format')!r}, expected {FORMAT_VERSION}")
            d = upgrade_v1(d) if d["format"] == 1 else d
            temperature = float(d.get("temperature", 1.0))
            if not 0.01 <= temperature <= 100:
                raise ValueError(f"temperature {temperature} out of range")
            return cls(
                model=str(d["model"]),
                input_shape=tuple(int(v) for v in d["input_shape"]),
                classes=tuple(str(c) for c in d["classes"]),
                normalization=Normalization.from_dict(d["normalization"]),
                dataset=str(d["dataset"]),
                config=dict(d["config"]),
                code_version=str(d["code_version"]),
                metrics=dict(d.get("metrics", {})),
                kind=str(d["kind"]),
                preparation=str(d["preparation"]),
                tta=TTA.from_dict(d.get("tta")),
                temperature=temperature,
                reject=dict(d.get("reject") or {}),
            ).checked()
        except (ValueError, KeyError, TypeError) as exc:
            raise TinyVisionError(f"{source}: invalid tinyvision metadata ({exc})") from None

    def checked(self) -> ModelCard:
        """This card, if every value the inference path uses is in range (ValueError otherwise): a card
        is read from a file, and a damaged or hostile one must not become a huge allocation or a NaN."""
        from tinyvision.calibration import ENERGY, TOP_PROBABILITY, score_of
        from tinyvision.datasets.folder import MAX_SIZE, MIN_SIZE

        channels, height, width = self.input_shape
        norm = self.normalization
        numbers = [*norm.mean, *norm.std, self.temperature]
        reject = self.reject or {}
        bars = [reject["threshold"]] if "threshold" in reject else []
        bars += list((reject.get("number_thresholds") or {}).values())
        checks = [
            (channels in (1, 3) and MIN_SIZE <= min(height, width) and max(height, width) <= MAX_SIZE,
             f"input shape {list(self.input_shape)}"),
            (len(self.classes) >= 1 and len(set(self.classes)) == len(self.classes), "classes"),
            (len(norm.mean) == len(norm.std) == channels and all(math.isfinite(v) for v in numbers)
             and min(norm.std) > 0, "normalization"),
            (0 <= self.tta.shift <= 3, f"test-time shift {self.tta.shift}"),
            (self.preparation in ("digit", "resize"), f"preparation {self.preparation!r}"),
            (score_of(reject) in (TOP_PROBABILITY, ENERGY), "rejection score"),
            # A probability's bar lies in [0, 1]; an energy's (a log-sum-exp of logits) is any finite number.
            (all(isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b)
                 and (score_of(reject) == ENERGY or 0 <= b <= 1) for b in bars), "rejection thresholds"),
        ]
        bad = [what for ok, what in checks if not ok]
        if bad:
            raise ValueError(f"out of range: {', '.join(bad)}")
        return self


def upgrade_v1(d: dict) -> dict:
    """Checkpoints of tinyvision 0.1 guessed their preparation from the class names, and tvresnet
    flipped inside forward(): the same behaviour, stated in the card."""
    digits = tuple(d["classes"]) == DIGIT_CLASSES and list(d["input_shape"]) == [1, 28, 28]
    config = d.get("config", {})
    flip = bool(config.get("tta_flip")) or d["model"] == "tvresnet"
    return {**d, "kind": "digits" if digits else "folder", "preparation": "digit" if digits else "resize",
            "tta": {"shift": int(config.get("tta", 0)), "flip": flip}}


def weights_for_saving(model: nn.Module) -> dict[str, torch.Tensor]:
    # safetensors stores dense row-major tensors; channels_last weights are not.
    return {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the weights (names, dtypes, shapes and bytes, in name order): safetensors has no
    checksum of its own, and a flipped byte in a weight gives confident wrong answers, not an error."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def save_model(path: Path, model: nn.Module, card: ModelCard) -> None:
    weights = weights_for_saving(model)
    with atomic_path(path) as tmp:
        safetensors.torch.save_file(
            weights, str(tmp), metadata={"tinyvision": card.to_json(), DIGEST_KEY: weights_digest(weights)}
        )


def resolve_model_path(path: Path | str) -> Path:
    """A run folder or a checkpoint file -> the checkpoint file."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise TinyVisionError(f"no checkpoint at {path}")
    return path


def read_metadata(path: Path | str) -> dict[str, str]:
    """A checkpoint's (or run folder's) safetensors header metadata, read without loading the weights."""
    path = resolve_model_path(path)
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for a bad header
        raise TinyVisionError(f"{path}: not a readable safetensors checkpoint ({exc})") from None


def card_of(metadata: dict[str, str], path: Path) -> ModelCard:
    if "tinyvision" not in metadata:
        raise TinyVisionError(f"{path}: not a tinyvision checkpoint (no metadata)")
    return ModelCard.from_json(metadata["tinyvision"], path)


def read_card(path: Path) -> ModelCard:
    path = resolve_model_path(path)
    return card_of(read_metadata(path), path)


def stored_digest(path: Path | str) -> str | None:
    """The SHA-256 of the weights a checkpoint (or run folder) says it holds, read from its header without
    loading them; None for a checkpoint saved before digests. Benchmarks record it, so that figures compared
    as "the same model" are checked to be: a run folder's path can be reused by a retrained model."""
    return read_metadata(path).get(DIGEST_KEY)


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], source: Path, name: str) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise TinyVisionError(
            f"{source}: weights do not fit model {name!r} (a checkpoint of another model?): {detail}"
        ) from None


def load_model(path: Path, device: torch.device | str = "cpu") -> tuple[nn.Module, ModelCard]:
    """Rebuild the model a checkpoint describes and load its weights, in eval mode."""
    path = resolve_model_path(path)
    metadata = read_metadata(path)
    card = card_of(metadata, path)
    expected = metadata.get(DIGEST_KEY)
    try:
        state = safetensors.torch.load_file(str(path), device="cpu")
    except Exception as exc:
        raise TinyVisionError(f"{path}: corrupt checkpoint ({exc})") from None
    if expected is not None and weights_digest(state) != expected:  # checkpoints before 0.2 have none
        raise TinyVisionError(f"{path}: corrupt checkpoint (its weights do not match their checksum)")
    if not all(bool(torch.isfinite(t).all()) for t in state.values() if t.is_floating_point()):
        raise TinyVisionError(f"{path}: corrupt checkpoint (weights that are NaN or infinite)")
    model = create_model(card.model, card.input_shape, len(card.classes))
    load_weights(model, state, path, card.model)
    return model.to(device).eval(), card


def save_train_state(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_train_state(path: Path) -> dict:
    if not path.is_file():
        raise TinyVisionError(f"cannot resume: {path} does not exist")
    try:
        with warnings.catch_warnings():  # torch warns about old pickle protocols: the error says enough
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's message suggests weights_only=False: never for a file like this
        raise TinyVisionError(f"{path}: refused: it holds objects other than tensors and plain data "
                              f"(a damaged or untrusted training state; nothing in it was run)") from None
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TinyVisionError(f"{path}: unreadable training state ({first})") from None

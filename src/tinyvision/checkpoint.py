"""Checkpoints: atomic saves, and loads that never execute code from the file.

`model.safetensors` holds the weights and, in its metadata, everything needed
to use the model alone: model name, input shape, class names, normalisation,
the run's config and the code version. `train_state.pt` holds what resuming
needs (optimizer, RNG states, position in the epoch); it is read with
`torch.load(weights_only=True)`, which refuses pickled code.
"""

from __future__ import annotations

import json
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
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise TinyVisionError(f"{source}: invalid tinyvision metadata ({exc})") from None


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


def save_model(path: Path, model: nn.Module, card: ModelCard) -> None:
    with atomic_path(path) as tmp:
        safetensors.torch.save_file(
            weights_for_saving(model), str(tmp), metadata={"tinyvision": card.to_json()}
        )


def resolve_model_path(path: Path | str) -> Path:
    """A run folder or a checkpoint file -> the checkpoint file."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise TinyVisionError(f"no checkpoint at {path}")
    return path


def read_card(path: Path) -> ModelCard:
    path = resolve_model_path(path)
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for a bad header
        raise TinyVisionError(f"{path}: not a readable safetensors checkpoint ({exc})") from None
    if "tinyvision" not in metadata:
        raise TinyVisionError(f"{path}: not a tinyvision checkpoint (no metadata)")
    return ModelCard.from_json(metadata["tinyvision"], path)


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
    card = read_card(path)
    try:
        state = safetensors.torch.load_file(str(path), device="cpu")
    except Exception as exc:
        raise TinyVisionError(f"{path}: corrupt checkpoint ({exc})") from None
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
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise TinyVisionError(f"{path}: unreadable training state ({exc})") from None

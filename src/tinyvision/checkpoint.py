"""Checkpoints: atomic saves, and loads that never execute code from the file.

`model.safetensors` holds the weights and, in its metadata, everything needed
to use the model alone: model name, input shape, class names, normalisation,
the run's config and the code version. `train_state.pt` holds what resuming
needs (optimizer, RNG states, position in the epoch); it is read with
`torch.load(weights_only=True)`, which refuses pickled code.
"""

from __future__ import annotations

import hashlib
import io
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
from tinyvision.models import create_model, shapes_only
from tinyvision.normalization import MIN_STD, Normalization
from tinyvision.typed_json import is_int, is_number, typed

MODEL_FILE = "model.safetensors"
STATE_FILE = "train_state.pt"
# The ranges a card's numbers are taken in (`ModelCard.checked`): a normalisation's mean and std for pixels in
# [0, 1], and an energy threshold (a log-sum-exp of calibrated logits, tens at most for a trained model).
MAX_NORMALIZATION = 10.0
MAX_ENERGY = 1e4
CARD_DIGEST_KEY = "tinyvision-card-sha256"  # ... and its model card's (the classes, thresholds, temperature)
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
        """The card a checkpoint's metadata holds. Every value is taken as it is written, never coerced: a
        card is read from a file, and `"flip": "false"` must not become mirrored views, nor a string of
        class names a list of letters."""
        try:
            d = typed(json.loads(text), dict, "the card")
            fmt = d.get("format")
            if not is_int(fmt) or fmt not in (1, FORMAT_VERSION):
                raise ValueError(f"format {fmt!r}, expected {FORMAT_VERSION}")
            d = upgrade_v1(d) if fmt == 1 else d
            temperature = d.get("temperature", 1.0)
            if not is_number(temperature) or not 0.01 <= temperature <= 100:
                raise ValueError(f"temperature {temperature!r} out of range")
            return cls(
                model=typed(d["model"], str, "model"),
                input_shape=tuple(typed(v, int, "input_shape") for v in typed(d["input_shape"], list, "input_shape")),
                classes=tuple(typed(c, str, "classes") for c in typed(d["classes"], list, "classes")),
                normalization=Normalization.from_dict(typed(d["normalization"], dict, "normalization")),
                dataset=typed(d["dataset"], str, "dataset"),
                config=typed(d["config"], dict, "config"),
                code_version=typed(d["code_version"], str, "code_version"),
                metrics=typed(d.get("metrics", {}), dict, "metrics"),
                kind=typed(d["kind"], str, "kind"),
                preparation=typed(d["preparation"], str, "preparation"),
                tta=TTA.from_dict(typed(d.get("tta") or {}, dict, "tta")),
                temperature=float(temperature),
                reject=typed(d.get("reject") or {}, dict, "reject"),
            ).checked()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise TinyVisionError(f"{source}: invalid tinyvision metadata ({exc})") from None

    def checked(self) -> ModelCard:
        """This card, if every value the inference path uses is in range (ValueError otherwise): a card
        is read from a file, and a damaged or hostile one must not become a huge allocation or a NaN."""
        from tinyvision.calibration import ENERGY, TOP_PROBABILITY, score_of
        from tinyvision.datasets.folder import MAX_SIZE, MIN_SIZE
        from tinyvision.datasets.registry import KINDS

        if len(self.input_shape) != 3:
            raise ValueError(f"input shape {list(self.input_shape)}: [channels, height, width] expected")
        channels, height, width = self.input_shape
        norm = self.normalization
        numbers = [*norm.mean, *norm.std, self.temperature]
        reject = self.reject or {}
        bars = [reject["threshold"]] if "threshold" in reject else []
        per_count = typed(reject.get("number_thresholds") or {}, dict, "number_thresholds")
        bars += list(per_count.values())
        checks = [
            (channels in (1, 3) and MIN_SIZE <= min(height, width) and max(height, width) <= MAX_SIZE,
             f"input shape {list(self.input_shape)}"),
            (self.kind in KINDS, f"kind {self.kind!r}"),
            (all(k.isdecimal() and k.isascii() for k in per_count), "number_thresholds' digit counts"),
            (len(self.classes) >= 1 and len(set(self.classes)) == len(self.classes), "classes"),
            # Pixels are in [0, 1]: a mean or std far outside what any data gives is a damaged card (a mean of
            # 1e300, finite in JSON, overflowed float32 and every answer became NaN).
            (len(norm.mean) == len(norm.std) == channels and all(math.isfinite(v) for v in numbers)
             and all(abs(v) <= MAX_NORMALIZATION for v in norm.mean)
             and all(MIN_STD <= v <= MAX_NORMALIZATION for v in norm.std), "normalization"),
            (0 <= self.tta.shift <= 3, f"test-time shift {self.tta.shift}"),
            (self.preparation in ("digit", "resize"), f"preparation {self.preparation!r}"),
            (score_of(reject) in (TOP_PROBABILITY, ENERGY), "rejection score"),
            # A probability's bar lies in [0, 1]; an energy's (a log-sum-exp of logits) is any finite number.
            (all(is_number(b) and math.isfinite(b) and abs(b) <= MAX_ENERGY
                 and (score_of(reject) == ENERGY or 0 <= b <= 1) for b in bars), "rejection thresholds"),
        ]
        # The config values evaluate and export split and decode the run's folder with (`split_of_run`): taken as
        # written, never coerced (a seed of "x" ended evaluate in int()'s traceback, and "0.1" passed for 0.1).
        config = self.config
        checks += [
            (is_int(config.get("seed", 0)) and abs(config.get("seed", 0)) < 2 ** 63, "config seed"),
            (all(is_number(config.get(k, 0.1)) and 0 <= config.get(k, 0.1) < 1
                 for k in ("val_fraction", "test_fraction")), "config fractions"),
            (config.get("image_size") is None or (is_int(config["image_size"]) and MIN_SIZE <= config["image_size"]
                                                  <= MAX_SIZE), "config image_size"),
        ]
        bad = [what for ok, what in checks if not ok]
        if bad:
            raise ValueError(f"out of range: {', '.join(bad)}")
        return self


def unfinished(card: ModelCard) -> str | None:
    """Why a card's model is not what its run ends with, or None. A run writes its model after every
    epoch so it can be tried and resumed; only the end calibrates it (temperature) and sets the card's
    refusal thresholds, and only the end measures the test set (`test_acc` in its metrics)."""
    if "test_acc" in card.metrics:
        return None
    epoch, epochs = card.metrics.get("epoch"), card.config.get("epochs")
    return (f"the model of an unfinished run (after epoch {epoch} of {epochs}): its probabilities are not "
            f"calibrated and it never abstains")


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
    # Serialised here, written by Python: a full disk is then an OSError the write reports in one line
    # (the libraries' own writers raise their own errors, or abort).
    text = card.to_json()
    data = safetensors.torch.save(weights, metadata={"tinyvision": text, DIGEST_KEY: weights_digest(weights),
                                                     CARD_DIGEST_KEY: text_digest(text)})
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def resolve_model_path(path: Path | str) -> Path:
    """A run folder or a checkpoint file -> the checkpoint file."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise TinyVisionError(f"no checkpoint at {path}")
    refuse_pytorch_file(path, "give its run folder or its model.safetensors instead")
    return path


def refuse_pytorch_file(path: Path, instead: str) -> None:
    """A .pt or .pth file is never read as a model: torch.load of a pickle runs code, and the run's training
    state is for resuming it. Said in one line, with what to give `instead` (`--init-from RUN/train_state.pt`
    was answered with a safetensors header error, naming neither)."""
    if path.suffix.lower() in (".pt", ".pth") and path.is_file():
        what = ("a training state, for resuming its run" if path.name == STATE_FILE
                else "a PyTorch file (a pickle or a TorchScript export: a program, which loading could run)")
        raise TinyVisionError(f"{path}: {what}; {instead}")


def text_path(path: Path) -> str:
    """The path as safetensors takes it: text. A folder renamed with bytes that are not UTF-8 was reported as
    "not a readable safetensors checkpoint", which blamed an intact file."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise TinyVisionError(f"{path}: its path is not UTF-8 text, which safetensors cannot open; rename the "
                              f"folder (a run folder is refused such a name for the same reason)") from None
    return text


def read_metadata(path: Path | str) -> dict[str, str]:
    """A checkpoint's (or run folder's) safetensors header metadata, read without loading the weights."""
    path = resolve_model_path(path)
    name = text_path(path)
    try:
        with safetensors.safe_open(name, framework="pt") as f:
            return f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for a bad header
        raise TinyVisionError(f"{path}: not a readable safetensors checkpoint ({exc})") from None


def card_of(metadata: dict[str, str], path: Path) -> ModelCard:
    if "tinyvision" not in metadata:
        raise TinyVisionError(f"{path}: not a tinyvision checkpoint (no metadata)")
    expected = metadata.get(CARD_DIGEST_KEY)  # (checkpoints saved before it have none)
    if expected is not None and text_digest(metadata["tinyvision"]) != expected:
        # Its classes swapped, a threshold or temperature changed by hand: answers changed without a word.
        raise TinyVisionError(f"{path}: corrupt checkpoint (its model card does not match its checksum: edited?)")
    return ModelCard.from_json(metadata["tinyvision"], path)


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


# The weight types a checkpoint may hold, by safetensors' names: floats are loaded as the model's float32
# (a half-precision file is fine); integers only where the model keeps integers (BatchNorm's counter).
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")
INT_DTYPES = ("I64", "I32")


def check_tensors(path: Path, card: ModelCard) -> None:
    """The file's tensors, from its header alone, against the model its card describes, built only for its
    shapes (on the meta device, no memory, unless it is small: `shapes_only`): the same names, shapes and
    kinds of number, or one line saying which differs. A card may describe a model of gigabytes (an MLP on
    1024x1024 images) or the header a tensor of gigabytes in a file of kilobytes; neither is allocated
    unless the file holds it."""
    with shapes_only(card.input_shape, len(card.classes)):
        wanted = create_model(card.model, card.input_shape, len(card.classes)).state_dict()
    try:
        with safetensors.safe_open(text_path(path), framework="pt") as f:
            held = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types
        raise TinyVisionError(f"{path}: corrupt checkpoint ({exc})") from None
    problem = None
    missing, extra = sorted(set(wanted) - set(held)), sorted(set(held) - set(wanted))
    if missing or extra:
        problem = "; ".join(part for part in (f"missing {', '.join(missing[:3])}" if missing else "",
                                               f"unexpected {', '.join(extra[:3])}" if extra else "") if part)
    else:
        for name, tensor in wanted.items():
            shape, dtype = held[name]
            allowed = FLOAT_DTYPES if tensor.is_floating_point() else INT_DTYPES
            if shape != tuple(tensor.shape):
                problem = f"{name} is {list(shape)}, the model's is {list(tensor.shape)}"
            elif dtype not in allowed:
                problem = f"{name} holds {dtype} numbers, not {' or '.join(allowed)}"
            if problem:
                break
    if problem:
        raise TinyVisionError(f"{path}: weights do not fit model {card.model!r} (a checkpoint of another "
                              f"model?): {problem}")


def load_state(path: Path) -> tuple[dict[str, torch.Tensor], ModelCard]:
    """A checkpoint's weights and card, checked: their shapes against the card's model before anything is
    allocated, their checksum, and that every weight is finite. `load_model` and `--init-from` both read
    through here (fine-tuning read the file directly, and started from a corrupt or NaN checkpoint)."""
    path = resolve_model_path(path)
    metadata = read_metadata(path)
    card = card_of(metadata, path)
    expected = metadata.get(DIGEST_KEY)
    check_tensors(path, card)  # before anything is allocated: a few bytes may declare gigabytes
    try:
        state = safetensors.torch.load_file(text_path(path), device="cpu")
    except Exception as exc:
        raise TinyVisionError(f"{path}: corrupt checkpoint ({exc})") from None
    if expected is not None and weights_digest(state) != expected:  # checkpoints before 0.2 have none
        raise TinyVisionError(f"{path}: corrupt checkpoint (its weights do not match their checksum)")
    if not all(bool(torch.isfinite(t).all()) for t in state.values() if t.is_floating_point()):
        raise TinyVisionError(f"{path}: corrupt checkpoint (weights that are NaN or infinite)")
    return state, card


def load_model(path: Path, device: torch.device | str = "cpu") -> tuple[nn.Module, ModelCard]:
    """Rebuild the model a checkpoint describes and load its weights, in eval mode."""
    path = resolve_model_path(path)
    state, card = load_state(path)
    # Built under a forked generator: its random initial weights are overwritten from the file, and drawn from
    # the caller's generator they moved it (a seeded notebook's numbers changed after train() drew its figures).
    with torch.random.fork_rng(devices=[]):
        model = create_model(card.model, card.input_shape, len(card.classes))
    load_weights(model, state, path, card.model)
    return model.to(device).eval(), card


def save_train_state(path: Path, state: dict) -> None:
    buffer = io.BytesIO()  # (as save_model: written by Python, so a full disk is one line)
    torch.save(state, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


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

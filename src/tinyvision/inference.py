"""The one inference path: uint8 pixels -> the probabilities a user is given.

`InferenceGraph` wraps a trained network with everything that turns pixels
into an answer, in this order:

    pixels / 255 -> normalise -> [views: the image, its shifts, its mirror] -> network
                 -> logits / temperature -> calibrated logits (one per class)

Evaluation (during training, `evaluate`, `Model.evaluate`), prediction
(`Model.predict`, `tinyvision predict`, the server) and export (ONNX and
TorchScript files are this module, traced) all run it, so the accuracy a
checkpoint reports is the accuracy of what answers users.

It returns calibrated logits: their softmax is the probabilities (averaged
over the views), their argmax the prediction, cross-entropy on them the
(ensemble's) loss, and their log-sum-exp the energy score, how strongly the
network responds to the image at all, which digit models refuse non-digits by
(`calibration.refusal_scores`). With one view they are the logits divided by
the temperature.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tinyvision.device import autocast
from tinyvision.normalization import Normalization


@dataclass(frozen=True)
class TTA:
    """Test-time augmentation, recorded in the model card and applied by every path.

    `shift` > 0 adds every shift of the image by up to that many pixels (8 more
    views for 1); `flip` adds the mirror image of each view (for models trained
    on mirrored images: clothes, photos; never digits).
    """

    shift: int = 0
    flip: bool = False

    @property
    def views(self) -> int:
        return (2 * self.shift + 1) ** 2 * (2 if self.flip else 1)

    def to_dict(self) -> dict:
        return {"shift": self.shift, "flip": self.flip}

    @classmethod
    def from_dict(cls, d: dict | None) -> TTA:
        """As `to_dict` wrote it (ValueError for another type: `"flip": "false"` must not mean True)."""
        from tinyvision.typed_json import typed

        d = d or {}
        return cls(typed(d.get("shift", 0), int, "tta shift"), typed(d.get("flip", False), bool, "tta flip"))


def shifted_views(images: torch.Tensor, radius: int) -> list[torch.Tensor]:
    """The batch shifted by every (dy, dx) in [-radius, radius]^2, zero-filled; (0, 0) first."""
    h, w = images.shape[-2:]
    padded = F.pad(images, (radius,) * 4)
    offsets = [(0, 0)] + [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
                          if (dy, dx) != (0, 0)]
    return [padded[..., radius + dy : radius + dy + h, radius + dx : radius + dx + w] for dy, dx in offsets]


class InferenceGraph(nn.Module):
    """Pixels in [0, 1], (N, C, H, W) float32 -> calibrated logits (N, classes) (see the module's notes)."""

    def __init__(self, network: nn.Module, normalization: Normalization, tta: TTA = TTA(),
                 temperature: float = 1.0) -> None:
        super().__init__()
        self.network = network
        self.tta = tta
        self.temperature = float(temperature)
        channels = len(normalization.mean)
        self.register_buffer("mean", torch.tensor(normalization.mean, dtype=torch.float32).view(1, channels, 1, 1))
        self.register_buffer("std", torch.tensor(normalization.std, dtype=torch.float32).view(1, channels, 1, 1))

    def views(self, x: torch.Tensor) -> list[torch.Tensor]:
        views = shifted_views(x, self.tta.shift) if self.tta.shift > 0 else [x]
        if self.tta.flip:
            views = views + [v.flip(-1) for v in views]
        return views

    def view_logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """(views, N, classes) raw logits, before the temperature."""
        x = (pixels - self.mean) / self.std
        views = self.views(x)
        # One forward pass over all views stacked: the same numbers, fewer, larger matrix products.
        logits = self.network(torch.cat(views) if len(views) > 1 else x).float()
        return logits.view(len(views), -1, logits.shape[-1])

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return combine_views(self.view_logits(pixels), self.temperature)


def combine_views(view_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """(views, N, classes) logits -> (N, classes) calibrated logits: their softmax is the views' mean
    calibrated probabilities, their log-sum-exp the views' mean energy (log-sum-exp of logits / T)."""
    calibrated = view_logits / temperature
    if view_logits.shape[0] == 1:
        return calibrated[0]
    mean_probs = calibrated.softmax(2).mean(0).clamp_min(1e-12).log()  # its log-sum-exp is 0 ...
    return mean_probs + torch.logsumexp(calibrated, 2).mean(0, keepdim=True).T  # ... so this is the energy


def as_log_probs(logits: torch.Tensor) -> torch.Tensor:
    """Calibrated logits -> log-probabilities."""
    return F.log_softmax(logits, dim=1)


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Evaluate a model mid-training: eval mode (BatchNorm's running statistics) inside, train mode after."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


@torch.inference_mode()
def calibrated_logits(
    graph: InferenceGraph,
    images: torch.Tensor,
    device: torch.device | str = "cpu",
    batch_size: int = 1000,
    limit_batches: int | None = None,
) -> torch.Tensor:
    """uint8 (N, C, H, W) images -> float32 calibrated logits (N, classes) on the CPU, in batches.

    The graph must be in eval mode (`eval_mode`): nothing here changes module
    state, so threads serving requests can share one graph.
    """
    device = torch.device(device)
    outputs = []
    for i, start in enumerate(range(0, len(images), batch_size)):
        if limit_batches is not None and i >= limit_batches:
            break
        pixels = images[start : start + batch_size].to(device, non_blocking=True).float() / 255.0
        with autocast(device):
            out = graph(pixels.contiguous(memory_format=torch.channels_last))
        outputs.append(out.float().cpu())
    if not outputs:
        return torch.zeros(0, 0)
    return torch.cat(outputs)


@torch.inference_mode()
def all_view_logits(graph: InferenceGraph, images: torch.Tensor, device: torch.device | str = "cpu",
                    batch_size: int = 1000, limit_batches: int | None = None) -> torch.Tensor:
    """(views, N, classes) raw logits for uint8 images, for calibrating the temperature."""
    device = torch.device(device)
    outputs = []
    for i, start in enumerate(range(0, len(images), batch_size)):
        if limit_batches is not None and i >= limit_batches:
            break
        pixels = images[start : start + batch_size].to(device).float() / 255.0
        with autocast(device):
            outputs.append(graph.view_logits(pixels.contiguous(memory_format=torch.channels_last)).float().cpu())
    return torch.cat(outputs, dim=1) if outputs else torch.zeros(1, 0, 0)

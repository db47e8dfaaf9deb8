"""Why a model answered what it did: a saliency map and the feature maps of every convolution.

- Saliency: integrated gradients (Sundararajan et al., 2017, computed by
  Captum): how much each input pixel moved the predicted class's logit,
  integrated along a path from a black image to the input. It is computed on
  the network the inference path runs, for the prepared input the model saw.
- Feature maps: what each convolution layer outputs for that input. The
  tutorial's "spatial hierarchy": the first layer responds to edges, later
  ones to strokes, then to whole shapes, at ever lower resolution.
"""

from __future__ import annotations

import functools
import threading
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from tinyvision.normalization import Normalization

IG_STEPS = 32  # integration steps: enough for a stable map on 28x28 inputs, ~30 small forward passes
IG_PIXELS_PER_PASS = 1 << 21  # input values per forward pass (2,048 digit steps; 13 at 224x224 colour)


@dataclass(frozen=True)
class Explanation:
    input: torch.Tensor  # uint8 (C, H, W): what the model saw
    label: str  # the class explained: the answer, or for a refusal the class the model came closest to
    probability: float
    saliency: torch.Tensor  # (H, W) float in [0, 1]: where the evidence for `label` lies
    feature_maps: list[tuple[str, torch.Tensor]]  # (layer name, (channels, h, w)) per convolution
    reason: str | None = None  # why the model refused ("not a digit", "unsure"); None: `label` is its answer
    path: str | None = None  # the file it was read from, as `Prediction.path` (which of a folder's images)

    def __repr__(self) -> str:
        # Short, as a notebook shows it: the answer, not every tensor's values.
        return f"Explanation({self.summary()}, input={tuple(self.input.shape)}, layers={len(self.feature_maps)})"

    def summary(self) -> str:
        """One line: `7 (99.1%)`, or `- (not a digit; closest 1 at 23.9%)` for a refusal."""
        if self.reason is None:
            return f"{self.label} ({100 * self.probability:.1f}%)"
        return f"- ({self.reason}; closest {self.label} at {100 * self.probability:.1f}%)"

    def figure(self, max_channels: int = 8):
        """A matplotlib figure: the input, the saliency over it, then each convolution's feature maps."""
        from tinyvision.plots import explanation_figure

        return explanation_figure(self, max_channels)


def normalised(network: nn.Module, norm: Normalization):
    """The network with its normalisation in front: a function of pixels in [0, 1] (what Captum perturbs)."""

    class Wrapped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network
            c = len(norm.mean)
            self.register_buffer("mean", torch.tensor(norm.mean).view(1, c, 1, 1))
            self.register_buffer("std", torch.tensor(norm.std).view(1, c, 1, 1))

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.network((pixels - self.mean) / self.std)

    return Wrapped().eval()


@functools.cache  # imported once, under cache's lock: catch_warnings swaps process-wide state
def integrated_gradients() -> type:
    """Captum's IntegratedGradients. captum imports tqdm.auto, which warns on stderr in a notebook without
    ipywidgets ("IProgress not found"), though no progress bar is shown here: a learner's first explain()
    printed it."""
    with _IMPORTING, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        from captum.attr import IntegratedGradients
    return IntegratedGradients


_IMPORTING = threading.Lock()


def saliency_maps(network: nn.Module, norm: Normalization, pixels: torch.Tensor, targets: torch.Tensor,
                  steps: int = IG_STEPS) -> torch.Tensor:
    """Integrated gradients for uint8 inputs (N, C, H, W) and target classes -> (N, H, W) in [0, 1].

    Only positive evidence is kept (what made the model say `target`), summed
    over channels and scaled per image to its own maximum.
    """
    x = pixels.float() / 255.0
    # Interpolated images per forward pass: 64 images' steps for digits, fewer as images grow (36 mistakes x
    # 32 steps at 1024 px in one pass took 15 GB while the figures of a finished run were drawn). Captum
    # takes at least every image of a call in each pass, so larger images go a few (or one) per call.
    per_pass = max(1, min(64 * steps, IG_PIXELS_PER_PASS // max(1, x[0].numel())))
    per_call = max(1, per_pass // steps)
    explainer = integrated_gradients()(normalised(network, norm))
    parts = []
    for i in range(0, len(x), per_call):
        part = x[i : i + per_call]
        parts.append(explainer.attribute(part, baselines=torch.zeros_like(part),
                                         target=targets[i : i + per_call].tolist(), n_steps=steps,
                                         internal_batch_size=max(per_pass, len(part))))
    attributions = torch.cat(parts)
    maps = attributions.detach().sum(1).clamp_min(0)
    return maps / maps.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1)


def feature_maps(network: nn.Module, norm: Normalization, pixels: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """Each Conv2d's output for one uint8 input (C, H, W), in forward order."""
    captured: list[tuple[str, torch.Tensor]] = []
    hooks = [
        module.register_forward_hook(lambda m, i, out, name=name: captured.append((name, out[0].detach())))
        for name, module in network.named_modules() if isinstance(module, nn.Conv2d)
    ]
    try:
        with torch.inference_mode():
            normalised(network, norm)(pixels[None].float() / 255.0)
    finally:
        for hook in hooks:
            hook.remove()
    return captured

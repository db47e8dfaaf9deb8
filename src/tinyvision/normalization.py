"""Per-channel input normalisation: the one place pixels become model inputs.

Training, evaluation, predict and serve all call `Normalization.apply`, and the
statistics travel inside every checkpoint, so a model is always fed inputs
scaled exactly as in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# The least std a normalisation divides by (a model card with less is refused as damaged): one grey level
# is 1/255, four times more.
MIN_STD = 1e-3


@dataclass(frozen=True)
class Normalization:
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def from_images(cls, images: torch.Tensor, chunk: int = 8192) -> Normalization:
        """Per-channel mean and std of uint8 (N, C, H, W) images, on the [0, 1] scale.

        Summed in float64 chunks so a large dataset never needs a float copy.
        """
        c = images.shape[1]
        total = torch.zeros(c, dtype=torch.float64)
        total_sq = torch.zeros(c, dtype=torch.float64)
        for start in range(0, len(images), chunk):
            x = images[start : start + chunk].to(torch.float64) / 255.0
            total += x.sum(dim=(0, 2, 3))
            total_sq += (x * x).sum(dim=(0, 2, 3))
        count = images.numel() / c
        mean = total / count
        std = (total_sq / count - mean * mean).clamp_min(MIN_STD**2).sqrt()  # a folder of blank images: no /0
        return cls(tuple(round(float(m), 6) for m in mean), tuple(round(float(s), 6) for s in std))

    @classmethod
    def uniform(cls, channels: int, mean: float, std: float) -> Normalization:
        return cls((mean,) * channels, (std,) * channels)

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) on any device -> normalised float32, same device."""
        mean = torch.tensor(self.mean, device=images.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=images.device).view(1, -1, 1, 1)
        return (images.float() / 255.0 - mean) / std

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> Normalization:
        """As `to_dict` wrote it: lists of numbers (ValueError for anything else: it is read from a file)."""
        from tinyvision.typed_json import typed

        mean, std = (tuple(typed(v, float, f"normalization {k}") for v in typed(d[k], list, f"normalization {k}"))
                     for k in ("mean", "std"))
        return cls(mean, std)

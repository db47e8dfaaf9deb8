"""Batched, on-device augmentation of uint8 image batches (no per-sample Python)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def random_translate(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by its own random (dx, dy) in [-max_shift, max_shift], zero-filled.

    One padded copy and one gather for the whole batch. Small translations are
    the augmentation that suits digits: they keep the glyph's identity, which a
    flip or a large rotation would not.
    """
    if max_shift <= 0:
        return images
    n, _, h, w = images.shape
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    offsets = offsets.to(images.device)
    padded = F.pad(images, (max_shift,) * 4)
    rows = torch.arange(h, device=images.device).view(1, h) + offsets[0].view(n, 1)
    cols = torch.arange(w, device=images.device).view(1, w) + offsets[1].view(n, 1)
    batch = torch.arange(n, device=images.device).view(n, 1, 1)
    # padded[b, :, rows[b, i], cols[b, j]] -> (N, H, W, C), then back to (N, C, H, W).
    out = padded.permute(0, 2, 3, 1)[batch, rows.view(n, h, 1), cols.view(n, 1, w)]
    return out.permute(0, 3, 1, 2)


def random_hflip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the batch left-right (for photos, never for digits)."""
    flip = torch.rand(len(images), generator=generator) < 0.5
    flip = flip.to(images.device).view(-1, 1, 1, 1)
    return torch.where(flip, images.flip(3), images)


@dataclass(frozen=True)
class AugmentOptions:
    """Which augmentations a run applies to each training batch (from its config)."""

    translate: int = 0  # random shifts of up to this many pixels
    hflip: bool = False  # random left-right mirror images


def augment_batch(images: torch.Tensor, options: AugmentOptions, generator: torch.Generator) -> torch.Tensor:
    images = random_translate(images, options.translate, generator)
    if options.hflip:
        images = random_hflip(images, generator)
    return images

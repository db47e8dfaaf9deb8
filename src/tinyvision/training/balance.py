"""Imbalanced classes: weight the loss, or sample the classes evenly (`--balance`).

A class with 50 images among 5,000 contributes 1% of the gradient: the model
can ignore it and still score 99%. Two standard remedies:
- `weights`: each class's loss is weighted by N / (K * n_class) (sklearn's
  "balanced" weights), so every class carries the same total weight;
- `sampler`: each epoch draws N training images with replacement, each with
  probability proportional to 1 / n_class, so every class appears about
  equally often (rare images repeat, common ones are subsampled).

The sampled order is a pure function of (seed, epoch), like the shuffled one,
so an interrupted run resumes exactly where it stopped.
"""

from __future__ import annotations

import torch


def class_counts(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    return torch.bincount(labels.cpu(), minlength=num_classes)


def loss_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """N / (K * n_class) per class (a class absent from training gets 0: it has no loss to weigh)."""
    counts = class_counts(labels, num_classes).double()
    present = counts > 0
    weights = torch.zeros(num_classes, dtype=torch.float64)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights.float()


def sample_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Each training image's chance of being drawn: 1 / its class's count."""
    counts = class_counts(labels, num_classes).double()
    return (1.0 / counts.clamp_min(1))[labels.cpu()]


def balanced_order(weights: torch.Tensor, seed: int, epoch: int) -> torch.Tensor:
    """The epoch's draw of len(weights) images, with replacement, a pure function of (seed, epoch)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.multinomial(weights, len(weights), replacement=True, generator=generator)

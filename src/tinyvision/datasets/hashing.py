"""Fingerprints of whole uint8 image batches, vectorised (no per-image Python): for finding duplicates.

- `pixel_hashes`: a 128-bit hash of each image's exact pixels. Two images get
  the same one only when every pixel is equal (two independent random linear
  hashes over 64-bit words; a collision of both is ~2^-120).
- `perceptual_hashes`: pHash (Zauner, 2010) - the image in gray, resized to
  32x32, its 2-D DCT, and one bit per low frequency of the top-left 8x8 block
  (is it above the block's median?). Re-encoding (JPEG quality), resizing,
  small brightness or colour changes move a few of the 64 bits; different
  photos differ in about half of them.
- `near_pairs`: every pair within a Hamming distance, exactly, by blocked
  matrix products: quadratic in the number of images (MNIST's 70,000: about
  20 s on 2 CPU cores), so the summary printed at training skips it for
  large datasets.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

HASH_SIDE, DCT_KEEP = 32, 8


def _weights(words: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**63, size=words, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd


def pixel_hashes(images: np.ndarray) -> np.ndarray:
    """(N, ...) uint8 -> (N, 2) uint64: equal rows iff (almost surely) equal images."""
    flat = np.ascontiguousarray(images.reshape(len(images), -1))
    pad = (-flat.shape[1]) % 8
    if pad:
        flat = np.concatenate([flat, np.zeros((len(flat), pad), np.uint8)], axis=1)
    words = flat.view(np.uint64)
    # A word's value mixed with its position (xor-shift), then two random linear combinations mod 2^64.
    words = words ^ (words >> np.uint64(29))
    out = np.empty((len(images), 2), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(2):
            out[:, k] = (words * _weights(words.shape[1], 1234 + k)).sum(axis=1, dtype=np.uint64)
    return out


def _dct_matrix(n: int) -> torch.Tensor:
    k = torch.arange(n, dtype=torch.float64).view(-1, 1)
    i = torch.arange(n, dtype=torch.float64).view(1, -1)
    m = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    m[0] /= math.sqrt(2.0)
    return m.float()


def gray_thumbnails(images: torch.Tensor, side: int = HASH_SIDE) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 (N, side, side) gray in [0, 255] (antialiased resize)."""
    x = images.float().mean(dim=1, keepdim=True)
    x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
    return x[:, 0]


def perceptual_hashes(images: torch.Tensor) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N,) uint64 pHash."""
    d = _dct_matrix(HASH_SIDE)
    coeffs = (d @ gray_thumbnails(images) @ d.T)[:, :DCT_KEEP, :DCT_KEEP].reshape(len(images), -1)
    median = coeffs[:, 1:].median(dim=1, keepdim=True).values  # the DC term (overall brightness) left out
    bits = (coeffs > median).numpy().astype(np.uint64)
    return (bits << np.arange(64, dtype=np.uint64)).sum(axis=1, dtype=np.uint64)


def unpack_signs(hashes: np.ndarray) -> torch.Tensor:
    """(N,) uint64 -> (N, 64) float32 of +1 / -1."""
    bits = (hashes[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    return torch.from_numpy(bits.astype(np.float32) * 2 - 1)


def near_pairs(hashes: np.ndarray, max_distance: int) -> np.ndarray:
    """(K, 3) int64 rows (i, j, distance), i < j, for every pair within `max_distance` bits.

    All pairs are compared, as matrix products of +-1 bit vectors (their dot
    product is 64 - 2 * distance), a block of rows at a time. Sorting on bands
    of bits (multi-index hashing) would be faster on photos, but on simple
    images such as digits the hashes crowd together and it degrades to this.
    """
    signs = unpack_signs(hashes)
    n = len(hashes)
    block = max(64, (64 << 20) // (4 * max(1, n)))  # ~64 MB of dot products at a time
    threshold = 64 - 2 * max_distance - 0.5
    found = []
    for start in range(0, n, block):
        stop = min(n, start + block)
        dots = signs[start:stop] @ signs[start:].T  # this block against itself and all later rows
        rows, cols = torch.nonzero(dots > threshold, as_tuple=True)
        keep = cols > rows  # j > i: each pair once, no image with itself
        rows, cols = rows[keep], cols[keep]
        distance = ((64 - dots[rows, cols]) / 2).round().long()
        found.append(torch.stack([rows + start, cols + start, distance], dim=1).numpy())
    return np.concatenate(found) if found else np.zeros((0, 3), np.int64)

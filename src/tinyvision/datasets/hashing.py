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
- `centred_descriptors` and `nearest_pairs`: each image's few most alike
  others, by tiny thumbnails centred on the image's centre of mass. A copy
  moved or cropped by a pixel or two is among them where its pHash, which
  moves by a quarter of its bits for a one-pixel shift, is not.
- `aligned_correlations`: how alike two 32x32 gray thumbnails are at their
  best alignment: shifted by up to ALIGN_SHIFT pixels, either one cropped by
  up to ALIGN_CROP pixels a side (and scaled back), as an exact correlation
  over the overlap.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

HASH_SIDE, DCT_KEEP = 32, 8
CENTRED_SIDE = 8  # centred thumbnails for the nearest-neighbour search: coarse, so a shifted copy stays close
ALIGN_SIDE = 32  # the thumbnails compared at their best alignment
ALIGN_SHIFT = 2  # thumbnail pixels either way (of 32): a copy moved by up to 1/16 of the image
ALIGN_CROP = 2  # thumbnail pixels cropped from each side at most (of 32), then scaled back: a trimmed copy
DETAIL_BOX = 5  # the box blur taken from a thumbnail to leave its detail (`details`)


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


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) uint64 hashes, pairwise -> (N,) int64: the bits in which each pair differs."""
    return np.unpackbits((a ^ b).view(np.uint8).reshape(-1, 8), axis=1).sum(1).astype(np.int64)


def unpack_signs(hashes: np.ndarray) -> torch.Tensor:
    """(N,) uint64 -> (N, 64) float32 of +1 / -1."""
    bits = (hashes[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    return torch.from_numpy(bits.astype(np.float32) * 2 - 1)


def near_pairs(hashes: np.ndarray, max_distance: int, most: int | None = None) -> np.ndarray:
    """(K, 3) int64 rows (i, j, distance), i < j, for every pair within `max_distance` bits; with `most`, only
    each image's `most` nearest among the images after it, so at most N x `most` rows come out.

    All pairs are compared, as matrix products of +-1 bit vectors (their dot
    product is 64 - 2 * distance), a block of rows at a time. Sorting on bands
    of bits (multi-index hashing) would be faster on photos, but on simple
    images such as digits the hashes crowd together and it degrades to this.
    Without `most`, a folder of many alike images (a burst of photos, a video's
    frames) returns nearly every pair: 18 million for 6,000 frames, 3.7 GB.
    """
    signs = unpack_signs(hashes)
    n = len(hashes)
    block = max(64, (64 << 20) // (4 * max(1, n)))  # ~64 MB of dot products at a time
    threshold = 64 - 2 * max_distance - 0.5
    found = []
    for start in range(0, n, block):
        stop = min(n, start + block)
        dots = signs[start:stop] @ signs[start:].T  # this block against itself and all later rows
        later = torch.arange(stop - start).view(-1, 1) < torch.arange(n - start).view(1, -1)  # j > i: each pair once
        dots = torch.where(later & (dots > threshold), dots, torch.tensor(-128.0))
        if most is not None and most < dots.shape[1]:
            best, cols = dots.topk(most, dim=1)
            rows, k = torch.nonzero(best > threshold, as_tuple=True)
            cols = cols[rows, k]
        else:
            rows, cols = torch.nonzero(dots > threshold, as_tuple=True)
        distance = ((64 - dots[rows, cols]) / 2).round().long()
        found.append(torch.stack([rows + start, cols + start, distance], dim=1).numpy())
    return np.concatenate(found) if found else np.zeros((0, 3), np.int64)


def normalised_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows of (N, ...) -> (N, D) float32, mean 0 and norm 1 (a flat row stays 0)."""
    x = x.reshape(len(x), -1).float()
    x = x - x.mean(dim=1, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-3)


def centred_descriptors(images: torch.Tensor, side: int = CENTRED_SIDE) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 (N, side * side): gray thumbnails moved so that the centre of mass of
    (gray - its minimum) sits in the middle, normalised: a copy shifted by a pixel or two gets nearly the same
    one (MNIST's digits were centred the same way), where the plain thumbnail of a thin stroke changes."""
    g = images.float().mean(dim=1, keepdim=True)
    n, _, h, w = g.shape
    mass = g - g.amin(dim=(2, 3), keepdim=True)
    total = mass.sum(dim=(2, 3)).clamp_min(1e-3)
    cy = (mass * torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)).sum(dim=(2, 3)) / total
    cx = (mass * torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)).sum(dim=(2, 3)) / total
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 2] = ((cx - (w - 1) / 2) * 2 / w)[:, 0]  # grid_sample's units: half the image per 1
    theta[:, 1, 2] = ((cy - (h - 1) / 2) * 2 / h)[:, 0]
    grid = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
    moved = F.grid_sample(g, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return normalised_rows(F.interpolate(moved, size=(side, side), mode="bilinear", antialias=True,
                                     align_corners=False))


def nearest_pairs(descriptors: torch.Tensor, k: int, against: torch.Tensor | None = None) -> np.ndarray:
    """(M, 2) int64 rows (i, j), i < j, each pair once: every image with its `k` nearest others by the
    dot product of normalised descriptors (of `against`, row for row the same images seen another way, such
    as mirrored: then each image with the k others nearest to its mirror image). Blocked like `near_pairs`
    (quadratic time), but at most N * k pairs come out whatever the data: memory is bounded where a
    threshold on crowded images (a dataset of plain 1s) could return millions."""
    against = descriptors if against is None else against
    n = len(descriptors)
    k = min(k, n - 1)
    if k < 1:
        return np.zeros((0, 2), np.int64)
    block = max(64, (64 << 20) // (4 * n))
    found = []
    for start in range(0, n, block):
        stop = min(n, start + block)
        dots = descriptors[start:stop] @ against.T
        dots[torch.arange(stop - start), torch.arange(start, stop)] = -2.0  # not itself
        cols = dots.topk(k, dim=1).indices
        rows = torch.arange(start, stop).view(-1, 1).expand_as(cols)
        found.append(torch.stack([torch.minimum(rows, cols), torch.maximum(rows, cols)], dim=2).reshape(-1, 2))
    pairs = torch.cat(found).numpy()
    keys = np.unique(pairs[:, 0] * n + pairs[:, 1])  # each pair once (found from both ends when mutual)
    return np.stack([keys // n, keys % n], axis=1)


def mirrored(thumbnails: torch.Tensor) -> torch.Tensor:
    """(N, S * S) or (N, S, S) square thumbnails or descriptors -> those of the images mirrored left to
    right (thumbnailing and centring commute with the mirror: no image is decoded again)."""
    side = math.isqrt(thumbnails[0].numel()) if len(thumbnails) else 1
    return thumbnails.reshape(len(thumbnails), side, side).flip(-1).reshape(thumbnails.shape)


def align_thumbnails(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, ALIGN_SIDE, ALIGN_SIDE) gray: kept for every image (1 KB each)."""
    return gray_thumbnails(images, ALIGN_SIDE).round().clamp(0, 255).to(torch.uint8)


def _cropped(t: torch.Tensor, c: int) -> torch.Tensor:
    """(n, S, S) float -> the same, `c` pixels cut from each side and scaled back to S x S."""
    side = t.shape[-1]
    return F.interpolate(t[:, None, c : side - c, c : side - c], size=(side, side), mode="bilinear",
                         antialias=True, align_corners=False)[:, 0]


def _window_norms(moving: torch.Tensor, inner: int, span: int) -> torch.Tensor:
    """(n, S, S) -> (n, span * span): the norm of each inner x inner window less its mean, by integral
    images (each image's mean taken out first, so float32 keeps the digits)."""
    m = moving - moving.mean(dim=(1, 2), keepdim=True)
    area = float(inner * inner)
    sums = []
    for t in (m, m * m):
        ii = F.pad(t.cumsum(1).cumsum(2), (1, 0, 1, 0))
        sums.append((ii[:, inner:, inner:] - ii[:, :span, inner:] - ii[:, inner:, :span]
                     + ii[:, :span, :span]).reshape(len(m), -1))
    return (sums[1] - sums[0] * sums[0] / area).clamp_min(1e-3).sqrt()


def _best_shift(moving: torch.Tensor, centres: torch.Tensor, shift: int) -> torch.Tensor:
    """The largest correlation between a fixed thumbnail's centre (its (S - 2 * shift) square, normalised,
    given as the conjugate spectrum of it zero-padded to S x S) and the windows of `moving` (n, S, S) at
    every offset up to `shift`, each window normalised over itself. One FFT product gives every offset."""
    side = moving.shape[-1]
    span, inner = 2 * shift + 1, side - 2 * shift
    dots = torch.fft.irfft2(torch.fft.rfft2(moving) * centres, s=(side, side))[:, :span, :span]
    return (dots.reshape(len(moving), -1) / _window_norms(moving, inner, span)).amax(dim=1)


def _centre_spectrum(fixed: torch.Tensor, shift: int) -> torch.Tensor:
    side = fixed.shape[-1]
    inner = side - 2 * shift
    centre = normalised_rows(fixed[:, shift : side - shift, shift : side - shift]).view(-1, inner, inner)
    return torch.fft.rfft2(F.pad(centre, (0, side - inner, 0, side - inner))).conj()


def aligned_correlations(a: torch.Tensor, b: torch.Tensor, shift: int = ALIGN_SHIFT, crop: int = ALIGN_CROP,
                         chunk: int = 2048) -> np.ndarray:
    """uint8 (n, S, S) thumbnail pairs -> (n,) float32: their correlation at the best alignment, over shifts
    of up to `shift` pixels and crops of up to `crop` pixels a side of either one (scaled back). Chunked:
    a few tens of MB at a time."""
    out = []
    for start in range(0, len(a), chunk):
        x, y = a[start : start + chunk].float(), b[start : start + chunk].float()  # uint8 or float
        into_x, into_y = _centre_spectrum(x, shift), _centre_spectrum(y, shift)
        best = _best_shift(x, into_y, shift)
        for c in range(1, crop + 1):
            best = torch.maximum(best, _best_shift(_cropped(x, c), into_y, shift))
            best = torch.maximum(best, _best_shift(_cropped(y, c), into_x, shift))
        out.append(best)
    return torch.cat(out).clamp(-1.0, 1.0).numpy() if out else np.zeros(0, np.float32)  # (rounding: over 1)


def details(thumbnails: torch.Tensor, box: int = DETAIL_BOX) -> torch.Tensor:
    """(n, S, S) -> float32 (n, S, S): each thumbnail less its box blur, the edges and texture that tell two
    photos of one layout apart (a horizon under a plain sky correlates with any other, as a whole)."""
    x = thumbnails.float()[:, None]
    blurred = F.avg_pool2d(F.pad(x, (box // 2,) * 4, mode="replicate"), box, stride=1)
    return (x - blurred)[:, 0]

"""Batched, on-device augmentation of uint8 image batches (no per-sample Python).

Two families, chosen by a run's config (`RunConfig.augment_options`):

- shifts and mirror images (`random_translate`, `random_hflip`), what the
  MNIST, clothes and photo recipes have always used;
- the `handwriting` policy: each image redrawn as another person might have
  written and scanned it. Pen width (`stroke_width`), slant, rotation and
  aspect (`affine_theta`), a hand's wobble (`elastic_offsets`), then the
  digit re-fitted into MNIST's 20x20 box and centred by mass (`refit_theta`)
  as `image.digits` prepares a user's photo, then a low-resolution scan
  (`low_resolution`), defocus (`soften`) and faint or saturated ink
  (`ink_gain`). The geometry is one `grid_sample` for the whole batch; pen
  width is grey-level morphology and defocus a binomial filter, both as
  maxima or sums of shifted copies (cheaper on CPUs than pooling or
  convolution layers at this size).

Every random number is drawn from the run's generator on the CPU, in a fixed
order and amount whatever the options, then moved to the images' device: a
batch's augmentation is a pure function of the generator's state, so a
resumed run sees the same images as an uninterrupted one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

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


# ----------------------------------------------------------------------------- handwriting ops
# Each op takes float images in [0, 1], (N, C, H, W), and per-image parameters (N,) on their device.


def dilate(images: torch.Tensor) -> torch.Tensor:
    """3x3 grey-level dilation (a max filter), as maxima of shifted copies: ~10x faster on CPUs than
    `max_pool2d` with stride 1. Zero padding: images here are ink on a black ground."""
    p = F.pad(images, (1, 1, 1, 1))
    rows = torch.maximum(torch.maximum(p[..., :-2, :], p[..., 1:-1, :]), p[..., 2:, :])
    return torch.maximum(torch.maximum(rows[..., :-2], rows[..., 1:-1]), rows[..., 2:])


def stroke_width(images: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """Thinner or bolder pens: `amount` -1 is a 3x3 erosion, 0 the image, 1 a 3x3 dilation, 2 two.

    Values between blend the neighbouring steps, so pen width varies smoothly.
    """
    a = amount.view(-1, 1, 1, 1)
    out = images
    if bool((amount < 0).any()):
        out = out + a.clamp(-1, 0).neg() * (-dilate(-images) - images)
    if bool((amount > 0).any()):
        once = dilate(images)
        out = out + a.clamp(0, 1) * (once - images)
        if bool((amount > 1).any()):
            out = out + (a - 1).clamp(0, 1) * (dilate(once) - once)
    return out


def soften(images: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """Defocus, cheaply: `amount` 0 is the image, 1 one pass of the 3x3 binomial filter (sigma ~0.7 px),
    2 two passes (sigma 1); values between blend. Separable sums of shifted copies, no convolution."""
    def binomial(x: torch.Tensor) -> torch.Tensor:
        p = F.pad(x, (1, 1, 1, 1))
        rows = p[..., :-2, :] + 2 * p[..., 1:-1, :] + p[..., 2:, :]
        return (rows[..., :-2] + 2 * rows[..., 1:-1] + rows[..., 2:]) / 16

    a = amount.view(-1, 1, 1, 1)
    once = binomial(images)
    out = images + a.clamp(0, 1) * (once - images)
    if bool((amount > 1).any()):
        out = out + (a - 1).clamp(0, 1) * (binomial(once) - once)
    return out


def affine_theta(angle: torch.Tensor, shear: torch.Tensor, log_aspect: torch.Tensor, log_scale: torch.Tensor,
                 height: int, width: int) -> torch.Tensor:
    """(N, 2, 3) `affine_grid` matrices for rotation (radians), slant, aspect and scale about the centre.

    The forward map (written image -> augmented image) in pixels is
    rotate @ slant @ diag(sx, sy); `affine_grid` wants the inverse, in
    coordinates normalised per axis to [-1, 1].
    """
    sx = torch.exp(log_scale + log_aspect / 2)
    sy = torch.exp(log_scale - log_aspect / 2)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # rotate @ [[1, shear], [0, 1]] @ diag(sx, sy), in pixels (x right, y down).
    m = torch.stack([
        torch.stack([cos * sx, (cos * shear - sin) * sy], -1),
        torch.stack([sin * sx, (sin * shear + cos) * sy], -1),
    ], -2)
    to_pixels = torch.tensor([width / 2, height / 2], device=m.device, dtype=m.dtype)
    inverse = inverse_2x2(m) * to_pixels.view(1, 1, 2) / to_pixels.view(1, 2, 1)
    return torch.cat([inverse, torch.zeros(len(m), 2, 1, device=m.device, dtype=m.dtype)], 2)


def inverse_2x2(m: torch.Tensor) -> torch.Tensor:
    """Inverses of a batch of 2x2 matrices, in closed form (no LAPACK call per batch)."""
    a, b, c, d = m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1]
    return torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2) / (a * d - b * c).view(-1, 1, 1)


def _normalised(p: torch.Tensor | float, size: int) -> torch.Tensor | float:
    """Pixel index (the centre of pixel p) -> `affine_grid` coordinate (align_corners=False)."""
    return (2 * p + 1) / size - 1


def sampling_grid(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """`F.affine_grid(theta, size, align_corners=False)`, as two broadcast products (several times
    faster on CPUs for small images)."""
    xs = _normalised(torch.arange(width, device=theta.device, dtype=theta.dtype), width).view(1, 1, width)
    ys = _normalised(torch.arange(height, device=theta.device, dtype=theta.dtype), height).view(1, height, 1)
    t = theta.view(-1, 2, 3, 1, 1)
    return torch.stack([t[:, 0, 0] * xs + t[:, 0, 1] * ys + t[:, 0, 2],
                        t[:, 1, 0] * xs + t[:, 1, 1] * ys + t[:, 1, 2]], -1)


def ink_box_and_centre(images: torch.Tensor, level: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image's ink extent (the longer side of its bounding box, pixels) and centre of mass (x, y)."""
    low, high, centre = ink_box(images, level)
    return (high - low).amax(1).clamp_min(0), centre


def ink_box(images: torch.Tensor, level: float = 0.05) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each image's ink bounding box, as the pixel-edge corners (x, y) low and high, and its centre of
    mass (x, y, pixel indices). An image without ink has an empty box (high < low)."""
    _, _, h, w = images.shape
    ink = images.amax(1)  # (N, H, W)
    mask = ink > level

    def span(present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (N, L) bool -> first, last + 1
        size = present.shape[1]
        index = torch.arange(size, device=present.device)
        first = torch.where(present, index, size).amin(1)
        last = torch.where(present, index, -1).amax(1)
        return first.to(images.dtype), (last + 1).to(images.dtype)

    x0, x1 = span(mask.any(1))
    y0, y1 = span(mask.any(2))
    mass = ink.sum((1, 2)).clamp_min(1e-6)
    xs = torch.arange(w, device=images.device, dtype=images.dtype)
    ys = torch.arange(h, device=images.device, dtype=images.dtype)
    centre = torch.stack([(ink.sum(1) @ xs) / mass, (ink.sum(2) @ ys) / mass], -1)
    return torch.stack([x0, y0], -1), torch.stack([x1, y1], -1), centre


def mapped_box_and_centre(theta: torch.Tensor, low: torch.Tensor, high: torch.Tensor, centre: torch.Tensor,
                          height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Where `theta` (output -> input) puts a box and a centre of mass of the input: the extent (longer
    side, pixels) of the box around the image of its corners, and the centre (x, y pixel indices).

    An affine map moves the centre of mass with it exactly; the box around the
    mapped corners can exceed the mapped ink's own box a little (rotated empty corners).
    """
    size = torch.tensor([width, height], device=theta.device, dtype=theta.dtype)
    a_inv = inverse_2x2(theta[:, :, :2])
    t = theta[:, :, 2]

    def forward(points: torch.Tensor) -> torch.Tensor:  # (N, K, 2) input pixel positions -> output pixels
        u = points * 2 / size - 1  # pixel-edge coordinates -> normalised
        return ((u - t.unsqueeze(1)) @ a_inv.transpose(1, 2) + 1) * size / 2

    corners = torch.stack([low, torch.stack([high[:, 0], low[:, 1]], -1), high,
                           torch.stack([low[:, 0], high[:, 1]], -1)], 1)
    mapped = forward(corners)
    extent = (mapped.amax(1) - mapped.amin(1)).amax(1)
    extent = torch.where((high > low).all(1), extent, torch.zeros_like(extent))
    return extent, forward((centre + 0.5).unsqueeze(1)).squeeze(1) - 0.5


def refit_theta(theta: torch.Tensor, extent: torch.Tensor, centre: torch.Tensor, size: tuple[int, int],
                box: float, target: tuple[float, float]) -> torch.Tensor:
    """Compose `theta` with MNIST's preparation: scale so the ink extent becomes `box`, and move the
    centre of mass (x, y pixels, measured on the image `theta` gave) to `target` (row, col).

    A slanted or rotated digit has another bounding box than the one it was
    written in, but a user's image is always scaled so its box fits 20x20 and
    centred by mass (`image.digits`): train on what prediction will see.
    Images without ink (extent 0) keep `theta`.
    """
    h, w = size
    a, t = theta[:, :, :2], theta[:, :, 2]
    k = (box / extent.clamp_min(1.0)).clamp(0.5, 3.0).view(-1, 1)
    com = torch.stack([_normalised(centre[:, 0], w), _normalised(centre[:, 1], h)], -1)
    goal = torch.tensor([_normalised(target[1], w), _normalised(target[0], h)], device=theta.device,
                        dtype=theta.dtype)
    # A point u of the refitted image is the point com + (u - goal) / k of the image theta gave.
    offset = (a @ (com - goal / k).unsqueeze(-1)).squeeze(-1) + t
    refit = torch.cat([a / k.unsqueeze(-1), offset.unsqueeze(-1)], 2)
    return torch.where((extent > 0).view(-1, 1, 1), refit, theta)


def elastic_offsets(coarse: torch.Tensor, amplitude: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A smooth random displacement field (N, H, W, 2) in grid units: a hand's small irregularities.

    `coarse` (N, 2, g, g) holds standard normal values on a g x g lattice, upsampled by
    linear interpolation (two small matrix products); `amplitude` is each image's
    displacement scale in pixels.
    """
    g = coarse.shape[-1]
    rows = _interpolation(g, height, coarse.device)
    cols = _interpolation(g, width, coarse.device)
    field = torch.einsum("ih,ncij,jw->nhwc", rows, coarse, cols)
    scale = torch.tensor([2 / width, 2 / height], device=field.device, dtype=field.dtype)
    return field * amplitude.view(-1, 1, 1, 1) * scale


@lru_cache(maxsize=16)
def _interpolation(points: int, size: int, device: torch.device) -> torch.Tensor:
    """(points, size): linear interpolation from `points` lattice values to `size` samples."""
    eye = torch.eye(points, device=device).view(points, 1, points)
    return F.interpolate(eye, size=size, mode="linear", align_corners=True).view(points, size)


def low_resolution(images: torch.Tensor, sizes: torch.Tensor, choices: tuple[int, ...]) -> torch.Tensor:
    """A low-resolution scan blown up again: each image with size s in `choices` is area-averaged to
    s x s and resized back bilinearly; size 0 leaves the image alone. One pass per size, on its images.
    `sizes` may stay on the CPU (where they are drawn): the images are picked without waiting for a device."""
    h, w = images.shape[-2:]
    if not bool((sizes > 0).any()):
        return images
    out = images.clone()
    for s in choices:
        index = (sizes == s).nonzero().flatten().to(images.device)
        if len(index):
            small = F.interpolate(images[index], size=(s, s), mode="area")
            out[index] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return out


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor, radius: int = 2) -> torch.Tensor:
    """Defocus: a separable Gaussian of each image's own sigma (pixels; 0 leaves it), as one grouped conv."""
    n, c, h, w = images.shape
    d = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    s = sigma.clamp_min(1e-3).view(-1, 1)
    kernel = torch.exp(-(d.view(1, -1) ** 2) / (2 * s**2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (N*C, k)
    x = images.reshape(1, n * c, h, w)
    x = F.conv2d(F.pad(x, (0, 0, radius, radius)), kernel.view(n * c, 1, -1, 1), groups=n * c)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0)), kernel.view(n * c, 1, 1, -1), groups=n * c)
    return x.view(n, c, h, w)


def ink_gain(images: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """Faint (gain < 1) or saturated (gain > 1: soft edges pushed towards full ink) strokes."""
    return (images * gain.view(-1, 1, 1, 1)).clamp(0, 1)


# ----------------------------------------------------------------------------- options and policies

MNIST_BOX = 20.0  # MNIST (and image.digits) scale each digit's ink box to fit 20x20 ...
MNIST_CENTRE = (14.0, 14.0)  # ... and put its centre of mass here (row, col)
LOW_RES_SIZES = (7, 9, 11, 14)  # side of a "scan" of the 28x28 field: 8x8 ink counts are about 7-9 here


@dataclass(frozen=True)
class AugmentOptions:
    """Which augmentations a run applies to each training batch (from its config).

    Everything after `hflip` belongs to the handwriting policy and is off by
    default; `share` is the fraction of each batch that gets it.
    """

    translate: int = 0  # random shifts of up to this many pixels
    hflip: bool = False  # random left-right mirror images
    share: float = 0.0  # fraction of each batch redrawn as another hand (0: the ops below are off)
    rotate: float = 0.0  # degrees, either way
    shear: float = 0.0  # slant: x moves by shear * y, either way
    aspect: float = 0.0  # width / height changed by a factor up to 1 + aspect, either way
    scale: float = 0.0  # size changed by a factor up to 1 + scale, either way (undone by `refit`)
    elastic: float = 0.0  # typical wobble, pixels (up to)
    stroke: tuple[float, float] = (0.0, 0.0)  # pen width range: -1 eroded, 0 as written, 2 dilated twice
    blur: float = 0.0  # defocus, up to: 1 is one pass of a 3x3 binomial filter (sigma 0.7 px), 2 two (sigma 1)
    low_res: float = 0.0  # probability of a low-resolution scan (sizes LOW_RES_SIZES)
    gain: tuple[float, float] = (1.0, 1.0)  # ink gain range (log-uniform)
    refit: bool = False  # re-fit the ink box to 20x20 and centre it by mass, as a user's image is prepared
    fade: float = 0.0  # the last part of training (a fraction) over which `share` falls linearly to 0

    def strength(self, progress: float) -> float:
        """How much of `share` applies at `progress` (0: first step, 1: the end) of training."""
        if self.fade <= 0:
            return 1.0
        return min(1.0, max(0.0, (1.0 - progress) / self.fade))

    @property
    def redraws(self) -> bool:
        """Whether the handwriting ops run at all."""
        return self.share > 0


# Named policies (`RunConfig.augment`); values chosen on validation sets of digits not written by MNIST's
# writers (benchmarks/digit_recipes.py), never on a test or evaluation set.
POLICIES: dict[str, dict] = {
    "shift": {},
    # Slant, rotation, aspect, pen width, defocus, low-resolution scans, ink level on half of each batch,
    # fading out over the last 30% of training. The wobble (`elastic`) and the MNIST re-fit (`refit`) are
    # left off: on validation they gained nothing for their cost (benchmarks/results/digit_recipes.json).
    "handwriting": dict(share=0.5, rotate=12.0, shear=0.35, aspect=0.3, stroke=(-0.8, 1.6),
                        blur=1.0, low_res=0.15, gain=(0.6, 2.0), fade=0.3),
}


def policy_options(policy: str, translate: int = 0, hflip: bool = False, **changes) -> AugmentOptions:
    """The AugmentOptions of a named policy, with the run's shifts and flips (and any field changed)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown augmentation policy {policy!r}; choose from {', '.join(POLICIES)}")
    return AugmentOptions(translate=translate, hflip=hflip, **{**POLICIES[policy], **changes})


def handwriting(images: torch.Tensor, o: AugmentOptions, generator: torch.Generator,
                strength: float = 1.0) -> torch.Tensor:
    """Redraw a `share * strength` fraction of a uint8 batch as other hands, pens and scanners would.

    Parameters are drawn for every image (so the generator advances the same
    way whatever the options); the work is done on the chosen images only,
    picked on the CPU, so nothing waits for the device.
    """
    n, c, h, w = images.shape
    device = images.device

    def draw(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    chosen = torch.rand(n, generator=generator) < o.share * strength
    r = math.radians(o.rotate)
    angle, shear = draw(-r, r), draw(-o.shear, o.shear)
    log_aspect = draw(-math.log1p(o.aspect), math.log1p(o.aspect))
    log_scale = draw(-math.log1p(o.scale), math.log1p(o.scale))
    wobble, pen, sigma = draw(0.0, o.elastic), draw(*o.stroke), draw(0.0, o.blur)
    gain = torch.exp(draw(math.log(o.gain[0]), math.log(o.gain[1])))
    scanned = torch.rand(n, generator=generator) < o.low_res
    size = torch.tensor(LOW_RES_SIZES)[torch.randint(0, len(LOW_RES_SIZES), (n,), generator=generator)]
    coarse = torch.randn(n, 2, 4, 4, generator=generator)
    index = chosen.nonzero().flatten()
    if len(index) == 0:
        return images

    def on_device(v: torch.Tensor) -> torch.Tensor:
        return v[index].to(device)

    x = images[index.to(device)].float() / 255.0
    if o.stroke != (0.0, 0.0):
        x = stroke_width(x, on_device(pen))
    theta = affine_theta(on_device(angle), on_device(shear), on_device(log_aspect), on_device(log_scale), h, w)
    if o.refit:  # where the box and the centre of mass land, so the result can be prepared as MNIST was
        low, high, centre = ink_box(x)
        extent, centre = mapped_box_and_centre(theta, low, high, centre, h, w)
        theta = refit_theta(theta, extent, centre, (h, w), MNIST_BOX, MNIST_CENTRE)
    grid = sampling_grid(theta, h, w)
    if o.elastic > 0:
        grid = grid + elastic_offsets(on_device(coarse), on_device(wobble), h, w)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    x = low_resolution(x, torch.where(scanned, size, 0)[index], LOW_RES_SIZES)
    if o.blur > 0:
        x = soften(x, on_device(sigma))
    if o.gain != (1.0, 1.0):
        x = ink_gain(x, on_device(gain))
    out = images.clone()
    out[index.to(device)] = (x * 255.0).round_().clamp_(0, 255).to(images.dtype)
    return out


def augment_batch(images: torch.Tensor, options: AugmentOptions, generator: torch.Generator,
                  strength: float = 1.0) -> torch.Tensor:
    """A training batch's augmentation; `strength` in [0, 1] scales the share given the handwriting policy."""
    if options.redraws:
        images = handwriting(images, options, generator, strength)
    images = random_translate(images, options.translate, generator)
    if options.hflip:
        images = random_hflip(images, generator)
    return images

"""How a mark becomes the image file a user sends: size, margins, paper, ink, light, camera, format.

Every builder hands this module an ink *coverage* map (float32, 0 = bare
paper, 1 = full ink, cropped to the mark) and gets back encoded bytes plus a
record of the choices, which goes into the manifest. The ranges follow what
people actually send to `tinyvision predict`: a phone photo or scan of one
character, dark ink on light paper most of the time (black, blue ballpoint,
pencil, marker), now and then chalk or a white pen on a dark ground; paper
that is white, cream or grey under uneven light; a little defocus and sensor
noise; 28 to 220 px tall characters (log-uniform: small ones are common) in
images with uneven margins of 10-70% of that height; JPEG of middling
quality or PNG, colour or greyscale.

No ruled lines or grids under characters: those are a separate, harder
question (the `other` set has lined paper on its own).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

PRESENTATION = ("user-style: the mark cropped to its ink, scaled to 28-220 px tall (log-uniform), placed with "
                "uneven margins (10-70% of its height a side) on white, cream or grey paper under a light ramp "
                "with texture and grain, in black, blue, pencil, marker or red ink (10%: light ink on a "
                "chalkboard, black card or dark screen), slightly defocused, with sensor noise, saved as JPEG "
                "(quality 55-95, 60%) or PNG, in colour or grey (30%); `style` in each item records the choices.")

# Ink colours as linear RGB in 0..1, with how often each is drawn.
INKS = {
    "black": ((0.06, 0.06, 0.08), 0.40),
    "blue": ((0.10, 0.16, 0.48), 0.25),
    "pencil": ((0.36, 0.36, 0.38), 0.15),
    "marker": ((0.02, 0.02, 0.02), 0.15),
    "red": ((0.55, 0.09, 0.08), 0.05),
}
PAPERS = {
    "white": ((0.97, 0.97, 0.97), 0.45),
    "cream": ((0.96, 0.93, 0.84), 0.20),
    "grey-light": ((0.78, 0.78, 0.76), 0.25),  # white paper photographed indoors
    "blue-white": ((0.90, 0.93, 0.98), 0.10),  # white balance off
}
LIGHT_ON_DARK = {  # (ground, ink): a blackboard, a white pen on black card, a dark-mode screenshot
    "chalkboard": ((0.16, 0.22, 0.18), (0.88, 0.90, 0.86)),
    "black-card": ((0.05, 0.05, 0.06), (0.94, 0.94, 0.94)),
    "dark-screen": ((0.12, 0.13, 0.16), (0.85, 0.87, 0.92)),
}


def _pick(rng: np.random.Generator, table: dict) -> str:
    names = list(table)
    weights = np.array([table[n][1] for n in names], float)
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def crop_to_ink(coverage: np.ndarray, level: float = 0.02) -> np.ndarray:
    """The smallest box holding every pixel above `level` (the whole map if none is)."""
    rows, cols = np.nonzero(coverage > level)
    if rows.size == 0:
        return coverage
    return coverage[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def scale_to_height(coverage: np.ndarray, height: int, resample: Image.Resampling) -> np.ndarray:
    """Resize a coverage map so its height is `height`, keeping the aspect ratio."""
    h, w = coverage.shape
    width = max(1, round(w * height / h))
    out = Image.fromarray(coverage.astype(np.float32), "F").resize((width, height), resample)
    return np.clip(np.asarray(out), 0.0, 1.0)


def paper(h: int, w: int, rng: np.random.Generator, tone: tuple[float, float, float],
          grain: bool = True) -> np.ndarray:
    """A sheet under uneven light: the tone, a linear light ramp, a soft blotch of texture, and grain.

    `grain=False` leaves the fine noise to the caller (present() adds one noise field for grain and sensor).
    """
    angle, amount = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.22)
    gx = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :] * np.float32(np.cos(angle) * amount)
    gy = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None] * np.float32(np.sin(angle) * amount)
    ramp = gx + gy
    # Paper fibres and shading: coarse noise, upsampled smoothly so it has no grid.
    coarse = rng.normal(0, 1, (max(2, h // 24), max(2, w // 24))).astype(np.float32)
    texture = np.array(Image.fromarray(coarse, "F").resize((w, h), Image.Resampling.BICUBIC))
    texture *= rng.uniform(0.0, 0.02)
    light = ramp + texture
    if grain:
        light = light + rng.standard_normal((h, w), dtype=np.float32) * np.float32(rng.uniform(0.003, 0.02))
    light = light[..., None]
    return np.clip(np.asarray(tone, np.float32)[None, None, :] * (1 + light), 0, 1)


def encode(rgb: np.ndarray, rng: np.random.Generator, fmt: str | None = None,
           gray: bool | None = None) -> tuple[bytes, str, dict]:
    """Float RGB in 0..1 -> (file bytes, extension, choices): JPEG (quality 55-95) or PNG, colour or grey."""
    fmt = fmt or ("jpeg" if rng.random() < 0.6 else "png")
    gray = bool(rng.random() < 0.3) if gray is None else gray
    pixels = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    if gray:
        image = image.convert("L")
    buffer = io.BytesIO()
    choices: dict = {"format": fmt, "mode": image.mode}
    if fmt == "jpeg":
        quality = int(rng.integers(55, 96))
        image.save(buffer, format="JPEG", quality=quality)
        choices["quality"] = quality
    else:
        image.save(buffer, format="PNG", compress_level=1)  # fast; grain and noise barely compress anyway
    return buffer.getvalue(), ("jpg" if fmt == "jpeg" else "png"), choices


def png_bytes(pixels: np.ndarray) -> bytes:
    """uint8 grey (H, W) or RGB (H, W, 3) as PNG bytes, unchanged."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def present(coverage: np.ndarray, rng: np.random.Generator, *, height: int | None = None,
            resample: Image.Resampling = Image.Resampling.LANCZOS, dark_ground: bool | None = None,
            fmt: str | None = None, gray: bool | None = None,
            margin: tuple[float, float] = (0.1, 0.7)) -> tuple[bytes, str, dict]:
    """One mark as a user's image file. Returns (bytes, extension, the choices made).

    `height` is the mark's height in the output (28-220 px, log-uniform, when not given);
    `resample` the filter that brings the coverage map to it (Lanczos for
    sharp sources drawn large, bicubic for low-resolution scans, which have
    to be upscaled and should look soft, not blocky); `dark_ground` puts
    light ink on a dark ground (10% of images when not given); `margin` the
    range of each side's margin as a fraction of the mark's height.
    """
    coverage = crop_to_ink(coverage)
    height = height or int(np.exp(rng.uniform(np.log(28), np.log(220))))
    mark = scale_to_height(coverage, height, resample)
    mh, mw = mark.shape
    left, right, top, bottom = (int(rng.uniform(*margin) * height) + 2 for _ in range(4))
    h, w = mh + top + bottom, mw + left + right
    cover = np.zeros((h, w), np.float32)
    cover[top : top + mh, left : left + mw] = mark

    # Camera defocus, proportional to the mark's size. Blurring the ink alone is much cheaper than blurring
    # the photo and looks the same: the paper is smooth at that scale.
    blur = float(rng.uniform(0.0, 0.9)) * height / 100
    if blur > 0.15:
        soft = Image.fromarray(np.round(cover * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(blur))
        cover = np.asarray(soft, np.float32) / 255

    dark_ground = bool(rng.random() < 0.1) if dark_ground is None else dark_ground
    if dark_ground:
        ground_name = str(rng.choice(list(LIGHT_ON_DARK)))
        ground, ink = LIGHT_ON_DARK[ground_name]
        sheet = paper(h, w, rng, ground, grain=False)
        ink_name = "light"
    else:
        ground_name, ink_name = _pick(rng, PAPERS), _pick(rng, INKS)
        sheet, ink = paper(h, w, rng, PAPERS[ground_name][0], grain=False), INKS[ink_name][0]
    strength = rng.uniform(0.85, 1.0) if ink_name in ("pencil", "light") else rng.uniform(0.9, 1.0)
    alpha = (cover * np.float32(strength))[..., None]
    rgb = sheet + (np.asarray(ink, np.float32)[None, None, :] - sheet) * alpha
    # Paper grain and sensor noise in one field, the same in every channel (phones suppress colour noise).
    # A PNG is a scan or a screenshot more often than a phone photo: less noise (and a smaller file).
    fmt = fmt or ("jpeg" if rng.random() < 0.6 else "png")
    noise = rng.uniform(0.003, 0.025) if fmt == "jpeg" else rng.uniform(0.0, 0.008)
    rgb += rng.standard_normal((h, w, 1), dtype=np.float32) * np.float32(noise)
    data, ext, choices = encode(rgb, rng, fmt, gray)
    choices.update(height=height, size=[w, h], paper=ground_name, ink=ink_name,
                   polarity="light-on-dark" if dark_ground else "dark-on-light", blur=round(blur, 2))
    return data, ext, choices

"""How an image becomes a model input: MNIST-style digits, or a plain resize.

A model's checkpoint names its preparation (its dataset's, from the registry):
- `digit`: find the ink, crop it, fit it into 20x20 and centre it by mass in
  28x28, white on black, as MNIST prepared its own digits (`image.digits`);
- `resize`: the decoded image converted to the model's channels and resized
  to its input size, exactly as a folder dataset is loaded for training.

Both start from the one decoder, so training and prediction read a file alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from tinyvision.errors import TinyVisionError
from tinyvision.image.decode import DEFAULT_LIMITS, Limits, decode
from tinyvision.image.digits import DIGIT_FIELD, WORK_SIDE, prepare_digit

MODES = ("digit", "resize")


@dataclass(frozen=True)
class Preparation:
    """How images become inputs for one model."""

    mode: str  # "digit" (MNIST-style) or "resize"
    input_shape: tuple[int, int, int]  # (C, H, W)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise TinyVisionError(f"unknown preparation {self.mode!r}; choose auto, digit or resize")
        if self.mode == "digit" and tuple(self.input_shape) != (1, DIGIT_FIELD, DIGIT_FIELD):
            raise TinyVisionError(f"digit preparation needs a 1x28x28 model, this one takes {self.input_shape}")

    @property
    def longest(self) -> int:
        """How many pixels the decoder must keep on the longest side."""
        return WORK_SIDE if self.mode == "digit" else 2 * max(self.input_shape[1:])


def choose_preparation(default: str, input_shape: tuple[int, int, int], mode: str = "auto") -> Preparation:
    """The model's own preparation (`default`, from its card), unless the user asks for another."""
    return Preparation(default if mode == "auto" else mode, tuple(input_shape))


def resize_pixels(pixels: np.ndarray, input_shape: tuple[int, int, int]) -> np.ndarray:
    """(H, W, 1 or 3) uint8 -> (C, H, W) uint8 at the model's size and channel count.

    Colour becomes gray with Pillow's luma ("L"); gray becomes colour by
    repeating it. Resizing is bilinear on 8-bit values (Pillow widens its
    filter when shrinking, so it averages rather than skips pixels).
    """
    c, h, w = input_shape
    image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    image = image.convert("L" if c == 1 else "RGB")
    if image.size != (w, h):
        image = image.resize((w, h), Image.Resampling.BILINEAR)
    array = np.asarray(image)
    # Pillow's buffer is read-only, and torch refuses to share one: a contiguous, writable copy.
    return np.require(array[None] if array.ndim == 2 else array.transpose(2, 0, 1), requirements=("C", "W"))


def prepare(source, preparation: Preparation, limits: Limits = DEFAULT_LIMITS) -> torch.Tensor:
    """Any image source -> uint8 (C, H, W), the same form as a dataset's images."""
    pixels = decode(source, preparation.longest, limits)
    if preparation.mode == "digit":
        digit = prepare_digit(pixels)
        return torch.from_numpy(np.round(digit * 255.0).astype(np.uint8)[None])
    return torch.from_numpy(resize_pixels(pixels, preparation.input_shape))

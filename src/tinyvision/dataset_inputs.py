"""Inputs a user passes that already are dataset images: taken as they are, not prepared again.

Keras holds MNIST as `x_test` (uint8 (N, 28, 28)) and torchvision as `ToTensor()` digits; an MNIST digit saved
as a PNG is one too. Read as a user's photo, each was prepared a second time and could be answered otherwise
than evaluation counted it. `Model.dataset_image`, `Model.prepared_batch` and the folder cache of a `digits:`
folder ask these what a source is: a digit fitted and centred as MNIST's are (`looks_prepared`), a gray image
held in colour planes (`gray_in_planes`, `gray_of_size`, `gray_plane`), pixels in the runner's uint8
(`as_pixels`).
"""

from __future__ import annotations

import numpy as np
import torch

from tinyvision.image.decode import DEFAULT_LIMITS, Limits

# A digit array of the model's size is taken as already prepared (`Model.dataset_image`) when its one-pixel frame
# is this dark on average (1% of MNIST's digits touch the frame, a little) ...
PREPARED_FRAME = 0.05
# ... and its ink's centre of mass is within this many pixels of the centre (MNIST's digits: 1.42 at most) ...
PREPARED_CENTRE = 2.0
# ... and its ink (above PREPARED_INK) is one digit fitted as MNIST's are: its box's longer side within
# PREPARED_SIDE px (of 28) of MNIST's 20 (each of its digits: 19 or 20), and no two pieces of PREPARED_PIECE px
# or more side by side.
PREPARED_INK, PREPARED_SIDE, PREPARED_PIECE = 0.1, 1, 8


def looks_prepared(ink: np.ndarray) -> bool:
    """Whether a digit-sized image (floats in [0, 1]) already looks as preparation leaves a digit: light ink
    on a dark frame (PREPARED_FRAME), centred by mass (PREPARED_CENTRE), one digit fitted to MNIST's box."""
    height, width = ink.shape
    frame = np.concatenate([ink[0], ink[-1], ink[1:-1, 0], ink[1:-1, -1]])
    total = float(ink.sum())
    if total <= 0 or float(frame.mean()) > PREPARED_FRAME:
        return False
    rows, cols = np.mgrid[:height, :width]
    centre = (float((ink * rows).sum()) / total, float((ink * cols).sum()) / total)
    return bool(np.hypot(centre[0] - height / 2, centre[1] - width / 2) <= PREPARED_CENTRE and one_fitted_digit(ink))


def gray_in_planes(planes: torch.Tensor) -> bool:
    """Whether a (2, 3 or 4, H, W) tensor is one gray image in colour planes rather than that many digits: three
    planes alike (RGB), three alike and an alpha plane (RGBA), or a gray plane and an alpha plane (LA). An alpha
    plane is opaque all over, or transparent (0) only where the gray is one value, the ground (black or white
    ink on a clear ground, or ink drawn in the alpha alone). Digits of a dataset are never copies of one
    another, and a digit's dark ground never lies where only one value of another digit does (a batch that
    repeats one digit three times, as a 3-D tensor, is one image: pass it as (N, 1, H, W))."""
    count = planes.shape[0]
    if count not in (2, 3, 4):
        return False
    colour = planes[: 3 if count >= 3 else 1]
    if not all(torch.equal(colour[0], plane) for plane in colour[1:]):
        return False
    if count == 3:
        return True
    alpha, gray = planes[-1], colour[0]
    clear = alpha == 0
    if not bool(clear.any()):
        return True  # opaque all over
    ground = gray[clear]
    return not bool(clear.all()) and bool((ground == ground[0]).all())


def gray_of_size(data, height: int, width: int, limits: Limits = DEFAULT_LIMITS) -> np.ndarray | None:
    """Bytes or a PIL image of exactly height x width, gray: its uint8 (H, W) pixels; None for another size,
    colour (a photo, not a dataset's digit), or an image the decoder refuses (the reader decodes it again
    within its limits and says what is wrong, in its words). Where a saved dataset digit is looked for
    (`Model.saved_dataset_image`, a `digits:` folder's files)."""
    from PIL import Image

    from tinyvision.image.decode import decode, open_image

    try:
        if isinstance(data, Image.Image):
            size = data.size
        else:
            # The header alone, behind the decoder's own checks: a bare Image.open decoded the huge PNG
            # inside an icon while opening it (a 688 KB upload took a server worker to 1 GB), and walked
            # a file of endless PNG chunks or JPEG fill bytes the checks refuse in milliseconds.
            with open_image(bytes(data), limits) as header:
                size = header.size
        if size != (width, height):
            return None
        pixels = decode(data, None, limits)
    except Exception:  # noqa: BLE001  (Pillow's DecompressionBombError is no OSError: a bomb upload was a 500)
        return None
    if pixels.shape[-1] != 1 and not (pixels == pixels[..., :1]).all():
        return None
    return pixels[..., 0]


def gray_plane(source, height: int, width: int):
    """A gray digit of height x width held in colour planes, as its one plane: a numpy (H, W, 3 or 4) array
    (`np.asarray(Image.open(path))` of a digit saved as RGB or RGBA) or a (3 or 4, H, W) tensor (torchvision's
    `read_image`), its colour planes alike and its alpha, if any, opaque all over; any other source as it is.
    Its file was read as the dataset image it is (`gray_of_size`), and the same pixels as an array prepared a
    second time: the answers differed."""
    if isinstance(source, np.ndarray) and source.ndim == 3 and source.shape[:2] == (height, width) \
            and source.shape[2] in (3, 4):
        planes = np.moveaxis(source, -1, 0)
    elif isinstance(source, torch.Tensor) and source.ndim == 3 and tuple(source.shape[1:]) == (height, width) \
            and source.shape[0] in (3, 4):
        planes = source.detach().cpu().numpy() if source.dtype == torch.uint8 else source.detach().cpu().float().numpy()
    else:
        return source
    opaque = 255 if planes.dtype == np.uint8 else 1.0
    if not (planes[1:3] == planes[0]).all() or (len(planes) == 4 and not (planes[3] == opaque).all()):
        return source
    gray = planes[0]
    return torch.from_numpy(np.array(gray, copy=True))[None] if isinstance(source, torch.Tensor) else gray


def one_fitted_digit(ink: np.ndarray) -> bool:
    """Whether an image's ink (floats in [0, 1], light on dark) is one digit fitted as MNIST fits its digits:
    its box's longer side DIGIT_BOX / DIGIT_FIELD of the image's (every MNIST digit: 19 or 20 px of 28) and no
    two pieces side by side (0.2% of MNIST's digits are broken so). A small number drawn in a 28x28 canvas,
    centred on a dark ground, passed for a dataset image and "41" was read "4"."""
    from tinyvision.image.components import component_boxes, label_components
    from tinyvision.image.digits import DIGIT_BOX, DIGIT_FIELD

    mask = ink > PREPARED_INK
    present_rows, present_cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if present_rows.size == 0:
        return False
    side = max(present_rows[-1] - present_rows[0], present_cols[-1] - present_cols[0]) + 1
    expected = DIGIT_BOX * ink.shape[0] / DIGIT_FIELD
    if abs(side - expected) > PREPARED_SIDE * ink.shape[0] / DIGIT_FIELD:
        return False
    labels, count = label_components(mask)
    if count < 2:
        return True
    box, area = component_boxes(labels, count)
    spans = sorted((int(b[1]), int(b[3])) for b, a in zip(box, area) if a >= PREPARED_PIECE)
    reach = spans[0][1] if spans else 0
    for left, right in spans[1:]:  # each piece reaches under the columns of those left of it
        if left >= reach:
            return False
        reach = max(reach, right)
    return True


def as_pixels(inputs: torch.Tensor) -> torch.Tensor:
    """Inputs as the uint8 pixels the runner takes: uint8 as they are, floats in [0, 1] scaled (never a bare
    cast: 0.7 would become 0), as the decoder reads a user's array."""
    if inputs.dtype == torch.uint8:
        return inputs
    from tinyvision.image.decode import pixel_values

    values = inputs.detach().cpu()
    values = values.float() if values.is_floating_point() else values  # (numpy has no bfloat16)
    return torch.from_numpy(pixel_values(values.numpy()))

"""image.tilt: the tilt of a line of marks, and the ink map turned level with its boxes mapped back."""

import math

import numpy as np
import pytest

from tinyvision.image.tilt import level, line_tilt


def blobs_along(angle: float, count: int = 4, side: int = 300) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """An ink map with `count` square marks whose centres lie on a line through the middle tilted by `angle`
    degrees (rising to the left for a positive angle: rows grow downwards); the map and the centres (x, y)."""
    ink = np.zeros((side, side), np.float32)
    slope = math.tan(math.radians(angle))
    centres = []
    for k in range(count):
        x = side / 2 + (k - (count - 1) / 2) * 55
        y = side / 2 + slope * (x - side / 2)
        ink[round(y) - 15 : round(y) + 15, round(x) - 10 : round(x) + 10] = 1.0
        centres.append((x, y))
    return ink, centres


@pytest.mark.parametrize("angle", [-30.0, -12.0, 0.0, 20.0])
def test_the_tilt_of_marks_along_a_line_is_measured(angle):
    ink, _ = blobs_along(angle)
    tilt = line_tilt(ink)
    assert tilt is not None and tilt.marks == 4
    assert abs(tilt.degrees - angle) < 1.0 and tilt.spread < 0.05


def test_one_mark_has_no_tilt_and_scattered_marks_no_line():
    one, _ = blobs_along(20.0, count=1)
    assert line_tilt(one) is None
    assert line_tilt(np.zeros((50, 50), np.float32)) is None
    scattered = np.zeros((300, 300), np.float32)
    for y, x in [(40, 40), (250, 90), (60, 160), (240, 250)]:
        scattered[y - 15 : y + 15, x - 10 : x + 10] = 1.0
    assert line_tilt(scattered).spread > 1.0  # far more than a line's (image.tilt.MAX_SPREAD)


def test_the_levelled_map_holds_the_line_level_and_its_boxes_map_back_around_the_marks():
    ink, centres = blobs_along(25.0)
    turned, turn = level(ink, line_tilt(ink).degrees)
    assert abs(line_tilt(turned).degrees) < 1.0
    assert turned.shape[0] > ink.shape[0] and turned.shape[1] > ink.shape[1]  # nothing cut off
    assert abs(turned.sum() - ink.sum()) < 0.02 * ink.sum()
    # Each mark's box in the levelled map, mapped back, is around the mark where it was.
    from tinyvision.image.components import component_boxes, label_components

    labels, count = label_components(turned > 0.5)
    boxes, _ = component_boxes(labels, count)
    assert count == 4
    for box in boxes:
        top, left, bottom, right = turn.box_back(tuple(int(v) for v in box))
        inside = [(x, y) for x, y in centres if left <= x <= right and top <= y <= bottom]
        assert len(inside) == 1
        assert bottom - top < 60 and right - left < 60  # around one mark, not the line

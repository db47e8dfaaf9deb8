"""A number's minus sign and decimal point: "-3.14" is read with them, not as "314"; marks that are neither
stay in the ink, read as before."""

from __future__ import annotations

import numpy as np
import pytest

from test_marks import draw
from test_paper import photo
from test_segment import HEIGHT, assert_found, digit, write
from tinyvision.image.digits import ink_map
from tinyvision.image.segment import segment
from tinyvision.image.signs import Signs, find_signs

DOT = 10  # px: a pen's dot, twice its stroke (test_marks.PEN) at HEIGHT


def signed(mnist, labels=(3, 1, 4), minus: bool = True, point_after: int | None = 1, gap: int = HEIGHT // 3):
    """A number written with a minus before it and a point after digit `point_after`: (the ink with the
    signs, the ink without them, the digits' true boxes)."""
    ink, boxes = write([digit(mnist, d) for d in labels], gaps=[gap] * (len(labels) - 1), margin=80)
    shapes = []
    if minus:
        top, left, bottom, _ = boxes[0]
        middle = (top + bottom) / 2
        shapes.append(("line", [left - 55, middle, left - 20, middle + 2]))
    if point_after is not None:
        x = (boxes[point_after - 1][3] + boxes[point_after][1]) / 2
        bottom = max(boxes[point_after - 1][2], boxes[point_after][2])
        shapes.append(("ellipse", [x - DOT / 2, bottom - DOT, x + DOT / 2, bottom]))
    return draw(ink, shapes), ink, boxes


def test_a_minus_and_a_point_are_found_and_taken_out_of_the_ink(mnist):
    # Before image.signs the point joined a digit or was dropped as noise, and the minus was dropped:
    # "-3.14" read "314".
    marked, ink, boxes = signed(mnist)
    clean, signs = find_signs(marked)
    assert signs.minus is not None and signs.point is not None
    assert np.array_equal(clean > 0.25, ink > 0.25)  # the signs go, every digit's ink stays
    assert_found(segment(clean), boxes)
    centres = [(b[1] + b[3]) / 2 for b in boxes]
    assert signs.write(["3", "1", "4"], centres) == "-3.14"
    # Through the decoder, from a photo, as a user's file is read.
    _, from_photo = find_signs(ink_map(photo(marked)))
    assert from_photo.minus is not None and from_photo.point is not None


@pytest.mark.parametrize("case", ["dot above the line", "dot after the last digit", "two dots", "colon",
                                  "bar over a digit", "bar at the foot", "bar far from the digits", "equals sign"])
def test_marks_that_are_not_a_minus_or_a_point_stay_in_the_ink(mnist, case):
    ink, boxes = write([digit(mnist, 4), digit(mnist, 2)], gaps=[HEIGHT // 3], margin=200)
    (top, left, bottom, right), (_, left2, _, right2) = boxes
    between, middle = (right + left2) / 2, (top + bottom) / 2
    shapes = {
        "dot above the line": [("ellipse", [between - 5, top, between + 5, top + DOT])],  # an i's dot, a tick
        "dot after the last digit": [("ellipse", [right2 + 15, bottom - DOT, right2 + 25, bottom])],  # "42."
        "two dots": [("ellipse", [between - 12, bottom - DOT, between - 2, bottom]),
                     ("ellipse", [between + 2, bottom - DOT, between + 12, bottom])],
        "colon": [("ellipse", [between - 5, middle - DOT, between + 5, middle]),  # "4:2", "4!2": not "4.2"
                  ("ellipse", [between - 5, bottom - DOT, between + 5, bottom])],
        "bar over a digit": [("line", [left, top - 15, right, top - 15])],
        "bar at the foot": [("line", [left - 50, bottom - 3, left - 15, bottom - 3])],  # an underscore
        "bar far from the digits": [("line", [left - 190, middle, left - 150, middle])],  # 150 px of paper
        "equals sign": [("line", [left - 55, middle - 8, left - 20, middle - 8]),  # "=42" read "-42"
                        ("line", [left - 55, middle + 8, left - 20, middle + 8])],
    }[case]
    marked = draw(ink, shapes)
    clean, signs = find_signs(marked)
    assert signs == Signs() and np.array_equal(clean, marked)


@pytest.mark.parametrize("after, read", [(1, "1250"), (2, "12.50")])
def test_a_comma_is_taken_out_a_thousands_comma_written_as_nothing_a_decimal_comma_as_a_point(mnist, after, read):
    # "1,250" is 1250: a comma was read as a 1 ("11250") or joined to a digit, and its head passed for a
    # point. "12,50" is no thousands comma (those group three digits): it is a decimal comma, 12.50, where
    # it was read 1250.
    ink, boxes = write([digit(mnist, d) for d in (1, 2, 5, 0)], gaps=[HEIGHT // 3] * 3, margin=80)
    between, bottom = (boxes[after - 1][3] + boxes[after][1]) / 2, max(boxes[after - 1][2], boxes[after][2])
    comma = draw(ink, [("ellipse", [between - 5, bottom - DOT, between + 5, bottom]),  # a dot with a tail
                       ("line", [between + 3, bottom - 3, between - 2, bottom + 14])])
    clean, signs = find_signs(comma)
    assert signs.minus is None and signs.point is None and len(signs.commas) == 1
    assert np.array_equal(clean > 0.25, ink > 0.25)
    assert_found(segment(clean), boxes)
    assert signs.write(["1", "2", "5", "0"], [(b[1] + b[3]) / 2 for b in boxes]) == read


def test_a_number_without_signs_is_left_as_it_is(mnist):
    ink, _ = write([digit(mnist, d) for d in (2, 0, 2, 6)])
    clean, signs = find_signs(ink)
    assert signs == Signs() and clean is ink


def test_the_answer_writes_the_signs_with_the_digits_it_reads():
    # Whatever digits the model reads, the label is them with the minus first and the point where it
    # was drawn; a point with no digit on one side of it once read is left out.
    assert Signs(minus=(0, 0, 1, 1)).write(["7"], [50.0]) == "-7"
    assert Signs(point=(0, 60, 1, 70)).write(["1", "2"], [40.0, 90.0]) == "1.2"
    assert Signs(point=(0, 60, 1, 70)).write(["1", "2"], [80.0, 90.0]) == "12"
    assert Signs(minus=(0, 0, 1, 1)).write([], []) == ""
    # Commas: three digits after one group thousands; any other count makes the last separator the decimal mark.
    four = (["1", "2", "3", "4"], [10.0, 30.0, 50.0, 70.0])
    comma_after = {k: (0, 10 + 20 * k - 10, 1, 10 + 20 * k - 8) for k in (1, 2, 3)}  # between digit k-1 and k
    assert Signs(commas=(comma_after[1],)).write(*four) == "1234"  # 1,234
    assert Signs(commas=(comma_after[3],)).write(*four) == "123.4"  # 123,4
    assert Signs(commas=(comma_after[1],), point=comma_after[3]).write(*four) == "123.4"  # 1,23.4 as written
    assert Signs(point=comma_after[1], commas=(comma_after[2],)).write(*four) == "12.34"  # 1.2,34: the last
    assert Signs(point=comma_after[1], commas=(comma_after[3],)).write(*four) == "123.4"  # 1.234,5 style

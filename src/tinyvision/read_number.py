"""Reading a whole number with a digit model: find each digit, prepare it as MNIST did, classify it.

    image -> decode -> ink map -> segment (the model's confidence chooses the cuts)
          -> each digit a 28x28 input -> the model's inference path -> digits left to right

The answer is the digits in order ("2026"; one digit: "7"), each with its
probability and its box in the original image. An answer with a doubtful
digit gets a second opinion, the image cut again with seams along slants too
(SLANT_MAX), and the reading more likely right as a whole is answered.
Several marks no wider than one digit are also read whole, as one digit in
pieces (WHOLE_ASPECT). The model abstains (label None) when a digit falls
below the rejection threshold chosen on validation (a non-digit gets
spread-out probabilities), when digits cut apart among several marks are not
sure as a whole (a word's letters cut into pieces, SEVERAL_CUT_BAR; lower for
a reading without a 1 or a 7, the digits a letter's strokes pass for), or when
the image holds more marks than a number has, or no ink at all (a blank
page): reason "not a digit". A mark that may be two touching digits is also read whole by the pair reader
(`pair_reader`; PAIR_BAR), which may also answer a refusal with a pair without a 1 or a 7 (PAIR_RESCUE).
A doubted answer or a refusal is read again with the ink turned level when its line tilts (a photo taken
askew, `image.tilt`; TILT_MIN), then stood upright when its digits lean (italic writing, `image.lean`;
LEAN_MIN), and the likelier reading is answered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from tinyvision.image.components import INK_LEVEL
from tinyvision.image.decode import ImageError, decode_sized
from tinyvision.image.digits import WORK_SIDE, ink_extent, ink_map, prepare_whole
from tinyvision.image.lean import MNIST_LEAN, ink_lean, stand_upright
from tinyvision.image.marks import holds_marks
from tinyvision.image.segment import count_marks, original_box, segment, slant_shears
from tinyvision.image.signs import Signs, find_signs
from tinyvision.image.tilt import MAX_SPREAD, level, line_tilt
from tinyvision.image.warp import Warp

if TYPE_CHECKING:
    from tinyvision.classifier import Model, Prediction

NOT_A_DIGIT = "not a digit"
TOO_MANY_DIGITS = "too many digits"  # a number longer than segment.MAX_DIGITS: read, but not answered
# More pieces found than a number has digits are a number too long to read when at most this share of them
# is refused by the card, else a line of text ("not a digit"). 0: any refused piece makes it text, and the
# longer a real number, the likelier one of its digits is doubted (7 of 50 written 16-digit numbers, most
# typed phone numbers with their "+"). But a line of words and numbers ("Tel 020 7946 0958", "Call 0800 123
# 4567 or 0800 765 4321") is mostly digits, its letters pass for digits, and any larger share let such lines
# through as "too many digits" (two red teams: at 10%, 132 lines of 424 against 41; at 5%, 65 of 1,160
# against 21). Chosen on validation (benchmarks/long_lines.py, results/long_lines.json): long numbers of
# MNIST's validation digits and typed in TRAIN fonts against lines of words, and of words and numbers, short
# and long, in TRAIN fonts; the issue asks "not a digit" of what is not one.
TEXT_REFUSED_SHARE = 0.0
# Which readings of several digits are judged by the card's bar for that many digits (the rest by the
# single-digit bar): "separate" (the digits come from two or more separate marks: a number's layout),
# "always", or "never". Chosen on validation (benchmarks/number_rules.py, results/number_rules.json):
# "always" read more validation numbers but refused fewer letters, which a cut often turns into "11";
# "separate" read as many numbers and refused nearly as many letters as "never".
NUMBER_RULE = "separate"
# One piece of ink cut into several digits is refused unless every digit is at least this sure (None: the
# single-digit bar alone): a letter's halves pass the single-digit bar as "11" more often than a touching
# number's digits miss this one. Chosen on validation with the lone-mark rules (image/segment.py,
# benchmarks/segment_costs.py): 0.995 read more numbers but refused fewer letters, a smaller sum.
LONE_CUT_BAR: float | None = 0.999
# Several marks whose ink, taken whole, is no wider than this x its height may be one digit in pieces: a
# low-resolution scan's 3 broken in two, a calligraphic 0 whose hairlines vanished, leaving two strokes
# read as "11". Such an image is also read whole, as one digit, prepared as `Model.prepare` prepares it,
# and the whole reading is answered when the card does not refuse it and either the reading in pieces is
# refused or the whole is at least WHOLE_PREFER sure (None: the whole only replaces a refusal). A number
# is wider than one digit, and read whole, squeezed into one box, it is seldom a confident digit.
# None: never read whole. Chosen on validation (benchmarks/whole_reading.py, results/whole_reading_{a,b}.json,
# table whole-reading in docs/predict-serve-export.md).
WHOLE_ASPECT: float | None = 0.8
WHOLE_PREFER: float | None = 0.99
# ... and over an answered reading in pieces only when it is also more likely right than that reading as a
# whole (`Reading.likely`, as the second opinion is weighed): a 9 and a 1 standing apart, each sure, are two
# digits, though squeezed into one box the two read as a 9 at 0.99 (a "91" drawn large on the page was
# answered "9"). False: the whole reading wins at WHOLE_PREFER, however sure the pieces. Chosen on validation
# (benchmarks/whole_reading.py, results/whole_reading_c.json, table whole-reading-likelier in
# docs/predict-serve-export.md).
WHOLE_LIKELIER = True
# A reading of several marks, one or more of them cut into digits, is refused unless the reading as a whole
# is at least this likely: the product of its digits' probabilities, which are calibrated, so the chance
# that every digit is right (None: no such bar). A word is several marks too, and its letters, cut, pass
# for digits one by one (h -> "17", e -> "13", m -> "177", o -> "0"), but seldom all of them surely; a
# number's touching digits, cut apart, mostly are. The product weighs every doubtful digit, where the
# least sure digit alone let more words through for each number lost. Chosen on validation
# (benchmarks/segment_costs.py with the words of benchmarks/sets/words.py, results/several_cut_bar_*.json,
# table several-cut-bar in docs/predict-serve-export.md).
SEVERAL_CUT_BAR: float | None = 0.95
# Cut apart, a letter's strokes pass for the digits drawn with one stroke: a bar (1) or a bar with a hook (7),
# as in "11" for an n or "17" for an h; a cut letter seldom reads as a digit with none of them, surely. A
# reading cut from one mark without a digit of STROKE_DIGITS needs each digit only at LONE_CUT_BAR_PLAIN, one of
# several marks with a cut only a product of SEVERAL_CUT_BAR_PLAIN (None: the same bars as the rest): a
# touching "23" or "84" whose second digit is 0.99 sure was refused with the letters (what cut readings say
# with the bars off: benchmarks/cut_readings.py, results/cut_readings.json). Chosen on validation
# (benchmarks/segment_costs.py, results/plain_cut_bar_*.json, table plain-cut-bar in
# docs/predict-serve-export.md) by numbers read plus letters, other non-digits and words refused.
STROKE_DIGITS = "17"
LONE_CUT_BAR_PLAIN: float | None = 0.98
SEVERAL_CUT_BAR_PLAIN: float | None = 0.9
# An answer with a digit less sure than SLANT_DOUBT gets a second opinion: the image cut again with seams also
# along slants of up to SLANT_MAX columns per row (`image.segment.candidate_cuts`), and that reading is
# answered instead when the card answers it and it is, as a whole, more likely right (the product of its
# digits' calibrated probabilities). A leaning 1 touching the digit before it lies against it along its whole
# height, where no upright seam gets between them: "1491" was read "149". Only a second opinion: cutting
# along slants from the start cut single digits and numbers written apart into more pieces and read them
# worse. None: no second opinion. Chosen on validation (benchmarks/segment_costs.py,
# results/second_opinion_*.json, table slant-second-opinion in docs/predict-serve-export.md) by numbers read
# plus letters, other non-digits and words refused: 0.2 read as many numbers as 0.3 and more single digits,
# 0.999 more numbers than 0.99 (as many as 0.9999, faster).
SLANT_MAX: float | None = 0.2
SLANT_DOUBT = 0.999
# ... and an image the first reading refused is answered by the second only when it is at least this likely
# right as a whole (None: never, so a refusal stays a refusal). Chosen with them: every bar tried (any, 0.99)
# read more numbers but let words, letters and other non-digits through, a smaller sum.
SLANT_RESCUE: float | None = None
# A mark of an answered reading that may be two touching digits (its ink at least PAIR_ASPECT x as wide as
# tall, found to hold one digit or two) is also read whole by the pair reader (`pair_reader`), and its two
# digits replace the mark's reading when the pair reader is at least PAIR_BAR sure of them: a thin 1 against
# its neighbour that no seam gets between ("31" read "3"), or a touching pair cut in the wrong place. None: no
# pair reading. Chosen on validation (benchmarks/segment_costs.py, results/pair_reader_*.json, table
# pair-reader in docs/predict-serve-export.md) by numbers and single digits read plus letters, other
# non-digits and words refused.
PAIR_BAR: float | None = 0.99
PAIR_ASPECT = 0.6
# ... and only when the pair is likelier than the mark's reading by the digit model (the product of its
# digits' probabilities): read as pairs whatever the digit model said, single digits of separate numbers it
# was 0.9999 sure of became pairs ("746" -> "7146", "935" -> "0135"): 18 of the first 1,000 validation numbers
# changed, 12 for the worse and 5 for the better; with this, only those 5 changed.
PAIR_LIKELIER = True
# ... and a reading the card refused is read again the same way, its marks that the pair reader reads at least
# PAIR_RESCUE surely (and likelier than the digit model's reading of them) taken as those pairs, and answered
# when the card's rules answer its other marks' digits (None: a refusal stays a refusal). A touching "32" or
# "443" cut into the right digits, one of them a little doubted, was refused with the letters whose halves
# pass for digits; the pair reader, reading the mark uncut, is a second reader of it. Only a pair without a digit
# of STROKE_DIGITS rescues (`read_pairs`). Chosen on validation (benchmarks/segment_costs.py,
# results/pair_rescue_{a,b}.json, table pair-rescue in docs/predict-serve-export.md) by numbers and single digits
# read plus letters, other non-digits and words refused: lower bars read a few more numbers but answered letters.
PAIR_RESCUE: float | None = 0.9
# A photo taken askew turns the line of digits and each digit on it. An answer less likely right as a whole than
# TILT_DOUBT (the product of its digits' probabilities), or a refusal, gets a second opinion: when the centres
# of its marks lie along a line (within TILT_SPREAD digit heights of it, `image.tilt`) tilted by at least
# TILT_MIN degrees, the ink is turned level and read again, and that reading is answered when the card answers
# it and it is likelier right as a whole; a refusal only when it is at least TILT_RESCUE likely (None: never).
# None: no levelling.
TILT_MIN: float | None = 10.0
TILT_DOUBT = 0.999
TILT_SPREAD = MAX_SPREAD
TILT_RESCUE: float | None = 0.95
# Italic writing leans each digit on a level line. An answer still less likely right than LEAN_DOUBT, or a
# refusal, whose digits lean at least LEAN_MIN columns per row away from how MNIST's lean (`image.lean`,
# MNIST_LEAN), is read again with the ink sheared so that they lean as MNIST's do, and answered as a
# levelled reading is: when likelier, a refusal only at LEAN_RESCUE (None: never). None: no second reading.
LEAN_MIN: float | None = 0.25
LEAN_DOUBT = 0.999
LEAN_RESCUE: float | None = 0.95
# A refusal of ink that is one mark (`segment.count_marks`) is rescued upright at LEAN_RESCUE_LONE (None: never):
# a letter is one mark, and sheared, refused letters were cut into digits or passed for one. Chosen on validation
# (results/lean_lone_*.json, table lean-lone): a higher bar refused up to 0.4 points more letters, but read fewer
# italic numbers of touching digits and single italic digits; as several marks' bar, it had the most points.
LEAN_RESCUE_LONE: float | None = 0.95
# How often a number answered with two or more digits is read exactly, against the product of its digits'
# probabilities (the chance that every digit read is right): (product, exact rate) knots, interpolated. The
# product leaves out how the number was cut (a digit dropped as noise or swallowed by its neighbour adds no
# factor): on the API red team's numbers of small and touching digits, those answered at 0.99-0.999 were wrong
# 7% of the time. Fitted on validation numbers with the default recipe's seed-0 model (again once the levelled
# and upright second readings were on: they change which numbers are answered), of MNIST's writers and of other
# writers, each set weighing the same (fitted on MNIST's writers alone, other writers' numbers were stated too
# surely), each rate by the rule of succession; used for every digit model (benchmarks/number_confidence.py,
# results/number_confidence.json, table number-confidence); None: the product stands.
NUMBER_CONFIDENCE: list[list[float]] | None = [
    [0.0, 0.0],
    [0.702088, 0.668811],
    [0.932744, 0.820026],
    [0.980333, 0.88272],
    [0.992665, 0.937694],
    [0.997753, 0.96506],
    [0.999167, 0.974306],
    [0.99947, 0.988742],
    [0.999759, 0.991067],
    [0.99993, 0.996787],
    [1.0, 0.996787],
]


def to_uint8(images: list[np.ndarray]) -> torch.Tensor:
    """28x28 float images in [0, 1] -> uint8 (N, 1, 28, 28), as a dataset holds them."""
    return torch.from_numpy(np.round(np.stack(images) * 255.0).astype(np.uint8)[:, None])


def abstain(model: Model, reason: str, pixels: torch.Tensor | None = None) -> Prediction:
    from tinyvision.classifier import Prediction

    shape = model.input_shape
    return Prediction(None, {}, pixels if pixels is not None else torch.zeros(shape, dtype=torch.uint8),
                      reason=reason)


def read_number(model: Model, source) -> Prediction:
    """Every digit in an image, left to right, as one `Prediction` (or an abstention)."""
    pixels, (_, height) = decode_sized(source, WORK_SIDE, model.limits)
    confidence = Scorer(model)
    try:
        ink, signs = find_signs(ink_map(pixels))
        if holds_marks(ink):  # a face's eyes inside its outline: a drawing, not a 0
            return abstain(model, NOT_A_DIGIT)
        frame = Frame(ink.shape[0] / height)  # boxes back in the user's image's pixels
        answer = read_ink(model, ink, signs, frame, confidence)
    except ImageError as exc:
        # A blank page is no digit, and a page of marks or a textured photo no number: answers, not errors.
        # A number too long to read is said so: "not a digit" would send its writer looking for a fault.
        if exc.kind in ("no_ink", "too_many_marks"):
            return abstain(model, NOT_A_DIGIT)
        if exc.kind == "too_many_digits":
            return abstain(model, too_long_or_text(model, exc.found))
        raise
    if TILT_MIN is not None and doubted(answer, TILT_DOUBT):
        answer = reread(model, ink, signs, frame, confidence, answer, levelling, lambda: TILT_RESCUE)
    if LEAN_MIN is not None and doubted(answer, LEAN_DOUBT):
        answer = reread(model, ink, signs, frame, confidence, answer, upright, lambda: lean_rescue(ink))
    return answer


def read_ink(model: Model, ink: np.ndarray, signs: Signs, frame: Frame, confidence: Scorer) -> Prediction:
    """The number written in an ink map (its signs found and taken out): segmented, read, judged."""
    from tinyvision.classifier import Prediction

    segments = segment(ink, confidence, refused=confidence.refused)
    reading = read_segments(model, ink, segments, frame)
    doubted = min(reading.sure) < SLANT_DOUBT if reading.reason is None else SLANT_RESCUE is not None
    if SLANT_MAX is not None and doubted:
        reading = second_opinion(model, ink, frame, confidence, reading)
    reading = read_pairs(model, reading, frame)  # as it was when neither pair bar is set
    if len(reading.digits) > 1 and (reading.reason is not None or WHOLE_PREFER is not None):
        whole = read_whole(model, ink, frame, WHOLE_PREFER if reading.reason is None else None)
        if whole is not None and (reading.reason is not None or not WHOLE_LIKELIER
                                  or whole.digits[0]["probability"] > reading.likely):
            return replace(whole, label=written(whole.digits, signs, frame.scale))
    probabilities = single_probabilities(model, reading.probs)
    if reading.reason is not None:
        return Prediction(None, probabilities, reading.strip, reason=reading.reason, digits=reading.digits)
    whole = number_confidence(reading.likely) if len(reading.digits) > 1 else None
    return Prediction(written(reading.digits, signs, frame.scale), probabilities, reading.strip,
                      digits=reading.digits, whole=whole)


def likely(digits: tuple[dict, ...]) -> float:
    """The chance that a reading is right as a whole: the product of its digits' calibrated probabilities."""
    return float(np.prod([d["probability"] for d in digits]))


def doubted(answer: Prediction, bar: float) -> bool:
    """A refusal, or an answer less likely right as a whole than `bar`: worth a second reading."""
    return answer.label is None or likely(answer.digits) < bar


def levelling(ink: np.ndarray) -> tuple[np.ndarray, Warp] | None:
    """The ink turned level (`image.tilt`) when its marks lie along a line (within TILT_SPREAD) tilted by at
    least TILT_MIN degrees; else None."""
    tilt = line_tilt(ink)
    if tilt is None or abs(tilt.degrees) < TILT_MIN or tilt.spread > TILT_SPREAD:
        return None
    return level(ink, tilt.degrees)


def upright(ink: np.ndarray) -> tuple[np.ndarray, Warp] | None:
    """The ink sheared so that its digits lean as MNIST's do (`image.lean`) when they lean at least LEAN_MIN
    columns per row away from that (and at most `image.lean.MAX_SHEAR`: ink lying nearly level is no leaning
    digit); else None."""
    lean = ink_lean(ink)
    if lean is None or abs(lean - MNIST_LEAN) < LEAN_MIN:
        return None
    return stand_upright(ink, lean)


def lean_rescue(ink: np.ndarray) -> float | None:
    """The bar at which an upright reading answers a refusal: LEAN_RESCUE_LONE for ink of one mark (as a
    letter is), else LEAN_RESCUE."""
    return LEAN_RESCUE if count_marks(ink) > 1 else LEAN_RESCUE_LONE


def reread(model: Model, ink: np.ndarray, signs: Signs, frame: Frame, confidence: Scorer, answer: Prediction,
           warp: Callable[[np.ndarray], tuple[np.ndarray, Warp] | None],
           rescue: Callable[[], float | None]) -> Prediction:
    """`answer`, or the reading of the ink as `warp` maps it (`levelling`, `upright`; None: no second reading)
    when the card answers it and it is likelier right as a whole; a refused `answer` only by a reading at least
    `rescue()` likely (None: never; asked only then, as it may cost a look at the ink)."""
    try:
        warped = warp(ink)
        if warped is None:
            return answer
        again = read_ink(model, warped[0], signs, replace(frame, warp=warped[1]), confidence)
    except ImageError:  # its marks counted, or warped, the ink is no number (too many marks): the answer stands
        return answer
    if again.label is None:
        return answer
    if answer.label is None:
        bar = rescue()
        return again if bar is not None and likely(again.digits) >= bar else answer
    return again if likely(again.digits) > likely(answer.digits) else answer


def too_long_or_text(model: Model, found: list[np.ndarray]) -> str:
    """Why more digits than are read were found: a number too long when the card refuses at most
    TEXT_REFUSED_SHARE of them, else a line of text ("not a digit"). Cut into pieces, a line of words had a
    fifth to a half of them refused by the default model (a briefly trained one: 7-9%)."""
    from tinyvision.calibration import refused_mask

    refused = refused_mask(model.logits(to_uint8(found)), model.card.reject or {})
    return NOT_A_DIGIT if float(refused.float().mean()) > TEXT_REFUSED_SHARE else TOO_MANY_DIGITS


def number_confidence(product: float) -> float | None:
    """The probability that a number of two or more digits is read exactly, from its digits' product
    (NUMBER_CONFIDENCE); None where there are no knots (the product stands)."""
    if NUMBER_CONFIDENCE is None:
        return None
    xs, ys = zip(*NUMBER_CONFIDENCE)
    return round(float(np.interp(product, xs, ys)), 6)


def written(digits: tuple[dict, ...], signs: Signs, scale: float) -> str:
    """The number an answered reading's digits write, left to right, with its minus and point
    (`image.signs`), placed by the digits' centres in the ink map's columns."""
    centres = [(d["box"][0] + d["box"][2] / 2) * scale for d in digits]
    return signs.write([d["class"] for d in digits], centres)


class Scorer:
    """How sure the model is of each candidate digit (its top calibrated probability), for `segment`. Each
    distinct model input is scored once per image: the second opinion cuts the image again, and most of its
    candidate digits are the first reading's, pixel for pixel."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.known: dict[bytes, tuple[float, bool]] = {}  # (top probability, refused by the card) per input

    def _read(self, images: list[np.ndarray]) -> list[tuple[float, bool]]:
        from tinyvision.calibration import refused_mask
        from tinyvision.inference import as_log_probs

        inputs = to_uint8(images)
        keys = [bytes(x.numpy().tobytes()) for x in inputs]
        new = {k: i for i, k in enumerate(keys) if k not in self.known}
        if new:
            logits = self.model.logits(inputs[list(new.values())])
            sure = as_log_probs(logits).exp().max(1).values.tolist()  # as Model.log_probs gives them
            refused = refused_mask(logits, self.model.card.reject or {}).tolist()
            self.known.update(zip(new, zip(sure, refused)))
        return [self.known[k] for k in keys]

    def __call__(self, images: list[np.ndarray]) -> list[float]:
        return [sure for sure, _ in self._read(images)]

    def refused(self, images: list[np.ndarray]) -> list[bool]:
        """Which candidate digits the card refuses as digits, each alone (segment's `refused`)."""
        return [refused for _, refused in self._read(images)]


@dataclass(frozen=True)
class Reading:
    """The model's reading of one segmentation: each digit, left to right, and the card's reason to
    abstain (None: answered)."""

    digits: tuple[dict, ...]  # {"class", "probability", "box"} of each digit
    probs: torch.Tensor  # (digits, classes), calibrated
    strip: torch.Tensor  # uint8 (1, 28, 28 x digits): what the model saw, left to right
    reason: str | None
    segments: tuple = ()  # the found digits (`image.segment.Segment`) the digits were read from
    logits: torch.Tensor | None = None  # (digits, classes), calibrated: what the card's rules judge

    @property
    def sure(self) -> list[float]:
        """Each digit's probability."""
        return [d["probability"] for d in self.digits]

    @property
    def likely(self) -> float:
        """The chance that the whole reading is right (`likely`)."""
        return likely(self.digits)


def read_segments(model: Model, ink: np.ndarray, segments: list, frame: Frame) -> Reading:
    """The model's reading of found digits, judged by the card's rules (`rejection`)."""
    # One digit: prepared from all of the image's ink near a stroke, exactly as `Model.prepare` (and MNIST) does;
    # the segmenter's own-ink crop drops faint strokes a lone digit may need.
    images = [prepare_whole(ink)] if len(segments) == 1 else [s.image for s in segments]
    inputs = to_uint8(images)
    logits = model.logits(inputs)
    probs = logits.softmax(1)
    digits = []
    for s, p in zip(segments, probs):
        k = int(p.argmax())
        digits.append({"class": model.classes[k], "probability": round(float(p[k]), 6),
                       "box": frame.user_box(s.box)})
    marks = len({s.group for s in segments})
    reason = rejection(model, logits, marks > 1, cut=marks < len(segments))
    return Reading(tuple(digits), probs, torch.cat(list(inputs), dim=2), reason, tuple(segments), logits)


def read_pairs(model: Model, reading: Reading, frame: Frame) -> Reading:
    """`reading` with each mark that the pair reader reads as two digits at least PAIR_BAR surely (a refused
    reading: PAIR_RESCUE; PAIR_ASPECT, at most two digits found in it), and likelier than the digit model's
    reading of it (PAIR_LIKELIER), read as those two. The card's rules then judge the digits of the other
    marks, as `read_segments` judges them; a mark read as a pair has passed the pair reader's bar."""
    from tinyvision import pair_reader

    # A refusal is read again only at PAIR_RESCUE: at PAIR_BAR 0.9, refusals rescued too read more touching
    # numbers but answered letters as pairs ("h" -> "17"), 7 points fewer validation letters refused
    # (benchmarks/segment_costs.py, an earlier call with that rule).
    bar = PAIR_BAR if reading.reason is None else PAIR_RESCUE
    if (bar is None or list(model.classes) != list("0123456789") or not reading.segments
            or reading.logits is None):
        return reading
    groups: dict[int, list[int]] = {}
    for i, s in enumerate(reading.segments):
        groups.setdefault(s.group, []).append(i)
    marks = {g: pair_reader.mark_ink([reading.segments[i] for i in members]) for g, members in groups.items()
             if len(members) <= 2}
    marks = {g: (ink, box) for g, (ink, box) in marks.items() if ink.shape[1] >= PAIR_ASPECT * ink.shape[0]}
    if not marks:
        return reading
    probs = pair_reader.bundled().probabilities([ink for ink, _ in marks.values()])
    sure, best = probs.max(1)
    # A pair replaces the mark's reading only when likelier than it (its digits' product): a single digit the
    # digit model is sure of stays one, however sure the pair reader of a pair.
    # A refusal is rescued only by a pair without a digit of STROKE_DIGITS: read uncut, a letter's or a shape's
    # strokes pass for "11", "17" or "10" as surely as they pass for them cut (at PAIR_RESCUE 0.99, each of the
    # 18 validation letters, non-digits and words answered had a 1 or a 7 in its pair).
    paired = {g: p for g, p, k, c in zip(marks, probs, best, sure)
              if int(k) != pair_reader.NO_PAIR and float(c) >= bar
              and (reading.reason is None or not set(f"{int(k):02d}") & set(STROKE_DIGITS))
              and (not PAIR_LIKELIER or float(c) > float(np.prod([reading.sure[i] for i in groups[g]])))}
    if not paired:
        return reading
    digits, digit_probs, strip, kept = [], [], [], []
    for g, members in groups.items():
        if g not in paired:
            kept += members
            for i in members:
                digits.append(reading.digits[i])
                digit_probs.append(reading.probs[i])
                strip.append(reading.strip[:, :, 28 * i : 28 * (i + 1)])
            continue
        ink, box = marks[g]
        each = pair_reader.digit_probabilities(paired[g])
        pair = [int(p.argmax()) for p in each]
        if [reading.digits[i]["class"] for i in members] == [model.classes[k] for k in pair]:
            # Cut apart already, into these two digits: where they are, and as the model saw them.
            boxes, images = [reading.segments[i].box for i in members], [reading.segments[i].image for i in members]
        else:
            boxes, images = pair_sides(model, ink, box, pair)
        for p, k, digit_box in zip(each, pair, boxes):
            digits.append({"class": model.classes[k], "probability": round(float(p[k]), 6),
                           "box": frame.user_box(digit_box)})
            digit_probs.append(p)
        strip += list(to_uint8(images))
    if reading.reason is None and [d["class"] for d in digits] == [d["class"] for d in reading.digits]:
        return reading  # the pair reader agrees with an answer: the digit model's own probabilities stand
    rest = {reading.segments[i].group for i in kept}
    reason = rejection(model, reading.logits[kept], len(groups) > 1, cut=len(rest) < len(kept)) if kept else None
    order = sorted(range(len(digits)), key=lambda i: digits[i]["box"][0])
    # No segments or logits: they were the digit model's reading, and no longer line up with these digits.
    return Reading(tuple(digits[i] for i in order), torch.stack([digit_probs[i] for i in order]),
                   torch.cat([strip[i] for i in order], dim=2), reason)


def pair_sides(model: Model, ink: np.ndarray, box: tuple[int, int, int, int], pair: list[int]) -> tuple[list, list]:
    """Where a mark read as the pair `pair` (two class indices) divides into its two digits: of the candidate
    columns (`pair_reader.split_columns`), the one whose two sides the digit model reads likeliest as those
    two digits; each side's box and 28x28 image (`pair_reader.sides`). The middle of a "71" runs through the
    7: its box was the 7's bar and the image shown for it a dash."""
    from tinyvision import pair_reader

    candidates = [pair_reader.sides(ink, box, c) for c in pair_reader.split_columns(ink)]
    if not candidates:
        return pair_reader.sides(ink, box, max(1, ink.shape[1] // 2))
    log_probs = model.logits(to_uint8([image for _, images in candidates for image in images])).log_softmax(1)
    score = log_probs[0::2, pair[0]] + log_probs[1::2, pair[1]]
    return candidates[int(score.argmax())]


def second_opinion(model: Model, ink: np.ndarray, frame: Frame, confidence: Scorer, reading: Reading) -> Reading:
    """`reading`, or the reading of the image cut again with seams along slants too
    (SLANT_MAX), when the card answers that one and it is more likely right as a whole; a refused
    `reading` is replaced only by one at least SLANT_RESCUE likely (None: never)."""
    try:
        found = segment(ink, confidence, slants=slant_shears(SLANT_MAX), refused=confidence.refused)
    except ImageError:
        return reading
    again = read_segments(model, ink, found, frame)
    if again.reason is not None:
        return reading
    if reading.reason is None:
        return again if again.likely > reading.likely else reading
    return again if SLANT_RESCUE is not None and again.likely >= SLANT_RESCUE else reading


def read_whole(model: Model, ink: np.ndarray, frame: Frame, at_least: float | None) -> Prediction | None:
    """The image's ink read as one digit, when it is shaped like one (WHOLE_ASPECT), the card answers it
    and it is `at_least` sure (None: any); else None."""
    from tinyvision.classifier import Prediction

    if WHOLE_ASPECT is None:
        return None
    top, left, bottom, right = ink_extent(ink > INK_LEVEL)
    if right - left > WHOLE_ASPECT * (bottom - top):
        return None
    inputs = to_uint8([prepare_whole(ink)])
    logits = model.logits(inputs)
    probs = logits.softmax(1)
    k = int(probs[0].argmax())
    if rejection(model, logits) is not None or (at_least is not None and float(probs[0, k]) < at_least):
        return None
    box = frame.user_box((top, left, bottom, right))
    digit = {"class": model.classes[k], "probability": round(float(probs[0, k]), 6), "box": box}
    return Prediction(model.classes[k], single_probabilities(model, probs), inputs[0], digits=(digit,))


@dataclass(frozen=True)
class Frame:
    """Where the ink map being read lies in the user's image: `scale` = ink map size / image size, and the
    warp that turned it level or stood it upright (None: as found)."""

    scale: float
    warp: Warp | None = None

    def user_box(self, box: tuple[int, int, int, int]) -> list[int]:
        """An analysed (top, left, bottom, right) box as the answer gives it: [x, y, width, height] in the
        user's image's pixels (a warped map's box: the box around it in the image as it was)."""
        if self.warp is not None:
            box = self.warp.box_back(box)
        top, left, bottom, right = original_box(box, self.scale)
        return [left, top, right - left, bottom - top]


def single_probabilities(model: Model, probs: torch.Tensor) -> dict[str, float]:
    """Per-class probabilities when one digit was read; a number's are per digit, in `digits`."""
    if len(probs) != 1:
        return {}
    return {c: float(v) for c, v in zip(model.classes, probs[0])}


def rejection(model: Model, logits: torch.Tensor, separate: bool = False, cut: bool = False) -> str | None:
    """The card's reason to abstain when any input (calibrated logits, (N, classes)) is refused by its
    rule: the calibration rule (`calibration.reject_reason`) applied to the weakest input. A number
    written as `separate` marks is judged by the bar for its digit count (see NUMBER_RULE), and when a
    mark was `cut` into digits, as a whole by SEVERAL_CUT_BAR too; one piece of ink cut into digits, as
    likely a letter as a number, by the single-digit bar and LONE_CUT_BAR. A cut reading without a digit
    of STROKE_DIGITS is held to the lower of each cut bar and its _PLAIN bar."""
    from tinyvision.calibration import refusal_scores, reject_reason, score_of

    if len(logits) == 0:
        return None
    reject = model.card.reject or {}
    as_number = NUMBER_RULE == "always" or (NUMBER_RULE == "separate" and separate)
    weakest = logits[int(refusal_scores(logits, score_of(reject)).argmin())]
    reason = reject_reason(weakest, reject, len(logits) if as_number else 1)
    # The cut bars are on the top probabilities, whatever the card's score: how sure each digit is. One mark
    # cut alone needs its least sure digit at LONE_CUT_BAR; a cut among several marks needs their product
    # (calibrated: the chance that every digit is right) at SEVERAL_CUT_BAR; each lower for a reading
    # without a digit a letter's stroke passes for (STROKE_DIGITS).
    doubted = False
    if reason is None and reject and len(logits) > 1 and (cut or not separate):  # a cut reading
        sure, read = logits.softmax(1).max(1)
        plain = not any(model.classes[int(k)] in STROKE_DIGITS for k in read)
        if separate:
            bar = cut_bar(SEVERAL_CUT_BAR, SEVERAL_CUT_BAR_PLAIN, plain)
            doubted = bar is not None and float(sure.prod()) < bar
        else:
            bar = cut_bar(LONE_CUT_BAR, LONE_CUT_BAR_PLAIN, plain)
            doubted = bar is not None and float(sure.min()) < bar
    if doubted:
        reason = str(reject.get("reason", "unsure"))
    return reason


def cut_bar(bar: float | None, plain_bar: float | None, plain: bool) -> float | None:
    """The bar a cut reading is held to: `bar` (None: none), or `plain_bar` when lower and the reading is
    `plain` (no digit of STROKE_DIGITS)."""
    if bar is None or not plain or plain_bar is None:
        return bar
    return min(bar, plain_bar)

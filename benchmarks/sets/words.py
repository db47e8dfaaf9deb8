"""Words, not digits: a whole word photographed, as a user sends a note, a label or a name.

A number reader cuts a word's letters into pieces, and an l, an o or the half of an m passes for a
digit: "hello" read as "1763110". Single letters (lettering.py) do not show this; a word does. Each
word is drawn whole by an outline font, so its letters keep their x-height, ascenders and spacing,
then presented like a user's photo (paper.present).

words   common English words and names, lower case, capitalised or upper case, in the fonts of one
        group: EVAL for the evaluation set, TRAIN for the validation stand-in (benchmarks/digit_val.py).
        `lookalike` is the number a word passes for when every letter can pass for a digit
        (lettering.LOOKALIKES: "so" -> "50", "IS" -> "15"), null otherwise.
"""

from __future__ import annotations

import numpy as np

from . import fonts, paper
from .lettering import LOOKALIKES, font_sources_table
from .store import SetSpec, SetWriter

# Everyday words and names, short and long; a word set should not be a spelling test, just writing.
WORDS = tuple("""
the of and to in is you that it he was for on are as with his they at be this have from or one had by
word but not what all were we when your can said there use an each which she do how their if will up
other about out many then them these so some her would make like him into time has look more write go
see way could people my than first water been call who oil its now find long down day did get come made
may part hello world name date total page note house cat dog tree paper phone email street city open
close yes no stop exit sale price shop milk bread coffee tea green black white blue red love home school
class test answer question book read left right north south east west monday friday march june august
anna john maria peter paris london berlin tokyo river garden kitchen window office doctor thanks please
""".split())
CASES = ("lower", "capital", "upper")
RENDER_SIZE = 120  # px of the font: the same scale fonts.py draws single glyphs at
ATTEMPTS = 20  # fonts tried for a word before it is skipped (a design may lack a letter)


def cased(word: str, case: str) -> str:
    return word.upper() if case == "upper" else word.capitalize() if case == "capital" else word


def passes_for(word: str) -> str | None:
    """The number a word passes for when every letter can pass for a digit ("so" -> "50"): a reader may
    fairly answer it so. None for the rest."""
    if all(ch in LOOKALIKES for ch in word):
        return "".join(str(LOOKALIKES[ch]) for ch in word)
    return None


def word_coverage(path: str, word: str, rng: np.random.Generator, hand: bool) -> np.ndarray | None:
    """A whole word drawn by an outline font as a coverage map, varied as fonts.vary varies one glyph, less
    for a line of writing than for a glyph (rotated up to 5 degrees by hand, 2 in print, squashed
    0.85-1.15, warped by 0.4-1.2% of the word's length); None when the font lacks a letter."""
    base = fonts.draw_text(path, word, RENDER_SIZE)
    if base is None or base.sum() < 50:
        return None
    # A word's strokes are drawn at the glyphs' size, so hairlines are left as the font has them.
    return fonts.vary(base, rng, hand, turn=5 if hand else 2, aspect=(0.85, 1.15), warp=(0.004, 0.012),
                      keep_hairlines=False)


def outline_designs(group: str) -> list[tuple[str, str, list[str]]]:
    """(design, style, files) of every installed outline-font design of a group (Hershey fonts draw one
    glyph at a time, without the spacing of a word, so they are left out)."""
    return [(f.name, f.style, f.files()) for f in fonts.families(group)]


def render_words(rng: np.random.Generator, group: str, count: int):
    """Yield `count` (bytes, extension, item facts) of words in the group's fonts, a design uniformly."""
    designs = outline_designs(group)
    made = 0
    while made < count:
        word = cased(WORDS[int(rng.integers(len(WORDS)))], CASES[int(rng.integers(len(CASES)))])
        for _ in range(ATTEMPTS):
            design, style, files = designs[int(rng.integers(len(designs)))]
            font_file = files[int(rng.integers(len(files)))]
            coverage = word_coverage(font_file, word, rng, style == "handwriting")
            if coverage is not None:
                break
        else:
            continue
        data, ext, look = paper.present(coverage, rng)
        made += 1
        yield data, ext, {"word": word, "lookalike": passes_for(word), "font": design, "font_file": font_file,
                          "font_style": style, "style": look}


WORD_COUNT = 1500


def build_words(writer: SetWriter, rng: np.random.Generator) -> None:
    for data, ext, facts in render_words(rng, fonts.EVAL, WORD_COUNT):
        writer.add(data, ext, variant=f"{facts['font_style']}-font", label=None, source=facts["font"],
                   font_group=fonts.EVAL, **facts)


def _requires() -> str | None:
    if fonts.families(fonts.EVAL):
        return None
    return "apt-get install the font packages listed in benchmarks/sets/SOURCES.md"


SETS = [
    SetSpec("words", "non-digits",
            "Whole words (common English words and names, lower case, capitalised or upper case) in EVAL "
            "handwriting and printed outline fonts: not numbers (`lookalike` is the number a word passes for "
            "when every letter can pass for a digit, null otherwise)",
            "Each word drawn whole at 120 px by one font file, so its letters keep their heights and spacing; "
            "weight changed by a max or min filter, slanted, rotated (+-5 deg for handwriting, +-2 printed), "
            "squashed 0.85-1.15, for handwriting fonts mildly warped. Only EVAL-group fonts. Then "
            + paper.PRESENTATION,
            {"handwriting-font": "words in EVAL handwriting fonts", "printed-font": "words in EVAL printed fonts"},
            font_sources_table(None, fonts.EVAL), build_words, _requires),
]

"""Digits and letters in fonts of the EVAL group (fonts.py), presented like a user's photo of a note.

font-digits     each EVAL handwriting design (outline fonts and the Hershey
                cursive stroke font) x 10 digits x RENDERINGS renderings
printed-digits  each EVAL printed design x 10 digits x RENDERINGS
letters         A-Z and a-z in every EVAL design, handwriting and printed;
                a letter that can pass for a digit in someone's hand is
                flagged (`lookalike`: the digit it resembles), so a benchmark
                can report rejection with and without them.
"""

from __future__ import annotations

import string

import numpy as np

from . import fonts, paper
from .store import SetSpec, SetWriter

RENDERINGS = 18  # per design and digit: ~19 handwriting designs -> ~3,400 images
PRINTED_RENDERINGS = 20
LETTER_RENDERINGS = 2  # per design and letter: ~26 designs x 52 letters x 2 -> ~2,700 images
LETTERS = string.ascii_uppercase + string.ascii_lowercase
# Letters a digit reader may fairly confuse with a digit, and the digit.
LOOKALIKES = {"O": 0, "o": 0, "D": 0, "Q": 0, "I": 1, "l": 1, "i": 1, "J": 1, "T": 7,
              "Z": 2, "z": 2, "S": 5, "s": 5, "B": 8, "b": 6, "G": 6, "g": 9, "q": 9}


def _font_sources(style: str, group: str) -> list[tuple[str, str, list[str]]]:
    """(design name, licence key, sources) for every installed design of a style and group."""
    out = [(f.name, f.name, f.files()) for f in fonts.families(group, style)]
    if style == "handwriting":
        out += [(f"hershey-{n}", "hershey", [f"hershey:{n}"]) for n in fonts.hershey_fonts(group)]
    return out


def font_sources_table(style: str | None, group: str) -> dict:
    """Manifest `sources` for the designs used: package, licence, author, files."""
    table = {}
    for f in fonts.families(group, style):
        table[f.name] = {"what": f"{f.style} font '{f.name}' ({f.group} group)", "package": f.package,
                         "files": f.files(), "licence": f.licence, "attribution": f.author}
    if style in (None, "handwriting") and fonts.hershey_fonts(group):
        table["hershey"] = {"what": f"Hershey stroke fonts {', '.join(fonts.hershey_fonts(group))} ({group} group)",
                            "package": "hershey-fonts-data", "licence": fonts.HERSHEY_LICENCE,
                            "attribution": "Dr. A. V. Hershey, U.S. National Bureau of Standards; James Hurt"}
    return table


def _render(source: str, ch: str, rng: np.random.Generator, hand: bool):
    """One rendering of `ch` from a font file (a random one of the design's files) as (bytes, ext, style)."""
    coverage = fonts.glyph(source, ch, rng, hand)
    if coverage is None:
        return None
    return paper.present(coverage, rng)


def build_digits(writer: SetWriter, rng: np.random.Generator, style: str, renderings: int) -> None:
    hand = style == "handwriting"
    for design, source_key, files in _font_sources(style, fonts.EVAL):
        for digit in range(10):
            usable = [f for f in files if f.startswith("hershey:") or fonts.has_glyph(f, str(digit))]
            for _ in range(renderings if usable else 0):
                font_file = usable[int(rng.integers(len(usable)))]
                rendered = _render(font_file, str(digit), rng, hand)
                if rendered is None:
                    continue
                data, ext, look = rendered
                writer.add(data, ext, variant="user", label=digit, source=source_key, font=design,
                           font_file=font_file, font_group=fonts.EVAL, style=look)


def build_letters(writer: SetWriter, rng: np.random.Generator) -> None:
    for style in ("handwriting", "printed"):
        for design, source_key, files in _font_sources(style, fonts.EVAL):
            for ch in LETTERS:
                usable = [f for f in files if f.startswith("hershey:") or fonts.has_glyph(f, ch)]
                for _ in range(LETTER_RENDERINGS if usable else 0):
                    font_file = usable[int(rng.integers(len(usable)))]
                    rendered = _render(font_file, ch, rng, style == "handwriting")
                    if rendered is None:
                        continue
                    data, ext, look = rendered
                    writer.add(data, ext, variant=f"{style}-font", label=None, source=source_key, char=ch,
                               case="upper" if ch.isupper() else "lower", lookalike=LOOKALIKES.get(ch),
                               font=design, font_file=font_file, font_group=fonts.EVAL, style=look)


def _requires_fonts(style: str | None) -> str | None:
    if fonts.families(fonts.EVAL, style):
        return None
    return "apt-get install the font packages listed in benchmarks/sets/SOURCES.md"


FONT_RENDERING = ("Each glyph rendered at 120 px. Outline fonts: weight changed by a max or min filter, slanted, "
                  "rotated (+-8 deg for handwriting, +-3 printed), squashed 0.8-1.15, and for handwriting fonts "
                  "mildly warped. Hershey glyphs: their pen paths slanted, rotated, wobbled and drawn with a round "
                  "pen 4-13% of the height wide. Only EVAL-group fonts (fonts.py) are used. Then "
                  + paper.PRESENTATION)

SETS = [
    SetSpec("font-digits", "digits",
            "Digits 0-9 in handwriting fonts of the EVAL group (never used for training) and the Hershey cursive "
            "stroke font", FONT_RENDERING, {"user": "user-style photo of a handwriting-font digit"},
            font_sources_table("handwriting", fonts.EVAL),
            lambda w, r: build_digits(w, r, "handwriting", RENDERINGS), lambda: _requires_fonts("handwriting")),
    SetSpec("printed-digits", "digits", "Digits 0-9 in printed (non-handwriting) fonts of the EVAL group",
            FONT_RENDERING, {"user": "user-style photo of a printed digit"},
            font_sources_table("printed", fonts.EVAL),
            lambda w, r: build_digits(w, r, "printed", PRINTED_RENDERINGS), lambda: _requires_fonts("printed")),
    SetSpec("letters", "non-digits",
            "Letters A-Z, a-z in EVAL handwriting and printed fonts (not digits; `lookalike` names the digit a "
            "letter can pass for, null otherwise)", FONT_RENDERING,
            {"handwriting-font": "letters in EVAL handwriting fonts and Hershey cursive",
             "printed-font": "letters in EVAL printed fonts"},
            font_sources_table(None, fonts.EVAL), build_letters, lambda: _requires_fonts(None)),
]

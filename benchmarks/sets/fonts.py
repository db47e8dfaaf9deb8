"""The fonts, split once and for all into a TRAIN group and an EVAL group, and how a glyph is drawn.

Why a split: a model may learn from handwriting fonts (as augmentation, or
letters as "not a digit" examples), and we also want to measure it on
handwriting fonts. Measuring on a font it learnt from would flatter it, so
each *design* belongs to exactly one group. The unit is the design, not the
file: a font's bold and italic go together, and so do clones (Liberation Sans
and Nimbus Sans both copy Helvetica/Arial metrics and shapes). Hershey fonts
share glyphs across files (cursive.jhf's digits are rowmans.jhf's; its
letters are scripts.jhf's), so the files that share a glyph with an EVAL
font are left out of TRAIN entirely (see HERSHEY_EXCLUDED).

The split tries to give each group the same mix of print-like hands,
cursive scripts, markers and brushes. Fonts looked at and left out of both:
femkeklaver (hollow outline letters), joscelyn (a 17th-century secretary
hand: its digits are not modern ones), cabinsketch (hatched fill), setofont-ex
(no Latin), and the decorative or pixel fonts of fonts-dustin.
"""

from __future__ import annotations

import glob
import string
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from . import hershey, strokes

TRAIN, EVAL = "train", "eval"
TT = "/usr/share/fonts/truetype"
OT = "/usr/share/fonts/opentype"
OFL = "SIL Open Font License 1.1"


@dataclass(frozen=True)
class Family:
    """One font design: its files (glob patterns), the Debian package, its group and licence."""

    name: str
    style: str  # "handwriting" or "printed"
    group: str  # TRAIN or EVAL
    package: str
    patterns: tuple[str, ...]
    licence: str
    author: str

    def files(self) -> list[str]:
        return sorted(f for p in self.patterns for f in glob.glob(p))


def _f(name, style, group, package, patterns, licence, author):
    return Family(name, style, group, package, tuple(patterns), licence, author)


H, P = "handwriting", "printed"
FAMILIES: tuple[Family, ...] = (
    # ---- handwriting, EVAL: never used for training ----
    _f("dkg-handwriting", H, EVAL, "fonts-dkg-handwriting", [f"{TT}/fifthhorseman/dkg*.ttf"], OFL + " / GPL-3+",
       "Daniel Kahn Gillmor"),
    _f("breip", H, EVAL, "fonts-breip", [f"{TT}/breip/Breip.ttf"], "SIL OFL 1.0 / GPL-2+", "Adam Breipohl"),
    _f("bwht-connect", H, EVAL, "fonts-bwht", [f"{OT}/bwht/BecauseWeConnect-Regular.otf"], OFL,
       "Red Hat, Because We Had To project"),
    _f("bwht-learn", H, EVAL, "fonts-bwht", [f"{OT}/bwht/BecauseWeLearn-Regular.otf"], OFL,
       "Red Hat, Because We Had To project"),
    _f("bwht-organize", H, EVAL, "fonts-bwht", [f"{OT}/bwht/BecauseWeOrganize-Regular.otf"], OFL,
       "Red Hat, Because We Had To project"),
    _f("humor-sans", H, EVAL, "fonts-humor-sans", [f"{TT}/humor-sans/Humor-Sans.ttf"], OFL, "Michael Ciuffo"),
    _f("kristi", H, EVAL, "fonts-kristi", [f"{TT}/kristi/Kristi.ttf"], OFL, "Birgit Pulk"),
    _f("dancing-script", H, EVAL, "fonts-dancingscript", [f"{OT}/dancingscript/DancingScript-*.otf"], OFL,
       "Pablo Impallari"),
    _f("sj-stevehand", H, EVAL, "fonts-sjfonts", [f"{TT}/sjfonts/SteveHand.ttf"], "GPL-2 with font exception",
       "Steve Jordi (SJFonts)"),
    _f("purisa", H, EVAL, "fonts-tlwg-purisa-ttf", [f"{TT}/tlwg/Purisa*.ttf"], "GPL-2+ with font exception",
       "TLWG, Thai Linux Working Group"),
    _f("kiloji", H, EVAL, "fonts-kiloji", [f"{TT}/kiloji/kiloji*.ttf"], "BSD-3-Clause", "kilo"),
    _f("nanum-pen", H, EVAL, "fonts-nanum-extra", [f"{TT}/nanum/NanumPen.ttf"], OFL, "NAVER Corporation"),
    _f("domestic-manners", H, EVAL, "fonts-dustin", [f"{TT}/dustin/Domestic_Manners.ttf"], "GPL-2",
       "Dustin Norlander"),
    _f("lobster", H, EVAL, "fonts-lobster", [f"{OT}/lobster/lobster.otf"], OFL, "Pablo Impallari"),
    _f("chilanka", H, EVAL, "fonts-smc-chilanka", [f"{OT}/malayalam/Chilanka-Regular.otf"], OFL,
       "Santhosh Thottingal, SMC"),
    _f("z003-chancery", H, EVAL, "fonts-urw-base35", [f"{OT}/urw-base35/Z003-MediumItalic.otf"],
       "AGPL-3 with font exception", "URW (a Zapf Chancery clone)"),
    # ---- handwriting, TRAIN: the model side may learn from these ----
    _f("bwht-build", H, TRAIN, "fonts-bwht", [f"{OT}/bwht/BecauseWeBuild-Regular.otf"], OFL,
       "Red Hat, Because We Had To project"),
    _f("bwht-create", H, TRAIN, "fonts-bwht", [f"{OT}/bwht/BecauseWeCreate-Regular.otf"], OFL,
       "Red Hat, Because We Had To project"),
    _f("bwht-mentor", H, TRAIN, "fonts-bwht", [f"{OT}/bwht/BecauseWeMentor-Regular.otf"], OFL,
       "Red Hat, Because We Had To project"),
    _f("klee", H, TRAIN, "fonts-klee", [f"{TT}/klee/KleeOne-*.ttf"], OFL, "Fontworks"),
    _f("comic-neue", H, TRAIN, "fonts-comic-neue", [f"{OT}/comic-neue/ComicNeue-*.otf"], OFL, "Craig Rozynski"),
    _f("kaushan-script", H, TRAIN, "fonts-kaushanscript", [f"{OT}/kaushanscript/KaushanScript-Regular.otf"], OFL,
       "Pablo Impallari"),
    _f("rufscript", H, TRAIN, "fonts-rufscript", [f"{TT}/rufscript/Rufscript010.ttf"], "GPL-3 with font exception",
       "Hiran Venugopalan"),
    _f("tomson-talks", H, TRAIN, "fonts-tomsontalks", [f"{TT}/tomsontalks/TomsonTalks.ttf"], OFL, "Tomson"),
    _f("sj-delphine", H, TRAIN, "fonts-sjfonts", [f"{TT}/sjfonts/Delphine.ttf"], "GPL-2 with font exception",
       "Steve Jordi (SJFonts)"),
    _f("ecolier-court", H, TRAIN, "fonts-ecolier-court", [f"{TT}/ecolier-court/Ecolier-court.ttf"], OFL,
       "Jean-Marie Douteau"),
    _f("yusei-magic", H, TRAIN, "fonts-yusei-magic", [f"{TT}/yusei-magic/YuseiMagic-Regular.ttf"], OFL,
       "Tanukizamurai"),
    _f("nanum-brush", H, TRAIN, "fonts-nanum-extra", [f"{TT}/nanum/NanumBrush.ttf"], OFL, "NAVER Corporation"),
    _f("junkyard", H, TRAIN, "fonts-dustin", [f"{TT}/dustin/Junkyard.ttf"], "GPL-2", "Dustin Norlander"),
    _f("el-abogado-loco", H, TRAIN, "fonts-dustin", [f"{TT}/dustin/El_Abogado_Loco.ttf"], "GPL-2",
       "Dustin Norlander"),
    _f("leckerli-one", H, TRAIN, "fonts-leckerli-one", [f"{TT}/leckerli-one/LeckerliOne-Regular.ttf"], OFL,
       "Gesine Todt"),
    _f("havana", H, TRAIN, "fonts-havana", [f"{OT}/havana/Havana-Regular.otf"], OFL, "Joanna Angulska"),
    _f("setofont", H, TRAIN, "fonts-seto", [f"{TT}/seto/setofont.ttf"], OFL, "Nozomi Seto"),
    # ---- printed, EVAL ----
    _f("dejavu-sans", P, EVAL, "fonts-dejavu-core", [f"{TT}/dejavu/DejaVuSans.ttf", f"{TT}/dejavu/DejaVuSans-Bold.ttf",
       f"{TT}/dejavu/DejaVuSans-Oblique.ttf", f"{TT}/dejavu/DejaVuSansCondensed.ttf"], "Bitstream Vera licence",
       "DejaVu authors, Bitstream"),
    _f("dejavu-serif", P, EVAL, "fonts-dejavu-core", [f"{TT}/dejavu/DejaVuSerif.ttf",
       f"{TT}/dejavu/DejaVuSerif-Bold.ttf"], "Bitstream Vera licence", "DejaVu authors, Bitstream"),
    _f("dejavu-mono", P, EVAL, "fonts-dejavu-core", [f"{TT}/dejavu/DejaVuSansMono.ttf"], "Bitstream Vera licence",
       "DejaVu authors, Bitstream"),
    _f("andika", P, EVAL, "fonts-sil-andika", [f"{TT}/andika/Andika-*.ttf"], "SIL OFL 1.1 (RFN)", "SIL International"),
    _f("c059-schoolbook", P, EVAL, "fonts-urw-base35", [f"{OT}/urw-base35/C059-*.otf"], "AGPL-3 with font exception",
       "URW (a Century Schoolbook clone)"),
    _f("p052-palatino", P, EVAL, "fonts-urw-base35", [f"{OT}/urw-base35/P052-*.otf"], "AGPL-3 with font exception",
       "URW (a Palatino clone)"),
    _f("urw-gothic", P, EVAL, "fonts-urw-base35", [f"{OT}/urw-base35/URWGothic-*.otf"], "AGPL-3 with font exception",
       "URW (an Avant Garde clone)"),
    # ---- printed, TRAIN ----
    _f("arial-helvetica", P, TRAIN, "fonts-liberation, fonts-urw-base35", [f"{TT}/liberation/LiberationSans-*.ttf",
       f"{OT}/urw-base35/NimbusSans-*.otf"], "SIL OFL 1.1 (Liberation) / AGPL-3 with font exception (URW)",
       "Red Hat (Liberation Sans), URW (Nimbus Sans)"),
    _f("times", P, TRAIN, "fonts-liberation, fonts-urw-base35", [f"{TT}/liberation/LiberationSerif-*.ttf",
       f"{OT}/urw-base35/NimbusRoman-*.otf"], "SIL OFL 1.1 (Liberation) / AGPL-3 with font exception (URW)",
       "Red Hat (Liberation Serif), URW (Nimbus Roman)"),
    _f("courier", P, TRAIN, "fonts-liberation, fonts-urw-base35", [f"{TT}/liberation/LiberationMono-*.ttf",
       f"{OT}/urw-base35/NimbusMonoPS-*.otf"], "SIL OFL 1.1 (Liberation) / AGPL-3 with font exception (URW)",
       "Red Hat (Liberation Mono), URW (Nimbus Mono PS)"),
    _f("urw-bookman", P, TRAIN, "fonts-urw-base35", [f"{OT}/urw-base35/URWBookman-*.otf"],
       "AGPL-3 with font exception", "URW (a Bookman clone)"),
    _f("dustismo", P, TRAIN, "fonts-dustin", [f"{TT}/dustin/Dustismo*.ttf", f"{TT}/dustin/dustismo_*.ttf"], "GPL-2",
       "Dustin Norlander"),
    _f("gw-caslon", P, TRAIN, "fonts-georgewilliams", [f"{TT}/fonts-georgewilliams/Caslon*.ttf"],
       "OFL 1.1 or BSD-3-Clause", "George Williams"),
)

HERSHEY_LICENCE = ("Hershey fonts licence (free for any use, with the acknowledgement: created by Dr. A. V. Hershey "
                   "at the U.S. National Bureau of Standards; data format by James Hurt, Cognition, Inc.)")
# Hershey files by group. cursive.jhf = rowmans digits + scripts letters, so rowmans, futural, greek (same
# digits) and scripts (same letters) are in neither group; scriptc and timesi share digits, both TRAIN.
HERSHEY_FONTS = {"cursive": EVAL, "scriptc": TRAIN, "rowmand": TRAIN, "timesi": TRAIN}
HERSHEY_EXCLUDED = ("scripts", "rowmans", "futural", "greek")  # used nowhere: they share glyphs with cursive
# Symbol glyphs drawn in the `other` set (EVAL only, never for training), by font and character. These
# files also hold letters, digits, punctuation and plain lines; only the symbols are listed, and of those
# none that reads as a digit (circles, ovals, crosses, single strokes and arcs, the 4-like Jupiter sign,
# the 69-like Cancer sign, the 9-bearing Capricorn sign, the 9:-like bass clef, the b-like flat, the 7-like
# rest, the 8-like and @-like clefs, the 5-like section sign, the balloon, and the filled dot and square,
# which the pen draws as hatched ovals).
HERSHEY_SYMBOLS = {
    "astrology": "!$'-/;<=>?[_`{|~",  # planets, comet, zodiac signs, aquarius waves
    "music": "';>",  # sharp, treble clef, a repeat sign
    "symbolic": "FGJLORSTUWZ[]`abcdfhlmnpu~",  # triangles, stars, suits, pictographs, a tick
}


def families(group: str | None = None, style: str | None = None, installed: bool = True) -> list[Family]:
    """Families of a group and style; only those with at least one file on this machine unless told."""
    return [f for f in FAMILIES if (group is None or f.group == group) and (style is None or f.style == style)
            and (not installed or f.files())]


def missing_families() -> list[str]:
    return [f"{f.name} ({f.package})" for f in FAMILIES if not f.files()]


def check_split() -> dict:
    """The split as data, after checking it holds: no font file and no Hershey glyph on both sides."""
    files = {g: {p for f in families(g, installed=False) for p in f.files()} for g in (TRAIN, EVAL)}
    both = files[TRAIN] & files[EVAL]
    if both:
        raise AssertionError(f"font files in both groups: {sorted(both)}")
    if hershey.available():
        chars = string.ascii_letters + string.digits
        train = [n for n, g in HERSHEY_FONTS.items() if g == TRAIN]
        evaluated = [n for n, g in HERSHEY_FONTS.items() if g == EVAL]
        for t in train:
            for e in evaluated:
                shared = [c for c in chars if _same_glyph(hershey.load_font(t)[c], hershey.load_font(e)[c])]
                if shared:
                    raise AssertionError(f"Hershey {t} (train) shares glyphs {''.join(shared)} with {e}")
    out: dict = {}
    for g in (TRAIN, EVAL):
        out[g] = {s: [f.name for f in families(g, s)] for s in ("handwriting", "printed")}
        out[g]["hershey"] = [n for n, grp in HERSHEY_FONTS.items() if grp == g]
    out["hershey_excluded"] = list(HERSHEY_EXCLUDED)
    out["not_installed"] = missing_families()
    return out


def _same_glyph(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and bool((x == y).all()) for x, y in zip(a, b))


def hershey_fonts(group: str) -> list[str]:
    if not hershey.available():
        return []
    return [n for n, g in HERSHEY_FONTS.items() if g == group and (hershey.HERSHEY_DIR / f"{n}.jhf").exists()]


# ---------------------------------------------------------------- glyphs

@cache
def codepoints(path: str) -> frozenset[int]:
    """The code points a font maps. Pillow draws a box for a missing glyph; the cmap tells us first."""
    import logging

    from fontTools.ttLib import TTFont

    logging.getLogger("fontTools").setLevel(logging.ERROR)  # some fonts' tables make it chatter harmlessly
    return frozenset(TTFont(path, fontNumber=0, lazy=True).getBestCmap())


@cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def draw_text(path: str, text: str, size: int = 120) -> np.ndarray | None:
    """`text` drawn by an outline font at `size` px as a coverage map in [0, 1], cropped to its box with a
    4 px margin; None when the font lacks one of its characters or draws nothing."""
    points = codepoints(path)
    if any(ord(ch) not in points for ch in text):
        return None
    font = _font(path, size)
    left, top, right, bottom = font.getbbox(text)
    if right <= left or bottom <= top:
        return None
    image = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(image).text((4 - left, 4 - top), text, font=font, fill=255)
    return np.asarray(image, np.float32) / 255


@cache
def _outline_glyph(path: str, ch: str, size: int = 120) -> np.ndarray | None:
    coverage = draw_text(path, ch, size)
    return coverage if coverage is not None and coverage.sum() > 20 else None


def has_glyph(path: str, ch: str) -> bool:
    return _outline_glyph(path, ch) is not None


def outline_coverage(path: str, ch: str, rng: np.random.Generator, hand: bool) -> np.ndarray | None:
    """A font's glyph as a coverage map, with the variation a hand (or a printer and a camera) adds
    (`vary`: rotated up to 8 degrees by hand, 3 in print, squashed 0.8-1.15, warped by 1-3%)."""
    base = _outline_glyph(path, ch)
    if base is None:
        return None
    return vary(base, rng, hand, turn=8 if hand else 3, aspect=(0.8, 1.15), warp=(0.01, 0.03))


def vary(base: np.ndarray, rng: np.random.Generator, hand: bool, turn: float, aspect: tuple[float, float],
         warp: tuple[float, float], keep_hairlines: bool = True) -> np.ndarray:
    """A coverage map drawn by a font, varied as a hand (or a printer and a camera) would draw it.

    Weight: thickened (max filter) or thinned (min filter, only when the
    strokes survive it; `keep_hairlines`: strokes a min filter would mostly
    erase are thickened instead, so they survive being drawn small); then
    slant, rotation up to `turn` degrees and an `aspect` squash; for
    handwriting fonts a mild elastic warp of `warp` x the size as well, so no
    two renderings are the same.
    """
    image = Image.fromarray(base, "F")
    thin = image.filter(ImageFilter.MinFilter(3))
    hairline = keep_hairlines and np.asarray(thin).sum() < 0.3 * base.sum()  # strokes under ~3 px at 120 px
    weight = int(rng.choice([-1, 0, 0, 1, 2])) if hand else int(rng.choice([-1, 0, 0, 1]))
    if hairline:
        weight = max(weight, 1)
    if weight > 0:
        image = image.filter(ImageFilter.MaxFilter(2 * weight + 1))
    elif weight < 0 and np.asarray(thin).sum() > 0.55 * base.sum():
        image = thin
    slant = rng.uniform(-0.2, 0.3) if hand else rng.uniform(-0.05, 0.15)
    coverage = _affine_image(np.asarray(image), slant, rng.uniform(-turn, turn), rng.uniform(*aspect))
    if hand and rng.random() < 0.6:
        coverage = elastic(coverage, rng, amount=rng.uniform(*warp))
    return coverage


def _affine_image(coverage: np.ndarray, slant: float, rotate: float, aspect: float) -> np.ndarray:
    h, w = coverage.shape
    c, s = np.cos(np.radians(rotate)), np.sin(np.radians(rotate))
    m = np.array([[c, -s], [s, c]]) @ np.array([[aspect, -slant], [0, 1]])
    inv = np.linalg.inv(m)
    pad = int(0.5 * max(h, w))
    big = np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    big[pad : pad + h, pad : pad + w] = coverage
    cy, cx = big.shape[0] / 2, big.shape[1] / 2
    # PIL's affine maps each output pixel (x, y) to the input pixel (a x + b y + c, d x + e y + f).
    a, b, d, e = inv[0, 0], inv[0, 1], inv[1, 0], inv[1, 1]
    data = (a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy)
    out = Image.fromarray(big, "F").transform(big.shape[::-1], Image.Transform.AFFINE, data,
                                              Image.Resampling.BICUBIC)
    return np.clip(np.asarray(out), 0, 1)


def elastic(coverage: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """A smooth random warp of up to `amount` x the glyph's size: a hand's small irregularities."""
    from scipy.ndimage import map_coordinates

    h, w = coverage.shape
    size = max(h, w)
    field = []
    for _ in range(2):
        coarse = rng.normal(0, 1, (4, 4)).astype(np.float32)
        field.append(np.asarray(Image.fromarray(coarse, "F").resize((w, h), Image.Resampling.BICUBIC)) * amount * size)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.clip(map_coordinates(coverage, [yy + field[0], xx + field[1]], order=1, mode="constant"), 0, 1)


def hershey_coverage(font: str, ch: str, rng: np.random.Generator) -> np.ndarray | None:
    """A Hershey glyph drawn as pen strokes: pen width, slant, rotation, aspect and wobble vary."""
    glyph = hershey.load_font(font).get(ch)
    if not glyph:
        return None
    paths = [strokes.resample(s, 1.0) for s in glyph]
    paths = strokes.affine(paths, rng.uniform(-0.15, 0.3), rng.uniform(-8, 8), rng.uniform(0.8, 1.15))
    paths = strokes.wobble(paths, rng, amount=rng.uniform(0.0, 1.2), scale=rng.uniform(6, 14))
    return strokes.draw(paths, height=96, width_frac=rng.uniform(0.04, 0.13))


def glyph(source: str, ch: str, rng: np.random.Generator, hand: bool = True) -> np.ndarray | None:
    """`source` is a font file path, or `hershey:<name>`."""
    if source.startswith("hershey:"):
        return hershey_coverage(source.split(":", 1)[1], ch, rng)
    return outline_coverage(source, ch, rng, hand)

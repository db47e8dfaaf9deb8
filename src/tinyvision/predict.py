"""Predicting image files: each file read and predicted on its own, a bad one getting its own error.

`tinyvision predict a.png broken.png b.jpg` answers a and b, and exits 2. A folder stands for the
images in it and below, listed as a folder dataset lists them (sorted, hidden files skipped).
"""

from __future__ import annotations

import glob
import itertools
from dataclasses import dataclass
from pathlib import Path

from tinyvision.classifier import Model, Prediction
from tinyvision.errors import TinyVisionError

GLOB_CHARS = "*?["


@dataclass(frozen=True)
class FileResult:
    path: Path
    prediction: Prediction | None
    error: str | None


def predict_files(model: Model, paths: list[Path]) -> list[FileResult]:
    results = []
    for path, error in files_of(paths):
        if error is not None:
            results.append(FileResult(path, None, error))
            continue
        try:
            results.append(FileResult(path, model.predict_one(path), None))  # its errors: the path is shown
        except TinyVisionError as exc:
            results.append(FileResult(path, None, str(exc)))
    return results


def files_of(paths: list[Path]) -> list[tuple[Path, str | None]]:
    """The files the command line names, folders expanded (`expand`), in order: (path, None), or
    (the argument, why it names no file) for a folder without images."""
    found = []
    for given in map(Path, paths):
        try:
            found += [(path, None) for path in expand(given)]
        except TinyVisionError as exc:
            found.append((given, str(exc)))
    return found


def is_pattern(path: Path) -> bool:
    """Whether `path` names no file but is a pattern of names (`*`, `?`, `[`)."""
    return not path.exists() and any(c in str(path) for c in GLOB_CHARS)


def expand(path: Path) -> list[Path]:
    """A file as itself; a folder as the image files in it and below (a folder of none is an error); `~` as the
    home folder; a pattern (`*`, `?`, `[`) that names no file as the files it matches and the images of the
    folders it matches, each once, sorted (`predict("scans/*.jpg")`, as Ultralytics takes a source; `**` spans
    folders); a pattern that finds no image is an error."""
    from tinyvision.datasets.folder import EXTENSIONS, images_in, visible

    path = Path(path).expanduser()
    if is_pattern(path):
        # What the pattern matches below its fixed start, as a folder's images are listed: image files only,
        # hidden names and tools' folders (__MACOSX, @eaDir) skipped ("dir/*" answered notes.txt as a failure).
        fixed = Path(*[part for part in itertools.takewhile(lambda p: not any(c in p for c in GLOB_CHARS),
                                                                path.parts)])
        found: dict[Path, None] = {}
        for match in sorted(Path(m) for m in glob.glob(str(path), recursive=True)):
            if not visible(match, fixed):
                continue
            for image in (images_in(match) if match.is_dir() else [match]):
                if image.suffix.lower() in EXTENSIONS:
                    found.setdefault(image)
        if not found:
            raise TinyVisionError("no image matches this pattern")
        return sorted(found)
    if not path.is_dir():
        return [path]
    found_here = images_in(path)
    if not found_here:
        raise TinyVisionError(f"a folder with no images ({', '.join(sorted(EXTENSIONS))}, any case)")
    return found_here

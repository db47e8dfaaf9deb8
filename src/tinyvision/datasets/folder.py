"""`folder:PATH` datasets: a user's own images, in either of two layouts.

    PATH/<class>/*                                   one folder: tinyvision splits it
    PATH/train/<class>/*  PATH/test/<class>/*         split by the user (torchvision's ImageFolder
    [PATH/val/<class>/*]                             layout, per split)

One folder is split here, seeded and stratified, into train / validation /
test (`--val-fraction`, `--test-fraction`: 80/10/10 by default; see
`datasets/split.py`). With train/ and test/, a val/ folder is the validation
split; without one, `--val-fraction` of each class of train/ is held out.

Files: .jpg .jpeg .png .bmp .gif .webp .tif .tiff in any letter case, in the
class folder or below it (through links to folders too); names starting with a dot are skipped. Every image
is decoded once by the one decoder (`image.prepare`, as `predict` does), to
one size (`--image-size N` for NxN, default the most common size), gray when
every file is gray and RGB otherwise, into the cache of `folder_cache`.
Unreadable files are left out and listed in one warning line, each with the
decoder's reason.
"""

from __future__ import annotations

import heapq
import os
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tinyvision.datasets.folder_cache import FolderIndex, ImageStore, memory_budget, open_cache, take
from tinyvision.datasets.image_data import ImageData
from tinyvision.datasets.registry import DIGITS_PREFIX, FOLDER_PREFIX, is_folder
from tinyvision.datasets.split import SPLITS, TRAIN, VAL, SplitOptions, saved_split, stratified_split
from tinyvision.errors import TinyVisionError, flag
from tinyvision.typed_json import is_int

# .jfif and .jpe: JPEGs as Windows browsers and older cameras name them (predict read them; training skipped them).
EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MIN_SIZE, MAX_SIZE = 4, 1024
LAYOUT_HELP = "expected PATH/<class>/*.jpg (one folder, split for you) or PATH/train/<class>/ and PATH/test/<class>/"


@dataclass(frozen=True)
class FolderListing:
    """The image files of a folder, before anything is decoded."""

    root: Path
    layout: str  # "classes": one folder of class folders | "splits": train/ and test/ (and val/)
    classes: tuple[str, ...]
    files: list[str]  # relative to root, '/'-separated, sorted within each class
    labels: list[int]
    origins: list[str] | None  # "splits" layout: each file's split folder (train, val or test)


@dataclass(frozen=True)
class FolderImages:
    """A listed and decoded folder: its files, the cache index, the decoded rows."""

    name: str
    listing: FolderListing
    index: FolderIndex
    store: ImageStore

    @property
    def ok(self) -> np.ndarray:
        return np.asarray(self.index.ok, dtype=bool)


def preparation_of(name: str) -> str:
    """How a folder's files become images: "digit" for `digits:PATH` (photos or scans of digits, each
    prepared as MNIST prepared its digits, e.g. to fine-tune the MNIST model on your own handwriting
    with every layer kept), else "resize"."""
    return "digit" if name.startswith(DIGITS_PREFIX) else "resize"


def path_of(name: str) -> Path:
    for prefix in (FOLDER_PREFIX, DIGITS_PREFIX):
        if name.startswith(prefix):
            return Path(name[len(prefix):]).expanduser()
    return Path(name).expanduser()


def moved_hint(name: str) -> str | None:
    """For a folder dataset whose folder is gone, how to name where it is now (a run reads its own files
    wherever they moved: `split.moved_here`); None for any other dataset."""
    if not is_folder(name) or path_of(name).is_dir():
        return None
    return f"if it moved, pass {flag('dataset', name.split(':', 1)[0] + ':NEW_PATH')}"


def check_outside(name: str, out: str | os.PathLike, what: str) -> None:
    """Refuse an output folder inside a folder dataset: the next check or training would take it for a
    class of images (`check-data folder:.` run inside the photos wrote checks/ there, and the next run
    found a tiny class "checks")."""
    if not name.startswith((FOLDER_PREFIX, DIGITS_PREFIX)):
        return
    root = path_of(name).resolve()
    where = Path(out).expanduser().resolve()
    if where == root or root in where.parents:
        raise TinyVisionError(f"{what} {out} is inside the dataset {name}, where it would be read as images: "
                              f"pass --out elsewhere")


def root_of(name: str) -> Path:
    root = path_of(name)
    if not root.is_dir():
        raise TinyVisionError(f"{name}: {root} is not a folder")
    return root


# Folders of what tools leave beside photos, never the user's images: macOS's zip resource forks (__MACOSX/,
# ._name files of the same extensions), Synology's thumbnails (@eaDir: three small copies of every photo, test
# images included, read as training images), Python's bytecode beside a script kept with the data (__pycache__:
# a class folder of no images, and the whole folder was refused).
HIDDEN_FOLDERS = frozenset({"__MACOSX", "@eaDir", "__pycache__"})


def hidden(name: str) -> bool:
    return name.startswith(".") or name in HIDDEN_FOLDERS


def visible(path: Path, base: Path) -> bool:
    return not any(hidden(part) for part in path.relative_to(base).parts)


def nfc(name: str) -> str:
    """A class name in one Unicode form: macOS writes "café" decomposed, Linux and Windows composed."""
    return unicodedata.normalize("NFC", name)


def class_folders(folder: Path) -> list[str]:
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not hidden(p.name))
    # Two folders whose names differ only in their Unicode form (macOS decomposes "café") print alike: trained
    # as two classes of one name, their images were each other's mistakes.
    forms: dict[str, list[str]] = {}
    for name in names:
        forms.setdefault(nfc(name), []).append(name)
    twins = [name for name, spellings in forms.items() if len(spellings) > 1]
    if twins:
        raise TinyVisionError(f"{folder} holds class folders named {', '.join(map(repr, twins))} twice, in two "
                              f"Unicode forms (one from macOS?); merge them into one folder")
    return names


def images_in(folder: Path) -> list[Path]:
    """Image files in `folder` and below, any letter case of the extension, hidden ones skipped. Whatever else
    bears an image's name is listed too, for the decoder to report unreadable as it reports a damaged file: a
    broken link, a pipe, a link to a device (skipped without a word, a user's files went missing unexplained).

    A link to a folder is followed, as a linked class folder is (`Path.rglob` did not: photos/dog/2023 ->
    elsewhere was left out without a word). Each folder is walked once, by its real path, the folders that are
    no link first: a file keeps the name it had before a link to its folder was added (a run's split.json names
    it so), a second link to one folder adds nothing, and a link to a folder above (`..`), which holds the
    folder being walked, is not followed: it would loop, or count another class's images in this one."""
    if not is_folder_entry(folder):
        return []
    found: list[Path] = []
    walked: set[str] = set()
    # (a folder, the real paths of it and of the folders it was reached through); links wait, in name order
    folders: list[tuple[Path, tuple[str, ...]]] = [(folder, (os.path.realpath(folder),))]
    links: list[tuple[str, Path, tuple[str, ...]]] = []
    while folders or links:
        here, chain = folders.pop() if folders else heapq.heappop(links)[1:]
        if chain[-1] in walked:
            continue
        walked.add(chain[-1])
        try:
            with os.scandir(here) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:  # unreadable (no permission) or gone: nothing listed from it, as rglob did
            continue
        for entry in entries:
            path = here / entry.name
            if hidden(entry.name):
                continue
            if not is_folder_entry(entry):
                if path.suffix.lower() in EXTENSIONS:
                    found.append(path)
            elif not entry.is_symlink():
                folders.append((path, (*chain, os.path.join(chain[-1], entry.name))))
            elif not holds_any(real := os.path.realpath(path), chain):
                heapq.heappush(links, (str(path), path, (*chain, real)))
    return sorted(found)


def holds_any(folder: str, reals: tuple[str, ...]) -> bool:
    """Whether the real path `folder` is one of `reals` or a folder above one."""
    inside = folder.rstrip(os.sep) + os.sep
    return any(real == folder or real.startswith(inside) for real in reals)


def is_folder_entry(entry: Path | os.DirEntry) -> bool:
    """Whether a path (or a folder listing's entry) is a folder or a link to one; False for a broken link or a
    link loop (ELOOP), which some Python versions raise for."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def list_classes(root: Path, base: Path, classes: tuple[str, ...], origin: str | None,
                 required: bool) -> tuple[list[str], list[int]]:
    files, labels = [], []
    for label, name in enumerate(classes):
        images = images_in(base / name)
        if required and not images:
            raise TinyVisionError(
                f"class folder {base / name} holds no images ({', '.join(sorted(EXTENSIONS))}, any case)"
            )
        files += [p.relative_to(root).as_posix() for p in images]
        labels += [label] * len(images)
    return files, labels


def split_layout(root: Path) -> bool:
    """Whether `root` is laid out as train/ and test/ (and val/) of class folders. A train/ folder that
    holds images itself, with no test/ beside it, is a class named "train" (bus, car, train)."""
    train = root / "train"
    if not train.is_dir():
        return False
    if (root / "test").is_dir():
        return True
    return not any(p.suffix.lower() in EXTENSIONS and p.is_file() for p in train.iterdir())


def run_classes(saved: dict[str, str], splits: bool) -> tuple[str, ...]:
    """The classes of a run, from its split.json: the class folders its files are in (each class had
    training files), sorted as the folder's classes were when it was trained."""
    return tuple(sorted({name.split("/")[1 if splits else 0] for name in saved}))


def list_folder(root: Path, saved: dict[str, str] | None = None, least: int = 2,
                empty_classes: bool = False) -> FolderListing:
    """Which layout the folder has, its classes and its image files. With a run's `saved` split, the
    classes are the run's: a class folder added since is not listed (its files would be left out of the
    run's split anyway, and a name sorting before the others shifted every label: `evaluate` refused).
    `least`: the classes it must hold (a classifier is trained on 2 at least; a folder of one of a model's
    classes can be evaluated). `empty_classes`: a class folder with no images is listed (check-data reports
    it among the other problems) rather than refused."""
    if saved is not None:
        splits = split_layout(root)
        classes = run_classes(saved, splits)
        files, labels, origins = [], [], []
        for split in ("train", "val", "test") if splits else (None,):
            base = root / split if split else root
            if split and not base.is_dir():
                continue
            f, y = list_classes(root, base, classes, split, required=False)
            files, labels, origins = files + f, labels + y, origins + [split] * len(f)
        return FolderListing(root, "splits" if splits else "classes", classes, files, labels,
                             origins if splits else None)
    if split_layout(root):
        if not (root / "test").is_dir():
            raise TinyVisionError(f"{root} has train/ but no test/ folder; {LAYOUT_HELP}")
        classes = tuple(class_folders(root / "train"))
        if len(classes) < least:
            raise TinyVisionError(f"{root / 'train'} has {len(classes)} class folder(s); a classifier needs at least 2")
        files, labels, origins = [], [], []
        for split in ("train", "val", "test"):
            if split == "val" and not (root / "val").is_dir():
                continue
            extra = sorted(set(class_folders(root / split)) - set(classes))
            forms = {nfc(c): c for c in classes}
            twins = [f"{split}/{c} and train/{forms[nfc(c)]}" for c in extra if nfc(c) in forms]
            if twins:
                raise TinyVisionError(f"{root}: {', '.join(twins)} name one class in two Unicode forms (one from "
                                      f"macOS?); rename one")
            if extra:
                raise TinyVisionError(f"{root / split} has classes not in train/: {', '.join(extra)}")
            # To train, every class needs images in train/; to evaluate (least 1), only test/ is read.
            needs = split == "test" or least > 1
            f, y = list_classes(root, root / split, classes, split,
                                required=split == "train" and least > 1 and not empty_classes)
            if not f and needs:
                raise TinyVisionError(f"{root / split} holds no images")
            files, labels, origins = files + f, labels + y, origins + [split] * len(f)
        return FolderListing(root, "splits", classes, files, labels, origins)
    classes = tuple(class_folders(root))
    if len(classes) < least:
        raise TinyVisionError(
            f"{root} has {len(classes)} class folder(s); a classifier needs at least 2; {LAYOUT_HELP}"
        )
    files, labels = list_classes(root, root, classes, None, required=not empty_classes)
    return FolderListing(root, "classes", classes, files, labels, None)


def unused_images(listing: FolderListing) -> list[str]:
    """Images the folder's layout leaves out, each place in words: at the top of a folder of class folders,
    loose in train/, val/ or test/, or a class folder beside train/ and test/ (dropped without a word, a
    user's third class was never trained on)."""
    root, found = listing.root, []

    def loose(folder: Path) -> int:
        if not folder.is_dir():
            return 0
        return sum(1 for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS and not hidden(p.name) and p.is_file())

    places = [root] if listing.layout == "classes" else [root, *(root / s for s in SPLITS)]
    for folder in places:
        count = loose(folder)
        if count:
            found.append(f"{count} image(s) in {folder} itself, not in a class folder")
    if listing.layout == "splits":
        beside = [p.name for p in sorted(root.iterdir())
                  if p.is_dir() and not hidden(p.name) and p.name not in SPLITS and images_in(p)]
        if beside:
            found.append(f"{', '.join(beside)} beside train/ and test/ (class folders go inside them)")
    return found


def check_image_size(image_size: int | None) -> None:
    if image_size is not None and not is_int(image_size):
        raise TinyVisionError(f"--image-size must be an integer, got {image_size!r}")
    if image_size is not None and not MIN_SIZE <= image_size <= MAX_SIZE:
        raise TinyVisionError(f"--image-size must be between {MIN_SIZE} and {MAX_SIZE}, got {image_size}")


def open_folder(name: str, image_size: int | None = None, use_cache: bool = True,
                shape: tuple[int, int, int] | None = None, saved: dict[str, str] | None = None,
                least: int = 2, empty_classes: bool = False) -> FolderImages:
    """List `folder:PATH` and decode it (or find it decoded in the cache); to `shape` (C, H, W) when
    given, a run's own (see `SplitOptions.shape`), else as `image_size` and the files say; with a run's
    `saved` split, its classes only (`list_folder`)."""
    root = root_of(name)
    check_image_size(image_size)
    preparation = preparation_of(name)
    if preparation == "digit" and image_size not in (None, 28):
        raise TinyVisionError(f"{name}: digits are prepared at 28x28 (as MNIST's), not --image-size {image_size}")
    listing = list_folder(root, saved, least, empty_classes)
    index, store = open_cache(root, listing.files, listing.labels, image_size, use_cache, preparation, shape)
    return FolderImages(name, listing, index, store)


def split_codes(folder: FolderImages, options: SplitOptions) -> np.ndarray:
    """TRAIN, VAL, TEST or -1 (left out) for every listed file."""
    listing = folder.listing
    labels = np.asarray(listing.labels)
    if options.saved is not None and options.extend and listing.layout == "classes":
        codes = saved_split(listing.files, options.saved, listing.root, needed=())
        new = np.flatnonzero(codes < 0)
        codes[new] = stratified_split([listing.files[i] for i in new], labels[new], options)
        return codes
    if options.saved is not None and not options.extend:
        return saved_split(listing.files, options.saved, listing.root, options.needed)
    if listing.layout == "classes":
        if options.all_test:
            return np.full(len(listing.files), SPLITS.index("test"), dtype=np.int8)
        return stratified_split(listing.files, labels, options)
    codes = np.array([SPLITS.index(o) for o in listing.origins], dtype=np.int8)
    if VAL not in codes:  # no val/: hold out a stratified share of train/
        train = np.flatnonzero(codes == TRAIN)
        held = stratified_split([listing.files[i] for i in train], labels[train],
                                SplitOptions(options.seed, options.val_fraction, 0.0))
        codes[train[held == VAL]] = VAL
    return codes


def skipped_message(folder: FolderImages) -> str | None:
    errors = folder.index.errors
    if not errors:
        return None
    shown = ", ".join(f"{name} ({reason})" for name, reason in list(errors.items())[:5])
    more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
    return f"skipped {len(errors)} unreadable image(s): {shown}{more}"


def to_image_data(folder: FolderImages, codes: np.ndarray, needed: tuple[str, ...] = SPLITS) -> ImageData:
    """The splits as an `ImageData`: in memory when the folder fits the budget, else gathered from the file.
    Every class needs training images when the training split is `needed` (not to evaluate a run)."""
    listing, ok = folder.listing, folder.ok
    if listing.files and not ok.any():  # nothing to train on or score: one line, with a file's reason
        name, reason = next(iter(folder.index.errors.items()), (listing.files[0], "unreadable"))
        raise TinyVisionError(f"{listing.root}: none of the {len(listing.files)} images could be read (e.g. "
                              f"{name}: {reason}; tinyvision check-data lists each file's reason)")
    labels = torch.tensor(listing.labels, dtype=torch.int64)
    rows = {split: np.flatnonzero((codes == code) & ok) for code, split in enumerate(SPLITS)}
    empty = [listing.classes[k] for k in range(len(listing.classes))
             if "train" in needed and not (labels[torch.from_numpy(rows["train"])] == k).any()]
    if empty:
        raise TinyVisionError(f"{listing.root}: no readable training images in class(es) {', '.join(empty)}")
    if len(rows["test"]) == 0:
        raise TinyVisionError(f"{listing.root}: no readable test images (use a larger --test-fraction?)")
    in_memory = sum(len(r) for r in rows.values()) * folder.store.row_bytes <= memory_budget()
    parts = {}
    for split, r in rows.items():
        parts[f"{split}_images"] = take(folder.store, r, in_memory)
        parts[f"{split}_labels"] = labels[torch.from_numpy(r)]
    files = {listing.files[i]: split for split, r in rows.items() for i in r}
    return ImageData(folder.name, listing.classes, **parts, split_files=files)


def load_folder(name: str, image_size: int | None = None, split: SplitOptions | None = None,
                use_cache: bool = True) -> ImageData:
    """Load `folder:PATH` as train / val / test splits (see the module's docstring)."""
    split = split or SplitOptions()
    folder = open_folder(name, image_size, use_cache, split.shape, None if split.extend else split.saved,
                         least=1 if split.all_test else 2)  # evaluated, a folder may hold one of the classes
    data = to_image_data(folder, split_codes(folder, split), split.needed)  # (an error: one line, no warning)
    message = skipped_message(folder)
    if message:
        print(f"tinyvision: warning: {message}", file=sys.stderr)
    if split.saved is None:  # (a run's own files are listed from its split.json)
        for place in unused_images(folder.listing):
            print(f"tinyvision: warning: not used: {place}", file=sys.stderr)
    return data


def train_count(name: str) -> int | None:
    """About how many training images `folder:PATH` holds (its train/, or 80% of one folder), from the listing
    alone; None when it cannot be listed (the error comes when it is loaded)."""
    try:
        listing = list_folder(root_of(name))
    except (TinyVisionError, OSError):
        return None
    if listing.layout == "splits":
        return sum(1 for origin in listing.origins if origin == "train")
    return round(0.8 * len(listing.files))


def one_folder(name: str) -> bool:
    """Whether `folder:PATH` is one folder of class folders (split by tinyvision), not train/ + test/."""
    root = path_of(name)
    return root.is_dir() and not split_layout(root)

"""Splitting one folder of images into train / validation / test, and remembering the split.

A user's folder `PATH/<class>/*` has no test split of its own. Each class is
split on its own (stratified), so a rare class keeps its share in every
split. Within a class, files are ordered by a keyed hash of (seed, file
name), and the first ones go to test, the next to validation, the rest to
train. This is:
- seeded: another seed, another split; the same seed, the same split;
- stable: a file keeps its place in the order when files are added or removed, so
  only the files at the border of two splits move (a class's shares are counted
  again), where a shuffled list would reassign everything;
- copy-free: a split is a list of file names, nothing is copied or moved.

The assignment is written into the run folder as `split.json` (file -> split),
so `--resume`, `evaluate` and the figures use exactly the files of the run,
even after the folder has grown.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyvision.atomic import write_json
from tinyvision.errors import TinyVisionError

SPLIT_FILE = "split.json"
DIGESTS = 32  # files of a split whose bytes split.json records (`file_digests`)
SPLITS = ("train", "val", "test")
TRAIN, VAL, TEST = 0, 1, 2


@dataclass(frozen=True)
class SplitOptions:
    """How a one-folder dataset is split: shares of the whole folder, a seed, or a saved assignment."""

    seed: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    saved: dict[str, str] | None = None  # file -> split, from a run's split.json: wins over the fractions
    # The (C, H, W) a run decoded its folder to (split.json, or its model card): the run's files become
    # the same tensors after the folder has grown, whatever size is now the most common.
    shape: tuple[int, int, int] | None = None
    # The saved splits whose files must all be there: training resumes on every file of its split, but a
    # run is evaluated on its test files alone (training images cleaned up since blocked `evaluate`).
    needed: tuple[str, ...] = SPLITS
    # A fine-tune's split: the `saved` split of the run it starts from, on the same folder, with the files it
    # does not list (added since) split by the seed and shares. Split afresh by another seed, the source's
    # training images became most of the fine-tune's test split, and scored as unseen (48 of 60).
    extend: bool = False
    # Every file is a test file: a labelled folder a model is evaluated on, never trained on (split as for
    # training, only a tenth of it was scored). A train/ + test/ folder keeps its test/.
    all_test: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.test_fraction < 1:
            raise TinyVisionError(f"--test-fraction must be in [0, 1), got {self.test_fraction}")
        if not 0 <= self.val_fraction < 1 or self.val_fraction + self.test_fraction >= 1:
            raise TinyVisionError(
                f"--val-fraction {self.val_fraction} and --test-fraction {self.test_fraction} leave no training images"
            )


def hash_order(names: list[str], seed: int) -> np.ndarray:
    """Positions of `names` sorted by a keyed hash of (seed, name): a seeded order that is stable per file."""
    keys = [hashlib.blake2b(name.encode("utf-8", "surrogateescape"), digest_size=8, key=str(seed).encode()).digest()
            for name in names]  # (a name that is not UTF-8 has surrogates standing in for its bytes)
    return np.array(sorted(range(len(names)), key=keys.__getitem__), dtype=np.int64)


def class_counts(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """(test, val) images for a class of `n`: rounded shares, at least one each when the class can spare it."""
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * val_fraction))
    if test_fraction > 0 and n >= 2:
        n_test = max(1, n_test)
    if val_fraction > 0 and n >= 3:
        n_val = max(1, n_val)
    while n_test + n_val >= n and (n_test or n_val):  # keep at least one training image
        if n_val >= n_test and n_val:
            n_val -= 1
        else:
            n_test -= 1
    return n_test, n_val


def stratified_split(names: list[str], labels: np.ndarray, options: SplitOptions) -> np.ndarray:
    """The split (TRAIN, VAL or TEST) of every file, class by class."""
    codes = np.full(len(names), TRAIN, dtype=np.int8)
    labels = np.asarray(labels)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        order = members[hash_order([names[i] for i in members], options.seed)]
        n_test, n_val = class_counts(len(members), options.val_fraction, options.test_fraction)
        codes[order[:n_test]] = TEST
        codes[order[n_test : n_test + n_val]] = VAL
    return codes


def saved_split(names: list[str], saved: dict[str, str], root: Path, needed: tuple[str, ...] = SPLITS) -> np.ndarray:
    """The codes of a saved assignment; files it does not list (added since) are left out (-1). A file of a
    `needed` split that is gone is refused; one of another split is left out too."""
    missing = sorted({name for name, split in saved.items() if split in needed} - set(names))
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise TinyVisionError(f"{root}: {len(missing)} file(s) of the run's split are gone: {shown}")
    code = {name: i for i, name in enumerate(SPLITS)}
    return np.array([code.get(saved.get(name, ""), -1) for name in names], dtype=np.int8)


def write_split(path: Path, dataset: str, files: dict[str, str], options: SplitOptions | None,
                shape: tuple[int, int, int] | None = None) -> None:
    """split.json: which file went to which split (and how the split was made), and the (C, H, W) the
    files were decoded to."""
    counts = {s: sum(1 for v in files.values() if v == s) for s in SPLITS}
    how = None if options is None else {"seed": options.seed, "val_fraction": options.val_fraction,
                                        "test_fraction": options.test_fraction}
    write_json(path, {"dataset": dataset, "made_by": how, "counts": counts,
                      "input_shape": list(shape) if shape else None, "files": files,
                      "digests": file_digests(dataset, files)})


def file_digests(dataset: str, files: dict[str, str], count: int = DIGESTS) -> dict[str, str]:
    """The SHA-256 of `count` of the files, spread over the sorted list: what tells the run's folder, moved,
    from another folder whose files happen to have the same names (cat/0000.jpg, ...)."""
    from tinyvision.datasets.folder import path_of

    root, names = path_of(dataset), sorted(files)
    chosen = sorted({names[round(i * (len(names) - 1) / max(1, count - 1))] for i in range(count)}) if names else []
    digests = {}
    for name in chosen:
        try:
            digests[name] = hashlib.sha256((root / name).read_bytes()).hexdigest()
        except OSError:  # vanished since it was listed: it tells nothing
            continue
    return digests


def parse_split(d: dict, path: Path) -> tuple[dict[str, str], tuple[int, int, int] | None]:
    """A split.json's content (read from `path`) -> its file -> split assignment, and the (C, H, W) its files
    were decoded to (None: not recorded, an older run)."""
    try:
        files, shape = d["files"], d.get("input_shape")
    except (KeyError, TypeError, AttributeError) as exc:
        raise TinyVisionError(f"{path}: unreadable split file ({exc})") from None
    if not isinstance(files, dict) or not all(v in SPLITS for v in files.values()):
        raise TinyVisionError(f"{path}: a split file maps file names to train, val or test")
    return {str(k): str(v) for k, v in files.items()}, split_shape(shape, path)


def split_shape(shape, path: Path) -> tuple[int, int, int] | None:
    """A split.json's `input_shape`, in the range a folder is decoded to: a hand-edited file must not
    become a huge decode."""
    if shape is None:
        return None
    from tinyvision.datasets.folder import MAX_SIZE, MIN_SIZE
    from tinyvision.typed_json import is_int

    ok = (isinstance(shape, list) and len(shape) == 3 and all(is_int(v) for v in shape)
          and shape[0] in (1, 3) and all(MIN_SIZE <= v <= MAX_SIZE for v in shape[1:]))
    if not ok:
        raise TinyVisionError(f"{path}: input_shape must be [1 or 3, height, width] with sides from {MIN_SIZE} "
                              f"to {MAX_SIZE}, got {shape!r}")
    return tuple(shape)


def split_record(path: Path) -> tuple[dict | None, Path]:
    """The split.json of the run at `path` (its folder, a checkpoint in it, or an export) as written, and
    where it was read from; (None, that place) when there is none. An export carries its run's split in its
    card (`export.sidecar`): exported outside the run folder it found none, and once the folder had grown,
    evaluate scored all of it, the run's validation images too; that one wins over a split.json beside it,
    which may be another run's."""
    path = Path(path)
    sidecar = path.with_name(path.name + ".json")
    if path.suffix.lower() in (".onnx", ".pt") and sidecar.is_file():
        try:
            carried = json.loads(sidecar.read_text()).get("split")
        except (OSError, ValueError, AttributeError) as exc:
            raise TinyVisionError(f"{sidecar}: unreadable export card ({exc})") from None
        if carried is not None:
            return carried, sidecar
    file = (path if path.is_dir() else path.parent) / SPLIT_FILE
    if not file.is_file():
        return None, file
    try:
        return json.loads(file.read_text()), file
    except (OSError, ValueError) as exc:
        raise TinyVisionError(f"{file}: unreadable split file ({exc})") from None


def test_part(record: dict | None) -> dict | None:
    """A split.json's content cut to what evaluating its test files needs, for an export's card: the test files
    (files of no split in it are left out when the folder is read), with fingerprints of some of them, to know
    the folder moved. The whole file named every training image, and grew the card past the model's own size
    at 50,000 files."""
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict) or "dataset" not in record:
        return record
    tests = {str(name): "test" for name, split in record["files"].items() if split == "test"}
    recorded = record.get("digests") if isinstance(record.get("digests"), dict) else {}
    digests = {**{n: d for n, d in recorded.items() if n in tests}, **file_digests(str(record["dataset"]), tests)}
    # The folder away at export time and none of the recorded fingerprints a test file's: those recorded (a few
    # training files' names), else a copy of the folder could not be told from another of the same names.
    return {**record, "files": tests, "digests": digests or recorded}


def split_beside(path: Path) -> tuple[dict[str, str] | None, tuple[int, int, int] | None]:
    """What the split of the run at `path` says (`split_record`: its split.json, or an export's copy; see
    `parse_split`), or (None, None) when there is none."""
    record, where = split_record(path)
    return parse_split(record, where) if record is not None else (None, None)


def moved_here(run_dataset: str, dataset: str, run: Path) -> bool:
    """Whether `dataset` is the folder dataset of the run at `run` (its folder, or a checkpoint in it) moved or
    copied elsewhere: a folder dataset holding every file the run's split.json names. Evaluated there, the run
    reads its own test files (taken for another folder, all of it was scored, the run's training images
    with the rest), and resumed there, its own split."""
    from tinyvision.datasets.folder import path_of
    from tinyvision.datasets.registry import is_folder

    if not (is_folder(run_dataset) and is_folder(dataset)):
        return False
    files, _ = split_beside(run)
    root = path_of(dataset)
    if not files or not root.is_dir() or not all((root / name).is_file() for name in files):
        return False
    # The same names are not the same files: the bytes of those split.json recorded must match. A run written
    # before it recorded them cannot tell its folder from another of the same names (cat/0000.jpg, ...): it is
    # never taken for moved (another folder's pictures were scored as its test files, and trained on).
    record, _ = split_record(run)
    recorded = record.get("digests") if isinstance(record, dict) else None
    try:
        return isinstance(recorded, dict) and bool(recorded) and all(
            inside(name, files) and hashlib.sha256((root / name).read_bytes()).hexdigest() == digest
            for name, digest in recorded.items())
    except OSError:
        return False


def inside(name: str, files: dict[str, str]) -> bool:
    """Whether a fingerprinted file may be read under the folder: one of the split's files, or (an export's
    card lists its test files, and may fingerprint others) a relative path that stays inside the folder."""
    if name in files:
        return True
    if not isinstance(name, str):
        return False
    path = Path(name)
    return not path.is_absolute() and ".." not in path.parts and bool(path.parts)


def split_of_run(path: Path, config: dict, shape: tuple[int, int, int] | None = None) -> SplitOptions:
    """How a run's folder dataset was split: its split.json when it is there (beside the checkpoint),
    else the seed and shares of its config (the same files give the same split); decoded to `shape`
    (its model card's input shape), else to the shape its split.json records."""
    files, saved_shape = split_beside(path)
    return SplitOptions(
        int(config.get("seed", 0)), float(config.get("val_fraction", 0.1)),
        float(config.get("test_fraction", 0.1)), files, tuple(shape) if shape is not None else saved_shape,
        needed=("test",),  # to evaluate, plot or check an export: the test files
    )

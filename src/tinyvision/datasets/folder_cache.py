"""A folder of images, decoded once into a memory-mapped uint8 file.

Decoding is the slow part of a folder dataset (CIFAR-10's 60,000 JPEGs: half
a minute), so it happens once, on every core, and the result is kept:

    <cache>/folders/<key>.u8     the images, uint8 (N, C, H, W), one row per listed file
    <cache>/folders/<key>.json   the index: shape, files, labels, which rows decoded, why the
                                 others did not (the decoder's message), each file's byte hash,
                                 size and mode

The key is made of every file's name, size and modification time and the
requested image size: change a file and the folder is decoded again. Both
files are written atomically (the index last, so an index always describes
a complete image file).

Every image is decoded by `image.prepare` with a `resize` preparation, the
path `predict` and the server use, so a file gives the same pixels at
training and at prediction time.

Reading: a folder that fits `memory_budget()` is copied into ordinary tensors,
as every other dataset is. A larger one stays in the file: its splits are
`MappedImages`, rows gathered one batch at a time, and the pages read are
handed back to the kernel every `DROP_EVERY` bytes, so the process holds a
bounded amount of it however large the folder is.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from tinyvision.atomic import allocate, atomic_path, write_json
from tinyvision.datasets.cache import cache_root
from tinyvision.errors import TinyVisionError

CACHE_VERSION = "4"  # 3: memory-mapped rows for every listed file, byte hashes and headers in the index;
# 4: sizes as shown (EXIF rotation), the shape chosen from files the decoder takes
MEMORY_ENV = "TINYVISION_IMAGE_MEMORY_MB"
DEFAULT_MEMORY_MB = 1024  # decoded images held in memory up to this size; larger folders stay mapped
DROP_EVERY = 64 << 20  # hand read pages back to the kernel after gathering about this many bytes
# A page fault on a mapped file maps its neighbours too ("fault-around", 64 KB on Linux), so each
# row gathered is counted as at least that much.
FAULT_AROUND = 64 << 10
CHUNK = 256  # files per task given to a decoding process
INLINE_BELOW = 2000  # smaller folders decode in this process: starting workers would cost more


def memory_budget() -> int:
    """Bytes of decoded images a folder may hold in memory ($TINYVISION_IMAGE_MEMORY_MB, default 1 GiB)."""
    value = os.environ.get(MEMORY_ENV)
    try:
        return int(float(value) * (1 << 20)) if value else DEFAULT_MEMORY_MB << 20
    except ValueError:
        raise TinyVisionError(f"${MEMORY_ENV} must be a number of megabytes, got {value!r}") from None


def workers() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, 8))


# -- decoding (runs in worker processes) ------------------------------------------------------------


def read_headers(root: str, start: int, names: list[str]) -> list[tuple[tuple[int, int], str] | None]:  # noqa: ARG001
    """(width, height) as shown and mode of each file from its header, None where Pillow cannot open it.
    As shown: the decoder turns a phone's portrait photo (stored landscape, with an EXIF orientation)
    upright, so the most common size must count it upright too."""
    from PIL import Image

    from tinyvision.image.decode import quarter_turned

    out = []
    for name in names:
        if not os.path.isfile(os.path.join(root, name)):  # a pipe would block its reader for good
            out.append(None)
            continue
        try:
            with Image.open(os.path.join(root, name)) as img:
                w, h = img.size
                out.append(((h, w) if quarter_turned(img) else (w, h), img.mode))
        except Exception:  # noqa: BLE001 - the decoder says why, later
            out.append(None)
    return out


def decode_rows(root: str, start: int, names: list[str], target: str, shape: tuple[int, int, int],
                count: int, mode: str = "resize") -> list[tuple[str | None, str | None]]:
    """Decode files into rows start.. of the image file; (byte hash, None) or (None, the decoder's reason)."""
    from tinyvision.image.decode import ImageError, read_file
    from tinyvision.image.prepare import Preparation, prepare

    preparation = Preparation(mode, shape)
    rows = np.memmap(target, dtype=np.uint8, mode="r+", shape=(count, *shape))
    out: list[tuple[str | None, str | None]] = []
    for i, name in enumerate(names):
        try:
            data = read_file(os.path.join(root, name))
            saved = saved_digit(data, shape) if mode == "digit" else None
            pixels = saved if saved is not None else prepare(data, preparation)
        except ImageError as exc:
            out.append((None, str(exc)))
            continue
        rows[start + i] = pixels.numpy()
        out.append((hashlib.blake2b(data, digest_size=16).hexdigest(), None))
    rows.flush()
    del rows
    return out


def saved_digit(data: bytes, shape: tuple[int, int, int]):
    """A file of the digit size that holds an already prepared digit (an MNIST digit saved as a PNG): its
    pixels as they are, uint8 (1, H, W), as `Model.predict` takes such a file; else None (to prepare).
    Prepared a second time here, 4 of 404 such test files were answered otherwise than predict answers them."""
    import torch

    from tinyvision.dataset_inputs import gray_of_size, looks_prepared

    _, height, width = shape
    gray = gray_of_size(data, height, width)
    if gray is None or not looks_prepared(gray.astype(np.float32) / 255.0):
        return None
    return torch.from_numpy(np.array(gray, copy=True))[None]


def in_chunks(names: list[str]) -> Iterable[tuple[int, list[str]]]:
    for start in range(0, len(names), CHUNK):
        yield start, names[start : start + CHUNK]


def run_chunks(task: Callable, root: Path, names: list[str], args: tuple, label: str) -> list:
    """`task(root, start, chunk, *args)` over chunks of the file list, in order; on every core for a large folder."""
    from tqdm import tqdm

    bar = tqdm(total=len(names), desc=label, unit="img", disable=not sys.stderr.isatty() or len(names) < 5000,
               leave=False)
    results: list = []
    try:
        if len(names) < INLINE_BELOW or workers() == 1:
            for start, chunk in in_chunks(names):
                results += task(str(root), start, chunk, *args)
                bar.update(len(chunk))
            return results
        # Processes, not threads: the decoder's per-image Python would hold the GIL. "spawn" starts
        # clean interpreters (a forked copy of a process using torch's thread pools can hang).
        with ProcessPoolExecutor(workers(), mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(task, str(root), start, chunk, *args) for start, chunk in in_chunks(names)]
            for future in futures:
                part = future.result()
                results += part
                bar.update(len(part))
        return results
    finally:
        bar.close()


# -- the cache ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FolderIndex:
    """What the cache knows about each listed file (one row of the image file each)."""

    shape: tuple[int, int, int]  # (C, H, W) every image was resized to
    files: list[str]  # paths relative to the folder, '/'-separated
    labels: list[int]
    ok: list[bool]  # decoded; the others' rows are zeros
    errors: dict[str, str]  # file -> the decoder's reason
    byte_hashes: list[str | None]  # blake2b of the file's bytes
    sizes: list[tuple[int, int] | None]  # (width, height) from the header
    modes: list[str | None]  # Pillow's mode from the header ("L", "RGB", "RGBA", "I;16", ...)

    def to_dict(self) -> dict:
        return {"version": CACHE_VERSION, **{k: getattr(self, k) for k in self.__dataclass_fields__}}

    @classmethod
    def from_dict(cls, d: dict) -> FolderIndex:
        if not isinstance(d, dict) or d.get("version") != CACHE_VERSION:
            raise ValueError("another cache version")
        sizes = [tuple(s) if s else None for s in d["sizes"]]
        index = cls(tuple(d["shape"]), d["files"], d["labels"], d["ok"], d["errors"], d["byte_hashes"], sizes,
                    d["modes"])
        # A damaged or edited index is no index: lists of another length, or of the wrong kind, failed later
        # with a traceback (a red team's, with `ok` one short).
        lists = (index.files, index.labels, index.ok, index.byte_hashes, index.sizes, index.modes)
        if (len(index.shape) != 3 or not all(type(v) is int and v > 0 for v in index.shape)
                or not all(isinstance(v, list) for v in lists) or len({len(v) for v in lists}) != 1
                or not all(type(v) is bool for v in index.ok) or not all(type(v) is int for v in index.labels)
                or not isinstance(index.errors, dict)):
            raise ValueError("an inconsistent cache index")
        return index


def cache_key(root: Path, files: list[str], labels: list[int], image_size: int | None,
              preparation: str = "resize", shape: tuple[int, int, int] | None = None) -> str:
    extra = "" if preparation == "resize" else f" prep={preparation}"
    if shape is not None:
        extra += f" shape={'x'.join(map(str, shape))}"
    if preparation == "digit":  # a folder prepared by an older digit preparation is prepared again
        from tinyvision.image.digits import PREPARATION_VERSION

        extra += f" v{PREPARATION_VERSION} saved-as-is"  # (before: saved digits prepared a second time)
    # The folder itself is part of the key: two folders of the same names, sizes and times (unzipped with
    # normalised timestamps) shared one entry, and a "held-out" folder was scored on the first one's pixels.
    where = os.path.realpath(root).encode("utf-8", "surrogateescape")
    digest = hashlib.sha256(f"v{CACHE_VERSION} size={image_size}{extra}\n".encode() + where + b"\n")
    for name, label in zip(files, labels):
        try:
            st = (root / name).stat()
        except OSError:  # a broken link, a link to itself: its own entry (the decoder reports it unreadable)
            st = (root / name).lstat()
        # A name that is not UTF-8 (bytes from another system) has surrogates standing in for its bytes. The
        # mode is part of the key: a file unreadable for its permissions, then given them (chmod, which
        # leaves the size and time as they were), is read again rather than reported from the cache. So are
        # the inode and the change time, which no copy keeps: a photo replaced by another of the same size
        # with its time kept (cp -p, rsync -a) was served from the cache as the old one.
        line = f"{name}\t{label}\t{st.st_size}\t{st.st_mtime_ns}\t{st.st_mode:o}\t{st.st_ino}\t{st.st_ctime_ns}\n"
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:24]


def decodable(size: tuple[int, int]) -> bool:
    """Whether the decoder takes an image of this (width, height): it refuses slivers and bombs."""
    from tinyvision.image.decode import MAX_PIXELS, MIN_SIDE

    return min(size) >= MIN_SIDE and size[0] * size[1] <= MAX_PIXELS


# The most common size is used as it is up to this longer side, and scaled down to it beyond (keeping the
# aspect ratio): a folder of 1600x1200 phone photos trained at full size asked for gigabytes per batch (and
# a model no card takes: sides above folder.MAX_SIZE). 224 is what Keras, fastai, timm and Ultralytics
# classify at by default; `--image-size N` chooses any other size.
AUTO_MAX_SIDE = 224
MIN_AUTO_SIDE = 4


def choose_shape(headers: list, image_size: int | None, gray_modes: frozenset[str]) -> tuple[int, int, int] | None:
    """1 channel when every readable file is gray, else 3; NxN, or the most common size (at most
    AUTO_MAX_SIDE on its longer side, scaled down keeping its shape beyond that). Files the decoder
    will refuse (too small, too large) have no say: a folder of 6x6 icons and 32x32 photos is 32x32. (When
    the decoder takes none, any shape will do: each file is then reported with the decoder's reason.)"""
    opened = [h for h in headers if h is not None]
    known = [h for h in opened if decodable(h[0])] or opened
    if not known:
        return None
    channels = 1 if all(mode in gray_modes for _, mode in known) else 3
    if image_size:
        return channels, image_size, image_size
    (w, h), _ = Counter(size for size, _ in known).most_common(1)[0]
    if max(w, h) > AUTO_MAX_SIDE:  # phone photos: scaled down, keeping their shape
        scale = AUTO_MAX_SIDE / max(w, h)
        w, h = max(MIN_AUTO_SIDE, round(w * scale)), max(MIN_AUTO_SIDE, round(h * scale))
    return channels, h, w


def build_cache(root: Path, files: list[str], labels: list[int], image_size: int | None,
                images_path: Path, preparation: str = "resize",
                shape: tuple[int, int, int] | None = None) -> FolderIndex:
    """Read every header, pick the shape (unless `shape` is given), decode every file into `images_path`."""
    from tinyvision.image.decode import GRAY_MODES
    from tinyvision.image.digits import DIGIT_FIELD

    headers = run_chunks(read_headers, root, files, (), "reading headers")
    # No header read (HEIC photos renamed .jpg, web pages saved as .jpg): any shape will do, every file is
    # then refused by the decoder with its reason, which check-data lists (it stopped at one line without them).
    side = image_size or MIN_AUTO_SIDE
    chosen = choose_shape(headers, image_size, GRAY_MODES) or (1, side, side)
    shape = tuple(shape) if shape is not None else chosen
    if preparation == "digit":  # whatever the files, a digit is 28x28 gray ink on black
        shape = (1, DIGIT_FIELD, DIGIT_FIELD)
    with atomic_path(images_path) as tmp:
        allocate(tmp, len(files) * int(np.prod(shape)))  # the decoders write their rows through a memory map
        decoded = run_chunks(decode_rows, root, files, (str(tmp), shape, len(files), preparation), "decoding")
    return FolderIndex(
        shape=shape, files=files, labels=labels, ok=[h is not None for h, _ in decoded],
        errors={name: reason for name, (_, reason) in zip(files, decoded) if reason is not None},
        byte_hashes=[h for h, _ in decoded],
        sizes=[list(h[0]) if h else None for h in headers], modes=[h[1] if h else None for h in headers],
    )


def open_cache(root: Path, files: list[str], labels: list[int], image_size: int | None,
               use_cache: bool = True, preparation: str = "resize",
               shape: tuple[int, int, int] | None = None) -> tuple[FolderIndex, ImageStore]:
    """The folder's index and its decoded images (to `shape` when given), decoding only when the folder
    changed. A run's own shape is usually the one its files give: the folder's ordinary cache is used
    then, and a copy at `shape` is made only when the folder now gives another."""
    folder = cache_root() / "folders"
    keys = [cache_key(root, files, labels, image_size, preparation)]
    if shape is not None:
        keys.append(cache_key(root, files, labels, image_size, preparation, tuple(shape)))
    if use_cache:
        for key in keys:
            found = cached(folder / f"{key}.json", folder / f"{key}.u8")
            if (found is not None and (shape is None or found[0].shape == tuple(shape))
                    and found[0].files == files and found[0].labels == labels):  # (the index of these files)
                return found
    images_path, index_path = folder / f"{keys[-1]}.u8", folder / f"{keys[-1]}.json"
    index = build_cache(root, files, labels, image_size, images_path, preparation, shape)
    write_json(index_path, index.to_dict())
    return index, ImageStore(images_path, index.shape, len(index.files))


def cached(index_path: Path, images_path: Path) -> tuple[FolderIndex, ImageStore] | None:
    """A cache entry, or None when it is missing or damaged (a damaged cache is rebuilt, never trusted)."""
    if not (index_path.is_file() and images_path.is_file()):
        return None
    try:
        index = FolderIndex.from_dict(json.loads(index_path.read_text()))
        return index, ImageStore(images_path, index.shape, len(index.files))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):  # (JSON of another shape)
        return None


# -- reading --------------------------------------------------------------------------------------


class ImageStore:
    """The image file, mapped read-only: (N, C, H, W) uint8 rows, gathered by index."""

    def __init__(self, path: Path, shape: tuple[int, int, int], count: int) -> None:
        self.path, self.shape, self.count = Path(path), tuple(shape), count
        self.row_bytes = int(np.prod(shape))
        expected = count * self.row_bytes
        if self.path.stat().st_size != expected:
            raise ValueError(f"{path}: {self.path.stat().st_size} bytes, expected {expected}")
        with open(self.path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if expected else None
        buffer = self._map if self._map is not None else b""
        self.array = np.frombuffer(buffer, dtype=np.uint8).reshape(count, *shape)
        self._gathered = 0

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """A copy of the rows asked for. The pages read stay mapped (and count as this process's
        memory) until handed back; the kernel keeps them in its page cache for the next read."""
        out = self.array[rows]
        self._gathered += len(rows) * max(self.row_bytes + mmap.PAGESIZE, FAULT_AROUND)
        if self._gathered > DROP_EVERY:
            self.drop_pages()
        return out

    def drop_pages(self) -> None:
        if self._map is not None and hasattr(mmap, "MADV_DONTNEED"):
            self._map.madvise(mmap.MADV_DONTNEED)
        self._gathered = 0


class MappedImages:
    """A split too large for memory: rows of an `ImageStore`, gathered when indexed.

    Behaves as a uint8 (N, C, H, W) tensor where the training loop, evaluation
    and the figures use one: `len`, `shape`, `x[i]`, `x[a:b]` and `x[index_tensor]`
    each return an ordinary tensor, on the CPU, of just those images.
    """

    dtype = torch.uint8
    ndim = 4

    def __init__(self, store: ImageStore, rows: np.ndarray) -> None:
        self.store = store
        self.rows = np.asarray(rows, dtype=np.int64)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.rows), *self.store.shape))

    def __len__(self) -> int:
        return len(self.rows)

    def numel(self) -> int:
        return len(self.rows) * self.store.row_bytes

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        if isinstance(key, (int, np.integer)):  # one image (C, H, W), as a tensor's x[i] (the mistakes figure)
            return torch.from_numpy(self.store.gather(self.rows[[key]]))[0]
        return torch.from_numpy(self.store.gather(self.rows[key]))

    def select(self, index) -> MappedImages:
        """A subset, still in the file (no copy)."""
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        return MappedImages(self.store, self.rows[index])

    def __repr__(self) -> str:
        return f"MappedImages({len(self)} images of {self.store.shape} in {self.store.path})"


def take(store: ImageStore, rows: np.ndarray, in_memory: bool) -> torch.Tensor | MappedImages:
    """Rows of the store as a tensor in memory, or left in the file."""
    if in_memory:
        return torch.from_numpy(np.ascontiguousarray(store.array[rows]))
    return MappedImages(store, rows)

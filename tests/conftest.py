"""Shared fixtures: tiny generated datasets in memory and in the real file formats."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tinyvision.datasets import REGISTRY, DatasetSpec, ImageData
from tinyvision.datasets.mnist import BUNDLED_DIR, FILES

BUNDLED_MNIST = BUNDLED_DIR / "mnist"


def make_quadrant_images(n: int, size: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Four classes: a bright blob in one quadrant, on noise. Learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=g)
    images = torch.randint(0, 60, (n, 1, size, size), generator=g, dtype=torch.uint8)
    half = size // 2
    for k in range(4):
        r, c = (k // 2) * half, (k % 2) * half
        sel = labels == k
        images[sel, :, r + 1 : r + half - 1, c + 1 : c + half - 1] = 220
    return images, labels


def tiny_image_data(n_train: int = 512, n_test: int = 128) -> ImageData:
    x, y = make_quadrant_images(n_train, seed=1)
    xt, yt = make_quadrant_images(n_test, seed=2)
    return ImageData("tiny", ("nw", "ne", "sw", "se"), x, y, xt, yt)


def tiny_spec(data: ImageData | None = None) -> DatasetSpec:
    """The generated dataset as a registry entry (no recipe defaults: the tests choose)."""
    data = data if data is not None else tiny_image_data()
    return DatasetSpec("tiny", "folder", "resize", lambda data_dir, image_size: data, "generated quadrants")


@pytest.fixture
def tiny_dataset(monkeypatch: pytest.MonkeyPatch) -> str:
    """Registers the generated dataset as 'tiny' for the duration of a test."""
    monkeypatch.setitem(REGISTRY, "tiny", tiny_spec())
    return "tiny"


def fit_run(cfg, path: Path, callbacks=None, resume: bool = False, stop=None):
    """One training run in this process, saved to `path`, printing nothing: a `FitResult`."""
    from tinyvision.distributed import Distributed
    from tinyvision.progress import Progress
    from tinyvision.run_folder import RunFolder
    from tinyvision.training import Reporter, Saver, fit

    run = RunFolder(path)
    hooks = [Reporter(Progress(cfg.epochs, quiet=True)), Saver(run), *(callbacks or [])]
    return fit(cfg, run, hooks, Distributed(), resume=resume, stop=stop)


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


@pytest.fixture
def mnist_copy(tmp_path: Path) -> Path:
    """A plain folder holding a copy of the bundled MNIST files (gzipped)."""
    folder = tmp_path / "plain"
    folder.mkdir()
    for raw in FILES.values():
        shutil.copy(BUNDLED_MNIST / f"{raw}.gz", folder / f"{raw}.gz")
    return folder


@pytest.fixture(scope="module")
def mnist() -> tuple[np.ndarray, np.ndarray]:
    """MNIST test digits (never training digits) as float images in [0, 1], and their labels."""
    from tinyvision.datasets import load_dataset

    data = load_dataset("mnist")
    return data.test_images[:, 0].numpy().astype(np.float32) / 255.0, data.test_labels.numpy()


@pytest.fixture(scope="session")
def brief_digit_run(tmp_path_factory):
    """A real digit model of the default recipe, trained briefly (120 steps on the bundled MNIST, about 95% on
    its test set): trained once for the whole session and shared by the tests that read with it (predict,
    the server, the one path). Reading changes nothing in its folder."""
    import tinyvision

    run = tinyvision.train(out=tmp_path_factory.mktemp("brief") / "run", epochs=1, limit_batches=120, device="cpu",
                           progress=False, plots=False)
    assert run.metrics["test_acc"] > 0.9
    return run

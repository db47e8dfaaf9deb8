import shutil

import pytest
import torch

from conftest import BUNDLED_MNIST
from tinyvision.datasets import load_dataset, split_indices
from tinyvision.datasets.mnist import FILES
from tinyvision.errors import TinyVisionError


def test_bundled_mnist_loads_and_is_verified():
    data = load_dataset("mnist")
    assert data.train_images.shape == (60000, 1, 28, 28)
    assert data.test_images.shape == (10000, 1, 28, 28)
    assert data.train_images.dtype == torch.uint8
    assert data.classes == tuple("0123456789")
    assert torch.bincount(data.test_labels).tolist()[:3] == [980, 1135, 1032]  # the canonical counts


def test_data_dir_plain_folder(mnist_copy):
    data = load_dataset("mnist", mnist_copy)
    assert len(data.train_labels) == 60000


def test_data_dir_torchvision_layout_with_raw_files(tmp_path):
    import gzip

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILES.values():  # torchvision keeps both the .gz and the decompressed file
        (raw / name).write_bytes(gzip.decompress((BUNDLED_MNIST / f"{name}.gz").read_bytes()))
    data = load_dataset("mnist", tmp_path)
    assert len(data.test_labels) == 10000


def test_corrupt_file_is_refused_by_checksum(mnist_copy):
    import gzip

    path = mnist_copy / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[100] = (content[100] + 1) % 10  # a wrong label, structurally valid
    path.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(TinyVisionError, match="checksum mismatch"):
        load_dataset("mnist", mnist_copy)


def test_missing_file_is_named(mnist_copy):
    (mnist_copy / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(TinyVisionError, match="missing train-labels-idx1-ubyte"):
        load_dataset("mnist", mnist_copy)


def test_empty_or_absent_data_dir(tmp_path):
    with pytest.raises(TinyVisionError, match="no IDX files found"):
        load_dataset("mnist", tmp_path)
    with pytest.raises(TinyVisionError, match="not a folder"):
        load_dataset("mnist", tmp_path / "nope")
    shutil.rmtree(tmp_path)


def test_unknown_dataset():
    with pytest.raises(TinyVisionError, match="unknown dataset"):
        load_dataset("imagenet-22k")


def test_split_is_seeded_disjoint_and_complete():
    train, val = split_indices(1000, 0.1, seed=3)
    again_train, again_val = split_indices(1000, 0.1, seed=3)
    other_train, _ = split_indices(1000, 0.1, seed=4)
    assert len(val) == 100 and len(train) == 900
    assert torch.equal(train, again_train) and torch.equal(val, again_val)
    assert not torch.equal(train, other_train)
    assert sorted(torch.cat([train, val]).tolist()) == list(range(1000))
    with pytest.raises(TinyVisionError):
        split_indices(10, 1.0, seed=0)

"""CIFAR-10 from a generated archive in the official python format; unsafe pickles refused."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

import tinyvision.datasets.cifar10 as cifar10
from tinyvision.datasets import load_dataset
from tinyvision.datasets.download import RemoteFile
from tinyvision.errors import TinyVisionError


def batch_bytes(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": [i % 10 for i in range(n)],
             b"batch_label": b"fake"}
    return pickle.dumps(batch, protocol=2)


def make_archive(path, members: dict[str, bytes]) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def archive(tmp_path, monkeypatch):
    members = {name: batch_bytes(20, i) for i, name in enumerate((*cifar10.TRAIN_BATCHES, cifar10.TEST_BATCH))}
    path = tmp_path / "data" / cifar10.ARCHIVE.name
    path.parent.mkdir()
    md5 = make_archive(path, members)
    monkeypatch.setattr(cifar10, "ARCHIVE", RemoteFile(cifar10.ARCHIVE.name, md5, ()))
    return path


def test_archive_in_data_dir_loads(archive):
    data = load_dataset("cifar10", archive.parent)
    assert data.train_images.shape == (100, 3, 32, 32) and data.test_images.shape == (20, 3, 32, 32)
    assert data.classes[0] == "airplane" and data.train_labels[:3].tolist() == [0, 1, 2]


def test_extracted_folder_loads_the_same(archive, tmp_path):
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    a, b = load_dataset("cifar10", archive.parent), load_dataset("cifar10", tmp_path / "x")
    assert (a.train_images == b.train_images).all()


def test_damaged_archive_is_refused(archive):
    archive.write_bytes(archive.read_bytes()[:-100])
    with pytest.raises(TinyVisionError, match="checksum mismatch"):
        load_dataset("cifar10", archive.parent)


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path, monkeypatch):
    members = {name: batch_bytes(4, 0) for name in (*cifar10.TRAIN_BATCHES, cifar10.TEST_BATCH)}
    members["test_batch"] = pickle.dumps({b"data": Exploit(), b"labels": []}, protocol=2)
    path = tmp_path / cifar10.ARCHIVE.name
    monkeypatch.setattr(cifar10, "ARCHIVE", RemoteFile(path.name, make_archive(path, members), ()))
    with pytest.raises(TinyVisionError, match="refers to posix.system|refers to os.system|refers to nt.system"):
        load_dataset("cifar10", tmp_path)


def test_no_source_and_no_download_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYVISION_DATA", str(tmp_path))
    monkeypatch.setenv("TINYVISION_NO_DOWNLOAD", "1")
    with pytest.raises(TinyVisionError, match="cifar-10-python.tar.gz is not here.*by hand"):
        load_dataset("cifar10")

import gzip
import hashlib

import numpy as np
import pytest

from conftest import write_idx
from tinyvision.datasets.idx import parse_idx, read_idx
from tinyvision.errors import TinyVisionError


def test_reads_gzipped_and_raw_idx(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a", array, compress=True)
    write_idx(tmp_path / "b", array, compress=False)
    assert read_idx(tmp_path / "a.gz").tolist() == array.tolist()
    assert read_idx(tmp_path / "b").tolist() == array.tolist()


def test_md5_is_checked_on_decompressed_content(tmp_path):
    array = np.ones((5, 2), dtype=np.uint8)
    write_idx(tmp_path / "a", array)
    content = gzip.decompress((tmp_path / "a.gz").read_bytes())
    read_idx(tmp_path / "a.gz", md5=hashlib.md5(content).hexdigest())
    with pytest.raises(TinyVisionError, match="checksum mismatch"):
        read_idx(tmp_path / "a.gz", md5="0" * 32)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x08\x03\x00\x00" + b"\x00" * 20, "wrong magic number"),
        (b"\x00\x00\x0d\x01\x00\x00\x00\x01" + b"\x00" * 4, "type code"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x02", "header is truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", "truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01ab", "trailing bytes"),
    ],
)
def test_malformed_idx_is_refused(data, message):
    with pytest.raises(TinyVisionError, match=message):
        parse_idx(data)


def test_truncated_gzip_is_refused(tmp_path):
    write_idx(tmp_path / "a", np.zeros((100, 28, 28), dtype=np.uint8))
    blob = (tmp_path / "a.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(TinyVisionError, match="truncated or corrupt gzip"):
        read_idx(tmp_path / "cut.gz")

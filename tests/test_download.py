"""The downloader against a real HTTP server on 127.0.0.1 serving files this test makes."""

from __future__ import annotations

import gzip
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

import tinyvision.datasets.mnist as mnist_module
from conftest import write_idx
from tinyvision.datasets import load_dataset
from tinyvision.datasets.download import RemoteFile, download
from tinyvision.datasets.mnist import FASHION_MNIST, FILES
from tinyvision.errors import TinyVisionError

PAYLOAD = bytes(range(256)) * 400  # 100 KiB: several chunks


class Server:
    """Routes: /good/<name> (honours Range), /corrupt/<name>, /truncated/<name>, anything else 404."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.bytes_sent = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append((self.path, self.headers.get("Range")))
                _, kind, name = self.path.split("/", 2)
                if name not in server.files or kind not in ("good", "corrupt", "truncated"):
                    self.send_error(404)
                    return
                body = server.files[name]
                if kind == "corrupt":
                    body = bytes(b ^ 0xFF for b in body[:10]) + body[10:]
                start = 0
                rng = self.headers.get("Range")
                if kind == "good" and rng:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                send = body[start:]
                if kind == "truncated":  # promise everything, stop halfway, hang up
                    send = send[: len(send) // 2]
                    self.close_connection = True
                server.bytes_sent += len(send)  # counted first: the client may finish before write returns
                self.wfile.write(send)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server({"data.bin": PAYLOAD})
    yield s
    s.close()


def remote(server: Server, *kinds: str) -> RemoteFile:
    return RemoteFile("data.bin", hashlib.md5(PAYLOAD).hexdigest(), tuple(f"{server.url}/{k}/data.bin" for k in kinds))


def test_good_file_is_downloaded_verified_and_not_fetched_twice(server, tmp_path):
    path = download(remote(server, "good"), tmp_path, show_progress=False)
    assert path == tmp_path / "data.bin" and path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]  # no .part left behind
    download(remote(server, "good"), tmp_path, show_progress=False)
    assert len(server.requests) == 1


@pytest.mark.parametrize("first", ["corrupt", "missing"])
def test_bad_mirror_then_good_mirror(server, tmp_path, first):
    path = download(remote(server, first, "good"), tmp_path, show_progress=False)
    assert path.read_bytes() == PAYLOAD
    assert [p for p, _ in server.requests] == [f"/{first}/data.bin", "/good/data.bin"]


def test_transfer_that_stops_midway_is_resumed_from_the_next_mirror(server, tmp_path):
    path = download(remote(server, "truncated", "good"), tmp_path, show_progress=False)
    assert path.read_bytes() == PAYLOAD
    (_, first_range), (_, second_range) = server.requests
    assert first_range is None and second_range == f"bytes={len(PAYLOAD) // 2}-"
    assert server.bytes_sent == len(PAYLOAD)  # every byte crossed the wire once


def test_partial_file_from_an_earlier_run_is_resumed_with_range(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:30000])
    path = download(remote(server, "good"), tmp_path, show_progress=False)
    assert path.read_bytes() == PAYLOAD
    assert server.requests == [("/good/data.bin", "bytes=30000-")]
    assert server.bytes_sent == len(PAYLOAD) - 30000


def test_every_mirror_failing_names_the_urls_and_the_manual_route(server, tmp_path):
    with pytest.raises(TinyVisionError) as err:
        download(remote(server, "missing", "corrupt"), tmp_path, show_progress=False)
    message = str(err.value)
    assert f"{server.url}/missing/data.bin (HTTP 404)" in message
    assert f"{server.url}/corrupt/data.bin (checksum mismatch)" in message
    assert "by hand" in message and str(tmp_path) in message and "\n" not in message
    assert not (tmp_path / "data.bin").exists() and not (tmp_path / "data.bin.part").exists()


def test_downloads_can_be_refused(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYVISION_NO_DOWNLOAD", "1")
    with pytest.raises(TinyVisionError, match="TINYVISION_NO_DOWNLOAD"):
        download(remote(server, "good"), tmp_path, show_progress=False)
    assert server.requests == []


def test_fashion_mnist_downloads_into_the_cache_then_loads_from_it(tmp_path, monkeypatch):
    """The whole source chain: no data dir, empty cache, no system copy -> mirror -> cache."""
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (30, 28, 28)), "train_labels": np.arange(30) % 10,
        "test_images": rng.integers(0, 256, (10, 28, 28)), "test_labels": np.arange(10),
    }
    files, content_md5, gz_md5 = {}, {}, {}
    for key, raw in FILES.items():
        write_idx(tmp_path / raw, arrays[key])
        gz = (tmp_path / f"{raw}.gz").read_bytes()
        files[f"{raw}.gz"] = gz
        content_md5[raw] = hashlib.md5(gzip.decompress(gz)).hexdigest()
        gz_md5[raw] = hashlib.md5(gz).hexdigest()
    s = Server(files)
    try:
        import dataclasses

        spec = dataclasses.replace(FASHION_MNIST, md5=content_md5, gz_md5=gz_md5, system_dirs=(),
                                   mirrors=(f"{s.url}/missing/", f"{s.url}/good/"))
        monkeypatch.setattr(mnist_module, "FASHION_MNIST", spec)  # the registry reads it at load time
        monkeypatch.setenv("TINYVISION_DATA", str(tmp_path / "cache"))
        data = load_dataset("fashion-mnist")
        assert data.train_images.shape == (30, 1, 28, 28) and data.classes[-1] == "Ankle boot"
        assert (tmp_path / "cache" / "fashion-mnist" / "train-images-idx3-ubyte.gz").is_file()
        requests = len(s.requests)
        load_dataset("fashion-mnist")
        assert len(s.requests) == requests  # the second load never touches the network
    finally:
        s.close()

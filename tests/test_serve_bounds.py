"""The server's bounds: at most `workers` predictions at once, a bounded queue answered 503, a slow
body cut off with 408, threads that share one model without changing anything process-wide."""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import json
import logging
import socket
import threading
import time
import warnings

import httpx
import numpy as np
import pytest
import torch
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image, ImageFile

import tinyvision
from digit_photos import one_of_each_digit, untrained_digit_checkpoint, user_photos
from tinyvision import serve
from tinyvision.serve import ServeOptions, create_app, share_threads


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return untrained_digit_checkpoint(tmp_path_factory.mktemp("model") / "model.safetensors")


def photo(digit: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    style = ("dark-on-light-png", "dark-on-light-jpeg", "rgba-transparent-png")[seed % 3]
    return user_photos().user_photo(one_of_each_digit()[digit][0].numpy(), style, rng)


class LiveServer:
    """The app under a real uvicorn on a free loopback port, in a thread."""

    def __init__(self, app, http="auto") -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    http=http))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def test_at_most_workers_predictions_run_at_once_and_the_rest_wait_or_get_503(model_path, monkeypatch):
    model = tinyvision.load(model_path)
    real_predict, running, peak, lock = model.predict, [0], [0], threading.Lock()

    def counted_predict(data):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.3)  # long enough for every request to arrive while these run
            return real_predict(data)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(model, "predict", counted_predict)
    body = photo(3, 0)
    with LiveServer(create_app(model, ServeOptions(workers=2, queue=3))) as base, \
            concurrent.futures.ThreadPoolExecutor(16) as clients:
        replies = list(clients.map(lambda _: httpx.post(base + "/api/predict", content=body, timeout=60), range(16)))
        statuses = sorted(r.status_code for r in replies)
        assert peak[0] == 2  # two workers, both used, never more
        assert set(statuses) <= {200, 503} and statuses.count(200) >= 5  # 2 running + 3 queued at least
        assert all(r.headers["retry-after"] == "1" for r in replies if r.status_code == 503)
        assert httpx.post(base + "/api/predict", content=body, timeout=60).status_code == 200  # all places free again


def test_a_body_that_arrives_too_slowly_is_cut_off_with_408_and_frees_its_place(model_path):
    app = create_app(tinyvision.load(model_path), ServeOptions(workers=1, queue=0, body_seconds=1.0))
    with LiveServer(app) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                         b"Content-Length: 100000\r\n\r\n" + b"\x89PNG")  # ... and nothing more
            started = time.monotonic()
            reply = ""
            while "took over" not in reply and time.monotonic() - started < 5:  # headers and body may come apart
                chunk = slow.recv(4096).decode("latin-1")
                if not chunk:
                    break
                reply += chunk
            assert reply.startswith("HTTP/1.1 408") and "took over 1 s" in reply, reply
            assert time.monotonic() - started < 5
        assert httpx.post(base + "/api/predict", content=photo(1, 0), timeout=30).status_code == 200


class Trickle:
    """A client that sends a predict request's headers, then its body a byte at a time (slowloris)."""

    def __init__(self, port: int, length: int = 100_000, first: bytes = b"") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                          b"Content-Length: %d\r\n\r\n" % length + first)
        self.reply = b""

    def step(self, send: bool = True) -> bool:
        """One more byte (or none); whether the server has answered (and closed) by now."""
        try:
            if send:
                self.sock.sendall(b"\x00")
            self.sock.settimeout(0.01)
            while chunk := self.sock.recv(4096):
                self.reply += chunk
            return True
        except TimeoutError:
            return False
        except OSError:
            return True


def test_slow_uploads_hold_no_place_and_are_cut_off_for_their_pace(model_path, monkeypatch):
    from tinyvision import serve_uploads

    monkeypatch.setattr(serve_uploads, "GRACE_SECONDS", 1.0)
    app = create_app(tinyvision.load(model_path), ServeOptions(workers=1, queue=0, body_seconds=30.0))
    with LiveServer(app) as base:
        port = int(base.rsplit(":", 1)[1])
        slow = [Trickle(port) for _ in range(4)]  # four uploads at a few bytes a second, one place
        started = time.monotonic()
        for _ in range(3):
            time.sleep(0.2)
            [client.step() for client in slow]
        # Before, the first slow upload took the only place, and this was answered 503 for 30 s.
        reply = httpx.post(base + "/api/predict", content=photo(3, 0), timeout=30)
        assert reply.status_code == 200, reply.text
        while not all(client.step() for client in slow) and time.monotonic() - started < 20:
            time.sleep(0.2)
        assert time.monotonic() - started < 10  # cut off after the grace, not at body_seconds
        for client in slow:
            assert client.reply.startswith(b"HTTP/1.1 408") and b"too slowly" in client.reply, client.reply
            client.sock.close()


def test_bodies_arriving_and_waiting_share_one_memory_budget(model_path, monkeypatch):
    from tinyvision import serve_uploads

    monkeypatch.setattr(serve_uploads, "STALL_SECONDS", 1.5)
    options = ServeOptions(max_bytes=100_000, workers=1, queue=1)  # a budget of 200,000 bytes of bodies
    with LiveServer(create_app(tinyvision.load(model_path), options)) as base:
        port = int(base.rsplit(":", 1)[1])
        stalled = Trickle(port, length=100_000, first=b"\x89PNG" + bytes(89_996))  # 90,000 bytes, then nothing
        half = Trickle(port, length=100_000, first=bytes(60_000))
        time.sleep(0.5)
        junk = bytes(60_000)  # would take the bodies held past the budget: refused, though a place is free
        refused = httpx.post(base + "/api/predict", content=junk, timeout=30)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1", refused.text
        assert httpx.post(base + "/api/predict", content=photo(3, 1), timeout=30).status_code == 200  # 19 KB: fits
        deadline = time.monotonic() + 10
        while not stalled.step(send=False) and time.monotonic() < deadline:
            assert not half.step()  # `half` keeps sending, and is kept
            time.sleep(0.3)  # `stalled` has stopped: it is dropped, and gives its bytes back
        assert stalled.reply.startswith(b"HTTP/1.1 408"), stalled.reply
        again = httpx.post(base + "/api/predict", content=junk, timeout=30)
        assert again.status_code == 415, again.text  # within the budget now: read, and refused as no image
        for client in (stalled, half):
            client.sock.close()


def test_a_multipart_form_keeps_only_its_image_while_it_arrives():
    """The image of a 4 MB form costs about its own size (one buffer, filled as it arrives), not the body,
    the form's spooled file and the image read from it (three copies, as when the form was parsed after)."""
    import asyncio
    import tracemalloc

    from starlette.requests import Request

    from tinyvision.serve_uploads import BodyBudget, Holding, receive_image

    image = bytes(np.random.default_rng(0).integers(0, 256, 4_000_000, dtype=np.uint8))
    body = (b"--b0undary\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + image + b"\r\n--b0undary--\r\n")
    scope = {"type": "http", "method": "POST", "path": "/api/predict", "query_string": b"",
             "headers": [(b"content-type", b"multipart/form-data; boundary=b0undary"),
                         (b"content-length", str(len(body)).encode())]}
    pieces = [body[i:i + 65536] for i in range(0, len(body), 65536)]

    async def receive() -> dict:
        piece = bytes(memoryview(pieces.pop(0)))  # a new copy, as each read from a socket is
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    async def read() -> tuple[bytes, int]:
        tracemalloc.reset_peak()
        with Holding(BodyBudget(10_000_000)) as holding:
            image = await receive_image(Request(scope, receive), holding, 10_000_000, 30.0)
        return image, tracemalloc.get_traced_memory()[1]

    tracemalloc.start()
    try:
        got, peak = asyncio.run(read())
    finally:
        tracemalloc.stop()
    assert got == image
    assert peak < 1.5 * len(image), peak


def test_forms_that_are_costly_to_parse_are_refused_in_json_and_leave_no_log(model_path, caplog):
    client = TestClient(create_app(tinyvision.load(model_path)))
    good = photo(3, 1)

    def form(boundary: bytes, tail: bytes = b"--\r\n") -> bytes:
        return (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
                + good + b"\r\n--" + boundary + tail)

    long = b"b" * 300  # over python-multipart's 256 bytes: its parser refused to start, and the server said 500
    reply = client.post("/api/predict", content=form(long), headers={"content-type": "multipart/form-data; "
                                                                          "boundary=" + long.decode()})
    assert reply.status_code == 400 and "malformed multipart form" in reply.json()["error"], reply.text
    # Padding after a boundary is parsed a byte at a time (0.2 s a megabyte): refused once it has cost more
    # than an ordinary 10 MB form does many times over.
    padded = form(b"XyZ", b" " * 4_000_000)
    with caplog.at_level(logging.WARNING):
        reply = client.post("/api/predict", content=padded, headers={"content-type": "multipart/form-data; "
                                                                          "boundary=XyZ"})
        broken = client.post("/api/predict", content=b"junk before\r\n" + form(b"XyZ"),
                             headers={"content-type": "multipart/form-data; boundary=XyZ"})
    assert reply.status_code == 400 and "to parse" in reply.json()["error"], reply.text
    assert broken.status_code == 400
    assert not [r for r in caplog.records if r.name.startswith("python_multipart")]  # no log line per bad form
    ordinary = client.post("/api/predict", files={"image": ("a.png", good + bytes(3_000_000), "image/png")})
    assert ordinary.status_code == 200, ordinary.text  # 3 MB of ordinary form data: parsed at once


def test_a_prediction_thread_past_its_deadline_is_answered_503_and_keeps_its_place_until_it_ends(model_path,
                                                                                                  monkeypatch):
    model = tinyvision.load(model_path)
    real_predict, release = model.predict, threading.Event()

    def stuck_predict(data):
        release.wait(20)  # a prediction that runs on: a thread cannot be stopped
        return real_predict(data)

    monkeypatch.setattr(model, "predict", stuck_predict)
    app = create_app(model, ServeOptions(workers=1, queue=0, processes=False, predict_seconds=0.5))
    with LiveServer(app) as base:
        started = time.monotonic()
        late = httpx.post(base + "/api/predict", content=photo(3, 1), timeout=30)
        assert late.status_code == 503 and "took over 0.5 s" in late.json()["error"], late.text
        assert time.monotonic() - started < 5  # answered at its deadline, not when the thread ends
        held = httpx.post(base + "/api/predict", content=photo(3, 1), timeout=30)
        assert held.status_code == 503 and "busy" in held.json()["error"]  # the running thread keeps its place
        release.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            reply = httpx.post(base + "/api/predict", content=photo(3, 1), timeout=30)
            if reply.status_code != 503:
                break
            time.sleep(0.1)
        assert reply.status_code == 200, reply.text  # the place (and the body's bytes) given back
        assert app.state.budget.held == 0 and app.state.admission.inside == 0


def global_state() -> dict:
    return {
        "warning filters": list(warnings.filters), "truncated images": ImageFile.LOAD_TRUNCATED_IMAGES,
        "max image pixels": Image.MAX_IMAGE_PIXELS, "torch threads": torch.get_num_threads(),
        "grad enabled": torch.is_grad_enabled(), "numpy errors": np.geterr(),
    }


def test_threads_share_one_model_and_change_nothing_process_wide(model_path):
    model = tinyvision.load(model_path)
    assert not any(m.training for m in model.graph.modules())  # eval mode, once, when loaded
    bodies = [photo(d, seed) for seed in range(2) for d in range(10)]
    alone = [model.predict(b).to_dict() for b in bodies]
    before = global_state()
    client = TestClient(create_app(model, ServeOptions(workers=4, queue=40)))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda b: client.post("/api/predict?input=1&explain=1", content=b), bodies * 2))
    assert global_state() == before
    assert not any(m.training for m in model.graph.modules())
    for reply, expected in zip(together, alone * 2):
        assert reply.status_code == 200, reply.text
        got = reply.json()
        assert got["prediction"] == expected["prediction"]
        assert got["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-6)
        assert got["input_png"].startswith("data:image/png;base64,")


def test_an_app_started_again_after_shutdown_still_predicts(model_path):
    app = create_app(tinyvision.load(model_path), ServeOptions(workers=1, queue=2))
    for _ in range(2):  # each `with` runs the app's start-up and shutdown
        with TestClient(app) as client:
            assert client.post("/api/predict", content=photo(7, 1)).status_code == 200
    assert TestClient(app).post("/api/predict", content=photo(7, 1)).status_code == 200  # and without start-up


def test_torch_threads_are_divided_among_the_workers_once(monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.setattr(serve.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    try:
        assert share_threads(3) == 2 and torch.get_num_threads() == 2
        assert share_threads(16) == 1
        assert ServeOptions.with_defaults().workers == 8 and ServeOptions.with_defaults().queue == 16
        monkeypatch.setattr(serve.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
        assert ServeOptions.with_defaults().workers == 8  # memory stays bounded on a many-core machine
    finally:
        torch.set_num_threads(threads)


def test_image_bytes_read_from_a_form_name_the_field_when_it_is_wrong(model_path):
    client = TestClient(create_app(tinyvision.load(model_path)))
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buffer, format="PNG")
    for fields in ({"file": ("a.png", buffer.getvalue(), "image/png")},
                   {"image": ("a.png", buffer.getvalue(), "image/png"), "extra": ("b.png", b"x", "image/png")}):
        reply = client.post("/api/predict", files=fields)
        assert reply.status_code == 400 and "'image'" in reply.json()["error"], reply.text


@pytest.mark.parametrize("bad", [dict(workers=0), dict(workers=100_000), dict(queue=-1), dict(queue=10**6),
                                 dict(max_bytes=0), dict(predict_seconds=float("inf")),
                                 dict(predict_seconds=float("nan")), dict(predict_seconds=0.0)])
def test_bounds_out_of_range_are_refused_at_start(bad):
    with pytest.raises(tinyvision.TinyVisionError):
        ServeOptions.with_defaults(**bad)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes this connection (recv returns b"") within `seconds`."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_a_connection_that_never_finishes_its_headers_is_closed_and_connections_are_capped(model_path,
                                                                                          monkeypatch):
    from tinyvision import serve_connections

    monkeypatch.setattr(serve_connections, "HEADER_SECONDS", 0.5)
    monkeypatch.setattr(serve_connections, "MAX_CONNECTIONS", 4)
    app = create_app(tinyvision.load(model_path), ServeOptions(workers=1, queue=1))
    with LiveServer(app, http=serve_connections.BoundedH11Protocol) as base:
        port = int(base.rsplit(":", 1)[1])
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\n")  # and never the rest (slowloris)
        assert closed_within(slow, 5)
        held = []
        for _ in range(4):
            held.append(socket.create_connection(("127.0.0.1", port)))
            time.sleep(0.05)  # (opened in this order)
        # Past the cap, the connection that has waited longest for its headers makes room: refusing the newcomer
        # let one client holding the cap with idle sockets lock everyone else out.
        extra = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert closed_within(held[0], 2) and not closed_within(held[1], 0.2)
        extra.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        extra.settimeout(10)
        assert b" 200 " in extra.recv(4096)
        for sock in (slow, extra, *held):
            sock.close()
        time.sleep(0.2)
        reply = httpx.post(base + "/api/predict", content=photo(3, 0), timeout=30)
        assert reply.status_code == 200, reply.text  # the server still answers everyone else


def test_headers_trickled_after_a_kept_alive_request_are_cut_off_too(model_path, monkeypatch):
    from tinyvision import serve_connections

    monkeypatch.setattr(serve_connections, "HEADER_SECONDS", 1.0)
    app = create_app(tinyvision.load(model_path), ServeOptions(workers=1, queue=1))
    with LiveServer(app, http=serve_connections.BoundedH11Protocol) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")  # one good request, kept alive
            assert b" 200 " in slow.recv(4096)
            slow.sendall(b"GET /api/health HTTP/1.1\r\n")  # then the next one's headers, a byte now and then
            started, closed = time.monotonic(), False
            while time.monotonic() - started < 6 and not closed:
                time.sleep(0.25)
                try:
                    slow.sendall(b"X")
                    slow.settimeout(0.01)
                    closed = slow.recv(1) == b""
                except TimeoutError:
                    pass
                except OSError:  # reset or broken pipe: closed by the server
                    closed = True
            assert closed and time.monotonic() - started < 4  # the 1 s deadline, not uvicorn's 5 s keep-alive
        with httpx.Client(base_url=base, timeout=30) as client:  # a client that keeps its connection alive
            assert [client.get("/api/health").status_code for _ in range(2)] == [200, 200]
            time.sleep(1.5)  # idle past the header deadline: closed, and the client opens another
            assert client.post("/api/predict", content=photo(3, 0)).status_code == 200


@pytest.mark.parametrize("request_bytes", [
    b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nhello",
    b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\nhello",
    b"POST /api/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
    b"GARBAGE\r\n\r\n",
])
def test_a_request_http_cannot_parse_gets_a_json_400_and_no_log_line(model_path, request_bytes, caplog):
    # Each one also logged uvicorn's "Invalid HTTP request received.": a client chose how many lines to write.
    from tinyvision import serve_connections

    app = create_app(tinyvision.load(model_path), ServeOptions(workers=1, queue=1))
    with LiveServer(app, http=serve_connections.BoundedH11Protocol) as base:
        port = int(base.rsplit(":", 1)[1])
        uvicorn_log = logging.getLogger("uvicorn.error")  # uvicorn's own handler: it does not propagate
        uvicorn_log.addHandler(caplog.handler)
        try:
            with caplog.at_level(logging.WARNING), socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(request_bytes)
                reply = b""
                while chunk := sock.recv(4096):
                    reply += chunk
        finally:
            uvicorn_log.removeHandler(caplog.handler)
        assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 ") and b"content-type: application/json" in head.lower()
        assert json.loads(body)["error"].startswith("malformed HTTP request")


def test_a_client_that_never_reads_its_responses_is_dropped(model_path, monkeypatch):
    # Pipelined requests whose responses the client never reads: once the socket's buffers filled, the
    # response waited to drain for good, the header deadline never started, and the connection was held.
    from tinyvision import serve_connections

    monkeypatch.setattr(serve_connections, "WRITE_SECONDS", 1.0)
    app = create_app(tinyvision.load(model_path), ServeOptions(workers=1, queue=1))
    with LiveServer(app, http=serve_connections.BoundedH11Protocol) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"GET /static/app.js HTTP/1.1\r\nHost: x\r\n\r\n" * 400)  # and reads nothing
            time.sleep(4)  # the 1 s deadline, with room for a busy machine
            sock.settimeout(10)
            ended = False
            try:  # what was sent before the drop is still in the buffers; then the end, not more responses
                while sock.recv(1 << 16):
                    pass
                ended = True
            except ConnectionResetError:
                ended = True
            except TimeoutError:
                pass
            assert ended
        assert httpx.get(base + "/api/health", timeout=10).status_code == 200


def test_a_chunked_body_in_tiny_chunks_is_refused_and_one_in_usual_chunks_is_read(model_path):
    # A megabyte sent a byte a chunk kept the event loop busy for seconds, every other request waiting.
    from tinyvision import serve_connections

    app = create_app(tinyvision.load(model_path), ServeOptions(workers=1, queue=1))
    with LiveServer(app, http=serve_connections.BoundedH11Protocol) as base:
        port = int(base.rsplit(":", 1)[1])
        tiny = b"1\r\nX\r\n" * 100_000 + b"0\r\n\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            started = time.monotonic()
            with contextlib.suppress(OSError):  # the server answers and closes before it is all sent
                sock.sendall(tiny)
            reply = b""
            with contextlib.suppress(OSError):
                while chunk := sock.recv(4096):
                    reply += chunk
            assert time.monotonic() - started < 5
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 ") and "chunks" in json.loads(body)["error"]
        image = photo(3, 0)
        pieces = (image[i : i + 4096] for i in range(0, len(image), 4096))  # httpx sends each as a chunk
        assert httpx.post(base + "/api/predict", content=pieces, timeout=30).status_code == 200


def test_a_trailing_slash_is_a_json_404_and_health_answers_head(model_path):
    # Starlette redirected "/api/predict/" with a 307, an empty body and a Location from the Host header.
    client = TestClient(create_app(tinyvision.load(model_path), ServeOptions(workers=1, queue=1)))
    for method, path in (("POST", "/api/predict/"), ("GET", "/api/model/"), ("GET", "/api/health/")):
        reply = client.request(method, path, headers={"Host": "evil.example"}, follow_redirects=False)
        assert reply.status_code == 404 and "error" in reply.json() and "location" not in reply.headers
    assert client.head("/api/health").status_code == 200


def test_a_server_restarts_on_its_port_at_once_and_a_taken_port_is_one_line():
    from tinyvision.errors import TinyVisionError
    from tinyvision.serve import check_listen

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    with pytest.raises(TinyVisionError, match=f"cannot listen on 127.0.0.1:{port}"):
        check_listen("127.0.0.1", port)  # another server listens there
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server side closes first: its end lingers in TIME_WAIT, as after a stopped server
    client.close()
    listener.close()
    check_listen("127.0.0.1", port)  # a bare bind said "Address already in use" for a minute


def tiff_of_strips(rows: int, width: int = 8, strips: int | None = None, order: str = "<") -> bytes:
    """An uncompressed 8-bit gray TIFF, `width` x `rows`, a row a strip; `strips` offsets listed (default:
    one a row), every one pointing at the same row of dark ink on white."""
    import struct

    strips = rows if strips is None else strips
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    tags = 9
    row_at = 8 + 2 + 12 * tags + 4
    row = bytes([255] * (width // 2) + [0] * (width - width // 2))
    offsets_at = row_at + len(row)
    counts_at = offsets_at + 4 * strips
    entries = [(256, 4, 1, width), (257, 4, 1, rows), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, strips, offsets_at), (277, 3, 1, 1), (278, 4, 1, 1), (279, 4, strips, counts_at)]
    ifd = struct.pack(order + "H", tags) + b"".join(
        struct.pack(order + "HHI", tag, kind, count) + (struct.pack(order + "HH", value, 0) if kind == 3
                                                        else struct.pack(order + "I", value))
        for tag, kind, count, value in entries) + b"\x00" * 4
    return (magic + struct.pack(order + "I", 8) + ifd + row + struct.pack(order + "I", row_at) * strips
            + struct.pack(order + "I", width) * strips)


def test_a_tiff_listing_millions_of_strips_is_refused_at_once_and_an_ordinary_one_read(model_path):
    """A 2 MB TIFF listing 250,000 strips (one row of 8 pixels each, all at the same offset): Pillow made a
    Python tile of each strip and decoded them one by one, seconds and ~100 MB in a worker for a small file;
    at the 10 MB limit (2.4 million strips), 30 s and 0.8 GB a request, and two such uploads held both of
    the default server's workers until their deadline. It is answered 400 at once; a TIFF written a row a
    strip, as some scanners write them, is still read, in either byte order."""
    client = TestClient(create_app(tinyvision.load(model_path), ServeOptions(workers=1)))
    for order in "<>":
        ordinary = client.post("/api/predict", content=tiff_of_strips(600, width=400, order=order),
                               headers={"content-type": "image/tiff"})
        assert ordinary.status_code == 200, ordinary.text
    started = time.monotonic()
    reply = client.post("/api/predict", content=tiff_of_strips(250_000), headers={"content-type": "image/tiff"})
    assert time.monotonic() - started < 1, f"{time.monotonic() - started:.1f} s"
    assert reply.status_code == 400 and "250,000 strips" in reply.json()["error"], reply.text
    assert client.get("/api/health").json() == {"status": "ok"}


def rle8_bmp(w: int, h: int, runs: bytes) -> bytes:
    """An 8-bit run-length BMP of gray levels, w x h, of the given runs."""
    import struct

    palette = b"".join(bytes([v, v, v, 0]) for v in range(256))
    at = 14 + 40 + len(palette)
    return (b"BM" + struct.pack("<IHHI", at + len(runs), 0, 0, at)
            + struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(runs), 0, 0, 256, 0) + palette + runs)


def rle8_runs(pixels: np.ndarray) -> bytes:
    """A gray image's rows, bottom-up, as runs of one value, each row ended, then the bitmap."""
    runs = bytearray()
    for row in pixels[::-1]:
        x = 0
        while x < len(row):
            n = 1
            while x + n < len(row) and n < 255 and row[x + n] == row[x]:
                n += 1
            runs += bytes([n, row[x]])
            x += n
        runs += b"\x00\x00"  # end of the row
    return bytes(runs) + b"\x00\x01"  # end of the bitmap


def test_a_run_length_bmp_too_large_to_decode_quickly_is_refused_at_once_and_a_drawing_read(model_path):
    """Pillow decodes a run-length BMP in Python and pads each ended row byte by byte: a 19 KB BMP of 4600
    rows, each ended after its first pixel, held a worker for 3.6 s, and a 9.8 MB one of one-pixel runs for
    7 s; eighteen of those (176 MB, sent once) kept the default server answering everyone else 503, then
    nothing, for 95 s. Such a file is now answered 413 at once; a drawing saved as a run-length BMP is read."""
    client = TestClient(create_app(tinyvision.load(model_path), ServeOptions(workers=1)))
    drawing = np.full((300, 300), 255, np.uint8)
    drawing[60:240, 140:160] = 0  # a 1
    ordinary = client.post("/api/predict", content=rle8_bmp(300, 300, rle8_runs(drawing)),
                           headers={"content-type": "image/bmp"})
    assert ordinary.status_code == 200, ordinary.text
    bomb = rle8_bmp(4600, 4600, b"\x01\xff\x00\x00" * 4600 + b"\x00\x01")  # a white pixel, the row ended
    started = time.monotonic()
    reply = client.post("/api/predict", content=bomb, headers={"content-type": "image/bmp"})
    assert time.monotonic() - started < 1, f"{time.monotonic() - started:.1f} s"
    assert reply.status_code == 413 and "run-length BMP" in reply.json()["error"], reply.text
    assert client.get("/api/health").json() == {"status": "ok"}


def test_a_pnm_that_pillow_would_read_for_seconds_is_refused_at_once_and_an_ordinary_one_read(model_path):
    """Pillow cuts each comment out of a plain PNM's pixel data by copying its 1 MB block: a 1 MB file of
    empty comments held a worker 9 s, 3.5 MB its whole 30 s; it reads the header a byte at a time (10 MB of
    blanks: 2 s) and each value of a plain PGM in Python (9.7 MB: 5 s). Those are answered at once; a PGM
    with its writer's comment, and a small plain one, are read."""
    client = TestClient(create_app(tinyvision.load(model_path), ServeOptions(workers=1)))
    drawing = np.full((100, 100), 255, np.uint8)
    drawing[20:80, 45:55] = 0
    ordinary = {"binary": b"P5\n# CREATOR: GIMP PNM Filter Version 1.1\n100 100\n255\n" + drawing.tobytes(),
                "plain": b"P2\n100 100\n255\n" + " ".join(map(str, drawing.ravel())).encode() + b"\n"}
    for name, data in ordinary.items():
        reply = client.post("/api/predict", content=data, headers={"content-type": "image/x-portable-graymap"})
        assert reply.status_code == 200, (name, reply.text)
    hostile = {"comments": (b"P1\n100 100\n" + b"#\n" * 300_000 + b"0" * 10_000, 400, "comments"),
               "blank header": (b"P5\n" + b" " * 2_000_000 + b"100 100\n255\n" + drawing.tobytes(), 400, "header"),
               "plain values": (b"P2\n2000 1000\n255\n" + b"1 " * 2_000_000, 413, "values")}
    for name, (data, status, word) in hostile.items():
        started = time.monotonic()
        reply = client.post("/api/predict", content=data, headers={"content-type": "image/x-portable-graymap"})
        assert time.monotonic() - started < 1, (name, f"{time.monotonic() - started:.1f} s")
        assert reply.status_code == status and word in reply.json()["error"], (name, reply.text)
    assert client.get("/api/health").json() == {"status": "ok"}


def test_an_icon_of_thousands_of_entries_is_refused_at_once_and_an_ordinary_icon_read(model_path):
    """Pillow reads an icon's directory entry by entry in Python: a 1 MB icon listing 65,535 copies of one
    64x64 PNG took the server 1.7 s to answer (0.02 s for the same icon of one entry). It is answered 400
    at once; an icon of a few sizes is read."""
    import struct

    client = TestClient(create_app(tinyvision.load(model_path), ServeOptions(workers=1)))
    drawing = Image.new("L", (64, 64), 255)
    drawing.paste(0, (28, 10, 36, 54))
    buffer = io.BytesIO()
    drawing.save(buffer, format="ICO", sizes=[(16, 16), (32, 32), (64, 64)])
    assert client.post("/api/predict", content=buffer.getvalue()).status_code == 200
    buffer = io.BytesIO()
    drawing.save(buffer, format="PNG")
    png = buffer.getvalue()
    count = 65_535
    icon = (struct.pack("<HHH", 0, 1, count) + struct.pack("<BBBBHHII", 64, 64, 0, 0, 1, 32, len(png), 6 + 16 * count)
            * count + png)
    started = time.monotonic()
    reply = client.post("/api/predict", content=icon)
    assert time.monotonic() - started < 0.5, f"{time.monotonic() - started:.1f} s"
    assert reply.status_code == 400 and "65,535 images" in reply.json()["error"], reply.text

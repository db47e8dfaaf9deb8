"""The server's worker processes: the same answers as the model in this process, errors mapped to the
same statuses, a worker that dies costs one request (500) and is replaced, and workers end with the server."""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path

import httpx
import pytest
import torch

import tinyvision
from test_serve_bounds import LiveServer, photo
from tinyvision.serve import ServeOptions, create_app
from tinyvision.serve_workers import can_fork

pytestmark = pytest.mark.skipif(not can_fork(), reason="worker processes need fork()")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from digit_photos import untrained_digit_checkpoint

    return untrained_digit_checkpoint(tmp_path_factory.mktemp("model") / "model.safetensors")


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


def sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += stat.S_ISSOCK(os.stat(fd).st_mode)
        except OSError:
            pass
    return count


def test_worker_processes_answer_as_the_model_does_in_this_process(model_path):
    torch.ones(256, 256) @ torch.ones(256, 256)  # the parent has used torch's threads before the fork
    model = tinyvision.load(model_path)
    bodies = [photo(d, seed) for seed in range(2) for d in range(10)]
    alone = [model.predict(b).to_dict() for b in bodies]
    app = create_app(model, ServeOptions(workers=2, queue=8, processes=True))
    with LiveServer(app) as base:
        pids = app.state.workers.pids()
        assert len(pids) == 2 and os.getpid() not in pids
        for body, expected in zip(bodies, alone):
            reply = httpx.post(base + "/api/predict?input=1&explain=1", content=body, timeout=60)
            assert reply.status_code == 200, reply.text
            got = reply.json()
            assert got["prediction"] == expected["prediction"] and got.get("reason") == expected.get("reason")
            assert got["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-6)
            assert got["input_png"].startswith("data:image/png;base64,") and got["saliency_png"]
        not_image = httpx.post(base + "/api/predict", content=b"hello, not an image", timeout=30)
        assert not_image.status_code == 415 and "error" in not_image.json()
    assert not any(alive(pid) for pid in pids)  # the workers ended with the server


def test_a_worker_that_dies_costs_its_own_request_at_most_and_is_replaced(model_path):
    model = tinyvision.load(model_path)
    real_predict = model.predict

    def predict(data):
        if data == b"die":  # a crash inside a decoder, or the kernel's out-of-memory killer
            os._exit(3)
        return real_predict(data)

    model.predict = predict  # set before the fork: the workers inherit it
    app = create_app(model, ServeOptions(workers=2, queue=8, processes=True))
    with LiveServer(app) as base:
        died = httpx.post(base + "/api/predict", content=b"die", timeout=60)
        assert died.status_code == 500 and "exit code 3" in died.json()["error"]
        # A worker told to stop from outside: the server is not, though the worker inherited its signal set-up.
        victim = app.state.workers.pids()[0]
        os.kill(victim, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while alive(victim) and time.monotonic() < deadline:
            time.sleep(0.05)
        statuses = [httpx.post(base + "/api/predict", content=photo(d, 0), timeout=60).status_code for d in range(6)]
        # It died idle, answering no one: no request pays for it (the next two were answered 500 before).
        assert statuses == [200] * 6
        assert httpx.get(base + "/api/health", timeout=10).json() == {"status": "ok"}
        pids = app.state.workers.pids()
        assert len(pids) == 2 and victim not in pids and all(alive(p) for p in pids)
        # A worker forked while serving holds no socket but its own pipe: not the clients' connections.
        assert all(sockets(p) == 1 for p in pids)


def children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def test_the_command_serves_from_worker_processes_that_stop_on_a_signal_and_end_with_it(model_path, tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "tinyvision", "serve", str(model_path), "--port", str(port),
                               "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert httpx.post(base + "/api/predict", content=photo(4, 1), timeout=60).status_code == 200
        workers = children(server.pid)
        assert len(workers) == 2
        # SIGTERM to one worker ends that worker (not the server, whose signal handling it inherited).
        os.kill(workers[0], signal.SIGTERM)
        deadline = time.monotonic() + 10
        while alive(workers[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(workers[0])
        statuses = [httpx.post(base + "/api/predict", content=photo(d, 2), timeout=60).status_code for d in range(4)]
        assert statuses.count(200) >= 3 and server.poll() is None
        replaced = children(server.pid)
        assert len(replaced) == 2 and workers[0] not in replaced
        server.send_signal(signal.SIGTERM)
        server.wait(20)
        time.sleep(0.5)
        assert not any(alive(p) for p in replaced)  # the workers end with the server
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
    assert "2 worker processes" in server.stdout.read()



def test_a_prediction_past_its_deadline_is_stopped_with_503_and_its_worker_replaced(model_path):
    model = tinyvision.load(model_path)
    real_predict = model.predict

    def predict(data):
        if data == b"slow":  # a pathological input: the worker would be held for minutes
            time.sleep(120)
        return real_predict(data)

    model.predict = predict
    app = create_app(model, ServeOptions(workers=1, queue=4, processes=True, predict_seconds=1.0))
    with LiveServer(app) as base:
        before = app.state.workers.pids()
        started = time.monotonic()
        slow = httpx.post(base + "/api/predict", content=b"slow", timeout=60)
        assert slow.status_code == 503 and "took over 1 s" in slow.json()["error"]
        assert time.monotonic() - started < 10
        assert httpx.post(base + "/api/predict", content=photo(2, 0), timeout=60).status_code == 200
        after = app.state.workers.pids()
        assert len(after) == 1 and after != before and not alive(before[0])

"""Loopback load test of `tinyvision serve`: requests/s and latency under concurrent clients.

Starts the real server (`tinyvision serve`, a subprocess) on a free port of
127.0.0.1, then sends POST /api/predict requests from concurrent clients:
a mix of canvas-sized PNG drawings and 200-400 px user-style photos of MNIST
test digits. Prints JSON: requests/s, p50/p99 latency, errors and how many
predictions were right.

    python benchmarks/serve_load.py /tmp/tv-default --requests 2000 --clients 16
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from user_photos import STYLES, user_photo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def canvas_png(digit: np.ndarray) -> bytes:
    """What the page sends: a 280x280 PNG, black strokes on white."""
    ink = Image.fromarray(digit).resize((200, 200), Image.Resampling.BICUBIC)
    canvas = Image.new("L", (280, 280), 0)
    canvas.paste(ink, (40, 40))
    buffer = io.BytesIO()
    Image.fromarray(255 - np.asarray(canvas)).convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def payloads(count: int, seed: int = 0) -> list[tuple[bytes, str, str]]:
    from tinyvision.datasets import load_dataset

    data = load_dataset("mnist")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        digit, label = data.test_images[i, 0].numpy(), str(int(data.test_labels[i]))
        if i % 2 == 0:
            out.append((canvas_png(digit), "image/png", label))
        else:
            style = STYLES[(i // 2) % len(STYLES)]
            out.append((user_photo(digit, style, rng), "image/png" if style.endswith("png") else "image/jpeg", label))
    return out


async def load(url: str, bodies: list[tuple[bytes, str, str]], requests: int, clients: int) -> dict:
    latencies: list[float] = []
    errors = right = 0
    counter = iter(range(requests))

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors, right
        for i in counter:
            body, ctype, label = bodies[i % len(bodies)]
            start = time.perf_counter()
            try:
                response = await http.post(url, content=body, headers={"content-type": ctype})
                ok = response.status_code == 200
                right += ok and response.json()["prediction"] == label
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - start)
            errors += not ok

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        seconds = time.perf_counter() - start
    ms = sorted(1000 * t for t in latencies)
    return {
        "requests": requests, "clients": clients, "seconds": round(seconds, 2),
        "requests_per_second": round(requests / seconds, 1),
        "latency_ms_p50": round(statistics.median(ms), 1),
        "latency_ms_p99": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1),
        "latency_ms_max": round(ms[-1], 1),
        "errors": errors, "correct_predictions": right,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--distinct", type=int, default=200, help="distinct images, sent round-robin")
    args = parser.parse_args()

    bodies = payloads(args.distinct)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tinyvision", "serve", str(args.checkpoint),
                               "--port", str(port)], stdout=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.2)
        result = asyncio.run(load(base + "/api/predict", bodies, args.requests, args.clients))
        result["payload_kb_mean"] = round(sum(len(b) for b, _, _ in bodies) / len(bodies) / 1024, 1)
        result["server_alive_after"] = httpx.get(base + "/api/health").json() == {"status": "ok"}
    finally:
        server.terminate()
        server.wait(10)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

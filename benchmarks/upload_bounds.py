"""What uploads hold in `tinyvision serve`: places in the queue, and memory for a multipart form.

Three measurements, each against a reference in the same run:

- slow uploads: the real server (`tinyvision serve RUN`, a subprocess on a
  loopback port, default bounds) while SLOW clients send a predict request's
  headers and then its body a byte every two seconds, reconnecting each time
  they are answered. Meanwhile one ordinary client posts a photo of a digit
  every two seconds: how many of its requests were answered 200, and how
  long the slow clients were held before their 408. With `--before SRC`
  the same is run against another checkout's server (e.g. a worktree of the
  code before `serve_uploads`), one after the other;
- a form's memory, in this process: the peak Python-traced memory of
  reading one multipart upload of an image of each size, as the server reads
  it (`serve_uploads.receive_image`), against reading the whole body and
  then parsing the form with Starlette (`Request.form`), as the server did
  before; both fed the same 64 KiB pieces, each a fresh copy as a socket
  read gives;
- a burst of forms: BURST clients each posting a 9.7 MB form (a noise PNG)
  three times, with the server's peak resident memory over what it held
  before (VmHWM of the main process, reset before the burst) and what it
  still held 2 s after; then the same image as raw bodies. Each kind ROUNDS
  times, each on a freshly started server (what the allocator keeps varies
  from one burst to the next): the largest is the figure; `--before` as above.

    python benchmarks/upload_bounds.py /tmp/tta4/default-seed0 --before /tmp/s23/head/src
"""

from __future__ import annotations

import sys

# This folder leads sys.path when a script here runs; move it last, so that a
# benchmark named like a standard-library module cannot shadow that module.
sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import io  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402
from serve_load import Server, payloads, source_commit, status_mb  # noqa: E402

BOUNDARY = b"b0undary"
PIECE = 65536


def form_of(image: bytes) -> bytes:
    return (b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + image + b"\r\n--" + BOUNDARY + b"--\r\n")


def form_headers() -> dict:
    return {"content-type": "multipart/form-data; boundary=" + BOUNDARY.decode()}


# --- slow uploads ------------------------------------------------------------------------------------------

def trickle(port: int, stop: float, answers: list, held: list) -> None:
    """One slow client until `stop`: headers, then a byte every 2 s; reconnects once answered."""
    while time.monotonic() < stop:
        started = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                             b"Content-Length: 100000\r\n\r\n")
                sock.settimeout(2)
                while time.monotonic() < stop:
                    sock.sendall(b"\x00")
                    try:
                        reply = sock.recv(4096)
                    except TimeoutError:
                        continue
                    answers.append(reply.split(b" ")[1].decode() if reply else "closed")
                    held.append(time.monotonic() - started)
                    break
        except OSError:
            answers.append("reset")


def slow_uploads(server: Server, slow: int, seconds: float, photo: tuple[bytes, str, str]) -> dict:
    port = int(server.base.rsplit(":", 1)[1])
    stop = time.monotonic() + seconds
    answers, held = [], []
    threads = [threading.Thread(target=trickle, args=(port, stop, answers, held), daemon=True) for _ in range(slow)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # every slow client connected and trickling
    ordinary = []
    while time.monotonic() < stop - 2:
        reply = httpx.post(server.base + "/api/predict", content=photo[0], headers={"content-type": photo[1]},
                           timeout=30)
        ordinary.append(reply.status_code)
        time.sleep(2.0)
    for thread in threads:
        thread.join()
    return {
        "slow_clients": slow, "seconds": seconds,
        "ordinary_requests": len(ordinary), "ordinary_answered_200": ordinary.count(200),
        "ordinary_statuses": {str(s): ordinary.count(s) for s in sorted(set(ordinary))},
        "slow_answers": {a: answers.count(a) for a in sorted(set(answers))},
        "slow_held_median_s": round(statistics.median(held), 1) if held else None,
    }


# --- a form's memory ---------------------------------------------------------------------------------------

def traced_peak(image: bytes, streaming: bool) -> int:
    """Peak traced bytes of reading one form carrying `image`, fed as fresh 64 KiB pieces."""
    from starlette.requests import Request

    from tinyvision.serve_uploads import BodyBudget, Holding, receive_image

    body = form_of(image)
    scope = {"type": "http", "method": "POST", "path": "/api/predict", "query_string": b"",
             "headers": [(b"content-type", form_headers()["content-type"].encode()),
                         (b"content-length", str(len(body)).encode())]}
    pieces = [body[i:i + PIECE] for i in range(0, len(body), PIECE)]

    async def receive() -> dict:
        piece = bytes(memoryview(pieces.pop(0)))
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    async def whole_then_form(request: Request) -> bytes:
        data = b"".join([piece async for piece in request.stream()])

        async def replay() -> dict:
            return {"type": "http.request", "body": data, "more_body": False}

        form = await Request(request.scope, replay).form(max_files=1, max_fields=4)
        return await form["image"].read()

    async def read() -> tuple[bytes, int]:
        tracemalloc.reset_peak()
        request = Request(scope, receive)
        if streaming:
            with Holding(BodyBudget(10**9)) as holding:
                got = await receive_image(request, holding, 10**9, 60.0)
        else:
            got = await whole_then_form(request)
        return got, tracemalloc.get_traced_memory()[1]

    tracemalloc.start()
    try:
        got, peak = asyncio.run(read())
    finally:
        tracemalloc.stop()
    assert got == image
    return peak


def form_memory(sizes: list[int]) -> list[dict]:
    rows = []
    for size in sizes:
        image = bytes(np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8))
        streaming, whole = traced_peak(image, True), traced_peak(image, False)
        rows.append({"image_bytes": size, "streaming_peak_bytes": streaming, "whole_body_peak_bytes": whole,
                     "streaming_x_image": round(streaming / size, 2), "whole_body_x_image": round(whole / size, 2)})
        print(f"form of {size:,} bytes: {streaming / size:.2f}x the image as it arrives, "
              f"{whole / size:.2f}x parsed after the whole body", flush=True)
    return rows


# --- a burst of forms --------------------------------------------------------------------------------------

def noise_png(side: int) -> bytes:
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def burst(server: Server, clients: int, repeats: int, image: bytes, form: bool) -> dict:
    pid = server.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = status_mb(pid, "VmRSS")
    body, headers = (form_of(image), form_headers()) if form else (image, {"content-type": "image/png"})

    def client(_: int) -> list[int]:
        return [httpx.post(server.base + "/api/predict", content=body, headers=headers, timeout=120)
                .status_code for _ in range(repeats)]

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        statuses = [s for row in pool.map(client, range(clients)) for s in row]
    return {"clients": clients, "repeats": repeats, "form_bytes": len(body),
            "seconds": round(time.monotonic() - started, 1),
            "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
            "main_rss_before_mb": before, "main_peak_over_before_mb": round(status_mb(pid, "VmHWM") - before, 1)}


def bursts(checkpoint: Path, source: Path | None, args: argparse.Namespace, image: bytes, form: bool) -> dict:
    """`burst` on a freshly started server, args.rounds times: what the allocator keeps varies from one
    to the next, so the largest peak is the figure."""
    rounds = []
    for _ in range(args.rounds):
        server = Server(checkpoint, [], source)
        try:
            rounds.append(burst(server, args.burst, 3, image, form))
            time.sleep(2.0)  # idle again: what the burst left held
            rounds[-1]["main_after_over_before_mb"] = round(status_mb(server.process.pid, "VmRSS")
                                                            - rounds[-1]["main_rss_before_mb"], 1)
        finally:
            server.close()
    return {**rounds[0], "rounds": rounds,
            "main_peak_over_before_mb": max(r["main_peak_over_before_mb"] for r in rounds),
            "main_after_over_before_mb": max(r["main_after_over_before_mb"] for r in rounds)}


def serve_checks(checkpoint: Path, source: Path | None, args: argparse.Namespace, photo, image: bytes) -> dict:
    out = {"source": str(source) if source else "this checkout",
           "commit": source_commit(source) if source else None}
    server = Server(checkpoint, [], source)
    try:
        out["slow_uploads"] = slow_uploads(server, args.slow, args.seconds, photo)
        print(f"{out['source']}: slow uploads {out['slow_uploads']}", flush=True)
    finally:
        server.close()
    for kind, form in (("form_burst", True), ("raw_burst", False)):
        out[kind] = bursts(checkpoint, source, args, image, form)
        peaks = [(r["main_peak_over_before_mb"], r["main_after_over_before_mb"]) for r in out[kind]["rounds"]]
        print(f"{out['source']}: {kind}: peak and after, MB over idle: {peaks}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a run folder or model file to serve")
    parser.add_argument("--before", type=Path, help="another checkout's src folder, served the same way after")
    parser.add_argument("--slow", type=int, default=18, help="slow clients (default: 18, the default places)")
    parser.add_argument("--seconds", type=float, default=40.0, help="how long the slow clients keep at it")
    parser.add_argument("--burst", type=int, default=18, help="clients in the burst of forms")
    parser.add_argument("--rounds", type=int, default=3, help="bursts of each kind, each on a fresh server")
    parser.add_argument("--sizes", default="1000000,4000000,9700000", help="image sizes for the form's memory")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "upload_bounds.json")
    args = parser.parse_args()
    with recorded() as provenance:
        photo = payloads(2)[1]
        image = noise_png(1800)
        result = {"form_memory": form_memory([int(s) for s in args.sizes.split(",")]),
                  "servers": [serve_checks(args.checkpoint, None, args, photo, image)]}
        if args.before:
            result["servers"].append(serve_checks(args.checkpoint, args.before, args, photo, image))
    result["provenance"] = provenance
    print(f"wrote {write_results(args.out, result)}")


if __name__ == "__main__":
    main()

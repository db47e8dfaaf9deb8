"""Soak test of `tinyvision serve`: minutes of normal, hostile and malformed uploads on loopback.

Starts the real server (`tinyvision serve RUN`, a subprocess) on a free port
of 127.0.0.1 and keeps concurrent clients sending a weighted mix of:

- normal: canvas drawings and user-style photos (`serve_load.payloads`);
- bomb: 40-megapixel JPEGs, PNGs, GIFs, TIFFs the decoder takes, and
  decompression bombs, progressive JPEGs, lying icons it refuses (413);
- huge-declared: a Content-Length of 50 MB, refused before the body is read;
- chunked-oversize: a chunked body that passes the size limit on its way;
- slowloris: a body that stalls halfway (the server cuts it off with 408;
  the client gives up after --slow-timeout seconds);
- malformed: random bytes, truncated images, broken or mislabelled forms.

The server's resident memory is sampled from /proc/PID/status throughout.
Reports p50/p99 latency and status counts per kind, errors (5xx other than
503, and connections that failed), the memory over time (with a plot), and
whether the server is healthy after. Writes benchmarks/results/serve_soak.json
and serve_soak.png.

    python benchmarks/serve_soak.py /tmp/h5-fast              # 5 minutes
    python benchmarks/serve_soak.py /tmp/h5-fast --seconds 60
"""

from __future__ import annotations

import sys

# This folder leads sys.path when a script here runs; move it last, so that a
# benchmark named like a standard-library module cannot shadow that module.
sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402
from hostile_images import hostile_file  # noqa: E402
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402
from serve_load import MemorySampler, Server, payloads, percentile  # noqa: E402

# kind: (weight in the mix, statuses that are a right answer)
KINDS = {
    "normal": (60, {200, 400, 503}),  # 400: a photo whose digit the model abstains on, or no ink
    "bomb": (10, {200, 400, 413, 503}),
    "huge-declared": (5, {413, 503}),
    "chunked-oversize": (5, {413, 503}),
    "slowloris": (3, {408, 503}),
    "malformed": (17, {400, 413, 415, 422, 503}),
}
BOMBS = ("jpeg-40mp", "png-gray-40mp", "gif-40mp-transparent", "png-16bit-gray-32mp", "tiff-gray-40mp-deflate",
         "webp-4mp", "bmp-rle8-21mp", "png-rgba-6300x6300-bomb", "jpeg-40mp-progressive",
         "ico-hiding-6300x6300-png", "webp-40mp", "tiff-rgb-16mp-one-strip", "png-palette-alpha-40mp")
MAX_SLOW = 2  # slow clients at once: each holds a connection until its pace or its body timeout cuts it off


def malformed_bodies(normal: list[bytes], rng: random.Random) -> list[tuple[str, bytes, dict]]:
    """(description, body, headers): what broken clients and scanners send."""
    out = []
    for i in range(60):
        good = normal[i % len(normal)]
        choice = i % 6
        if choice == 0:
            out.append(("random bytes", rng.randbytes(rng.randint(0, 4000)), {"content-type": "image/png"}))
        elif choice == 1:
            out.append(("truncated image", good[: rng.randint(1, max(1, len(good) - 1))], {}))
        elif choice == 2:
            flipped = bytearray(good)
            for _ in range(rng.randint(1, 20)):
                flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            out.append(("bit flips", bytes(flipped), {"content-type": "image/jpeg"}))
        elif choice == 3:
            form = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
                    b"Content-Type: image/png\r\n\r\n" + good + b"\r\n--b--\r\n")
            out.append(("wrong form field", form, {"content-type": "multipart/form-data; boundary=b"}))
        elif choice == 4:
            out.append(("broken form", b"--b\r\nContent-Disp" + rng.randbytes(50),
                        {"content-type": "multipart/form-data; boundary=b"}))
        else:
            out.append(("text", b"GET / HTTP/1.1\r\n" * rng.randint(1, 50), {"content-type": "text/plain"}))
    return out


async def raw_request(port: int, head: bytes, body_parts: list[bytes], pause: float, timeout: float) -> int | str:
    """Send a request by hand (for what httpx will not send); the status, or why there was none."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    except (OSError, asyncio.TimeoutError) as exc:
        return f"connect: {type(exc).__name__}"
    try:
        writer.write(head)
        for part in body_parts:
            writer.write(part)
            await writer.drain()
            if pause:
                await asyncio.sleep(pause)
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            return "closed without an answer"
        return int(line.split()[1])
    except asyncio.TimeoutError:
        return "client timeout"
    except (OSError, ValueError, IndexError) as exc:
        return f"{type(exc).__name__}"
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


class Soak:
    def __init__(self, server: Server, args: argparse.Namespace) -> None:
        self.server, self.args = server, args
        self.rng = random.Random(args.seed)
        self.normal = payloads(args.distinct)
        self.bombs = [(name, hostile_file(name, args.cache)) for name in BOMBS]
        self.malformed = malformed_bodies([b for b, _, _ in self.normal], self.rng)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.unexpected: list[str] = []
        self.slow_now = 0

    def record(self, kind: str, status: int | str, seconds: float, what: str) -> None:
        self.latency[kind].append(1000 * seconds)
        self.statuses[kind][str(status)] += 1
        if status not in KINDS[kind][1] and len(self.unexpected) < 50:
            self.unexpected.append(f"{kind} ({what}): {status}")

    async def one(self, http: httpx.AsyncClient, kind: str) -> float:
        """Send one request of `kind`; seconds to wait before the next (Retry-After after a 503)."""
        url, port = self.server.base + "/api/predict", self.server.port
        start = time.perf_counter()
        what, status = kind, None
        if kind in ("normal", "bomb", "malformed"):
            if kind == "normal":
                body, ctype, _ = self.rng.choice(self.normal)
                headers = {"content-type": ctype}
            elif kind == "bomb":
                what, body = self.rng.choice(self.bombs)
                headers = {"content-type": "application/octet-stream"}
            else:
                what, body, headers = self.rng.choice(self.malformed)
            try:
                response = await http.post(url, content=body, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                status = f"{type(exc).__name__}"
        elif kind == "huge-declared":
            head = (b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                    b"Content-Length: 50000000\r\n\r\n")
            status = await raw_request(port, head, [b"\x89PNG\r\n\x1a\n" + bytes(8192)], 0, 30)
        elif kind == "chunked-oversize":
            head = b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            chunk = b"%x\r\n" % (1 << 20) + bytes(1 << 20) + b"\r\n"
            status = await raw_request(port, head, [chunk] * 12, 0, 30)  # 12 MB > the 10 MB limit
        else:  # slowloris: half a body, a byte now and then, then nothing
            head = (b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                    b"Content-Length: 20000\r\n\r\n")
            status = await raw_request(port, head, [b"\x89PNG"] + [b"\x00"] * 5, 1.0, self.args.slow_timeout)
        self.record(kind, status, time.perf_counter() - start, what)
        return 1.0 if status == 503 else 0.0

    def pick(self) -> str:
        kinds = [k for k in KINDS if k != "slowloris" or self.slow_now < MAX_SLOW]
        return self.rng.choices(kinds, weights=[KINDS[k][0] for k in kinds])[0]

    async def client(self, http: httpx.AsyncClient, end: float) -> None:
        while time.monotonic() < end:
            kind = self.pick()
            self.slow_now += kind == "slowloris"
            try:
                wait = await self.one(http, kind)
            finally:
                self.slow_now -= kind == "slowloris"
            if wait:
                await asyncio.sleep(wait)

    async def run(self) -> float:
        limits = httpx.Limits(max_connections=self.args.clients, max_keepalive_connections=self.args.clients)
        async with httpx.AsyncClient(limits=limits, timeout=120) as http:
            start = time.perf_counter()
            end = time.monotonic() + self.args.seconds
            await asyncio.gather(*(self.client(http, end) for _ in range(self.args.clients)))
            return time.perf_counter() - start

    def report(self) -> dict:
        kinds = {}
        for kind, latencies in sorted(self.latency.items()):
            kinds[kind] = {"requests": len(latencies), "statuses": dict(sorted(self.statuses[kind].items())),
                           "latency_ms_p50": round(statistics.median(latencies), 1),
                           "latency_ms_p99": percentile(latencies, 0.99),
                           "latency_ms_max": round(max(latencies), 1)}
        errors = sum(n for counts in self.statuses.values() for s, n in counts.items() if is_error(s))
        return {"kinds": kinds, "errors": errors, "unexpected": self.unexpected}


def is_error(status: str) -> bool:
    """A server error (5xx, but not the 503 that says busy), or no answer at all (a failed or dropped
    connection, or a stalled client still unanswered after --slow-timeout)."""
    return not status.isdigit() or (int(status) >= 500 and status != "503")


def plot_memory(samples: list[tuple[float, float, float]], idle: tuple[float, float], path: Path,
                title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.6), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    times = [t for t, _, _ in samples]
    ax.plot(times, [rss for _, rss, _ in samples], lw=1, color="tab:blue",
            label="RSS summed over server + workers (shared pages counted per process)")
    ax.plot(times, [pss for _, _, pss in samples], lw=1, color="tab:green", label="PSS summed (shared pages once)")
    ax.axhline(1500, color="tab:red", ls="--", lw=1, label="1.5 GB target")
    ax.axhline(idle[0], color="gray", ls=":", lw=1, label=f"idle RSS sum ({idle[0]:.0f} MB)")
    ax.set_xlabel("seconds")
    ax.set_ylabel("memory (MB)")
    ax.set_ylim(0, max(1600, max(rss for _, rss, _ in samples) * 1.1))
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a run folder (or model file) to serve")
    parser.add_argument("--seconds", type=float, default=300, help="how long to soak (default 5 minutes)")
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--slow-timeout", type=float, default=45, help="when a stalled client gives up")
    parser.add_argument("--distinct", type=int, default=100, help="distinct normal images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/tinyvision-hostile"), help="hostile files")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "serve_soak.json")
    args = parser.parse_args()

    with recorded() as prov:
        server = Server(args.checkpoint, [])
        try:
            soak = Soak(server, args)
            sampler = MemorySampler(server.process.pid, every=0.5)
            idle = sampler.now()
            with sampler:
                seconds = asyncio.run(soak.run())
                time.sleep(1)
            result = {"seconds": round(seconds, 1), "clients": args.clients, **soak.report(),
                      "server_alive_after": server.healthy(), **sampler.figures(idle)}
            post = httpx.post(server.base + "/api/predict", content=soak.normal[0][0], timeout=60)
            result["predicts_after"] = post.status_code == 200
        finally:
            log = server.close()
        result["requests"] = sum(k["requests"] for k in result["kinds"].values())
        result["server_log_tail"] = log.strip().splitlines()[-5:]
        result["memory_mb_over_time"] = sampler.samples[:: max(1, len(sampler.samples) // 600)]
    result["provenance"] = prov
    plot = args.out.with_suffix(".png")
    load = prov["load_average_before"]
    plot_memory(sampler.samples, idle, plot, f"tinyvision serve, {args.seconds:.0f} s soak, {args.clients} clients "
                f"(load before {load[0] if load else '?'})")
    result["plot"] = plot.name
    write_results(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k not in ("provenance", "memory_mb_over_time")}, indent=2))


if __name__ == "__main__":
    main()

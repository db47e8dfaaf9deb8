"""Loopback load test of `tinyvision serve`: requests/s, latency and memory under concurrent clients.

Starts the real server (`tinyvision serve RUN`, a subprocess) on a free port
of 127.0.0.1, then sends POST /api/predict requests from concurrent clients
and samples the server's memory throughout: RSS and PSS summed over its
process tree (the server and its prediction worker processes, which share
the loaded model's pages; summed RSS counts those pages once per process).

- `--payload normal`: canvas-sized PNG drawings and 200-400 px user-style
  photos of MNIST test digits. A client told 503 (every worker busy, the
  queue full) waits the Retry-After seconds and sends the request again, as
  a polite client does; requests/s counts answered predictions. The clients
  are keep-alive connections on asyncio streams (`--client raw`), since
  httpx's async client would take about one of this machine's two cores
  from the server under test (`--client httpx` measures with it).
- `--payload bombs`: 40-megapixel JPEGs and PNGs, PNG and ICO decompression
  bombs, progressive JPEGs (`hostile_images.py`), each sent once; every one
  must be answered 200, 413 or 503 within 60 s, and the server must stay
  healthy and within its memory bound.

Writes JSON to benchmarks/results/serve_load.json (serve_load_bombs.json).

    python benchmarks/serve_load.py /tmp/h5-fast --requests 2000 --clients 16
    python benchmarks/serve_load.py /tmp/h5-fast --payload bombs --requests 16 --clients 16
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
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from hostile_images import hostile_file  # noqa: E402
from PIL import Image  # noqa: E402
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402
from user_photos import STYLES, user_photo  # noqa: E402

BOMBS = ("jpeg-40mp", "png-gray-40mp", "png-rgba-6300x6300-bomb", "jpeg-40mp-progressive", "png-palette-alpha-40mp",
         "jpeg-40mp-cmyk", "png-16bit-gray-40mp", "ico-hiding-6300x6300-png")
ANSWER_SECONDS = 60  # the longest a hostile upload may wait for its answer


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
    """(body, content type, true label) for `count` normal uploads."""
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


def bomb_payloads(cache: Path) -> list[tuple[bytes, str, str]]:
    """(body, content type, case name) for each hostile case."""
    return [(hostile_file(name, cache), "application/octet-stream", name) for name in BOMBS]


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (the server and its worker processes)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def status_mb(pid: int, field: str) -> float | None:
    """A /proc/PID/status field (VmRSS, VmHWM) in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        return None
    return None


def pss_mb(pid: int) -> float | None:
    """Proportional set size in MB: each shared page counted once across the processes sharing it."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        return None
    return None


class MemorySampler:
    """Samples the server's memory every `every` seconds in a thread, over its whole process tree.

    With worker processes, summed RSS counts every page the workers share with the
    server (torch's libraries, the weights) once per process: an over-count. Summed
    PSS divides each shared page among its sharers: what the server costs the machine.
    Both are recorded; samples are (seconds since start, RSS sum MB, PSS sum MB).
    """

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float, float]] = []
        self.hwm: dict[int, float] = {}  # each process's own peak RSS (the kernel's VmHWM), last seen
        self.stop = threading.Event()
        self.start = time.monotonic()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def now(self) -> tuple[float, float]:
        """(RSS sum, PSS sum) in MB over the tree now; also notes each process's peak."""
        rss = pss = 0.0
        for pid in process_tree(self.pid):
            r, p, h = status_mb(pid, "VmRSS"), pss_mb(pid), status_mb(pid, "VmHWM")
            rss, pss = rss + (r or 0.0), pss + (p or 0.0)
            if h is not None:
                self.hwm[pid] = max(h, self.hwm.get(pid, 0.0))
        return round(rss, 1), round(pss, 1)

    def run(self) -> None:
        while not self.stop.is_set():
            rss, pss = self.now()
            if rss:
                self.samples.append((round(time.monotonic() - self.start, 2), rss, pss))
            self.stop.wait(self.every)

    def figures(self, idle: tuple[float, float], prefix: str = "server") -> dict:
        """The memory figures of a result: idle, peak and after, RSS and PSS summed over the tree."""
        rss_after, pss_after = self.now()
        return {
            f"{prefix}_processes": len(process_tree(self.pid)),
            f"{prefix}_rss_mb_idle": idle[0], f"{prefix}_pss_mb_idle": idle[1],
            # Each process's own kernel peak mark, summed: a bound on the sum's peak (peaks need not meet).
            f"{prefix}_rss_mb_peak": round(sum(self.hwm.values()), 1),
            f"{prefix}_pss_mb_peak": max([pss for _, _, pss in self.samples] + [pss_after]),  # sampled
            f"{prefix}_rss_mb_after": rss_after, f"{prefix}_pss_mb_after": pss_after,
        }

    def __enter__(self) -> MemorySampler:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


class Server:
    """`tinyvision serve` in a subprocess on a free loopback port."""

    def __init__(self, checkpoint: Path, extra: list[str], source: Path | None = None) -> None:
        """`source`: another checkout's `src` folder, whose tinyvision is served instead of this one's."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(source)} if source else None
        self.process = subprocess.Popen([sys.executable, "-m", "tinyvision", "serve", str(checkpoint),
                                         "--port", str(self.port), *extra],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + 90
        while not self.healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise SystemExit(f"server did not start: {self.process.stdout.read()[-2000:]}")
            time.sleep(0.2)

    def healthy(self) -> bool:
        try:
            return httpx.get(self.base + "/api/health", timeout=5).json() == {"status": "ok"}
        except (httpx.HTTPError, ValueError):
            return False

    def close(self) -> str:
        """Stop the server; what it printed."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.stdout.read() if self.process.stdout else ""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else float("nan")


class RawConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams, for the `raw` client.

    httpx's async client spends about a core of this 2-core machine on 16
    clients' bookkeeping, so the server under test would get one core; these
    few lines of protocol cost a fraction of that. Responses are read by
    Content-Length (the server's JSON replies always carry it); a connection
    the server closed is opened again.
    """

    def __init__(self, url: str) -> None:
        parsed = urlsplit(url)
        self.host, self.port, self.path = parsed.hostname, parsed.port, parsed.path
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, body: bytes, ctype: str) -> tuple[int, dict[str, str], bytes]:
        head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
        for attempt in range(2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                self.writer.write(head + body)
                await self.writer.drain()
                status_line = await self.reader.readline()
                if not status_line:
                    raise ConnectionResetError("the server closed the connection")
                headers = {}
                while (line := await self.reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                payload = await self.reader.readexactly(int(headers.get("content-length", "0")))
                if headers.get("connection", "").lower() == "close":
                    self.close()
                return int(status_line.split()[1]), headers, payload
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")


async def load(url: str, bodies: list[tuple[bytes, str, str]], requests: int, clients: int,
               retry_busy: bool, raw: bool = False) -> dict:
    """`clients` concurrent clients send `requests` uploads between them; `raw`: on `RawConnection`s
    instead of one shared httpx client."""
    latencies: list[float] = []  # ms, from first send to the final answer (retries included)
    statuses: Counter = Counter()  # every response, 503s before a retry included
    by_case: dict[str, Counter] = {}
    slowest: dict[str, float] = {}
    failures: list[str] = []
    right = 0
    counter = iter(range(requests))

    async def send(http: httpx.AsyncClient | RawConnection, body: bytes, ctype: str) -> tuple[int, dict, bytes]:
        if isinstance(http, RawConnection):
            try:
                return await asyncio.wait_for(http.post(body, ctype), 2 * ANSWER_SECONDS)
            except asyncio.TimeoutError:
                http.close()  # a late answer must not be read as the next request's
                raise
        response = await http.post(url, content=body, headers={"content-type": ctype})
        return response.status_code, response.headers, response.content

    async def client(http: httpx.AsyncClient | RawConnection) -> None:
        nonlocal right
        for i in counter:
            body, ctype, label = bodies[i % len(bodies)]
            start = time.perf_counter()
            while True:
                try:
                    status, headers, payload = await send(http, body, ctype)
                except (httpx.HTTPError, OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
                    status = f"{type(exc).__name__}"
                    failures.append(f"{label}: {type(exc).__name__} {exc}"[:200])
                statuses[str(status)] += 1
                if status == 503 and retry_busy:
                    await asyncio.sleep(float(headers.get("retry-after", "1")))
                    continue
                break
            seconds = time.perf_counter() - start
            latencies.append(1000 * seconds)
            by_case.setdefault(label, Counter())[str(status)] += 1
            slowest[label] = max(slowest.get(label, 0.0), round(seconds, 2))
            if status == 200:
                right += json.loads(payload).get("prediction") == label

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=2 * ANSWER_SECONDS) as http:
        connections = [RawConnection(url) if raw else http for _ in range(clients)]
        start = time.perf_counter()
        await asyncio.gather(*(client(c) for c in connections))
        seconds = time.perf_counter() - start
        for c in connections:
            if isinstance(c, RawConnection):
                c.close()
    answered = statuses.get("200", 0)
    return {
        "requests": requests, "clients": clients, "seconds": round(seconds, 2),
        "requests_per_second": round(answered / seconds, 1),
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p99": percentile(latencies, 0.99),
        "latency_ms_max": round(max(latencies), 1),
        "statuses": dict(sorted(statuses.items())),
        "errors": sum(n for s, n in statuses.items() if not s.isdigit() or (int(s) >= 500 and s != "503")),
        "correct_predictions": right, "by_case": {k: dict(v) for k, v in by_case.items()},
        "slowest_seconds_by_case": slowest, "failures": failures[:20],
    }


def measure(checkpoint: Path, extra: list[str], bodies: list[tuple[bytes, str, str]], args: argparse.Namespace,
            raw: bool, source: Path | None = None) -> dict:
    """One server started, loaded, sampled and stopped: the load's figures and the server's memory."""
    server = Server(checkpoint, extra, source)
    try:
        sampler = MemorySampler(server.process.pid)
        idle = sampler.now()
        with sampler:
            result = asyncio.run(load(server.base + "/api/predict", bodies, args.requests, args.clients,
                                      retry_busy=args.payload != "bombs", raw=raw))
            time.sleep(0.5)
        result["server_alive_after"] = server.healthy()
        result.update(sampler.figures(idle))
    finally:
        log = server.close()
    result["server_log"] = log.strip().splitlines()[:5]
    return result


def median_rate(results: list[dict]) -> float:
    return statistics.median(r["requests_per_second"] for r in results)


def source_commit(source: Path) -> str | None:
    """The commit of the checkout a `src` folder belongs to, when git can tell."""
    try:
        return subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a run folder (or model file) to serve")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--payload", choices=("normal", "bombs"), default="normal")
    parser.add_argument("--distinct", type=int, default=200, help="distinct normal images, sent round-robin")
    parser.add_argument("--workers", type=int, help="passed to tinyvision serve (default: its own)")
    parser.add_argument("--queue", type=int, help="passed to tinyvision serve (default: its own)")
    parser.add_argument("--no-processes", action="store_true",
                        help="passed to tinyvision serve: predictions in threads of one process")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/tinyvision-hostile"), help="hostile files")
    parser.add_argument("--out", type=Path, help="results file (default: benchmarks/results/serve_load*.json)")
    parser.add_argument("--reference-src", type=Path,
                        help="normal payloads: also serve the tinyvision of this `src` folder (another checkout, "
                             "e.g. the previous commit's), alternating with this one for --rounds rounds each, "
                             "and report both and their ratio: one machine, one time, one client")
    parser.add_argument("--reference-checkpoint", type=Path,
                        help="the run the reference serves (default: CHECKPOINT), for code that cannot read "
                             "this code's runs: each serves the default model of its own recipe")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per server with --reference-src")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="normal payloads: keep-alive connections on asyncio streams (raw), which leave the "
                             "server the cores, or httpx's async client, which takes about one of them")
    args = parser.parse_args()

    bombs = args.payload == "bombs"
    bodies = bomb_payloads(args.cache) if bombs else payloads(args.distinct)
    extra = [flag for name in ("workers", "queue") if getattr(args, name) is not None
             for flag in (f"--{name}", str(getattr(args, name)))]
    if args.no_processes:
        extra.append("--no-processes")
    raw = args.client == "raw" and not bombs
    with recorded() as prov:
        if args.reference_src and not bombs:
            rounds: dict[str, list[dict]] = {"reference": [], "current": []}
            for _ in range(args.rounds):  # alternating, so that drift in the machine's speed hits both
                for side, source, run in (("reference", args.reference_src, args.reference_checkpoint),
                                          ("current", None, None)):
                    rounds[side].append(measure(run or args.checkpoint, extra, bodies, args, raw, source))
            # The figures in full are the current server's middle round's; the ratio compares medians.
            result = sorted(rounds["current"], key=lambda r: r["requests_per_second"])[args.rounds // 2]
            result["reference"] = {
                "src": str(args.reference_src), "git_commit": source_commit(args.reference_src),
                "checkpoint": str(args.reference_checkpoint or args.checkpoint),
                "server_log": rounds["reference"][0]["server_log"],
                "correct_predictions": [r["correct_predictions"] for r in rounds["reference"]],
                "requests_per_second": [r["requests_per_second"] for r in rounds["reference"]],
                "latency_ms_p99": [r["latency_ms_p99"] for r in rounds["reference"]],
                "errors": [r["errors"] for r in rounds["reference"]],
            }
            result["current_requests_per_second"] = [r["requests_per_second"] for r in rounds["current"]]
            result["ratio_to_reference"] = round(median_rate(rounds["current"]) / median_rate(rounds["reference"]), 2)
        else:
            result = measure(args.checkpoint, extra, bodies, args, raw)
        result["payload"] = args.payload
        result["client"] = "raw" if raw else "httpx"
        result["payload_kb_mean"] = round(sum(len(b) for b, _, _ in bodies) / len(bodies) / 1024, 1)
    if bombs:
        answered = {s for case in result["by_case"].values() for s in case}
        result["all_answered_200_413_503"] = answered <= {"200", "413", "503"}
        result["all_within_seconds"] = max(result["slowest_seconds_by_case"].values()) <= ANSWER_SECONDS
    result["provenance"] = prov
    out = args.out or RESULTS_DIR / ("serve_load_bombs.json" if bombs else "serve_load.json")
    write_results(out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "provenance"}, indent=2))


if __name__ == "__main__":
    main()

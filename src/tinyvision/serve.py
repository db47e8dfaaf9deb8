"""The web app: a draw-a-number page and a JSON prediction API (FastAPI + uvicorn).

    GET  /               the page (HTML/JS/CSS shipped in tinyvision/web, no CDN)
    GET  /api/health     {"status": "ok"}
    GET  /api/model      model name, dataset, classes, input shape, test accuracy
    POST /api/predict    an image as the raw body, or as the multipart field "image";
                         ?input=1 adds the input the model saw as a PNG data URL,
                         ?explain=1 the saliency over it (where the evidence lies)
    GET  /openapi.json   the API described: endpoints, bodies, errors

Errors are JSON {"error": "..."}: 413 for a body over the size limit or an
image too large to decode, 415 for bytes that are not an image, 400 for an
empty body, a corrupt or tiny image or a malformed form (a blank page is answered "not a
digit"), 408 for a body that arrives too slowly (`serve_uploads`: past
`body_seconds`, or under its pace), 503 (with Retry-After) when every worker
is busy and the queue is full, or when the bodies the server holds would pass
their budget, or for a prediction past `predict_seconds` (a worker process
is replaced; a thread, which cannot be stopped, keeps its place until it
ends); with worker processes, 500 for one whose worker died (it is
replaced). FastAPI's own 404, 405 and 422 have the same shape. A bad request
never takes the server down.

Bounded by design: at most `workers` predictions run at once; at most `queue`
more requests wait, each with its whole body; any other is answered 503 at
once, its body dropped. A body is read before its request takes a place, so a
slow upload holds no place; the bytes of every body, arriving or waiting,
count against one budget of (workers + queue) x max_bytes. The predictions
run in forked worker processes when `processes` is set (`serve_workers`: a
request's work mostly holds the GIL, so threads would share one core; the
CLI's default where fork exists), else in threads, each with its share of
torch's threads (divided once, at start). Each decode is bounded by the
decoder's own limits (`image.decode`), so memory stays within workers x one
decode + (workers + queue) x max_bytes of bodies (each gathered in one buffer
as it arrives; a multipart form keeps only its image).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from importlib.resources import files
from typing import Any

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from tinyvision.classifier import Model
from tinyvision.errors import TinyVisionError
from tinyvision.image.decode import ImageError, to_png
from tinyvision.serve_uploads import FIELD, BodyBudget, BodyTooLarge, BodyTooSlow, BudgetFull, Holding, receive_image
from tinyvision.serve_workers import WorkerDied, WorkerPool, WorkerTimedOut, can_fork

WEB = files("tinyvision") / "web"
STATUS = {"empty": 400, "not_image": 415, "too_large": 413, "corrupt": 400, "too_small": 400, "no_ink": 400,
          "bad_form": 400}
STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
CLOSE = {"Connection": "close"}
MAX_DEFAULT_WORKERS = 8
MAX_WORKERS = 64  # each worker may hold one bounded decode (~100 MB): 64 is already 6 GB
MAX_QUEUE = 1024  # each waiting request may hold one body of up to max_bytes
MAX_BODY = 100_000_000


@dataclass(frozen=True)
class ServeOptions:
    max_bytes: int = 10_000_000
    workers: int = 2  # predictions computed at once
    queue: int = 16  # requests allowed to wait for a worker
    body_seconds: float = 30.0  # the longest an upload may take to arrive
    processes: bool = False  # predictions in forked worker processes (every core) rather than threads
    predict_seconds: float = 30.0  # a prediction's deadline: its worker process is replaced, or its thread let end

    @classmethod
    def with_defaults(cls, max_bytes: int | None = None, workers: int | None = None,
                      queue: int | None = None, processes: bool | None = None,
                      predict_seconds: float | None = None) -> ServeOptions:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        # At most 8 workers by default: each holds up to one bounded decode, so memory stays bounded
        # on a many-core machine too (8 x ~100 MB + 24 waiting bodies of at most 10 MB).
        workers = min(cores, MAX_DEFAULT_WORKERS) if workers is None else workers
        processes = can_fork() if processes is None else processes
        if processes and not can_fork():
            raise TinyVisionError("worker processes need fork(), which this platform lacks: use --no-processes")
        options = cls(cls.max_bytes if max_bytes is None else max_bytes, workers,
                      cls.queue if queue is None else queue, processes=processes,
                      predict_seconds=cls.predict_seconds if predict_seconds is None else predict_seconds)
        # Every bound is the server's memory bound (module docstring), so each has a ceiling too.
        if not 1 <= options.workers <= MAX_WORKERS:
            raise TinyVisionError(f"--workers must be from 1 to {MAX_WORKERS}")
        if not 0 <= options.queue <= MAX_QUEUE:
            raise TinyVisionError(f"--queue must be from 0 to {MAX_QUEUE}")
        if not 1 <= options.max_bytes <= MAX_BODY:
            raise TinyVisionError(f"--max-bytes must be from 1 to {MAX_BODY:,}")
        if not (math.isfinite(options.predict_seconds) and options.predict_seconds > 0):
            raise TinyVisionError("--predict-seconds must be a positive number of seconds")
        return options


class Admission:
    """Counts requests in the server; refuses one when workers and queue are all taken."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.inside = 0
        self.lock = threading.Lock()

    def enter(self) -> bool:
        with self.lock:
            if self.inside >= self.capacity:
                return False
            self.inside += 1
            return True

    def leave(self) -> None:
        with self.lock:
            self.inside -= 1


class ErrorReply(BaseModel):
    error: str


class PredictionReply(BaseModel):
    prediction: str | None
    probability: float
    reason: str | None = None
    probabilities: dict[str, float]
    top: list[dict[str, Any]]
    digits: list[dict[str, Any]] | None = None
    input_png: str | None = None
    saliency_png: str | None = None


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def answer(model: Model, data: bytes, with_input: bool, with_saliency: bool) -> dict:
    """One request's work, on a worker thread: the prediction, and the pictures the page asked for."""
    result = model.predict(data)
    reply = result.to_dict()
    if with_input:
        reply["input_png"] = data_url(to_png(result.input))
    # An exported model (ONNX) has no PyTorch network to attribute through: its answers come without the
    # saliency picture (GET /api/model says so, and the page hides its toggle), never with an error.
    if with_saliency and model.network is not None and (result.digits or result.probabilities):
        from tinyvision.plots import saliency_overlay

        overlay = saliency_overlay(result.input, model.saliency(result), scale=1)
        reply["saliency_png"] = data_url(to_png(torch.from_numpy(overlay).permute(2, 0, 1)))
    return reply


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def finished_late(admission: Admission, budget: BodyBudget, held: int, job: asyncio.Future) -> None:
    """A prediction thread answered past its deadline has ended: its place and its body's bytes are free."""
    if not job.cancelled():
        job.exception()  # retrieved, so that asyncio does not log it: the client was answered already
    admission.leave()
    budget.give(held)


def busy(headers: dict | None = None) -> JSONResponse:
    return error(503, "the server is busy; try again shortly", {"Retry-After": "1", **(headers or {})})


PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "description": "the image file, as the raw body or as the multipart field 'image'",
        "content": {
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {"type": "object", "required": [FIELD],
                           "properties": {FIELD: {"type": "string", "format": "binary"}}},
            },
        },
    }
}
ERRORS = {
    400: {"model": ErrorReply, "description": "corrupt or tiny image; malformed form or wrong field"},
    408: {"model": ErrorReply, "description": "the body took too long to arrive"},
    413: {"model": ErrorReply, "description": "body over the size limit, or an image too large to decode"},
    415: {"model": ErrorReply, "description": "the bytes are not an image"},
    422: {"model": ErrorReply, "description": "a query parameter that is not an integer (input, explain)"},
    500: {"model": ErrorReply, "description": "the worker process answering stopped (it is replaced)"},
    503: {"model": ErrorReply, "description": "every worker busy and the queue full: retry after Retry-After s; "
                                              "or the prediction passed its deadline and its worker was replaced"},
}


def create_app(model: Model, options: ServeOptions | None = None) -> FastAPI:
    options = options or ServeOptions()
    card = model.card
    admission = Admission(options.workers + options.queue)
    # Bodies arriving and waiting share one budget: the queue's own bound, (workers + queue) full bodies.
    budget = BodyBudget((options.workers + options.queue) * options.max_bytes)

    def executor() -> ThreadPoolExecutor:
        """The prediction threads; made again when an app that was shut down is started or used again
        (a second `with TestClient(app)`), since a shut-down pool refuses work. With worker processes,
        each thread only waits on its worker's pipe."""
        if app.state.pool is None:
            app.state.pool = ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="tinyvision-predict")
        return app.state.pool

    def work():
        return app.state.workers if app.state.workers is not None else partial(answer, model)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if options.processes:  # forked before the first request, so the workers share the loaded model
            app.state.workers = WorkerPool(partial(answer, model), options.workers, options.predict_seconds)
        executor()
        try:
            yield
        finally:
            pool, app.state.pool = app.state.pool, None
            pool.shutdown(wait=False, cancel_futures=True)
            workers, app.state.workers = app.state.workers, None
            if workers is not None:
                workers.close()

    # No redirect from "/api/predict/" to "/api/predict": Starlette's 307 had an empty body, and its Location
    # was built from the client's Host header. A path with a trailing slash is a JSON 404 like any other.
    app = FastAPI(title="tinyvision", version=card.code_version, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", lifespan=lifespan, redirect_slashes=False,
                  description=f"{card.model} trained on {card.dataset}: predict the class of an image.")
    app.state.pool, app.state.workers, app.state.admission, app.state.budget = None, None, admission, budget
    page = (WEB / "index.html").read_text(encoding="utf-8")
    static = {name: (WEB / name).read_bytes() for name in STATIC}

    # FastAPI's own refusals (no such path, wrong method, a bad query parameter) answer
    # {"detail": ...}; a client of this API reads one shape of error, so they answer {"error": "..."} too.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = " ".join(str(part) for part in first.get("loc", ()))
        return error(422, f"{where}: {first.get('msg', 'invalid request')}".strip(": "))

    # Each GET answers HEAD too (RFC 9110: headers without the body; uptime checks and proxies send it),
    # registered apart and left out of the schema: one route for both gave two operations of one id.
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    @app.head("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    @app.get("/static/{name}", include_in_schema=False)
    @app.head("/static/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in static:
            return error(404, f"no such file: {name}")
        return Response(static[name], media_type=STATIC[name])

    @app.get("/api/health")
    @app.head("/api/health", include_in_schema=False)
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/api/model")
    @app.head("/api/model", include_in_schema=False)
    def model_info() -> dict:
        return {
            "model": card.model, "dataset": card.dataset, "kind": card.kind, "classes": list(card.classes),
            "input_shape": list(card.input_shape), "test_acc": card.metrics.get("test_acc"),
            "preparation": model.preparation.mode, "tta": card.tta.to_dict(), "temperature": card.temperature,
            "max_bytes": options.max_bytes, "explain": model.network is not None,
        }

    @app.post("/api/predict", response_model=PredictionReply, response_model_exclude_none=True,
              responses=ERRORS, openapi_extra=PREDICT_BODY)
    async def predict(request: Request, input: int = 0, explain: int = 0) -> JSONResponse:  # noqa: A002
        with Holding(budget) as holding:  # the body's bytes count against the budget until the reply
            try:
                data = await receive_image(request, holding, options.max_bytes, options.body_seconds)
                if await request.is_disconnected():  # sent and gone: no work for a reply nobody reads
                    raise ClientDisconnect
            # Refused with the rest of its body unsent: the connection is closed, or the server would go on
            # reading (and a slow client holding) a body nobody wants.
            except BodyTooLarge:
                return error(413, f"request body over the limit of {options.max_bytes:,} bytes", CLOSE)
            except BudgetFull:
                return busy(CLOSE)
            except BodyTooSlow as exc:
                return error(408, str(exc), CLOSE)
            except ClientDisconnect:  # the client left mid-upload, or before its answer: nobody to answer
                return error(400, "the client closed the connection before its answer")
            except ImageError as exc:
                return error(STATUS.get(exc.kind, 400), str(exc))
            if not admission.enter():  # a place is taken only by a body that has come whole
                return busy()
            late = False
            job = asyncio.get_running_loop().run_in_executor(executor(), work(), data, bool(input), bool(explain))
            try:
                if app.state.workers is not None:  # worker processes keep their own deadline, and are killed
                    reply = await job
                else:
                    reply = await asyncio.wait_for(asyncio.shield(job), options.predict_seconds)
            except asyncio.TimeoutError:
                # A thread cannot be stopped: the client is answered now, and the place and the body's bytes
                # stay taken until the thread ends, so that late work still counts against the bounds.
                late = True
                job.add_done_callback(partial(finished_late, admission, budget, holding.detach()))
                return error(503, f"the prediction took over {options.predict_seconds:g} s")
            except ImageError as exc:
                return error(STATUS.get(exc.kind, 400), str(exc))
            except TinyVisionError as exc:
                return error(400, str(exc))
            except WorkerTimedOut as exc:  # that worker is replaced; the server stays up
                return error(503, str(exc))
            except WorkerDied as exc:  # likewise
                return error(500, str(exc))
            finally:
                if not late:
                    admission.leave()
        return JSONResponse(reply)

    return app


def share_threads(workers: int) -> int:
    """Torch threads per prediction, so that `workers` predictions at once never oversubscribe the cores."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, cores // workers)
    torch.set_num_threads(threads)  # once, at start: not per request
    return threads


def check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise TinyVisionError(f"--port must be from 0 to 65535, not {port}")


def check_listen(host: str, port: int) -> None:
    """A clear one-line error, instead of uvicorn's log, when the port is taken. Bound as uvicorn binds
    (SO_REUSEADDR): the connections of a server just stopped linger a minute in TIME_WAIT, which stops
    a bare bind but not a restarted server; another server listening there is still found."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            probe.listen(1)
        except OSError as exc:
            raise TinyVisionError(f"cannot listen on {host}:{port} ({exc.strerror})") from None


MMAP_THRESHOLD = 256 * 1024


def large_buffers_mapped() -> bool:
    """Have glibc's malloc map every buffer of MMAP_THRESHOLD bytes or more on its own, so that freeing it
    returns its memory to the system (the server's own process only: `run_server` calls this).

    By default glibc raises that threshold to the size of each mapped buffer freed (up to 32 MB): after
    the first 10 MB upload, the next ones came from the heap and its per-thread arenas, where a burst left
    its memory held, scattered among small blocks. Elsewhere (another C library) nothing changes."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(-3, MMAP_THRESHOLD))  # M_MMAP_THRESHOLD; a fixed value ends its raising
    except (OSError, AttributeError):
        return False


def server_url(host: str, port: int) -> str:
    """The address to open: an IPv6 host in brackets (http://::1:8000/ is no URL a browser takes)."""
    host = host.strip("[]")  # (given bracketed already)
    if ":" in host:  # IPv6, a zone's % written as %25 (RFC 6874)
        return f"http://[{host.replace('%', '%25')}]:{port}/"
    return f"http://{host}:{port}/"


def run_server(model: Model, host: str = "127.0.0.1", port: int = 8000, options: ServeOptions | None = None) -> None:
    import uvicorn

    from tinyvision.serve_connections import BoundedH11Protocol

    options = options or ServeOptions.with_defaults()
    check_port(port)
    check_listen(host, port)
    large_buffers_mapped()
    threads = share_threads(options.workers)
    if options.processes:
        threads = 1  # each worker process computes on one torch thread (`serve_workers`)
    kind = "worker processes" if options.processes else "worker threads"
    print(f"tinyvision: serving {model.card.model} ({model.card.dataset}) on {server_url(host, port)} "
          f"({options.workers} {kind} x {threads} torch thread(s), queue {options.queue})", flush=True)
    uvicorn.run(create_app(model, options), host=host, port=port, log_level="warning", http=BoundedH11Protocol)

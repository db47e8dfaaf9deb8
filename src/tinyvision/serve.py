"""The web app: a draw-a-digit page and a JSON prediction API (FastAPI + uvicorn).

    GET  /              the page (HTML/JS/CSS shipped in tinyvision/web, no CDN)
    GET  /api/health    {"status": "ok"}
    GET  /api/model     model name, dataset, classes, input shape, test accuracy
    POST /api/predict   an image as the raw body or as multipart field "image";
                        ?input=1 adds the 28x28 the model saw as a PNG data URL

Errors are JSON {"error": "..."}: 413 for a body over the size limit or an
image with too many pixels, 415 for bytes that are not an image, 400 for a
corrupt, tiny or blank image. A bad request never takes the server down.
"""

from __future__ import annotations

import base64
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from tinyvision.errors import TinyVisionError
from tinyvision.predict import Predictor
from tinyvision.preprocess import ImageError, to_png

WEB = files("tinyvision") / "web"
STATUS = {"not_image": 415, "too_large": 413, "corrupt": 400, "too_small": 400, "no_ink": 400}
STATIC = {"app.js": "text/javascript", "style.css": "text/css"}


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it passes `limit` bytes (chunked uploads too)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def image_bytes(request: Request, body: bytes) -> bytes:
    """Raw body, or the first file field of a multipart form (the form is parsed from `body`)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return body

    async def replay() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form()
    except Exception as exc:  # python-multipart's parse errors have several types
        raise ImageError(f"malformed multipart form ({exc})", "corrupt") from None
    for value in form.values():
        if hasattr(value, "read"):
            return await value.read()
    raise ImageError("multipart form has no file field (send the image as field 'image')", "not_image")


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(predictor: Predictor, max_bytes: int = 10_000_000) -> FastAPI:
    card = predictor.card
    app = FastAPI(title="tinyvision", docs_url=None, redoc_url=None, openapi_url=None)
    page = (WEB / "index.html").read_text(encoding="utf-8")
    static = {name: (WEB / name).read_bytes() for name in STATIC}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/static/{name}")
    def asset(name: str) -> Response:
        if name not in static:
            return error(404, f"no such file: {name}")
        return Response(static[name], media_type=STATIC[name])

    @app.get("/api/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/api/model")
    def model_info() -> dict:
        return {
            "model": card.model, "dataset": card.dataset, "classes": list(card.classes),
            "input_shape": list(card.input_shape), "test_acc": card.metrics.get("test_acc"),
            "preparation": predictor.preparation.mode, "max_bytes": max_bytes,
        }

    @app.post("/api/predict")
    async def predict(request: Request, input: int = 0) -> JSONResponse:  # noqa: A002
        try:
            data = await image_bytes(request, await read_body(request, max_bytes))
            result = await run_in_threadpool(predictor.predict_bytes, data)
        except BodyTooLarge:
            return error(413, f"request body over the limit of {max_bytes:,} bytes")
        except ImageError as exc:
            return error(STATUS.get(exc.kind, 400), str(exc))
        reply = {
            "prediction": result.label,
            "probabilities": result.probabilities,
            "top": [{"class": c, "probability": p} for c, p in result.top(3)],
        }
        if input:
            reply["input_png"] = "data:image/png;base64," + base64.b64encode(to_png(result.pixels)).decode()
        return JSONResponse(reply)

    return app


def run_server(predictor: Predictor, host: str = "127.0.0.1", port: int = 8000,
               max_bytes: int = 10_000_000) -> None:
    import socket

    import uvicorn

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:  # a clear one-line error instead of uvicorn's log when the port is taken
            probe.bind((host, port))
        except OSError as exc:
            raise TinyVisionError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    print(f"tinyvision: serving {predictor.card.model} ({predictor.card.dataset}) on http://{host}:{port}/")
    uvicorn.run(create_app(predictor, max_bytes), host=host, port=port, log_level="warning")

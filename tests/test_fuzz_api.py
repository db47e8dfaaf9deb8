"""Fuzzing the JSON API in-process: no request, however malformed, gets a server error.

- Schemathesis reads the app's own /openapi.json and generates requests from
  it, valid and invalid (wrong types, missing bodies, odd media types); every
  answer must be one the spec describes (status, media type, body schema),
  invalid requests must be refused, and nothing is a 5xx. (A schema-valid
  body, "binary", need not be an image, so a 400 for one is no failure.)
- Hypothesis builds the requests a schema cannot describe: image files with
  bit flips and truncations, raw or in multipart forms under any field name,
  any content type, broken multipart boundaries, odd query strings. Every
  answer is a status below 500 with a JSON body, an error one naming why.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

import tinyvision
from digit_photos import untrained_digit_checkpoint
from tinyvision.serve import ServeOptions, create_app

MAX_BYTES = 300_000
API = settings(max_examples=150, deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                      HealthCheck.data_too_large, HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    model = tinyvision.load(untrained_digit_checkpoint(tmp_path_factory.mktemp("model") / "model.safetensors"))
    return create_app(model, ServeOptions(max_bytes=MAX_BYTES, workers=2, queue=8))


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def client(app) -> TestClient:
    return TestClient(app)


@API
@given(data=st.data())
def test_requests_generated_from_the_openapi_spec_never_get_a_server_error(api_schema, data):
    """Valid and invalid requests for every operation (Schemathesis' strategies, driven by Hypothesis
    directly: its pytest plugin's lazy fixture loader does not run under pytest 9)."""
    mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]))
    case = data.draw(api_schema.as_strategy(mode))
    response = case.call()
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500
    if response.status_code >= 400:
        assert set(response.json()) == {"error"} and response.json()["error"], response.text  # FastAPI's too


def test_the_spec_describes_every_endpoint_body_and_error(app, client):
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/api/health", "/api/model", "/api/predict"}
    predict = spec["paths"]["/api/predict"]["post"]
    content = predict["requestBody"]["content"]
    assert predict["requestBody"]["required"] is True
    assert content["multipart/form-data"]["schema"]["required"] == ["image"]
    assert {"image/*", "application/octet-stream"} <= set(content)
    for status in ("200", "400", "408", "413", "415", "422", "503"):
        assert status in predict["responses"], status
    error = spec["components"]["schemas"]["ErrorReply"]
    assert error["required"] == ["error"]


def image_file(fmt: str, seed: int, size: tuple[int, int]) -> bytes:
    rng = np.random.default_rng(seed)
    page = np.full((size[1], size[0]), 255, np.uint8)
    y, x = rng.integers(0, size[1] // 2), rng.integers(0, size[0] // 2)
    page[y : y + size[1] // 3, x : x + max(2, size[0] // 10)] = 0  # a stroke
    buffer = io.BytesIO()
    Image.fromarray(page).convert("RGB" if fmt == "JPEG" else "L").save(buffer, format=fmt)
    return buffer.getvalue()


@st.composite
def bodies(draw) -> bytes:
    """An image file (in some format), perhaps damaged; or arbitrary bytes."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=600))
    fmt = draw(st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"]))
    data = bytearray(image_file(fmt, draw(st.integers(0, 1000)), (draw(st.integers(8, 300)),
                                                                   draw(st.integers(8, 300)))))
    for _ in range(draw(st.integers(0, 3))):
        pos = draw(st.integers(0, len(data) - 1))
        if draw(st.booleans()):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        else:
            del data[pos:]
            if not data:
                break
    return bytes(data)


TEXT = st.text(max_size=30)  # names and values inside a body: any Unicode
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)  # what a header may hold
CONTENT_TYPES = st.one_of(
    st.sampled_from(["image/png", "image/jpeg", "application/octet-stream", "text/plain", "", "multipart/form-data",
                     "multipart/form-data; boundary=", "multipart/form-data; boundary=x", "application/json"]),
    HEADER_TEXT,
)
FIELD_NAMES = st.one_of(st.just("image"), st.sampled_from(["file", "upload", "Image", "image[]", ""]), TEXT)


@st.composite
def requests(draw) -> dict:
    """The arguments of one POST /api/predict: raw body, a multipart form, or a hand-broken form."""
    params = draw(st.dictionaries(st.sampled_from(["input", "explain", "x", ""]),
                                  st.one_of(st.sampled_from(["0", "1", "", "2", "-1", "yes"]), TEXT), max_size=2))
    kind = draw(st.sampled_from(["raw", "form", "broken-form"]))
    if kind == "raw":
        return {"content": draw(bodies()), "headers": {"content-type": draw(CONTENT_TYPES)}, "params": params}
    if kind == "form":
        files = {draw(FIELD_NAMES): (draw(TEXT) or "f", draw(bodies()), draw(CONTENT_TYPES) or "image/png")
                 for _ in range(draw(st.integers(1, 3)))}
        data = draw(st.dictionaries(FIELD_NAMES, TEXT, max_size=2))
        return {"files": files, "data": data, "params": params}
    boundary = draw(st.sampled_from(["x", "----b", "a" * 70]))
    parts = draw(st.lists(st.binary(max_size=200), max_size=3))
    content = b"".join(b"--" + boundary.encode() + b"\r\n" + p for p in parts) + draw(st.binary(max_size=50))
    return {"content": content, "headers": {"content-type": f"multipart/form-data; boundary={boundary}"},
            "params": params}


@API
@given(request=requests())
def test_hand_made_requests_never_get_a_server_error(client, request):
    response = client.post("/api/predict", **request)
    assert response.status_code < 500, (response.status_code, response.text[:300])
    body = response.json()
    if response.status_code >= 400:
        assert set(body) == {"error"} and body["error"], body
    else:
        assert "prediction" in body and "probabilities" in body


def test_the_server_is_healthy_after_the_fuzzing(client):
    assert client.get("/api/health").json() == {"status": "ok"}

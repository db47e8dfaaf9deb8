"""Choosing the draw page's pen: digits written small with the mouse, read by the page, per pen width.

The page's pen is `PEN_SHARE` of the drawing's height, from `PEN_MIN` up to 16 px of the 280 px canvas
(`tinyvision/web/app.js`). Each variant is the page with another share (the script served to the browser
is rewritten on its way; "fixed" is the former 16 px pen whatever the size), and every digit of each glyph
set is drawn with the mouse in Chromium, small, on the page a user gets from `tinyvision serve RUN`; the
answer is what the page shows. The glyph sets: single-stroke Hershey fonts (Debian's hershey-fonts-data,
as drawn by a pen plotter: a simplex sans, a simplex roman, a script) and plain strokes of our own, as a
mouse draws digits.

    python benchmarks/page_pen.py /tmp/tta4/default-seed0 --shares fixed,0.1,0.13,0.17,0.2
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402

HERSHEY = Path("/usr/share/hershey-fonts")
FONTS = ("futural", "rowmans", "scripts")
HEIGHTS = (32, 40, 50)  # canvas pixels (of 280): a number written small, as on a phone
CHROMIUM = "/usr/bin/chromium"


def hershey_digits(font: str) -> dict[str, list[np.ndarray]]:
    """The font's digits as strokes ((n, 2) arrays, y down, ink height 1)."""
    text = (HERSHEY / f"{font}.jhf").read_text(encoding="latin-1")
    records, lines = [], text.splitlines()
    k = 0
    while k < len(lines) and len(records) < 26:
        line = lines[k]
        k += 1
        if not line.strip():
            continue
        need = 8 + 2 * int(line[5:8])
        while len(line) < need and k < len(lines):  # a long glyph continues on the next lines
            line += lines[k]
            k += 1
        records.append(line[10:need])  # after the id, the count and the two margin characters
    digits = {}
    for d in range(10):
        body, strokes, stroke = records[16 + d], [], []  # record 0 is the space, 16 is "0"
        for j in range(0, len(body) - 1, 2):
            pair = body[j : j + 2]
            if pair == " R":
                strokes.append(stroke)
                stroke = []
            else:
                stroke.append((ord(pair[0]) - ord("R"), ord(pair[1]) - ord("R")))
        strokes.append(stroke)
        strokes = [np.asarray(s, float) for s in strokes if s]
        points = np.vstack(strokes)
        low, height = points.min(0), np.ptp(points[:, 1])
        digits[str(d)] = [(s - low) / height for s in strokes]
    return digits


def _arc(cx, cy, rx, ry, start, stop, n=24) -> np.ndarray:
    t = np.radians(np.linspace(start, stop, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def plain_digits() -> dict[str, list[np.ndarray]]:
    """Digits as a mouse draws them, in a box 0.6 wide and 1 high (y down)."""
    return {
        "0": [_arc(0.3, 0.5, 0.3, 0.5, -90, 280, 40)],
        "1": [np.array([[0.1, 0.1], [0.3, 0.0], [0.3, 1.0]])],
        "2": [np.vstack([_arc(0.3, 0.28, 0.28, 0.28, 200, 400, 16), [[0.0, 1.0], [0.6, 1.0]]])],
        "3": [np.vstack([_arc(0.3, 0.25, 0.27, 0.25, 210, 450, 18), _arc(0.3, 0.75, 0.3, 0.25, -90, 150, 18)])],
        "4": [np.array([[0.4, 0.0], [0.0, 0.65], [0.6, 0.65]]), np.array([[0.45, 0.3], [0.45, 1.0]])],
        "5": [np.vstack([[[0.6, 0.0], [0.08, 0.0], [0.05, 0.45]], _arc(0.3, 0.7, 0.3, 0.3, -130, 140, 20)])],
        "6": [np.vstack([[[0.5, 0.0], [0.25, 0.2], [0.06, 0.5]], _arc(0.3, 0.72, 0.27, 0.28, 180, -180, 30)])],
        "7": [np.array([[0.0, 0.0], [0.6, 0.0], [0.2, 1.0]])],
        "8": [np.vstack([_arc(0.3, 0.25, 0.24, 0.25, 90, -180, 20), _arc(0.3, 0.75, 0.3, 0.25, -90, 270, 30)])],
        "9": [np.vstack([_arc(0.3, 0.28, 0.28, 0.28, 0, -360, 30), [[0.58, 0.28], [0.55, 1.0]]])],
    }


def on_canvas(strokes: list[np.ndarray], height: float) -> list[np.ndarray]:
    """A glyph (ink height 1) drawn `height` canvas pixels high, centred on the 560 x 280 canvas."""
    points = np.vstack(strokes)
    middle = (points.min(0) + points.max(0)) / 2
    return [(s - middle) * height + [280, 140] for s in strokes]


def mouse_path(stroke: np.ndarray, step: float = 3.0) -> np.ndarray:
    """The stroke resampled every `step` canvas pixels, as mouse moves arrive."""
    if len(stroke) == 1:
        return stroke
    length = np.r_[0, np.cumsum(np.linalg.norm(np.diff(stroke, axis=0), axis=1))]
    at = np.linspace(0, length[-1], max(2, int(np.ceil(length[-1] / step)) + 1))
    return np.stack([np.interp(at, length, stroke[:, 0]), np.interp(at, length, stroke[:, 1])], 1)


def draw(page, strokes: list[np.ndarray]) -> None:
    pad = page.locator("#pad")
    box = pad.bounding_box()
    inner = page.evaluate("(() => { const p = document.getElementById('pad');"
                          " return [p.clientLeft, p.clientTop, p.clientWidth, p.clientHeight]; })()")
    for stroke in strokes:
        path = mouse_path(stroke)
        at = [(box["x"] + inner[0] + x * inner[2] / 560, box["y"] + inner[1] + y * inner[3] / 280) for x, y in path]
        page.mouse.move(*at[0])
        page.mouse.down()
        for x, y in at[1:]:
            page.mouse.move(x, y)
        page.mouse.up()


def shown(page) -> str:
    page.wait_for_function("document.getElementById('prediction').dataset.state === 'done'", timeout=30_000)
    return page.locator("#prediction").inner_text()


def with_share(share: str):
    """A route handler serving app.js with another pen share ("fixed": 16 px whatever the size)."""
    value = "1e9" if share == "fixed" else share

    def handle(route) -> None:
        response = route.fetch()
        script, count = re.subn(r"const PEN_SHARE = [0-9.]+;", f"const PEN_SHARE = {value};", response.text())
        if count != 1:
            raise SystemExit("page_pen.py: app.js has no `const PEN_SHARE = ...;` line to vary")
        route.fulfill(response=response, body=script)

    return handle


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a digit model's run folder")
    parser.add_argument("--shares", default="fixed,0.1,0.13,0.17,0.2",
                        help="comma-separated pen shares of the drawing's height ('fixed': the former 16 px)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "page_pen.json")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    sets = {f"hershey-{f}": hershey_digits(f) for f in FONTS} | {"plain": plain_digits()}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tinyvision", "serve", str(args.run), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    rows = []
    try:
        with recorded() as prov, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            for share in args.shares.split(","):
                page = browser.new_page(viewport={"width": 1000, "height": 800})
                page.route("**/app.js", with_share(share))
                for _ in range(60):
                    try:
                        page.goto(url)
                        break
                    except Exception:  # the server is still starting
                        time.sleep(0.5)
                page.wait_for_selector("#bars .row[data-class='9']")
                row = {"share": share, "sets": {}}
                for name, digits in sets.items():
                    for height in HEIGHTS:
                        answers = {}
                        for digit, strokes in digits.items():
                            page.click("#clear")
                            draw(page, on_canvas(strokes, height))
                            answers[digit] = shown(page)
                        row["sets"][f"{name}@{height}"] = answers
                row["read"] = sum(a == d for answers in row["sets"].values() for d, a in answers.items())
                row["drawn"] = sum(len(answers) for answers in row["sets"].values())
                print(share, row["read"], "of", row["drawn"], flush=True)
                rows.append(row)
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    write_results(args.out, {"about": __doc__.splitlines()[0], "run": str(args.run), "heights": list(HEIGHTS),
                             "variants": rows, "provenance": prov})


if __name__ == "__main__":
    main()

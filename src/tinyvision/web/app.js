// Draw-a-number page: strokes on a canvas, live predictions from POST /api/predict.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const predictionEl = document.getElementById("prediction");
const confidenceEl = document.getElementById("confidence");
const messageEl = document.getElementById("message");
const digitsEl = document.getElementById("digits");
const barsEl = document.getElementById("bars");
const inputImg = document.getElementById("model-input");
const whyBox = document.getElementById("why");
const whyFigure = document.getElementById("why-figure");
const saliencyImg = document.getElementById("saliency");
const inputFigure = document.getElementById("input-figure");
let bars = {};
let pen = null;  // the one pointer drawing (a second finger is ignored: one pen, one stroke)
let inFlight = false;
let dirty = false;  // the canvas changed since the last request was sent
let shown = 0;  // bumped by Clear and by an upload: an answer to an older request is not shown
let uploaded = null;  // the file whose answer is shown, if the answer is an upload's (else the canvas's)

// The strokes as drawn (pad pixels), so that the pen can follow the drawing's size: each redraw uses one width.
const strokes = [];
// The pen follows the drawing's height (PEN_SHARE of it, from PEN_MIN up to 16 px of the 280 px pad, the
// width for digits that fill it): a fixed 16 px pen gave a number written 40 px high strokes of 40% of its
// height, its loops filled in (a 6 read 0, a 9 read 8). Chosen by drawing digits small with the mouse in
// Chromium on this page (benchmarks/page_pen.py, results/page_pen.json, table page-pen in
// docs/predict-serve-export.md): thinner pens broke a 5's bar from its loop.
const PEN_SHARE = 0.17;
const PEN_MIN = 3;

function clearPad() {
  strokes.length = 0;
  pen = null;  // a stroke held through Clear (a finger taps it, the pen still down) starts anew, not into nothing
  paint();
}

function penWidth() {
  let top = Infinity, bottom = -Infinity;
  for (const stroke of strokes) for (const p of stroke) { top = Math.min(top, p.y); bottom = Math.max(bottom, p.y); }
  const height = strokes.length ? bottom - top : 0;
  return Math.min(pad.height / 17.5, Math.max(PEN_MIN, PEN_SHARE * height));
}

function paint() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#000";
  ctx.fillStyle = "#000";
  ctx.lineWidth = penWidth();
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const stroke of strokes) {
    ctx.beginPath();
    if (stroke.length === 1) {  // a tap: a dot (a decimal point)
      ctx.arc(stroke[0].x, stroke[0].y, ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.moveTo(stroke[0].x, stroke[0].y);
    for (const p of stroke.slice(1)) ctx.lineTo(p.x, p.y);
    ctx.stroke();
  }
}

function buildBars(classes) {
  barsEl.innerHTML = "";
  bars = {};
  for (const name of classes) {
    const row = document.createElement("div");
    row.className = "row";
    row.dataset.class = name;
    row.innerHTML = `<span></span><div class="track"><div class="fill"></div></div><span class="pct">0.0%</span>`;
    row.firstChild.textContent = name;
    barsEl.appendChild(row);
    bars[name] = row;
  }
}

function percent(p) { return `${(100 * p).toFixed(1)}%`; }

function showBars(probabilities, best) {
  const single = Object.keys(probabilities || {}).length > 0;
  barsEl.hidden = !single;
  for (const [name, row] of Object.entries(bars)) {
    const p = single ? (probabilities[name] || 0) : 0;
    row.querySelector(".fill").style.width = percent(p);
    row.querySelector(".pct").textContent = percent(p);
    row.classList.toggle("best", single && name === best);
  }
}

function showDigits(digits, refused) {
  digitsEl.innerHTML = "";
  // A refused number still shows what each piece was read as, greyed: why it was not sure enough.
  digitsEl.classList.toggle("refused", refused);
  digitsEl.title = refused ? "refused: not every digit was sure enough" : "";
  if (!digits || digits.length < 2) return;
  for (const d of digits) {
    const chip = document.createElement("span");
    chip.className = "digit";
    chip.textContent = `${d.class} ${percent(d.probability)}`;
    digitsEl.appendChild(chip);
  }
}

function showResult(result) {
  const abstained = result.prediction === null;
  predictionEl.textContent = abstained ? result.reason : result.prediction;
  predictionEl.dataset.answer = abstained ? "none" : result.prediction;
  confidenceEl.textContent = abstained ? "" : `(${percent(result.probability)} sure)`;
  messageEl.textContent = "";
  const best = result.top && result.top.length ? result.top[0].class : null;
  showBars(result.probabilities, abstained ? null : best);
  showDigits(result.digits, abstained);
  if (result.input_png) inputImg.src = result.input_png;
  inputFigure.hidden = !result.input_png;
  whyFigure.hidden = !(whyBox.checked && result.saliency_png);
  if (result.saliency_png) saliencyImg.src = result.saliency_png;
}

function resetResult(message) {
  predictionEl.textContent = "–";
  predictionEl.dataset.answer = "";
  confidenceEl.textContent = "";
  messageEl.textContent = message;
  showBars({}, null);
  barsEl.hidden = false;
  digitsEl.innerHTML = "";
  inputImg.removeAttribute("src");
  inputFigure.hidden = true;  // no picture yet: no broken-image icon
  saliencyImg.removeAttribute("src");
  whyFigure.hidden = true;
}

async function send(blob) {
  const query = whyBox.checked ? "?input=1&explain=1" : "?input=1";
  let response;
  try {
    response = await fetch(`/api/predict${query}`, {
      method: "POST", body: blob, headers: { "Content-Type": blob.type || "application/octet-stream" },
    });
  } catch {  // the browser's own words ("Failed to fetch") say nothing of what to do
    throw new Error("cannot reach the server: is it still running? Reload the page when it is");
  }
  let body = null;
  try { body = await response.json(); } catch { /* not JSON: a proxy's error page */ }
  if (!response.ok || body === null) {
    const err = new Error((body && body.error) || `HTTP ${response.status}`);
    // Busy (every worker and the queue taken): the server says when to ask again.
    const wait = Number(response.headers.get("Retry-After"));
    if (response.status === 503 && response.headers.has("Retry-After") && wait >= 0) err.retryAfter = wait;
    throw err;
  }
  return body;
}

// A busy server is asked again after its Retry-After, for the image still on screen, up to BUSY_TRIES times in
// a row: before, "the server is busy" stayed until the user drew another stroke or chose the file again.
// One retry waits at a time: a request sent meanwhile (a stroke, an upload, Clear) replaces it, so that the busy
// answers to a stroke's live predictions do not each start a chain of their own.
const BUSY_TRIES = 30;
let busyTries = 0;
let retryTimer = null;

function cancelRetry() {
  if (retryTimer !== null) clearTimeout(retryTimer);
  retryTimer = null;
}

function retryLater(err, again) {
  if (err.retryAfter === undefined || busyTries >= BUSY_TRIES) { busyTries = 0; return false; }
  busyTries++;
  messageEl.textContent = `${err.message} (asking again…)`;
  cancelRetry();
  retryTimer = setTimeout(() => { retryTimer = null; again(); }, Math.min(err.retryAfter, 10) * 1000 + 100);
  return true;
}

// One request at a time; if the drawing changed meanwhile, send the newest canvas when it returns.
async function predictCanvas() {
  if (inFlight) { dirty = true; return; }
  inFlight = true;
  dirty = false;
  cancelRetry();
  const mine = shown;
  let retrying = false;
  predictionEl.dataset.state = "busy";
  try {
    const blob = await new Promise((resolve) => pad.toBlob(resolve, "image/png"));
    const result = await send(blob);
    busyTries = 0;
    if (mine === shown) { uploaded = null; showResult(result); }  // else cleared (or replaced) meanwhile
  } catch (err) {
    if (mine === shown) {
      // Busy: the drawing is sent again when the server says, unless cleared, redrawn or answered meanwhile.
      retrying = !dirty && retryLater(err, () => {
        if (mine === shown && !inFlight && predictionEl.dataset.state === "busy") predictCanvas();
      });
      if (!retrying) resetResult(err.message);
    }
  } finally {
    inFlight = false;
    if (dirty) predictCanvas(); else if (mine === shown && !retrying) predictionEl.dataset.state = "done";
  }
}

async function predictFile(file) {
  const mine = ++shown;
  cancelRetry();
  let retrying = false;
  predictionEl.dataset.state = "busy";
  // The pad was cleared for the photo: a stroke drawn before its answer came makes the drawing the answer's
  // subject, and the photo's answer is dropped (it was shown beside the drawing of another number).
  const current = () => mine === shown && strokes.length === 0;
  try {
    const result = await send(file);
    busyTries = 0;
    if (current()) { uploaded = file; showResult(result); }
  } catch (err) {
    if (current()) {
      retrying = retryLater(err, () => { if (current()) predictFile(file); });
      if (!retrying) { uploaded = null; resetResult(`${file.name}: ${err.message}`); }
    }
  } finally {
    if (current() && !retrying) predictionEl.dataset.state = "done";
  }
}

function point(event) {
  // Inside the border: the canvas's pixels span its content box, not the box its border is drawn around.
  const box = pad.getBoundingClientRect();
  return {
    x: (event.clientX - box.left - pad.clientLeft) * pad.width / pad.clientWidth,
    y: (event.clientY - box.top - pad.clientTop) * pad.height / pad.clientHeight,
  };
}

function startStroke(event) {
  uploaded = null;  // from now on the answer is the drawing's
  pen = event.pointerId;
  strokes.push([point(event)]);
  paint();
}

pad.addEventListener("pointerdown", (event) => {
  if (pen !== null) return;  // a second finger while the first draws
  if (event.pointerType === "mouse" && event.button !== 0) return;  // a right or middle click is not ink
  pad.setPointerCapture(event.pointerId);
  startStroke(event);
});
pad.addEventListener("pointermove", (event) => {
  if (pen === null && event.pointerType !== "touch" && (event.buttons & 1)) {
    startStroke(event);  // a stroke begun just outside the pad, the button held, starts where it comes in
    return;
  }
  if (event.pointerId !== pen) return;
  strokes[strokes.length - 1].push(point(event));
  paint();
  predictCanvas();  // live: while drawing
});
function endStroke(event) {
  if (event.pointerId === pen) { pen = null; predictCanvas(); }
}
for (const type of ["pointerup", "pointercancel"]) pad.addEventListener(type, endStroke);
pad.addEventListener("pointerleave", (event) => {
  // A mouse stroke that leaves the pad (no capture: it began outside) ends there; a captured one goes on.
  if (!pad.hasPointerCapture(event.pointerId)) endStroke(event);
});

document.getElementById("clear").addEventListener("click", () => {
  shown++;  // an answer still on its way is for a drawing that is gone
  dirty = false;
  cancelRetry();
  busyTries = 0;
  uploaded = null;
  clearPad();
  resetResult("");
  predictionEl.dataset.state = "idle";
});

whyBox.addEventListener("change", () => {
  whyFigure.hidden = !(whyBox.checked && saliencyImg.getAttribute("src"));
  if (!whyBox.checked || !predictionEl.dataset.answer) return;
  if (uploaded !== null) predictFile(uploaded); else predictCanvas();  // the shown answer's own image, again
});

document.getElementById("upload").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  clearPad();  // the answer shown will be the photo's, not the drawing's
  dirty = false;
  await predictFile(file);
  event.target.value = "";
});

async function loadModel() {
  let info;
  try {
    const response = await fetch("/api/model");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    info = await response.json();
  } catch (err) {
    document.getElementById("model-info").textContent = `cannot reach the server (${err.message}): reload the page`;
    return;
  }
  const acc = info.test_acc == null ? "" : ` · test accuracy ${(100 * info.test_acc).toFixed(2)}%`;
  document.getElementById("model-info").textContent = `${info.model} trained on ${info.dataset}${acc}`;
  if (info.preparation !== "digit") {  // a model of other things: one image, one class
    document.getElementById("title").textContent = "What is in the picture?";
    pad.width = 280;
    pad.style.width = "280px";
    pad.style.aspectRatio = "1";
  }
  if (info.explain === false) whyBox.closest("label").hidden = true;  // an exported model: no saliency
  clearPad();
  buildBars(info.classes);
}

clearPad();
loadModel();

// Draw-a-digit page: strokes on a canvas, live predictions from POST /api/predict.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const predictionEl = document.getElementById("prediction");
const messageEl = document.getElementById("message");
const barsEl = document.getElementById("bars");
const inputImg = document.getElementById("model-input");
let bars = {};
let drawing = false;
let last = null;
let inFlight = false;
let dirty = false;  // the canvas changed since the last request was sent

function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#000";
  ctx.lineWidth = pad.width / 14;  // MNIST strokes are about a tenth of the digit's height
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
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

function showResult(result) {
  predictionEl.textContent = result.prediction;
  messageEl.textContent = "";
  for (const [name, p] of Object.entries(result.probabilities)) {
    const row = bars[name];
    if (!row) continue;
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".pct").textContent = `${(100 * p).toFixed(1)}%`;
    row.classList.toggle("best", name === result.prediction);
  }
  if (result.input_png) inputImg.src = result.input_png;
}

function resetResult(message) {
  predictionEl.textContent = "–";
  messageEl.textContent = message;
  for (const row of Object.values(bars)) {
    row.querySelector(".fill").style.width = "0";
    row.querySelector(".pct").textContent = "0.0%";
    row.classList.remove("best");
  }
  inputImg.removeAttribute("src");
}

async function send(blob) {
  const response = await fetch("/api/predict?input=1", {
    method: "POST", body: blob, headers: { "Content-Type": blob.type || "application/octet-stream" },
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

// One request at a time; if the drawing changed meanwhile, send the newest canvas when it returns.
async function predictCanvas() {
  if (inFlight) { dirty = true; return; }
  inFlight = true;
  dirty = false;
  predictionEl.dataset.state = "busy";
  try {
    const blob = await new Promise((resolve) => pad.toBlob(resolve, "image/png"));
    showResult(await send(blob));
  } catch (err) {
    resetResult(err.message);
  } finally {
    inFlight = false;
    if (dirty) predictCanvas(); else predictionEl.dataset.state = "done";
  }
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return { x: (event.clientX - box.left) * pad.width / box.width, y: (event.clientY - box.top) * pad.height / box.height };
}

pad.addEventListener("pointerdown", (event) => {
  drawing = true;
  pad.setPointerCapture(event.pointerId);
  last = point(event);
  ctx.beginPath();
  ctx.arc(last.x, last.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
  ctx.fillStyle = "#000";
  ctx.fill();
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const p = point(event);
  ctx.beginPath();
  ctx.moveTo(last.x, last.y);
  ctx.lineTo(p.x, p.y);
  ctx.stroke();
  last = p;
  predictCanvas();  // live: while drawing
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => { if (drawing) { drawing = false; predictCanvas(); } });
}

document.getElementById("clear").addEventListener("click", () => {
  clearPad();
  resetResult("");
  predictionEl.dataset.state = "idle";
});

document.getElementById("upload").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  predictionEl.dataset.state = "busy";
  try {
    showResult(await send(file));
  } catch (err) {
    resetResult(`${file.name}: ${err.message}`);
  } finally {
    predictionEl.dataset.state = "done";
    event.target.value = "";
  }
});

async function loadModel() {
  const info = await (await fetch("/api/model")).json();
  const acc = info.test_acc == null ? "" : ` · test accuracy ${(100 * info.test_acc).toFixed(2)}%`;
  document.getElementById("model-info").textContent = `${info.model} trained on ${info.dataset}${acc}`;
  buildBars(info.classes);
}

clearPad();
loadModel();

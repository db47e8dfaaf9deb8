"""Every results table in README.md and docs/*.md, written from the JSON under benchmarks/results/.

A table lives between two marker lines in any of those files; everything
between them belongs to this script:

    <!-- table:time-to-accuracy -->
    (the table, then one line naming its results file, command and machine load)
    <!-- /table:time-to-accuracy -->

    python benchmarks/report.py                  # rewrite every marked block from the results
    python benchmarks/report.py --check          # write nothing; diff every stale block; exit 1 if any
    python benchmarks/report.py --list           # the registered tables and their results files
    python benchmarks/report.py --show NAME      # print one table as it would be written

`--check` also fails (exit 1) on a marker naming an unknown table, a missing
results file, or a results file from a smoke run. Rewriting is all or nothing:
with any such error, no file is touched.

A table for a new results file is one function: decorate it with
`@table(NAME, "file.json")`; it receives the parsed JSON and returns the
markdown table. Medians, means and spreads are computed here from the
per-seed rows, never copied from a summary.

A figure quoted in a sentence is an inline value, written the same way:

    The default recipe reaches <!-- value:default-acc -->99.56%<!-- /value --> on MNIST's test set.

`@value(NAME, "file.json")` registers the function that renders it (a short
string); `--check` fails when the text between the markers differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder leads sys.path; a script here named like a standard
# module (numbers.py) would then shadow it. Look in this folder last.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

import argparse  # noqa: E402
import difflib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from provenance import REPO_ROOT, write_text_atomic  # noqa: E402

RESULTS = Path("benchmarks") / "results"  # relative to the repository root
VALUE = re.compile(r"<!-- value:([\w.-]+) -->(.*?)<!-- /value -->")
OPEN = re.compile(r"<!-- table:([\w.-]+) -->")
CLOSE = re.compile(r"<!-- /table:([\w.-]+) -->")
FENCE = re.compile(r"(```|~~~)")


class ReportError(Exception):
    """A marker or results file that stops a table from being written."""


# --- the registry ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Table:
    name: str
    sources: tuple[str, ...]  # results files, relative to benchmarks/results/
    build: Callable[..., str]  # one parsed JSON document per source -> markdown table


TABLES: dict[str, Table] = {}
VALUES: dict[str, Table] = {}


def table(name: str, *sources: str) -> Callable:
    """Register `build(*parsed_sources) -> markdown` as the table NAME."""

    def register(build: Callable[..., str]) -> Callable[..., str]:
        if name in TABLES:
            raise ValueError(f"table {name!r} registered twice")
        TABLES[name] = Table(name, sources, build)
        return build

    return register


def value(name: str, *sources: str) -> Callable:
    """Register `build(*parsed_sources) -> str` as the inline value NAME."""

    def register(build: Callable[..., str]) -> Callable[..., str]:
        if name in VALUES:
            raise ValueError(f"value {name!r} registered twice")
        VALUES[name] = Table(name, sources, build)
        return build

    return register


# --- number formats (as the README writes them) ----------------------------------------------

def pct(x: float, digits: int = 2) -> str:
    return f"{100 * x:.{digits}f}%"


def pcts(xs: list[float], digits: int = 2) -> str:
    """Per-seed accuracies without the % sign: `99.51, 99.56, 99.60`."""
    return ", ".join(f"{100 * x:.{digits}f}" for x in xs)


def secs(x: float, digits: int = 1) -> str:
    return f"{x:.{digits}f} s"


def count(n: int) -> str:
    return f"{n:,}"


def spread(xs: list[float]) -> float:
    """Sample standard deviation (n - 1): the spread one more seed would show."""
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def mean_sd(xs: list[float]) -> str:
    return f"mean {100 * statistics.mean(xs):.2f} ± {100 * spread(xs):.2f}"


def markdown(header: list[str], align: str, rows: list[list[str]]) -> str:
    """A pipe table; `align` has one letter per column: l(eft) or r(ight)."""
    rule = ["---:" if a == "r" else "---" for a in align]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in [header, rule, *rows])


# --- time to accuracy (benchmarks/time_to_accuracy.py) ----------------------------------------

def time_to(points: list[dict], target: float) -> float | None:
    """Training seconds at the first epoch whose test accuracy reaches `target`."""
    return next((p["train_seconds"] for p in points if p["test_acc"] >= target), None)


def median_time_to(runs: list[dict], target: float) -> tuple[float | None, int]:
    """(median seconds over seeds, seeds that reached it); a seed that never gets there counts as infinite."""
    times = [time_to(r["points"], target) for r in runs]
    median = statistics.median([math.inf if t is None else t for t in times])
    return (None if median == math.inf else median), sum(t is not None for t in times)


def preset_label(preset: str) -> str:
    return "default" if preset == "default" else f"`--preset {preset}`"


def time_to_cell(runs: list[dict], target: float) -> str:
    median, reached = median_time_to(runs, target)
    seeds = f"{reached} of {len(runs)} seeds"
    return f"{secs(median)} ({seeds})" if median is not None else f"not reached ({seeds})"


@table("time-to-accuracy", "time_to_accuracy.json")
def time_to_accuracy_table(data: dict) -> str:
    """Recipe A against each preset: training time, final accuracy, time to 99.2% and 99.5%."""
    presets = data["tinyvision"]
    ref = data.get("reference_recipe_a")
    header = [""] + (["recipe A (tutorial)"] if ref else []) + [preset_label(p) for p in presets]
    rows: dict[str, list[str]] = {k: [] for k in ("time", "acc", "t992", "speedup", "t995")}
    if ref:
        per_epoch = statistics.median(ref["epoch_seconds"])
        done = ref["epochs_run"] >= 10
        full = sum(ref["epoch_seconds"]) if done else 10 * per_epoch
        rows["time"].append(f"{full:.0f} s ({'its 10 epochs' if done else f'10 x {per_epoch:.1f} s'})")
        rows["acc"].append(f"{pct(ref['test_acc_after_run'])} after {ref['epochs_run']} of its 10 epochs")
        for key, target in (("t992", 0.992), ("t995", 0.995)):
            reached = ref["test_acc_after_run"] >= target
            rows[key].append(f"{full:.0f} s" if reached and done else "not reached" if done else "not measured")
        rows["speedup"].append("—")
    for runs in (p["runs"] for p in presets.values()):
        finals = [r["final_test_acc"] for r in runs]
        train = [r["train_seconds"] for r in runs]
        rows["time"].append(f"{secs(statistics.median(train))} ({', '.join(f'{t:.1f}' for t in train)})")
        rows["acc"].append(f"{pct(statistics.median(finals))} ({pcts(finals)})")
        rows["t992"].append(time_to_cell(runs, 0.992))
        rows["t995"].append(time_to_cell(runs, 0.995))
        if ref:
            median, _ = median_time_to(runs, 0.992)
            rows["speedup"].append(f"{full / median:.1f}x" if median else "—")
    labels = {"time": "training time (median)", "acc": "final test accuracy (median, per seed)",
              "t992": "time to 99.2%", "speedup": "recipe A's 10 epochs ÷ time to 99.2%", "t995": "time to 99.5%"}
    body = [[f"{labels[k]}", *cells] for k, cells in rows.items() if k != "speedup" or ref]
    return markdown(header, "l" + "r" * (len(header) - 1), body)


def seed_summary_rows(data: dict) -> list[list[str]]:
    rows = []
    for preset, entry in data["tinyvision"].items():
        runs = entry["runs"]
        finals = [r["final_test_acc"] for r in runs]
        train = [r["train_seconds"] for r in runs]
        epochs = runs[0]["epochs"]
        rows.append([
            f"`{preset}`", f"`{runs[0]['model']}`, {epochs} epoch{'s' if epochs != 1 else ''}",
            ", ".join(str(r["seed"]) for r in runs),
            f"{pct(statistics.median(finals))} median ({pcts(finals)}; {mean_sd(finals)})",
            f"{secs(statistics.median(train))} median ({', '.join(f'{t:.1f}' for t in train)})",
        ])
    return rows


@table("preset-seeds", "time_to_accuracy.json", "best/time_to_accuracy.json")
def preset_seeds_table(*files: dict) -> str:
    """One row per preset over its seeds: median test accuracy (per seed; mean ± sd) and training time."""
    rows = [row for data in files for row in seed_summary_rows(data)]
    return markdown(["preset", "model", "seeds", "test accuracy", "training time"], "lllrr", rows)


@table("best-seeds", "best/time_to_accuracy.json")
def best_seeds_table(data: dict, targets: tuple[float, ...] = (0.995, 0.9965)) -> str:
    """`--preset best`, one row per seed, then the medians."""
    (entry,) = data["tinyvision"].values()
    runs = entry["runs"]
    rows = [[str(r["seed"]), pct(r["final_test_acc"]), secs(r["train_seconds"]),
             *[secs(t) if (t := time_to(r["points"], x)) is not None else "not reached" for x in targets]]
            for r in runs]
    finals = [r["final_test_acc"] for r in runs]
    train = statistics.median(r["train_seconds"] for r in runs)
    rows.append(["**median**", f"**{pct(statistics.median(finals))}** ({mean_sd(finals)})",
                 f"**{secs(train)}** ({train / 60:.1f} min)", *["" for _ in targets]])
    header = ["seed", "test accuracy", "training time", *[f"time to {100 * x:g}%" for x in targets]]
    return markdown(header, "r" * len(header), rows)


# --- speed (inference.py, distributed.py, cpu_choices.py, compile.py, serve_load.py) ---------

DEFAULT_MODEL = "tvnet"
RUNTIMES = {"eager": "eager PyTorch", "torchscript": "TorchScript (frozen)", "onnxruntime": "ONNX Runtime"}


@table("inference", "inference.json")
def inference_table(data: dict) -> str:
    """Images per second by model, batch and runtime; the fastest in bold."""
    rate = {(r["model"], r["batch"], r["runtime"]): r["images_per_second"] for r in data["results"]}
    keys = list(dict.fromkeys((r["model"], r["batch"]) for r in data["results"]))
    keys.sort(key=lambda k: k[0] != DEFAULT_MODEL)  # stable: the default model first, else as measured
    best = max(rate.values())
    rows = []
    for model, batch in keys:
        cells = []
        for runtime in RUNTIMES:
            value = rate.get((model, batch, runtime))
            text = "—" if value is None else count(value)
            cells.append(f"**{text}**" if value == best else text)
        label = f"`{model}` (default)" if model == DEFAULT_MODEL else f"`{model}`"
        rows.append([label, count(batch), *cells])
    return markdown(["model", "batch", *RUNTIMES.values()], "lrrrr", rows)


@table("distributed", "distributed.json")
def distributed_table(data: dict) -> str:
    rows = []
    for key in ("one_process", "one_process_one_thread", "two_processes"):
        run = data[key]
        launcher = " (torchrun, gloo)" if run["processes"] > 1 else ""
        rows.append([f"{run['processes']} x {run['threads_per_process']}{launcher}", f"{run['train_seconds']:.2f}",
                     f"{run['wall_seconds']:.1f}", pct(run["test_acc"])])
    return markdown(["processes x torch threads", "train s (rank 0, steps only)", "wall s (whole command)",
                     "test acc"], "lrrr", rows)


@table("cpu-choices", "cpu_choices.json")
def cpu_choices_table(data: dict) -> str:
    """Seconds of training steps per MNIST epoch for each choice; the first of each group is the one used."""
    groups = {"layout and precision": data["layout_and_precision"], "block order": data["block_order"],
              "widths": data["widths"]}
    rows = []
    for group, variants in groups.items():
        seconds = {name: v["epoch_seconds"] if isinstance(v, dict) else v for name, v in variants.items()}
        used = next(iter(seconds.values()))
        for name, s in seconds.items():
            params = variants[name].get("parameters") if isinstance(variants[name], dict) else None
            rows.append([group, name, count(params) if params else "", f"{s:.2f}", f"{s / used:.2f}x"])
    return markdown(["choice", "variant", "parameters", "s per epoch of steps", "time vs the one used"], "llrrr",
                    rows)


@table("compile", "compile.json")
def compile_table(data: dict) -> str:
    eager, compiled = data["eager"], data["compiled"]
    speedup = eager["median_step_ms"] / compiled["median_step_ms"]
    cost = compiled["first_two_steps_s"] - eager["first_two_steps_s"]
    saved = (eager["median_step_ms"] - compiled["median_step_ms"]) / 1000
    steps = data["steps_in_default_run"]
    even = f"{count(round(cost / saved))} steps" if saved > 0 else "never (compiled steps are slower)"
    rows = [
        ["median training step", f"{eager['median_step_ms']:.1f} ms", f"{compiled['median_step_ms']:.1f} ms"],
        ["first two steps (compiling included)", f"{eager['first_two_steps_s']:.2f} s",
         f"{compiled['first_two_steps_s']:.2f} s"],
        ["step speed-up", "1x", f"{speedup:.2f}x"],
        [f"pays back after (the default run has {count(steps)} steps)", "", even],
    ]
    return markdown(["", "eager", "`torch.compile` (inductor)"], "lrr", rows)


@table("serve-load", "serve_load.json")
def serve_load_table(data: dict) -> str:
    row = [count(data["requests"]), str(data["clients"]), f"{data['requests_per_second']:.1f}",
           f"{data['latency_ms_p50']:.0f} ms", f"{data['latency_ms_p99']:.0f} ms", f"{data['latency_ms_max']:.0f} ms",
           count(data["errors"]), f"{count(data['correct_predictions'])}/{count(data['requests'])}",
           f"{data['payload_kb_mean']:.1f} KB", "yes" if data["server_alive_after"] else "**no**"]
    header = ["requests", "clients", "requests/s", "p50", "p99", "max", "errors", "right predictions",
              "mean payload", "healthy after"]
    return markdown(header, "rrrrrrrrrl", [row])


# --- accuracy on users' photos (user_photos.py) -------------------------------------------------

STYLE_NAMES = {
    "dark-on-light-jpeg": "dark ink on light paper, JPEG",
    "dark-on-light-png": "dark ink on light paper, PNG",
    "light-on-dark-jpeg": "light ink on dark paper, JPEG",
    "blue-pen-jpeg": "blue pen, JPEG",
    "rgba-transparent-png": "transparent background, PNG",
}


def share_digits(n: int) -> int:
    """Decimals an accuracy over `n` images can honestly show: 1 below 10,000 images, else 2."""
    return 1 if n < 10_000 else 2


@table("user-photos", "user_photos.json")
def user_photos_table(data: dict) -> str:
    n = data["images"]
    d = share_digits(n)
    rows = [
        [f"the {count(n)} user-style photos, prepared as `tinyvision predict` does",
         f"**{pct(data['user_photo_accuracy'], d)}**"],
        [f"the same {count(n)} digits as MNIST images", pct(data["same_digits_mnist_accuracy"], d)],
        ["the model on the whole MNIST test set", pct(data["model_mnist_test_accuracy"], 2)],
        ["the photos, grayscale + resize to 28x28 (what tutorials do)", pct(data["naive_resize_accuracy"], d)],
    ]
    return markdown(["input", "accuracy"], "lr", rows)


@table("user-photos-styles", "user_photos.json")
def user_photos_styles_table(data: dict) -> str:
    """Accuracy by photo style; styles are dealt round-robin, so each has a known share of the images."""
    styles = list(data["by_style"])
    rows = []
    for i, style in enumerate(styles):
        n = len(range(i, data["images"], len(styles)))
        rows.append([STYLE_NAMES.get(style, style), count(n), pct(data["by_style"][style], share_digits(n))])
    return markdown(["style", "images", "accuracy"], "lrr", rows)


# --- MLP vs CNN (tinyvision compare, copied to benchmarks/results/compare-*/) -----------------

def compare_table(data: dict) -> str:
    """One row per model; the best test accuracy in bold."""
    best = max(r["test_acc"] for r in data["results"])
    rows = [[r["model"], count(r["parameters"]), str(r["epochs"]), secs(r["train_seconds"]),
             f"**{pct(r['test_acc'])}**" if r["test_acc"] == best else pct(r["test_acc"]), f"{r['test_loss']:.4f}"]
            for r in data["results"]]
    return markdown(["model", "parameters", "epochs", "training time", "test accuracy", "test loss"], "lrrrrr", rows)


for _run in ("mnist", "fashion-mnist", "cifar10-jpeg"):
    table(f"compare-{_run}", f"compare-{_run}/report.json")(compare_table)


# --- peers (benchmarks/peers/*.py with --out benchmarks/results/peers/NAME.json) ---------------

def peer_table(data: dict) -> str:
    """Each epoch's training seconds and validation accuracy, then the single test measurement."""
    rows, total = [], 0.0
    for e in data["epochs"]:
        total += e["seconds"]
        rows.append([str(e["epoch"]), secs(e["seconds"]), secs(total), pct(e["val_acc"]), ""])
    rows.append(["**end**", "", f"**{secs(data['train_seconds'])}** (whole command {secs(data['wall_seconds'])})",
                 "", f"**{pct(data['test_acc'])}**"])
    return markdown(["epoch", "training time", "cumulative", "validation accuracy", "test accuracy"], "rrrrr", rows)


for _peer in ("tutorial_recipe_a", "keras_mnist_convnet"):
    table(f"peer-{_peer.replace('_', '-')}", f"peers/{_peer}.json")(peer_table)


# --- the source line under every table -------------------------------------------------------

def load_text(values: list[float] | None) -> str:
    return f"{values[0]:.2f}" if values else "?"


def source_note(path: str, data: dict) -> str:
    """`path`, the command that wrote it, and the machine's state, from its provenance block."""
    prov = data.get("provenance")
    if not prov:
        load = ""
        if "load_average_1min_before" in data:
            load = (f"; load average {data['load_average_1min_before']:.2f} before, "
                    f"{data['load_average_1min_after']:.2f} after (1 min)")
        return f"`{path}` (no command recorded: written before provenance.py{load})"
    commit = (prov.get("git_commit") or "unknown")[:12] + (" + uncommitted changes" if prov.get("git_dirty") else "")
    threads = prov.get("torch_threads")
    machine = (f"torch {prov.get('torch')}, {threads} thread{'' if threads == 1 else 's'}, {prov.get('cpu_model')} "
               f"({prov.get('cpus_available')} cores), {prov.get('device')}")
    return (f"`{path}`: `{prov['command']}` on {prov['start_time'][:10]}, commit {commit}; {machine}; load average "
            f"{load_text(prov.get('load_average_before'))} before, {load_text(prov.get('load_average_after'))} "
            f"after (1 min)")


def render(name: str, root: Path) -> str:
    """The text of block NAME: the table, a blank line, the source line."""
    if name not in TABLES:
        raise ReportError(f"unknown table {name!r} (registered: {', '.join(sorted(TABLES))})")
    spec = TABLES[name]
    parsed, notes = [], []
    for source in spec.sources:
        rel = (RESULTS / source).as_posix()
        path = root / rel
        if not path.is_file():
            raise ReportError(f"table {name!r}: results file {rel} is missing")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ReportError(f"table {name!r}: {rel} is not valid JSON ({e})") from None
        if data.get("smoke"):
            raise ReportError(f"table {name!r}: {rel} is a smoke run (--limit-batches/--subset), not a result")
        parsed.append(data)
        notes.append(source_note(rel, data))
    return spec.build(*parsed).rstrip("\n") + "\n\nFrom " + "; and ".join(notes) + ".\n"


def render_value(name: str, root: Path) -> str:
    if name not in VALUES:
        raise ReportError(f"unknown value {name!r} (registered: {', '.join(sorted(VALUES))})")
    spec = VALUES[name]
    return spec.build(*[read_results(name, source, root) for source in spec.sources])


def read_results(name: str, source: str, root: Path) -> dict:
    rel = (RESULTS / source).as_posix()
    path = root / rel
    if not path.is_file():
        raise ReportError(f"{name!r}: results file {rel} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ReportError(f"{name!r}: {rel} is not valid JSON ({e})") from None
    if data.get("smoke"):
        raise ReportError(f"{name!r}: {rel} is a smoke run (--limit-batches/--subset), not a result")
    return data


def rewrite_values(lines: list[str], rel: str, root: Path, result: Plan) -> list[str]:
    """Each line with its inline values re-rendered (outside fenced code)."""
    out, fence = [], None
    for i, line in enumerate(lines):
        text = line.strip()
        if fence is not None:
            fence = None if text.startswith(fence) else fence
            out.append(line)
            continue
        if m := FENCE.match(text):
            fence = m.group(1)
            out.append(line)
            continue

        def replace(match: re.Match, i: int = i) -> str:
            result.blocks += 1
            try:
                wanted = render_value(match.group(1), root)
            except ReportError as e:
                result.errors.append(f"{rel}:{i + 1}: {e}")
                return match.group(0)
            if wanted != match.group(2):
                result.stale.append(f"--- {rel}:{i + 1} value:{match.group(1)} (as written)\n-{match.group(2)}\n"
                                    f"+++ (from the results)\n+{wanted}\n")
            return f"<!-- value:{match.group(1)} -->{wanted}<!-- /value -->"

        out.append(VALUE.sub(replace, line))
    return out


# --- markers in the markdown files -----------------------------------------------------------

@dataclass(frozen=True)
class Block:
    name: str
    first: int  # index of the first line after the opening marker
    end: int  # index of the closing marker's line


def find_blocks(lines: list[str], where: str) -> list[Block]:
    """The marked blocks of a file's lines; markers inside fenced code are examples, not blocks."""
    blocks: list[Block] = []
    fence: str | None = None
    opened: tuple[str, int] | None = None
    for i, line in enumerate(lines):
        text = line.strip()
        if opened is None and fence is not None:
            fence = None if text.startswith(fence) else fence
            continue
        if opened is None and (m := FENCE.match(text)):
            fence = m.group(1)
            continue
        if m := OPEN.fullmatch(text):
            if opened is not None:
                raise ReportError(f"{where}:{i + 1}: table:{m.group(1)} opens inside table:{opened[0]}")
            opened = (m.group(1), i)
        elif m := CLOSE.fullmatch(text):
            if opened is None or opened[0] != m.group(1):
                raise ReportError(f"{where}:{i + 1}: /table:{m.group(1)} closes a block that is not open")
            blocks.append(Block(opened[0], opened[1] + 1, i))
            opened = None
    if opened is not None:
        raise ReportError(f"{where}:{opened[1] + 1}: table:{opened[0]} is never closed")
    return blocks


def markdown_files(root: Path) -> list[Path]:
    files = [root / "README.md"] if (root / "README.md").is_file() else []
    return files + sorted((root / "docs").rglob("*.md"))


@dataclass
class Plan:
    new_text: dict[Path, str]  # files whose blocks change -> their new text
    stale: list[str]  # unified diffs, one per stale block
    errors: list[str]
    blocks: int


def plan(root: Path) -> Plan:
    """What rewriting every block under `root` would change, and what stops it."""
    result = Plan({}, [], [], 0)
    for path in markdown_files(root):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        try:
            blocks = find_blocks(lines, rel)
        except ReportError as e:
            result.errors.append(str(e))
            continue
        out, last = [], 0
        for block in blocks:
            result.blocks += 1
            out += lines[last:block.first]
            current = lines[block.first:block.end]
            last = block.end
            try:
                wanted = ("\n" + render(block.name, root) + "\n").splitlines(keepends=True)
            except ReportError as e:
                result.errors.append(f"{rel}:{block.first}: {e}")
                out += current
                continue
            out += wanted
            if current != wanted:
                result.stale.append("".join(difflib.unified_diff(
                    current, wanted, f"{rel} table:{block.name} (as written)",
                    f"{rel} table:{block.name} (from the results)")))
        out += lines[last:]
        new = "".join(rewrite_values(out, rel, root, result))
        if new != text:
            result.new_text[path] = new
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any block is stale or broken")
    parser.add_argument("--list", action="store_true", help="list the registered tables")
    parser.add_argument("--show", metavar="NAME", help="print table NAME as it would be written")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    root = args.root.resolve()

    if args.list:
        for spec in TABLES.values():
            files = ", ".join(f"{s}{'' if (root / RESULTS / s).is_file() else ' (missing)'}" for s in spec.sources)
            print(f"{spec.name:28} {files}")
        return 0
    if args.show:
        try:
            print(render(args.show, root), end="")
        except ReportError as e:
            print(f"report: {e}", file=sys.stderr)
            return 1
        return 0

    result = plan(root)
    for error in result.errors:
        print(f"report: {error}", file=sys.stderr)
    if args.check:
        for diff in result.stale:
            sys.stdout.write(diff)
        if result.stale:
            print(f"report: {len(result.stale)} of {result.blocks} tables differ from their results; "
                  "run python benchmarks/report.py", file=sys.stderr)
        return 1 if result.stale or result.errors else 0
    if result.errors:
        print("report: nothing written", file=sys.stderr)
        return 1
    for path, text in result.new_text.items():
        write_text_atomic(path, text)
        print(f"report: rewrote {path.relative_to(root).as_posix()}")
    print(f"report: {len(result.stale)} of {result.blocks} tables changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

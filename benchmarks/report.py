"""Every results table in README.md and docs/*.md, written from the JSON under benchmarks/results/.

A table lives between two marker lines in any of those files; everything
between them belongs to this script:

    <!-- table:time-to-accuracy -->
    (the table, then one line naming its results file, command and machine load)
    <!-- /table:time-to-accuracy -->

    python benchmarks/report.py                  # rewrite every marked block from the results
    python benchmarks/report.py --check          # write nothing; diff every stale block; exit 1 if any
    python benchmarks/report.py --list           # the registered tables and values, and their results files
    python benchmarks/report.py --show NAME      # print one table (or value) as it would be written

`--check` also fails (exit 1) on a marker naming an unknown table, a missing
results file, a results file from a smoke run, or one written in an older
format by an earlier version of its script. Rewriting is all or nothing: with
any such error, no file is touched.

A table for a new results file is one function: decorate it with
`@table(NAME, "file.json")`; it receives the parsed JSON and returns the
markdown table. Means, medians and spreads are computed here from the
per-seed (per-run) rows, never copied from a summary.

A figure quoted in a sentence is an inline value, written the same way:

    The default recipe reaches <!-- value:default-mnist-acc -->99.56 ± 0.04%<!-- /value --> on MNIST's test set.

`@value(NAME, "file.json")` registers the function that renders it (a short
string); `--check` fails when the text between the markers differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder leads sys.path; a script here named like a standard
# module would then shadow it. Look in this folder last.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

import argparse  # noqa: E402
import difflib  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
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


def registrar(registry: dict[str, Table], kind: str, name: str, sources: tuple[str, ...]) -> Callable:
    def register(build: Callable[..., str]) -> Callable[..., str]:
        if name in registry:
            raise ValueError(f"{kind} {name!r} registered twice")
        registry[name] = Table(name, sources, build)
        return build

    return register


def table(name: str, *sources: str) -> Callable:
    """Register `build(*parsed_sources) -> markdown` as the table NAME."""
    return registrar(TABLES, "table", name, sources)


def value(name: str, *sources: str) -> Callable:
    """Register `build(*parsed_sources) -> str` as the inline value NAME."""
    return registrar(VALUES, "value", name, sources)


# --- number formats (as the docs write them) ----------------------------------------------

def pct(x: float, digits: int = 2) -> str:
    return f"{100 * x:.{digits}f}%"


def pcts(xs: list[float], digits: int = 2) -> str:
    """Per-seed accuracies without the % sign: `99.51, 99.56, 99.60`."""
    return ", ".join(f"{100 * x:.{digits}f}" for x in xs)


def secs(x: float, digits: int = 1) -> str:
    return f"{x:.{digits}f} s"


def count(n: int) -> str:
    return f"{n:,}"


def ms(x: float) -> str:
    return f"{x:,.0f} ms"


def spread(xs: list[float]) -> float:
    """Sample standard deviation (n - 1): the spread one more seed would show."""
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def mean_sd(xs: list[float], digits: int = 2) -> str:
    """`99.56 ± 0.04%`: the mean and sample standard deviation of accuracies (fractions); one value alone."""
    if len(xs) == 1:
        return f"{100 * xs[0]:.{digits}f}%"
    return f"{100 * statistics.mean(xs):.{digits}f} ± {100 * spread(xs):.{digits}f}%"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x"


def markdown(header: list[str], align: str, rows: list[list[str]]) -> str:
    """A pipe table; `align` has one letter per column: l(eft) or r(ight)."""
    rule = ["---:" if a == "r" else "---" for a in align]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in [header, rule, *rows])


def older_format(path: str, why: str, command: str) -> ReportError:
    return ReportError(f"{path} was written by an older version of its script ({why}); rerun `{command}`")


# --- time to accuracy on MNIST (benchmarks/time_to_accuracy.py) -------------------------------

TTA_FILE = "benchmarks/results/time_to_accuracy.json"
TTA_COMMAND = ("python benchmarks/time_to_accuracy.py --presets fast:10,plain:5,default:3,default/fp32:3 "
               "--peers tutorial-recipe-a,keras-mnist-convnet")
PRESET_ORDER = ("default", "default/fp32", "plain", "fast", "best")
PEER_NAMES = {
    "tutorial-recipe-a": "PyTorch tutorial, recipe A, in its own pipeline",
    "keras-mnist-convnet": "Keras \"Simple MNIST convnet\" example",
}


def recipe_runs(data: dict) -> dict[str, list[dict]]:
    """Each tinyvision recipe's per-seed runs, the default recipe first."""
    runs = [r for block in data.get("tinyvision", {}).values() for r in block.get("runs", [])]
    if "peers" not in data or "reference_recipe_a" in data or any("final_test_acc" in r for r in runs):
        raise older_format("this time_to_accuracy.py results file", "test accuracy read after every epoch, no peers",
                           TTA_COMMAND)
    recipes = {preset: block["runs"] for preset, block in data["tinyvision"].items() if block["runs"]}
    rank = {p: i for i, p in enumerate(PRESET_ORDER)}
    return dict(sorted(recipes.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def recipe_label(recipe: str) -> str:
    """`default`, `plain`, ... or, with a training precision, `default/fp32`."""
    preset, _, precision = recipe.partition("/")
    flag = f" --precision {precision}" if precision else ""
    return f"`tinyvision train{flag}` (default)" if preset == "default" else f"`--preset {preset}{flag}`"


def epochs_text(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def recipe_summary(runs: list[dict]) -> dict:
    accs = [r["test_acc"] for r in runs]
    return {"acc_mean": statistics.mean(accs), "accs": accs,
            "train": statistics.median(r["train_seconds"] for r in runs),
            "wall": statistics.median(r["wall_seconds"] for r in runs)}


def ran(peer: dict) -> bool:
    return "test_acc" in peer


def peer_model(peer: dict) -> str:
    return f"{peer['recipe']['model']}, {epochs_text(len(peer['epochs']))}"


@table("time-to-accuracy", "time_to_accuracy.json")
def time_to_accuracy_table(data: dict) -> str:
    """One row per tinyvision recipe (over its seeds) and one per peer (one run each), same session."""
    rows = []
    for preset, runs in recipe_runs(data).items():
        s = recipe_summary(runs)
        rows.append([recipe_label(preset), f"`{runs[0]['model']}`, {epochs_text(runs[0]['epochs'])}",
                     str(len(runs)), mean_sd(s["accs"]), secs(s["train"]), secs(s["wall"])])
    for name, peer in data["peers"].items():
        label = PEER_NAMES.get(name, name)
        if ran(peer):
            rows.append([label, peer_model(peer), f"1 (seed {peer.get('seed', 0)})", pct(peer["test_acc"]),
                         secs(peer["train_seconds"]), secs(peer["runner"]["wall_seconds"])])
        else:
            why = peer.get("skipped") or "failed: " + (peer.get("failed") or "no result").splitlines()[0]
            rows.append([label, "", "", f"not run: {why}", "", ""])
    header = ["recipe", "model", "seeds", "MNIST test accuracy (mean ± std)", "training (median)",
              "whole command (median)"]
    return markdown(header, "lllrrr", rows)


def fastest_reaching(recipes: dict[str, list[dict]], target: float) -> str | None:
    """Our recipe with the smallest median training time whose MEAN test accuracy reaches `target`."""
    reaching = [(recipe_summary(runs)["train"], p) for p, runs in recipes.items()
                if recipe_summary(runs)["acc_mean"] >= target]
    return min(reaching)[1] if reaching else None


@table("time-to-accuracy-speedups", "time_to_accuracy.json")
def speedups_table(data: dict) -> str:
    """Like with like: each peer's whole run against our fastest recipe whose mean reaches its accuracy."""
    recipes = recipe_runs(data)
    rows = []
    for name, peer in data["peers"].items():
        if not ran(peer):
            continue
        preset = fastest_reaching(recipes, peer["test_acc"])
        label = PEER_NAMES.get(name, name)
        if preset is None:
            rows.append([label, pct(peer["test_acc"]), "none of our recipes' means reaches it", "", "", "", ""])
            continue
        s = recipe_summary(recipes[preset])
        wall = peer["runner"]["wall_seconds"]
        rows.append([label, pct(peer["test_acc"]), f"{recipe_label(preset)}: {pct(s['acc_mean'])} mean",
                     f"{secs(peer['train_seconds'])} / {secs(s['train'])}", ratio(peer["train_seconds"], s["train"]),
                     f"{secs(wall)} / {secs(s['wall'])}", ratio(wall, s["wall"])])
    header = ["peer", "its test accuracy", "our fastest recipe reaching it", "training: peer / ours", "speed-up",
              "whole command: peer / ours", "speed-up"]
    return markdown(header, "lrlrrrr", rows)


@table("time-to-accuracy-seeds", "time_to_accuracy.json")
def time_to_accuracy_seeds_table(data: dict) -> str:
    """Every run behind the means: each seed's test accuracy, training and whole-command seconds."""
    rows = []
    for preset, runs in recipe_runs(data).items():
        rows.append([recipe_label(preset), ", ".join(str(r["seed"]) for r in runs), pcts([r["test_acc"] for r in runs]),
                     ", ".join(f"{r['train_seconds']:.1f}" for r in runs),
                     ", ".join(f"{r['wall_seconds']:.1f}" for r in runs)])
    return markdown(["recipe", "seeds", "test accuracy (%)", "training (s)", "whole command (s)"], "lllll", rows)


@table("calibration", "time_to_accuracy.json")
def calibration_table(data: dict) -> str:
    """Temperature scaling per recipe (medians over seeds): fitted and judged on validation, checked on test."""
    rows = []
    for preset, runs in recipe_runs(data).items():
        cal = [r["calibration"] for r in runs]
        test = [r["test_ece"] for r in runs if r.get("test_ece") is not None]
        rows.append([recipe_label(preset), f"{statistics.median(c['temperature'] for c in cal):.3f}",
                     pct(statistics.median(c["ece_before"] for c in cal)),
                     pct(statistics.median(c["ece_after"] for c in cal)),
                     pct(statistics.median(test)) if test else "—"])
    header = ["recipe", "temperature", "calibration error before (validation)", "after (validation)",
              "after (test)"]
    return markdown(header, "lrrrr", rows)


def preset_value(preset: str, what: str) -> Callable[[dict], str]:
    def build(data: dict) -> str:
        runs = recipe_runs(data).get(preset)
        if not runs:
            raise ReportError(f"{TTA_FILE} has no runs of the {preset!r} recipe")
        s = recipe_summary(runs)
        return {"acc": mean_sd(s["accs"]), "seeds": str(len(runs)), "train": f"{s['train']:.0f} s",
                "wall": f"{s['wall']:.0f} s"}[what]

    return build


for _preset in ("default", "plain", "fast"):
    for _what in ("acc", "seeds", "train", "wall"):
        _name = f"{_preset}-mnist-{_what}" if _what in ("acc", "seeds") else f"{_preset}-{_what}-s"
        value(_name, "time_to_accuracy.json")(preset_value(_preset, _what))


@value("default-bf16-speedup", "time_to_accuracy.json")
def default_bf16_speedup(data: dict) -> str:
    """The default recipe's median training time with fp32 steps over its time with `auto` (bf16), same run."""
    recipes = recipe_runs(data)
    if "default/fp32" not in recipes or "default" not in recipes:
        raise ReportError(f"{TTA_FILE} needs both the default and the default/fp32 recipes; rerun `{TTA_COMMAND}`")
    if {r.get("precision") for r in recipes["default"]} != {"bf16"}:
        raise ReportError(f"{TTA_FILE}: the default recipe's runs did not train in bf16 on that machine")
    return ratio(recipe_summary(recipes["default/fp32"])["train"], recipe_summary(recipes["default"])["train"])


@value("speedup-vs-tutorial", "time_to_accuracy.json")
def speedup_vs_tutorial(data: dict) -> str:
    """Whole-command speed-up over the tutorial's recipe A (its whole run against our fastest recipe reaching it)."""
    peer = data["peers"].get("tutorial-recipe-a", {})
    recipes = recipe_runs(data)
    preset = fastest_reaching(recipes, peer["test_acc"]) if ran(peer) else None
    if preset is None:
        raise ReportError(f"{TTA_FILE}: no recipe of ours reaches the tutorial recipe's accuracy (or it did not run)")
    return ratio(peer["runner"]["wall_seconds"], recipe_summary(recipes[preset])["wall"])


# The most accurate preset, when measured (`--presets best:3 --peers none --out .../time_to_accuracy_best.json`).
table("time-to-accuracy-best", "time_to_accuracy_best.json")(time_to_accuracy_table)


# --- digits beyond MNIST, and not-a-digit (benchmarks/handwriting.py) --------------------------

HW_FILE = "benchmarks/results/handwriting.json"
HANDWRITING = ("hand-optdigits", "hand-pendigits", "hand-pyclustering", "font-digits")  # as handwriting.py pools
SET_NAMES = {
    "handwriting": "other writers' handwriting, pooled: optdigits, pendigits, pyclustering, fonts",
    "hand-optdigits": "UCI optdigits: its 13 test writers (not MNIST's; the 30 training writers are trained on)",
    "hand-pendigits": "UCI pendigits: its 14 test writers' pen-tablet paths, drawn",
    "hand-pyclustering": "one writer's digits shipped with pyclustering",
    "font-digits": "handwriting fonts of the EVAL group (never trained on), Hershey cursive",
    "printed-digits": "printed fonts of the EVAL group",
    "user-photos-mnist-test": "user-style photos of MNIST test digits",
    "letters": "letters A-Z, a-z in EVAL fonts",
    "letters:plain": "letters that cannot pass for a digit",
    "letters:lookalikes": "letters that can (O, l, S, Z, ...)",
    "photos-cifar10": "photos: CIFAR-10 test images",
    "clothes-fashion": "clothes: Fashion-MNIST test images",
    "other-marks": "blank paper, emoji, symbols, scribbles, doodles",
    "words": "whole words and names in EVAL fonts",
    "words:plain": "words that cannot pass for a number",
    "words:lookalikes": "words that can (so, OIL, ...)",
}


def handwriting_recipes(*files: dict) -> dict[str, list[dict]]:
    """The measured runs (of every file given) grouped by recipe (the run's preset; none is the default),
    default first."""
    groups: dict[str, list[dict]] = {}
    for data in files:
        if data.get("limit_per_set") is not None:
            raise ReportError(f"{HW_FILE} read at most {data['limit_per_set']} images per set (--limit): a "
                              "quick look, not a result")
        for run in data["runs"]:
            groups.setdefault((run.get("config") or {}).get("preset") or "default", []).append(run)
    rank = {p: i for i, p in enumerate(PRESET_ORDER)}
    return dict(sorted(groups.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def set_figures(run: dict, name: str) -> dict | None:
    """One run's figures for a set; `handwriting` pools the four handwriting sets, `letters:plain` and
    `letters:lookalikes` split the letters."""
    sets = run["sets"]
    if name == "handwriting":
        parts = [sets[n] for n in HANDWRITING if n in sets]
        total = sum(p["count"] for p in parts)
        if not total:
            return None
        return {"kind": "digits", "count": total,
                **{k: sum(p[k] * p["count"] for p in parts) / total
                   for k in ("accuracy", "refused", "misread", "one_digit_accuracy", "one_digit_refused")}}
    base, _, part = name.partition(":")
    entry = sets.get(base)
    if entry is None or not part:
        return entry
    return {"kind": entry["kind"], **entry[{"plain": "without_lookalikes", "lookalikes": "lookalikes_only"}[part]]}


def over_runs(runs: list[dict], name: str, key: str) -> list[float]:
    return [f[key] for r in runs if (f := set_figures(r, name)) is not None and f.get(key) is not None]


HEADLINE = ("handwriting", "printed-digits", "user-photos-mnist-test", "letters:plain", "letters:lookalikes",
            "words:plain", "photos-cifar10", "clothes-fashion", "other-marks")


def headline_cell(runs: list[dict], name: str) -> str:
    figures = set_figures(runs[0], name)
    if figures["kind"] == "digits":
        return (f"{mean_sd(over_runs(runs, name, 'accuracy'), 1)} right "
                f"({pct(statistics.mean(over_runs(runs, name, 'refused')), 1)} unanswered)")
    return f"{mean_sd(over_runs(runs, name, 'refused'), 1)} refused"


# The headline reads: the three default runs with this release's reader (the upright reading's evaluation). The
# earlier runs' reads (handwriting.json) stay the before or after of the tables that name them.
HEADLINE_READS = "handwriting_lean.json"


@table("robust-digits", HEADLINE_READS, "handwriting_plain.json")
def robust_digits_table(*files: dict) -> str:
    """The headline: digits written by others, user photos, and things that are not digits, per recipe."""
    recipes = handwriting_recipes(*files)
    first = next(iter(recipes.values()))
    rows = []
    for name in HEADLINE:
        if set_figures(first[0], name) is None:
            continue
        kind = "digits" if set_figures(first[0], name)["kind"] == "digits" else "not digits"
        rows.append([SET_NAMES.get(name, name), kind, count(set_figures(first[0], name)["count"]),
                     *[headline_cell(runs, name) for runs in recipes.values()]])
    header = ["set", "kind", "images", *[f"{recipe_label(p)}, {len(r)} run{'s' * (len(r) > 1)}"
                                        for p, r in recipes.items()]]
    return markdown(header, "llr" + "r" * len(recipes), rows)


@table("handwriting", HEADLINE_READS, "handwriting_plain.json")
def handwriting_table(*files: dict) -> str:
    """Every set: read from its file as a user's image is (right, unanswered, wrong), and the classifier
    alone on the one prepared digit (right, under the threshold)."""
    recipes = handwriting_recipes(*files)
    names = list(SET_NAMES)
    rows = []
    for preset, runs in recipes.items():
        for name in names:
            figures = set_figures(runs[0], name)
            if figures is None:
                continue
            mean = {k: statistics.mean(over_runs(runs, name, k)) for k in ("refused", "one_digit_refused")}
            if figures["kind"] == "digits":
                cells = [mean_sd(over_runs(runs, name, "accuracy"), 1), pct(mean["refused"], 1),
                         pct(statistics.mean(over_runs(runs, name, "misread")), 1),
                         pct(statistics.mean(over_runs(runs, name, "one_digit_accuracy")), 1),
                         pct(mean["one_digit_refused"], 1)]
            else:
                cells = ["—", mean_sd(over_runs(runs, name, "refused"), 1), pct(1 - mean["refused"], 1), "—",
                         pct(mean["one_digit_refused"], 1)]
            short = "default" if preset == "default" else f"`{preset}`"
            label = [f"{short}, {len(runs)} runs"] if len(recipes) > 1 else []
            rows.append([*label, SET_NAMES[name], count(figures["count"]), *cells])
    header = [*(["recipe"] if len(recipes) > 1 else []), "set", "images", "right", "unanswered",
              "wrong (a digit answered)", "one digit: right", "one digit: under the threshold"]
    return markdown(header, "l" * (len(header) - 6) + "rrrrrr", rows)


@table("paper-cost-test", "numbers_before.json", "numbers_top_probability.json")
def paper_cost_test_table(before: dict, after: dict) -> str:
    """The paper module's cost on clean paper, on the test numbers: one run read before it (commit c73d90c)
    and after. Reported, never chosen on."""
    same_model("the paper-cost-test files", "model", before, after)
    rows = []
    for label, get in (("read exactly: all numbers", lambda f: pct(f["read"]["rate"], 1)),
                       ("… digits apart", lambda f: pct(f["read"]["by_touching"]["separate"]["rate"], 1)),
                       ("… some digits touching", lambda f: pct(f["read"]["by_touching"]["touching"]["rate"], 1)),
                       ("no answer", lambda f: pct(f["abstained"] / f["images"], 1)),
                       ("time per number (one thread)", lambda f: f"{1000 * f['seconds_per_image']:.0f} ms")):
        rows.append([label, get(before), get(after)])
    return markdown([f"test numbers, clean paper ({count(after['images'])})", "before (commit c73d90c)",
                     "after: `image/paper.py`"], "lrr", rows)


@table("paper-evaluation", "handwriting_before.json", "handwriting_paper.json")
def paper_evaluation_table(before: dict, after: dict) -> str:
    """The paper module on the evaluation sets: the same default runs read with the code before it (commit
    c73d90c) and after. It chose nothing: its choices were made on validation."""
    return same_runs_table("paper-evaluation", before, after)


@table("rejection-evaluation", "handwriting_top_probability.json", "handwriting_energy.json")
def rejection_evaluation_table(before: dict, after: dict) -> str:
    """The refusal score on the evaluation sets: the same weights (retrained, checked by their digest) with
    cards judging the top probability (1% of validation digits) and the energy (0.3%). They chose nothing:
    the score and share were chosen on validation (rejection-scores)."""
    return same_runs_table("rejection-evaluation", before, after, same_path=False)


@table("whole-reading-evaluation", "handwriting_energy.json", "handwriting_whole.json")
def whole_reading_evaluation_table(before: dict, after: dict) -> str:
    """A digit in pieces also read whole, on the evaluation sets: the same default runs before and after. It
    chose nothing: the rule was chosen on validation (whole-reading)."""
    return same_runs_table("whole-reading-evaluation", before, after)


@table("hole-marks-evaluation", "handwriting_hole_before.json", "handwriting_hole.json")
def hole_marks_evaluation_table(before: dict, after: dict) -> str:
    """The hole rule on the evaluation sets: the same seed-0 run read with it off (--reader HOLE_MARK=None)
    and as shipped. It chose nothing: the bar was chosen on validation (hole-marks)."""
    if before.get("reader_settings") != {"HOLE_MARK": None} or after.get("reader_settings"):
        raise ReportError("hole-marks-evaluation wants a --reader HOLE_MARK=None file, then one as shipped")
    return same_runs_table("hole-marks-evaluation", before, after)


def same_runs_table(what: str, before: dict, after: dict, same_path: bool = True) -> str:
    """Every evaluation set read by the same runs' weights before and after a change: share right or
    refused, mean +- std over the runs. `same_path` False: the runs were retrained elsewhere, and only
    their weights' digests (which must be recorded) say they are the same."""
    runs_before, runs_after = default_runs(before), default_runs(after)
    if len(runs_before) != len(runs_after):
        raise ReportError(f"the {what} files must read the same runs")
    for old_run, new_run in zip(runs_before, runs_after):
        if same_path:
            same_model(f"the {what} files", "run", old_run, new_run)
        elif not old_run.get("weights_sha256") or old_run.get("weights_sha256") != new_run.get("weights_sha256"):
            raise ReportError(f"the {what} files: {old_run['run']} and {new_run['run']} are not recorded as the "
                              "same weights")
    rows = []
    for name, label in SET_NAMES.items():
        old, new = set_figures(runs_before[0], name), set_figures(runs_after[0], name)
        if old is None or new is None:
            continue
        key = "accuracy" if new["kind"] == "digits" else "refused"
        rows.append([label, count(new["count"]), "right" if key == "accuracy" else "refused",
                     mean_sd(over_runs(runs_before, name, key), 1), mean_sd(over_runs(runs_after, name, key), 1)])
    return markdown(["set", "images", "share", f"before ({len(runs_before)} runs)", "after (same runs)"],
                    "lrlrr", rows)


def same_runs(what: str, *files: dict, recipe: str = "default") -> list[list[dict]]:
    """Each file's runs of `recipe`, refused unless they are the same runs (path and recorded weights) in the
    same order: a before and after of one change."""
    runs = [handwriting_recipes(f).get(recipe) or [] for f in files]
    if not runs[0] or any(len(r) != len(runs[0]) for r in runs):
        raise ReportError(f"the {what} files must read the same {recipe} runs")
    for same in zip(*runs):
        same_model(f"the {what} files", "run", *same)
    return runs


def default_runs(data: dict) -> list[dict]:
    runs = handwriting_recipes(data).get("default")
    if not runs:
        raise ReportError(f"{HW_FILE} has no run of the default recipe")
    return runs


def handwriting_value(name: str, key: str) -> Callable[[dict], str]:
    def build(data: dict) -> str:
        runs = default_runs(data)
        if set_figures(runs[0], name) is None:
            raise ReportError(f"{HW_FILE} has no set {name!r}")
        return mean_sd(over_runs(runs, name, key), 1)

    return build


for _name, _set, _key in (("handwriting-acc", "handwriting", "accuracy"),
                          ("user-photos-acc", "user-photos-mnist-test", "accuracy"),
                          ("letters-refused", "letters:plain", "refused"),
                          ("photos-refused", "photos-cifar10", "refused"),
                          ("clothes-refused", "clothes-fashion", "refused"),
                          ("words-refused", "words:plain", "refused"),
                          ("optdigits-acc", "hand-optdigits", "accuracy"),
                          ("pendigits-acc", "hand-pendigits", "accuracy")):
    value(_name, "handwriting.json")(handwriting_value(_set, _key))

for _name, _file in (("hole-doodles-before", "handwriting_hole_before.json"),
                     ("hole-doodles-after", "handwriting_hole.json")):
    value(_name, _file)(handwriting_value("other-marks", "refused"))


# --- whole numbers (benchmarks/number_photos.py read --results) -------------------------------

STYLE_NAMES = {
    "dark-on-light-jpeg": "dark ink on light paper, JPEG",
    "dark-on-light-png": "dark ink on light paper, PNG",
    "light-on-dark-jpeg": "light ink on dark paper, JPEG",
    "blue-pen-jpeg": "blue pen, JPEG",
    "rgba-transparent-png": "transparent background, PNG",
}


@table("numbers", "numbers.json")
def numbers_table(data: dict) -> str:
    """Numbers read exactly (every digit right, none missing or extra), overall and by how they were written."""
    read = data["read"]
    rows = [["**read exactly: all numbers**", count(read["images"]), f"**{pct(read['rate'], 1)}**"]]
    groups = (("by_length", lambda k: f"{k} digits"),
              ("by_touching", {"separate": "digits apart", "touching": "some digits touching"}.get),
              ("by_uneven", {"even": "even sizes and baseline", "uneven": "uneven sizes and baseline"}.get),
              ("by_style", STYLE_NAMES.get))
    for key, name in groups:
        for k, v in read.get(key, {}).items():
            rows.append([f"read exactly: {name(k) or k}", count(v["images"]), pct(v["rate"], 1)])
    n = data["images"]
    rows += [["the right number of digits found", count(n), pct(read["digit_count_rate"], 1)],
             ["every digit's box found (overlap ≥ 0.5)", count(n), pct(data["segmentation"]["rate"], 1)],
             ["no answer (abstained or unreadable)", count(n), pct(data["abstained"] / n, 1)]]
    rows.append(["time per image (decode, segment, classify)", "", f"{1000 * data['seconds_per_image']:.0f} ms"])
    return markdown(["", "images", "share"], "lrr", rows)


@table("number-outcomes", "numbers.json")
def number_outcomes_table(data: dict) -> str:
    """The same numbers by layout and outcome: where numbers are lost, and how."""
    names = {"apart": "digits apart", "several marks": "several marks, some digits touching",
             "one mark": "one mark: every digit touches the next"}
    rows = [[names[layout], count(o["images"]), *(f"{o[k]} ({pct(o[k] / o['images'], 1)})" for k in
                                                    ("read", "refused", "too_many", "too_few", "misread"))]
            for layout, o in data["read"]["outcomes"].items()]
    return markdown(["numbers", "images", "read exactly", "refused", "too many digits", "too few digits",
                     "a digit misread"], "lrrrrrr", rows)


def same_model(what: str, key: str, *files: dict) -> None:
    """Figures compared as one model's must be: the same run path and, where the results recorded it, the
    same weights (`weights_sha256`). A path can be reused by a model retrained in its place, and a file
    with the digest beside one without cannot be checked, so that is refused too."""
    if len({f[key] for f in files}) != 1:
        raise ReportError(f"{what} must come from one model")
    if len({f.get("weights_sha256") for f in files}) != 1:
        raise ReportError(f"{what}: one path, but not the same recorded weights; rerun both sides")


HARD_STYLE_NAMES = {"ruled": "ruled paper (a rule under the digits; half with a margin)",
                    "squared": "squared paper", "shadow": "a soft-edged shadow over part of the sheet",
                    "desk-edge": "the desk beside the sheet, on one or two sides", "pencil": "pencil"}
PAPER_FILES = ("numbers_paper_val_before.json", "numbers_paper_val.json", "numbers_paper_before.json",
               "numbers_paper_module.json")


@table("paper", *PAPER_FILES)
def paper_table(val_before: dict, val_after: dict, test_before: dict, test_after: dict) -> str:
    """Numbers photographed on hard paper (number_photos.py build --paper hard), read before and after the
    paper module: validation (the choice, on the seed-0 trial run) and test (the report, on the default
    recipe's seed-0 run), each pair by one model."""
    same_model("the paper files' validation pair", "model", val_before, val_after)
    same_model("the paper files' test pair", "model", test_before, test_after)
    rows = [["**all**", count(val_after["images"]), pct(val_before["read"]["rate"], 1),
             f"**{pct(val_after['read']['rate'], 1)}**", count(test_after["images"]),
             pct(test_before["read"]["rate"], 1), f"**{pct(test_after['read']['rate'], 1)}**"]]
    for style, name in HARD_STYLE_NAMES.items():
        v0, v1 = val_before["read"]["by_style"][style], val_after["read"]["by_style"][style]
        t0, t1 = test_before["read"]["by_style"][style], test_after["read"]["by_style"][style]
        rows.append([name, count(v1["images"]), pct(v0["rate"], 1), pct(v1["rate"], 1), count(t1["images"]),
                     pct(t0["rate"], 1), pct(t1["rate"], 1)])
    rows.append(["no answer (abstained or unreadable)", "", pct(val_before["abstained"] / val_before["images"], 1),
                 pct(val_after["abstained"] / val_after["images"], 1), "",
                 pct(test_before["abstained"] / test_before["images"], 1),
                 pct(test_after["abstained"] / test_after["images"], 1)])
    return markdown(["numbers read exactly", "validation images", "before", "after", "test images", "before",
                     "after"], "lrrrrrr", rows)


MARK_NAMES = {"underlined": "underlined", "double-underlined": "underlined twice", "boxed": "boxed",
              "circled": "circled"}


def marks_points(v: dict) -> float:
    """What the marks' constants are chosen by: marked numbers read plus drawings refused, in points."""
    return 100 * (v["numbers_read"] + v["doodles_refused"])


def marks_variant_name(v: dict) -> str:
    if v["variant"] == "off":
        return "no marks cleared (before)"
    if v["variant"] == "default":
        return "**as shipped**"
    return f"`{v['variant']}`"


@table("marks-choices", "marks_choices.json")
def marks_choices_table(data: dict) -> str:
    """The writer's marks (image.marks) on validation: numbers from MNIST's validation digits underlined,
    boxed or circled, and drawings whose outline holds other marks, read by one seed-0 run per variant. The
    shipped constants must have the most points (ties keep them)."""
    import tinyvision.image.marks as marks

    rows, variants = [], data["variants"]
    shipped = next(v for v in variants if v["variant"] == "default")
    best = max(marks_points(v) for v in variants)
    if marks_points(shipped) < best:
        raise ReportError(f"marks_choices.json: the shipped constants ({marks_points(shipped):.2f} points) are "
                          f"not the best variant ({best:.2f})")
    for name, recorded in data["constants"].items():
        value = getattr(marks, name)
        if recorded != value:
            raise ReportError(f"marks_choices.json: {name} was {recorded} there, is {value} now: run it again")
    # The frames and underlines were chosen before the hole rule (HOLE_MARK) existed: a file that does not
    # record it was measured without it, and the hole rule was then chosen with them (table hole-marks).
    for v in variants:
        rows.append([marks_variant_name(v), pct(v["numbers_read"], 1), pct(v["numbers_misread"], 1)]
                    + [pct(v["numbers_by_mark"][m], 1) for m in MARK_NAMES]
                    + [pct(v["doodles_refused"], 1), f"{marks_points(v):.2f}"])
    return markdown(["variant", f"marked numbers read ({count(data['numbers_count'])})", "… misread",
                     *[f"… {n}" for n in MARK_NAMES.values()], f"drawings refused ({count(data['doodles_count'])})",
                     "numbers + drawings (points)"], "lrrrrrrrr", rows)


FRAME_REACH_FILES = ("frame_reach_marks_a.json", "frame_reach_marks_b.json", "frame_reach_circled_none.json",
                     "frame_reach_circled_0.75.json", "frame_reach_circled_1.25.json", "frame_reach_circled_2.json")


@table("frame-reach", *FRAME_REACH_FILES)
def frame_reach_table(marks_a: dict, marks_b: dict, *circled: dict) -> str:
    """How far from the hole it closes a frame's outline is cleared (image.marks.FRAME_HOLE_REACH), on
    validation: the marks_choices.py sets (marked numbers, drawings) and numbers with one digit circled
    (number_photos.py build --paper circled-one), one seed-0 run per setting. The setting in use must have the
    most points."""
    import tinyvision.image.marks as marks

    reads = {c["reader_settings"].get("FRAME_HOLE_REACH", marks.FRAME_HOLE_REACH): c for c in circled}
    rows, best = [], []
    for v in marks_a["variants"] + marks_b["variants"]:
        reach = v["settings"].get("FRAME_HOLE_REACH", marks.FRAME_HOLE_REACH)
        if reach not in reads:
            raise ReportError(f"frame-reach: no read of the circled numbers with FRAME_HOLE_REACH={reach}")
        one = reads[reach]["read"]["rate"]
        total = marks_points(v) + 100 * one
        in_use = reach == marks.FRAME_HOLE_REACH
        best.append((total, in_use))
        label = "anywhere along the outer edge (before)" if reach is None else f"within {reach:g} strokes"
        rows.append([f"**{label}**" if in_use else label, pct(v["numbers_read"], 1), pct(v["numbers_misread"], 1),
                     pct(v["doodles_refused"], 1), pct(one, 1), f"{total:.2f}"])
    if max(best)[1] is not True:
        raise ReportError("frame-reach: the FRAME_HOLE_REACH in use is not the setting with the most points")
    order = sorted(range(len(rows)), key=lambda i: (rows[i][0].strip("*").startswith("anywhere") is False,
                                                    rows[i][0]))
    return markdown(["a frame's outline cleared", f"marked numbers read ({count(marks_a['numbers_count'])})",
                     "… misread", f"drawings refused ({count(marks_a['doodles_count'])})",
                     f"numbers with one digit circled ({count(circled[0]['images'])})", "all three, points"],
                    "lrrrrr", [rows[i] for i in order])


FORM_CELLS = (None, 0.6, 0.8, 0.9)  # the FORM_CELL settings read on validation (form_cells_*_{setting}.json)
FORM_CELLS_FILES = ("form_cells_marks.json", *(f"form_cells_form_{c}.json" for c in FORM_CELLS),
                    *(f"form_cells_circled_{c}.json" for c in FORM_CELLS))


def wrong_answers(read: dict) -> float:
    """The share of a set's numbers answered, and answered wrong (not refused)."""
    outcomes = [o for o in read["outcomes"].values() if o["images"]]
    return sum(o["too_many"] + o["too_few"] + o["misread"] for o in outcomes) / read["images"]


def runs_rows(title: str, before: tuple[dict, ...], after: tuple[dict, ...]) -> list[list[str]]:
    """Two rows of a test set read by the same runs before and after (mean +- std): its numbers read exactly,
    and answered wrong."""
    def over(reads, share) -> str:
        return mean_sd([share(f["read"]) for f in reads], 1)

    size = count(after[0]["images"])
    return [[title, size, "read exactly", over(before, lambda r: r["rate"]), over(after, lambda r: r["rate"])],
            ["… answered wrong", size, "answered wrong", over(before, wrong_answers), over(after, wrong_answers)]]


def in_use_ranks_first(ranked: list[tuple[float, bool]], what: str) -> None:
    """Refuse a table unless the setting in use is ranked and has the most points of the settings ranked
    (`ranked`: (points, in use) of each; a tie keeps the one in use)."""
    if not any(used for _, used in ranked):
        raise ReportError(f"{what} in use: not read on every set")
    best = max(t for t, _ in ranked)
    if not any(used and t == best for t, used in ranked):
        raise ReportError(f"{what} in use: not the setting with the most points")


def marks_rule_table(constant: str, marks_file: dict, sets: list[tuple[str, tuple[dict, ...]]],
                     label: Callable[[object], str], first: str) -> str:
    """One image.marks constant on validation, one seed-0 run per setting: the marks_choices.py sets (marked
    numbers, drawings) and each of `sets` ((its column's title, its reads: one per setting)), the last set's
    numbers answered wrong too. Ranked by points (the marks sets' and each set's numbers read); the setting
    in use must have the most (a tie keeps it). `label(value)` names a row, `first` the column of names."""
    import tinyvision.image.marks as marks

    shipped = getattr(marks, constant)
    if marks_file["constants"].get(constant) != shipped:
        raise ReportError(f"{constant} was another value in the marks_choices file: run it again")
    same_model(f"the {constant} reads", "model", *(r for _, reads in sets for r in reads))

    def setting(settings: dict):
        return settings.get(constant, shipped)

    rows, ranked = [], []
    for v in marks_file["variants"]:
        value = setting(v["settings"])
        picked = [next((r for r in reads if setting(r["reader_settings"]) == value), None) for _, reads in sets]
        if None in picked:
            raise ReportError(f"no read of every set with {constant}={value}")
        total = marks_points(v) + 100 * sum(r["read"]["rate"] for r in picked)
        ranked.append((round(total, 6), value == shipped))
        name = label(value)
        rows.append((value is not None, value or 0, [f"**{name}**" if value == shipped else name,
                     pct(v["numbers_read"], 1), pct(v["doodles_refused"], 1),
                     *(pct(r["read"]["rate"], 1) for r in picked), pct(wrong_answers(picked[-1]["read"]), 1),
                     f"{total:.2f}"]))
    in_use_ranks_first(ranked, f"the {constant}")
    titles = [f"{title} ({count(reads[0]['images'])})" for title, reads in sets]
    return markdown([first, f"marked numbers read ({count(marks_file['numbers_count'])})",
                     f"drawings refused ({count(marks_file['doodles_count'])})", *titles, "… answered wrong",
                     "points"], "l" + "r" * (len(titles) + 4), [r for *_, r in sorted(rows, key=lambda r: r[:2])])


@table("form-cells", *FORM_CELLS_FILES)
def form_cells_table(marks_file: dict, *reads: dict) -> str:
    """A form's cells (image.marks.FORM_CELL) on validation: the marks_choices.py sets (marked numbers,
    drawings), numbers with one digit circled, and numbers written one digit to a cell of a printed row of
    boxes (number_photos.py build --paper form), one seed-0 run per setting."""
    forms, circled = reads[: len(FORM_CELLS)], reads[len(FORM_CELLS):]
    return marks_rule_table("FORM_CELL", marks_file, [("one digit circled", circled),
                                                       ("numbers in a row of boxes", forms)],
                            lambda c: "no walls cleared (before)" if c is None
                            else f"cells {c:g} of the frame's height or more", "a form's walls")


@table("form-cells-evaluation", "numbers_form_before_seed0.json", "numbers_form_before_seed1.json",
       "numbers_form_before_seed2.json", "numbers_form_seed0.json", "numbers_form_seed1.json",
       "numbers_form_seed2.json", "numbers_marked_frame_reach.json", "numbers_marked_form_cells.json",
       "numbers_circled.json", "numbers_circled_form_cells.json", "frame_reach_val4k.json", "form_cells_val4k.json")
def form_cells_evaluation_table(*files: dict) -> str:
    """The form's walls on test sets (MNIST's test digits): numbers in a row of printed boxes, read by the
    three default runs before and after (mean +- std); the marked and circled test numbers and the reading
    rules' validation sets, by the seed-0 run. It chose nothing (table form-cells did, on validation)."""
    before, after, (marked0, marked1, circ0, circ1, val0, val1) = files[:3], files[3:6], files[6:]
    for old, new in zip(before, after):
        same_model("the form test numbers", "model", old, new)
    same_model("the marked and circled test numbers", "model", marked0, marked1, circ0, circ1)
    rows = [*runs_rows("test numbers in a row of printed boxes, one digit to a cell", before, after),
            ["test numbers underlined, boxed or circled by their writer (seed 0)", count(marked1["images"]),
             "read exactly", pct(marked0["read"]["rate"], 1), pct(marked1["read"]["rate"], 1)],
            ["test numbers with one digit circled (seed 0)", count(circ1["images"]), "read exactly",
             pct(circ0["read"]["rate"], 1), pct(circ1["read"]["rate"], 1)]]
    (v0,), (v1,) = val0["variants"], val1["variants"]
    for key, title, share, size in (
            ("numbers_read_exactly", "validation numbers (reading rules' sets, seed 0)", "read exactly",
             v1["numbers_images"]), ("singles_right", "single validation digits", "right", val1["singles"]),
            ("letters_refused", "letters", "refused", val1["letters"]),
            ("negatives_refused", "other non-digits", "refused", val1["negatives"]),
            ("words_refused", "words", "refused", val1["words"])):
        rows.append([title, count(size), share, pct(v0[key]), pct(v1[key])])
    return markdown(["set", "images", "share", "before", "after"], "lrlrr", rows)


FRAME_ONES = (None, 0.4, 0.5, 0.6)  # the FRAME_ONE_CONTENT settings read on validation (frame_one_*_{setting}.json)
FRAME_ONE_FILES = ("frame_one_marks.json", *(f"frame_one_{kind}_{c}.json" for kind in ("circled", "form", "dotted")
                                             for c in FRAME_ONES))


@table("frame-one", *FRAME_ONE_FILES)
def frame_one_table(marks_file: dict, *reads: dict) -> str:
    """How much of a frame round one piece alone that piece must fill (image.marks.FRAME_ONE_CONTENT) on
    validation: the marks_choices.py sets, numbers with one digit circled, numbers in a row of printed boxes,
    and numbers with a dotted 0 (number_photos.py build --paper dotted-zero), one seed-0 run per setting."""
    n = len(FRAME_ONES)
    return marks_rule_table("FRAME_ONE_CONTENT", marks_file,
                            [("one digit circled", reads[:n]), ("numbers in a row of boxes", reads[n:2 * n]),
                             ("numbers with a dotted 0", reads[2 * n:])],
                            lambda c: "as any frame: 0.35 (before)" if c is None else f"at least {c:g} of its height",
                            "a frame round one piece")


@table("marks-rules-evaluation", "handwriting.json", "handwriting_marks.json", "numbers.json",
       "numbers_marks.json", "numbers_dotted_before_seed0.json", "numbers_dotted_before_seed1.json",
       "numbers_dotted_before_seed2.json", "numbers_dotted_seed0.json", "numbers_dotted_seed1.json",
       "numbers_dotted_seed2.json", "frame_one_val4k.json")
def marks_rules_evaluation_table(before: dict, after: dict, numbers_before: dict, numbers_after: dict,
                                 *files: dict) -> str:
    """Both marks rules of this change (a form's walls, a frame round one piece) on the evaluation sets and the
    test numbers, read by the same default runs before and after; the test numbers with a dotted 0 (three
    runs, without and with FRAME_ONE_CONTENT) and the reading rules' validation sets (seed 0, the same).
    It chose nothing (tables form-cells and frame-one did, on validation)."""
    dotted_before, dotted_after, (val,) = files[:3], files[3:6], files[6:]
    for old, new in zip(dotted_before, dotted_after):
        same_model("the dotted-zero test numbers", "model", old, new)

    import tinyvision.image.marks as marks

    v0, v1 = val["variants"]
    if v0["settings"] != {"FRAME_ONE_CONTENT": None} or v1["settings"].get("FRAME_ONE_CONTENT") != \
            marks.FRAME_ONE_CONTENT:
        raise ReportError("frame_one_val4k.json: read FRAME_ONE_CONTENT=None, then the setting in use")
    extra = [["test numbers with a dotted 0 (3 runs; before: without the one-piece rule)",
              count(dotted_after[0]["images"]), "read exactly", mean_sd([f["read"]["rate"] for f in dotted_before], 1),
              mean_sd([f["read"]["rate"] for f in dotted_after], 1)]]
    extra += [[f"{title} (validation, seed 0; before: without the one-piece rule)", count(size), share,
               pct(v0[key]), pct(v1[key])] for key, title, share, size in (
        ("numbers_read_exactly", "numbers", "read exactly", v1["numbers_images"]),
        ("singles_right", "single digits", "right", val["singles"]))]
    return reader_evaluation("marks-rules-evaluation", before, after, numbers_before, numbers_after, extra=extra)


THIN_PEN_RULES = ("MIN_PEN", "THIN_PEN", "THIN_REACH", "TAIL_SPLITS")  # image.digits' rules for a fine pen
# The settings read (thin_pen_*_{name}.json), each naming all four rules: a file's "default" would be
# whatever the reader shipped when it was read.
THIN_PEN_VARIANTS = ("before", "minpen", "join", "reach1", "shipped", "thin015", "thin04", "thin07", "nominpen",
                     "minpen25")
THIN_PEN_CHECKED = ("before", "shipped", "thin04", "thin07")  # ... also read on ruled, squared, shaded paper


def named_setting(what: str, rules: tuple[str, ...], settings: dict) -> tuple:
    """A variant's values of some reader rules, as floats (benchmarks set floats); each must be named: a file's
    "default" would be whatever the reader shipped when it was read."""
    if not set(rules) <= set(settings):
        raise ReportError(f"a {what} read must name all of {', '.join(rules)}: {settings}")
    return tuple(None if settings[name] is None else float(settings[name]) for name in rules)


def thin_pen_setting(settings: dict) -> tuple:
    return named_setting("fine-pen", THIN_PEN_RULES, settings)


def shipped_thin_pen() -> tuple:
    """The fine-pen rules the reader ships."""
    import tinyvision.image.digits as digits

    return thin_pen_setting(vars(digits))


def thin_pen_cells(setting: tuple) -> list[str]:
    """A setting's rules in words: the columns naming each row of the fine-pen tables."""
    min_pen, thin_pen, reach, tail = setting
    return ["as written" if min_pen is None else f"{min_pen:g} px",
            "no" if thin_pen is None else f"under {thin_pen:g} of its height: {reach:g} px",
            "no" if tail is None else f"up to {tail:g} times"]


THIN_PEN_VAL4K = ("thin_pen_val4k.json", "thin_pen_val4k_b.json")  # segment_costs.py reads of some settings


def thin_pen_val4k_rows(*files: dict) -> dict[tuple, dict]:
    """The reading rules' validation rows of the fine-pen settings read, by setting (one run)."""
    same_model("the fine-pen validation reads", "run", *files)
    return {thin_pen_setting(v["settings"]): v for f in files for v in f["variants"]}


@table("thin-pen", "thin_pen_marks.json", *THIN_PEN_VAL4K, *(f"thin_pen_thin_{k}.json" for k in THIN_PEN_VARIANTS))
def thin_pen_table(marks_file: dict, val_a: dict, val_b: dict, *reads: dict) -> str:
    """A fine pen's rules (image.digits: MIN_PEN, THIN_PEN with THIN_REACH, TAIL_SPLITS) on validation, one
    seed-0 run per setting: numbers from MNIST's validation digits written with a 1-3 px pen in photos up to
    3 times as large (number_photos.py build --paper thin-pen), the marks_choices.py sets (marked numbers,
    drawings, which a wider pen must not turn into digits) and, for the settings that compete, the reading rules'
    validation sets (segment_costs.py: numbers read, letters, other non-digits and words refused). Points: every
    share read or refused; the setting in use must have the most among those read on every set (a tie keeps it)."""
    same_model("the fine-pen reads", "model", *reads)
    shipped = shipped_thin_pen()
    marks = {thin_pen_setting(v["settings"]): v for v in marks_file["variants"]}
    val4k = thin_pen_val4k_rows(val_a, val_b)
    rows, ranked = [], []
    for r in reads:
        setting = thin_pen_setting(r["reader_settings"])
        m = marks.get(setting)
        if m is None:
            raise ReportError(f"thin-pen: thin_pen_marks.json did not read {setting}")
        pen = 100 * r["read"]["rate"] + marks_points(m)
        v = val4k.get(setting)
        total = None if v is None else pen + refusal_points(v)
        if total is not None:
            ranked.append((round(total, 6), setting == shipped))
        cells = thin_pen_cells(setting)
        if setting == shipped:
            cells = [f"**{c}**" for c in cells]
        rows.append([*cells, pct(r["read"]["rate"], 1), pct(wrong_answers(r["read"]), 1), pct(m["numbers_read"], 1),
                     pct(m["doodles_refused"], 1), f"{pen:.2f}", "—" if v is None else f"{refusal_points(v):.2f}",
                     "—" if total is None else f"{total:.2f}"])
    in_use_ranks_first(ranked, "thin-pen: the fine-pen rules")
    return markdown(["strokes widened to (px of the 20x20 box)", "ink joined when its strokes are",
                     "Otsu split again in the lighter class",
                     f"numbers in a fine pen read ({count(reads[0]['images'])})", "… answered wrong",
                     f"marked numbers read ({count(marks_file['numbers_count'])})",
                     f"drawings refused ({count(marks_file['doodles_count'])})", "these three (points)",
                     "validation numbers read, letters, non-digits, words refused (points)", "all (points)"],
                    "lllrrrrrrr", rows)


@table("thin-pen-validation", *THIN_PEN_VAL4K, *(f"thin_pen_paper_{k}.json" for k in THIN_PEN_CHECKED))
def thin_pen_validation_table(val_a: dict, val_b: dict, *paper: dict) -> str:
    """The fine-pen rules on the reading rules' validation sets (segment_costs.py: 4,000 numbers, single
    digits, letters, other non-digits, words) and on numbers on hard paper (ruled, squared, a shadow, the desk,
    pencil: number_photos.py build --paper hard --source val), one seed-0 run: what the rules cost elsewhere.
    Shown, not ranked (table thin-pen chose)."""
    same_model("the fine-pen paper reads", "model", *paper)
    on_paper = {thin_pen_setting(r["reader_settings"]): r for r in paper}
    shipped = shipped_thin_pen()
    val4k = thin_pen_val4k_rows(val_a, val_b)
    rows = []
    for setting, v in val4k.items():
        cells = thin_pen_cells(setting)
        if setting == shipped:
            cells = [f"**{c}**" for c in cells]
        hard = on_paper.get(setting)
        rows.append([*cells, *reading_cells(v), pct(v["words_refused"]),
                     "—" if hard is None else pct(hard["read"]["rate"], 1)])
    if shipped not in val4k or shipped not in on_paper:
        raise ReportError("thin-pen-validation: the rules in use were not read")
    return markdown(["strokes widened to", "ink joined when its strokes are", "Otsu split again",
                     f"numbers read exactly ({count(val_a['variants'][0]['numbers_images'])})",
                     "… some digits touching", f"single digits right ({count(val_a['singles'])})", "… refused",
                     f"letters refused ({count(val_a['letters'])})",
                     f"other non-digits refused ({count(val_a['negatives'])})",
                     f"words refused ({count(val_a['words'])})",
                     f"numbers on hard paper ({count(paper[0]['images'])})"], "lllrrrrrrrr", rows)


@table("thin-pen-evaluation", "handwriting_marks.json", "handwriting_thin_pen.json", "numbers_marks.json",
       "numbers_thin_pen.json", *(f"numbers_thin_{arm}seed{s}.json" for arm in ("before_", "") for s in range(3)))
def thin_pen_evaluation_table(before: dict, after: dict, numbers_before: dict, numbers_after: dict,
                              *thin: dict) -> str:
    """The fine-pen rules on every evaluation set and the test numbers, read by the same default runs before
    (the marks rules' reads, which had none of them) and after; and test numbers in a fine pen (MNIST's test
    digits, number_photos.py build --paper thin-pen --seed 9), three runs without the rules and with them.
    It chose nothing (table thin-pen did, on validation)."""
    thin_before, thin_after = thin[:3], thin[3:]
    for old, new in zip(thin_before, thin_after):
        same_model("the fine-pen test numbers", "model", old, new)
        if thin_pen_setting(old["reader_settings"]) != (None, None, 2.0, None) or \
                thin_pen_setting(new["reader_settings"]) != shipped_thin_pen():
            raise ReportError("thin-pen-evaluation: read the fine-pen numbers with the rules off, then as shipped")
    extra = runs_rows("test numbers in a fine pen (3 runs)", thin_before, thin_after)
    return reader_evaluation("thin-pen-evaluation", before, after, numbers_before, numbers_after, extra=extra)


TILT_RULES = ("TILT_MIN", "TILT_RESCUE", "TILT_DOUBT", "TILT_SPREAD")  # read_number's levelling of a tilted line
# The settings read on the tilted validation numbers (tilt_val_{name}.json), each naming all four rules.
TILT_VARIANTS = ("before", "rescue-none", "rescue099", "shipped", "rescue09", "min6", "min15", "spread015", "spread05")
TILT_VAL4K = ("tilt_val4k.json", "tilt_val4k_b.json", "tilt_val4k_c.json")  # segment_costs.py reads of some


def tilt_setting(settings: dict) -> tuple:
    return named_setting("levelling", TILT_RULES, settings)


def shipped_tilt() -> tuple:
    """The levelling rules the reader ships."""
    import tinyvision.read_number as read_number

    return tilt_setting(vars(read_number))


def tilt_cells(setting: tuple) -> list[str]:
    """A setting's rules in words: the columns naming each row of the levelling table."""
    least, rescue, doubt, spread_ = setting
    if least is None:
        return ["never", "—", "—"]
    return [f"{least:g}°, answers under {doubt:g} likely", "never" if rescue is None else f"at least {rescue:g} likely",
            f"{spread_:g} digit heights"]


@table("tilt", *TILT_VAL4K, *(f"tilt_val_{k}.json" for k in TILT_VARIANTS))
def tilt_table(val_a: dict, val_b: dict, val_c: dict, *reads: dict) -> str:
    """The levelling of a tilted line (read_number: TILT_MIN, TILT_RESCUE, TILT_DOUBT, TILT_SPREAD) on
    validation, one seed-0 run per setting: numbers of MNIST's validation digits photographed askew, turned
    5-35 degrees either way (number_photos.py build --paper tilted --source val), and, for the settings that
    compete, the reading rules' validation sets (segment_costs.py: numbers read, letters, other non-digits and
    words refused, which a rescued refusal may let through). Points: every share read or refused; the setting
    in use must have the most among those read on every set (a tie keeps it)."""
    return second_reading_table("levelling", tilt_setting, shipped_tilt(), tilt_cells, (val_a, val_b, val_c),
                                [("numbers photographed askew read", reads)],
                                ["levelled when the line tilts at least", "a refusal answered levelled when",
                                 "marks within the line's"], "askew")


def second_reading_table(what: str, setting_of: Callable[[dict], tuple], shipped: tuple,
                         cells_of: Callable[[tuple], list[str]], val4k_files: tuple[dict, ...],
                         read_sets: list[tuple[str, tuple[dict, ...]]], names: list[str], short: str) -> str:
    """A second reading's rules on validation, one seed-0 run per setting: `read_sets` ((title, number_photos.py
    reads of the validation numbers it is for, one per setting, in one order)) and, for the settings that
    compete, the reading rules' validation sets (`val4k_files`, segment_costs.py). A row per setting, named by
    `cells_of(setting)` under `names`; points: every share read or refused; the setting in use (`shipped`) must
    have the most among those read on every set (a tie keeps it)."""
    same_model(f"the {what} reads", "model", *(r for _, reads in read_sets for r in reads))
    same_model(f"the {what} validation reads", "run", *val4k_files)
    val4k = {setting_of(v["settings"]): v for f in val4k_files for v in f["variants"]}
    rows, ranked = [], []
    for group in zip(*(reads for _, reads in read_sets)):
        setting = setting_of(group[0]["reader_settings"])
        if any(setting_of(r["reader_settings"]) != setting for r in group):
            raise ReportError(f"{what}: a row's reads must read one setting, in the same order on every set")
        v = val4k.get(setting)
        total = None if v is None else 100 * sum(r["read"]["rate"] for r in group) + refusal_points(v)
        if total is not None:
            ranked.append((round(total, 6), setting == shipped))
        cells = cells_of(setting)
        if setting == shipped:
            cells = [f"**{c}**" for c in cells]
        read_cells = [c for r in group for c in (pct(r["read"]["rate"], 1), pct(wrong_answers(r["read"]), 1),
                                                 pct(r["abstained"] / r["images"], 1))]
        rows.append([*cells, *read_cells, *(["—"] * 5 if v is None else [
                         pct(v["numbers_read_exactly"]), pct(v["singles_right"]), pct(v["letters_refused"]),
                         pct(v["negatives_refused"]), pct(v["words_refused"])]),
                     "—" if total is None else f"{total:.2f}"])
    in_use_ranks_first(ranked, f"{what}: the rules")
    first = val4k_files[0]
    read_names = [c for title, reads in read_sets
                  for c in (f"{title} ({count(reads[0]['images'])})", "… answered wrong", "… no answer")]
    return markdown([*names, *read_names,
                     f"validation numbers read ({count(first['variants'][0]['numbers_images'])})",
                     f"single digits right ({count(first['singles'])})", f"letters refused ({count(first['letters'])})",
                     f"other non-digits refused ({count(first['negatives'])})",
                     f"words refused ({count(first['words'])})", f"{short} read + validation (points)"],
                    "l" * len(names) + "r" * (len(read_names) + 6), rows)


@table("tilt-evaluation", "handwriting_tilt_before.json", "handwriting_tilt.json", "numbers_tilt_before.json",
       "numbers_tilt.json", *(f"numbers_tilted_{arm}seed{s}.json" for arm in ("before_", "") for s in range(3)))
def tilt_evaluation_table(before: dict, after: dict, numbers_before: dict, numbers_after: dict, *tilted: dict) -> str:
    """The levelling on every evaluation set and the test numbers, read by the same default runs without it
    (TILT_MIN=None) and as shipped; and test numbers photographed askew (MNIST's test digits, number_photos.py
    build --paper tilted --seed 12), three runs without and with it. It chose nothing (table tilt did)."""
    return second_reading_evaluation(
        "tilt-evaluation", (before, after, numbers_before, numbers_after),
        [("test numbers photographed askew (3 runs)", tilted[:3], tilted[3:])],
        lambda old, new: tilt_setting(old)[0] is None and tilt_setting(new) == shipped_tilt(),
        ("without levelling", "levelled"))


def second_reading_evaluation(what: str, arms_files: tuple[dict, dict, dict, dict],
                              groups: list[tuple[str, tuple[dict, ...], tuple[dict, ...]]],
                              off_then_shipped: Callable[[dict, dict], bool], arms: tuple[str, str]) -> str:
    """A second reading on every evaluation set and the test numbers (`arms_files`: handwriting.py and
    number_photos.py reads without it, then with it, by the same default runs), and on sets of test numbers
    (`groups`: (title, reads without it, reads with it as shipped), three runs each; `off_then_shipped(old,
    new)` checks each pair's reader settings)."""
    rows = []
    for title, off, on in groups:
        for old, new in zip(off, on):
            same_model(f"the {what} test numbers", "model", old, new)
            if not off_then_shipped(old["reader_settings"], new["reader_settings"]):
                raise ReportError(f"{what}: read {title} without the second reading, then as shipped")
        rows += runs_rows(title, off, on)
    return reader_evaluation(what, *arms_files, arms=arms, extra=rows)


LEAN_RULES = ("LEAN_MIN", "LEAN_RESCUE", "LEAN_DOUBT")  # read_number's second reading of italic writing, upright
# The settings read on the italic validation numbers (lean_val_{name}.json), each naming all three rules.
LEAN_VARIANTS = ("before", "rescue-none", "min015-rescue-none", "rescue099", "shipped", "rescue09", "min015", "min035")
LEAN_VAL4K = ("lean_val4k.json", "lean_val4k_b.json")  # segment_costs.py reads of some


def lean_setting(settings: dict) -> tuple:
    return named_setting("upright reading", LEAN_RULES, settings)


def shipped_lean() -> tuple:
    """The upright reading's rules the reader ships."""
    import tinyvision.read_number as read_number

    return lean_setting(vars(read_number))


def lean_off(settings: dict) -> bool:
    """A read without the upright reading: LEAN_MIN None, or read before the rule was written (no LEAN_MIN)."""
    return settings.get("LEAN_MIN") is None


def lean_cells(setting: tuple) -> list[str]:
    """A setting's rules in words: the columns naming each row of the upright-reading table."""
    least, rescue, doubt = setting
    if least is None:
        return ["never", "—"]
    return [f"{least:g} columns per row, answers under {doubt:g} likely",
            "never" if rescue is None else f"at least {rescue:g} likely"]


@table("lean", *LEAN_VAL4K, *(f"lean_val_{k}.json" for k in LEAN_VARIANTS))
def lean_table(val_a: dict, val_b: dict, *reads: dict) -> str:
    """Italic writing read again stood upright (read_number: LEAN_MIN, LEAN_RESCUE, LEAN_DOUBT) on validation,
    one seed-0 run per setting: numbers of MNIST's validation digits each leaning 10-35 degrees further either
    way (number_photos.py build --paper italic --source val), and, for the settings that compete, the reading
    rules' validation sets (segment_costs.py). Points: every share read or refused; the setting in use must
    have the most among those read on every set (a tie keeps it)."""
    return second_reading_table("upright reading", lean_setting, shipped_lean(), lean_cells, (val_a, val_b),
                                [("italic numbers read", reads)],
                                ["read upright when the digits lean at least", "a refusal answered upright when"],
                                "italic")


# A refusal of one mark (a letter is one) answered upright at its own bar (read_number.LEAN_RESCUE_LONE): the
# settings read, each naming all four rules (lean_lone_val_{name}.json: italic numbers; lean_lone1_val_{name}:
# italic single digits), and the reading rules' validation sets read for each (segment_costs.py).
LEAN_LONE_VARIANTS = ("lone095", "lone099", "lone0999", "lone-none")
LEAN_LONE_VAL4K = ("lean_lone_val4k.json", "lean_lone_val4k_b.json")


def lean_lone_setting(settings: dict) -> tuple:
    return named_setting("one-mark rescue", (*LEAN_RULES, "LEAN_RESCUE_LONE"), settings)


@table("lean-lone", *LEAN_LONE_VAL4K, *(f"lean_lone{kind}_val_{k}.json" for k in LEAN_LONE_VARIANTS
                                       for kind in ("", "1")))
def lean_lone_table(val_a: dict, val_b: dict, *reads: dict) -> str:
    """The bar at which the upright reading answers a refusal of one mark (read_number.LEAN_RESCUE_LONE), the
    other upright rules as shipped, on validation, one seed-0 run per setting: italic numbers and italic
    single digits of MNIST's validation digits (number_photos.py build --paper italic --source val, --lengths
    1 for the digits), and the reading rules' validation sets (segment_costs.py, 3,000 letters). Points: every
    share read or refused; the setting in use must have the most (a tie keeps it)."""
    import tinyvision.read_number as read_number

    shipped = lean_lone_setting(vars(read_number))
    for r in reads:
        if lean_lone_setting(r["reader_settings"])[:3] != shipped[:3]:
            raise ReportError(f"lean-lone: {r['reader_settings']} reads with other upright rules than the reader ships")

    def name(setting: tuple) -> list[str]:
        bar = setting[3]
        return ["never" if bar is None else f"at least {bar:g} likely"
                + (" (as several marks' refusals)" if bar == setting[1] else "")]

    return second_reading_table("one-mark rescue", lean_lone_setting, shipped, name, (val_a, val_b),
                                [("italic numbers read", reads[0::2]), ("italic single digits read", reads[1::2])],
                                ["a refusal of one mark answered upright when"], "italic")


LEAN_RUNS = ("numbers_lean.json", "numbers_lean_seed1.json", "numbers_lean_seed2.json")
# Numbers of other writers' test digits (number_photos.py build --source writers-test), the three default runs.
WRITER_NUMBER_RUNS = tuple(f"numbers_writers_seed{seed}.json" for seed in (0, 1, 2))


@table("lean-evaluation", "handwriting_tilt.json", "handwriting_lean.json", "numbers_tilt.json", "numbers_lean.json",
       *(f"numbers_italic_{arm}seed{s}.json" for arm in ("before_", "") for s in range(3)),
       "numbers_tilted_seed0.json", "numbers_tilted_seed1.json", "numbers_tilted_seed2.json",
       "numbers_tilted_lean_seed0.json", "numbers_tilted_lean_seed1.json", "numbers_tilted_lean_seed2.json",
       *(f"numbers_writers_nolean_seed{s}.json" for s in range(3)), *WRITER_NUMBER_RUNS)
def lean_evaluation_table(before: dict, after: dict, numbers_before: dict, numbers_after: dict, *reads: dict) -> str:
    """The upright reading on every evaluation set and the test numbers, read by the same default runs without
    it (the levelling's reads: the rule did not exist yet) and as shipped; test numbers in italic writing
    (MNIST's test digits, number_photos.py build --paper italic --seed 14), three runs without and with it; the
    askew test numbers, three runs levelled, without and with it; and numbers of other writers' test digits
    (number_photos.py build --source writers-test), three runs without and with it, read later by this
    release's reader (LEAN_MIN None, then as shipped). It chose nothing (table lean did)."""
    def off_then_shipped(old: dict, new: dict) -> bool:
        return lean_off(old) and lean_setting(new) == shipped_lean()

    if not off_then_shipped(before["reader_settings"], after["reader_settings"]):
        raise ReportError("lean-evaluation: read the evaluation sets without the upright reading, then as shipped")
    return second_reading_evaluation(
        "lean-evaluation", (before, after, numbers_before, numbers_after),
        [("test numbers in italic writing (3 runs)", reads[0:3], reads[3:6]),
         ("test numbers photographed askew (3 runs)", reads[6:9], reads[9:12]),
         ("test numbers of other writers' digits (3 runs)", reads[12:15], reads[15:18])],
        off_then_shipped, ("without the upright reading", "read upright too"))


@table("hole-marks", "hole_marks_marks.json", "hole_marks_val4k.json")
def hole_marks_table(marks_file: dict, val4k: dict) -> str:
    """The hole rule (image.marks.HOLE_MARK) on validation: drawings refused and marked numbers read
    (marks_choices.py), and the reading rules' validation sets (segment_costs.py), one seed-0 run, per bar.
    Chosen by marked numbers read + drawings refused + validation numbers read exactly, in points; the
    shipped bar must have the most (ties keep it)."""
    import tinyvision.image.marks as marks

    recorded = marks_file["constants"].get("HOLE_MARK", "missing")

    def bar(v: dict):
        """The variant's HOLE_MARK: its setting, or the one the file recorded as shipped then."""
        return recorded if v["variant"] == "default" else v["settings"]["HOLE_MARK"]

    if marks.HOLE_MARK not in {bar(v) for v in marks_file["variants"]}:
        raise ReportError(f"hole-marks: the shipped HOLE_MARK {marks.HOLE_MARK} was not measured: run them again")
    readings = {(v["settings"] or {}).get("HOLE_MARK", recorded): v for v in val4k["variants"]}
    rows, points = [], {}
    for v in marks_file["variants"]:
        r = readings.get(bar(v))
        if r is None:
            raise ReportError(f"hole_marks_val4k.json has no reading with HOLE_MARK {bar(v)}")
        points[bar(v)] = 100 * (v["numbers_read"] + v["doodles_refused"] + r["numbers_read_exactly"])
        name = "(rule off: before)" if bar(v) is None else f"≥ {bar(v)} of the outer piece's height"
        rows.append([f"**{name}**" if bar(v) == marks.HOLE_MARK else name, pct(v["doodles_refused"], 1),
                     pct(v["numbers_read"], 1), *reading_cells(r), pct(r["words_refused"]), f"{points[bar(v)]:.2f}"])
    if points[marks.HOLE_MARK] < max(points.values()):
        raise ReportError(f"hole-marks: the shipped HOLE_MARK {marks.HOLE_MARK} does not have the most points")
    return markdown([f"{marks.HOLE_PIECES} pieces in one hole of another refuse the image, each",
                     f"drawings refused ({count(marks_file['doodles_count'])})",
                     f"marked numbers read ({count(marks_file['numbers_count'])})", "numbers read exactly (4,000)",
                     "… some digits touching", "single digits right (1,500)", "… refused", "letters refused (600)",
                     "other non-digits refused (600)", "words refused (600)",
                     "drawings + marked + numbers (points)"], "l" + "r" * 10, rows)


@table("long-lines", "long_lines.json")
def long_lines_table(data: dict) -> str:
    """read_number.TEXT_REFUSED_SHARE on validation (long_lines.py), one seed-0 run: long numbers answered "too
    many digits", lines of words and of words and numbers "not a digit", per setting: every share with refused
    pieces alone, and for each candidate doubt bar (a piece less sure counts too) its best setting. Chosen by
    long numbers answered so, among the settings that give up at most `text_given` points of each kind of text
    line against the strictest; the file's choice must be what the reader ships."""
    from tinyvision import read_number

    shipped = {"TEXT_REFUSED_SHARE": read_number.TEXT_REFUSED_SHARE,
               "TEXT_PIECE_SURE": getattr(read_number, "TEXT_PIECE_SURE", None)}
    if data["chosen"] != shipped:
        raise ReportError(f"long-lines: the file chose {data['chosen']}, the reader ships {shipped}")
    settings = data["settings"]
    strict = next(v for v in settings if v["TEXT_REFUSED_SHARE"] == 0 and v["TEXT_PIECE_SURE"] is None)
    text = ("word_lines", "mixed_lines")

    def kept(v: dict) -> bool:
        return all(100 * v["sets"][k]["answered_as_wanted"] >= 100 * strict["sets"][k]["answered_as_wanted"]
                   - data["text_given"] for k in text)

    shown = [v for v in settings if v["TEXT_PIECE_SURE"] is None]
    for sure in sorted({v["TEXT_PIECE_SURE"] for v in settings} - {None}):
        candidates = [v for v in settings if v["TEXT_PIECE_SURE"] == sure and kept(v)]
        if candidates:
            shown.append(max(candidates, key=lambda v: v["numbers_points"]))
    rows = []
    for v in shown:
        share, sure = v["TEXT_REFUSED_SHARE"], v["TEXT_PIECE_SURE"]
        name = ("any refused piece (as before)" if share == 0 else f"more than {pct(share, 0)} of the pieces refused")
        if sure is not None:
            name = name.replace("refused", f"refused or under {sure} sure")
        chosen = {"TEXT_REFUSED_SHARE": share, "TEXT_PIECE_SURE": sure} == shipped
        rows.append([f"**{name}**" if chosen else name,
                     *(pct(v["sets"][k]["answered_as_wanted"], 1) for k in ("handwritten_numbers", "typed_numbers",
                                                                            *text)),
                     "yes" if kept(v) else "no", f"{v['numbers_points']:.2f}"])
    n = count(data["count"])
    return markdown(["a line is text (\"not a digit\") when", f"handwritten numbers, 13-20 digits ({n})",
                     f"typed numbers, 13-20 digits ({n})", f"lines of words ({n})",
                     f"lines of words and numbers ({n})", f"text within {data['text_given']:g} point",
                     "numbers (points)"], "lrrrrrr", rows)


@table("small-digits", "small_digits_val4k.json", "small_digits_small_val.json", "small_digits_beside_val.json")
def small_digits_table(common: dict, small: dict, beside: dict) -> str:
    """image.segment.SMALL_DIGIT_HEIGHT, SMALL_DIGIT_GAP and SMALL_DIGIT_LINE on validation
    (benchmarks/segment_costs.py, one seed-0 run, the same variants read three times): numbers with one digit
    written small (number_photos.py build --small-rate 1), against numbers followed by a mark that is no digit
    (--beside-rate 1) and the 4,000 validation numbers, single digits, letters, other non-digits and words.
    Chosen by small-digit numbers read, among the settings within SMALL_GIVEN points of the rule off on the
    others (refusal_points plus the numbers with a mark read); the choice must be what the reader ships."""
    import tinyvision.image.segment as segment

    if len({common["run"], small["run"], beside["run"]}) != 1:
        raise ReportError("small-digits: the three files must come from one run")
    # The constants the files vary (segment_costs.py records those its variants set); the others were as the
    # reader shipped them (the gap was chosen in a first round, small_digits_gap_*.json).
    names = tuple(n for n in ("SMALL_DIGIT_HEIGHT", "SMALL_DIGIT_GAP", "SMALL_DIGIT_LINE")
                  if n in common["variants"][0]["settings"])
    if "SMALL_DIGIT_HEIGHT" not in names:
        raise ReportError("small-digits: the files must vary SMALL_DIGIT_HEIGHT (None: the rule off)")

    def key(v: dict) -> tuple:
        return tuple(v["settings"].get(n) for n in names)

    by_setting, rows_small, rows_beside = ({key(v): v for v in f["variants"]} for f in (common, small, beside))
    offs = [k for k in by_setting if k[0] is None]
    if not set(by_setting) == set(rows_small) == set(rows_beside) or len(offs) != 1:
        raise ReportError("small-digits: the files must read the same settings, the rule off (None) once")

    def points(k: tuple) -> float:
        return refusal_points(by_setting[k]) + 100 * rows_beside[k]["numbers_read_exactly"]

    def kept(k: tuple) -> bool:
        return points(k) >= points(offs[0]) - SMALL_GIVEN

    chosen = max((k for k in by_setting if kept(k)), key=lambda k: (rows_small[k]["numbers_read_exactly"], points(k)))
    shipped = tuple(getattr(segment, n) for n in names)
    if chosen != shipped and not (chosen[0] is None and shipped[0] is None):
        raise ReportError(f"small-digits: validation chooses {chosen}, the reader ships {shipped}")
    rows = []
    def describe(k: tuple) -> str:
        c = dict(zip(names, k))
        if c["SMALL_DIGIT_HEIGHT"] is None:
            return "never (before: a short mark costs its size only)"
        words = [f"{c['SMALL_DIGIT_HEIGHT']:g} of the digit height"]
        if "SMALL_DIGIT_GAP" in c:
            words.append(f"{c['SMALL_DIGIT_GAP']:g} pen width{'s' * (c['SMALL_DIGIT_GAP'] != 1)} apart")
        if "SMALL_DIGIT_LINE" in c:
            line = c["SMALL_DIGIT_LINE"]
            words.append("anywhere" if line is None else f"on the line (± {line:g})")
        return ", ".join(words)

    for k in sorted(by_setting, key=lambda k: (k[0] is not None, describe(k))):
        v = by_setting[k]
        name = describe(k)
        rows.append([f"**{name}**" if k == chosen else name, pct(rows_small[k]["numbers_read_exactly"], 1),
                     pct(rows_beside[k]["numbers_read_exactly"], 1),
                     *(pct(c, 2) for c in (v["numbers_read_exactly"], v["singles_right"], v["singles_refused"],
                                           v["letters_refused"], v["negatives_refused"], v["words_refused"])),
                     f"{points(k):.2f}", "yes" if kept(k) else "no"])
    apart = "" if "SMALL_DIGIT_GAP" in names else f" ({segment.SMALL_DIGIT_GAP:g} pen width apart, chosen first)"
    return markdown([f"a short mark{apart} is doubted as a small digit when",
                     f"numbers with a small digit ({count(small['variants'][0]['numbers_images'])})",
                     "numbers followed by a mark (°, comma, ', blot, specks) "
                     f"({count(beside['variants'][0]['numbers_images'])})",
                     f"numbers read exactly ({count(common['variants'][0]['numbers_images'])})",
                     f"single digits right ({count(common['singles'])})", "… refused",
                     f"letters refused ({count(common['letters'])})",
                     f"other non-digits refused ({count(common['negatives'])})",
                     f"words refused ({count(common['words'])})",
                     "numbers read + numbers with a mark read + letters, other non-digits and words refused, points",
                     f"within {SMALL_GIVEN:g} point of the rule off"], "l" + "r" * 10, rows)


@table("small-digits-test", "numbers_small_before.json", "numbers_small.json", "numbers_beside_before.json",
       "numbers_beside.json")
def small_digits_test_table(before: dict, after: dict, beside_before: dict, beside_after: dict) -> str:
    """Test numbers (MNIST test digits) with one digit written small (number_photos.py build --small-rate 1),
    and followed by a mark that is no digit (--beside-rate 1), read by the default recipe's seed-0 run with the
    small-digit rule off and on: the same model and photos."""
    same_model("the small-digit numbers", "model", before, after, beside_before, beside_after)
    rows = []
    for title, old, new, by in (("one digit written small", before, after, None),
                                ("followed by a mark that is no digit", beside_before, beside_after, "by_beside")):
        rows.append([f"**{title}: all**", count(new["images"]), pct(old["read"]["rate"], 1),
                     f"**{pct(new['read']['rate'], 1)}**"])
        for kind, v in (new["read"].get(by, {}) if by else {}).items():
            rows.append([f"… {BESIDE_NAMES.get(kind, kind)}", count(v["images"]),
                         pct(old["read"][by][kind]["rate"], 1), pct(v["rate"], 1)])
        wrong = [sum(o["misread"] + o["too_many"] + o["too_few"] for o in d["read"]["outcomes"].values())
                 / d["images"] for d in (old, new)]
        rows.append(["… answered wrong", "", pct(wrong[0], 1), pct(wrong[1], 1)])
        rows.append(["… no answer", "", *(pct(d["abstained"] / d["images"], 1) for d in (old, new))])
    return markdown(["test numbers", "images", "rule off", "rule on"], "lrrr", rows)


@table("small-digit-shape", "small_digit_shape_val4k.json", "small_digit_shape_small_val.json",
       "small_digit_shape_beside_val.json", "small_digit_shape_flat_val.json")
def small_digit_shape_table(common: dict, small: dict, beside: dict, flat: dict) -> str:
    """image.segment.SMALL_DIGIT_ASPECT on validation (benchmarks/segment_costs.py, one seed-0 run, the same
    variants read four times, as small-digits): how wide for its height a short mark may be and still be doubted
    as a digit written small. Chosen as small-digits chose its rule: the most small-digit numbers read among the
    settings within SMALL_GIVEN points of the setting before (WIDE_ASPECT's 1.2) on the others, a tie going to the
    narrowest; the others include numbers beside a short flat mark (number_photos.py build --flat-rate 1), added
    after a red team found dashes and smiles read as digits at 1.6. The choice must be what the reader ships."""
    import tinyvision.image.segment as segment

    if len({common["run"], small["run"], beside["run"], flat["run"]}) != 1:
        raise ReportError("small-digit-shape: the four files must come from one run")
    files = [{v["settings"]["SMALL_DIGIT_ASPECT"]: v for v in f["variants"]} for f in (common, small, beside, flat)]
    by_setting, rows_small, rows_beside, rows_flat = files
    if not set(by_setting) == set(rows_small) == set(rows_beside) == set(rows_flat) or BEFORE_ASPECT not in by_setting:
        raise ReportError(f"small-digit-shape: the files must read the same settings, {BEFORE_ASPECT} among them")

    def points(k: float) -> float:
        return (refusal_points(by_setting[k]) + 100 * rows_beside[k]["numbers_read_exactly"]
                + 100 * rows_flat[k]["numbers_read_exactly"])

    def kept(k: float) -> bool:
        return points(k) >= points(BEFORE_ASPECT) - SMALL_GIVEN

    chosen = max((k for k in by_setting if kept(k)), key=lambda k: (rows_small[k]["numbers_read_exactly"], -k))
    if chosen != segment.SMALL_DIGIT_ASPECT:
        raise ReportError(f"small-digit-shape: validation chooses {chosen}, the reader ships "
                          f"{segment.SMALL_DIGIT_ASPECT}")
    rows = []
    for k in sorted(by_setting):
        v = by_setting[k]
        name = f"{k:g} x its height" + (" (before)" if k == BEFORE_ASPECT else "")
        rows.append([f"**{name}**" if k == chosen else name, pct(rows_small[k]["numbers_read_exactly"], 1),
                     pct(rows_beside[k]["numbers_read_exactly"], 1), pct(rows_flat[k]["numbers_read_exactly"], 1),
                     *(pct(c, 2) for c in (v["numbers_read_exactly"], v["singles_right"], v["singles_refused"],
                                           v["letters_refused"], v["negatives_refused"], v["words_refused"])),
                     f"{points(k):.2f}", "yes" if kept(k) else "no"])
    return markdown(["a short mark is doubted as a small digit when no wider than",
                     f"numbers with a small digit ({count(small['variants'][0]['numbers_images'])})",
                     "numbers followed by a mark (°, comma, ', blot, specks) "
                     f"({count(beside['variants'][0]['numbers_images'])})",
                     f"numbers beside a short flat mark (dash, tilde, smile, =) "
                     f"({count(flat['variants'][0]['numbers_images'])})",
                     f"numbers read exactly ({count(common['variants'][0]['numbers_images'])})",
                     f"single digits right ({count(common['singles'])})", "… refused",
                     f"letters refused ({count(common['letters'])})",
                     f"other non-digits refused ({count(common['negatives'])})",
                     f"words refused ({count(common['words'])})",
                     "numbers read + numbers with a mark or a flat mark read + letters, other non-digits and words "
                     "refused, points", f"within {SMALL_GIVEN:g} point of before"], "l" + "r" * 11, rows)


BEFORE_ASPECT = 1.2  # SMALL_DIGIT_ASPECT before it was chosen: WIDE_ASPECT, a wide digit's bound


BESIDE_NAMES = {"degree": "a degree sign (a raised ring)", "comma": "a comma", "apostrophe": "an apostrophe",
                "blot": "an ink blot on the line", "specks": "specks on the line"}
SMALL_GIVEN = 0.5  # points of the common sets a small-digit rule may give up (fixed before it was measured)


@table("marks-validation", "marks_val4k.json")
def marks_validation_table(data: dict) -> str:
    """What clearing marks costs where there are none: the reading rules' validation sets (4,000 numbers,
    single digits, letters, other non-digits, words), read by one seed-0 run without the rule and with it."""
    return without_and_with(data, ("without the marks rule", "with it"))


def without_and_with(data: dict, labels: tuple[str, str]) -> str:
    """A rule's cost where it has nothing to do: a segment_costs.py file's two variants (the rule off, then
    on), each row the reading rules' validation figures."""
    rows = [[label, *reading_cells(v), pct(v["words_refused"])] for label, v in zip(labels, data["variants"])]
    return markdown(["reader", "numbers read exactly", "… some digits touching", "single digits right",
                     "… refused", "letters refused", "other non-digits refused", "words refused"],
                    "lrrrrrrr", rows)


@table("marks-test", "numbers_marked_before.json", "numbers_marked.json")
def marks_test_table(before: dict, after: dict) -> str:
    """Marked test numbers (MNIST test digits), read by the default recipe's seed-0 run before the marks were
    cleared and after: the same model, photos and reader otherwise."""
    same_model("the marked numbers' pair", "model", before, after)
    return before_and_after(before, after, MARK_NAMES, "test numbers, marked by their writer")


def before_and_after(before: dict, after: dict, styles: dict[str, str], title: str) -> str:
    """Test numbers read without a rule and with it (two number_photos.py files): all, each style (its
    row's label), answered wrong and no answer."""
    rows = [["**all**", count(after["images"]), pct(before["read"]["rate"], 1),
             f"**{pct(after['read']['rate'], 1)}**"]]
    for style, name in styles.items():
        b, a = before["read"]["by_style"][style], after["read"]["by_style"][style]
        rows.append([name, count(a["images"]), pct(b["rate"], 1), pct(a["rate"], 1)])
    wrong = [sum(o["misread"] + o["too_many"] + o["too_few"] for o in d["read"]["outcomes"].values()) / d["images"]
             for d in (before, after)]
    rows.append(["answered wrong", "", pct(wrong[0], 1), pct(wrong[1], 1)])
    rows.append(["no answer", "", pct(before["abstained"] / before["images"], 1),
                 pct(after["abstained"] / after["images"], 1)])
    return markdown([title, "images", "before", "after"], "lrrr", rows)


SIGN_STYLES = {"minus": "a minus", "point": "a decimal point", "minus-point": "both",
               "comma": "a comma (thousands: read without it; decimal: as a point)"}


def signs_points(v: dict) -> float:
    """What the signs' constants are chosen by: signed numbers read plus plain numbers read, in points (a
    sign made up in a plain number costs it)."""
    return 100 * (v["signed_read"] + v["plain_read"])


@table("signs-choices", "signs_choices_a.json", "signs_choices_b.json", "signs_choices_c.json")
def signs_choices_table(*files: dict) -> str:
    """A number's minus and decimal point (image.signs) on validation: numbers from MNIST's validation
    digits written with them, and plain ones, read by one seed-0 run per variant. The shipped constants
    must have the most points (ties keep them)."""
    import tinyvision.image.signs as signs

    same_model("the signs' variants", "run", *files)
    variants = [v for f in files for v in f["variants"]]
    shipped = next(v for v in variants if v["variant"] == "default")
    best = max(signs_points(v) for v in variants)
    if signs_points(shipped) < best:
        raise ReportError(f"signs_choices: the shipped constants ({signs_points(shipped):.2f} points) are not the "
                          f"best variant ({best:.2f})")
    for f in files:
        for name, recorded in f["constants"].items():
            if recorded != json.loads(json.dumps(getattr(signs, name))):  # (a tuple is a list in JSON)
                raise ReportError(f"signs_choices: {name} was {recorded} there, is {getattr(signs, name)} now: "
                                  f"run it again")
    rows = []
    for v in variants:
        name = {"off": "no sign read (before)", "default": "**as shipped**"}.get(v["variant"], f"`{v['variant']}`")
        rows.append([name, pct(v["signed_read"], 1), *[pct(v["signed_by_style"][k], 1) for k in SIGN_STYLES],
                     pct(v["plain_read"], 1), pct(v["plain_signed"], 1), f"{signs_points(v):.2f}"])
    first = files[0]
    return markdown(["variant", f"signed numbers read ({count(first['numbers_count'])})",
                     *[f"… with {n}" for n in SIGN_STYLES.values()],
                     f"plain numbers read ({count(first['plain_count'])})", "… given a sign",
                     "signed + plain (points)"], "l" + "r" * 8, rows)


@table("signs-plain-validation", "signs_val4k.json")
def signs_plain_validation_table(data: dict) -> str:
    """What reading signs costs where there are none: the reading rules' validation sets (4,000 numbers,
    single digits, letters, other non-digits, words), read by one seed-0 run without the signs and with."""
    return without_and_with(data, ("without the signs", "with them"))


@table("signs-test", "numbers_signed_before.json", "numbers_signed.json")
def signs_test_table(before: dict, after: dict) -> str:
    """Test numbers written with a minus, a point or both (MNIST test digits), read by the default recipe's
    seed-0 run without the signs and with them: the same model, photos and reader otherwise."""
    same_model("the signed numbers' pair", "model", before, after)
    return before_and_after(before, after, {k: f"with {n}" for k, n in SIGN_STYLES.items()},
                            "test numbers with signs")


PAPER_REACHES = ("0.2", "0.3", "0.35", "0.4")


@table("paper-reach", *(f"paper_reach_{r}.json" for r in PAPER_REACHES))
def paper_reach_table(*files: dict) -> str:
    """How far the paper's level reaches, on validation (benchmarks/paper_choices.py, one call per reach on
    one seed-0 run); the reach in use is marked, and must have the most points (ties keep it)."""
    import tinyvision.image.paper as paper

    same_model("the paper-reach files", "run", *files)
    # The reach in use must score the most; a tie keeps it (a change needs validation to prefer another).
    best = max(files, key=lambda f: f["points"])
    in_use = [f for f in files if f["reach"] == paper.OPENING_REACH]
    if not in_use or in_use[0]["points"] < best["points"]:
        raise ReportError(f"image.paper.OPENING_REACH is {paper.OPENING_REACH}, validation chose {best['reach']}")
    rows = [[f"**{f['reach']:g}** (in use)" if f["reach"] == paper.OPENING_REACH else f"{f['reach']:g}",
             pct(f["numbers_read"], 1), pct(f["hard_read"], 1),
             *(f"{pct(f[n]['right'], 1)} / {pct(f[n]['refused'], 1)}" for n in ("photo", "pen", "scan")),
             f"{f['points']:.1f}"] for f in files]
    return markdown(["reach (share of the longest side)", "numbers, clean paper", "numbers, hard paper",
                     "digits as photos: right / refused", "redrawn with pens", "scanned at low resolution",
                     "sum of the five rights (points)"], "lrrrrrr", rows)


SMALL_GROUPS = {
    "digits-8": ("MNIST validation digits at 8 px", "read"),
    "writers-8x8": ("other writers' held-out 8x8 grids", "read"),
    "non-digits-8": ("non-digits at 8 px", "refused"),
    "letters-8": ("held-out letters at 8 px", "refused"),
    "digits-12": ("MNIST validation digits at 12 px", "read"),
    "non-digits-12": ("non-digits at 12 px", "refused"),
    "letters-12": ("held-out letters at 12 px", "refused"),
}


@table("small-images", "small_images.json")
def small_images_table(data: dict) -> str:
    """Tiny images enlarged before their ink is found, or not, on validation stand-ins
    (benchmarks/small_images.py, one seed-0 run); the setting in use must have the most points."""
    import tinyvision.image.digits as digits

    in_use = f"{digits.ENLARGE_BELOW}:{digits.ENLARGE_TO}"
    if data["best"] != in_use:
        raise ReportError(f"image.digits enlarges {in_use}, validation chose {data['best']}")

    def label(setting: str) -> str:
        text = "not enlarged" if setting == "off" else "under {} px to {} px".format(*setting.split(":"))
        return f"**{text}** (in use)" if setting == in_use else text

    rows = [[label(r["setting"]), *(pct(r["groups"][g][key], 1) for g, (_, key) in SMALL_GROUPS.items()),
             f"{r['points']:.1f}"] for r in data["settings"]]
    header = ["enlarged", *(f"{name}: {key}" for name, key in SMALL_GROUPS.values()), "sum (points)"]
    return markdown(header, "l" + "r" * (len(SMALL_GROUPS) + 1), rows)


REJECTION_SETS = {
    "mnist-val": "MNIST validation", "mnist-val-photo": "as photos", "mnist-val-pen": "other pens",
    "mnist-val-scan": "low-resolution scans", "font-train": "TRAIN fonts", "writers-held-out": "other writers",
    "held-out-non-digits": "held-out non-digits", "neg-letters-check": "held-out letters",
    "neg-train": "training-side non-digits",
}


@table("rejection-scores", "rejection_scores.json", "rejection_scores_plain.json")
def rejection_scores_table(default: dict, plain: dict) -> str:
    """The refusal score on validation (benchmarks/rejection_scores.py, the default and plain recipes'
    seed-0 runs): share refused per set, by operating point; each recipe's default (energy, at
    calibration.default_quantile) is marked, and must have the most points among the shares tried."""
    from tinyvision.calibration import ENERGY, default_quantile

    rows = []
    for recipe, data, exposed in (("default", default, True), ("`plain`", plain, False)):
        in_use = f"{100 * default_quantile('digits', exposed):g}% of MNIST validation"
        rules = {name: by_score for name, by_score in data["operating_points"].items() if "MNIST" in name}
        best = max(rules, key=lambda name: rules[name][ENERGY]["points"])
        if best != in_use:
            raise ReportError(f"calibration.default_quantile gives the {recipe} recipe {in_use}; validation chose "
                              f"{best}")
        for name, by_score in data["operating_points"].items():
            for score, v in by_score.items():
                refused = {**v["digits refused"], **v["non-digits refused"]}
                label = f"{name}, {score}"
                rows.append([recipe, f"**{label}** (in use)" if (name, score) == (in_use, ENERGY) else label,
                             *(pct(refused[k], 1) for k in REJECTION_SETS), f"{v['points']:.1f}"])
    return markdown(["recipe", "threshold set by, score", *(f"{n}: refused" for n in REJECTION_SETS.values()),
                     "points"], "ll" + "r" * (len(REJECTION_SETS) + 1), rows)


@table("paper-choice", "paper_val_before.json", "paper_val_default.json")
def paper_choice_table(before: dict, after: dict) -> str:
    """The paper module's cost on clean paper, on validation: the 4,000 numbers of the reading rules'
    choices, single digits, letters and other non-digits, read by one seed-0 run with the code before the
    paper module (commit c73d90c) and after."""
    same_model("the paper-choice files", "run", before, after)
    if before["numbers_set"] != after["numbers_set"]:
        raise ReportError("the paper-choice files must read one set of numbers")
    rows = [[label, *reading_cells(f["variants"][0]), f"{selection_points(f['variants'][0]):.2f}"]
            for label, f in (("before (commit c73d90c)", before), ("after: `image/paper.py`", after))]
    return markdown(["preparation", "numbers read exactly", "… some digits touching", "single digits right",
                     "… refused", "letters refused", "other non-digits refused", "numbers + letters (points)"],
                    "lrrrrrrr", rows)


@table("segment-gate", "segment_gate.json", "segment_gate_pairs2000.json")
def segment_gate_table(default: dict, pairs: dict) -> str:
    """The whole-group gate on validation: numbers from MNIST's validation digits and single validation
    digits as photos, read through `Model.predict`, per gate value, for the default recipe's seed-0 run
    and the merged-pairs trial's."""
    rows = []
    for label, data in (("default recipe", default), ("`--merged-pairs 2000` trial", pairs)):
        for g in data["gates"]:
            rows.append([label, "off" if g["gate"] is None else f"{g['gate']:g}", pct(g["numbers_read_exactly"], 1),
                         pct(g["numbers_by_touching"]["touching"], 1), pct(g["numbers_not_answered"], 1),
                         f"{1000 * g['numbers_seconds_per_image']:.0f} ms", pct(g["singles_right"], 1),
                         pct(g["singles_refused"], 1)])
    return markdown(["seed-0 run", "gate", "numbers read exactly", "… some digits touching", "numbers unanswered",
                     "time per number", f"single digits right ({count(default['singles'])})", "… refused"],
                    "llrrrrrr", rows)


NUMBER_RULES = {"never": "single-digit bar", "always": "bar per digit count",
                "separate": "bar per digit count, separate marks"}


def selection_points(v: dict) -> float:
    """What the reading's rules are chosen by, for one validation row: numbers read exactly plus letters
    refused, in points."""
    return 100 * (v["numbers_read_exactly"] + v["letters_refused"])


def reading_cells(v: dict) -> list[str]:
    """A validation row's numbers read (all, touching), single digits (right, refused), letters and other
    non-digits refused: the columns of the lone-doubt and unsure-whole tables."""
    return [pct(v["numbers_read_exactly"]), pct(v["numbers_by_touching"]["touching"]), pct(v["singles_right"]),
            pct(v["singles_refused"]), pct(v["letters_refused"]), pct(v["negatives_refused"])]


def width_chosen(variants: list[dict]) -> float:
    """The capped lone-mark width, numbers judged by the separate-marks rule, that maximises numbers read
    plus letters refused (the narrower on a tie): how LONE_SPLIT_ASPECT was chosen before the doubt rule
    (table lone-doubt), which chose it again."""
    capped = [v for v in variants if v.get("lone_digit_cap") and v["number_rule"] == "separate"]
    total = {v["lone_split_aspect"]: round(selection_points(v), 4) for v in capped}
    return min(w for w, t in total.items() if t == max(total.values()))


@table("number-rules", "number_rules.json", "number_rules_wider.json")
def number_rules_table(data: dict, wider: dict) -> str:
    """Each lone-mark width and number rule on validation, read through `Model.predict` by one seed-0 run
    (then the wider capped widths, a second call on the same run); the rules the code uses and the width
    chosen here (before the doubt rule) are marked."""
    import tinyvision.image.segment as segment
    import tinyvision.read_number as read_number

    assert wider["run"] == data["run"] and wider["numbers_set"] == data["numbers_set"]

    def rule(v: dict) -> tuple:
        return v["lone_split_aspect"], v.get("lone_digit_cap", False), v["number_rule"]

    seen = {rule(v) for v in data["variants"]}
    extra = [v for v in wider["variants"] if rule(v) not in seen]
    rows, width = [], width_chosen(data["variants"] + extra)
    for v in data["variants"] + extra:
        cap = v.get("lone_digit_cap", False)
        chosen = (v["lone_split_aspect"] == width and cap == segment.LONE_DIGIT_CAP
                  and v["number_rule"] == read_number.NUMBER_RULE)
        mark = (lambda text: f"**{text}**") if chosen else (lambda text: text)
        rows.append([mark(f"{v['lone_split_aspect']:.2f}"), mark("k / 2 x that wide" if cap else "no limit"),
                     mark(NUMBER_RULES[v["number_rule"]]),
                     pct(v["numbers_read_exactly"], 1), pct(v["numbers_by_touching"]["touching"], 1),
                     pct(v["numbers_not_answered"], 1), pct(v["singles_right"], 1),
                     pct(v["letters_refused"], 1), pct(v["negatives_refused"], 1)])
    return markdown(["lone mark cut when wider than", "… into k digits when", "a number's digits judged by",
                     "numbers read exactly",
                     "… some digits touching", "numbers unanswered",
                     f"single digits right ({count(data['singles'])})", f"letters refused ({count(data['letters'])})",
                     f"other non-digits refused ({count(data['negatives'])})"],
                    "lllrrrrrr", rows)


@table("number-rules-4k", "number_rules_val4k_narrow.json", "number_rules_val4k_wide.json")
def number_rules_4k_table(narrow: dict, wide: dict) -> str:
    """The capped lone-mark widths again on a set of validation numbers four times larger: each step's
    trade (letters refused gained, numbers read lost, in points) and the two summed, which the width
    chosen maximises (the narrower on a tie). That width is marked."""
    assert narrow["run"] == wide["run"] and narrow["numbers_set"] == wide["numbers_set"]
    variants = sorted(narrow["variants"] + wide["variants"], key=lambda v: v["lone_split_aspect"])
    rows, previous, width = [], None, width_chosen(variants)
    for v in variants:
        mark = (lambda text: f"**{text}**") if v["lone_split_aspect"] == width else str
        step = ["–", "–"] if previous is None else [
            f"{100 * (v['letters_refused'] - previous['letters_refused']):+.2f}",
            f"{100 * (v['numbers_read_exactly'] - previous['numbers_read_exactly']):+.2f}"]
        rows.append([mark(f"{v['lone_split_aspect']:.2f}"), pct(v["numbers_read_exactly"]),
                     pct(v["numbers_by_touching"]["touching"]), pct(v["letters_refused"]), *step,
                     f"{selection_points(v):.2f}"])
        previous = v
    return markdown(["lone mark cut when wider than (k / 2 x that wide)", "numbers read exactly",
                     "… some digits touching", f"letters refused ({count(narrow['letters'])})",
                     "step: letters refused, points", "step: numbers read, points",
                     "numbers read + letters refused, points"],
                    "lrrrrrr", rows)


@table("lone-doubt", "segment_costs_a.json", "segment_costs_b.json")
def lone_doubt_table(first: dict, second: dict) -> str:
    """The image's only mark cut when the model doubts it whole, and one mark cut into digits held to a bar,
    on validation (benchmarks/segment_costs.py, two calls on one seed-0 run); the settings in use are marked."""
    import tinyvision.image.segment as segment
    import tinyvision.read_number as read_number

    assert first["run"] == second["run"] and first["numbers_set"] == second["numbers_set"]
    in_use = {"LONE_SPLIT_ASPECT": segment.LONE_SPLIT_ASPECT, "LONE_UNSURE_ASPECT": segment.LONE_UNSURE_ASPECT,
              "LONE_CUT_BAR": read_number.LONE_CUT_BAR}
    rows = []
    for v in first["variants"] + second["variants"]:
        s = v["settings"]
        mark = (lambda text: f"**{text}**") if all(s[k] == in_use[k] for k in in_use) else str
        rows.append([mark(f"{s['LONE_SPLIT_ASPECT']:.2f}"),
                     mark("never" if s["LONE_UNSURE_ASPECT"] is None else f"{s['LONE_UNSURE_ASPECT']:.2f}"),
                     mark("single-digit bar" if s["LONE_CUT_BAR"] is None else f"{s['LONE_CUT_BAR']:g}"),
                     *reading_cells(v), f"{selection_points(v):.2f}"])
    return markdown(["lone mark cut when wider than", "… or, doubted whole, when wider than",
                     "each digit cut from one mark at least", "numbers read exactly",
                     "… some digits touching", f"single digits right ({count(first['singles'])})", "… refused",
                     f"letters refused ({count(first['letters'])})",
                     f"other non-digits refused ({count(first['negatives'])})",
                     "numbers read + letters refused, points"], "lllrrrrrrr", rows)


def bar_sweep(variants: list[dict], name: str, points: Callable[[dict], float], off: str,
              extra: Callable[[dict], list[str]] = lambda v: []) -> list[list[str]]:
    """The rows of a sweep of one bar of read_number on validation (a variant without the setting is the bar
    in use), lowest bar first, `off` naming None; the bar in use is marked and must have the most points."""
    import tinyvision.read_number as read_number

    in_use = getattr(read_number, name)
    bar = {id(v): v["settings"].get(name, in_use) for v in variants}
    if max(variants, key=points) is not next(v for v in variants if bar[id(v)] == in_use):
        raise ReportError(f"the {name} in use is not the one with the most validation points")
    rows = []
    for v in sorted(variants, key=lambda v: -1.0 if bar[id(v)] is None else bar[id(v)]):
        mark = (lambda text: f"**{text}**") if bar[id(v)] == in_use else str
        rows.append([mark(off if bar[id(v)] is None else f"{bar[id(v)]:g}"), *reading_cells(v), *extra(v),
                     f"{points(v):.2f}"])
    return rows


@table("lone-cut-bar-energy", "lone_cut_bar_energy_a.json", "lone_cut_bar_energy_b.json")
def lone_cut_bar_energy_table(first: dict, second: dict) -> str:
    """LONE_CUT_BAR chosen again with a card that refuses by energy (benchmarks/segment_costs.py, two calls on
    one seed-0 default run); the bar in use is marked, and it has the most points."""
    if first["run"] != second["run"] or first["numbers_set"] != second["numbers_set"]:
        raise ReportError("lone_cut_bar_energy_a.json and _b.json must come from one run and one set of numbers")
    rows = bar_sweep(first["variants"] + second["variants"], "LONE_CUT_BAR", selection_points,
                     "single-digit bar alone")
    return markdown(["each digit cut from one mark at least", "numbers read exactly", "… some digits touching",
                     f"single digits right ({count(first['singles'])})", "… refused",
                     f"letters refused ({count(first['letters'])})",
                     f"other non-digits refused ({count(first['negatives'])})",
                     "numbers read + letters refused, points"], "lrrrrrrr", rows)


SEVERAL_CUT_BAR_FILES = ("several_cut_bar_a.json", "several_cut_bar_b.json", "several_cut_bar_c.json",
                         "several_cut_bar_d.json")


def word_points(v: dict) -> float:
    """What SEVERAL_CUT_BAR is chosen by, for one validation row: numbers read exactly plus words refused,
    in points (the trade it makes: a word's letters cut into digits against a number's touching digits)."""
    return 100 * (v["numbers_read_exactly"] + v["words_refused"])


@table("several-cut-bar", *SEVERAL_CUT_BAR_FILES)
def several_cut_bar_table(*files: dict) -> str:
    """The bar a reading of several marks, one of them cut, must clear as a whole (the product of its digits'
    probabilities), on validation (benchmarks/segment_costs.py, calls on one seed-0 default run); the bar in
    use is marked, and it has the most points."""
    if len({f["run"] for f in files}) != 1 or len({f["numbers_set"] for f in files}) != 1:
        raise ReportError("the several-cut-bar files must come from one run and one set of numbers")
    rows = bar_sweep([v for f in files for v in f["variants"]], "SEVERAL_CUT_BAR", word_points, "none",
                     lambda v: [pct(v["words_refused"])])
    return markdown(["a reading with a cut mark among several, as a whole, at least", "numbers read exactly",
                     "… some digits touching", f"single digits right ({count(files[0]['singles'])})", "… refused",
                     f"letters refused ({count(files[0]['letters'])})",
                     f"other non-digits refused ({count(files[0]['negatives'])})",
                     f"words refused ({count(files[0]['words'])})", "numbers read + words refused, points"],
                    "lrrrrrrrr", rows)


@table("several-cut-bar-evaluation", "handwriting_whole.json", "handwriting_words_before.json",
       "handwriting_slant_before.json", "numbers_whole.json", "numbers_slant_before.json")
def several_cut_bar_evaluation_table(before: dict, words_before: dict, after: dict, numbers_before: dict,
                                     numbers_after: dict) -> str:
    """SEVERAL_CUT_BAR on the evaluation sets and the test numbers: the same default runs before (words: read
    with the rule off, `--reader SEVERAL_CUT_BAR=None`) and after. It chose nothing: the bar was chosen on
    validation (several-cut-bar)."""
    runs_before, runs_words, runs_after = same_runs("several-cut-bar-evaluation", before, words_before, after)
    if words_before.get("reader_settings") != {"SEVERAL_CUT_BAR": None}:
        raise ReportError("handwriting_words_before.json must be read with --reader SEVERAL_CUT_BAR=None")
    same_model("the several-cut-bar-evaluation numbers", "model", numbers_before, numbers_after)
    names = ("words:plain", "words:lookalikes", *(n for n in SET_NAMES if not n.startswith("words")))
    rows = set_rows(names, lambda name: runs_words if name.startswith("words") else runs_before, runs_after)
    return markdown(["set", "images", "share", f"before ({len(runs_before)} runs)", "after (same runs)"],
                    "lrlrr", rows + number_rows(numbers_before, numbers_after))


def set_rows(names: Iterable[str], runs_before: Callable[[str], list], runs_after: list) -> list[list[str]]:
    """Before-and-after rows of an evaluation table, one per set that both sides read: the set, its images,
    the share shown (right or refused) and its mean ± std over the runs before (`runs_before(name)`) and after."""
    rows = []
    for name in names:
        old_runs = runs_before(name)
        old, new = set_figures(old_runs[0], name), set_figures(runs_after[0], name)
        if old is None or new is None:
            continue
        key = "accuracy" if new["kind"] == "digits" else "refused"
        rows.append([SET_NAMES[name], count(new["count"]), "right" if key == "accuracy" else "refused",
                     mean_sd(over_runs(old_runs, name, key), 1), mean_sd(over_runs(runs_after, name, key), 1)])
    return rows


def number_rows(before: dict, after: dict, title: str = "test numbers (seed-0 run)") -> list[list[str]]:
    """Before-and-after rows of the test numbers (number_photos.py read by one run): read exactly, those with
    touching digits, and unanswered."""
    touching = after["read"]["by_touching"]["touching"]["images"]
    rows = []
    for label, images, share, get in (
            (title, after["images"], "read exactly", lambda f: f["read"]["rate"]),
            ("… some digits touching", touching, "read exactly",
             lambda f: f["read"]["by_touching"]["touching"]["rate"]),
            ("… all", after["images"], "no answer", lambda f: f["abstained"] / f["images"])):
        rows.append([label, count(images), share, pct(get(before), 1), pct(get(after), 1)])
    return rows


def reader_evaluation(what: str, before: dict, after: dict, numbers_before: dict, numbers_after: dict,
                      arms: tuple[str, str] = ("before", "after"), extra: list[list[str]] = ()) -> str:
    """A reading rule on every evaluation set and the test numbers, read by the same default runs before and
    after it (`arms` names the two columns): share right or refused, mean +- std over the runs; then `extra`
    rows in the same columns."""
    runs_before, runs_after = same_runs(what, before, after)
    same_model(f"the {what} numbers", "model", numbers_before, numbers_after)
    rows = set_rows(SET_NAMES, lambda name: runs_before, runs_after)
    return markdown(["set", "images", "share", f"{arms[0]} ({len(runs_before)} runs)", f"{arms[1]} (same runs)"],
                    "lrlrr", rows + number_rows(numbers_before, numbers_after) + list(extra))


@table("slant-second-opinion-evaluation", "handwriting_slant_before.json", "handwriting_slant.json",
       "numbers_slant_before.json", "numbers_slant.json")
def slant_second_opinion_evaluation_table(before: dict, after: dict, numbers_before: dict,
                                          numbers_after: dict) -> str:
    """The slant second opinion on the evaluation sets and the test numbers: the same default runs before and
    after. It chose nothing: the settings were chosen on validation (slant-second-opinion)."""
    return reader_evaluation("slant-second-opinion-evaluation", before, after, numbers_before, numbers_after)


def refusal_points(v: dict) -> float:
    """What the slant second opinion is chosen by, for one validation row: numbers read exactly plus letters,
    other non-digits and words refused, in points (a second opinion may answer any image the first refused)."""
    return 100 * (v["numbers_read_exactly"] + v["letters_refused"] + v["negatives_refused"] + v["words_refused"])


def most_refusal_points(variants: list[dict], used: list[bool], what: str) -> None:
    """Refuse a table unless the variant in use (`used`) was measured once and has the most refusal_points,
    a tie going to the most single digits right, then to the least time per number."""
    def rank(k: int) -> tuple[float, float, float]:
        v = variants[k]
        return round(refusal_points(v), 6), v["singles_right"], -v["numbers_seconds_per_image"]

    if sum(used) != 1 or max(range(len(variants)), key=rank) != used.index(True):
        raise ReportError(f"{what} in use must be measured once and have the most validation points")


@table("slant-second-opinion", "second_opinion_a.json", "second_opinion_b.json", "second_opinion_c.json",
       "second_opinion_d.json")
def slant_second_opinion_table(*files: dict) -> str:
    """A second opinion with seams along slants (read_number.SLANT_MAX, SLANT_DOUBT, SLANT_RESCUE) on validation
    (benchmarks/segment_costs.py, calls on one seed-0 default run); the settings in use are marked, and they
    have the most points (on a tie, the most single digits right, then the least time)."""
    import tinyvision.read_number as read_number

    if len({f["run"] for f in files}) != 1 or len({f["numbers_set"] for f in files}) != 1:
        raise ReportError("the slant-second-opinion files must come from one run and one set of numbers")
    names = ("SLANT_MAX", "SLANT_DOUBT", "SLANT_RESCUE")
    variants = [v for f in files for v in f["variants"]]
    for v in variants:
        if v["settings"].get("SLANT_MAX", "unset") is not None and set(v["settings"]) != set(names):
            raise ReportError(f"slant-second-opinion rows must set {', '.join(names)}: {v['variant']}")
    used = [all(v["settings"][n] == getattr(read_number, n) for n in names) if read_number.SLANT_MAX is not None
            else v["settings"]["SLANT_MAX"] is None for v in variants]
    most_refusal_points(variants, used, "the slant settings")
    rows = []
    for v, in_use in zip(variants, used):
        mark = (lambda text: f"**{text}**") if in_use else str
        c = v["settings"]
        off = c["SLANT_MAX"] is None
        rows.append([mark("none" if off else f"{c['SLANT_MAX']:g}"), "" if off else mark(f"{c['SLANT_DOUBT']:g}"),
                     "" if off else mark("never" if c["SLANT_RESCUE"] is None else f"{c['SLANT_RESCUE']:g}"),
                     *reading_cells(v), pct(v["words_refused"]), f"{1000 * v['numbers_seconds_per_image']:.0f} ms",
                     f"{refusal_points(v):.2f}"])
    first = files[0]
    return markdown(["second opinion along slants up to (columns per row)", "… asked when a digit is less sure than",
                     "… answering a refused image when at least", "numbers read exactly", "… some digits touching",
                     f"single digits right ({count(first['singles'])})", "… refused",
                     f"letters refused ({count(first['letters'])})",
                     f"other non-digits refused ({count(first['negatives'])})",
                     f"words refused ({count(first['words'])})", "time per number",
                     "numbers read + letters, other non-digits and words refused, points"], "lllrrrrrrrrr", rows)


def pair_points(v: dict) -> float:
    """What the pair reader's bar is chosen by, for one validation row: numbers read exactly, single digits
    right, and letters, other non-digits and words refused, in points (a pair read whole may answer a word's
    letters, or split a single digit)."""
    return refusal_points(v) + 100 * v["singles_right"]


def pair_bar_table(what: str, files: tuple[dict, ...], name: str, heading: str, extra: dict[str, str]) -> str:
    """A pair-reader bar (read_number `name`) swept on validation (benchmarks/segment_costs.py, calls on one
    seed-0 default run): the reading columns, then `extra` ({header: key of each row, shown as a share}), then
    the points it is chosen by (`pair_points`); the bar in use is marked, and it must have the most points."""
    if len({f["run"] for f in files}) != 1 or len({f["numbers_set"] for f in files}) != 1:
        raise ReportError(f"the {what} files must come from one run and one set of numbers")
    rows = bar_sweep([v for f in files for v in f["variants"]], name, pair_points, "none",
                     lambda v: [pct(v[key]) for key in extra.values()])
    first = files[0]
    return markdown([heading, "numbers read exactly", "… some digits touching",
                     f"single digits right ({count(first['singles'])})", "… refused",
                     f"letters refused ({count(first['letters'])})",
                     f"other non-digits refused ({count(first['negatives'])})", *extra,
                     "numbers + single digits read, letters, other non-digits and words refused, points"],
                    "l" + "r" * (7 + len(extra)), rows)


@table("pair-reader", "pair_reader_a.json", "pair_reader_b.json")
def pair_reader_table(*files: dict) -> str:
    """The bar the pair reader must clear to read a mark as two digits (read_number.PAIR_BAR), on validation
    (benchmarks/segment_costs.py, two calls on one seed-0 default run); the bar in use is marked, and it has
    the most points."""
    return pair_bar_table("pair-reader", files, "PAIR_BAR", "pair reader: a mark read as two digits when at least",
                          {f"words refused ({count(files[0]['words'])})": "words_refused"})


@table("pair-reader-evaluation", "handwriting_pair_before.json", "handwriting_rescue_before.json",
       "numbers_pair_before.json", "numbers_rescue_before.json")
def pair_reader_evaluation_table(before: dict, after: dict, numbers_before: dict, numbers_after: dict) -> str:
    """The pair reader on the evaluation sets and the test numbers: the same default runs without it
    (PAIR_BAR None) and with it (before it rescued refusals: PAIR_RESCUE off). It chose nothing: the bar was
    chosen on validation (pair-reader)."""
    return reader_evaluation("pair-reader-evaluation", before, after, numbers_before, numbers_after,
                             ("without", "with"))


@table("pair-rescue", "pair_rescue_a.json", "pair_rescue_b.json")
def pair_rescue_table(*files: dict) -> str:
    """The bar the pair reader must clear to answer a refused reading's mark as a pair without a 1 or a 7
    (read_number.PAIR_RESCUE), on validation (benchmarks/segment_costs.py, two calls on one seed-0 default run);
    the bar in use is marked, and it has the most points."""
    return pair_bar_table("pair-rescue", files, "PAIR_RESCUE", "a refusal's mark answered as a pair when at least",
                          {"numbers unanswered": "numbers_not_answered",
                           f"words refused ({count(files[0]['words'])})": "words_refused"})


@table("pair-rescue-evaluation", "handwriting_rescue_before.json", "handwriting_lone_ink_before.json",
       "numbers_rescue_before.json", "numbers_lone_ink_before.json")
def pair_rescue_evaluation_table(before: dict, after: dict, numbers_before: dict, numbers_after: dict) -> str:
    """The pair rescue on the evaluation sets and the test numbers: the same default runs without it
    (PAIR_RESCUE None, the pair reader on) and with it. It chose nothing: the bar was chosen on validation
    (pair-rescue)."""
    return reader_evaluation("pair-rescue-evaluation", before, after, numbers_before, numbers_after,
                             ("without", "with"))


LONE_INK_FILES = (("lone_ink_a.json", "lone_ink_singles_paper_a.json", "lone_ink_numbers_paper_a.json"),
                  ("lone_ink_b.json", "lone_ink_singles_paper_b.json", "lone_ink_numbers_paper_b.json"),
                  ("lone_ink_c.json", "lone_ink_singles_paper_c.json", "lone_ink_numbers_paper_c.json"))


@table("lone-ink", *(name for files in LONE_INK_FILES for name in files))
def lone_ink_table(*files: dict) -> str:
    """A lone digit's faint ink kept only near a stroke (image.digits.NEAR_STROKE) and a photo's extremes
    deciding which way round its ink is (POLARITY_TAIL), on validation: the validation sets of the pair bars
    (benchmarks/segment_costs.py) and single digits and numbers of MNIST's validation digits on hard paper
    (number_photos.py build --paper hard, read by number_photos.py read), one seed-0 default run; each setting's
    three files in turn. The setting in use is marked, and it must have the most points."""
    import tinyvision.image.digits as digits

    rows, points = [], []
    for costs, singles, numbers in zip(files[0::3], files[1::3], files[2::3]):
        if len(costs["variants"]) != 1 or singles["reader_settings"] != numbers["reader_settings"]:
            raise ReportError("each lone-ink setting is one segment_costs.py variant and two reads with its constants")
        v = costs["variants"][0]
        if v["settings"] != singles["reader_settings"]:
            raise ReportError("a lone-ink setting's segment_costs.py variant and reads set different constants")
        reach = v["settings"].get("NEAR_STROKE", digits.NEAR_STROKE)
        tail = v["settings"].get("POLARITY_TAIL", digits.POLARITY_TAIL)
        in_use = reach == digits.NEAR_STROKE and tail == digits.POLARITY_TAIL
        total = pair_points(v) + 100 * (singles["read"]["rate"] + numbers["read"]["rate"])
        points.append((total, in_use))
        label = "neither (as before)" if reach is None and tail is None else f"within {reach:g} stroke width(s)"
        label = f"**{label}**" if in_use else label
        rows.append([label, *reading_cells(v), pct(v["words_refused"]), pct(singles["read"]["rate"]),
                     pct(numbers["read"]["rate"]), f"{total:.2f}"])
    if max(points)[1] is not True:
        raise ReportError("the NEAR_STROKE and POLARITY_TAIL in use are not the setting with the most points")
    first = files[0]
    return markdown(["a lone digit's faint ink counted", "numbers read exactly", "… some digits touching",
                     f"single digits right ({count(first['singles'])})", "… refused",
                     f"letters refused ({count(first['letters'])})",
                     f"other non-digits refused ({count(first['negatives'])})",
                     f"words refused ({count(first['words'])})",
                     f"single digits on hard paper ({count(files[1]['images'])})",
                     f"numbers on hard paper ({count(files[2]['images'])})",
                     "all of these, points"], "l" + "r" * 10, rows)


@table("paper-marks-evaluation", "handwriting_lone_ink_before.json", "handwriting.json",
       "numbers_lone_ink_before.json", "numbers.json", "singles_paper_before.json", "singles_paper.json",
       "numbers_circled_before.json", "numbers_circled.json", "numbers_marked_lone_ink_before.json",
       "numbers_marked_frame_reach.json")
def paper_marks_evaluation_table(before: dict, after: dict, numbers_before: dict, numbers_after: dict,
                                 *pairs: dict) -> str:
    """The lone digit's faint ink near a stroke, the polarity's extremes and a frame's outline near its hole,
    on the evaluation sets and the test sets (MNIST's test digits): the same default runs before and after
    (the test sets of paper and marks: the seed-0 run). It chose nothing: the settings were chosen on
    validation (lone-ink, frame-reach)."""
    same_model("the paper-marks-evaluation test sets", "model", numbers_after, *pairs)
    titles = ("test single digits on hard paper (ruled, squared, shadow, desk, pencil)",
              "test numbers with one digit circled", "test numbers underlined, boxed or circled by their writer")
    extra = [[title, count(new["images"]), "read exactly", pct(old["read"]["rate"], 1), pct(new["read"]["rate"], 1)]
             for title, old, new in zip(titles, pairs[0::2], pairs[1::2])]
    return reader_evaluation("paper-marks-evaluation", before, after, numbers_before, numbers_after, extra=extra)


CUT_READING_SETS = {"numbers": "validation numbers", "singles": "single validation digits",
                    "letters": "letters (TRAIN fonts' odd half)", "negatives": "other non-digits",
                    "words": "words (TRAIN fonts)"}


@table("cut-readings", "cut_readings.json")
def cut_readings_table(f: dict) -> str:
    """What the validation sets' cut readings say with the cut bars off (benchmarks/cut_readings.py): per
    set and bar, the images answered by a cut reading, those with a digit of STROKE_DIGITS, and how sure the
    others were at most."""
    rows = []
    for name, label in CUT_READING_SETS.items():
        entry = f["sets"][name]
        cells = []
        for bar in ("lone", "several"):
            b = entry[bar]
            most = "—" if b["without_most_sure"] is None else f"{b['without_most_sure']:.3f}"
            cells += [count(b["answered"]), count(b["with_stroke_digit"]), most]
        rows.append([label, count(entry["images"]), *cells])
    digits = " or ".join(f["stroke_digits"])
    return markdown(["set", "images", "one mark cut: answered", f"… with a {digits}",
                     "… without: least sure digit, at most", "several marks, one cut: answered",
                     f"… with a {digits}", "… without: the whole reading, at most"], "lrrrrrrr", rows)


PLAIN_CUT_BAR_NAMES = ("LONE_CUT_BAR_PLAIN", "SEVERAL_CUT_BAR_PLAIN")


@table("plain-cut-bar", "plain_cut_bar_a.json", "plain_cut_bar_b.json", "plain_cut_bar_c.json",
       "plain_cut_bar_d.json")
def plain_cut_bar_table(*files: dict) -> str:
    """Lower cut bars for readings without a digit a letter's stroke passes for (read_number.STROKE_DIGITS) on
    validation (benchmarks/segment_costs.py, calls on one seed-0 default run); a row without a setting has it
    off (None). The settings in use are marked, and they have the most points (on a tie, the most single
    digits right, then the least time)."""
    import tinyvision.read_number as read_number

    if len({f["run"] for f in files}) != 1 or len({f["numbers_set"] for f in files}) != 1:
        raise ReportError("the plain-cut-bar files must come from one run and one set of numbers")
    variants = [v for f in files for v in f["variants"]]
    if any(set(v["settings"]) - set(PLAIN_CUT_BAR_NAMES) for v in variants):
        raise ReportError("plain-cut-bar rows may set only " + ", ".join(PLAIN_CUT_BAR_NAMES))
    bars = [tuple(v["settings"].get(n) for n in PLAIN_CUT_BAR_NAMES) for v in variants]
    used = [b == tuple(getattr(read_number, n) for n in PLAIN_CUT_BAR_NAMES) for b in bars]
    most_refusal_points(variants, used, "the plain cut bars")
    rows = []
    for k in sorted(range(len(variants)), key=lambda k: tuple(-1.0 if b is None else -b for b in bars[k])):
        v, mark = variants[k], (lambda text: f"**{text}**") if used[k] else str
        rows.append([*(mark(f"as the rest ({getattr(read_number, n.removesuffix('_PLAIN')):g})" if b is None
                             else f"{b:g}") for n, b in zip(PLAIN_CUT_BAR_NAMES, bars[k])), *reading_cells(v),
                     pct(v["words_refused"]), f"{1000 * v['numbers_seconds_per_image']:.0f} ms",
                     f"{refusal_points(v):.2f}"])
    first = files[0]
    return markdown(["one mark cut: each digit at least", "several marks, one cut: all digits together at least",
                     "numbers read exactly", "… some digits touching",
                     f"single digits right ({count(first['singles'])})", "… refused",
                     f"letters refused ({count(first['letters'])})",
                     f"other non-digits refused ({count(first['negatives'])})",
                     f"words refused ({count(first['words'])})", "time per number",
                     "numbers read + letters, other non-digits and words refused, points"], "llrrrrrrrrr", rows)


@table("plain-cut-bar-evaluation", "handwriting_slant.json", "handwriting_plain_bar.json",
       "handwriting_plain_slant.json", "handwriting_plain.json", "numbers_slant.json", "numbers_plain_bar.json",
       "numbers_paper_slant.json", "numbers_paper.json")
def plain_cut_bar_evaluation_table(before: dict, after: dict, plain_before: dict, plain_after: dict,
                                   numbers_before: dict, numbers_after: dict, paper_before: dict,
                                   paper_after: dict) -> str:
    """The plain cut bars on the evaluation sets and the test numbers, on clean and on hard paper: the same
    runs before and after (the default recipe's, and a `plain` run's, which the bars were not chosen
    with). It chose nothing: the bars were chosen on validation (plain-cut-bar)."""
    rows = []
    for recipe, old_file, new_file in (("default", before, after), ("plain", plain_before, plain_after)):
        runs_before, runs_after = same_runs("plain-cut-bar-evaluation", old_file, new_file, recipe=recipe)
        label = "default" if recipe == "default" else f"`{recipe}`"
        rows += [[f"{label}, {len(runs_after)} run{'s' * (len(runs_after) > 1)}", *row]
                 for row in set_rows(SET_NAMES, lambda name, r=runs_before: r, runs_after)]
    same_model("the plain-cut-bar-evaluation numbers", "model", numbers_before, numbers_after)
    same_model("the plain-cut-bar-evaluation paper numbers", "model", paper_before, paper_after)
    rows += [["default, 1 run", *row] for row in number_rows(numbers_before, numbers_after)]
    rows += [["default, 1 run", *row]
             for row in number_rows(paper_before, paper_after, "test numbers on hard paper (another seed-0 run)")]
    return markdown(["recipe", "set", "images", "share", "before", "after (same runs)"], "llrlrr", rows)


UNSURE_WHOLE_FILES = ("merged_pairs_numbers_base.json", "unsure_whole_0.99.json", "unsure_whole_0.999.json",
                      "unsure_whole_0.9999.json", "unsure_whole_0.999_narrow0.4.json")


@table("unsure-whole", *UNSURE_WHOLE_FILES)
def unsure_whole_table(*files: dict) -> str:
    """How sure the model must be of a narrow group read whole for it to go uncut, on validation
    (benchmarks/segment_costs.py, one call per setting on one seed-0 bf16 run); the setting in use is marked."""
    import tinyvision.image.segment as segment

    if len({f["run"] for f in files}) != 1 or len({f["numbers_set"] for f in files}) != 1:
        raise ReportError("the unsure-whole files must come from one run and one set of numbers")
    rows = []
    for f in files:
        v = f["variants"][0]
        unsure = v["settings"].get("UNSURE_WHOLE", 0.9)
        narrow = v["settings"].get("NARROW_SPLIT_ASPECT", 0.5)
        in_use = unsure == segment.UNSURE_WHOLE and narrow == segment.NARROW_SPLIT_ASPECT
        mark = (lambda text: f"**{text}**") if in_use else str
        rows.append([mark(f"{unsure:g}"), mark(f"{narrow:g}"), *reading_cells(v),
                     f"{1000 * v['numbers_seconds_per_image']:.0f} ms", f"{selection_points(v):.2f}"])
    first = files[0]
    return markdown(["narrow group cut when read whole under", "… and wider than (x height)", "numbers read exactly",
                     "… some digits touching", f"single digits right ({count(first['singles'])})", "… refused",
                     f"letters refused ({count(first['letters'])})",
                     f"other non-digits refused ({count(first['negatives'])})", "time per number",
                     "numbers read + letters refused, points"], "llrrrrrrrr", rows)


WHOLE_DIGIT_SETS = {"photos": "photos", "mnist-val-pen": "other pens", "mnist-val-scan": "low-res scans",
                    "font-check": "held-out fonts", "writers-pen": "writers' pen paths",
                    "writers-grid": "writers' 8x8 grids"}


def whole_cells(v: dict, kinds: dict) -> list[str]:
    """A whole-reading variant's measures, as the whole-reading tables show them."""
    return [pct(v["numbers_read_exactly"]), pct(v["numbers_not_answered"]), *[pct(v[f"{k}_right"]) for k in kinds],
            pct(v["letters_refused"]), pct(v["negatives_refused"]), f"{v['points']:.2f}"]


def whole_headers(data: dict, kinds: dict) -> list[str]:
    sets = data["digit_sets"]
    return ["validation numbers read exactly", "… unanswered",
            *[f"{name} right ({count(sets[k])})" for k, name in kinds.items()],
            f"letters refused ({count(data['non_digit_sets']['letters'])})",
            f"other non-digits refused ({count(data['non_digit_sets']['negatives'])})", "points"]


@table("whole-reading", "whole_reading_a.json", "whole_reading_b.json")
def whole_reading_table(first: dict, second: dict) -> str:
    """Several marks shaped like one digit also read whole, on validation (benchmarks/whole_reading.py, two
    calls on one seed-0 run); the setting in use is marked, and it has the most points."""
    import tinyvision.read_number as read_number

    if first["run"] != second["run"] or first["weights_sha256"] != second["weights_sha256"] \
            or first["numbers_set"] != second["numbers_set"]:
        raise ReportError("whole_reading_a.json and _b.json must come from one run and one set of numbers")
    variants = first["variants"] + second["variants"]
    in_use = (read_number.WHOLE_ASPECT, read_number.WHOLE_PREFER)
    best = max(v["points"] for v in variants)
    if not any((v["whole_aspect"], v["whole_prefer"]) == in_use and v["points"] == best for v in variants):
        raise ReportError("the whole-reading setting in use is not the one with the most validation points")
    rows = []
    for v in variants:
        aspect, prefer = v["whole_aspect"], v["whole_prefer"]
        mark = (lambda text: f"**{text}**") if (aspect, prefer) == in_use else str
        when = "off" if aspect is None else f"no wider than {aspect:.1f}"
        instead = "—" if aspect is None else ("a refusal" if prefer is None else f"a refusal, or when {prefer:g} sure")
        rows.append([mark(when), mark(instead), *whole_cells(v, WHOLE_DIGIT_SETS)])
    return markdown(["read whole when (x height)", "… in place of", *whole_headers(first, WHOLE_DIGIT_SETS)],
                    "ll" + "r" * (5 + len(WHOLE_DIGIT_SETS)), rows)


@table("whole-reading-likelier", "whole_reading_c.json")
def whole_reading_likelier_table(data: dict) -> str:
    """The whole reading over an answered reading in pieces: at WHOLE_PREFER alone, or only when also more
    likely right (WHOLE_LIKELIER), on validation; the setting in use is marked, and it has the most points."""
    import tinyvision.read_number as read_number

    variants = data["variants"]
    in_use = (read_number.WHOLE_ASPECT, read_number.WHOLE_PREFER, read_number.WHOLE_LIKELIER)
    key = lambda v: (v["whole_aspect"], v["whole_prefer"], v.get("whole_likelier", False))  # noqa: E731
    if not any(key(v) == in_use and v["points"] == max(w["points"] for w in variants) for v in variants):
        raise ReportError("the whole-reading setting in use is not the one with the most validation points")
    kinds = WHOLE_DIGIT_SETS | ({"narrow-pairs": "narrow numbers of a 1"} if "narrow-pairs" in data["digit_sets"]
                                else {})
    rows = []
    for v in variants:
        mark = (lambda text: f"**{text}**") if key(v) == in_use else str
        rule = (f"at {v['whole_prefer']:g} sure and more likely right than the pieces" if key(v)[2]
                else f"at {v['whole_prefer']:g} sure")
        rows.append([mark(rule), *whole_cells(v, kinds)])
    return markdown(["whole over an answered reading in pieces", *whole_headers(data, kinds)],
                    "l" + "r" * (5 + len(kinds)), rows)


@table("page-pen", "page_pen.json")
def page_pen_table(data: dict) -> str:
    """Digits drawn small with the mouse on the draw page, per pen width (benchmarks/page_pen.py); the share
    app.js ships is marked, and it reads the most."""
    import tinyvision

    script = (Path(tinyvision.__file__).parent / "web" / "app.js").read_text()
    found = re.search(r"const PEN_SHARE = ([0-9.]+);", script)
    if not found:
        raise ReportError("app.js has no PEN_SHARE")
    shipped = found.group(1)
    variants = data["variants"]
    if not any(v["share"] == shipped and v["read"] == max(w["read"] for w in variants) for v in variants):
        raise ReportError(f"the page's pen share {shipped} is not among the measured or not the one reading most")
    sets = list(dict.fromkeys(k.split("@")[0] for k in variants[0]["sets"]))
    rows = []
    for v in variants:
        mark = (lambda text: f"**{text}**") if v["share"] == shipped else str
        name = "16 px whatever the size (before)" if v["share"] == "fixed" else f"{v['share']} of the height"
        cells = []
        for s in sets:
            parts = [answers for k, answers in v["sets"].items() if k.split("@")[0] == s]
            cells.append(f"{sum(a == d for p in parts for d, a in p.items())} / {sum(len(p) for p in parts)}")
        rows.append([mark(name), *cells, mark(f"{v['read']} / {v['drawn']}")])
    heights = ", ".join(str(h) for h in data["heights"])
    return markdown([f"pen (digits {heights} px high)", *[s.replace("hershey-", "Hershey ") for s in sets],
                     "read"], "l" + "r" * (len(sets) + 1), rows)


def upload_server_name(server: dict) -> str:
    if server["source"] == "this checkout":
        return "this code"
    return f"before (`{server['commit'][:7]}`)" if server.get("commit") else f"before ({server['source']})"


@table("upload-slow-bodies", "upload_bounds.json")
def upload_slow_bodies_table(data: dict) -> str:
    """Slow uploads against the real server, and a burst of large forms (benchmarks/upload_bounds.py): this
    code and the code before the bodies were read ahead of the queue, one after the other."""
    rows = []
    for server in data["servers"]:
        slow, burst = server["slow_uploads"], server["form_burst"]
        raw = server.get("raw_burst")
        rows.append([upload_server_name(server),
                     f"{slow['ordinary_answered_200']} / {slow['ordinary_requests']}",
                     f"{slow['slow_held_median_s']:g} s",
                     burst_cell(burst), burst_cell(raw) if raw else "—"])
    slow, burst = data["servers"][0]["slow_uploads"], data["servers"][0]["form_burst"]
    return markdown(["server (default bounds)", f"ordinary requests answered 200, {slow['slow_clients']} "
                     f"clients trickling bodies for {slow['seconds']:g} s",
                     "a slow client held for (median)",
                     f"server's memory over its idle, peak (2 s after), {burst['clients']} clients x "
                     f"{burst['repeats']} forms of {burst['form_bytes'] / 1e6:.1f} MB, largest of "
                     f"{len(burst.get('rounds', [burst]))} fresh servers", "... the same image as raw bodies"],
                    "lrrrr", rows)


def burst_cell(burst: dict) -> str:
    after = burst.get("main_after_over_before_mb")
    return f"{burst['main_peak_over_before_mb']:,.0f} MB" + (f" ({after:,.0f} MB)" if after is not None else "")


@table("upload-form-memory", "upload_bounds.json")
def upload_form_memory_table(data: dict) -> str:
    """Peak Python-traced memory of reading one multipart form, against its image's size
    (benchmarks/upload_bounds.py)."""
    rows = [[f"{row['image_bytes'] / 1e6:g} MB", f"{row['streaming_x_image']:.2f} x",
             f"{row['whole_body_x_image']:.2f} x"] for row in data["form_memory"]]
    return markdown(["image in the form", "parsed as it arrives (this code)",
                     "whole body, then Starlette's form parser (before)"], "lrr", rows)


@table("small-folders", "small_folders.json")
def small_folders_table(data: dict) -> str:
    """The folder recipe on small CIFAR-10 folders, at the recipe's batch of 256 and at the batch that gives
    an epoch about `steps_per_epoch` steps (with the recipe's learning rate, and with it scaled): validation
    accuracy (the choice), test accuracy beside it, mean ± sample std over the seeds (benchmarks/small_folders.py)."""
    from tinyvision.datasets.registry import SMALL_FOLDER_STEPS, small_folder_batch

    if data["steps_per_epoch"] != SMALL_FOLDER_STEPS:
        raise ReportError(f"small_folders.json measured {data['steps_per_epoch']} steps an epoch; the code "
                          f"uses {SMALL_FOLDER_STEPS}: run benchmarks/small_folders.py again")
    grouped: dict[tuple[str, str], list[dict]] = {}
    for run in data["runs"]:
        grouped.setdefault((run["folder"], run["variant"]), []).append(run)
    rows = []
    for (folder, variant), runs in grouped.items():
        first = runs[0]
        chosen = first["batch_size"] == small_folder_batch(round(0.8 * first["images"]), 256) \
            and first["lr"] == 0.2
        rows.append([f"{folder} ({count(first['images'])} photos)", variant + (" (the default now)" if chosen else ""),
                     str(len(runs)), mean_sd([r["val_acc"] for r in runs], 1),
                     mean_sd([r["test_acc"] for r in runs], 1)])
    return markdown(["folder (classes x photos)", "batch", "seeds", "validation accuracy", "test accuracy"],
                    "llrrr", rows)


INSET = {"never": "never", "always": "always", "several": "among several marks"}


SEAM_RULES_UNSURE_WHOLE = 0.9  # segment.UNSURE_WHOLE when seam_rules.json chose the seam settings


@table("seam-rules", "seam_rules.json")
def seam_rules_table(data: dict) -> str:
    """Each way of finding the cut between touching digits on validation, read through `Model.predict` by
    one seed-0 run; the settings the code now uses are marked, with the `UNSURE_WHOLE` bar chosen then
    (chosen again later: table unsure-whole)."""
    import tinyvision.image.segment as segment

    rows = []
    for v in data["variants"]:
        s = v["settings"]
        narrow = "off" if s["NARROW_SPLIT_ASPECT"] is None else (
            f"wider than {s['NARROW_SPLIT_ASPECT']:g}, read whole under {s['UNSURE_WHOLE']:g}")
        chosen = (s["SEAM_INSET"] == segment.SEAM_INSET and s["MIDDLE_START"] == segment.MIDDLE_START
                  and s["NARROW_SPLIT_ASPECT"] == segment.NARROW_SPLIT_ASPECT
                  and (s["NARROW_SPLIT_ASPECT"] is None or s["UNSURE_WHOLE"] == SEAM_RULES_UNSURE_WHOLE))
        mark = (lambda text: f"**{text}**") if chosen else (lambda text: text)
        rows.append([mark(INSET[s["SEAM_INSET"]]), mark("yes" if s["MIDDLE_START"] else "no"), mark(narrow),
                     pct(v["numbers_read_exactly"], 1), pct(v["numbers_by_touching"]["touching"], 1),
                     pct(v["numbers_not_answered"], 1), f"{1000 * v['numbers_seconds_per_image']:.0f} ms",
                     pct(v["singles_right"], 1), pct(v["singles_refused"], 1), pct(v["letters_refused"], 1),
                     pct(v["negatives_refused"], 1)])
    return markdown(["seams keep off the ink's edges", "a seam also starts mid-mark", "narrow pairs get cuts",
                     "numbers read exactly", "… some digits touching", "numbers unanswered", "time per number",
                     f"single digits right ({count(data['singles'])})", "… refused",
                     f"letters refused ({count(data['letters'])})",
                     f"other non-digits refused ({count(data['negatives'])})"],
                    "lllrrrrrrrr", rows)


@value("paper-marks-before", "numbers_paper_marks_before.json")
@value("paper-marks-after", "numbers_paper_marks.json")
@value("signed-read-before", "numbers_signed_before.json")
@value("signed-read-after", "numbers_signed.json")
@value("marked-read-before", "numbers_marked_before.json")
@value("marked-read-after", "numbers_marked.json")
@value("paper-read-rate", "numbers_paper.json")
@value("paper-read-rate-before", "numbers_paper_before.json")
@value("small-read-before", "numbers_small_before.json")
@value("small-read-after", "numbers_small.json")
@value("singles-paper-before", "singles_paper_before.json")
@value("singles-paper-after", "singles_paper.json")
@value("circled-one-before", "numbers_circled_before.json")
@value("circled-one-after", "numbers_circled.json")
@value("form-cells-width-0.25", "form_cells_width_0.25.json")
@value("form-cells-width-0.5", "form_cells_width_0.5.json")
@value("form-cells-width-none", "form_cells_form_0.8.json")
def read_rate(data: dict) -> str:  # numbers read exactly, in any number_photos.py results file
    return pct(data["read"]["rate"], 1)


# The headline: the test numbers read by the three default runs with this release's reader (the upright
# reading's reads). The reads it was before (the levelling's, numbers_tilt*.json; and the earlier runs',
# numbers.json, numbers_seed1.json, numbers_seed2.json) are kept: they are the before or after of the tables
# that name them.
NUMBER_RUNS = LEAN_RUNS


TILTED_RUNS = {arm: tuple(f"numbers_tilted_{arm}seed{s}.json" for s in range(3)) for arm in ("before_", "")}
ITALIC_RUNS = {arm: tuple(f"numbers_italic_{arm}seed{s}.json" for s in range(3)) for arm in ("before_", "")}


@value("numbers-read-rate", *NUMBER_RUNS)
@value("tilted-read-before", *TILTED_RUNS["before_"])
@value("tilted-read-after", *TILTED_RUNS[""])
@value("italic-read-before", *ITALIC_RUNS["before_"])
@value("italic-read-after", *ITALIC_RUNS[""])
def three_runs_read_rate(*runs: dict) -> str:
    """One set of test numbers (clean paper, askew, italic) read exactly by the three default runs (seeds 0-2):
    mean ± std."""
    return mean_sd([r["read"]["rate"] for r in three_runs(runs)], 1)


@value("numbers-each-digit-right", *LEAN_RUNS)
@value("writers-numbers-each-digit-right", *WRITER_NUMBER_RUNS)
def each_digit_right_rate(*runs: dict) -> str:
    """The test numbers whose every digit the model reads right alone, from its 28x28 image (number_photos.py's
    `alone`), three default runs: mean ± std."""
    return mean_sd([alone_of(r)["each_digit_right"] for r in three_runs(runs)], 1)


@value("numbers-read-when-each-digit-right", *LEAN_RUNS)
@value("writers-numbers-read-when-each-digit-right", *WRITER_NUMBER_RUNS)
def read_when_each_digit_right(*runs: dict) -> str:
    """Of those, the share the reader reads exactly from the photo, three default runs: mean ± std."""
    return mean_sd([alone_of(r)["read_when_each_digit_right"] for r in three_runs(runs)], 1)


def alone_of(run: dict) -> dict:
    if not run.get("alone"):
        raise ReportError("read the test numbers with number_photos.py read as it is now: the file has no 'alone'")
    return run["alone"]


def three_runs(runs: tuple[dict, ...]) -> tuple[dict, ...]:
    """Three reads of one set of test numbers by three different runs, or a ReportError."""
    if len({json.dumps(r["set"], sort_keys=True) for r in runs}) != 1 or len({r["weights_sha256"] for r in runs}) != 3:
        raise ReportError("the three reads of a set of test numbers must read one set with three different runs")
    return runs


@value("numbers-images", "numbers.json")
def numbers_images(data: dict) -> str:
    return count(data["read"]["images"])


def writer_numbers(val: dict, runs: tuple[dict, ...]) -> None:
    """The numbers-by-other-writers files must be what they say: the validation set read by the first test
    run's model, and three different runs on one test set."""
    if val["set"].get("source") != "writers-val" or any(r["set"].get("source") != "writers-test" for r in runs):
        raise ReportError("numbers_writers_val.json must read writers-val numbers, numbers_writers_seed*.json "
                          "writers-test numbers (number_photos.py build --source)")
    if len({r["set"]["folder"] for r in runs}) != 1 or len({r["weights_sha256"] for r in runs}) != len(runs):
        raise ReportError("the numbers_writers_seed*.json files must read one set with different runs")
    same_model("numbers by other writers, validation and test", "model", val, runs[0])


@table("numbers-other-writers", "numbers_writers_val.json", *WRITER_NUMBER_RUNS, "numbers_lean.json")
def numbers_other_writers_table(val: dict, *rest: dict) -> str:
    """Numbers written with other writers' digits than MNIST's (number_photos.py --source writers-val and
    writers-test), read exactly: on validation by the seed-0 default run, on test by the three default runs
    (mean ± std), beside the MNIST test numbers read by the seed-0 run; and split by whether the model reads
    every digit right alone, from its 28x28 source image (number_photos.py's `alone`)."""
    *runs, mnist = rest
    writer_numbers(val, tuple(runs))
    same_model("numbers by other writers and MNIST's", "model", runs[0], mnist)

    def cells(get) -> list[str]:
        return [pct(get(val), 1), mean_sd([get(r) for r in runs], 1), pct(get(mnist), 1)]

    def layout(name: str, key: str):
        return lambda d: d["read"]["outcomes"][name][key] / d["read"]["outcomes"][name]["images"]

    rows = [["**read exactly**", *(f"**{c}**" for c in cells(lambda d: d["read"]["rate"]))],
            ["… digits apart", *cells(lambda d: d["read"]["by_touching"]["separate"]["rate"])],
            ["… some digits touching", *cells(lambda d: d["read"]["by_touching"]["touching"]["rate"])],
            ["digits apart: a digit misread", *cells(layout("apart", "misread"))],
            ["digits apart: refused", *cells(layout("apart", "refused"))],
            ["digits apart: too many digits (one read as two)", *cells(layout("apart", "too_many"))],
            ["no answer (abstained or unreadable)", *cells(lambda d: d["abstained"] / d["images"])]]
    # What the model reads of each digit alone against what the reader makes of the photo: the reader's own loss.
    rows += [["every digit read right alone (its 28x28 image, as evaluation reads)",
              *cells(lambda d: alone_of(d)["each_digit_right"])],
             ["… of those, read exactly from the photo", *cells(lambda d: alone_of(d)["read_when_each_digit_right"])],
             ["… of the rest, read exactly all the same", *cells(lambda d: alone_of(d)["read_when_a_digit_wrong"])]]
    header = ["numbers (1,000 each, 2-4 digits)", "other writers, validation: the training writers' held-out rows",
              "other writers, test: UCI test writers", "MNIST's test digits (seed-0 run)"]
    return markdown(header, "lrrr", rows)


@table("reader-losses", *LEAN_RUNS, *WRITER_NUMBER_RUNS)
def reader_losses_table(*runs: dict) -> str:
    """Where the reader loses the test numbers the model can read (every digit read right alone, from its 28x28
    image: number_photos.py's `alone`): each layout's of them by how they were answered, as a share of all the
    set's numbers, three default runs each (mean ± std) on MNIST's and on other writers' test numbers."""
    mnist, writers = three_runs(runs[:3]), three_runs(runs[3:])
    same_model("the reader's losses", "model", mnist[0], writers[0])
    layouts = {"apart": "digits apart", "several marks": "several marks, some digits touching",
               "one mark": "one mark: every digit touches the next"}
    ways = {"refused": "refused", "too_many": "too many digits", "too_few": "too few digits",
            "misread": "a digit read otherwise"}

    def share(get) -> list[str]:
        return [mean_sd([get(alone_of(r)) / alone_of(r)["images"] for r in group], 1) for group in (mnist, writers)]

    def outcomes(alone: dict) -> dict:
        return alone["outcomes_when_each_digit_right"]

    rows = [["every digit read right alone (by the model, from its 28x28 image)", "",
             *share(lambda a: a["each_digit_right_images"])],
            ["**lost by the reader**", "",
             *(f"**{c}**" for c in share(lambda a: a["each_digit_right_images"] - sum(
                 o["read"] for o in outcomes(a).values())))]]
    for layout, name in layouts.items():
        for way, said in ways.items():
            rows.append([name, said, *share(lambda a, layout=layout, way=way: outcomes(a)[layout][way])])
    return markdown(["test numbers whose every digit is read right alone: layout", "answered",
                     "MNIST's test digits (1,000 numbers)", "other writers' test digits (1,000 numbers)"],
                    "llrr", rows)


def merged_bin(bins: list[dict], low: float, high: float) -> str:
    """The answers stated at probabilities in [low, high), pooled from a reliability table: "stated / exact (n)"."""
    inside = [b for b in bins if b["from"] >= low and b["to"] <= high]
    n = sum(b["answers"] for b in inside)
    if not n:
        return "—"
    stated = sum(b["mean_probability"] * b["answers"] for b in inside) / n
    exact = sum(b["exact"] * b["answers"] for b in inside) / n
    return f"{pct(stated, 1)} / {pct(exact, 1)} ({count(n)})"


@table("number-confidence", "number_confidence.json", "number_confidence_test.json",
       "number_confidence_test_stale.json")
def number_confidence_table(fit: dict, check: dict, stale: dict) -> str:
    """A number's stated probability against how often such numbers are read exactly, before (the product of
    its digits' probabilities) and after the knots fitted on validation numbers of MNIST's writers and of other
    writers, each set weighing the same (read_number.NUMBER_CONFIDENCE), which must be the fitted ones; test sets
    read once with the knots fixed, and once with the knots fitted for an earlier reader (`stale`: this reader
    otherwise, before the knots were fitted again for it)."""
    from tinyvision.read_number import NUMBER_CONFIDENCE

    if NUMBER_CONFIDENCE != fit["knots"] or check["knots_in_use"] != fit["knots"]:
        raise ReportError("read_number.NUMBER_CONFIDENCE is not the fit in number_confidence.json; rerun both")
    if stale["knots_in_use"] == fit["knots"] or set(stale["sets"]) != set(check["sets"]):
        raise ReportError("number_confidence_test_stale.json: the test sets, read with the earlier knots")
    same_model("the number-confidence files", "run", fit, check, stale)
    names = {"/tmp/numbers-val4k": "validation: MNIST validation digits (fitted here)",
             "/tmp/numbers-writers-val": "validation: other writers' digits (fitted here)",
             "/tmp/numbers": "test: MNIST test digits", "/tmp/numbers-writers": "test: other writers' digits"}
    # Each set's rows: (label, measure) of each way its numbers' probabilities were stated.
    sets = [(k, m, [("product of the digits", m["product"]), ("**calibrated** (in use)", m["with_knots"])])
            for k, m in fit["sets"].items()]
    sets += [(k, m, [("product of the digits", m["product"]),
                     ("calibrated, knots fitted for the earlier reader", stale["sets"][k]["probability"]),
                     ("**calibrated** (in use)", m["probability"])]) for k, m in check["sets"].items()]
    rows = []
    for key, m, measures in sets:
        for label, measure in measures:
            bins = measure["bins"]
            rows.append([names.get(key, key), count(m["answered_numbers"]), label, merged_bin(bins, 0.9, 0.99),
                         merged_bin(bins, 0.99, 1.0), f"{measure['ece']:.4f}"])
    return markdown(["numbers answered with 2-4 digits", "answers", "probability", "stated 0.9-0.99: mean / exact",
                     "stated 0.99-1: mean / exact", "calibration error (ECE)"], "lrlrrr", rows)


@table("digit-confidence", "digit_confidence.json")
def digit_confidence_table(data: dict) -> str:
    """A single digit's stated probability against how often such answers are right, per evaluation set of
    other writers' digits (pooled first), printed digits and user photos of MNIST test digits: the shipped runs,
    read as users' files are (benchmarks/digit_confidence.py); the temperature was fitted on MNIST's
    validation digits alone."""
    order = ["handwriting", *HANDWRITING, "printed-digits", "user-photos-mnist-test"]
    rows = []
    for name in order:
        runs = [r["sets"][name] for r in data["runs"] if name in r["sets"]]
        if not runs:
            continue
        bins = [b for r in runs for b in r["bins"]]  # every run's answers together, per bin
        ece = [r["ece"] for r in runs]
        rows.append([SET_NAMES.get(name, name), count(round(sum(r["answers"] for r in runs) / len(runs))),
                     merged_bin(bins, 0.5, 0.99), merged_bin(bins, 0.99, 1.0),
                     f"{statistics.mean(ece):.4f} ± {spread(ece):.4f}" if len(ece) > 1 else f"{ece[0]:.4f}"])
    return markdown(["digits read one at a time", "answers (per run)", "stated 0.5-0.99: mean / right (all runs)",
                     "stated 0.99-1: mean / right (all runs)", f"calibration error (ECE, {len(data['runs'])} runs)"],
                    "lrrrr", rows)


@value("writers-numbers-read-rate", *WRITER_NUMBER_RUNS)
def writers_numbers_read_rate(*runs: dict) -> str:
    return mean_sd([r["read"]["rate"] for r in runs], 1)


# --- recipe choices, made on validation (benchmarks/recipes.py, benchmarks/digit_recipes.py) --

def options_text(options: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items() if k != "model") or "the dataset's recipe"


TRIAL_DEFAULT_MODEL = "tvnet"  # what a digit trial naming no model trained (the MNIST default of the time)


def command_flags(command: str, flag: str) -> list[str]:
    """The values given to `flag` in a recorded command line."""
    words = shlex.split(command)
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w == flag]


@table("digit-recipe-trials", "digit_recipes.json")
def digit_recipe_trials_table(data: dict) -> str:
    """Every digit recipe tried, judged on validation: MNIST's validation split and stand-ins built from the
    training side. (Each run's MNIST test accuracy is recorded apart and is not shown: it chose nothing.)"""
    rows = []
    for t in data["trials"]:
        options = {k: v for k, v in t["options"].items() if k != "model" and not str(v).startswith("trial-")}
        if any(str(v).startswith("trial-") for v in t["options"].values()):
            options = {"augment": "handwriting", **options}
        policy = command_flags(t["provenance"]["command"], "--policy")
        what = [options_text(options) if options else "no options",
                f"handwriting policy changed: {', '.join(policy)}" if policy else "",
                f"font digits: {t['font_digits_source']}" if t.get("font_digits_source") else "",
                f"extra non-digits: {t['extra_negatives']}" if t.get("extra_negatives") else "",
                f"other writers' renderings: {t['hand_variants']}" if t.get("hand_variants") else ""]
        seed = str(t["seed"]) + ("†" if t["seed"] != 0 else "")
        load = t.get("load_before") or [float("nan")]
        model = t.get("recipe", {}).get("model") or t["options"].get("model", TRIAL_DEFAULT_MODEL)
        if t.get("recipe") and t["options"].keys() != t["recipe"].keys():  # options on top of the default of the day
            options = {k: v for k, v in t["recipe"].items() if k not in ("model", "epochs")}
            what[0] = options_text(options)
        rows.append([f"`{t['name']}`", seed, f"`{model}`",
                     "; ".join(x for x in what if x), pct(t["val_acc"]), pct(t["robust_acc"]),
                     pct(t["font-check_acc"]) if "font-check_acc" in t else "—",
                     pct(t["mnist-val-photo_refused"], 1), pct(t["neg-train_refused"], 1),
                     pct(t["neg-letters-check_refused"], 1) if "neg-letters-check_refused" in t else "—",
                     pct(t["hand-check_acc"]) if t.get("hand-check_acc") is not None else "—",
                     f"{statistics.mean(t['epoch_seconds']):.0f} s", f"{load[0]:.1f}"])
    header = ["trial", "seed", "model", "options", "MNIST validation", "stand-ins (mean)", "held-out fonts",
              "photos unanswered", "non-digits refused", "held-out letters refused", "other writers held out",
              "s per epoch", "load"]
    return (markdown(header, "llll" + "r" * 9, rows)
            + "\n\nStand-ins: MNIST validation digits as user photos, redrawn with other pens, scanned at low "
              "resolution, and digits in TRAIN-group fonts (`benchmarks/digit_val.py`). Trials that train on font "
              "digits (`font-fit`, half of those fonts) have seen part of the font stand-in: for them, the held-out "
              "half (`held-out fonts`) is the fair measure. Other writers held out: the validation rows of the "
              "bundled UCI training writers (`scripts/make_hand_digits.py`; a tenth of their rows, never trained on, "
              "but by the same writers as the rows trained on), measured from trial v9 on."
              "\n\n† The stand-ins are drawn from the seed-0 "
              "validation split: a run with another seed trained on most of them, so its stand-in figures flatter "
              "it.")


@table("precision-choice", "digit_recipes.json")
def precision_choice_table(data: dict) -> str:
    """The training precision of the default digit recipe, chosen on validation: the `precision-*` trials,
    means over their seeds, trained in pairs at the same time (one thread each) so that their times compare."""
    groups: dict[str, list[dict]] = {}
    for t in data["trials"]:
        if t["name"].startswith("precision-"):
            groups.setdefault(t["options"]["precision"], []).append(t)
    if "fp32" not in groups:
        raise ReportError("digit_recipes.json has no precision-fp32 trials: rerun `OMP_NUM_THREADS=1 python "
                          "benchmarks/digit_recipes.py --name precision-fp32 --seed S --set precision=fp32`")
    base = statistics.median(t["train_seconds"] for t in groups["fp32"])
    rows = []
    for precision, trials in sorted(groups.items(), key=lambda kv: kv[0] != "fp32"):
        def mean(key: str, digits: int = 2, trials: list[dict] = trials) -> str:
            return pct(statistics.mean(t[key] for t in trials), digits)

        seconds = statistics.median(t["train_seconds"] for t in trials)
        rows.append([f"`--precision {precision}`", ", ".join(str(t["seed"]) for t in trials), mean("val_acc"),
                     mean("robust_acc"), mean("hand-check_acc"), mean("hand-check_refused", 1),
                     mean("neg-train_refused", 1), mean("neg-letters-check_refused", 1), secs(seconds, 0),
                     f"{seconds / base:.2f}x"])
    header = ["training steps", "seeds", "MNIST validation", "stand-ins (mean)", "other writers held out",
              "other writers unanswered", "non-digits refused", "held-out letters refused", "training (median)",
              "time vs fp32"]
    return markdown(header, "ll" + "r" * 8, rows)


@table("merged-pairs-check", "digit_recipes.json", "merged_pairs_numbers_base.json", "merged_pairs_numbers_pairs.json")
def merged_pairs_check_table(trials: dict, base: dict, pairs: dict) -> str:
    """`--merged-pairs 2000` against the default recipe, both in bf16, on validation: the stand-ins as means over
    three seeds (digit_recipes.py trials `precision-bf16` and `v11-pairs2000`), and the validation numbers,
    single digits, letters and other non-digits read by each seed-0 run (segment_costs.py, the reading rules of
    that commit: UNSURE_WHOLE 0.9, before table unsure-whole)."""
    groups: dict[str, list[dict]] = {"precision-bf16": [], "v11-pairs2000": []}
    for t in trials["trials"]:
        if t["name"] in groups:
            groups[t["name"]].append(t)
    rows = []
    for (name, runs), numbers in zip(groups.items(), (base, pairs)):
        if not runs:
            raise ReportError(f"digit_recipes.json has no {name} trials")
        v = numbers["variants"][0]

        def mean(key: str, runs: list[dict] = runs) -> str:
            return pct(statistics.mean(t[key] for t in runs), 1)

        label = "default recipe" if name == "precision-bf16" else "`--merged-pairs 2000`"
        rows.append([label, str(len(runs)), mean("val_acc"), mean("robust_acc"), mean("hand-check_refused"),
                     mean("neg-train_refused"), mean("neg-letters-check_refused"),
                     pct(v["numbers_read_exactly"]), pct(v["numbers_by_touching"]["touching"]),
                     pct(v["singles_refused"]), pct(v["letters_refused"]), pct(v["negatives_refused"]),
                     f"{selection_points(v):.2f}"])
    header = ["recipe", "seeds", "MNIST validation", "stand-ins", "other writers unanswered",
              "non-digits refused", "held-out letters refused", "numbers read exactly (seed 0)",
              "… some digits touching", "single digits refused", "letters refused", "other non-digits refused",
              "numbers read + letters refused, points"]
    return markdown(header, "l" + "r" * 12, rows)


CUT_DIGITS_TRIALS = ("v12-base", "v12-cut0.125")
CUT_DIGITS_FILES = tuple(f"cut_digits_numbers_{kind}_seed{seed}.json" for seed in (0, 1) for kind in ("base", "cut"))


@table("cut-digits-check", "digit_recipes.json", *CUT_DIGITS_FILES)
def cut_digits_check_table(trials: dict, *numbers: dict) -> str:
    """`--cut-digits 0.125` against the default recipe on validation, seed by seed: each run's stand-ins
    (digit_recipes.py trials `v12-base` and `v12-cut0.125`) and the validation numbers, single digits, letters,
    other non-digits and words it reads (segment_costs.py, the reading rules of this release), scored as the
    reading rules are chosen (numbers read plus letters, other non-digits and words refused)."""
    runs = {t["run"]: t for t in trials["trials"] if t["name"] in CUT_DIGITS_TRIALS}
    rows = []
    for f in numbers:
        t = runs.get(f["run"])
        if t is None:
            raise ReportError(f"{f['run']} is no {' or '.join(CUT_DIGITS_TRIALS)} trial of digit_recipes.json")
        v = f["variants"][0]
        if v["settings"]:
            raise ReportError("the cut-digits files must read with the shipped reading rules")
        label = "default recipe" if t["name"] == CUT_DIGITS_TRIALS[0] else "`--cut-digits 0.125`"
        rows.append([label, str(t["seed"]), pct(t["val_acc"]), pct(t["robust_acc"]), pct(t["hand-check_acc"]),
                     pct(t["neg-letters-check_refused"], 1), *reading_cells(v), pct(v["words_refused"]),
                     f"{refusal_points(v):.2f}"])
    first = numbers[0]
    header = ["recipe", "seed", "MNIST validation", "stand-ins (mean)", "other writers held out",
              "held-out letters refused", "numbers read exactly", "… some digits touching",
              f"single digits right ({count(first['singles'])})", "… refused",
              f"letters refused ({count(first['letters'])})", f"other non-digits refused ({count(first['negatives'])})",
              f"words refused ({count(first['words'])})",
              "numbers read + letters, other non-digits and words refused, points"]
    return markdown(header, "ll" + "r" * 12, rows)


def training_trials(data: dict) -> list[dict]:
    return [t for t in data["trials"] if t.get("kind") is None]


def recipe_trials_table(data: dict) -> str:
    """Each trial of one dataset: its options, final-epoch validation accuracy, and what it cost.

    Seconds are wall time with one torch thread on a shared machine, so `CPU share` (CPU seconds over
    wall seconds) says how much of a core the trial had; CPU seconds compare trials fairly.
    """
    trials = training_trials(data)
    best = max(t["val_acc"] for t in trials)
    rows = []
    for t in trials:
        options = {k: v for k, v in t["options"].items() if k != "model"}
        acc = pct(t["val_acc"])
        rows.append([f"`{t['trial']}`", f"`{t['options']['model']}`", count(t["parameters"]),
                     options_text(options), str(t["seed"]), f"**{acc}**" if t["val_acc"] == best else acc,
                     f"{t['train_seconds']:,.0f} s",
                     f"{t['train_cpu_seconds']:,.0f} s" if t.get("train_cpu_seconds") is not None else "—",
                     f"{t['cpu_share']:.2f}"])
    header = ["trial", "model", "parameters", "options", "seed", "validation accuracy", "training (wall)",
              "training (CPU)", "CPU share"]
    out = markdown(header, "lllllrrrr", rows)
    for check in (t for t in data["trials"] if t.get("kind") == "tta-check"):
        views = {"shift0": "the image alone", "shift0+flip": "with its mirror", "shift1": "1-pixel shifts",
                 "shift1+flip": "shifts and mirror"}
        cells = [[views.get(k, k), pct(v)] for k, v in check["val_acc_by_tta"].items()]
        out += (f"\n\nTest-time views of `{Path(check['run']).name}` on its validation split "
                f"({count(check['val_count'])} images):\n\n" + markdown(["views averaged", "validation accuracy"],
                                                                        "lr", cells))
    return out


for _dataset in ("fashion-mnist", "cifar10-jpeg"):
    table(f"recipe-trials-{_dataset}", f"recipes/{_dataset}-trials.json")(recipe_trials_table)


def recipe_final_table(data: dict) -> str:
    """The chosen recipe run as a user runs it, over seeds: test accuracy read once per run."""
    runs = data["runs"]
    accs = [r["test_acc"] for r in runs]
    options = ", ".join(f"{k}={v}" for k, v in data["recipe"].items())
    rows = [[options, ", ".join(str(r["seed"]) for r in runs), mean_sd(accs), pcts(accs),
             secs(statistics.median(r["train_seconds"] for r in runs)),
             secs(statistics.median(r["wall_seconds"] for r in runs)), str(data["threads"])]]
    return markdown(["recipe", "seeds", "test accuracy (mean ± std)", "per seed (%)", "training (median)",
                     "whole command (median)", "torch threads"], "llrlrrr", rows)


# Written by `recipes.py DATASET --final`.
for _dataset in ("fashion-mnist", "cifar10-jpeg"):
    table(f"recipe-final-{_dataset}", f"recipes/{_dataset}-final.json")(recipe_final_table)


# --- the registered models (models.py) ----------------------------------------------------------

@table("models", "models.json")
def models_table(data: dict) -> str:
    """Each registered model, its parameters on MNIST-sized and CIFAR-sized inputs, and its description."""
    rows = [[f"`{m['name']}`", count(m["parameters"]["1x28x28"]), count(m["parameters"]["3x32x32"]),
             m["description"]] for m in data["models"]]
    return markdown(["name", "parameters, 1x28x28", "parameters, 3x32x32", "what it is"], "lrrl", rows)


# --- MLP vs CNN (tinyvision compare, copied to benchmarks/results/compare-*/) -----------------

def compare_table(data: dict) -> str:
    """One row per model, in the order trained: one seed, one split."""
    rows = [[f"`{r['model']}`", count(r["parameters"]), str(r["epochs"]), secs(r["train_seconds"]),
             pct(r["final_val_acc"]), pct(r["test_acc"]), f"{r['test_loss']:.4f}"] for r in data["results"]]
    header = ["model", "parameters", "epochs", "training", "validation accuracy", "test accuracy", "test loss"]
    return markdown(header, "lrrrrrr", rows)


table("compare-mnist", "compare-mnist/report.json")(compare_table)


# --- speed (inference.py, distributed.py, cpu_choices.py, compile.py) ------------------------

RUNTIMES = {"pytorch": "PyTorch", "torchscript": "TorchScript", "onnxruntime": "ONNX Runtime"}


@table("inference", "inference.json")
def inference_table(data: dict) -> str:
    """Images per second of each exported file, loaded as users load it, through the whole inference path."""
    results = data["results"]
    if "provenance" not in data or any(r["runtime"] not in RUNTIMES for r in results):
        raise older_format("benchmarks/results/inference.json", "runtime 'eager', bare networks",
                           "python benchmarks/inference.py RUN_DIR [RUN_DIR ...]")
    rate = {(r["run"], r["batch"], r["runtime"]): r["images_per_second"] for r in results}
    agree: dict[str, list[int]] = {}
    for r in results:
        agree.setdefault(r["run"], []).append(r["same_prediction_as_pytorch_of_1000"])
    models = {r["run"]: r for r in results}
    names = [r["model"] for r in models.values()]
    rows = []
    for run, batch in dict.fromkeys((r["run"], r["batch"]) for r in results):
        m = models[run]
        label = f"`{m['model']}`" + (f" (`{Path(run).name}`)" if names.count(m["model"]) > 1 else "")
        views = f", {m['views']} views" if m.get("views", 1) > 1 else ""
        rates = [count(round(rate[run, batch, k])) if (run, batch, k) in rate else "—" for k in RUNTIMES]
        rows.append([label + views, count(batch), *rates, f"{count(min(agree[run]))}/1,000"])
    return markdown(["model", "batch", *RUNTIMES.values(), "same answer as PyTorch"], "lrrrrr", rows)


@table("cold-start", "cold_start.json")
def cold_start_table(data: dict) -> str:
    """`tinyvision predict RUN IMAGE` from the shell, per source tree, against importing torch in the same run."""
    rows = [[f"`{label}`" if label == "import torch" else label, f"{data['median_seconds'][label]:.2f} s",
             f"{data['ratio_to_reference'][label]:.2f} x"] for label in data["median_seconds"]]
    return markdown(["process", f"median wall time ({data['repeats']} runs)", "x `import torch`"], "lrr", rows)


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


def distributed_ratio(top: str, bottom: str, key: str) -> Callable[[dict], str]:
    return lambda data: f"{data[top][key] / data[bottom][key]:.2f}x"


value("two-ranks-vs-one-thread", "distributed.json")(
    distributed_ratio("one_process_one_thread", "two_processes", "train_seconds"))
value("two-ranks-vs-two-threads", "distributed.json")(
    distributed_ratio("one_process", "two_processes", "train_seconds"))
value("two-ranks-wall", "distributed.json")(distributed_ratio("one_process", "two_processes", "wall_seconds"))


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
    return markdown(["choice", "variant", "parameters", "s per epoch of steps", "time vs the first"], "llrrr",
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
        [f"pays back after (a 5-epoch run has {count(steps)} steps)", "", even],
    ]
    return markdown(["", "eager", "`torch.compile` (inductor)"], "lrr", rows)


# --- the server and the decoder (serve_load.py, serve_soak.py, decode_memory.py) ---------------

def statuses_text(statuses: dict[str, int]) -> str:
    return ", ".join(f"{s} x{count(n)}" for s, n in sorted(statuses.items()))


def server_setup(data: dict) -> str:
    """'`tvnet` (mnist), 2 worker processes x 1 torch thread(s), queue 16' from the server's first log line
    (older servers: '2 workers x 1 thread(s), queue 8')."""
    line = next(iter(data.get("server_log") or data.get("server_log_tail") or []), "")
    model = re.search(r"serving (\S+) \((\S+)\)", line)
    setup = re.search(r"\((\d+ (?:worker processes|worker threads|workers?) x \d+ (?:torch )?thread\(s\), "
                      r"queue \d+)\)", line)
    parts = [f"`{model.group(1)}` ({model.group(2)})" if model else "", setup.group(1) if setup else ""]
    return ", ".join(p for p in parts if p) or "—"


def memory_text(data: dict) -> str:
    """Idle / peak / after. With worker processes, RSS summed over them (each counts the pages it shares
    with the others) and PSS summed (shared pages counted once)."""
    rss = (f"{data['server_rss_mb_idle']:.0f} / {data['server_rss_mb_peak']:.0f} / "
           f"{data['server_rss_mb_after']:.0f} MB")
    if "server_pss_mb_peak" not in data:
        return rss
    pss = " / ".join(f"{data[f'server_pss_mb_{when}']:.0f}" for when in ("idle", "peak", "after"))
    return f"RSS summed over {data['server_processes']} processes {rss}; PSS summed {pss} MB"


@table("serve-load", "serve_load.json")
def serve_load_table(data: dict) -> str:
    """Normal uploads from concurrent clients; a client told 503 waits and sends again."""
    retried = data.get("statuses", {}).get("503", 0)
    row = [count(data["requests"]), str(data["clients"]), f"{data['requests_per_second']:.1f}",
           ms(data["latency_ms_p50"]), ms(data["latency_ms_p99"]), ms(data["latency_ms_max"]),
           count(retried), count(data["errors"]), f"{count(data['correct_predictions'])}/{count(data['requests'])}",
           f"{data['payload_kb_mean']:.1f} KB", server_setup(data), memory_text(data),
           "yes" if data["server_alive_after"] else "**no**"]
    header = ["requests", "clients", "answered/s", "p50", "p99", "max", "503 (then retried)", "errors",
              "right predictions", "mean upload", "server", "memory idle / peak / after", "healthy after"]
    text = markdown(header, "rrrrrrrrrrlrl", [row])
    reference = data.get("reference")
    if reference:  # the previous code served in the same run, rounds alternating
        commit = (reference.get("git_commit") or "")[:12] or reference["src"]
        rates = lambda values: ", ".join(f"{v:.1f}" for v in values)  # noqa: E731
        served = server_setup({"server_log": reference.get("server_log")})
        text += (f"\n\nIn the same run, rounds alternating with the same client: this code answered "
                 f"{rates(data['current_requests_per_second'])}/s, commit {commit}'s server ({served}) "
                 f"{rates(reference['requests_per_second'])}/s; ratio of medians "
                 f"**{data['ratio_to_reference']:.2f}x**.")
    return text


@value("serve-load-vs-previous", "serve_load_vs_previous.json")
def serve_vs_previous_value(data: dict) -> str:
    """This code's requests/s over the previous commit's, same run, rounds alternating."""
    reference = data["reference"]
    rates = lambda values: ", ".join(f"{v:.1f}" for v in values)  # noqa: E731
    return (f"{data['ratio_to_reference']:.2f}x (this code {rates(data['current_requests_per_second'])}/s, "
            f"commit {(reference.get('git_commit') or '')[:12]} {rates(reference['requests_per_second'])}/s; "
            f"`{data['provenance']['command']}`)")


@table("serve-load-bombs", "serve_load_bombs.json")
def serve_bombs_table(data: dict) -> str:
    """Each huge or hostile image sent twice at once: what the server answered, and how long the slowest took."""
    rows = [[f"`{case}`", statuses_text(statuses), secs(data["slowest_seconds_by_case"][case])]
            for case, statuses in data["by_case"].items()]
    rows.append(["**server**", f"{server_setup(data)}; memory idle / peak / after {memory_text(data)}; healthy "
                               f"after: {'yes' if data['server_alive_after'] else '**no**'}", ""])
    return markdown(["upload", "answers (status x count)", "slowest answer"], "llr", rows)


SOAK_KINDS = {
    "normal": "drawings and user-style photos",
    "bomb": "40-megapixel images, decompression bombs",
    "huge-declared": "a declared 50 MB body",
    "chunked-oversize": "a chunked body growing past the limit",
    "slowloris": "a body that stalls halfway",
    "malformed": "random bytes, truncated images, broken forms",
}


@table("serve-soak", "serve_soak.json")
def serve_soak_table(data: dict) -> str:
    """Minutes of mixed traffic: per kind of request, what the server answered and how fast."""
    rows = [[kind, SOAK_KINDS.get(kind, ""), count(k["requests"]), statuses_text(k["statuses"]),
             ms(k["latency_ms_p50"]), ms(k["latency_ms_p99"])]
            for kind, k in data["kinds"].items()]
    rows.append(["**all**", f"{data['seconds'] / 60:.0f} minutes, {data['clients']} clients",
                 count(data["requests"]), f"errors {data['errors']}, unexpected answers {len(data['unexpected'])}",
                 "", ""])
    rows.append(["**server**", f"memory idle / peak / after {memory_text(data)}",
                 "", f"healthy after: {'yes' if data['server_alive_after'] else '**no**'}; predicts after: "
                     f"{'yes' if data['predicts_after'] else '**no**'}", "", ""])
    return markdown(["kind", "what", "requests", "answers (status x count)", "p50", "p99"], "llrlrr", rows)


@table("decode-memory", "decode_memory.json")
def decode_memory_table(data: dict) -> str:
    """Peak extra memory of preparing one upload, each in a fresh process; over the bound in bold."""
    bound = data["bound_mb"]
    rows = []
    for case, c in data["cases"].items():
        if c["outcome"] == "crashed":
            rows.append([f"`{case}`", "", "**crashed**", "", ""])
            continue
        peak = f"{c['peak_extra_mb']:.1f} MB"
        rows.append([f"`{case}`", f"{c['file_kb']:,.0f} KB", c["outcome"].replace("_", " "),
                     f"**{peak}**" if c["peak_extra_mb"] > bound else peak, secs(c["seconds"], 2)])
    rows.append([f"**the bound: {bound} MB**", "", "", "all within" if data["all_within_bound"] else "**exceeded**",
                 ""])
    return markdown(["file", "size", "outcome", "peak extra memory", "time"], "lrlrr", rows)


# --- folders (large_folder.py, tinyvision check-data) ------------------------------------------

@table("large-folder", "large_folder.json")
def large_folder_table(data: dict) -> str:
    """Decoding a folder larger than the in-memory budget once, then training from its memory-mapped cache."""
    d, t, memory = data["decode"], data["train"], data["memory_mb"]
    target = data["memory_target_mb"]
    decoded = (f"{count(data['count'])} images in {secs(d['seconds'])} ({count(d['images_per_second'])} per s, "
               f"{d['workers']} processes) into a {d['cache_bytes'] / 1e9:.1f} GB cache, {d['unreadable']} "
               "unreadable")
    if d.get("measured_by_the_run_of"):
        decoded += f" (measured by the run of {d['measured_by_the_run_of'][:10]}, whose cache this run reused)"
    trained = (f"`{t['model']}`, batch {t['batch_size']}: {t['seconds_per_step']:.2f} s per step "
               f"({count(t['images_per_second'])} images/s); one epoch of {count(t['steps_per_epoch'])} steps ≈ "
               f"{t['epoch_seconds_estimate'] / 60:.0f} min (from {t['limit_batches']} steps); in-memory budget "
               f"{count(t['data_in_memory_budget_mb'])} MB")
    what = {"generate": "write the JPEGs (skipped when present)", "decode": decoded,
            "train: load, normalisation": "open the cache, split "
            + "/".join(count(v) for v in t["split"].values()) + ", normalisation statistics",
            "train: steps and validation": trained, "train: calibration and test": "calibrate, test",
            "done": "after the run"}
    phases = dict(memory)
    if d.get("memory_mb"):
        phases = {"generate": memory.get("generate"), "decode": d["memory_mb"],
                  **{k: v for k, v in memory.items() if k != "generate"}}
    rows = []
    for phase, m in phases.items():
        if not m:
            continue
        peak = f"{m['VmHWM']:,.0f}" if phase != "done" else f"{m['VmRSS']:,.0f} (now)"
        over = phase != "done" and m["VmHWM"] > target
        rows.append([phase, what.get(phase, ""), f"**{peak}**" if over else peak, f"{m['RssAnon']:,.0f}",
                     f"{m['RssFile']:,.0f}"])
    rows.append([f"**target: {count(target)} MB**", "peaks over it in bold", "", "", ""])
    return markdown(["phase", "what happened", "peak resident MB", "anonymous MB", "file-backed MB"], "llrrr", rows)


@table("check-data-cifar10-jpeg", "check-data-cifar10-jpeg/report.json")
def check_data_table(data: dict) -> str:
    """What `tinyvision check-data` found in the CIFAR-10 JPEG copy."""
    near, files, pixels = data["near_duplicates"], data["identical_files"], data["identical_pixels"]
    counts = " / ".join(f"{count(sum(c.values()))} {s}" for s, c in data["counts"].items())
    rows = [
        ["images", f"{count(data['images'])} in {len(data['classes'])} classes: {counts}"],
        ["unreadable files", count(len(data["unreadable"]))],
        ["identical files (same bytes)", f"{files['groups']} groups"],
        ["identical images (same pixels)", f"{pixels['groups']} groups"],
        ["near duplicates", f"{near['pairs']} pairs: {near['within_class']} within a split and class, "
                            f"{near['across_splits']} across splits, {near['across_classes']} across classes"],
        ["test images with a near duplicate in training",
         f"**{near['test_images_with_a_train_near_duplicate']}**"],
        ["class imbalance (largest / smallest)", f"{data['imbalance']['ratio']}"],
        ["time", secs(data["seconds"])],
    ]
    return markdown(["check", "found"], "ll", rows)
@table("near-duplicate-thresholds", "near_duplicates.json")
def near_duplicate_thresholds_table(data: dict) -> str:
    """check-data's near-duplicate bar on training images: copies found, and distinct images flagged, at each
    thumbnail correlation, under the shipped rule (its pHash distance, neighbours and detail bar). The shipped
    bars, colour and one-channel, in bold; they must be among those measured."""
    from tinyvision.datasets import data_check

    measured = (data["distance"], data.get("neighbours"), data.get("detail"))
    shipped_rule = (data_check.NEAR_DISTANCE, data_check.NEAR_NEIGHBOURS, data_check.NEAR_DETAIL)
    if data.get("rule") != "shipped" or measured != shipped_rule:
        raise ReportError(f"near_duplicates.json measured the rule {data.get('rule')} with (pHash bits, neighbours, "
                          f"detail) {measured}; check-data uses {shipped_rule}: run it again")
    shipped = {"photos": data_check.NEAR_CORRELATION, "digits": data_check.NEAR_CORRELATION_GRAY}
    levels = [str(c) for c in data["correlations"]]
    rows = []
    for kind, what in (("photos", "photos (CIFAR-10 train, colour)"), ("digits", "digits (MNIST train, gray)")):
        part = data[kind]
        if str(shipped[kind]) not in levels:
            raise ReportError(f"near_duplicates.json has no figures at the shipped bar {shipped[kind]}")

        def cells(values: dict, fmt, bar: str = str(shipped[kind])) -> list[str]:
            return [f"**{fmt(values[c])}**" if c == bar else fmt(values[c]) for c in levels]

        for copy, recall in part["recall"].items():
            rows.append([f"{what}: {copy}, found", *cells(recall, lambda x: pct(x, 1))])
        rows.append([f"{what}: distinct pairs flagged among {count(part['images'])}",
                     *cells(part["distinct_pairs_flagged"], count)])
    return markdown(["copy kind (of {} each)".format(count(data["photos"]["sources"])),
                     *[f"≥ {c}" for c in levels]], "l" + "r" * len(levels), rows)


@table("near-duplicate-rules", "near_duplicates_phash.json", "near_duplicates.json")
def near_duplicate_rules_table(before: dict, after: dict) -> str:
    """Copies found at the shipped bars by the pHash rule alone and by the shipped rule (with the nearest
    neighbours and the alignment), and the distinct pairs each flags: the same benchmark, run once per rule."""
    from tinyvision.datasets import data_check

    if before.get("rule") != "phash" or after.get("rule") != "shipped":
        raise ReportError("near-duplicate-rules wants a --rule phash file and a shipped-rule file")
    bars = {"photos": str(data_check.NEAR_CORRELATION), "digits": str(data_check.NEAR_CORRELATION_GRAY)}
    rows = []
    for kind, what in (("photos", "photos (colour), at ≥ " + bars["photos"]),
                       ("digits", "digits (gray), at ≥ " + bars["digits"])):
        for copy in after[kind]["recall"]:
            old = before[kind]["recall"].get(copy, {}).get(bars[kind])
            rows.append([f"{what}: {copy}, found", "—" if old is None else pct(old, 1),
                         pct(after[kind]["recall"][copy][bars[kind]], 1)])
        rows.append([f"{what}: distinct pairs flagged among {count(after[kind]['images'])}",
                     count(before[kind]["distinct_pairs_flagged"][bars[kind]]),
                     count(after[kind]["distinct_pairs_flagged"][bars[kind]])])
    return markdown(["copy kind (of {} each)".format(count(after["photos"]["sources"])), "pHash alone",
                     "pHash, or nearest and aligned (shipped)"], "lrr", rows)


@table("near-duplicate-colour", "near_duplicates_colour.json")
def near_duplicate_colour_table(data: dict) -> str:
    """check-data's colour test for colour images (NEAR_COLOUR) on training photos, at the shipped correlation
    bar: each kind of copy's largest colour difference and how often it is found at each colour bar, and what
    each bar still flags (recoloured photos, distinct pairs). The shipped bar in bold; it must be measured."""
    from tinyvision.datasets import data_check

    measured = (data["distance"], data.get("neighbours"), data.get("detail"), data.get("colour"),
                data.get("colour_eps"))
    shipped_rule = (data_check.NEAR_DISTANCE, data_check.NEAR_NEIGHBOURS, data_check.NEAR_DETAIL,
                    data_check.NEAR_COLOUR, data_check.COLOUR_EPS)
    if data.get("rule") != "shipped" or measured != shipped_rule or "colour" not in data.get("photos", {}):
        raise ReportError(f"near_duplicates_colour.json measured (pHash bits, neighbours, detail, colour, eps) "
                          f"{measured} with rule {data.get('rule')}; check-data uses {shipped_rule}: run it again")
    part = data["photos"]["colour"]
    shipped = str(data_check.NEAR_COLOUR)
    levels = [str(c) for c in part["bars"] if 0.2 <= c <= 0.5 or c >= 2]  # around the bar, and no test at all
    if shipped not in levels:
        raise ReportError(f"near_duplicates_colour.json has no figures at the shipped colour bar {shipped}")

    def cells(values: dict, fmt) -> list[str]:
        return [f"**{fmt(values[c])}**" if c == shipped else fmt(values[c]) for c in levels]

    def largest(x: float | None) -> str:
        return "—" if x is None else f"{x:.2f}"

    rows = [[f"{copy}, found", largest(part["largest_difference_of_a_copy"][copy]), *cells(recall, lambda x: pct(x, 1))]
            for copy, recall in part["recall"].items()]
    rows.append(["recoloured (red and green swapped), still flagged", "—",
                 *cells(part["recoloured_flagged"], lambda x: pct(x, 1))])
    rows.append([f"distinct pairs flagged among {count(data['photos']['images'])}", "—",
                 *cells(part["distinct_pairs_flagged"], count)])
    header = [f"photo copy kind (of {count(data['photos']['sources'])} each)", "largest colour difference of a copy",
              *[("no colour test" if float(c) >= 2 else f"≤ {c}") for c in levels]]
    return markdown(header, "lr" + "r" * len(levels), rows)


# --- the source line under every table -------------------------------------------------------

def load_text(values: list[float] | None) -> str:
    return f"{values[0]:.2f}" if values else "?"


def source_note(path: str, data: dict) -> str:
    """`path`, the command that wrote it, and the machine's state, from its provenance block (or, for a
    file of trials, from each trial's)."""
    prov = data.get("provenance")
    records = [t for t in data.get("trials", []) if isinstance(t, dict) and t.get("provenance")]
    if not prov and records:
        return trials_note(path, [t["provenance"] for t in records])
    if not prov:
        load = ""
        if "load_average_1min_before" in data:
            load = (f"; load average {data['load_average_1min_before']:.2f} before, "
                    f"{data['load_average_1min_after']:.2f} after (1 min)")
        if data.get("command"):
            return f"`{path}`: `{data['command']}` (no machine or load recorded{load})"
        return f"`{path}` (no command recorded: written before provenance.py{load})"
    commit = (prov.get("git_commit") or "unknown")[:12] + (" + uncommitted changes" if prov.get("git_dirty") else "")
    threads = prov.get("torch_threads")
    machine = ", ".join(x for x in (
        f"torch {prov['torch']}" if prov.get("torch") else "",
        f"{threads} thread{'' if threads == 1 else 's'}" if threads else "",
        f"{prov.get('cpu_model')} ({prov.get('cpus_available')} cores)", prov.get("device") or "") if x)
    return (f"`{path}`: `{prov['command']}` on {prov['start_time'][:10]}, commit {commit}; {machine}; load average "
            f"{load_text(prov.get('load_average_before'))} before, {load_text(prov.get('load_average_after'))} "
            f"after (1 min)")


def trials_note(path: str, provs: list[dict]) -> str:
    """A file that gathers many runs, each with its own provenance: their span, commits and load."""
    days = sorted(p["start_time"][:10] for p in provs)
    span = days[0] if days[0] == days[-1] else f"{days[0]} to {days[-1]}"
    commits = sorted({(p.get("git_commit") or "unknown")[:12] + (" + uncommitted changes" * bool(p.get("git_dirty")))
                      for p in provs})
    loads = [p["load_average_before"][0] for p in provs if p.get("load_average_before")]
    load = f"; load average before each from {min(loads):.2f} to {max(loads):.2f} (1 min)" if loads else ""
    return (f"`{path}`: {len(provs)} runs on {span}, each recorded with its own command (the first: "
            f"`{provs[0]['command']}`), commit {', '.join(commits)}{load}")


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
    parser.add_argument("--list", action="store_true", help="list the registered tables and values")
    parser.add_argument("--show", metavar="NAME", help="print table (or value) NAME as it would be written")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    root = args.root.resolve()

    if args.list:
        for kind, specs in (("table", TABLES), ("value", VALUES)):
            for spec in specs.values():
                files = ", ".join(f"{s}{'' if (root / RESULTS / s).is_file() else ' (missing)'}" for s in spec.sources)
                print(f"{kind}:{spec.name:34} {files}")
        return 0
    if args.show:
        try:
            text = render_value(args.show, root) + "\n" if args.show in VALUES else render(args.show, root)
            print(text, end="")
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

"""Trials of digit recipes, judged on validation only: MNIST's validation split and the training-side
stand-ins of benchmarks/digit_val.py (never MNIST's test split, never the evaluation sets).

One call trains one recipe (MNIST, the given options on top of the default recipe) in this
process with one torch thread, evaluates it, and appends a record to
benchmarks/results/digit_recipes.json: the command, the options, the load average, the
per-epoch seconds, the validation figures. `--table` prints the trials recorded.

    OMP_NUM_THREADS=1 python benchmarks/digit_recipes.py --name hw-oe --set augment=handwriting \\
        --set outlier_exposure=0.5
    python benchmarks/digit_recipes.py --table

Validation figures per trial:
    val_acc                 MNIST validation split (seed 0: 6,000 digits), final epoch
    <set>_acc               accuracy on each training-side stand-in (digit_val.DIGIT_SETS), all answers
    robust_acc              their mean
    <set>_refused           share refused at the model card's threshold (digits: lower is better)
    neg-*_refused           share of training-side non-digits refused (higher is better)
MNIST's test accuracy, which every run computes, is stored apart (`test_acc_not_used`) and
never enters a choice or this table.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _here] + [_here]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402

import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "digit_recipes.json"
RUNS = Path(os.environ.get("TINYVISION_TRIAL_RUNS", "/tmp/tinyvision-trials"))


def parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text in ("true", "false"):
        return text == "true"
    if text in ("none", "None"):
        return None
    return text


def evaluate_trial(run_path: Path) -> dict:
    """The validation figures of a finished run (see the module docstring)."""
    from digit_val import DIGIT_SETS, NEGATIVE_SETS, load_set

    import tinyvision
    from tinyvision.calibration import refused_mask
    from tinyvision.hand_digits import BUNDLE, load_hand_digits

    model = tinyvision.load(run_path)
    threshold = model.card.reject.get("threshold", 0.0)
    out: dict = {"threshold": threshold}

    def score(name: str, images: torch.Tensor, labels: torch.Tensor | None) -> float | None:
        """Record the share refused (and, for digits, the accuracy) of one set; return the accuracy."""
        with torch.no_grad():
            logits = model.logits(images)
        probs = logits.softmax(1)
        out[f"{name}_refused"] = round(float(refused_mask(logits, model.card.reject).float().mean()), 4)
        if labels is None:
            return None
        acc = float((probs.argmax(1) == labels).float().mean())
        out[f"{name}_acc"] = round(acc, 4)
        return acc

    accs = []
    for name in DIGIT_SETS + ("font-check",) + NEGATIVE_SETS:
        s = load_set(name)
        acc = score(name, s["images"], s["labels"] if name in DIGIT_SETS or name == "font-check" else None)
        if name in DIGIT_SETS:
            accs.append(acc)
    out["robust_acc"] = round(statistics.mean(accs), 4)
    # Other writers' held-out rows (scripts/make_hand_digits.py): the training writers of UCI optdigits and
    # pendigits, rows no recipe trains on; never the evaluation sets' test writers.
    if BUNDLE.is_file():
        score("hand-check", *load_hand_digits("check"))
    return out


def use_font_digits(source: str) -> None:
    """Train on a digit_val set of font digits instead of the bundled ones (e.g. `font-fit`, one half of
    the TRAIN designs, so that `font-check`, the other half, measures what fonts teach)."""
    from digit_val import load_set

    import tinyvision.font_digits

    s = load_set(source)
    tinyvision.font_digits.load_font_digits = lambda path=None: (s["images"], s["labels"])


def use_hand_variants(variants: str) -> None:
    """Train on only these renderings of the other writers' digits (comma-separated: native, user, pen)."""
    import tinyvision.hand_digits as hand

    load, kept = hand.load_hand_digits, tuple(variants.split(","))
    hand.load_hand_digits = lambda part="fit", path=None, variants=None: load(  # validation rows: all of them
        part, path, kept if part == "fit" else variants)


def add_negatives(source: str) -> None:
    """Train outlier exposure on negatives.py's set plus a digit_val set of non-digits (e.g. `letters-fit`,
    letters in one half of the TRAIN designs; `neg-letters-check`, the other half, measures them)."""
    from digit_val import load_set

    import tinyvision.negatives as negatives

    extra = load_set(source)["images"]
    original = negatives.load_negatives

    def load(count: int = negatives.DEFAULT_COUNT, seed: int = 0) -> torch.Tensor:
        base = original(count, seed)
        return torch.cat([base, extra]) if (count, seed) == (negatives.DEFAULT_COUNT, 0) else base

    negatives.load_negatives = load


def register_widths(widths: str) -> str:
    """Register a tvnet of other widths (the pools of tvnet) in this process; returns its name."""
    from tinyvision.models import MODELS, TVNet, register

    w = tuple(int(v) for v in widths.split(","))
    name = "tvnet-" + "-".join(map(str, w))
    if name not in MODELS:
        stages = tuple(zip(w, (True, True, False, True)))

        class Widths(TVNet):
            def __init__(self, input_shape, num_classes):
                super().__init__(input_shape, num_classes, stages=stages)

        register(name, f"tvnet with widths {w} (a trial)")(Widths)
    return name


RECIPE_FIELDS = ("model", "augment", "outlier_exposure", "outlier_share", "merged_pairs", "font_digits", "hand_digits",
                 "epochs")


def resolved_recipe(run: Path) -> dict:
    """The recipe the run trained with, from its config.json: the options given on top of the
    default recipe of the day, and what that default was."""
    config = json.loads((run / "config.json").read_text())
    return {k: config[k] for k in RECIPE_FIELDS if k in config}


def run_trial(name: str, seed: int, options: dict, policy: dict | None = None, fonts: str | None = None,
              extra_negatives: str | None = None) -> dict:
    """Train and evaluate one recipe; `policy` changes fields of the handwriting policy for this trial,
    `fonts` names the digit_val set of font digits to train on."""
    from provenance import recorded

    import tinyvision
    from tinyvision.augment import POLICIES

    torch.set_num_threads(1)
    if isinstance(options.get("model"), str) and options["model"].startswith("widths:"):
        options = {**options, "model": register_widths(options["model"].split(":", 1)[1])}
    if fonts:
        use_font_digits(fonts)
    if extra_negatives:
        add_negatives(extra_negatives)
    if policy:
        base = POLICIES[options.get("augment", "handwriting")]
        POLICIES[f"trial-{name}"] = {**base, **policy}
        options = {**options, "augment": f"trial-{name}"}
    out = RUNS / f"{name}-seed{seed}"
    with recorded() as prov:
        run = tinyvision.train(dataset="mnist", out=out, progress=False, plots=False, seed=seed, **options)
    m = run.metrics
    record = {
        "name": name, "seed": seed, "options": options, "run": str(out), "recipe": resolved_recipe(out),
        "policy": POLICIES[options.get("augment", "shift")] if "augment" in options else None,
        "font_digits_source": fonts or ("bundled" if options.get("font_digits") else None),
        "extra_negatives": extra_negatives,
        "val_acc": m["final"]["val_acc"],
        "epochs": m["epochs"],
        "train_seconds": round(m["train_seconds"], 2),
        "epoch_seconds": [round(r["epoch_seconds"], 2) for r in m["history"]],
        "val_acc_per_epoch": [round(r["val_acc"], 4) for r in m["history"]],
        "rejection": m.get("rejection", {}),
        "temperature": m["calibration"].get("temperature"),
        "load_before": prov["load_average_before"], "load_after": prov["load_average_after"],
        "torch_threads": torch.get_num_threads(),
        "test_acc_not_used": m["test_acc"],  # computed by every run; never used to choose
        **evaluate_trial(out),
        "provenance": prov,
    }
    return record


def speed(recipes: dict[str, dict], rounds: int, steps: int) -> dict:
    """Seconds per training step of each recipe relative to the first, measured in alternation (ABCABC...)
    so a busy machine slows every recipe alike; each measurement is `steps` steps of the real loop."""
    import tempfile

    import tinyvision

    torch.set_num_threads(1)
    times: dict[str, list[float]] = {k: [] for k in recipes}
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in recipes.items():  # a short warm-up each (loading, caches, allocator): not timed
            tinyvision.train(dataset="mnist", out=Path(tmp) / f"{name}-warm", progress=False, plots=False,
                             epochs=1, limit_batches=5, **options)
        for r in range(rounds):
            for name, options in recipes.items():
                run = tinyvision.train(dataset="mnist", out=Path(tmp) / f"{name}-{r}", progress=False, plots=False,
                                       epochs=1, limit_batches=steps, **options)
                times[name].append(run.metrics["train_seconds"] / steps)
    base = statistics.median(times[next(iter(recipes))])
    return {name: {"ms_per_step": round(1000 * statistics.median(t), 2),
                   "relative": round(statistics.median(t) / base, 3), "all_ms": [round(1000 * x, 1) for x in t]}
            for name, t in times.items()}


def append(record: dict) -> None:
    from provenance import write_results

    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {
        "about": __doc__.split("\n")[0], "trials": []}
    data["trials"].append(record)
    write_results(RESULTS, data)


COLUMNS = ("val_acc", "robust_acc", "mnist-val-photo_acc", "mnist-val-pen_acc", "mnist-val-scan_acc",
           "font-train_acc", "font-check_acc", "mnist-val-photo_refused", "font-train_refused", "neg-train_refused",
           "neg-lookalike_refused", "neg-letters-check_refused")


def table() -> str:
    trials = json.loads(RESULTS.read_text())["trials"] if RESULTS.is_file() else []
    short = {"mnist-val-": "", "_acc": "", "_refused": " ref", "font-train": "font", "font-check": "fontB",
             "neg-lookalike": "lookalk", "neg-train": "neg", "neg-letters-check": "lettersB"}

    def head(c: str) -> str:
        for k, v in short.items():
            c = c.replace(k, v)
        return c

    lines = [" | ".join(["trial", "seed", "s/epoch", "load", *map(head, COLUMNS)])]
    for t in trials:
        per_epoch = statistics.mean(t["epoch_seconds"])
        load = t["load_before"][0] if t.get("load_before") else float("nan")
        cells = [f"{100 * t[c]:.2f}" if isinstance(t.get(c), float) else "-" for c in COLUMNS]
        lines.append(" | ".join([t["name"], str(t["seed"]), f"{per_epoch:.1f}", f"{load:.1f}", *cells]))
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--name", help="the trial's name")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="a RunConfig field on top of the default MNIST recipe (repeatable)")
    p.add_argument("--policy", action="append", default=[], metavar="FIELD=VALUE",
                   help="change a field of the handwriting policy for this trial (a range as LOW,HIGH)")
    p.add_argument("--negatives", help="add this digit_val set of non-digits (letters-fit) to outlier exposure")
    p.add_argument("--fonts", help="train on this digit_val set of font digits (font-fit) instead of the bundle")
    p.add_argument("--hand-variants", help="train on only these renderings of the other writers' digits (pen,user)")
    p.add_argument("--speed", metavar="NAME=FIELD:VALUE,...;...",
                   help="time recipes against the first, in alternation: 'base=;hw=augment:handwriting,...'")
    p.add_argument("--rounds", type=int, default=3, help="--speed: measurements per recipe")
    p.add_argument("--steps", type=int, default=60, help="--speed: training steps per measurement")
    p.add_argument("--table", action="store_true", help="print the recorded trials")
    p.add_argument("--reevaluate", action="store_true",
                   help="recompute every recorded trial's validation figures from its run folder (no training)")
    args = p.parse_args()
    if args.table:
        print(table())
        return
    if args.speed:
        from provenance import recorded, write_results

        if args.fonts:
            use_font_digits(args.fonts)
        if args.negatives:
            add_negatives(args.negatives)
        recipes = {}
        for part in args.speed.split(";"):
            name, _, fields = part.partition("=")
            recipes[name] = {k: parse_value(v) for k, v in (f.split(":", 1) for f in fields.split(",") if f)}
            if str(recipes[name].get("model", "")).startswith("widths/"):
                recipes[name]["model"] = register_widths(recipes[name]["model"].split("/", 1)[1].replace("-", ","))
        with recorded() as prov:
            result = speed(recipes, args.rounds, args.steps)
        data = json.loads(RESULTS.read_text())
        data.setdefault("speed", []).append({"recipes": recipes, "steps": args.steps, "rounds": args.rounds,
                                             "fonts": args.fonts, "negatives": args.negatives,
                                             "result": result, "provenance": prov})
        write_results(RESULTS, data)
        print(json.dumps(result, indent=1))
        return
    if args.reevaluate:
        from provenance import write_results

        data = json.loads(RESULTS.read_text())
        for t in data["trials"]:
            if Path(t["run"]).is_dir():
                t.update(evaluate_trial(Path(t["run"])))
        write_results(RESULTS, data)
        print(table())
        return
    options = {}
    for item in args.set:
        key, value = item.split("=", 1)
        options[key] = parse_value(value)
    policy = {}
    for item in args.policy:
        key, value = item.split("=", 1)
        policy[key] = tuple(parse_value(v) for v in value.split(",")) if "," in value else parse_value(value)
    if args.hand_variants:
        use_hand_variants(args.hand_variants)
    record = run_trial(args.name, args.seed, options, policy, args.fonts, args.negatives)
    record["hand_variants"] = args.hand_variants
    append(record)
    print(json.dumps({k: v for k, v in record.items() if k not in ("provenance", "test_acc_not_used")}, indent=1))


if __name__ == "__main__":
    main()

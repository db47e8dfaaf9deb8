"""`tinyvision compare`: several models, one dataset, one split and seed, one report.

Each model trains with its own recipe (a preset of the same name when there is
one, e.g. `mlp` or `tutorial-a`; otherwise the dataset's defaults) into its
own run folder under the output folder. Only the split (seed and validation
share) and, when given, the number of epochs (`--epochs`, or `NAME:EPOCHS`
for one model) are imposed, so the table compares models as their recipes
train them, on identical data.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from tinyvision.atomic import write_json, write_text
from tinyvision.callable_module import make_callable
from tinyvision.config import PRESETS, RunConfig, build_config, dataset_defaults
from tinyvision.datasets import load_dataset
from tinyvision.datasets.folder import check_outside
from tinyvision.datasets.split import SplitOptions
from tinyvision.errors import TinyVisionError, expect, flag
from tinyvision.models import MODELS
from tinyvision.progress import Progress, progress_bar
from tinyvision.run import Run
from tinyvision.run_folder import RunFolder

REPORT_MD, REPORT_JSON, FIGURE = "report.md", "report.json", "compare.png"


@dataclass(frozen=True)
class CompareSpec:
    """What to compare, and how; `None` means the recipe's own value."""

    dataset: str
    models: tuple[str, ...]
    out: Path
    data_dir: str | None = None
    image_size: int | None = None
    epochs: int | None = None
    seed: int = 0
    val_fraction: float | None = None
    device: str = "auto"
    limit_batches: int | None = None


def parse_spec(spec: str) -> tuple[str, int | None]:
    """`NAME` or `NAME:EPOCHS` (a per-model number of epochs, e.g. `mlp:3`)."""
    name, _, epochs = spec.partition(":")
    if not epochs:
        return name, None
    if not (epochs.isascii() and epochs.isdigit()) or int(epochs) < 1:  # (isdigit alone takes "²")
        raise TinyVisionError(f"--models entry {spec!r}: expected NAME or NAME:EPOCHS (a positive number)")
    return name, int(epochs)


def resolve_model(spec: str, dataset: str) -> str:
    """`default` is the dataset's default model (tvnet for digits, tvresnet for photos)."""
    name, _ = parse_spec(spec)
    return dataset_defaults(dataset).get("model", RunConfig.model) if name == "default" else name


def model_config(c: CompareSpec, spec: str) -> RunConfig:
    model = resolve_model(spec, c.dataset)
    epochs = parse_spec(spec)[1] or c.epochs
    if model not in MODELS:
        raise TinyVisionError(f"unknown model {model!r}; choose from default, {', '.join(MODELS)}")
    preset = model if model in PRESETS else None
    val_fraction = c.val_fraction
    if val_fraction is None:  # one split for all: the dataset's, never a preset's own
        val_fraction = dataset_defaults(c.dataset).get("val_fraction", RunConfig.val_fraction)
    overrides = dict(
        dataset=c.dataset, data_dir=c.data_dir, image_size=c.image_size, epochs=epochs, seed=c.seed,
        val_fraction=val_fraction, device=c.device, limit_batches=c.limit_batches,
        model=None if preset else model,
    )
    return build_config(preset, overrides)


def plan(c: CompareSpec) -> list[tuple[RunConfig, RunFolder]]:
    """Configs and run folders for every model, checked before anything is trained or written."""
    if not c.models:
        raise TinyVisionError("--models needs at least one model name")
    names = [resolve_model(m, c.dataset) for m in c.models]
    if len(set(names)) != len(names):
        raise TinyVisionError(f"--models lists a model twice: {', '.join(names)}")
    runs = [(model_config(c, m), RunFolder(c.out / resolve_model(m, c.dataset))) for m in c.models]
    if (c.out / REPORT_JSON).exists() or any(r.state.exists() or r.model.exists() for _, r in runs):
        raise TinyVisionError(f"{c.out} already holds a comparison; pass a new --out")
    if c.out.exists() and not c.out.is_dir():
        raise TinyVisionError(f"{flag('out', c.out)} exists and is not a folder")
    return runs


def summary_row(cfg: RunConfig, run: RunFolder, metrics: dict) -> dict:
    return {
        "model": cfg.model, "preset": cfg.preset, "parameters": metrics["parameters"],
        "epochs": metrics["epochs"], "batch_size": cfg.batch_size, "optimizer": cfg.optimizer, "lr": cfg.lr,
        "train_seconds": metrics["train_seconds"], "test_acc": metrics["test_acc"],
        "test_loss": metrics["test_loss"], "final_val_acc": metrics["final"]["val_acc"],
        "run": str(run.path), "history": metrics["history"],
    }


class MarkdownText(str):
    """Markdown text that a notebook renders when it is a cell's value."""

    def _repr_markdown_(self) -> str:
        return str(self)


def render_markdown(report: dict) -> str:
    lines = [
        f"# {report['dataset']}: {', '.join(r['model'] for r in report['results'])}",
        "",
        f"Same split (seed {report['seed']}, validation share {report['val_fraction']}) for every model; "
        f"{report['test_count']} test images; device {report['device']}.",
        "",
        "| model | parameters | epochs | training time | test accuracy | test loss |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['model']} | {r['parameters']:,} | {r['epochs']} | {r['train_seconds']:.1f} s | "
            f"{100 * r['test_acc']:.2f}% | {r['test_loss']:.4f} |"
        )
    lines += ["", f"Curves and the accuracy bars: `{FIGURE}`. Each model's run folder: `{report['out']}/<model>/`."]
    return "\n".join(lines) + "\n"


class RunsByModel(dict):
    """`Comparison.runs`: each model's `Run`, keyed by the model's registered name, as report.json names it
    (`default` runs as the dataset's default model, under that name); a missing key names those there are."""

    def __missing__(self, key):
        raise KeyError(f"{key!r}: no such run; a comparison's runs are keyed by model name ('default' under the "
                       f"name of the model it stands for): {', '.join(self)}")


class Comparison:
    """The result of `tinyvision.compare`: the report's data, its table, its figure, each model's run."""

    def __init__(self, path: Path, report: dict) -> None:
        self.path = Path(path)
        self.report = report

    @property
    def runs(self) -> dict[str, Run]:
        return RunsByModel({r["model"]: Run(r["run"]) for r in self.report["results"]})

    def table(self) -> MarkdownText:
        """The report's markdown table (a `str`; a notebook renders it as a table, not a quoted string)."""
        return MarkdownText(render_markdown(self.report))

    def figure(self):
        """Validation accuracy against epochs and seconds, and the test accuracy bars (a matplotlib Figure)."""
        from tinyvision.plots import comparison_figure

        return comparison_figure(self.report)

    def _repr_markdown_(self) -> str:  # a notebook shows the table
        return self.table()

    def __repr__(self) -> str:
        rows = ", ".join(f"{r['model']} {100 * r['test_acc']:.2f}%" for r in self.report["results"])
        return f"Comparison({self.report['dataset']}: {rows})"


def run_comparison(c: CompareSpec, progress_bar: bool | None = None, draw: bool = True,
                   quiet: bool = False) -> Comparison:
    """Train every model in turn; write report.json, report.md and compare.png into `c.out`."""
    from tinyvision.distributed import start_ranks
    from tinyvision.training import Reporter, Saver, fit

    runs = plan(c)
    first = runs[0][0]  # a folder is split once, by the shared seed and shares: every model, the same files
    data = load_dataset(c.dataset, Path(c.data_dir) if c.data_dir else None, c.image_size,  # loaded once
                        split=SplitOptions(c.seed, first.val_fraction, first.test_fraction))
    dist = start_ranks(c.device)
    results, device = [], "cpu"
    started = time.time()
    for cfg, run in runs:
        progress = Progress(cfg.epochs, bar=progress_bar, quiet=quiet)
        progress.message(f"== {cfg.model} ({cfg.preset or 'dataset defaults'}) -> {run.path}")
        result = fit(cfg, run, [Reporter(progress), Saver(run)], dist, data=data)
        if draw:
            Run(run.path).draw(data.test_images)
        device = result.metrics["device"]
        results.append(summary_row(cfg, run, result.metrics))
    report = {
        "dataset": c.dataset, "seed": c.seed, "val_fraction": runs[0][0].val_fraction,
        "test_count": len(data.test_labels), "classes": list(data.classes), "device": device,
        "wall_seconds": time.time() - started, "out": str(c.out), "results": results,
    }
    write_json(c.out / REPORT_JSON, report)
    write_text(c.out / REPORT_MD, render_markdown(report))
    if draw:
        from tinyvision.plots import plot_comparison

        plot_comparison(report, c.out / FIGURE)
    return Comparison(c.out, report)


def compare(
    dataset: str = "mnist",
    models: list[str] | tuple[str, ...] = ("mlp", "default"),
    out: str | Path | None = None,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool | str = True,
    plots: bool = True,
    **options,
) -> Comparison:
    """Train several models on one dataset, one split and one seed; return their `Comparison`.

    `models`: registered names, each optionally `NAME:EPOCHS`; `default` is the
    dataset's default CNN. Each model trains with its own recipe. `options`:
    data_dir, image_size, val_fraction, device, limit_batches.
    """
    expect(dataset, str, "dataset", "a dataset's name (mnist, cifar10, folder:PATH, ...)")
    expect(models, (str, list, tuple), "models", 'model names, a list or "mlp,default"')
    if isinstance(models, str):  # the CLI's form, "mlp,default"
        models = models.split(",")
    for name in models:
        expect(name, str, "models", "model names (each a string, NAME or NAME:EPOCHS)")
    for name, value, kinds, what in (
            ("out", out, (str, os.PathLike, type(None)), "a folder's path"),
            ("epochs", epochs, (int, type(None)), "a whole number of epochs"), ("seed", seed, int, "a whole number"),
            ("progress", progress, (bool, str), 'True, False, "lines" or "bar"'),
            ("plots", plots, bool, "True or False")):
        expect(value, kinds, name, what)
    allowed = {"data_dir", "image_size", "val_fraction", "device", "limit_batches"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TinyVisionError(
            f"unknown compare option(s) {', '.join(unknown)}; options are {', '.join(sorted(allowed))}"
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe_name = dataset.replace("/", "_").replace(":", "-")
    spec = CompareSpec(
        dataset=dataset, models=tuple(m.strip() for m in models if m.strip()),
        out=Path(out) if out else Path("runs") / f"compare-{safe_name}-{stamp}", epochs=epochs, seed=seed,
        **{k: v for k, v in options.items() if v is not None},
    )
    check_outside(dataset, spec.out, "the comparison folder")
    bar = progress_bar(progress)
    return run_comparison(spec, progress_bar=bar, draw=plots, quiet=progress is False)


make_callable(__name__, compare)  # `tinyvision.compare(...)`, whether or not this module was imported first

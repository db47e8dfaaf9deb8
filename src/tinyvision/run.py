"""Training from Python: `run = tinyvision.train(dataset="mnist")` -> a `Run`.

The CLI's `tinyvision train` is a thin caller of `train`. A run always writes
its folder (config, metrics, checkpoints, figures), so a notebook's run can be
evaluated, served or resumed from the command line, and the reverse.
"""

from __future__ import annotations

import os
import threading
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyvision.errors import TinyVisionError, expect, flag

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tinyvision.classifier import Model
    from tinyvision.config import RunConfig

FIGURES = ("curves", "confusion", "mistakes")


class Run:
    """A run folder: its config, per-epoch history, final metrics, model and figures."""

    def __init__(self, path: str | Path) -> None:
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise TinyVisionError(f"Run() takes a run folder's path, not {path!r}")
        self.path = Path(path)
        if not self.path.is_dir():  # a typo would have been shown as an unfinished run, failing later
            raise TinyVisionError(f"no run folder at {self.path}")
        from tinyvision.run_folder import RunFolder

        self.folder = RunFolder(self.path)
        self.folder.require()  # any other folder was taken, and failed later at whatever was read first

    def __fspath__(self) -> str:
        """A `Run` stands for its folder wherever a path is taken: `tinyvision.load(run)`, `Path(run)`."""
        return str(self.path)

    def __repr__(self) -> str:
        try:
            m = self.metrics
            summary = f"{m['model']} on {m['dataset']}: test_acc {100 * m['test_acc']:.2f}%"
        except TinyVisionError:
            summary = "unfinished" if self.path.is_dir() else "its folder is gone"
        return f"Run({str(self.path)!r}, {summary})"

    @property
    def config(self) -> RunConfig:
        return self.folder.read_config()

    @property
    def metrics(self) -> dict:
        """metrics.json: test loss and accuracy, per-class scores, confusion, calibration, history."""
        return self.folder.read_metrics()

    @property
    def history(self) -> list[dict]:
        """One dict per epoch: train/val loss and accuracy, learning rate, seconds."""
        if not self.path.is_dir():  # deleted since: no run with no epochs yet
            raise TinyVisionError(f"no run folder at {self.path} (deleted?)")
        if self.folder.metrics_json.is_file():
            return self.metrics["history"]
        if self.folder.state.is_file():  # an interrupted run: the history saved with its state
            from tinyvision.checkpoint import load_train_state

            return list(load_train_state(self.folder.state)["history"])
        return []

    @cached_property
    def model(self) -> Model:
        """The trained model (the saved weight average, when the run kept one)."""
        from tinyvision.classifier import Model

        return Model.load(self.path)

    def plot(self, which: str = "curves") -> Figure:
        """A matplotlib figure: `curves` (loss and accuracy per epoch), `confusion` or `mistakes`."""
        from tinyvision import plots

        if which not in FIGURES:
            raise TinyVisionError(f"unknown figure {which!r}; choose from {', '.join(FIGURES)}")
        title = f"{self.config.model} on {self.config.dataset}"
        if which == "curves":
            return plots.curves_figure(self.history, title)
        metrics = self.metrics
        if which == "confusion":
            return plots.confusion_figure(metrics["confusion"], metrics["classes"], f"{title}: test confusion")
        images = self.test_images()
        return plots.misclassified_figure(images, metrics["worst_mistakes"], metrics["classes"],
                                          saliency=self.mistakes_saliency(images))

    def test_images(self):
        from tinyvision.datasets import load_dataset
        from tinyvision.datasets.folder import moved_hint
        from tinyvision.datasets.split import split_of_run

        cfg = self.config
        if moved_hint(cfg.dataset):  # (resumed or evaluated, a moved folder is named anew: `relocated`)
            raise TinyVisionError(f"{cfg.dataset}: the run's folder is gone")
        # The run's test files at the run's input shape, whatever the folder holds now.
        split = split_of_run(self.path, cfg.to_dict(), self.model.card.input_shape)
        return load_dataset(cfg.dataset, Path(cfg.data_dir) if cfg.data_dir else None, cfg.image_size,
                            split=split).test_images

    def mistakes_saliency(self, test_images):
        """Integrated-gradients saliency of each worst mistake, for the class the model wrongly gave."""
        import torch

        from tinyvision.explain import saliency_maps

        mistakes = self.metrics["worst_mistakes"]
        if not mistakes:
            return None
        from tinyvision import plots

        plots.check_mistakes(test_images, mistakes)
        index = torch.tensor([m["index"] for m in mistakes])
        targets = torch.tensor([m["predicted"] for m in mistakes])
        model = self.model
        return saliency_maps(model.graph.network, model.card.normalization, test_images[index], targets)

    def draw(self, test_images=None) -> list[Path]:
        """Write curves.png, confusion.png and misclassified.png (with saliency) into the run folder."""
        from tinyvision import plots

        images = test_images
        if images is None:
            try:
                images = self.test_images()
            except TinyVisionError as exc:  # the curves and the confusion need only metrics.json
                import warnings

                from tinyvision.errors import TinyVisionWarning

                warnings.warn(f"misclassified.png not drawn: {exc}", TinyVisionWarning, stacklevel=2)
                return plots.draw_run(self.metrics, None, self.folder)
        return plots.draw_run(self.metrics, images, self.folder, self.mistakes_saliency(images))


def default_run_path(model: str) -> Path:
    return Path("runs") / f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"


def config_for(dataset: str | None, model: str | None, preset: str | None, options: dict) -> RunConfig:
    """Defaults, the dataset's registry entry, the preset, then the options given (None: not given)."""
    from tinyvision.config import RunConfig, build_config

    known = set(RunConfig.__dataclass_fields__) - {"preset", "extra"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TinyVisionError(
            f"unknown training option(s) {', '.join(unknown)}; options are {', '.join(sorted(known))}"
        )
    if model is None and options.get("init_from"):  # fine-tuning: the model of the run started from
        from tinyvision.checkpoint import read_card

        try:
            model = read_card(Path(options["init_from"]).expanduser()).model
        except TinyVisionError as exc:
            raise TinyVisionError(f"--init-from: {exc}") from None
    cfg = build_config(preset, {**options, "dataset": dataset, "model": model})
    if options.get("init_from"):
        warn_digit_source_as_photos(cfg, options)
    return cfg


def warn_digit_source_as_photos(cfg: RunConfig, options: dict) -> None:
    """A digit model fine-tuned on `folder:PATH` trains with the photo recipe (mirrored images, its learning
    rate) unless told otherwise: MNIST's model fine-tuned on a folder of digits so ended at 35%, where
    `digits:PATH` keeps the digit preparation and never mirrors."""
    import warnings

    from tinyvision.checkpoint import read_card
    from tinyvision.datasets.registry import FOLDER_PREFIX
    from tinyvision.errors import TinyVisionWarning

    source = read_card(Path(options["init_from"]).expanduser())
    if source.preparation == "digit" and cfg.dataset.startswith(FOLDER_PREFIX) and (cfg.hflip or cfg.tta_flip):
        where = cfg.dataset[len(FOLDER_PREFIX):]
        warnings.warn(f"{options['init_from']} is a digit model, and {cfg.dataset} trains it as photos (mirrored, "
                      f"lr {cfg.lr:g}); for digits, use {flag('dataset', 'digits:' + where)}", TinyVisionWarning,
                      stacklevel=4)


def train(
    dataset: str | None = None,
    model: str | None = None,
    preset: str | None = None,
    out: str | Path | None = None,
    progress: bool | str = True,
    plots: bool = True,
    resume: str | Path | None = None,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    **options: Any,
) -> Run:
    """Train a model and return its `Run` (the run folder, written as training goes).

    `dataset`: `mnist` (bundled, the default), `fashion-mnist`, `cifar10` or `folder:PATH`.
    `model`, `preset` and `**options` (any `RunConfig` field: `epochs`,
    `batch_size`, `lr`, `seed`, `translate`, `ema`, `device`, ...) override the
    dataset's recipe, as the CLI's flags do. `out`: the run folder (default
    `runs/<model>-<time>`). `progress`: True (a bar in a terminal or notebook,
    else a line per epoch), "lines", "bar" or False. `resume`: a run folder to
    continue (no other options). `stop`: set this event (from another thread
    or a signal handler) to stop after the current step; the state is saved
    and `tinyvision.Interrupted` raised.
    """
    from tinyvision.distributed import lost_ranks_reported, start_ranks, stop_ranks
    from tinyvision.progress import Progress, progress_bar
    from tinyvision.run_folder import RunFolder
    from tinyvision.training import Interrupted, Reporter, Saver, fit
    from tinyvision.training.data_check import DataCheck
    from tinyvision.training.status import StatusWriter
    from tinyvision.training.tensorboard import TensorBoardWriter

    for name, value, kinds, what in (
            ("dataset", dataset, (str, type(None)), "a dataset's name (mnist, cifar10, folder:PATH, ...)"),
            ("model", model, (str, type(None)), "a registered model's name"),
            ("preset", preset, (str, type(None)), "a preset's name"),
            ("out", out, (str, os.PathLike, type(None)), "a folder's path"),
            ("resume", resume, (str, os.PathLike, type(None)), "a run folder's path"),
            ("progress", progress, (bool, str), 'True, False, "lines" or "bar"'),
            ("plots", plots, bool, "True or False"), ("dry_run", dry_run, bool, "True or False")):
        expect(value, kinds, name, what)
    if stop is not None and not callable(getattr(stop, "is_set", None)):
        raise TinyVisionError(f"stop must be a threading.Event (set it to stop), not {type(stop).__name__}")
    bar = progress_bar(progress)
    if isinstance(options.get("init_from"), os.PathLike):  # a Path, or the Run train() returned, as out= takes
        options = {**options, "init_from": os.fspath(options["init_from"])}
    if resume is not None:
        # Where the data is now (the folder moved, or the named dataset's copy) and the device may change.
        given = {k for k, v in options.items() if v is not None and k not in ("device", "data_dir")}
        given |= {k for k, v in dict(model=model, preset=preset, out=out).items() if v is not None}
        if given or dry_run:
            names = ", ".join(f"--{k.replace('_', '-')}" for k in sorted(given)) or "--dry-run"
            raise TinyVisionError(f"--resume continues the run with its saved config; drop {names}")
        run_folder = RunFolder(Path(resume))
        cfg = run_folder.read_config()
        if "RANK" not in os.environ:  # (under torchrun, rank 0 marks the folder running as the others look)
            refuse_if_running(run_folder.path)
        cfg = relocated(run_folder, cfg, dataset, options.get("data_dir"))
        if options.get("device"):
            cfg.device = options["device"]
    else:
        cfg = config_for(dataset, model, preset, options)  # the options checked as a real run checks them
        if dry_run:
            import dataclasses

            cfg = dataclasses.replace(cfg, epochs=1, limit_batches=2)
    for where in (out, resume):
        if where is not None:
            check_path_text(where)
    joined = process_group_exists()
    dist = start_ranks(cfg.device)  # one rank without torchrun
    try:
        if resume is None:
            # Under torchrun every rank must pick the same folder: rank 0's clock decides.
            run_folder = RunFolder(Path(out) if out else dist.from_main(default_run_path(cfg.model)))
            from tinyvision.datasets.folder import check_outside

            check_outside(cfg.dataset, run_folder.path, "the run folder")
        reporter = Reporter(Progress(cfg.epochs, bar=bar, quiet=progress is False or not dist.is_main))
        status = StatusWriter(run_folder)  # status.json: running / finished / interrupted / failed
        callbacks = [reporter, Saver(run_folder), status, DataCheck(reporter.progress)] if dist.is_main else [reporter]
        if cfg.tensorboard and dist.is_main:
            callbacks.append(TensorBoardWriter(run_folder))
        try:
            with lost_ranks_reported():
                result = fit(cfg, run_folder, callbacks, dist, resume=resume is not None, stop=stop)
        except Interrupted:
            raise  # already recorded, state saved
        except BaseException as exc:
            if dist.is_main:
                status.failed(exc)
            raise
    finally:
        if not joined:  # leave the process group we joined (a caller's own group stays)
            stop_ranks()
    run = Run(run_folder.path)
    if dist.is_main and plots:
        run.draw(result.setup.data.test_images)
    return run


def relocated(run_folder, cfg: RunConfig, dataset: str | None, data_dir: str | None) -> RunConfig:
    """A run resumed where its data is now: `dataset`, its folder dataset moved (the folder must hold every
    file of its split.json), or `data_dir`, where a named dataset is now kept. Its config.json says so from
    then on, so later commands find the data too. (A moved folder could never be resumed.)"""
    import dataclasses

    from tinyvision.atomic import write_json
    from tinyvision.config import anchored, same_dataset
    from tinyvision.datasets.folder import moved_hint
    from tinyvision.datasets.registry import is_folder
    from tinyvision.datasets.split import SPLIT_FILE, moved_here
    from tinyvision.runs_index import read_status

    if read_status(run_folder.path)[0] == "finished" and run_folder.metrics_json.is_file():  # files stay as they are
        raise TinyVisionError(f"{run_folder.path} already finished its {cfg.epochs} epochs")
    changes = {}
    if dataset is None and (hint := moved_hint(cfg.dataset)):
        how = hint if (run_folder.path / SPLIT_FILE).is_file() else \
            f"the run has no {SPLIT_FILE} to find its files elsewhere by"
        raise TinyVisionError(f"{cfg.dataset}: the run's folder is gone; {how}")
    if dataset is not None and not same_dataset(dataset, cfg.dataset):
        if not (run_folder.path / SPLIT_FILE).is_file():
            raise TinyVisionError(f"{run_folder.path} has no {SPLIT_FILE} to know its files by (a run of a folder "
                                  f"records one from its start): it resumes only on {cfg.dataset}")
        if not moved_here(cfg.dataset, dataset, run_folder.path):
            raise TinyVisionError(f"--resume continues the run on its own data: {flag('dataset', dataset)} is not "
                                  f"{cfg.dataset}, nor a folder holding the files of {run_folder.path / SPLIT_FILE} "
                                  f"(every one it names, those it fingerprints with the same bytes)")
        changes["dataset"] = anchored(dataset)
    if data_dir is not None:
        if is_folder(cfg.dataset):
            raise TinyVisionError(f"--data-dir does not apply to {cfg.dataset}: the path is part of the name")
        changes["data_dir"] = os.path.abspath(os.path.expanduser(data_dir))
    if not changes or all(getattr(cfg, k) == v for k, v in changes.items()):
        return cfg
    cfg = dataclasses.replace(cfg, **changes).validate()
    if os.environ.get("RANK", "0") == "0":  # (under torchrun each rank reaches the same config; rank 0 writes it)
        write_json(run_folder.config, cfg.to_dict())
    return cfg


def refuse_if_running(folder: Path) -> None:
    """A run still training in another process on this machine is not resumed beside it: the two would
    write one folder's state, model and metrics in turn."""
    from tinyvision.runs_index import read_status

    state, _ = read_status(folder)
    if state == "running":
        raise TinyVisionError(f"{folder} is still training in another process; wait for it, or stop it first")


def check_path_text(path: str | Path) -> None:
    """A run folder's name must be text (UTF-8): the checkpoint and TensorBoard writers take text paths,
    and a run named otherwise trained to the end, then could not be saved or read."""
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        raise TinyVisionError(f"{os.fsdecode(path)!r}: a run folder's name must be UTF-8 text") from None


def process_group_exists() -> bool:
    import torch.distributed

    return torch.distributed.is_available() and torch.distributed.is_initialized()

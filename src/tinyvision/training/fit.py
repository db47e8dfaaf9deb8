"""A whole run: set up, train epoch by epoch, calibrate on validation, test once, save.

`fit` holds no signal handlers and prints nothing itself: the CLI and the
notebook API decide how to report (callbacks) and how to stop (a
`threading.Event` set by Ctrl-C at the CLI edge).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from tinyvision.calibration import (
    MIN_CALIBRATION_IMAGES,
    calibration_report,
    choose_rejection,
    default_quantile,
    fit_temperature,
    images_for,
    too_few_to_calibrate,
)
from tinyvision.checkpoint import ModelCard, load_train_state, load_weights
from tinyvision.config import RunConfig
from tinyvision.datasets import ImageData
from tinyvision.datasets.registry import DIGITS_PREFIX
from tinyvision.datasets.split import split_beside
from tinyvision.distributed import Distributed
from tinyvision.errors import TinyVisionError, resume_command
from tinyvision.evaluate import eval_batch_size, evaluate, split_report, test_files
from tinyvision.inference import all_view_logits, calibrated_logits, eval_mode
from tinyvision.models import count_parameters
from tinyvision.run_folder import RunFolder
from tinyvision.training.callbacks import Callback, Callbacks, model_card
from tinyvision.training.loop import Interrupted, Position, close_epoch, run_epoch
from tinyvision.training.setup import Setup, build_setup
from tinyvision.version import code_version


@dataclass
class FitResult:
    metrics: dict
    setup: Setup
    card: ModelCard


def restore(s: Setup, state: dict, source) -> Position:
    """The saved position, with the model, optimizer, weight average and random streams as they were. A
    state of another shape (damaged, or written by hand) is one line: it is a file, read as data only."""
    try:
        return restore_parts(s, state, source)
    except TinyVisionError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise TinyVisionError(f"{source}: unreadable training state ({type(exc).__name__}: {first})") from None


def restore_parts(s: Setup, state: dict, source) -> Position:
    if not isinstance(state, dict):
        raise TypeError(f"a {type(state).__name__}, not a dict")
    load_weights(s.model, state["model"], source, s.cfg.model)
    s.optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] and s.device.type == "cuda":
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    s.aug_generator.set_state(state["aug_rng"])
    if s.average is not None:
        s.average.load_state_dict(state["average"])
    pos = Position(**state["position"], history=list(state["history"]))
    if s.dist.rank > 0:  # rank 0's saved RNG state; the other ranks keep their own streams
        torch.manual_seed(s.cfg.seed + s.dist.rank + 7919 * (pos.epoch * 1_000_003 + pos.step))
    return pos


CalibrationSplit = tuple[torch.Tensor, torch.Tensor, str]  # images, labels, what they are (`calibration_split`)


def quantile_of(s: Setup) -> float:
    """The share of validation digits (or images) the refusal threshold is placed to refuse."""
    if s.cfg.reject_quantile is not None:
        return s.cfg.reject_quantile
    return default_quantile(s.spec.kind, s.cfg.outlier_exposure > 0)


def calibration_split(s: Setup) -> CalibrationSplit:
    """The images the temperature and the refusal threshold are chosen on, and what they are: the validation
    split; for a folder of the user's own digits (`digits:PATH`) too small to place the threshold, MNIST's
    validation digits as well, those no weight of the run was trained on (`mnist_split_of`). A fine-tune on a
    few hundred photos held out some 20: the run was left uncalibrated and without a threshold, and answered a
    K or a W with a digit at 11% (a red team). Every digit model reads digits; MNIST's are real digits it was
    never trained on, so the bar keeps what it promises on digits, not on 20 of them."""
    x, y = s.val_x, s.val_y
    if not (s.spec.kind == "digits" and s.cfg.dataset.startswith(DIGITS_PREFIX) and isinstance(x, torch.Tensor)
            and len(y) < max(MIN_CALIBRATION_IMAGES, images_for(quantile_of(s)))):
        return x, y, "validation"
    from tinyvision.datasets import load_dataset
    from tinyvision.training.setup import split

    held_out = mnist_split_of(s.cfg)
    if held_out is None:
        return x, y, "validation"  # (started from a run that trained on MNIST by a split not known here)
    mnist = load_dataset("mnist")
    if tuple(mnist.classes) != tuple(s.data.classes) or mnist.input_shape != tuple(x.shape[1:]):
        return x, y, "validation"  # (other classes or another size: MNIST's digits are not its images)
    _, _, more_x, more_y = split(mnist, held_out)
    x, y = torch.cat([x, more_x.to(x.device)]), torch.cat([y, more_y.to(y.device)])
    return x, y, (f"validation ({len(s.val_y)}) and MNIST's validation digits ({len(more_y)}, held out by seed "
                  f"{held_out.seed})")


def mnist_split_of(cfg: RunConfig, depth: int = 8) -> RunConfig | None:
    """The config whose seed and validation share hold out MNIST digits that no weight of a run of `cfg` was
    trained on: its own when it started from nothing; for a run started from others (--init-from), the MNIST
    run it descends from (by another seed, nine in ten of those "validation" digits were that run's training
    digits, and the bar refused 1.7-1.9% of unseen digits where it promised 1%: a red team). None when the runs
    it descends from cannot be read, or trained on MNIST by two different splits."""
    from tinyvision.checkpoint import read_card

    if not cfg.init_from:
        return cfg
    if depth == 0:
        return None
    try:
        source = read_card(Path(cfg.init_from).expanduser())
        parent = RunConfig.from_dict(source.config)
    except (TinyVisionError, OSError, ValueError, TypeError, KeyError):
        return None
    above = mnist_split_of(parent, depth - 1)
    if above is None or source.dataset != "mnist":
        return above
    same = (above.seed, above.val_fraction) == (parent.seed, parent.val_fraction)
    return parent if same else None


def calibrate(s: Setup, split: CalibrationSplit) -> tuple[float, dict]:
    """Temperature scaling on the validation split (nothing is chosen on the test split)."""
    if len(s.val_y) == 0:
        return 1.0, {"temperature": 1.0, "note": "no validation split: not calibrated"}
    x, y, where = split
    with eval_mode(s.graph()) as graph:
        logits = all_view_logits(graph, x, s.device, batch_size=eval_batch_size(x),
                                 limit_batches=s.cfg.limit_batches)
    labels = y[: logits.shape[1]].cpu()
    note = too_few_to_calibrate(logits, labels)
    if note is not None:
        return 1.0, {"split": where, "note": note, **calibration_report(logits, labels, 1.0)}
    temperature = fit_temperature(logits, labels)
    return temperature, {"split": where, **calibration_report(logits, labels, temperature)}


def rejection(s: Setup, temperature: float, split: CalibrationSplit) -> dict:
    """The confidence below which the model says "not a digit" (digit models) or "unsure", chosen on the
    validation split; with outlier exposure, also the share of held-out non-digits it refuses."""
    if len(s.val_y) == 0:
        return {}
    limit = s.cfg.limit_batches
    x, _, where = split
    with eval_mode(s.graph(temperature)) as graph:
        val = calibrated_logits(graph, x, s.device, batch_size=eval_batch_size(x), limit_batches=limit)
        negatives = None
        if s.negatives is not None:  # never trained on: another seed's drawings
            from tinyvision.negatives import held_out_negatives

            negatives = calibrated_logits(graph, held_out_negatives(), s.device, limit_batches=limit)
    reject = choose_rejection(val, quantile_of(s), s.spec.kind, negatives)
    if where != "validation":
        reject["split"] = where
    if "note" in reject:  # said where training is watched, not only in metrics.json
        import warnings

        from tinyvision.errors import TinyVisionWarning

        warnings.warn(f"the model will answer every image: {reject['note']}", TinyVisionWarning, stacklevel=2)
    return reject


def final_metrics(s: Setup, pos: Position, temperature: float, calibration: dict, reject: dict) -> dict:
    test = evaluate(s.graph(temperature), s.data.test_images, s.data.test_labels, s.device,
                    limit_batches=s.cfg.limit_batches)
    return {
        "model": s.cfg.model,
        "dataset": s.data.name,
        "parameters": count_parameters(s.model),
        "device": str(s.device),
        "precision": s.precision,
        "world_size": s.dist.world_size,
        "epochs": pos.epoch,
        "train_seconds": pos.train_seconds,
        "final": pos.history[-1],
        "best_val": max(pos.history, key=lambda r: -math.inf if math.isnan(r["val_acc"]) else r["val_acc"]),
        "tta": s.tta.to_dict(),
        "calibration": calibration,
        **split_report(test, s.data.classes, reject, test_files(s.data.split_files)),
        "history": pos.history,
        "code_version": code_version(),
    }


def fit(
    cfg: RunConfig,
    run: RunFolder,
    callbacks: list[Callback],
    dist: Distributed,
    resume: bool = False,
    stop: threading.Event | None = None,
    data: ImageData | None = None,
) -> FitResult:
    """Train (or resume) a run to the end; returns its final metrics, setup and model card.

    `stop`, once set, ends training after the current step: the state is saved
    and `Interrupted` raised. `data` skips loading (a comparison shares one copy).
    Training seeds torch's global generator (the first weights, each step's
    draws); the caller's generator is given back as it was (a notebook's next
    cell found it at the same state whatever it had seeded before).
    """
    with torch.random.fork_rng(devices=[]):
        return fit_seeded(cfg, run, callbacks, dist, resume, stop, data)


def fit_seeded(cfg: RunConfig, run: RunFolder, callbacks: list[Callback], dist: Distributed, resume: bool,
               stop: threading.Event | None, data: ImageData | None) -> FitResult:
    stop = stop or threading.Event()
    # A resumed run reads its own files (split.json) and keeps its own weights (no --init-from). One that
    # stopped before saving its first epoch has no weights to keep: it starts again, in its own folder.
    saved = resume and run.state.exists()
    saved_split, saved_shape = split_beside(run.path) if resume else (None, None)
    s = build_setup(cfg, dist, data, saved_split=saved_split, saved_shape=saved_shape, init=not saved)
    hooks = Callbacks(callbacks)
    pos = Position()
    if saved:
        pos = restore(s, load_train_state(run.state), run.state)
        # Past its last epoch but without metrics.json, a run stopped in calibration, the test or the
        # final save: resuming does those again.
        if pos.epoch >= cfg.epochs and run.metrics_json.is_file():
            raise TinyVisionError(f"{run.path} already finished its {cfg.epochs} epochs")
    hooks.start(s, pos, resume)

    def interrupted(where: str, then: str) -> Interrupted:
        hooks.interrupt(s, pos)
        return Interrupted(f"interrupted {where}; state saved. {then} with: {resume_command(run.path)}")

    while pos.epoch < cfg.epochs:
        run_epoch(s, pos, hooks, stop)
        if stop.is_set():
            raise interrupted(f"at epoch {pos.epoch + 1}, step {pos.step}", "Continue")
        row = close_epoch(s, pos)
        if not math.isfinite(row["train_loss"]):
            # Diverged: every later step stays NaN, and the run would be calibrated, saved and listed as
            # finished with NaN weights, which every command then refused with a card error.
            raise TinyVisionError(f"training diverged: the loss became {row['train_loss']} in epoch {row['epoch']}; "
                                  f"try a lower --lr (it was {cfg.lr:g})")
        hooks.epoch_end(s, pos, row)
    if stop.is_set():  # Ctrl-C during the last epoch's save: the rest (calibration, the test) was done anyway
        raise interrupted("after the last epoch", "Finish")
    split = calibration_split(s)  # (once: it may read the runs this one descends from, and MNIST)
    temperature, calibration = calibrate(s, split)
    reject = rejection(s, temperature, split)
    metrics = final_metrics(s, pos, temperature, calibration, reject)
    metrics["rejection"] = reject
    card = model_card(s, {
        "val_acc": metrics["final"]["val_acc"], "test_acc": metrics["test_acc"],
        "test_loss": metrics["test_loss"], "epoch": pos.epoch,
    }, temperature=temperature, reject=reject)
    hooks.end(s, pos, metrics, card)
    return FitResult(metrics, s, card)

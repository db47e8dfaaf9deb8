import threading

import pytest
import torch

from conftest import fit_run
from tinyvision.checkpoint import load_model
from tinyvision.config import RunConfig, build_config
from tinyvision.errors import TinyVisionError
from tinyvision.inference import InferenceGraph, as_log_probs, calibrated_logits
from tinyvision.models import create_model
from tinyvision.run_folder import RunFolder
from tinyvision.training import Callback, Interrupted, learning_rate


def tiny_config(**kw) -> RunConfig:
    values = dict(dataset="tiny", model="tvnet", epochs=3, batch_size=32, lr=0.05, val_fraction=0.25, seed=7)
    values.update(kw)
    return RunConfig(**values).validate()


def test_training_learns_the_tiny_task(tiny_dataset, tmp_path):
    cfg = tiny_config()
    torch.manual_seed(cfg.seed)
    initial = create_model("tvnet", (1, 12, 12), 4).state_dict()
    result = fit_run(cfg, tmp_path / "run")
    metrics, setup = result.metrics, result.setup
    history = metrics["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]  # loss fell
    assert metrics["test_acc"] > 0.9  # chance is 0.25
    moved = [not torch.equal(initial[k], v.cpu()) for k, v in setup.model.state_dict().items()
             if k.endswith("weight")]
    assert all(moved)  # every layer's parameters moved
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"config.json", "metrics.csv", "metrics.json", "model.safetensors", "train_state.pt"} <= files
    assert not [f for f in files if f.endswith(".tmp")]
    csv_lines = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,train_loss,train_acc,val_loss,val_acc")
    assert len(csv_lines) == 1 + cfg.epochs


def test_same_seed_same_metrics(tiny_dataset, tmp_path):
    a = fit_run(tiny_config(epochs=2), tmp_path / "a").metrics
    b = fit_run(tiny_config(epochs=2), tmp_path / "b").metrics
    c = fit_run(tiny_config(epochs=2, seed=8), tmp_path / "c").metrics
    assert without_times(a["history"]) == without_times(b["history"])
    assert a["test_loss"] == b["test_loss"] and a["confusion"] == b["confusion"]
    assert without_times(a["history"]) != without_times(c["history"])


class StopAt(Callback):
    """Asks training to stop after a given step, as Ctrl-C does at the CLI edge (tests/test_cli.py)."""

    def __init__(self, at_step: int, stop: threading.Event) -> None:
        self.at_step, self.steps, self.stop = at_step, 0, stop

    def on_step(self, s, pos, loss, images_per_second) -> None:
        self.steps += 1
        if self.steps == self.at_step:
            self.stop.set()


def without_times(history):
    return [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in history]


# Mid-epoch, exactly at an epoch boundary, and with a weight average that must resume too.
@pytest.mark.parametrize(("at_step", "ema"), [(5, 0.0), (12, 0.0), (7, 0.9)])
def test_ctrl_c_then_resume_equals_uninterrupted(tiny_dataset, tmp_path, at_step, ema):
    cfg = tiny_config(epochs=2, translate=1, ema=ema)  # augmentation randomness must resume too
    first = fit_run(cfg, tmp_path / "straight")
    straight, straight_setup = first.metrics, first.setup

    run = RunFolder(tmp_path / "broken")
    stop = threading.Event()
    with pytest.raises(Interrupted, match=r"tinyvision.train\(resume="):
        fit_run(cfg, run.path, [StopAt(at_step, stop)], stop=stop)
    assert not run.metrics_json.exists()
    second = fit_run(run.read_config(), run.path, resume=True)
    resumed, resumed_setup = second.metrics, second.setup

    assert without_times(resumed["history"]) == without_times(straight["history"])
    assert resumed["test_loss"] == straight["test_loss"]
    for (k, a), b in zip(straight_setup.model.state_dict().items(), resumed_setup.model.state_dict().values()):
        assert torch.equal(a, b), k
    for (k, a), b in zip(straight_setup.eval_model.state_dict().items(),
                         resumed_setup.eval_model.state_dict().values()):
        assert torch.equal(a, b), k


def test_finished_run_cannot_be_resumed_or_overwritten(tiny_dataset, tmp_path):
    run = RunFolder(tmp_path / "run")
    fit_run(tiny_config(epochs=1), run.path)
    with pytest.raises(TinyVisionError, match="already finished"):
        fit_run(run.read_config(), run.path, resume=True)
    with pytest.raises(TinyVisionError, match="already holds a run"):
        fit_run(tiny_config(epochs=1), run.path)


def test_a_run_is_refused_for_a_folder_holding_no_run_and_taken_started_stopped_or_finished(tiny_dataset, tmp_path):
    # Run("/tmp") was taken, shown as "Run('/tmp', unfinished)" with an empty history, and failed only at
    # what was read first ("no checkpoint at /tmp/model.safetensors" for its model).
    import tinyvision

    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.png").write_bytes(b"not a run")
    with pytest.raises(TinyVisionError, match=f"^{photos} is not a run folder \\(no config.json\\)$"):
        tinyvision.Run(photos)
    with pytest.raises(TinyVisionError, match="no run folder at"):  # no folder at all: a typo
        tinyvision.Run(tmp_path / "typo")
    starting = RunFolder(tmp_path / "starting")
    starting.create(tiny_config(epochs=1))  # all a run has written while it loads its data
    assert tinyvision.Run(starting.path).history == []
    stop = threading.Event()
    with pytest.raises(Interrupted):
        fit_run(tiny_config(epochs=2), tmp_path / "stopped", [StopAt(14, stop)], stop=stop)  # in epoch 2
    assert len(tinyvision.Run(tmp_path / "stopped").history) == 1
    finished = tinyvision.train(dataset=tiny_dataset, epochs=1, out=tmp_path / "finished", progress=False, plots=False)
    assert isinstance(finished, tinyvision.Run) and len(finished.history) == 1


def test_a_run_stopped_after_its_last_epoch_or_before_its_first_is_finished_by_resume(tiny_dataset, tmp_path,
                                                                                     monkeypatch):
    # Stopped in calibration, the test or the final save (a second Ctrl-C, kill -9, a full disk), a run had
    # every epoch saved but no metrics.json, and --resume refused it as "already finished"; one that died
    # before its first epoch was saved held only config.json, and --resume said "train_state.pt does not
    # exist" while a fresh --out said "already holds a run". Both now finish with --resume.
    import importlib

    fit_module = importlib.import_module("tinyvision.training.fit")  # (`training.fit` is also a function)
    real = fit_module.calibrate

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_module, "calibrate", interrupted)
    run = RunFolder(tmp_path / "late")
    with pytest.raises(KeyboardInterrupt):
        fit_run(tiny_config(epochs=1), run.path)
    assert run.state.exists() and not run.metrics_json.exists()
    monkeypatch.setattr(fit_module, "calibrate", real)
    finished = fit_run(run.read_config(), run.path, resume=True)
    assert run.metrics_json.exists() and len(finished.metrics["history"]) == 1
    assert finished.metrics["test_acc"] > 0.5

    early = RunFolder(tmp_path / "early")
    early.create(tiny_config(epochs=1))  # all a run leaves when it dies loading its data
    fit_run(early.read_config(), early.path, resume=True)
    assert early.metrics_json.exists()


def test_resume_is_refused_while_the_run_trains_in_another_process(tiny_dataset, tmp_path):
    import tinyvision
    from tinyvision.runs_index import write_status

    run = RunFolder(tmp_path / "run")
    stop = threading.Event()
    stop.set()
    with pytest.raises(Interrupted):
        fit_run(tiny_config(epochs=2), run.path, stop=stop)
    write_status(run.path, "running", epoch=0)  # as a live process on this machine (this one) writes it
    with pytest.raises(TinyVisionError, match="still training in another process"):
        tinyvision.train(resume=run.path, progress=False, plots=False)


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_checkpoint_reloads_to_the_same_predictions(tiny_dataset, tmp_path, ema):
    setup = fit_run(tiny_config(epochs=1, ema=ema), tmp_path / "run").setup
    model, card = load_model(tmp_path / "run")
    images = setup.data.test_images

    def outputs(network):
        graph = InferenceGraph(network, card.normalization, card.tta, card.temperature).eval()
        return as_log_probs(calibrated_logits(graph, images))

    if ema:  # the checkpoint holds the average, which is not the last iterate
        assert setup.eval_model is not setup.model
        assert not torch.allclose(outputs(setup.model.eval()), outputs(model))
    expected, got = outputs(setup.eval_model), outputs(model)
    assert torch.allclose(expected, got, atol=1e-5)
    assert card.classes == ("nw", "ne", "sw", "se") and card.input_shape == (1, 12, 12)
    assert card.metrics["test_acc"] == pytest.approx((got.argmax(1) == setup.data.test_labels).float().mean())


def test_two_runs_racing_for_one_folder_one_wins(tiny_dataset, tmp_path):
    """The run folder is claimed exclusively: the second claim fails with a one-line error."""
    cfg = tiny_config(epochs=1)
    RunFolder(tmp_path / "run").create(cfg)
    with pytest.raises(TinyVisionError, match="already holds a run"):
        RunFolder(tmp_path / "run").create(cfg)


def test_training_state_is_saved_before_the_metrics_that_refer_to_it(tiny_dataset, tmp_path, monkeypatch):
    """A crash between two writes must never leave metrics.csv ahead of train_state.pt."""
    import tinyvision.training.callbacks as callbacks

    order = []
    real_state, real_history = callbacks.save_train_state, RunFolder.write_history
    monkeypatch.setattr(callbacks, "save_train_state", lambda *a: (order.append("state"), real_state(*a)))
    monkeypatch.setattr(RunFolder, "write_history", lambda self, h: (order.append("csv"), real_history(self, h)))
    fit_run(tiny_config(epochs=2), tmp_path / "run")
    assert order == ["state", "csv", "state", "csv"]


def test_one_cycle_schedule_shape():
    cfg = RunConfig(lr=1.0, warmup_fraction=0.2)
    lrs = [learning_rate(s, 100, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(0.04)
    assert max(lrs) == pytest.approx(1.0) and lrs.index(max(lrs)) == 20
    assert lrs[-1] < 0.02 and all(a >= b for a, b in zip(lrs[20:], lrs[21:]))
    assert learning_rate(50, 100, RunConfig(lr=0.3, schedule="constant")) == 0.3


def test_presets_and_overrides():
    cfg = build_config("tutorial-a", {"epochs": 3, "lr": None})
    assert (cfg.model, cfg.optimizer, cfg.lr, cfg.batch_size, cfg.epochs) == ("tutorial-a", "adam", 1e-3, 64, 3)
    assert cfg.normalization == "half" and cfg.val_fraction == 0.2
    with pytest.raises(TinyVisionError, match="unknown preset"):
        build_config("nope", {})
    with pytest.raises(TinyVisionError, match="^epochs must be at least 1$"):  # a Python caller's spelling
        build_config(None, {"epochs": 0})


def test_bf16_steps_learn_like_fp32_and_the_run_says_which_it_used(tiny_dataset, tmp_path):
    fp32 = fit_run(tiny_config(precision="fp32"), tmp_path / "fp32").metrics
    bf16 = fit_run(tiny_config(precision="bf16"), tmp_path / "bf16").metrics
    assert (fp32["precision"], bf16["precision"]) == ("fp32", "bf16")
    for m in (fp32, bf16):
        assert m["history"][-1]["train_loss"] < m["history"][0]["train_loss"]
        assert m["test_acc"] > 0.9  # chance is 0.25
    # bf16 really ran: rounding the activations changes the path, so the losses differ.
    assert fp32["history"][0]["train_loss"] != bf16["history"][0]["train_loss"]


def test_inference_on_a_gpu_is_fp32_as_on_the_cpu():
    # Calibration and the final test of a run trained on CUDA ran under bf16 autocast, while predict and serve
    # answer in fp32 on the CPU. (No GPU here: what the context turns on is asked of torch all the same.)
    from tinyvision import device as dev

    for name in ("cuda", "cpu"):
        with dev.autocast(torch.device(name)):
            assert not torch.is_autocast_enabled("cuda") and not torch.is_autocast_enabled("cpu")


def test_auto_precision_takes_bf16_only_where_the_hardware_has_it(monkeypatch):
    from tinyvision import device as dev

    cpu = torch.device("cpu")
    monkeypatch.setattr(dev, "native_bf16", lambda d: True)
    assert dev.training_precision(cpu, "auto") == "bf16"
    assert dev.training_precision(torch.device("mps"), "auto") == "fp32"  # MPS: no bf16 autocast here
    monkeypatch.setattr(dev, "native_bf16", lambda d: False)
    assert dev.training_precision(cpu, "auto") == "fp32"
    assert dev.training_precision(cpu, "bf16") == "bf16"  # asked for: emulated, slower, but honoured
    with pytest.raises(TinyVisionError, match="needs a CPU or CUDA"):
        dev.training_precision(torch.device("mps"), "bf16")
    with pytest.raises(TinyVisionError, match="precision"):
        build_config(None, {"precision": "fp16"})


def test_a_learners_wrongly_typed_arguments_are_refused_in_one_line_naming_them(tmp_path):
    # Each raised a traceback from deep inside (AttributeError, TypeError), some only after the data had
    # loaded; plots="no" and dry_run="no" were taken as true.
    import tinyvision
    from tinyvision.datasets import load as load_data
    from tinyvision.errors import flag, python_spelling

    for call, words in [
        (lambda: tinyvision.train(dataset=3), "dataset must be a dataset's name"),
        (lambda: tinyvision.train(out=123), "out must be a folder's path, not int 123"),
        (lambda: tinyvision.train(stop="x"), "stop must be a threading.Event"),
        (lambda: tinyvision.train(plots="no"), "plots must be True or False, not str 'no'"),
        (lambda: tinyvision.train(dry_run="no"), "dry_run must be True or False"),
        (lambda: tinyvision.compare(None), "dataset must be"),
        (lambda: tinyvision.compare(models=None), "models must be model names"),
        (lambda: tinyvision.compare(models=["mlp", 1]), "not int 1"),
        (lambda: tinyvision.compare(out=123), "out must be a folder's path"),
        (lambda: tinyvision.Run(tmp_path / "typo"), "no run folder at"),
    ]:
        with pytest.raises(TinyVisionError, match=words):
            call()
    # A flag in a message becomes the keyword a Python caller passes, with its number; a quoted value stays.
    assert python_spelling("or train with --font-digits 0") == "or train with font_digits=0"
    assert python_spelling("unknown model '--tvnet'") == "unknown model '--tvnet'"
    # A value that is no number is joined with "=", shell-quoted when it must be: the shell takes it as it is
    # written, and Python gets the keyword with the value quoted ("pass model tvnet" was half converted).
    advice = f"pass {flag('model', 'tvnet')}, or {flag('resume', '/tmp/my runs/a')} or a new --out."
    assert advice == "pass --model=tvnet, or --resume='/tmp/my runs/a' or a new --out."
    assert python_spelling(advice) == "pass model='tvnet', or resume='/tmp/my runs/a' or a new out."
    assert python_spelling("continue with: tinyvision train --resume x") == "continue with: tinyvision train --resume x"
    assert len(repr(load_data("mnist"))) < 120  # a notebook cell's value: one line, not every pixel

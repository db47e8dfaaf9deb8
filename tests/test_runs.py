"""Run tracking (`--tensorboard`, status.json, `tinyvision runs`), fine-tuning (`--init-from`) and
imbalanced classes (`--balance`)."""

from __future__ import annotations

import json
import threading

import pytest
import torch

import tinyvision
from conftest import fit_run, make_quadrant_images, tiny_spec
from tinyvision.cli import main
from tinyvision.config import build_config
from tinyvision.datasets import REGISTRY, ImageData
from tinyvision.runs_index import STATUS_FILE, list_runs, read_status, write_status
from tinyvision.training.balance import balanced_order, loss_weights, sample_weights

FAST = dict(model="tvnet", batch_size=32, lr=0.05, ema=0.0, translate=0, device="cpu", label_smoothing=0.0)


def test_tensorboard_events_and_the_runs_listing(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "runs" / "tb"
    code = main(["train", "--dataset", tiny_dataset, "--model", "tvnet", "--epochs", "2", "--batch-size", "32",
                 "--tensorboard", "--out", str(out), "--no-plots", "--progress", "lines"])
    assert code == 0
    events = list((out / "tensorboard").rglob("events.out.tfevents.*"))
    assert len(events) >= 2  # the run's scalars and images, and the hparams run beside them
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(out / "tensorboard")).Reload()
    assert {"loss/train_loss", "acc/val_acc", "test/test_acc"} <= set(acc.Tags()["scalars"])
    assert [e.step for e in acc.Scalars("acc/val_acc")] == [1, 2]
    assert {"figures/curves", "figures/confusion"} <= set(acc.Tags()["images"])
    assert json.loads((out / STATUS_FILE).read_text())["status"] == "finished"

    capsys.readouterr()
    assert main(["runs", str(tmp_path / "runs")]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert "tvnet" in line and "tiny" in line and "%" in line and line.endswith("finished")
    # Finished, its checkpoint then emptied or deleted: every command that loads it refuses it, so the
    # listing does not call it finished.
    (out / "model.safetensors").write_bytes(b"")
    assert read_status(out) == ("damaged", "model.safetensors is empty")
    (out / "model.safetensors").unlink()
    assert main(["runs", str(tmp_path / "runs")]) == 0
    assert "damaged" in capsys.readouterr().out.splitlines()[1]


def test_interrupted_failed_and_dead_runs_are_told_apart(tiny_dataset, tmp_path, monkeypatch):
    stop = threading.Event()
    stop.set()  # stops after the first step
    with pytest.raises(tinyvision.Interrupted):
        tinyvision.train(dataset=tiny_dataset, out=tmp_path / "stopped", progress=False, plots=False, stop=stop,
                         epochs=1, **FAST)
    assert read_status(tmp_path / "stopped")[0] == "interrupted"

    with pytest.raises(tinyvision.TinyVisionError, match="init_from"):  # refused before anything is written
        tinyvision.train(dataset=tiny_dataset, out=tmp_path / "refused", progress=False, plots=False, epochs=1,
                         init_from=str(tmp_path / "stopped"), **{**FAST, "model": "mlp"})
    assert not (tmp_path / "refused").exists()

    def broken_step(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("tinyvision.training.loop.train_step", broken_step)
    with pytest.raises(RuntimeError, match="boom"):  # a bug while training: recorded, then raised
        tinyvision.train(dataset=tiny_dataset, out=tmp_path / "failed", progress=False, plots=False, epochs=1,
                         **FAST)
    assert read_status(tmp_path / "failed") == ("failed", "RuntimeError: boom")

    dead = tmp_path / "dead"
    dead.mkdir()
    (dead / "config.json").write_text(json.dumps({"model": "tvnet", "dataset": "tiny", "epochs": 3}))
    write_status(dead, "running")
    data = json.loads((dead / STATUS_FILE).read_text())
    (dead / STATUS_FILE).write_text(json.dumps({**data, "pid": 2**22 + 12345}))  # no such process
    assert read_status(dead) == ("failed", "died (process gone)")
    write_status(dead, "running")  # this process: alive
    assert read_status(dead)[0] == "running"
    statuses = {r.path.name: r.status for r in list_runs(tmp_path)}
    assert statuses == {"stopped": "interrupted", "failed": "failed", "dead": "running"}


def shifted_task(seed: int, classes: tuple[str, ...]) -> ImageData:
    """The quadrant task again, on other images (a related task: the same features help)."""
    x, y = make_quadrant_images(384, seed=seed)
    xt, yt = make_quadrant_images(128, seed=seed + 1)
    return ImageData("related", classes, x, y, xt, yt)


def test_init_from_a_trained_run_starts_better_and_a_new_class_set_gets_a_new_head(tiny_dataset, tmp_path,
                                                                                  monkeypatch):
    source = tmp_path / "source"
    fit_run(build_config(None, dict(dataset=tiny_dataset, epochs=3, **FAST)), source)
    monkeypatch.setitem(REGISTRY, "related", tiny_spec(shifted_task(7, ("nw", "ne", "sw", "se"))))
    first = dict(dataset="related", epochs=1, limit_batches=2, **FAST)
    scratch = fit_run(build_config(None, first), tmp_path / "scratch").metrics
    tuned = fit_run(build_config(None, {**first, "init_from": str(source)}), tmp_path / "tuned")
    assert tuned.setup.notes[0].startswith(f"init from {source / 'model.safetensors'}: loaded ")
    assert "skipped 0" in tuned.setup.notes[0]
    # After the same two steps, the fine-tuned model is already far better (the task is easy for both later).
    assert tuned.metrics["final"]["val_loss"] < 0.5 * scratch["final"]["val_loss"]
    assert tuned.metrics["final"]["val_acc"] >= scratch["final"]["val_acc"]

    monkeypatch.setitem(REGISTRY, "renamed", tiny_spec(shifted_task(9, ("a", "b", "c", "d"))))
    renamed = fit_run(build_config(None, {**first, "dataset": "renamed", "init_from": str(source)}),
                      tmp_path / "renamed")
    note = renamed.setup.notes[0]
    assert "skipped 2" in note and "head" in note and "a new head, the classes differing from the source's" in note
    saved = tinyvision.load(source).network.state_dict()
    new = renamed.setup.model.state_dict()
    assert not torch.equal(new["head.1.weight"].cpu(), saved["head.1.weight"])


def test_balance_weights_and_sampler():
    labels = torch.tensor([0] * 90 + [1] * 10)
    weights = loss_weights(labels, 3)
    assert weights.tolist() == pytest.approx([100 / (2 * 90), 100 / (2 * 10), 0.0])
    draw = sample_weights(labels, 2)
    order = balanced_order(draw, seed=0, epoch=3)
    assert torch.equal(order, balanced_order(draw, seed=0, epoch=3))  # a pure function of (seed, epoch)
    assert not torch.equal(order, balanced_order(draw, seed=0, epoch=4))
    assert 35 <= int((labels[order] == 1).sum()) <= 65  # the rare class drawn about half the time


@pytest.mark.parametrize("balance", ["weights", "sampler"])
def test_balanced_training_on_an_imbalanced_set_runs_and_resumes_identically(tmp_path, monkeypatch, balance):
    x, y = make_quadrant_images(600, seed=3)
    keep = torch.cat([torch.nonzero(y != 3).flatten(), torch.nonzero(y == 3).flatten()[:12]])
    data = ImageData("skewed", ("nw", "ne", "sw", "se"), x[keep], y[keep], *make_quadrant_images(128, seed=4))
    monkeypatch.setitem(REGISTRY, "skewed", tiny_spec(data))
    cfg = build_config(None, dict(dataset="skewed", epochs=2, balance=balance, **FAST))
    whole = fit_run(cfg, tmp_path / "whole").metrics
    stop = threading.Event()

    class StopAfter:  # stop mid-way through the first epoch, then resume
        wants_loss = False

        def __getattr__(self, name):
            return lambda *a, **k: None

        def on_step(self, s, pos, loss, ips):
            if pos.step == 3 and pos.epoch == 0:
                stop.set()

    with pytest.raises(tinyvision.Interrupted):
        fit_run(cfg, tmp_path / "resumed", callbacks=[StopAfter()], stop=stop)
    resumed = fit_run(cfg, tmp_path / "resumed", resume=True).metrics
    assert resumed["history"][-1]["train_loss"] == pytest.approx(whole["history"][-1]["train_loss"], rel=1e-6)
    assert whole["per_class"][3]["support"] > 0 and whole["test_balanced_acc"] > 0.25


def test_class_weights_with_label_smoothing_weigh_each_image_by_its_own_class():
    # PyTorch's cross_entropy(weight=, label_smoothing=) weighs the smoothing term by every class's weight:
    # at 100:1 calling everything the rare class was the cheapest answer, and --balance weights with the
    # folder recipe's smoothing trained a 99% folder to 1%.
    import torch.nn.functional as F

    from tinyvision.training.loop import smoothed_cross_entropy

    y = torch.tensor([0] * 99 + [1])
    weights = torch.tensor([100 / (2 * 99), 100 / (2 * 1)])  # --balance weights: N / (classes x count)
    all_majority = torch.tensor([[4.0, -4.0]]).repeat(100, 1)
    all_rare = all_majority.flip(1)
    loss = lambda logits: float(smoothed_cross_entropy(logits, y, 0.2, weights))  # noqa: E731
    torch_loss = lambda logits: float(F.cross_entropy(logits, y, weight=weights, label_smoothing=0.2))  # noqa: E731
    assert torch_loss(all_majority) > 5 * torch_loss(all_rare)  # what training followed
    # Balanced, the two wrong answers cost about the same (each class weighs half), and the right one least.
    assert loss(all_majority) == pytest.approx(loss(all_rare), rel=0.05)
    right = torch.where(y[:, None] == 0, all_majority, all_rare)
    assert loss(right) < 0.5 * loss(all_rare)
    logits = torch.randn(100, 2)
    assert float(smoothed_cross_entropy(logits, y, 0.2, torch.ones(2))) == pytest.approx(
        float(F.cross_entropy(logits, y, label_smoothing=0.2)), rel=1e-5)  # plain weights: PyTorch's own
    assert float(smoothed_cross_entropy(logits, y, 0.0, weights)) == pytest.approx(
        float(F.cross_entropy(logits, y, weight=weights)), rel=1e-5)


def test_ctrl_c_while_the_last_epoch_is_saved_stops_before_the_test_and_resume_finishes(tiny_dataset, tmp_path):
    # A stop asked for during the last epoch's save was ignored: calibration, the test and the figures ran,
    # and the run ended "finished" with exit code 0.
    cfg = build_config(None, dict(dataset=tiny_dataset, epochs=1, limit_batches=2, **FAST))
    stop = threading.Event()

    class StopWhileSaving:
        wants_loss = False

        def __getattr__(self, name):
            return lambda *a, **k: None

        def on_epoch_end(self, s, pos, row):
            stop.set()

    with pytest.raises(tinyvision.Interrupted, match="after the last epoch"):
        fit_run(cfg, tmp_path / "run", callbacks=[StopWhileSaving()], stop=stop)
    assert not (tmp_path / "run" / "metrics.json").exists() and read_status(tmp_path / "run")[0] == "interrupted"
    assert fit_run(cfg, tmp_path / "run", resume=True).metrics["test_acc"] > 0


def test_init_from_fine_tunes_the_model_of_its_source_and_refuses_another(tiny_dataset, tmp_path, capsys):
    from tinyvision.run import config_for

    source = tmp_path / "mlp-source"
    fit_run(build_config(None, dict(dataset=tiny_dataset, epochs=1, limit_batches=2, **{**FAST, "model": "mlp"})),
            source)
    assert config_for(tiny_dataset, None, None, {"init_from": str(source)}).model == "mlp"  # not the default tvnet
    out = tmp_path / "other-model"
    code = main(["train", "--dataset", tiny_dataset, "--model", "tvnet", "--init-from", str(source), "--epochs", "1",
                 "--out", str(out), "--no-plots"])
    err = capsys.readouterr().err
    assert code == 2 and "holds a 'mlp', not a 'tvnet'" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert main(["train", "--dataset", tiny_dataset, "--init-from", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert "--init-from: no checkpoint at" in capsys.readouterr().err
    state = tmp_path / "train_state.pt"  # (a safetensors header error named neither the file's kind nor the fix)
    state.write_bytes(b"PK\x03\x04 a pickled training state")
    assert main(["train", "--dataset", tiny_dataset, "--init-from", str(state), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "a training state, for resuming its run; give its run folder" in err and len(err.strip().splitlines()) == 1


def test_fine_tuning_reads_its_source_as_every_load_does_and_a_diverged_run_fails(tiny_dataset, tmp_path, capsys):
    # --init-from read the checkpoint directly: a corrupt one (its checksum) or one holding NaN was fine-tuned
    # from without a word, and an unfinished one too; a Run or a Path as init_from was refused. A run whose
    # loss became NaN was calibrated, saved and listed "finished", and every command then refused its model
    # with a card error.
    from safetensors.torch import load_file, save_file

    from tinyvision.checkpoint import read_metadata
    from tinyvision.errors import UnfinishedRunWarning

    source = tinyvision.train(dataset=tiny_dataset, out=tmp_path / "source", epochs=1, limit_batches=2,
                              progress=False, plots=False, **FAST)
    again = tinyvision.train(dataset=tiny_dataset, out=tmp_path / "again", init_from=source, epochs=1,
                             limit_batches=2, progress=False, plots=False, **FAST)
    assert again.config.init_from == str(source.path) and repr(again).startswith(f"Run('{again.path}', tvnet")
    checkpoint = source.path / "model.safetensors"
    weights, metadata = load_file(checkpoint), read_metadata(checkpoint)
    for name, damage in (("flipped", lambda t: t + 1), ("nan", lambda t: t * float("nan"))):
        first = next(k for k, t in weights.items() if t.is_floating_point())
        save_file({**weights, first: damage(weights[first])}, tmp_path / f"{name}.safetensors", metadata=metadata)
        with pytest.raises(tinyvision.TinyVisionError, match="corrupt checkpoint"):
            tinyvision.train(dataset=tiny_dataset, out=tmp_path / f"from-{name}", progress=False, plots=False,
                             init_from=tmp_path / f"{name}.safetensors", epochs=1, limit_batches=2, **FAST)
    stop = threading.Event()
    stop.set()
    with pytest.raises(tinyvision.Interrupted):
        tinyvision.train(dataset=tiny_dataset, out=tmp_path / "stopped", epochs=2, progress=False, plots=False,
                         stop=stop, **FAST)
    with pytest.warns(UnfinishedRunWarning):
        tinyvision.train(dataset=tiny_dataset, out=tmp_path / "from-stopped", init_from=tmp_path / "stopped",
                         epochs=1, limit_batches=2, progress=False, plots=False, **FAST)

    assert main(["train", "--dataset", tiny_dataset, "--model", "mlp", "--lr", "1e12", "--epochs", "2",
                 "--out", str(tmp_path / "diverged"), "--no-plots", "--progress", "lines"]) == 2
    assert "training diverged: the loss became nan in epoch 1; try a lower --lr" in capsys.readouterr().err
    assert read_status(tmp_path / "diverged")[0] == "failed"
    import shutil

    shutil.rmtree(source.path)
    assert "its folder is gone" in repr(source)
    with pytest.raises(tinyvision.TinyVisionError, match="no run folder"):
        source.history  # noqa: B018


def test_plot_draws_an_unfinished_runs_curves_so_far(tiny_dataset, tmp_path, capsys):
    # `tinyvision plot RUN` refused an interrupted run ("has no metrics.json"), though its history is saved.
    from tinyvision.training.callbacks import Callback

    stop = threading.Event()

    class StopAfterAnEpoch(Callback):
        def on_epoch_end(self, s, pos, row):
            stop.set()

    cfg = build_config(None, dict(dataset=tiny_dataset, epochs=3, limit_batches=2, **FAST))
    with pytest.raises(tinyvision.Interrupted):
        fit_run(cfg, tmp_path / "run", callbacks=[StopAfterAnEpoch()], stop=stop)
    assert main(["plot", str(tmp_path / "run")]) == 0
    assert "an unfinished run" in capsys.readouterr().out and (tmp_path / "run" / "curves.png").is_file()
    assert not (tmp_path / "run" / "confusion.png").exists()


@pytest.mark.parametrize(("option", "value", "message"), [
    ("image_size", "32", "image_size must be an integer or None, got '32'"),
    ("epochs", 2.5, "epochs must be an integer, got 2.5"),
    ("lr", "0.1", "lr must be a number, got '0.1'"),
    ("hflip", 1, "hflip must be True or False, got 1"),
    ("seed", 2**40, r"seed must be from 0 to 4294967295 \(2\*\*32 - 1\)"),  # (overflowed deep inside)
    ("batch_size", 10**9, "batch_size must be from 1 to 65,536"),  # (asked for 98 GB, in a traceback)
    ("limit_batches", 0.5, "limit_batches must be an integer or None, got 0.5"),
])
@pytest.mark.parametrize("dry_run", [False, True])
def test_api_options_of_the_wrong_type_are_refused_in_one_line(tiny_dataset, tmp_path, option, value, message,
                                                               dry_run):
    # A dry run checks the options as the real run does: it replaced epochs and limit_batches before their
    # check, and passed what the real run then refused.
    with pytest.raises(tinyvision.TinyVisionError, match=f"^{message}$"):
        tinyvision.train(dataset=tiny_dataset, out=tmp_path / "run", progress=False, dry_run=dry_run,
                         **{option: value})
    assert not (tmp_path / "run").exists()


def test_numpy_numbers_pass_for_python_numbers_and_are_saved_as_them():
    import numpy as np

    cfg = build_config(None, dict(epochs=np.int64(3), lr=np.float32(0.5), hflip=np.bool_(False)))
    assert (type(cfg.epochs), type(cfg.lr), type(cfg.hflip)) == (int, float, bool)
    json.dumps(cfg.to_dict())  # config.json can hold them


def test_the_package_functions_named_like_modules_stay_callable_and_load_takes_a_run(tiny_dataset, tmp_path):
    import tinyvision.compare  # noqa: F401  (importing a submodule used to replace the function of its name)
    import tinyvision.models  # noqa: F401

    assert "tvnet" in tinyvision.models() and callable(tinyvision.compare)
    run = tinyvision.train(dataset=tiny_dataset, out=tmp_path / "run", progress=False, plots=False, epochs=1,
                           limit_batches=2, **FAST)
    assert tinyvision.load(run).classes == tinyvision.load(run.path).classes
    with pytest.raises(tinyvision.TinyVisionError, match="load\\(\\) takes a run folder"):
        tinyvision.load(42)
    with pytest.raises(tinyvision.TinyVisionError, match="progress must be True, False"):
        tinyvision.train(dataset=tiny_dataset, out=tmp_path / "fancy", progress="fancy", **FAST)
    assert not (tmp_path / "fancy").exists()
    comparison = tinyvision.compare(tiny_dataset, models="mlp,tvnet", epochs=1, out=tmp_path / "cmp",
                                    progress=False, plots=False, limit_batches=2, device="cpu")
    assert sorted(comparison.runs) == ["mlp", "tvnet"]


def test_a_batch_of_float_pixels_reads_as_its_uint8_twin_and_a_normalised_one_is_refused(tiny_dataset, tmp_path):
    fit_run(build_config(None, dict(dataset=tiny_dataset, epochs=1, **FAST)), tmp_path / "run")
    model = tinyvision.load(tmp_path / "run")
    images = REGISTRY[tiny_dataset].load(None, None).test_images[:16]
    as_uint8 = [p.label for p in model.predict(images)]
    assert [p.label for p in model.predict(images.float() / 255)] == as_uint8  # a bare cast made them all 0
    assert torch.equal(model.logits(images.float() / 255), model.logits(images))
    assert [p.label for p in model.predict((images.float() / 255).bfloat16())] == as_uint8  # numpy has no bf16
    with pytest.raises(tinyvision.TinyVisionError, match="below 0 \\(a normalised tensor\\?\\)"):
        model.predict((images.float() / 255 - 0.5) / 0.25)


def test_a_batch_held_as_keras_and_torchvision_hold_mnist_gives_one_prediction_per_image(tiny_dataset, tmp_path):
    # A learner's x_test: numpy (N, H, W) uint8 from Keras (often / 255), torchvision's dataset.data a
    # tensor (N, H, W). They were refused as "not an image".
    fit_run(build_config(None, dict(dataset=tiny_dataset, epochs=1, **FAST)), tmp_path / "run")
    model = tinyvision.load(tmp_path / "run")
    images = REGISTRY[tiny_dataset].load(None, None).test_images[:16]  # uint8 (N, 1, H, W)
    expected = [p.label for p in model.predict(images)]
    keras = images[:, 0].numpy()
    for batch in (keras, keras / 255.0, images[:, 0], keras[..., None], images.numpy()):
        answers = model.predict(batch)
        assert [p.label for p in answers] == expected
        assert all(p.input.dtype == torch.uint8 and tuple(p.input.shape) == model.input_shape for p in answers)
    # One image stays one answer: a tensor (1, H, W), as ToTensor gives one.
    assert not isinstance(model.predict(images[0]), list)
    # torchvision's dataset.data[:4] (uint8 (4, H, W)) is four digits: it was read as one RGBA image, and
    # Keras's x_test[:1] is a batch of one: it was refused as "not an image".
    for few in (images[:4, 0], images[:3, 0], keras[:1], keras[:4]):
        assert [p.label for p in model.predict(few)] == expected[:len(few)]


@pytest.mark.parametrize(("damage", "words"), [
    ("state-keys", "unreadable training state (KeyError: 'model')"),
    ("state-list", "unreadable training state (TypeError: a list, not a dict)"),
    ("split-shape", "input_shape must be [1 or 3, height, width]"),
])
def test_a_damaged_run_folder_resumes_into_one_line(tiny_dataset, tmp_path, damage, words):
    stop = threading.Event()
    stop.set()
    with pytest.raises(tinyvision.Interrupted):
        tinyvision.train(dataset=tiny_dataset, out=tmp_path / "run", progress=False, plots=False, stop=stop,
                         epochs=2, **FAST)
    if damage == "split-shape":  # a hand-edited split.json must not become a 3000x3000 decode
        split = tmp_path / "run" / "split.json"
        split.write_text(json.dumps({"files": {}, "input_shape": [1, 3000, 3000]}))
        from tinyvision.datasets.split import split_beside

        with pytest.raises(tinyvision.TinyVisionError, match=words.replace("[", "\\[")):
            split_beside(split.parent)
        return
    torch.save({"hello": 1} if damage == "state-keys" else [1, 2], tmp_path / "run" / "train_state.pt")
    with pytest.raises(tinyvision.TinyVisionError, match=words.replace("(", "\\(").replace(")", "\\)")):
        tinyvision.train(resume=tmp_path / "run", progress=False, plots=False)


@pytest.mark.parametrize("plots", [False, True])
def test_training_gives_the_callers_random_generator_back_as_it_was(tiny_dataset, tmp_path, plots):
    # train() seeds torch's global generator; a notebook's next cell found it at the same fixed state whatever
    # it had seeded before. With the figures drawn (the default), loading the model for the mistakes figure
    # built its network from the caller's generator, and the next cell's numbers moved.
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    run = tinyvision.train(dataset=tiny_dataset, out=tmp_path / "run", epochs=1, limit_batches=1, progress=False,
                           plots=plots, **FAST)
    assert torch.equal(torch.rand(3), expected)
    assert run.metrics["worst_mistakes"] and (tmp_path / "run" / "misclassified.png").is_file() == plots

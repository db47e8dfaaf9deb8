"""`tinyvision export` (ONNX, TorchScript), `load("model.onnx")` and `predict --runtime onnx`.

The exported file is the inference path itself (normalisation, test-time
views, temperature), so it must answer as `Model.predict` and `evaluate` do.
ONNX is part of the dev install: these tests must run, never skip.
"""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import tinyvision
from conftest import fit_run
from tinyvision.cli import main
from tinyvision.config import RunConfig
from tinyvision.datasets import load_dataset


@pytest.fixture(params=[False, True], ids=["plain", "flip-tta"])
def tiny_run(request, tiny_dataset, tmp_path):
    flip = request.param  # the TTA views must be inside the exported graph too
    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3, hflip=flip,
                    tta_flip=flip).validate()
    metrics = fit_run(cfg, tmp_path / "run").metrics
    # It learned something (chance is 25%), so predictions are not all one class. Mirror images
    # swap the quadrant task's west and east classes, so the flip model learns less.
    assert metrics["test_acc"] > (0.35 if flip else 0.5)
    return tmp_path / "run"


def exported_logits(path, fmt, pixels: torch.Tensor) -> torch.Tensor:
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return torch.from_numpy(session.run(None, {"pixels": pixels.numpy()})[0])
    return torch.jit.load(str(path)).eval()(pixels).detach()


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_gives_pytorch_predictions_on_the_test_set(tiny_run, fmt, capsys):
    assert main(["export", str(tiny_run), "--format", fmt]) == 0
    out = capsys.readouterr().out
    path = tiny_run / ("model.onnx" if fmt == "onnx" else "model.pt")
    assert "same prediction for 128/128" in out
    sidecar = json.loads(path.with_name(path.name + ".json").read_text())
    assert sidecar["classes"] == ["nw", "ne", "sw", "se"] and sidecar["input"]["shape"] == ["N", 1, 12, 12]

    # Checked here independently of the CLI: the file alone, fed pixels/255 as documented.
    model = tinyvision.load(tiny_run)
    data = load_dataset("tiny")
    expected = model.logits(data.test_images)  # calibrated logits: the graph's output, exported as `logits`
    got = exported_logits(path, fmt, data.test_images.float() / 255.0)
    assert torch.equal(got.argmax(1), expected.argmax(1))
    assert (got - expected).abs().max() < 1e-4
    assert not [p for p in tiny_run.iterdir() if p.name.endswith(".tmp")]


def test_an_exported_onnx_file_loads_alone_and_evaluates_like_the_checkpoint(tiny_run, tmp_path):
    path = tinyvision.load(tiny_run).export("onnx", tmp_path / "alone" / "digits.onnx")
    exported = tinyvision.load(path)
    assert exported.classes == ("nw", "ne", "sw", "se") and exported.card.tta == tinyvision.load(tiny_run).card.tta
    a, b = tinyvision.load(tiny_run).evaluate(), exported.evaluate()
    assert a["confusion"] == b["confusion"] and a["test_acc"] == b["test_acc"]


def test_predict_with_onnx_runtime_matches_pytorch(tiny_run, tmp_path, capsys):
    files = []
    for i, image in enumerate(load_dataset("tiny").test_images[:6]):
        files.append(tmp_path / f"img{i}.png")
        Image.fromarray(np.repeat(image[0].numpy(), 10, 0).repeat(10, 1)).save(files[-1])
    args = ["predict", str(tiny_run), *map(str, files), "--json"]
    assert main([*args, "--runtime", "onnx"]) == 2  # not exported yet: a clear error
    assert "tinyvision export" in capsys.readouterr().err
    assert main(["export", str(tiny_run), "--format", "onnx", "--check-images", "0"]) == 0
    capsys.readouterr()
    assert main(args) == 0
    torch_result = json.loads(capsys.readouterr().out)
    assert main([*args, "--runtime", "onnx"]) == 0
    onnx_result = json.loads(capsys.readouterr().out)
    assert [r["prediction"] for r in onnx_result] == [r["prediction"] for r in torch_result]
    for a, b in zip(onnx_result, torch_result):
        assert [t["probability"] for t in a["top"]] == pytest.approx([t["probability"] for t in b["top"]], abs=1e-5)


def test_export_never_writes_over_the_checkpoint_it_reads(tiny_dataset, tmp_path, capsys):
    # `--out RUN/model.safetensors` replaced the run's model with a TorchScript file and reported success.
    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, seed=3).validate()
    fit_run(cfg, tmp_path / "run")
    model = tmp_path / "run" / "model.safetensors"
    before = model.read_bytes()
    for target in (model, tmp_path / "run" / "train_state.pt"):
        assert main(["export", str(tmp_path / "run"), "--format", "torchscript", "--out", str(target)]) == 2
        assert "the run's own" in capsys.readouterr().err
    assert model.read_bytes() == before


def test_export_refuses_a_missing_checkpoint(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing"), "--format", "torchscript"]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_a_sidecar_that_cannot_be_written_leaves_no_model_and_one_of_another_export_is_refused(tiny_dataset,
                                                                                                tmp_path, capsys):
    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3, limit_batches=2).validate()
    fit_run(cfg, tmp_path / "run")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "m.onnx.json").mkdir()  # where the sidecar belongs, a folder
    assert main(["export", str(tmp_path / "run"), "--format", "onnx", "--out", str(tmp_path / "out" / "m.onnx")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m.onnx.json"]  # no model without its card

    path = tinyvision.load(tmp_path / "run").export("onnx", tmp_path / "ok" / "m.onnx")
    sidecar = path.with_name(path.name + ".json")
    card = json.loads(sidecar.read_text())
    card["card"]["classes"] = ["a", "b", "c", "d", "e"]  # five classes for a model of four outputs
    sidecar.write_text(json.dumps(card))
    with pytest.raises(tinyvision.TinyVisionError, match="a sidecar of another export"):
        tinyvision.load(path)


def test_a_card_beside_another_exports_model_is_refused(tiny_dataset, tmp_path):
    # Exporting over an earlier export publishes the card, then the model: killed between the two, the new
    # card sat beside the old model, same classes and shape, and their answers were read with no warning.
    runs = []
    for seed in (3, 4):
        cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=seed, limit_batches=2).validate()
        fit_run(cfg, tmp_path / f"run{seed}")
        runs.append(tinyvision.load(tmp_path / f"run{seed}").export("onnx", tmp_path / f"m{seed}.onnx"))
    assert tinyvision.load(runs[0]).card.temperature is not None  # each export loads with its own card
    runs[1].with_name(runs[1].name + ".json").replace(runs[0].with_name(runs[0].name + ".json"))
    with pytest.raises(tinyvision.TinyVisionError, match="the card of another export"):
        tinyvision.load(runs[0])


def test_an_exported_model_serves_without_the_saliency_and_says_so(tiny_run, tmp_path):
    from fastapi.testclient import TestClient

    from tinyvision.serve import ServeOptions, create_app

    image = load_dataset("tiny").test_images[0]
    Image.fromarray(np.repeat(image[0].numpy(), 10, 0).repeat(10, 1)).save(tmp_path / "one.png")
    path = tinyvision.load(tiny_run).export("onnx", tmp_path / "m.onnx")
    for model, explains in ((tinyvision.load(tiny_run), True), (tinyvision.load(path), False)):
        client = TestClient(create_app(model, ServeOptions(workers=1, queue=1, processes=False)))
        assert client.get("/api/model").json()["explain"] is explains
        reply = client.post("/api/predict?explain=1", content=(tmp_path / "one.png").read_bytes())
        assert reply.status_code == 200 and ("saliency_png" in reply.json()) is explains


def test_a_torchscript_export_is_not_loaded_and_a_prediction_prints_short(tiny_run, tmp_path):
    import io

    path = tinyvision.load(tiny_run).export("torchscript", tmp_path / "m.pt")
    with pytest.raises(tinyvision.TinyVisionError, match=r"\(a pickle or a TorchScript export: a program"):
        tinyvision.load(path)
    with pytest.raises(tinyvision.TinyVisionError, match="a training state, for resuming its run"):
        tinyvision.load(tiny_run / "train_state.pt")  # not called a TorchScript export
    image = load_dataset("tiny").test_images[0]
    buffer = io.BytesIO()
    Image.fromarray(np.repeat(image[0].numpy(), 10, 0).repeat(10, 1)).save(buffer, format="PNG")
    model = tinyvision.load(tiny_run)
    buffer.seek(0)
    prediction = model.predict(buffer)  # an open binary file, as an upload or io.BytesIO gives one
    assert prediction.label == model.predict(buffer.getvalue()).label
    assert len(repr(prediction)) < 200 and repr(prediction).startswith(f"Prediction(label={prediction.label!r}")


def test_a_stale_nan_or_misnamed_export_is_caught(tiny_dataset, tmp_path, monkeypatch, capsys):
    # A run's model.onnx exported before the run was resumed answered with the old weights through
    # --runtime onnx, without a word; an exported file answering NaN passed the check ("max |logit
    # difference| 0.00e+00", as Python's max() drops NaN); --out RUN/config.json wrote the graph over the
    # run's config; and an ONNX graph named .pt was then refused as TorchScript.
    import tinyvision.export as export

    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3, limit_batches=2).validate()
    run = tmp_path / "run"
    fit_run(cfg, run)
    assert main(["export", str(run), "--format", "onnx", "--check-images", "8"]) == 0
    assert tinyvision.load(run, runtime="onnx").predict(np.zeros((12, 12), np.uint8)) is not None
    fit_run(RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=4, limit_batches=2).validate(),
            tmp_path / "other")
    (tmp_path / "other" / "model.safetensors").replace(run / "model.safetensors")  # the run went on
    with pytest.raises(tinyvision.TinyVisionError, match="exported from other weights"):
        tinyvision.load(run, runtime="onnx")
    assert main(["predict", str(run), "--runtime", "onnx", str(tmp_path / "none.png")]) == 2
    assert "export it again" in capsys.readouterr().err

    real = export.load_runner
    monkeypatch.setattr(export, "load_runner", lambda path, fmt: lambda x: real(path, fmt)(x) * float("nan"))
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "nan.onnx")]) == 1
    assert "max |logit difference| inf" in capsys.readouterr().out and not (tmp_path / "nan.onnx").exists()
    monkeypatch.setattr(export, "load_runner", real)

    config = (run / "config.json").read_bytes()
    (tmp_path / "link.onnx").symlink_to(run / "config.json")  # renamed over, a link became a file
    for out, words in ((run / "config.json", "the run's own"), (tmp_path / "m.pt", "names a torchscript file"),
                       (tmp_path / "link.onnx", "a link"), (tmp_path, "a folder")):
        assert main(["export", str(run), "--format", "onnx", "--out", str(out)]) == 2
        assert words in capsys.readouterr().err
    assert (run / "config.json").read_bytes() == config and not (tmp_path / "m.pt").exists()
    assert (tmp_path / "link.onnx").is_symlink()
    # Nor over a file of another kind: `--out photo.png` replaced a user's photo with a graph no loader reads.
    (tmp_path / "photo.png").write_bytes(b"a user's photo")
    for out in (tmp_path / "photo.png", tmp_path / "model"):
        assert main(["export", str(run), "--format", "onnx", "--out", str(out)]) == 2
        assert "a onnx export is named *.onnx" in capsys.readouterr().err
    with pytest.raises(tinyvision.TinyVisionError, match=r"a torchscript export is named \*\.pt"):
        tinyvision.load(run).export("torchscript", tmp_path / "photo.png")
    assert (tmp_path / "photo.png").read_bytes() == b"a user's photo" and not (tmp_path / "model").exists()


def test_an_export_stopped_during_its_check_publishes_nothing(tiny_dataset, tmp_path, monkeypatch):
    # Ctrl-C during the check left model.onnx in place, published and never checked.
    import tinyvision.export as export

    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3, limit_batches=2).validate()
    fit_run(cfg, tmp_path / "run")
    before = sorted(p.name for p in (tmp_path / "run").iterdir())

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "check_parity", stopped)
    assert main(["export", str(tmp_path / "run"), "--format", "onnx"]) == 130  # as the CLI answers Ctrl-C
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == before  # nothing new, nothing hidden


def test_exporting_and_loading_an_export_leave_the_callers_random_generator_as_it_was(tiny_dataset, tmp_path):
    # The example traced through the graph was drawn from torch's global generator: a seeded notebook that
    # exported its model got other numbers afterwards than without the export.
    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3, limit_batches=2).validate()
    fit_run(cfg, tmp_path / "run")
    model = tinyvision.load(tmp_path / "run")
    for step in (lambda: model.export("onnx", tmp_path / "m.onnx"), lambda: tinyvision.load(tmp_path / "m.onnx"),
                 lambda: model.export("torchscript", tmp_path / "m.pt")):
        torch.manual_seed(1234)
        expected = torch.rand(3)
        torch.manual_seed(1234)
        step()
        assert torch.equal(torch.rand(3), expected)


def test_a_missing_onnx_file_suggests_an_export_command_that_writes_it(tiny_dataset, tmp_path, capsys):
    # `predict RUN/model.onnx` suggested `tinyvision export RUN/model.onnx --format onnx`, which failed with the
    # same message: export reads a run folder or its checkpoint, not the file it is to write.
    import shlex

    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3, limit_batches=2).validate()
    run = tmp_path / "my run"  # (a space: the suggested command must still be one the shell runs)
    fit_run(cfg, run)
    image = tmp_path / "x.png"
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(image)
    for onnx in (run / "model.onnx", run / "digits.onnx", tmp_path / "elsewhere" / "m.onnx"):
        assert main(["predict", str(onnx), str(image)]) == 2
        err = capsys.readouterr().err
        suggested = shlex.split(err.split("write it first with: ")[1])
        assert suggested[:2] == ["tinyvision", "export"], err
        if onnx.parent != run:  # no run beside it: the command names where to put its own run folder
            assert suggested[2] == "RUN_DIR"
            suggested[2] = str(run)
        assert main(suggested[1:] + ["--check-images", "0"]) == 0
        capsys.readouterr()
        assert main(["predict", str(onnx), str(image)]) == 0


def test_an_export_of_an_unfinished_run_says_how_to_get_a_finished_one(tiny_dataset, tmp_path):
    # Exported before its run finished, then the run finished with --resume: loading the .onnx still warned
    # "finish it with: tinyvision.train(resume=RUN)", which answered that RUN had already finished. An export
    # written elsewhere pointed resume at the folder it lay in, no run at all.
    import threading
    import warnings

    from tinyvision.errors import UnfinishedRunWarning
    from tinyvision.training import Interrupted

    cfg = RunConfig(dataset=tiny_dataset, epochs=2, batch_size=32, lr=0.05, seed=3, limit_batches=2).validate()
    stop = threading.Event()
    stop.set()
    with pytest.raises(Interrupted):
        fit_run(cfg, tmp_path / "run", stop=stop)
    with pytest.warns(UnfinishedRunWarning):
        model = tinyvision.load(tmp_path / "run")
    model.export("onnx")
    model.export("onnx", tmp_path / "elsewhere" / "m.onnx")
    with pytest.warns(UnfinishedRunWarning, match=r"finish its run with: .*resume=.*then export it again") as seen:
        tinyvision.load(tmp_path / "elsewhere" / "m.onnx")
    assert "RUN_DIR" in str(seen[0].message) and str(tmp_path / "elsewhere'") not in str(seen[0].message)

    fit_run(cfg, tmp_path / "run", resume=True)
    with pytest.warns(UnfinishedRunWarning, match="its run has finished since: export it again with: ") as seen:
        tinyvision.load(tmp_path / "run" / "model.onnx")
    message = str(seen[0].message)
    assert "resume" not in message
    assert main(message.split("export it again with: tinyvision ")[1].split() + ["--check-images", "0"]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnfinishedRunWarning)
        tinyvision.load(tmp_path / "run" / "model.onnx")


def hostile_export(path, extra_output: bool):
    """`path` (an export) with a node computing a tensor of 4 TB: as a second output, or added to the logits
    (its sum, a scalar) so that the one output stays as its card says; its sidecar's checksum updated."""
    import hashlib

    import onnx
    from onnx import TensorProto, helper

    graph = onnx.load(str(path))
    size = helper.make_tensor("size", TensorProto.INT64, [2], [1 << 20, 1 << 20])
    graph.graph.initializer.append(size)
    graph.graph.node.append(helper.make_node("ConstantOfShape", ["size"], ["huge"]))
    if extra_output:
        graph.graph.output.append(helper.make_tensor_value_info("huge", TensorProto.FLOAT, None))
    else:
        logits = graph.graph.output[0].name
        for node in graph.graph.node:
            node.output[:] = [f"{o}_raw" if o == logits else o for o in node.output]
        graph.graph.node.append(helper.make_node("ReduceSum", ["huge"], ["total"], keepdims=0))
        graph.graph.node.append(helper.make_node("Add", [f"{logits}_raw", "total"], [logits]))
    onnx.save(graph, str(path))
    sidecar = path.with_name(path.name + ".json")
    card = json.loads(sidecar.read_text())
    card["model_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    sidecar.write_text(json.dumps(card))


def test_an_onnx_file_with_another_output_or_failing_to_run_is_refused_in_one_line(tiny_dataset, tmp_path, capsys):
    # A second output was computed at every prediction and, failing in ONNX Runtime, ended in its traceback.
    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3, limit_batches=2).validate()
    fit_run(cfg, tmp_path / "run")
    image = tmp_path / "x.png"
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(image)
    exported = tinyvision.load(tmp_path / "run").export("onnx", tmp_path / "m.onnx")
    for extra_output in (True, False):
        path = tmp_path / f"m{extra_output}.onnx"
        path.write_bytes(exported.read_bytes())
        path.with_name(path.name + ".json").write_text(exported.with_name(exported.name + ".json").read_text())
        hostile_export(path, extra_output)
        capsys.readouterr()
        assert main(["predict", str(path), str(image)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert ("1 inputs and 2 outputs" if extra_output else "the exported model failed to run") in err


def test_an_export_killed_midway_leaves_no_hidden_copy_for_good(tiny_dataset, tmp_path):
    # Killed (SIGKILL, SIGTERM) while writing or checking, an export left `.model.onnx.<pid>.unchecked.onnx`
    # (its card, or the temporary file it was written through) in the run folder; no later export removed it.
    import os
    import time

    cfg = RunConfig(dataset=tiny_dataset, epochs=1, batch_size=32, lr=0.05, seed=3, limit_batches=2).validate()
    run = tmp_path / "run"
    fit_run(cfg, run)
    before = sorted(p.name for p in run.iterdir())
    gone = 2 ** 22 + 7  # above Linux's largest process id: no such process
    left = [f".model.onnx.{gone}.unchecked.onnx", f".model.onnx.{gone}.unchecked.onnx.json",
            f"..model.onnx.{gone}.unchecked.onnx.{gone}.k2j4x1.tmp"]
    live = f".model.onnx.{os.getppid()}.unchecked.onnx"  # an export still running (this process's parent): kept
    old = time.time() - 3600
    for name in (*left, live):
        (run / name).write_bytes(b"half a model")
        os.utime(run / name, (old, old))
    assert main(["export", str(run), "--format", "onnx", "--check-images", "4"]) == 0
    after = sorted(p.name for p in run.iterdir())
    assert after == sorted({*before, "model.onnx", "model.onnx.json", live}), (before, after)


def test_sigterm_during_an_export_ends_it_like_ctrl_c_leaving_nothing(tmp_path):
    # docker stop, systemd and Kubernetes send SIGTERM: mid-export it ended the command at once (rc -15, not a
    # word), its staged model left beside the run's files until a later export cleaned it.
    import os
    import signal
    import subprocess
    import sys
    import time

    from digit_photos import untrained_digit_checkpoint

    run = tmp_path / "run"
    run.mkdir()
    untrained_digit_checkpoint(run / "model.safetensors")  # its test set is the bundled MNIST: checked here
    before = sorted(os.listdir(run))
    proc = subprocess.Popen([sys.executable, "-m", "tinyvision", "export", str(run), "--format", "onnx"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and not any(".unchecked" in n for n in os.listdir(run)):
        time.sleep(0.005)
    assert proc.poll() is None, "the export ended before it was staged"
    proc.send_signal(signal.SIGTERM)  # as it writes the model under a hidden name, to check it before publishing
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (130, "", "tinyvision: interrupted\n")  # as after Ctrl-C
    assert sorted(os.listdir(run)) == before  # nothing published, nothing hidden left

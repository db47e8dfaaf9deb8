"""End-to-end: the real command line, in subprocesses, on the bundled MNIST."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinyvision.cli import main


def tinyvision(*args: str, cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tinyvision", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, cwd=cwd,
    )


def without_times(history):
    return [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in history]


def test_train_evaluate_files_and_plots(tmp_path, capsys):
    run = tmp_path / "run"
    result = tinyvision("train", "--epochs", "2", "--limit-batches", "30", "--out", run, "--progress", "lines")
    assert result.returncode == 0, result.stderr
    assert "epoch   2/2" in result.stdout and "test_acc" in result.stdout
    for name in ("config.json", "metrics.csv", "metrics.json", "curves.png", "confusion.png",
                 "misclassified.png", "model.safetensors", "train_state.pt"):
        assert (run / name).stat().st_size > 0, name
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"] == "tvnet-digits" and len(metrics["history"]) == 2
    # 30 steps of the default CNN on real digits: far above chance (10%) already.
    assert metrics["test_acc"] > 0.7

    result = tinyvision("evaluate", run, "--json", "--limit-batches", "2")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["test_count"] == 2000 and report["test_acc"] > 0.7
    assert len(report["per_class"]) == 10 and sum(map(sum, report["confusion"])) == 2000
    assert (run / "evaluation_confusion.png").exists()

    # A bare checkpoint file evaluates too (in this process: the command line itself was run above).
    capsys.readouterr()
    assert main(["evaluate", str(run / "model.safetensors"), "--limit-batches", "1"]) == 0
    assert "precision" in capsys.readouterr().out


def stopped_after_an_epoch(flags: list[str], run: Path, sig: int) -> str:
    """Train in a child process, send it `sig` once its first epoch is saved; its stderr (exit 130 checked)."""
    proc = subprocess.Popen([sys.executable, "-m", "tinyvision", "train", *flags, "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "metrics.csv").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "training finished before it could be stopped"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    return err


def test_ctrl_c_saves_and_resume_matches_an_uninterrupted_run(tmp_path):
    # Two epochs (stopped after the first, resumed for the second) on a small validation split: what is
    # checked is that the resumed run continues exactly, not what it reaches (the suite's slowest test).
    flags = ["--epochs", "2", "--limit-batches", "20", "--val-fraction", "0.02", "--translate", "1",
             "--progress", "lines", "--no-plots"]
    straight = tinyvision("train", *flags, "--out", tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr

    run = tmp_path / "broken"
    err = stopped_after_an_epoch(flags, run, signal.SIGINT)  # what Ctrl-C sends
    assert "--resume" in err and "Traceback" not in err
    assert not (run / "metrics.json").exists()  # the run is not finished

    resumed = tinyvision("train", "--resume", run, "--progress", "lines", "--no-plots")
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    b = json.loads((run / "metrics.json").read_text())
    assert without_times(a["history"]) == without_times(b["history"])
    assert a["test_loss"] == b["test_loss"] and a["confusion"] == b["confusion"]


def test_sigterm_stops_and_saves_like_ctrl_c(tmp_path):
    # docker stop, Slurm preemption, systemd and Kubernetes send SIGTERM: it killed the run mid-epoch,
    # unsaved, its status left "running".
    run = tmp_path / "run"
    flags = ["--preset", "fast", "--epochs", "3", "--limit-batches", "60", "--progress", "lines", "--no-plots"]
    err = stopped_after_an_epoch(flags, run, signal.SIGTERM)
    assert "--resume" in err and "Traceback" not in err, err
    assert json.loads((run / "status.json").read_text())["status"] == "interrupted"
    assert (run / "train_state.pt").exists()


def finished_digit_run(run: Path) -> Path:
    """A run folder as training leaves it (an untrained model, made-up metrics): what `plot` redraws."""
    from digit_photos import untrained_digit_checkpoint

    run.mkdir()
    untrained_digit_checkpoint(run / "model.safetensors")
    (run / "config.json").write_text(json.dumps({"model": "tvnet", "dataset": "mnist", "epochs": 1}))
    (run / "metrics.json").write_text(json.dumps({
        "model": "tvnet", "dataset": "mnist", "test_acc": 0.9, "classes": [str(d) for d in range(10)],
        "history": [{"epoch": 1, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.6, "val_acc": 0.7}],
        "confusion": [[5 if i == j else 0 for j in range(10)] for i in range(10)],
        "worst_mistakes": [{"index": 4, "label": 1, "predicted": 2, "confidence": 0.9}]}))
    return run


def test_ctrl_c_at_any_moment_of_a_command_is_one_line_and_exit_130(tmp_path):
    # Landing as the command imported (numpy, torch, matplotlib: about one early Ctrl-C in five), it printed a
    # traceback: KeyboardInterrupt before main() had started, "ImportError: cannot load module more than once
    # per process" or an AttributeError of a half-imported numpy within it.
    run = finished_digit_run(tmp_path / "run")
    # The interpreter's start and `import tinyvision` come before any of the package's code can answer a
    # Ctrl-C: the signals are sent after them, however long they take on this machine now.
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import tinyvision"], check=True)
    start = 2 * (time.monotonic() - started)
    for i in range(6):
        delay = start + 0.17 * i  # through the imports (about 0.8 s) into the drawing
        proc = subprocess.Popen([sys.executable, "-m", "tinyvision", "plot", str(run)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, (delay, err)
        # -2: Python ends by SIGINT itself when a KeyboardInterrupt passed through code it ran (PyRun_String),
        # caught or not; a shell shows both as 130.
        code = 130 if proc.returncode == -signal.SIGINT else proc.returncode
        assert (code, err) in ((130, "tinyvision: interrupted\n"), (0, "")), (delay, proc.returncode, err)


@pytest.fixture
def ctrl_c_possible():
    """Python's own Ctrl-C handler for one test. A process started with SIGINT ignored (a background job of a
    shell without job control, as a CI runner may start the suite) gets no Ctrl-C, and Python keeps it ignored:
    a Ctrl-C raised in the test would then be lost, and the command would go on."""
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_ctrl_c_that_an_import_turns_into_another_exception_is_still_an_interruption(tmp_path, monkeypatch,
                                                                                      capsys, ctrl_c_possible):
    # The moment the test above reaches only now and then, made certain: numpy's import, interrupted, raised
    # ImportError, and the command ended in that traceback.
    from tinyvision.run import Run

    def drawn_while_numpy_imports(self, test_images=None):
        try:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C
        except KeyboardInterrupt:
            raise ImportError("cannot load module more than once per process") from None  # as numpy's import did

    monkeypatch.setattr(Run, "draw", drawn_while_numpy_imports)
    assert main(["plot", str(finished_digit_run(tmp_path / "run"))]) == 130
    assert capsys.readouterr().err == "tinyvision: interrupted\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the caller's handler, as it was

    def broken(self, test_images=None):
        raise ImportError("a real bug")

    monkeypatch.setattr(Run, "draw", broken)
    with pytest.raises(ImportError, match="a real bug"):  # with no Ctrl-C before it, a bug is shown as one
        main(["plot", str(tmp_path / "run")])


def test_names_too_long_and_run_folders_named_in_bytes_are_one_line_errors(tmp_path):
    long = tmp_path / ("x" * 300)  # one component over the 255 bytes a file system allows
    for args in (["predict", long, tmp_path / "x.png"], ["plot", long], ["runs", long]):
        result = tinyvision(*args)
        assert result.returncode == 2 and result.stderr.startswith("tinyvision: error: "), result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    bad = os.fsdecode(bytes(tmp_path) + b"/bad\xff")
    result = tinyvision("train", "--preset", "fast", "--out", bad)
    assert result.returncode == 2 and "UTF-8" in result.stderr, result.stderr
    assert not os.path.exists(bad)


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--model", "resnet9000"], "unknown model 'resnet9000'"),
        (["train", "--epochs", "0"], "--epochs must be at least 1"),
        (["train", "--val-fraction", "1.5"], "--val-fraction"),
        (["train", "--preset", "nope"], "unknown preset"),
        (["train", "--batch-size", "many"], "invalid int value"),
        (["train", "--data-dir", "DOES-NOT-EXIST"], "not a folder"),
        (["train", "--resume", "DOES-NOT-EXIST"], "not a run folder"),
        (["evaluate", "DOES-NOT-EXIST"], "no checkpoint"),
        (["frobnicate"], "invalid choice"),
        (["train", "--weight-decay", "-1"], "--weight-decay must be >= 0"),
        (["train", "--lr", "nan"], "--lr must be a positive number"),
        (["train", "--cut-digits", "2"], "--cut-digits must be in [0, 1]"),
        # Refused before the photos are loaded, or downloaded: none are here.
        (["train", "--dataset", "cifar10", "--cut-digits", "0.1"], "cifar10 is not a digit dataset"),
        (["train", "--dataset", "cifar10", "--outlier-exposure", "0.5"], "cifar10 is not a digit dataset"),
        (["serve", "DOES-NOT-EXIST", "--workers", "100000"], "--workers must be from 1 to 64"),
        (["serve", "DOES-NOT-EXIST", "--predict-seconds", "inf"], "--predict-seconds must be a positive"),
        (["serve", "DOES-NOT-EXIST", "--port", "99999"], "--port must be from 0 to 65535"),
        (["runs", "DOES-NOT-EXIST"], "is not a folder"),
        (["check-data", "folder:"], "folder: needs a folder after it"),  # not the working directory
        (["train", "--dataset", "digits: "], "digits: needs a folder after it"),
    ],
)
def test_user_errors_are_one_line_exit_2_and_write_nothing(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)  # in-process (fast); the subprocess tests cover the entry point
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert list(tmp_path.iterdir()) == []  # no run folder, no half-written file


def test_corrupt_data_file_is_refused(tmp_path, mnist_copy):
    path = mnist_copy / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-5000])  # truncated download
    result = tinyvision("train", "--data-dir", mnist_copy, "--out", tmp_path / "run")
    assert result.returncode == 2
    assert "truncated or corrupt gzip" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_resume_refuses_conflicting_flags(tmp_path):
    run = tmp_path / "run"
    assert tinyvision("train", "--dry-run", "--no-plots", "--out", run).returncode == 0
    result = tinyvision("train", "--resume", run, "--model", "mlp")
    assert result.returncode == 2 and "drop --model" in result.stderr


def test_models_lists_every_model_with_its_size():
    result = tinyvision("models")
    assert result.returncode == 0
    assert "tutorial-a" in result.stdout and "421,834" in result.stdout and "mlp" in result.stdout




def test_the_cli_and_the_package_import_without_torch_and_describe_themselves():
    check = "import sys, tinyvision, tinyvision.cli; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"  # `tinyvision --help` answers at once: torch loads per command
    version = subprocess.run([sys.executable, "-m", "tinyvision", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("tinyvision ")
    helped = subprocess.run([sys.executable, "-m", "tinyvision", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "tinyvision train" in helped.stdout and "examples:" in helped.stdout


def test_output_piped_into_a_reader_that_stops_early_ends_quietly():
    """`tinyvision models | head -1`: the reader closes the pipe; the command stops without a traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "tinyvision", "models"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # before the command has started: every write it makes meets a closed pipe
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"Exception ignored" not in err, err.decode()
    assert proc.returncode == 141


def test_runs_lists_every_folder_however_damaged_and_damaged_metrics_are_one_line(tmp_path, capsys):
    def folder(name: str, config="{}", metrics=None, status=None, csv=None) -> Path:
        path = tmp_path / "runs" / name
        path.mkdir(parents=True)
        (path / "config.json").write_text(config)
        for file, text in (("metrics.json", metrics), ("status.json", status), ("metrics.csv", csv)):
            if text is not None:
                (path / file).write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    good = json.dumps({"model": "tvnet", "dataset": "mnist", "epochs": 2})
    folder("good", good, json.dumps({"test_acc": 0.99, "train_seconds": 12.0}), json.dumps({"status": "finished"}))
    folder("config-list", "[]")
    folder("config-binary", b"\xff\xfe".decode("latin-1"))
    folder("metrics-list", good, "[1]")
    folder("metrics-string-acc", good, json.dumps({"test_acc": "high"}))
    folder("status-bad-pid", good, status=json.dumps({"status": "running", "pid": "?", "host": __import__(
        "socket").gethostname(), "time": 0}))
    folder("status-null", good, status="null")
    folder("csv-not-utf8", good, csv=b"epoch,train_seconds\n1,\xff\xfe\n")
    assert main(["runs", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    for name in ("good", "config-list", "config-binary", "metrics-list", "metrics-string-acc", "status-bad-pid",
                 "status-null", "csv-not-utf8"):
        assert f"runs/{name} " in out, name
    assert "unreadable config.json" in out and "unreadable status.json" in out and "99.00%" in out
    from tinyvision import Run, TinyVisionError

    with pytest.raises(TinyVisionError, match="metrics.json: unreadable metrics \\(not a JSON object"):
        _ = Run(tmp_path / "runs" / "metrics-list").metrics  # what plot and the notebook read


@pytest.mark.parametrize("damage", ["history a string", "an epoch without losses", "confusion a number",
                                    "confusion ragged", "mistakes a mapping", "a mistake's class beyond the classes",
                                    "no model name", "classes a string"])
def test_metrics_of_the_wrong_types_are_one_line_for_plot_and_the_notebook(tmp_path, capsys, damage):
    # Each was a traceback from plot (TypeError, KeyError, IndexError, matplotlib's), and repr(Run) raised.
    from digit_photos import untrained_digit_checkpoint
    from tinyvision import Run

    classes = [str(d) for d in range(10)]
    metrics = {"model": "tvnet", "dataset": "mnist", "test_acc": 0.9, "classes": classes,
               "history": [{"epoch": 1, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.6, "val_acc": 0.7}],
               "confusion": [[5 if i == j else 0 for j in range(10)] for i in range(10)],
               "worst_mistakes": [{"index": 4, "label": 1, "predicted": 2, "confidence": 0.9}]}
    run = tmp_path / "run"
    run.mkdir()
    untrained_digit_checkpoint(run / "model.safetensors")
    (run / "config.json").write_text(json.dumps({"model": "tvnet", "dataset": "mnist", "epochs": 1}))
    (run / "metrics.json").write_text(json.dumps(metrics))
    from tinyvision.run_folder import RunFolder

    assert RunFolder(run).read_metrics() == metrics  # as training writes it: read
    broken = json.loads(json.dumps(metrics))
    if damage == "history a string":
        broken["history"] = "abc"
    elif damage == "an epoch without losses":
        broken["history"] = [{"epoch": "x"}]
    elif damage == "confusion a number":
        broken["confusion"] = 5
    elif damage == "confusion ragged":
        broken["confusion"] = [[1, 2], [3]]
    elif damage == "mistakes a mapping":
        broken["worst_mistakes"] = {"a": 1}
    elif damage == "a mistake's class beyond the classes":
        broken["worst_mistakes"][0]["predicted"] = 12
    elif damage == "no model name":
        del broken["model"]
    else:
        broken["classes"] = "012"  # was read as three classes, one letter each
    (run / "metrics.json").write_text(json.dumps(broken))
    assert main(["plot", str(run)]) == 2
    err = capsys.readouterr().err
    assert "unreadable metrics" in err and len(err.strip().splitlines()) == 1
    assert "unfinished" in repr(Run(run))


def test_train_help_names_every_preset_and_dataset_form():
    from tinyvision.config import PRESETS

    helped = tinyvision("train", "--help").stdout
    assert all(name in helped for name in PRESETS) and "digits:PATH" in helped and "folder:PATH" in helped
    # --precision said inference stays fp32 "on CPU"; it is fp32 on every device (device.autocast), GPU too.
    words = " ".join(helped.split())
    assert "fp32 on every device" in words and "fp32 on CPU" not in words

"""Durable writes: a file is flushed before it is renamed into place, and its folder after; of two
runs racing for one folder, exactly one wins, through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tinyvision import atomic
from tinyvision.atomic import write_json


def test_an_atomic_write_flushes_the_file_then_renames_then_flushes_the_folder(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = atomic.fsync_path, os.replace
    monkeypatch.setattr(atomic, "fsync_path", lambda p: (events.append(("fsync", Path(p))), real_fsync(p)))
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (events.append(("replace", Path(b))), real_replace(a, b)))
    target = tmp_path / "run" / "metrics.json"
    write_json(target, {"test_acc": 0.99})
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "replace", "fsync"], events
    assert events[0][1].parent == target.parent and events[0][1] != target  # the temporary file, beside it
    assert events[1][1] == target and events[2][1] == target.parent
    assert json.loads(target.read_text()) == {"test_acc": 0.99}
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]  # no temporary file left


def test_a_bundle_is_written_whole_or_not_at_all(tmp_path):
    """write_npz (the make_*.py scripts' bundles): the arrays come back, no temporary file is left, and a
    write that fails keeps the previous bundle."""
    import numpy as np

    from tinyvision.atomic import write_npz

    target = tmp_path / "bundle-v1.npz"
    write_npz(target, images=np.arange(6, dtype=np.uint8).reshape(2, 3), labels=np.array([3, 7]))
    with np.load(target) as z:
        assert z["images"].tolist() == [[0, 1, 2], [3, 4, 5]] and z["labels"].tolist() == [3, 7]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle-v1.npz"]
    before = target.read_bytes()

    class Unsaveable:
        def __reduce__(self):
            raise RuntimeError("cannot be saved")

    with pytest.raises(RuntimeError, match="cannot be saved"):  # fails halfway through writing the archive
        write_npz(target, images=np.zeros((2, 3), np.uint8), bad=np.array([Unsaveable()], dtype=object))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["bundle-v1.npz"]


def test_of_writers_racing_for_one_name_exactly_one_publishes(tmp_path):
    target = tmp_path / "config.json"
    start, outcomes = threading.Barrier(8), []

    def claim(i: int) -> None:
        start.wait()
        try:
            write_json(target, {"writer": i}, exclusive=True)
            outcomes.append(("won", i))
        except FileExistsError:
            outcomes.append(("lost", i))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [i for outcome, i in outcomes if outcome == "won"]
    assert len(winners) == 1 and len(outcomes) == 8
    assert json.loads(target.read_text()) == {"writer": winners[0]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_two_cli_runs_racing_for_one_folder_one_wins_the_other_exits_2_with_one_line(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "tinyvision", "train", "--dry-run", "--out", str(out), "--no-plots",
               "--progress", "lines"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [(p, *p.communicate(timeout=300)) for p in procs]
    codes = sorted(p.returncode for p, _, _ in results)
    assert codes == [0, 2], [(p.returncode, err[-1500:]) for p, _, err in results]
    loser_err = next(err for p, _, err in results if p.returncode == 2).strip()
    assert len(loser_err.splitlines()) == 1, loser_err
    assert "already holds a run" in loser_err and str(out) in loser_err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 1
    status = out / "status.json"
    if status.exists():  # the loser never marks the winner's folder
        assert json.loads(status.read_text())["status"] == "finished"


def test_a_path_that_cannot_be_written_is_one_line_not_a_traceback(tmp_path):
    from tinyvision.errors import TinyVisionError

    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    for target, why in ((tmp_path / "a-file" / "out.png", "cannot write"), (tmp_path / "a-folder", "is a folder")):
        with pytest.raises(TinyVisionError, match=why):
            atomic.write_bytes(target, b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder"]  # nothing half-written


@pytest.mark.parametrize("what", ["checkpoint", "training state"])
def test_a_full_disk_is_one_line_and_leaves_no_temporary(tmp_path, monkeypatch, what):
    import errno

    import torch

    from tinyvision.checkpoint import ModelCard, save_model, save_train_state
    from tinyvision.errors import TinyVisionError
    from tinyvision.models import create_model
    from tinyvision.normalization import Normalization

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(TinyVisionError, match="cannot write .*: No space left on device"):
        if what == "checkpoint":
            card = ModelCard("tvnet", (1, 28, 28), tuple("0123456789"), Normalization((0.5,), (0.5,)), "mnist", {},
                             "test", {})
            save_model(tmp_path / "model.safetensors", create_model("tvnet", (1, 28, 28), 10), card)
        else:
            save_train_state(tmp_path / "train_state.pt", {"step": torch.tensor(3)})
    assert list(tmp_path.iterdir()) == []


def test_a_temporary_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    # SIGKILL mid-write left a full-size hidden .NAME.*.tmp beside the target for good; nothing cleaned it.
    code = ("import os, sys\nfrom tinyvision.atomic import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_bytes(b'x' * 100000)\n    os._exit(9)\n")
    target = tmp_path / "model.safetensors"
    assert subprocess.run([sys.executable, "-c", code, str(target)]).returncode == 9  # killed mid-write
    left = list(tmp_path.glob(".model.safetensors.*.tmp"))
    assert len(left) == 1 and not target.exists()
    write_json(target, {"fresh": True})  # a write right after: the dead writer's file is too recent to judge
    assert left[0].exists()
    os.utime(left[0], (0, 0))  # unchanged for long, its writer gone: stale
    live = tmp_path / f".model.safetensors.{os.getpid()}.alive.tmp"  # an old file of a live writer: kept
    live.write_bytes(b"")
    os.utime(live, (0, 0))
    write_json(target, {"fresh": True})
    assert not left[0].exists() and live.exists()
    assert json.loads(target.read_text()) == {"fresh": True}


def test_a_write_under_a_file_names_the_file_that_is_not_a_folder(tmp_path):
    # `evaluate --out report.md`, `explain --out x.png`, `predict --show-input FIFO`: mkdir's "File exists" named
    # no culprit and read as a refusal to write over an existing file.
    from tinyvision.errors import TinyVisionError

    (tmp_path / "report.md").write_text("an earlier report\n")
    os.mkfifo(tmp_path / "fifo")
    for above in (tmp_path / "report.md", tmp_path / "fifo"):
        for target in (above / "evaluation.json", above / "sub" / "evaluation.json"):
            with pytest.raises(TinyVisionError) as caught:
                write_json(target, {"test_acc": 1.0})
            assert str(caught.value) == f"cannot write {target}: {above} exists and is not a folder"
    assert (tmp_path / "report.md").read_text() == "an earlier report\n"

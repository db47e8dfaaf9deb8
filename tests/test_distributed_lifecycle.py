"""The process group's life around a run: rank 0 loads the data first while the others wait at a
barrier, and `tinyvision.train` always leaves the group it joined, even when training fails."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

import tinyvision
from tinyvision.training import loop

WORKER = Path(__file__).parent / "distributed_load_order_worker.py"
FLAGS = ["train", "--dataset", "tiny", "--model", "tutorial-b", "--epochs", "1", "--batch-size", "32",
         "--limit-batches", "2", "--progress", "lines", "--no-plots"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rank_0_loads_the_data_while_the_other_rank_waits_at_the_barrier(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr", "127.0.0.1",
               "--master_port", str(free_port()), str(WORKER), *FLAGS, "--out", str(tmp_path / "run")]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=180,
                            env={**os.environ, "TRACE_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    (start0, end0), (start1, end1) = (json.loads((tmp_path / f"load-rank{r}.json").read_text()) for r in (0, 1))
    assert end0 <= start1, f"rank 1 started loading {end0 - start1:.2f} s before rank 0 had finished"
    assert end1 - start1 >= 1.0 and end0 - start0 >= 1.0


@pytest.fixture
def one_rank_env(monkeypatch):
    """torchrun's variables for a one-process group, as an API caller under a launcher would have."""
    for name, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": str(free_port()), "TINYVISION_DIST_TIMEOUT": "60"}.items():
        monkeypatch.setenv(name, value)
    yield
    if dist.is_initialized():  # never leak a group into the other tests, whatever happened
        dist.destroy_process_group()


def test_a_run_that_fails_mid_training_leaves_no_process_group(one_rank_env, tiny_dataset, tmp_path, monkeypatch):
    real_step, steps = loop.train_step, []

    def failing_step(*args, **kwargs):
        steps.append(dist.is_initialized())
        if len(steps) == 2:
            raise RuntimeError("a bug in the middle of training")
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop, "train_step", failing_step)
    with pytest.raises(RuntimeError, match="a bug in the middle"):
        tinyvision.train(dataset=tiny_dataset, model="tutorial-b", epochs=1, batch_size=32, out=tmp_path / "run",
                         progress=False, plots=False, device="cpu")
    assert steps == [True, True]  # it trained inside a process group ...
    assert not dist.is_initialized()  # ... and left it


def test_a_finished_run_leaves_its_group_but_a_callers_own_group_stays(one_rank_env, tiny_dataset, tmp_path):
    tinyvision.train(dataset=tiny_dataset, model="tutorial-b", epochs=1, batch_size=32, limit_batches=2,
                     out=tmp_path / "a", progress=False, plots=False, device="cpu")
    assert not dist.is_initialized()
    dist.init_process_group("gloo")  # the caller's own group, from the same variables
    tinyvision.train(dataset=tiny_dataset, model="tutorial-b", epochs=1, batch_size=32, limit_batches=2,
                     out=tmp_path / "b", progress=False, plots=False, device="cpu")
    assert dist.is_initialized()  # not ours to destroy

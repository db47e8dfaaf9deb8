"""Training on two processes: the real CLI under torchrun, gloo on 127.0.0.1, tiny data.

The runs use tutorial-b, which has no BatchNorm and no dropout: the average of
the two ranks' gradients (each a mean over half the batch) is then the
gradient of the whole batch, so two ranks must end where one process with the
same global batch ends, up to float rounding. (With BatchNorm each rank
normalises with its own half's statistics unless --sync-bn, which PyTorch
implements for GPUs only.)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import safetensors.torch
import torch

from conftest import fit_run
from tinyvision.config import RunConfig
from tinyvision.distributed import Distributed, check_batch_size, launch_info, shard_slice
from tinyvision.errors import TinyVisionError
from tinyvision.models import create_model

WORKER = Path(__file__).parent / "distributed_worker.py"
# fp32 steps: these tests check that two ranks compute what one process computes, to rounding error, and
# bf16 rounds a half batch's activations differently from the whole batch's.
CONFIG = dict(dataset="tiny", model="tutorial-b", epochs=2, batch_size=32, lr=0.05, val_fraction=0.25, seed=7,
              precision="fp32")
STEPS_PER_EPOCH = 12  # 384 training images / global batch 32
FLAGS = [
    "train", "--dataset", "tiny", "--model", "tutorial-b", "--epochs", "2", "--batch-size", "32",
    "--lr", "0.05", "--val-fraction", "0.25", "--seed", "7", "--precision", "fp32", "--progress", "lines",
    "--no-plots",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()), str(WORKER), *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=120,
                          env={**os.environ, **(env or {})})


def errors(stderr: str) -> str:
    """The ranks' own error lines, without torchrun's long summary around them."""
    return "\n".join(line for line in stderr.splitlines() if "rror" in line)[-3000:]


def without_times(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if not k.endswith("seconds")} for row in history]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    """One uninterrupted 2-rank run, default --out (so the ranks must agree on its name)."""
    folder = tmp_path_factory.mktemp("two_ranks")
    result = torchrun(*FLAGS, cwd=folder, env={"TRACE_DIR": str(folder)})
    assert result.returncode == 0, errors(result.stderr)
    assert "global batch 32 = 2 ranks x 16" in result.stdout
    assert result.stdout.count("epoch   2/2") == 1  # rank 0 alone reports
    assert result.stdout.count("test_acc") == 1  # and prints the result: the ranks share the run folder
    return folder


def test_ranks_train_on_disjoint_slices_with_identical_weights(two_ranks):
    rank0, rank1 = (json.loads((two_ranks / f"rank{r}.json").read_text()) for r in (0, 1))
    assert len(rank0["indices"]) == len(rank1["indices"]) == 2 * STEPS_PER_EPOCH
    for a, b in zip(rank0["indices"], rank1["indices"]):
        assert len(a) == len(b) == 16 and not set(a) & set(b)  # each step: two halves of one batch
    epoch1 = [i for step in rank0["indices"][:STEPS_PER_EPOCH] + rank1["indices"][:STEPS_PER_EPOCH] for i in step]
    assert len(set(epoch1)) == len(epoch1) == 384  # the epoch covers the data once
    assert rank0["weights"] == rank1["weights"]  # bit-identical after every step
    assert len(set(rank0["weights"])) == len(rank0["weights"])  # and they moved every step
    assert rank0["seed"] == [7] and rank1["seed"] == [8]  # seed + rank: dropout masks differ per rank


def test_a_batchnorm_model_trains_under_two_processes(tmp_path):
    """tvnet (BatchNorm): ranks keep identical weights; rank 0's statistics are used to evaluate and save."""
    flags = [f if f != "tutorial-b" else "tvnet" for f in FLAGS]
    result = torchrun(*flags, "--out", str(tmp_path / "bn"), cwd=tmp_path, env={"TRACE_DIR": str(tmp_path)})
    assert result.returncode == 0, errors(result.stderr)
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["weights"] == rank1["weights"]
    metrics = json.loads((tmp_path / "bn" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["test_acc"] > 0.9  # the quadrant task; chance is 25%
    weights = safetensors.torch.load_file(tmp_path / "bn" / "model.safetensors")
    assert any(k.endswith("running_mean") for k in weights)


def test_rank_0_alone_writes_one_run_folder(two_ranks):
    runs = list((two_ranks / "runs").iterdir())
    assert len(runs) == 1, runs
    files = sorted(p.name for p in runs[0].iterdir())
    assert files == ["config.json", "metrics.csv", "metrics.json", "model.safetensors", "status.json", "train_state.pt"]
    metrics = json.loads((runs[0] / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and json.loads((runs[0] / "config.json").read_text())["batch_size"] == 32


def test_two_ranks_match_one_process_with_the_same_global_batch(two_ranks, tiny_dataset, tmp_path):
    result = fit_run(RunConfig(**CONFIG).validate(), tmp_path / "one")
    single, setup = result.metrics, result.setup
    run = next((two_ranks / "runs").iterdir())
    double = json.loads((run / "metrics.json").read_text())
    for a, b in zip(without_times(single["history"]), without_times(double["history"])):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-6)
    assert double["test_loss"] == pytest.approx(single["test_loss"], rel=1e-4)
    weights = safetensors.torch.load_file(run / "model.safetensors")
    for name, value in setup.eval_model.state_dict().items():  # what the checkpoint holds (EMA or not)
        assert torch.allclose(weights[name], value, atol=1e-5), name


def test_a_dead_rank_stops_the_other_and_the_run_resumes_under_torchrun(two_ranks, tmp_path):
    # Two processes started by hand, as two machines would be: no torchrun agent to
    # notice the death, so rank 0 has to notice the lost connection itself.
    run = tmp_path / "run"
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "WORLD_SIZE": "2",
           "OMP_NUM_THREADS": "1", "TINYVISION_DIST_TIMEOUT": "30", "CRASH_AT_STEP": str(STEPS_PER_EPOCH + 2)}
    started = time.monotonic()
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), *FLAGS, "--out", str(run)], cwd=tmp_path,
                         env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for r in (0, 1)
    ]
    (_, err0), _ = (p.communicate(timeout=90) for p in procs)
    assert procs[1].returncode == 13  # the crash
    assert procs[0].returncode == 2 and time.monotonic() - started < 60
    assert err0.strip().splitlines() == [err0.strip()]  # one line, no traceback
    assert "rank 0 of 2: lost contact with another rank" in err0
    assert not (run / "metrics.json").exists()  # unfinished, but epoch 1 was saved

    resumed = torchrun("train", "--resume", str(run), "--progress", "lines", "--no-plots", cwd=tmp_path)
    assert resumed.returncode == 0, errors(resumed.stderr)
    assert "resuming" in resumed.stdout and "at epoch 2, step 0" in resumed.stdout
    straight = json.loads(next((two_ranks / "runs").iterdir()).joinpath("metrics.json").read_text())
    after = json.loads((run / "metrics.json").read_text())
    for a, b in zip(without_times(after["history"]), without_times(straight["history"]), strict=True):
        assert a == pytest.approx(b, rel=1e-6)
    assert after["test_loss"] == pytest.approx(straight["test_loss"], rel=1e-6)


def test_shards_are_disjoint_equal_and_cover_the_batch():
    batch = torch.arange(96)
    for world in (1, 2, 3, 4):
        parts = [batch[shard_slice(len(batch), r, world)] for r in range(world)]
        assert torch.equal(torch.cat(parts), batch) and {len(p) for p in parts} == {96 // world}
    shard = Distributed(rank=1, world_size=4).shard(batch)
    assert shard.tolist() == list(range(24, 48))


def test_batch_size_must_split_evenly_over_the_ranks():
    check_batch_size(128, 4)
    with pytest.raises(TinyVisionError, match="global batch.*3 ranks.*try 126 or 129"):
        check_batch_size(128, 3)


def test_launch_info_reads_torchrun_variables():
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "1"}
    assert launch_info({}) is None
    assert launch_info(env) == (3, 4, 1)
    with pytest.raises(TinyVisionError, match="inconsistent"):
        launch_info({**env, "RANK": "4"})
    with pytest.raises(TinyVisionError, match="MASTER_PORT"):
        launch_info({k: v for k, v in env.items() if k != "MASTER_PORT"})


def test_sync_bn_is_refused_on_the_cpu():
    ranks = Distributed(rank=0, world_size=2, launched=True)
    with pytest.raises(TinyVisionError, match="sync_bn needs CUDA"):
        ranks.wrap(create_model("tvnet", (1, 12, 12), 4), sync_bn=True)
    model = create_model("tvnet", (1, 12, 12), 4)
    assert Distributed().wrap(model, sync_bn=True) == (model, None)  # one process: nothing to do

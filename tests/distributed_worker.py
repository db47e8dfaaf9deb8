"""One rank of the distributed tests: the real `tinyvision train` CLI on the tiny dataset.

torchrun runs this file once per rank (plain `python` runs it as one process).
A subprocess cannot see a pytest fixture, so it registers the tests' generated
dataset itself. It also records, per training step, the sample indices this
rank trained on and a hash of its weights (written to $TRACE_DIR/rank<R>.json),
and with CRASH_AT_STEP=N rank 1 dies abruptly at its N-th step, as a killed
process or a lost machine would.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from conftest import tiny_spec  # noqa: E402
from tinyvision.cli import main  # noqa: E402
from tinyvision.datasets import REGISTRY  # noqa: E402
from tinyvision.distributed import Distributed  # noqa: E402
from tinyvision.training import loop  # noqa: E402

RANK = int(os.environ.get("RANK", "0"))
CRASH_AT_STEP = int(os.environ.get("CRASH_AT_STEP", "0"))
trace: dict[str, list] = {"indices": [], "weights": [], "seed": []}

original_shard = Distributed.shard
original_step = loop.train_step


def recording_shard(self: Distributed, batch: torch.Tensor) -> torch.Tensor:
    part = original_shard(self, batch)
    if batch.dtype == torch.long:  # the batch's sample indices (the other call shards its images)
        trace["indices"].append(part.tolist())
    return part


def recording_step(model, *args):
    if not trace["seed"]:
        trace["seed"].append(torch.initial_seed())  # the seed of this rank's runtime randomness (dropout)
    result = original_step(model, *args)
    digest = hashlib.sha256()
    for p in model.parameters():
        digest.update(p.detach().cpu().numpy().tobytes())
    trace["weights"].append(digest.hexdigest())
    if RANK == 1 and len(trace["weights"]) == CRASH_AT_STEP:
        os._exit(13)  # no cleanup, no message: the others must notice on their own
    return result


if __name__ == "__main__":
    REGISTRY["tiny"] = tiny_spec()
    Distributed.shard = recording_shard
    loop.train_step = recording_step
    code = main(sys.argv[1:])
    if os.environ.get("TRACE_DIR"):
        (Path(os.environ["TRACE_DIR"]) / f"rank{RANK}.json").write_text(json.dumps(trace))
    sys.exit(code)

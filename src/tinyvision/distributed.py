"""Scaling out: several processes (one per GPU, or CPU processes) training one model.

torchrun starts one process per rank and tells each who it is through
environment variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT).
Every process holds the whole in-memory dataset and walks the same permutation;
each takes its own contiguous slice of every global batch, and PyTorch's
DistributedDataParallel averages the gradients. Since the loss is a mean over
the slice and the slices are equal, the averaged gradient is the gradient of
the global batch: N ranks with B/N images each take the same steps as one
process with B images (BatchNorm aside; see `--sync-bn`).

Without torchrun's variables everything here is a no-op for a single process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from tinyvision.device import select_device
from tinyvision.errors import TinyVisionError

TIMEOUT_ENV = "TINYVISION_DIST_TIMEOUT"
# Last resort for a rank that hangs rather than dies (a dead rank's closed
# connection, or torchrun's own monitor, stops the others within seconds).
DEFAULT_TIMEOUT_SECONDS = 600
T = TypeVar("T")
# What gloo and NCCL errors say when a peer died, hung, or the network failed.
COLLECTIVE_FAILURE_MARKERS = ("gloo", "nccl", "connection reset", "connection closed", "timed out", "broken pipe")


@dataclass(frozen=True)
class Distributed:
    """Who this process is among the ranks of a run, and the device it trains on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    launched: bool = False  # started by torchrun: a process group exists

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes the run folder and prints the log."""
        return self.rank == 0

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous slice of a global batch (ranks' slices are disjoint)."""
        return batch[shard_slice(len(batch), self.rank, self.world_size)]

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum of `tensor` over all ranks (a copy; the input is untouched)."""
        if not self.launched:
            return tensor
        total = tensor.detach().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    def from_main(self, value: T) -> T:
        """Rank 0's value of a picklable object, on every rank (e.g. a default run name)."""
        if not self.launched:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        """Wait until every rank gets here (nothing without torchrun)."""
        if self.launched:
            dist.barrier()

    def sync_buffers(self, model: nn.Module) -> None:
        """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

        Without `--sync-bn` each rank's running statistics last saw only its own
        slice; evaluating with rank 0's on every rank makes all ranks report the
        same metrics as the checkpoint rank 0 saves.
        """
        if self.launched:
            for buffer in model.buffers():
                dist.broadcast(buffer, src=0)

    def wrap(self, model: nn.Module, sync_bn: bool) -> tuple[nn.Module, nn.Module | None]:
        """(model, its DistributedDataParallel wrapper); no wrapper without torchrun.

        With one process `--sync-bn` changes nothing: BatchNorm already sees the whole batch.
        """
        if not self.launched:
            return model, None
        if sync_bn:
            if self.device.type != "cuda":
                raise TinyVisionError(
                    "--sync-bn needs CUDA GPUs: PyTorch's SyncBatchNorm does not run on the CPU"
                )
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return model, DistributedDataParallel(model, device_ids=device_ids)

    def describe_batch(self, batch_size: int) -> str:
        if self.world_size == 1 and not self.launched:
            return f"batch {batch_size}"
        return f"global batch {batch_size} = {self.world_size} ranks x {batch_size // self.world_size}"


def shard_slice(n: int, rank: int, world_size: int) -> slice:
    """Rank `rank`'s share of `n` items: equal contiguous slices, any remainder unused."""
    per_rank = n // world_size
    return slice(rank * per_rank, (rank + 1) * per_rank)


def check_batch_size(batch_size: int, world_size: int) -> None:
    if batch_size % world_size:
        lower = batch_size - batch_size % world_size
        raise TinyVisionError(
            f"--batch-size {batch_size} is the global batch and must split evenly over {world_size} ranks "
            f"(try {lower or world_size} or {lower + world_size})"
        )


def launch_info(env: Mapping[str, str]) -> tuple[int, int, int] | None:
    """(rank, world size, local rank) from torchrun's variables, or None when not launched."""
    if "RANK" not in env and "WORLD_SIZE" not in env:
        return None
    try:
        rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
        local = int(env.get("LOCAL_RANK", rank))
    except (KeyError, ValueError):
        raise TinyVisionError("RANK and WORLD_SIZE must both be set to integers: launch with torchrun") from None
    if not (0 <= rank < world and 0 <= local <= rank):
        raise TinyVisionError(f"inconsistent torchrun variables: RANK={rank} WORLD_SIZE={world} LOCAL_RANK={local}")
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if name not in env:
            raise TinyVisionError(f"{name} is not set: launch with torchrun")
    return rank, world, local


def timeout_seconds(env: Mapping[str, str]) -> float:
    try:
        seconds = float(env.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS))
    except ValueError:
        raise TinyVisionError(f"{TIMEOUT_ENV} must be a number of seconds") from None
    if seconds <= 0:
        raise TinyVisionError(f"{TIMEOUT_ENV} must be positive")
    return seconds


def start_ranks(device_name: str = "auto", env: Mapping[str, str] = os.environ) -> Distributed:
    """This process's place in the run; joins the process group when torchrun launched it.

    NCCL on CUDA (one GPU per process, chosen by LOCAL_RANK), gloo on the CPU.
    Safe to call more than once: the group is joined once per process.
    """
    info = launch_info(env)
    device = select_device(device_name)
    if info is None:
        return Distributed(device=device)
    rank, world, local = info
    if device.type == "mps":
        raise TinyVisionError("distributed training runs on CUDA GPUs or on the CPU, not on MPS: pass --device=cpu")
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise TinyVisionError(
                f"LOCAL_RANK {local} but this machine has {torch.cuda.device_count()} GPU(s): "
                "use at most one process per GPU (--nproc_per_node)"
            )
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_seconds(env)))
    return Distributed(rank=rank, world_size=world, local_rank=local, device=device, launched=True)


def stop_ranks() -> None:
    """Leave the process group (at the end of a successful run)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def is_collective_failure(exc: BaseException) -> bool:
    """Whether an error came from the communication between ranks, not from our code."""
    if isinstance(exc, (dist.DistBackendError, dist.DistNetworkError, dist.DistStoreError)):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in COLLECTIVE_FAILURE_MARKERS)


@contextlib.contextmanager
def lost_ranks_reported() -> Iterator[None]:
    """Turn a collective that failed because another rank died into one clear line.

    The rank that died prints its own cause; the survivors only see a closed
    connection or a timeout (TINYVISION_DIST_TIMEOUT), and say so in one line
    instead of dumping a traceback.
    """
    try:
        yield
    except RuntimeError as exc:  # DDP's gradient all-reduce reports a lost peer as a plain RuntimeError
        if not (dist.is_initialized() and is_collective_failure(exc)):
            raise
        detail = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise TinyVisionError(
            f"rank {dist.get_rank()} of {dist.get_world_size()}: lost contact with another rank "
            f"({detail[:200]}); it died, hung or lost the network: its own log says why"
        ) from None

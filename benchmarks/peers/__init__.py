"""Peers: other people's MNIST recipes, each a standalone script run in its own process.

A benchmark in `benchmarks/` runs them beside tinyvision's presets, on the same
machine in the same session, and gets each one's JSON back:

    from peers import PEERS, run_peer
    result = run_peer("keras-mnist-convnet", threads=2)
    result["test_acc"], result["wall_seconds"], result["runner"]["wall_seconds"]

Each peer is its own process so its imports (keras, torchvision's Dataset),
thread pools and start-up are its own, and are counted in its wall time.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS: dict[str, Path] = {
    "tutorial-recipe-a": HERE / "tutorial_recipe_a.py",
    "keras-mnist-convnet": HERE / "keras_mnist_convnet.py",
}


class PeerFailed(RuntimeError):
    """A peer exited with an error or wrote no result."""


def peer_command(name: str, *, epochs: int | None = None, seed: int | None = None, threads: int | None = None,
                 limit_batches: int | None = None, subset: int | None = None,
                 extra: tuple[str, ...] = ()) -> list[str]:
    """The argv that runs peer `name` with these settings (None: the peer's own default)."""
    if name not in PEERS:
        raise KeyError(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
    argv = [sys.executable, str(PEERS[name])]
    for flag, value in (("--epochs", epochs), ("--seed", seed), ("--threads", threads),
                        ("--limit-batches", limit_batches), ("--subset", subset)):
        if value is not None:
            argv += [flag, str(value)]
    return argv + list(extra)


def run_peer(name: str, *, epochs: int | None = None, seed: int | None = None, threads: int | None = None,
             limit_batches: int | None = None, subset: int | None = None, out: Path | None = None,
             extra: tuple[str, ...] = (), timeout: float | None = None, quiet: bool = False) -> dict:
    """Run one peer to completion and return its JSON result.

    `threads` sets both the peer's `--threads` and OMP_NUM_THREADS, so its
    whole process uses that many. The peer's progress lines go to this
    process's stderr unless `quiet`. The result gains `runner`: the command
    and the wall seconds measured from here (process start-up to exit).
    `out` keeps the peer's JSON file there; by default it goes to a temporary
    file that is removed.
    """
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(out) if out is not None else Path(tmp) / f"{name}.json"
        argv = peer_command(name, epochs=epochs, seed=seed, threads=threads, limit_batches=limit_batches,
                            subset=subset, extra=(*extra, "--out", str(path)))
        path.unlink(missing_ok=True)  # a file left by an earlier run must not pass for this one's result
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, timeout=timeout,
                              stderr=subprocess.PIPE if quiet else None, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0 or not path.exists():
            tail = (done.stderr or "")[-3000:]
            raise PeerFailed(f"peer {name} failed (exit {done.returncode}): {shlex.join(argv)}\n{tail}")
        result = json.loads(path.read_text())
    prefix = [f"OMP_NUM_THREADS={threads}"] if threads is not None else []
    script = PEERS[name].relative_to(HERE.parents[1]).as_posix()  # from the repository root
    result["runner"] = {"command": shlex.join([*prefix, "python", script, *argv[2:]]), "wall_seconds": round(wall, 2)}
    return result


def accuracy_points(result: dict) -> dict:
    """What a time-to-accuracy plot needs from a peer's result.

    `validation`: (cumulative training seconds, validation accuracy) after each
    epoch; `test`: the one test measurement, at the end of training (training
    seconds) and at the end of the whole command (wall seconds, from the
    runner when it ran the peer, else the peer's own count).
    """
    seconds, validation = 0.0, []
    for row in result["epochs"]:
        seconds += row["seconds"]
        validation.append((round(seconds, 2), row["val_acc"]))
    wall = result.get("runner", {}).get("wall_seconds", result["wall_seconds"])
    return {"validation": validation,
            "test": {"train_seconds": result["train_seconds"], "wall_seconds": wall, "test_acc": result["test_acc"]}}

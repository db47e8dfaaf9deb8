"""Predictions in forked worker processes, so that the server uses every core.

Why processes: a request's work (decode, ink map, segmentation, the model) is
mostly small numpy and Python steps that hold the GIL, so prediction threads
take turns on one core while the others idle. Each worker here is a fork of the
serving process made after the model is loaded: it shares the parent's pages
(torch's libraries, the weights) copy-on-write, and answers one request at a
time over a pipe, on one torch thread. The parent's threads only wait on
pipes, which releases the GIL.

    request thread --(bytes, flags)--> worker: answer(model, ...) --(reply | error)--> request thread

A worker that dies answering a request (killed for memory, a crash in a decoder)
costs only that request, answered 500; a new worker is forked in its place. One
that dies while idle costs no request: the next one finds it dead and goes to its
replacement. Where `fork` is not
available (Windows, macOS's default) the server keeps its prediction threads.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import stat
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import torch

from tinyvision.errors import TinyVisionError
from tinyvision.image.decode import ImageError


class WorkerDied(Exception):
    """The worker answering a request stopped before it replied."""


class WorkerTimedOut(WorkerDied):
    """The worker answering a request took longer than the pool's deadline, and was stopped."""


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _serve(work: Callable[..., dict], conn: Connection, inherited: list[Connection]) -> None:
    """A worker's life: read a request, answer it, until the parent closes the pipe."""
    # The parent's signal handling is not ours: Ctrl-C is the parent's to handle (it closes our pipe),
    # and a signal to us must not wake the parent's event loop through the wakeup fd we inherited.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for other in inherited:  # the parent's ends of other workers' pipes: holding them would keep those open
        other.close()
    _close_sockets(keep=conn.fileno())
    # One intra-op thread per worker (the pool has a worker per core). It is also what makes the fork
    # safe: GNU OpenMP's thread team does not survive fork, and a child asking it for more threads
    # after the parent used it hangs forever.
    torch.set_num_threads(1)
    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[str, Any] = ("ok", work(*args))
        except ImageError as exc:  # errors cross as plain tuples: their constructors differ
            reply = ("image", (str(exc), exc.kind))
        except TinyVisionError as exc:
            reply = ("input", str(exc))
        except Exception as exc:  # a bug must not kill the worker: the parent answers 500
            reply = ("bug", f"{type(exc).__name__}: {exc}"[:300])
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return


def _close_sockets(keep: int) -> None:
    """Close every inherited socket but our pipe: a worker forked while serving (to replace one that
    died) would otherwise hold clients' connections open after the parent has closed them."""
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        fd = int(name)
        if fd == keep or fd < 3:
            continue
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            pass


class WorkerPool:
    """`size` forked workers, each computing `work(*args)` for one request at a time.

    `deadline`: seconds a request may take in its worker; past it the worker is
    killed and replaced (threads cannot be stopped; processes can), so a
    pathological input holds a worker for a bounded time.
    """

    def __init__(self, work: Callable[..., dict], size: int, deadline: float | None = None) -> None:
        self.work, self.deadline = work, deadline
        self.context = multiprocessing.get_context("fork")
        self.lock = threading.Lock()
        self.processes: dict[Connection, multiprocessing.process.BaseProcess] = {}  # by the parent's pipe end
        self.idle: queue.Queue[tuple[multiprocessing.process.BaseProcess, Connection]] = queue.Queue()
        for _ in range(size):
            self.idle.put(self._start())

    def _start(self) -> tuple[multiprocessing.process.BaseProcess, Connection]:
        with self.lock:
            mine, theirs = self.context.Pipe()
            process = self.context.Process(target=_serve, args=(self.work, theirs, [*self.processes, mine]),
                                           name="tinyvision-worker", daemon=True)
            process.start()
            theirs.close()
            self.processes[mine] = process
            return process, mine

    def _retire(self, process: multiprocessing.process.BaseProcess, conn: Connection, wait: float = 1.0) -> None:
        with self.lock:
            self.processes.pop(conn, None)
        conn.close()
        process.join(timeout=wait)  # one that broke its pipe is exiting: let it, for its exit code
        if process.is_alive():
            process.kill()
            process.join(timeout=5)

    def __call__(self, *args: Any) -> dict:
        """One request, on a free worker (the server's admission gate keeps one free for each caller)."""
        process, conn = self.idle.get()
        if not process.is_alive():  # killed while idle (the out-of-memory killer, an operator): not this request's
            self._retire(process, conn, wait=0.0)  # doing, so it goes to a new worker rather than failing with 500
            process, conn = self._start()
        try:
            conn.send(args)
            if self.deadline is not None and not conn.poll(self.deadline):
                self._retire(process, conn, wait=0.0)
                self.idle.put(self._start())
                raise WorkerTimedOut(f"the prediction took over {self.deadline:g} s and was stopped")
            status, payload = conn.recv()
        except (EOFError, OSError):  # BrokenPipeError is an OSError
            self._retire(process, conn)  # reaped first: its exit code is known only then
            code = process.exitcode
            self.idle.put(self._start())
            raise WorkerDied(f"the prediction worker stopped (exit code {code}) before it answered") from None
        self.idle.put((process, conn))
        if status == "image":
            raise ImageError(*payload)
        if status == "input":
            raise TinyVisionError(payload)
        if status == "bug":
            raise WorkerDied(f"the prediction failed inside the worker ({payload})")
        return payload

    def pids(self) -> list[int]:
        """The live workers' process ids (for memory accounting and tests)."""
        with self.lock:
            return [p.pid for p in self.processes.values() if p.pid is not None]

    def close(self) -> None:
        """Close every pipe (workers exit on EOF) and reap the workers."""
        with self.lock:
            workers = list(self.processes.items())
        for conn, process in workers:
            self._retire(process, conn)

"""Local worker processes for a build: each renders whole shards; a worker that dies stops the build at once.

``multiprocessing.Pool`` starts a new worker in place of a dead one and waits forever for the result the
dead one held (and can hang in ``terminate`` when a worker died holding its queue's lock). A
``ProcessPoolExecutor`` notices a dead worker and fails every future in flight: the build then stops with
one line naming the shard the worker was on and the signal that ended it.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, NoReturn

from streamaudio.errors import StreamAudioError
from streamaudio.write import interrupt

LOST_WORKER_GRACE = 0.3  # seconds
_RUNNING_DIR: Path | None = None  # where a worker notes the shard it is on (read when it dies)


def _start(running_dir: Path, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    global _RUNNING_DIR
    _RUNNING_DIR = running_dir
    _die_with_parent()
    interrupt.ignore_in_worker()
    initializer(*initargs)


def _die_with_parent() -> None:
    """Linux: this process gets SIGTERM when its parent dies (a killed build leaves no worker behind)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run(task: Callable[..., Any], name: str, args: tuple[Any, ...]) -> Any:
    if _RUNNING_DIR is not None:
        (_RUNNING_DIR / f"worker-{os.getpid()}").write_text(name, encoding="utf-8")
    return task(*args)


class WorkerLost(StreamAudioError):
    """A worker process died (killed, out of memory) while the build ran."""


class WorkerPool:
    """``workers`` forked processes, each started by ``initializer(*initargs)``."""

    def __init__(
        self, workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...], running_dir: Path
    ) -> None:
        self.workers = workers
        running_dir.mkdir(parents=True, exist_ok=True)
        for old in running_dir.glob("worker-*"):
            old.unlink(missing_ok=True)
        self.running_dir = running_dir
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        self._executor = ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_start, initargs=(running_dir, initializer, initargs)
        )
        # fork the workers now, so that they start while the parent plans; not waited for: a worker
        # that fails to start breaks the pool, which the first result reports
        self._executor.submit(int)

    def result(self, future: Future, timeout: float) -> Any:
        """The future's result; a dead worker raises WorkerLost (or the stop that killed it)."""
        try:
            return future.result(timeout=timeout)
        except BrokenProcessPool:
            self.lost()

    def lost(self) -> NoReturn:
        """A worker died: a stop asked of the whole process group (Ctrl-C, SIGTERM) is taken as asked; any
        other death (the OOM killer, a kill -9) raises WorkerLost naming what died where."""
        deadline = time.monotonic() + LOST_WORKER_GRACE
        while time.monotonic() < deadline:  # a signal sent to the group reaches this process a moment later
            interrupt.check()
            time.sleep(0.02)
        raise WorkerLost(
            f"a worker process died while building {self.death()}; finished shards are kept: "
            "run the same command again to resume"
        )

    def submit(self, task: Callable[..., Any], name: str, *args: Any) -> Future:
        """Run ``task(*args)`` in a worker; ``name`` (a shard) is what a death of that worker is blamed on."""
        return self._executor.submit(_run, task, name, args)

    def death(self) -> str:
        """After a worker died: which shard it was on and what ended it, in words."""
        dead = []
        for pid, process in list(getattr(self._executor, "_processes", {}).items()):
            code = process.exitcode
            if code is None or code == 0:
                continue
            what = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
            note = self.running_dir / f"worker-{pid}"
            shard = note.read_text(encoding="utf-8") if note.is_file() else "a shard"
            dead.append((code == -signal.SIGTERM, f"{shard} (worker {pid}, {what})"))
        # the pool ends the other workers with SIGTERM once one has died: name the one that died first
        first = [text for ended_by_pool, text in dead if not ended_by_pool] or [text for _, text in dead]
        return ", ".join(first) or "a shard (a worker process ended)"

    def let_go(self) -> None:
        """No more work: the workers exit while this process finishes the build (``close`` joins them)."""
        self._executor.shutdown(wait=False)

    def close(self, wait: bool = True) -> None:
        """Let the workers finish and exit (``wait``), or end them now."""
        if not wait:
            for process in list(getattr(self._executor, "_processes", {}).values()):
                if process.is_alive():
                    process.terminate()
        self._executor.shutdown(wait=True, cancel_futures=not wait)  # ended workers: returns at once
        for note in self.running_dir.glob("worker-*"):
            note.unlink(missing_ok=True)

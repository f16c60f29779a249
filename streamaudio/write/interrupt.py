"""Ctrl-C and SIGTERM during a build, taken at safe points.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be when SIGINT arrives: inside a
cffi callback of libFLAC or libsndfile that exception is printed and dropped, and the build runs on. So
while a build runs, SIGINT and SIGTERM only set a flag, and the build calls ``check()`` where stopping is
safe (between streams, between shards, while waiting for workers): ``check()`` raises ``Interrupted``,
a ``KeyboardInterrupt``. A second Ctrl-C stops at once. Pool workers leave Ctrl-C to the parent, which
ends them.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

WAIT = 0.2  # seconds between checks while waiting for workers


class Interrupted(KeyboardInterrupt):
    """The build was asked to stop by ``signum``; the exit status is 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_pending: list[int] = []


def check() -> None:
    """Raise ``Interrupted`` if a signal came in since the build began (in the main thread: elsewhere,
    e.g. in a pool's thread that plans jobs, the main thread's next check stops the build)."""
    if _pending and threading.current_thread() is threading.main_thread():
        raise Interrupted(_pending[0])


def _defer(signum: int, frame: FrameType | None) -> None:
    if _pending and signum == signal.SIGINT:  # asked twice: stop now, wherever we are
        raise Interrupted(signum)
    _pending.append(signum)


@contextmanager
def deferred() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM wait for the next ``check()`` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _defer) for s in (signal.SIGINT, signal.SIGTERM)}
    _pending.clear()
    try:
        yield
        check()  # a signal that came in after the last check still stops the build
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _pending.clear()


def ignore_in_worker() -> None:
    """In a pool worker: Ctrl-C (sent to the whole terminal's process group) is the parent's to act on; it
    ends the pool with SIGTERM, which then ends the worker at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

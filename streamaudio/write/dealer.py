"""Shard jobs dealt to local processes: the pool's, each handed its next job the moment it is free, and
this one, which plans and renders between. The last shards are split into pieces, so that every process
is busy to the end of a build instead of one finishing a whole shard alone."""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

from streamaudio.plan.shard_jobs import ShardJob
from streamaudio.plan.spec import BuildError
from streamaudio.write import interrupt
from streamaudio.write.process_pool import WorkerPool
from streamaudio.write.shards import ShardStats
from streamaudio.write.worker import Piece, Progress, join_pieces, piece_task, shard_task

# a free pool process waits for this one's GIL to be handed its next shard: hand it over sooner
SWITCH_INTERVAL = 0.0005  # seconds; Python's default is 0.005
PIECES_PER_PROCESS = 2  # pieces of each last shard, per process


def dealt(
    jobs: Iterator[ShardJob], shard_dir: Path, pool: WorkerPool, tally: Progress
) -> Iterator[ShardStats]:
    """The shards of ``jobs`` in plan order, rendered by the pool's processes and this one."""
    switch = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        yield from _dealt(iter(jobs), shard_dir, pool, tally)
    finally:
        sys.setswitchinterval(switch)


def _dealt(
    jobs: Iterator[ShardJob], shard_dir: Path, pool: WorkerPool, tally: Progress
) -> Iterator[ShardStats]:
    dealer = _Dealer(pool, shard_dir)
    exhausted = False
    failed: BuildError | None = None  # planning failed: the shards in flight are finished first
    while True:
        # plans in stock for the pool's processes, which take them the moment they finish a shard
        while not exhausted and failed is None and dealer.stock() <= 2 * pool.workers:
            try:
                job = next(jobs, None)
            except BuildError as exc:
                failed, job = exc, None
            if job is None:
                exhausted = True
                if failed is None:
                    dealer.ending()
            else:
                dealer.add(job)
        yield from dealer.finished(tally)
        own = dealer.take()
        if own is not None:  # this process renders one itself (checking for Ctrl-C after each stream)
            work, done = own
            if isinstance(work, Piece):
                done.set_result(piece_task(work, shard_dir))
            else:
                done.set_result(shard_task(work, shard_dir, tally))
            continue
        if not dealer.taken:
            if failed is not None:
                raise failed
            pool.let_go()
            return
        dealer.wait()


@dataclass
class _Shard:
    """A shard in plan order: rendered whole (one result) or in pieces (one result each)."""

    futures: list[Future | None] = field(default_factory=lambda: [None])  # None: not dealt yet
    pieces: list[Piece] | None = None
    here: bool = False  # rendered whole by this process, which counted it stream by stream

    def done(self) -> bool:
        return all(f is not None and f.done() for f in self.futures)


Work = tuple[_Shard, int, ShardJob | Piece]  # the shard, which of its results, what to render


class _Dealer:
    """Planned shard jobs dealt in plan order to the pool's processes (from their done callbacks, so a
    free process never waits for this one to finish its own shard) and to this process. Each pool process
    has one shard queued behind the one it renders, so it never waits to be handed the next. Once the
    last job is planned, none is queued, and the jobs not yet dealt are split into pieces, so that what
    is left goes to whoever is free first, in small parts."""

    def __init__(self, pool: WorkerPool, shard_dir: Path) -> None:
        self.pool = pool
        self.shard_dir = shard_dir
        self.lock = threading.RLock()
        self.ready: deque[Work] = deque()  # not dealt yet
        self.taken: deque[_Shard] = deque()  # every shard not yet yielded, in plan order
        self.slots = 2 * pool.workers  # what the pool may hold: one rendering and one queued each
        self.broken: Future | None = None  # a pool task that failed: reported at once

    def stock(self) -> int:
        return len(self.ready)

    def add(self, job: ShardJob) -> None:
        with self.lock:
            shard = _Shard()
            self.taken.append(shard)
            self.ready.append((shard, 0, job))
            self._deal()

    def ending(self) -> None:
        """Every job is planned: a pool process now gets work only when it has none, and the jobs not
        dealt yet become pieces."""
        processes = self.pool.workers + 1
        with self.lock:
            self.slots -= self.pool.workers
            whole, self.ready = list(self.ready), deque()
            for shard, _, job in whole:
                size = max(1, -(-len(job.plans) // (PIECES_PER_PROCESS * processes)))
                if size >= len(job.plans):
                    self.ready.append((shard, 0, job))
                    continue
                starts = range(0, len(job.plans), size)
                shard.pieces = [Piece(job, a, min(a + size, len(job.plans))) for a in starts]
                shard.futures = [None] * len(shard.pieces)
                self.ready.extend((shard, i, piece) for i, piece in enumerate(shard.pieces))

    def take(self) -> tuple[ShardJob | Piece, Future] | None:
        """The next work, for this process to render; None when none is ready."""
        with self.lock:
            if not self.ready or self.broken is not None:
                return None
            shard, index, work = self.ready.popleft()
            done: Future = Future()
            shard.futures[index] = done
            shard.here = shard.pieces is None
            return work, done

    def _deal(self) -> None:
        while self.slots > 0 and self.ready and self.broken is None:
            shard, index, work = self.ready[0]
            try:
                if isinstance(work, Piece):
                    future = self.pool.submit(piece_task, work.job.name, work, self.shard_dir)
                else:
                    future = self.pool.submit(shard_task, work.name, work, self.shard_dir)
            except RuntimeError:  # the pool broke or shut down: its futures say why
                return
            self.ready.popleft()
            self.slots -= 1
            shard.futures[index] = future
            future.add_done_callback(self._freed)

    def _freed(self, future: Future) -> None:
        with self.lock:
            self.slots += 1
            if future.cancelled() or future.exception() is not None:
                self.broken = self.broken or future
            else:
                self._deal()

    def finished(self, tally: Progress) -> Iterator[ShardStats]:
        """The shards at the head of the plan order that are done; a failed pool task raises at once."""
        if self.broken is not None:
            self.pool.result(self.broken, 0)
        while self.taken and self.taken[0].done():
            shard = self.taken.popleft()
            results = [self.pool.result(f, 0) for f in shard.futures if f is not None]
            pieces = shard.pieces
            stats = results[0] if pieces is None else join_pieces(pieces, results, self.shard_dir)
            if not shard.here:
                tally.add_many(stats.streams, stats.seconds)
            yield stats

    def wait(self) -> None:
        """Wait a moment for the shard at the head of the plan order, then look for a Ctrl-C."""
        pending = [f for f in self.taken[0].futures if f is not None and not f.done()]
        try:
            if pending:
                self.pool.result(pending[0], interrupt.WAIT)
        except FutureTimeout:
            interrupt.check()

"""Executors: shard jobs run in order on local worker processes or a Dask cluster, a window in flight."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from streamaudio.plan.shard_jobs import ShardJob
from streamaudio.plan.spec import BuildError, BuildSpec
from streamaudio.write import interrupt
from streamaudio.write.dask_window import DaskError, dask_client, in_order
from streamaudio.write.process_pool import WorkerPool
from streamaudio.write.shards import (
    ShardStats,
)
from streamaudio.write.worker import Progress, build_shard, init_worker, shard_task


def local_shards(
    jobs: Iterator[ShardJob], shard_dir: Path, spec: BuildSpec, pool: WorkerPool | None, tally: Progress
) -> Iterator[ShardStats]:
    """Shards written (not yet committed) in plan order: in this process without a pool, else by pool
    processes that each render and write whole shards, so that only their stats come back."""
    if pool is None:
        init_worker(spec.cache_dir, spec.tts_options, spec.decoded_cache)
        for job in jobs:
            yield shard_task(job, shard_dir, tally)
        return
    # a window of shards in flight: planning goes on while they render, and only the plans of these
    # shards exist at any time (submitting everything would plan the whole build ahead)
    window = 2 * spec.workers
    running: deque[tuple[str, Future]] = deque()
    jobs = iter(jobs)
    exhausted = False
    failed: BuildError | None = None  # planning failed: the shards in flight are finished first
    while True:
        while not exhausted and len(running) < window:
            try:
                job = next(jobs, None)
            except BuildError as exc:
                failed, job = exc, None
            if job is None:
                exhausted = True
            else:
                running.append((job.name, pool.submit(shard_task, job.name, job, shard_dir)))
        if not running:
            if failed is not None:
                raise failed
            break
        try:
            stats = pool.result(running[0][1], interrupt.WAIT)  # waiting in steps, so a Ctrl-C is seen
        except FutureTimeout:
            interrupt.check()
            continue
        running.popleft()
        tally.add_many(stats.streams, stats.seconds)
        yield stats


def dask_shards(jobs: Iterator[ShardJob], shard_dir: Path, spec: BuildSpec) -> Iterator[ShardStats]:
    """Shards built on a Dask distributed cluster (``spec.scheduler``, or a local one), in plan order.
    Workers write the tars themselves, so the output folder must be on a filesystem they share. Jobs are
    planned as the cluster takes them, four per worker in flight, so the plans never pile up."""
    jobs = iter(jobs)
    first = next(jobs, None)
    if first is None:
        return
    try:
        with dask_client(spec.workers, spec.scheduler) as client:

            def submit(job: ShardJob) -> Any:
                return client.submit(
                    build_shard, job, shard_dir=shard_dir, cache_dir=spec.cache_dir,
                    tts_options=spec.tts_options, decoded=spec.decoded_cache, pure=False,
                )  # fmt: skip

            pending = itertools.chain([first], jobs)
            yield from in_order(client, submit, pending, 4 * spec.workers, name=lambda job: job.name)
    except DaskError as exc:
        raise BuildError(str(exc)) from None

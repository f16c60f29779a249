"""Executors: shard jobs run in order on local worker processes or a Dask cluster, a window in flight."""

from __future__ import annotations

import itertools
import multiprocessing as mp
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from streamaudio.plan.shard_jobs import ShardJob
from streamaudio.plan.spec import BuildError, BuildSpec
from streamaudio.write import interrupt
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
        init_worker(spec.cache_dir, spec.tts_options)
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
    """Shards built on a Dask distributed cluster (``spec.scheduler``, or a local one), as they finish.
    Workers write the tars themselves, so the output folder must be on a filesystem they share. Jobs are
    planned as the cluster takes them, four per worker in flight, so the plans never pile up."""
    try:
        import dask
        from distributed import Client, KilledWorker, LocalCluster, wait
    except ImportError:
        raise BuildError("the Dask executor needs: pip install 'streamaudio[dask]'") from None
    jobs = iter(jobs)
    first = next(jobs, None)
    if first is None:
        return
    cluster = None
    try:
        if spec.scheduler:
            client = Client(spec.scheduler, timeout="5s")
        else:
            # forked, the worker processes keep this process's deferring Ctrl-C handler: a Ctrl-C only sets
            # their flag (no traceback from dask's spawned interpreters); this process ends them
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            with dask.config.set({"distributed.worker.multiprocessing-method": method}):
                cluster = LocalCluster(
                    n_workers=spec.workers, threads_per_worker=1, processes=True, dashboard_address=None
                )
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        raise BuildError(f"cannot reach the Dask scheduler {spec.scheduler}: {exc}") from None
    try:
        window = 4 * max(spec.workers, len(client.scheduler_info().get("workers", {})))
        order: dict = {}  # future in flight -> its submission number (results come in that order)
        names: dict = {}  # future -> its shard
        submitted = 0
        pending = itertools.chain([first], jobs)
        exhausted = False
        while True:
            while not exhausted and len(order) < window:
                job = next(pending, None)
                if job is None:
                    exhausted = True
                    break
                future = client.submit(
                    build_shard,
                    job,
                    shard_dir=shard_dir,
                    cache_dir=spec.cache_dir,
                    tts_options=spec.tts_options,
                    pure=False,
                )
                order[future] = submitted
                names[future] = job.name
                submitted += 1
            if not order:
                break
            try:  # waiting in steps, so a Ctrl-C is seen
                done, _ = wait(list(order), timeout=interrupt.WAIT, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            interrupt.check()
            for future in sorted(done, key=order.__getitem__):
                del order[future]
                try:
                    stats = future.result()
                except KilledWorker:
                    raise BuildError(
                        f"{names[future]} killed Dask workers each time it was tried; finished shards are "
                        "kept: run the same command again to resume"
                    ) from None
                yield stats
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

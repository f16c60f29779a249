"""Executors: shard jobs run in plan order on local processes (write/dealer.py) or a Dask cluster."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streamaudio.plan.shard_jobs import ShardJob
from streamaudio.plan.spec import BuildError, BuildSpec
from streamaudio.write.dask_window import DaskError, dask_client, in_order
from streamaudio.write.dealer import dealt
from streamaudio.write.process_pool import WorkerPool
from streamaudio.write.shards import ShardStats
from streamaudio.write.worker import Progress, build_shard, init_worker, shard_task


def local_shards(
    jobs: Iterator[ShardJob], shard_dir: Path, spec: BuildSpec, pool: WorkerPool | None, tally: Progress
) -> Iterator[ShardStats]:
    """Shards written (not yet committed) in plan order. This process renders shards itself, between
    planning them; with a pool, its processes take the others, each as soon as it is free."""
    init_worker(spec.cache_dir, spec.tts_options, spec.decoded_cache)
    if pool is None:
        for job in jobs:
            yield shard_task(job, shard_dir, tally)
        return
    yield from dealt(jobs, shard_dir, pool, tally)


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

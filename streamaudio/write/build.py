"""Build a corpus: load clip pools, plan every stream, pack plans into shards, render and write them.

The output is a pure function of the inputs and the seed: planning is serial, rendering a stream
depends only on its plan, and shards are written in plan order whatever the number of workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from streamaudio.plan.pool_cache import pool_root
from streamaudio.plan.pools import ManifestCache, load_pools, plan_rejects
from streamaudio.plan.scenarios import SCENARIOS
from streamaudio.plan.shard_jobs import Carry, ShardJob, plan_part
from streamaudio.plan.spec import BuildError, BuildSpec
from streamaudio.prepare.rejects import Reject, dedupe, rejects_text
from streamaudio.render import augment, flac
from streamaudio.write import interrupt
from streamaudio.write.executors import dask_shards, local_shards
from streamaudio.write.output import corpus_manifest, locked, prepare_out, remove_partials
from streamaudio.write.process_pool import WorkerPool
from streamaudio.write.shards import (
    ShardStats,
    load_stats,
    save_stats,
    write_json_atomic,
    write_text_atomic,
)
from streamaudio.write.worker import Progress, commit_and_record, start_worker


@dataclass
class BuildResult:
    out: Path
    streams: int
    seconds: float
    replies: int
    shards: int
    rejected: int
    elapsed: float
    skipped_shards: int
    decoder_warnings: int = 0
    dropped: list[str] = field(default_factory=list)  # streams left out because a clip of theirs failed
    first_failure: str = ""  # what the first failed clip was, in words
    rebuilt: list[tuple[str, str]] = field(default_factory=list)  # finished shards built again, and why

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0

    @property
    def realtime_factor(self) -> float:
        return self.seconds / self.elapsed if self.elapsed > 0 else float("inf")


def build(
    spec: BuildSpec, progress: Callable[[int, float], None] | None = None, force: bool = False
) -> BuildResult:
    """Run a build; ``progress(streams_done, seconds_done)`` is called after each stream. A folder that
    holds another build's output is refused, unless ``force`` deletes that output first."""
    for part in spec.parts:
        if part.capability not in SCENARIOS:
            raise BuildError(f"unknown capability {part.capability!r}; choose from: {', '.join(SCENARIOS)}")
        sized = (part.streams is None) != (part.hours is None)
        if not sized or (part.streams or 1) < 1 or (part.hours or 1) <= 0:
            raise BuildError(f"{part.label}: give a positive number of streams or of hours (one of them)")
    if flac.PROBLEM:
        raise BuildError(flac.PROBLEM)
    if any(part.config.augment for part in spec.parts):
        try:
            augment.require()
        except augment.AugmentError as exc:
            raise BuildError(str(exc)) from None
    started = time.perf_counter()
    # Ctrl-C and SIGTERM stop it between streams, from the moment the folder is claimed
    with interrupt.deferred(), locked(spec.out):
        shard_dir, state_dir = prepare_out(spec, force)
        pool = None
        try:
            # forked first, so that they start while this process plans; this one renders too
            if spec.executor != "dask" and spec.workers > 1:
                pool = WorkerPool(
                    spec.workers - 1,
                    start_worker,
                    (spec.cache_dir, spec.tts_options, spec.decoded_cache),
                    state_dir / "running",
                )
            result = _build(spec, shard_dir, state_dir, pool, progress)
            interrupt.check()  # a signal that came in after the last check still stops the build
        except BaseException:
            if pool is not None:
                pool.close(wait=False)
            remove_partials(shard_dir)  # the workers are ended: what they were writing goes
            raise
        if pool is not None:
            pool.close()
    return replace(result, elapsed=time.perf_counter() - started)


# one build's bookkeeping in order (pools, lazy plans, shards, failures, rejects, manifest): its
# helpers share the build's tallies, so they stay inside
def _build(
    spec: BuildSpec,
    shard_dir: Path,
    state_dir: Path,
    pool: WorkerPool | None,
    progress: Callable[[int, float], None] | None,
) -> BuildResult:
    """Load pools, plan lazily, write the shards that are missing, then the rejects and the manifest."""
    manifests = ManifestCache(pool_root(spec.cache_dir))  # shared by every build on this machine
    rejects: list[Reject] = []
    planners = []  # each part's shard jobs, planned as they are consumed, in order
    carry = Carry()
    for part in spec.parts:
        pools, part_rejects = load_pools(part, manifests)
        rejects.extend(part_rejects)
        planners.append(plan_part(spec, part, pools, carry=carry))
    rejects.extend(manifests.bad_rows)

    names: list[str] = []  # every shard of the build, in order, as planning reaches it
    done: dict[str, ShardStats] = {}
    skipped: list[str] = []
    rebuilt: list[tuple[str, str]] = []  # shards an earlier run finished that are built again, and why

    def pending() -> Iterator[ShardJob]:
        """Jobs still to build, planned lazily; shards an earlier run finished are skipped."""
        for planner in planners:
            for job in planner:
                interrupt.check()
                names.append(job.name)
                stats, why = load_stats(state_dir, job.name, job.spec_sha256, shard_dir / job.name)
                if stats is None:
                    if why:
                        rebuilt.append((job.name, why))
                    yield job
                else:
                    done[job.name] = stats
                    skipped.append(job.name)
                    tally.add_many(stats.streams, stats.seconds)  # progress counts what is there

    tally = Progress(progress)
    failures = _Failures(spec.max_failed_clips)

    def finish(rejected: list[Reject]) -> list[Reject]:
        ordered = [done[name] for name in names if name in done]
        all_rejects = dedupe(rejected + [Reject.from_row(r) for s in ordered for r in s.rejects])
        write_text_atomic(spec.out / "rejected.jsonl", rejects_text(all_rejects))
        return all_rejects

    try:
        if spec.executor == "dask":
            for stats in dask_shards(pending(), shard_dir, spec):
                done[stats.name] = stats
                save_stats(state_dir, stats)
                tally.add_many(stats.streams, stats.seconds)
                failures.add(stats)
        else:
            with ThreadPoolExecutor(1, thread_name_prefix="shard-commit") as committer:
                commits = []
                for stats in local_shards(pending(), shard_dir, spec, pool, tally):
                    done[stats.name] = stats  # fsynced and renamed while the next shards render
                    path = shard_dir / stats.name
                    commits.append(committer.submit(commit_and_record, path, stats, state_dir))
                    failures.add(stats)
                for commit in commits:
                    commit.result()
        for name in skipped:
            failures.add(done[name])
        failures.check(final=True)
    except TooManyFailures:
        finish(rejects)  # what went wrong, for the user to look at; no manifest: the corpus is not done
        raise

    # a clip one capability could not use is not rejected when another part of the build used it
    all_rejects = finish(rejects + plan_rejects(manifests))
    ordered = [done[name] for name in names]
    total_seconds = sum(s.seconds for s in ordered)
    total_replies = sum(s.replies for s in ordered)
    warnings = sum(s.decoder_warnings for s in ordered)
    dropped = [stream for s in ordered for stream in s.dropped]
    manifest = corpus_manifest(spec, ordered, total_seconds, total_replies, len(all_rejects))
    write_json_atomic(spec.out / "manifest.json", {**manifest, "decoder_warnings": warnings})
    return BuildResult(
        spec.out,
        sum(s.streams for s in ordered),
        total_seconds,
        total_replies,
        len(ordered),
        len(all_rejects),
        0.0,  # build() times the whole run
        len(skipped),
        warnings,
        dropped,
        failures.first,
        rebuilt,
    )


class TooManyFailures(BuildError):
    """More of the clips drawn could not be used than a build allows."""


MIN_CLIPS_TO_JUDGE = 1000  # before the end, the share of failed clips is judged once this many were drawn


@dataclass
class _Failures:
    """Clips drawn and clips that failed so far; more failures than ``share`` of the draws stops the build."""

    share: float
    clips: int = 0
    failed: int = 0
    first: str = ""

    def add(self, stats: ShardStats) -> None:
        self.clips += stats.clips
        self.failed += len(stats.rejects)
        if stats.rejects and not self.first:
            self.first = stats.rejects[0].get("detail") or stats.rejects[0]["clip_id"]
        self.check(final=False)

    def check(self, final: bool) -> None:
        if not self.failed or (not final and self.clips < MIN_CLIPS_TO_JUDGE):
            return
        if self.failed > self.share * self.clips:
            raise TooManyFailures(
                f"{self.failed} of {self.clips} clips drawn could not be used ({self.failed / self.clips:.1%}"
                f", more than the {self.share:.1%} allowed); the first: {self.first}"
            )

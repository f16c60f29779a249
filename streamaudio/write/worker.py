"""What a worker process does: render the streams of a shard job, encode them and write its tar."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streamaudio import tts
from streamaudio.plan.shard_jobs import ShardJob
from streamaudio.plan.stream_plan import StreamPlan
from streamaudio.protocol import CHUNK_SAMPLES, CHUNK_SECONDS, LABEL_REPLY
from streamaudio.render import flac
from streamaudio.render.audio import DecoderWarnings
from streamaudio.render.clips import ClipLoader
from streamaudio.render.dsp import Scratch
from streamaudio.render.stitch import render
from streamaudio.write import interrupt
from streamaudio.write.shards import (
    ShardStats,
    ShardWriter,
    commit_shard,
    sample_record,
    save_stats,
)

_LOADER: ClipLoader | None = None


_SCRATCH = Scratch()


_ENCODER = flac.Encoder()


def init_worker(
    cache_dir: Path | None, tts_options: dict[str, dict[str, Any]] | None = None, decoded: bool = False
) -> None:
    global _LOADER
    tts.configure(tts_options or {})
    _LOADER = ClipLoader(cache_dir, decoded=decoded)


def start_worker(
    cache_dir: Path | None, tts_options: dict[str, dict[str, Any]], decoded: bool = False
) -> None:
    """A pool process's start: its loader, and one tiny encode so that libFLAC's first-call costs are paid
    while the parent is still planning. Ctrl-C is the parent's to handle: it ends the pool."""
    init_worker(cache_dir, tts_options, decoded)
    _ENCODER.encode(np.zeros(CHUNK_SAMPLES, dtype=np.float32))


def render_stream(
    plan: StreamPlan,
) -> tuple[list[bytes | memoryview], dict[str, Any], list[dict[str, Any]], int]:
    """Render one stream and encode it as its tar members; returns the record (valid until the next
    call: write it first), the sample JSON, rejects, and how many lines the decoders printed."""
    if _LOADER is None:
        init_worker(None)
    with DecoderWarnings() as warnings:
        rendered = render(plan, _LOADER, _SCRATCH)
    record = sample_record(plan.id, _ENCODER.encode(rendered.audio, consume=True), rendered.meta)
    return record, rendered.meta, rendered.rejects, warnings.lines


@dataclass
class Progress:
    """Streams and audio seconds done so far, reported to the progress callback."""

    progress: Callable[[int, float], None] | None
    streams: int = 0
    seconds: float = 0.0

    def add(self, seconds: float) -> None:
        self.add_many(1, seconds)

    def add_many(self, streams: int, seconds: float) -> None:
        self.streams += streams
        self.seconds += seconds
        if self.progress:
            self.progress(self.streams, self.seconds)
        interrupt.check()  # after each stream (or shard, from workers): a safe place to stop


def build_shard(
    job: ShardJob,
    shard_dir: Path,
    cache_dir: Path | None,
    tts_options: dict[str, dict[str, Any]],
    decoded: bool = False,
) -> ShardStats:
    """Render, write and commit one whole shard in this process: the unit of work on a cluster."""
    init_worker(cache_dir, tts_options, decoded)
    stats = shard_task(job, shard_dir)
    commit_shard(shard_dir / job.name)
    return stats


def commit_and_record(path: Path, stats: ShardStats, state_dir: Path) -> None:
    """Make a written shard durable under its final name, then record it as done (in that order)."""
    commit_shard(path)
    save_stats(state_dir, stats)


def shard_task(job: ShardJob, shard_dir: Path, tally: Progress | None = None) -> ShardStats:
    """Render a job's streams and write them into its tar, still under the partial name (``commit_shard``
    puts it in place); nothing partial survives an error. A stream one of whose clips cannot be used is
    left out (its clips are rejected): a stream never silently loses what its plan put in it."""
    writer = ShardWriter(shard_dir / job.name)
    try:
        done = _render_into(writer, job.plans, tally or Progress(None))
        size, sha = writer.close()
    except BaseException:
        writer.abort()
        raise
    return done.stats(job, size, sha)


@dataclass
class Piece:
    """Streams ``start:stop`` of a job, rendered on their own into a piece of its tar (the last shards of
    a build are split so that every process is busy to the end); ``join_pieces`` makes the shard."""

    job: ShardJob
    start: int
    stop: int

    @property
    def partial(self) -> str:
        """Its file's name in the shard folder (hidden, and removed with the partial shards)."""
        return f".{self.job.name}.{self.start:06d}.partial"


def piece_task(piece: Piece, shard_dir: Path) -> Rendered:
    """Render a piece's streams into their tar records, with no end of archive."""
    writer = ShardWriter(shard_dir / piece.job.name, partial=shard_dir / piece.partial)
    try:
        done = _render_into(writer, piece.job.plans[piece.start : piece.stop], Progress(None))
        writer.close(end=False)
    except BaseException:
        writer.abort()
        raise
    return done


def join_pieces(pieces: list[Piece], done: list[Rendered], shard_dir: Path) -> ShardStats:
    """The shard made of its pieces, in order: byte for byte what ``shard_task`` writes."""
    job = pieces[0].job
    writer = ShardWriter(shard_dir / job.name)
    try:
        for piece in pieces:
            with open(shard_dir / piece.partial, "rb") as f:
                while block := f.read(JOIN_BLOCK):
                    writer.write([block])
        size, sha = writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        for piece in pieces:
            (shard_dir / piece.partial).unlink(missing_ok=True)
    whole = Rendered()
    for part in done:
        whole.merge(part)
    return whole.stats(job, size, sha)


JOIN_BLOCK = 1 << 20


@dataclass
class Rendered:
    """What rendering some streams of a job gave (the seconds stream by stream, summed in order at the
    end, so that a shard made of pieces records the very float a whole one does)."""

    seconds: list[float] = field(default_factory=list)
    replies: int = 0
    warnings: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def merge(self, other: Rendered) -> None:
        self.seconds += other.seconds
        self.replies += other.replies
        self.warnings += other.warnings
        self.rejects += other.rejects
        self.dropped += other.dropped

    def stats(self, job: ShardJob, size: int, sha: str) -> ShardStats:
        total = 0.0
        for seconds in self.seconds:
            total += seconds
        streams = len(job.plans) - len(self.dropped)
        clips = sum(plan.clip_count for plan in job.plans)
        return ShardStats(
            job.name, streams, round(total, 3), self.replies, size, sha, job.spec_sha256, self.rejects,
            self.warnings, clips, self.dropped, flac.ENCODER,
        )  # fmt: skip


def _render_into(writer: ShardWriter, plans: tuple[StreamPlan, ...], tally: Progress) -> Rendered:
    done = Rendered()
    for plan in plans:
        record, meta, clip_rejects, stream_warnings = render_stream(plan)
        done.warnings += stream_warnings
        done.rejects.extend(clip_rejects)
        if clip_rejects:
            done.dropped.append(plan.id)
            tally.add_many(0, 0.0)
            continue
        writer.write(record)
        stream_seconds = meta["num_chunks"] * CHUNK_SECONDS
        done.seconds.append(stream_seconds)
        done.replies += meta["chunk_labels"].count(LABEL_REPLY)
        tally.add(stream_seconds)
    return done

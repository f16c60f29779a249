"""Build a corpus: load clip pools, plan every stream, pack plans into shards, render and write them.

The output is a pure function of the inputs and the seed: planning is serial, rendering a stream
depends only on its plan, and shards are written in plan order whatever the number of workers.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamaudio import __version__
from streamaudio.audio import DecoderWarnings, encode_flac
from streamaudio.clips import ClipLoader
from streamaudio.demo import (
    DEMO_VOICES,
    DIALOGUES_MANIFEST,
    NOISE_MANIFEST,
    SOUNDS_MANIFEST,
    SPEECH_MANIFEST,
    manifest_path,
)
from streamaudio.dialogues import Dialogue, read_dialogues, read_source
from streamaudio.manifest import Clip, read_clips
from streamaudio.plan import StreamPlan
from streamaudio.protocol import CHUNK_SECONDS, LABEL_REPLY
from streamaudio.scenarios import SCENARIOS, Pools, Scenario, ScenarioConfig, ScenarioError
from streamaudio.shards import (
    ShardStats,
    ShardWriter,
    load_stats,
    pack,
    save_stats,
    shard_name,
    write_json_atomic,
)
from streamaudio.sources.pipeline import rejects_path
from streamaudio.stitch import render
from streamaudio.tts import get_engine

STATE_DIR = ".streamaudio"


class BuildError(Exception):
    """A build that cannot start or go on; the message is one line naming the problem."""


@dataclass(frozen=True)
class BuildSpec:
    """Everything a build depends on."""

    capability: str
    out: Path
    streams: int = 32
    seed: int = 0
    workers: int = 1
    shard_streams: int = 64
    shard_mb: float = 512.0
    sources: tuple[tuple[str, Path], ...] = ()
    noise: tuple[Path, ...] = ()
    config: ScenarioConfig = field(default_factory=ScenarioConfig)
    cache_dir: Path | None = None
    command: str = ""


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

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0

    @property
    def realtime_factor(self) -> float:
        return self.seconds / self.elapsed if self.elapsed > 0 else float("inf")


@dataclass(frozen=True)
class ShardJob:
    name: str
    plans: tuple[StreamPlan, ...]
    spec_sha256: str


def load_pools(spec: BuildSpec, scenario: type[Scenario]) -> tuple[Pools, list[dict[str, Any]]]:
    """Read the sources into pools by what each row is, falling back to the built-in demo pool for any
    role no source fills; speech clips that cannot serve the scenario go to rejects."""
    speech: list[Clip] = []
    sounds: list[Clip] = []
    dialogues: list[Dialogue] = []
    rejects: list[dict[str, Any]] = []
    for name, path in spec.sources:
        for item in read_source(path, default_source=name):
            if isinstance(item, Dialogue):
                dialogues.append(item)
            elif not item.text and (item.labels or item.label_names or item.category):
                sounds.append(item)
            else:
                speech.append(item)
    given = (bool(speech), bool(sounds), bool(dialogues))
    speech = speech or list(read_clips(manifest_path(SPEECH_MANIFEST)))
    sounds = sounds or list(read_clips(manifest_path(SOUNDS_MANIFEST)))
    dialogues = dialogues or list(read_dialogues(manifest_path(DIALOGUES_MANIFEST)))
    usable: list[Clip] = []
    max_seconds = spec.config.stream_seconds[1]
    for clip in speech:
        reason = scenario.usable_speech(clip) or ("clip_too_long" if clip.duration > max_seconds else None)
        if reason:
            rejects.append({"clip_id": clip.id, "source": clip.source, "reason": reason})
        else:
            usable.append(clip)
    if "speech" in scenario.needs and not usable:
        reasons = Counter(r["reason"] for r in rejects)
        where = ", ".join(str(p) for _, p in spec.sources) if given[0] else "the built-in demo"
        hint = " (streamaudio prepare covost2 gives translations)" if "no_translation" in reasons else ""
        raise BuildError(
            f"{spec.capability} needs speech clips it can use and none of the {len(speech)} from "
            f"{where} qualifies: {', '.join(f'{k} {v}' for k, v in reasons.items())}{hint}"
        )
    for _, path in [*spec.sources, *((None, p) for p in spec.noise)]:
        rejects.extend(prepared_rejects(Path(path)))
    noise_files = list(spec.noise) or [manifest_path(NOISE_MANIFEST)]
    noise = [clip for path in noise_files for clip in read_clips(path, default_source="noise")]
    language = spec.config.language
    if language == "en":
        voices = DEMO_VOICES
    else:
        voices = (get_engine(spec.config.tts_engine).voice_for_language(language),)
    return Pools(speech=usable, sounds=sounds, noise=noise, dialogues=dialogues, voices=voices), rejects


def prepared_rejects(manifest: Path) -> list[dict[str, Any]]:
    """Rejects that ``streamaudio prepare`` wrote beside a manifest, so the build's list is complete."""
    path = rejects_path(manifest)
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as f:
        return [{**json.loads(line), "stage": "prepare"} for line in f if line.strip()]


def plan_jobs(spec: BuildSpec, pools: Pools) -> list[ShardJob]:
    """Plan every stream and pack the plans into shards."""
    scenario = SCENARIOS[spec.capability](pools, spec.config, spec.seed)
    split = spec.config.split
    plans = [scenario.plan(i, f"{spec.capability}-{split}-{i:09d}") for i in range(spec.streams)]
    groups = pack([p.estimated_seconds for p in plans], spec.shard_streams, spec.shard_mb)
    jobs = []
    for n, group in enumerate(groups):
        chosen = tuple(plans[i] for i in group)
        digest = hashlib.sha256(f"{__version__}\n{chosen!r}".encode()).hexdigest()
        jobs.append(ShardJob(shard_name(spec.capability, split, n), chosen, digest))
    return jobs


_LOADER: ClipLoader | None = None


def _init_worker(cache_dir: Path | None) -> None:
    global _LOADER
    _LOADER = ClipLoader(cache_dir)


def render_stream(plan: StreamPlan) -> tuple[str, bytes, dict[str, Any], list[dict[str, Any]], int]:
    """Render and encode one stream (runs in a worker); decoder stderr chatter is counted, not shown."""
    if _LOADER is None:
        _init_worker(None)
    with DecoderWarnings() as warnings:
        rendered = render(plan, _LOADER)
    return plan.id, encode_flac(rendered.audio), rendered.meta, rendered.rejects, warnings.lines


def _rendered(plans: list[StreamPlan], workers: int, cache_dir: Path | None) -> Iterator[tuple]:
    if workers <= 1:
        _init_worker(cache_dir)
        yield from map(render_stream, plans)
        return
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    with ctx.Pool(workers, initializer=_init_worker, initargs=(cache_dir,)) as pool:
        yield from pool.imap(render_stream, plans, chunksize=1)


def _prepare_out(out: Path) -> tuple[Path, Path]:
    shards, state = out / "shards", out / STATE_DIR
    try:
        shards.mkdir(parents=True, exist_ok=True)
        state.mkdir(parents=True, exist_ok=True)
        probe = state / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BuildError(f"{out}: cannot write the output folder ({exc.strerror or exc})") from None
    for partial in shards.glob(".*.partial"):  # leftovers of a killed run
        partial.unlink()
    return shards, state


def build(spec: BuildSpec, progress: Callable[[int, float], None] | None = None) -> BuildResult:
    """Run a build; ``progress(streams_done, seconds_done)`` is called after each stream."""
    if spec.capability not in SCENARIOS:
        raise BuildError(f"unknown capability {spec.capability!r}; choose from: {', '.join(SCENARIOS)}")
    if spec.streams < 1:
        raise BuildError("--streams must be at least 1")
    started = time.perf_counter()
    shard_dir, state_dir = _prepare_out(spec.out)
    pools, rejects = load_pools(spec, SCENARIOS[spec.capability])
    try:
        jobs = plan_jobs(spec, pools)
    except ScenarioError as exc:
        raise BuildError(str(exc)) from None

    done: dict[str, ShardStats] = {}
    for job in jobs:
        stats = load_stats(state_dir, job.name, job.spec_sha256, shard_dir / job.name)
        if stats is not None:
            done[job.name] = stats
    pending = [job for job in jobs if job.name not in done]
    plans = [plan for job in pending for plan in job.plans]

    results = _rendered(plans, spec.workers, spec.cache_dir)
    tally = _Tally(progress)
    for job in pending:
        done[job.name] = _write_shard(job, results, shard_dir, tally)
        save_stats(state_dir, done[job.name])

    ordered = [done[job.name] for job in jobs]
    all_rejects = _dedupe(rejects + [r for s in ordered for r in s.rejects])
    _write_jsonl(spec.out / "rejected.jsonl", all_rejects)
    total_seconds = sum(s.seconds for s in ordered)
    total_replies = sum(s.replies for s in ordered)
    warnings = sum(s.decoder_warnings for s in ordered)
    manifest = _manifest(spec, ordered, total_seconds, total_replies, len(all_rejects))
    write_json_atomic(spec.out / "manifest.json", {**manifest, "decoder_warnings": warnings})
    return BuildResult(
        spec.out,
        sum(s.streams for s in ordered),
        total_seconds,
        total_replies,
        len(ordered),
        len(all_rejects),
        time.perf_counter() - started,
        len(jobs) - len(pending),
        warnings,
    )


@dataclass
class _Tally:
    """Streams and audio seconds done so far, reported to the progress callback."""

    progress: Callable[[int, float], None] | None
    streams: int = 0
    seconds: float = 0.0

    def add(self, seconds: float) -> None:
        self.streams += 1
        self.seconds += seconds
        if self.progress:
            self.progress(self.streams, self.seconds)


def _write_shard(job: ShardJob, results: Iterator[tuple], shard_dir: Path, tally: _Tally) -> ShardStats:
    """Write the next ``len(job.plans)`` rendered streams into the job's tar; nothing partial survives."""
    writer = ShardWriter(shard_dir / job.name)
    seconds, replies, warnings, rejects = 0.0, 0, 0, []
    try:
        for _ in job.plans:
            key, flac, meta, clip_rejects, stream_warnings = next(results)
            writer.write(key, flac, meta)
            stream_seconds = meta["num_chunks"] * CHUNK_SECONDS
            seconds += stream_seconds
            replies += meta["chunk_labels"].count(LABEL_REPLY)
            warnings += stream_warnings
            rejects.extend(clip_rejects)
            tally.add(stream_seconds)
        size, sha = writer.close()
    except BaseException:
        writer.abort()
        raise
    return ShardStats(
        job.name, len(job.plans), round(seconds, 3), replies, size, sha, job.spec_sha256, rejects, warnings
    )


def _dedupe(rejects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rejects:
        seen.setdefault((r["source"], r["clip_id"]), r)
    return sorted(seen.values(), key=lambda r: (r["source"], r["clip_id"]))


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _manifest(
    spec: BuildSpec, shards: list[ShardStats], seconds: float, replies: int, rejected: int
) -> dict[str, Any]:
    cfg = spec.config
    return {
        "schema": "streamaudio.manifest/1",
        "version": __version__,
        "command": spec.command,
        "capability": spec.capability,
        "split": cfg.split,
        "seed": spec.seed,
        "streams": sum(s.streams for s in shards),
        "hours": round(seconds / 3600.0, 6),
        "replies": replies,
        "rejected": rejected,
        "config": {
            "stream_seconds": list(cfg.stream_seconds),
            "gap_seconds": list(cfg.gap_seconds),
            "snr_db": list(cfg.snr_db),
            "background_prob": cfg.background_prob,
            "gap_snr_db": list(cfg.gap_snr_db),
            "speech_level_db": cfg.speech_level_db,
            "gain_jitter_db": cfg.gain_jitter_db,
            "reply_delay_chunks": cfg.reply_delay_chunks,
            "language": cfg.language,
            "tts_engine": cfg.tts_engine,
            "sources": {name: str(path) for name, path in spec.sources} or {"demo": "built-in"},
            "noise": [str(p) for p in spec.noise] or ["built-in"],
            "shard_streams": spec.shard_streams,
            "shard_mb": spec.shard_mb,
        },
        "shards": [
            {
                "path": f"shards/{s.name}",
                "streams": s.streams,
                "hours": round(s.seconds / 3600.0, 6),
                "replies": s.replies,
                "bytes": s.bytes,
                "sha256": s.sha256,
            }
            for s in shards
        ],
    }

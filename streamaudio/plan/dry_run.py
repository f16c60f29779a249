"""``build --plan-only``: plan every stream of a build without rendering and say what it would make.

Parts are planned in parallel (``--workers`` processes, forked after the pools are read), each keeping
only counts: memory stays flat however many streams are planned. A few streams of the first part are
rendered (not written) to measure the render rate and the FLAC bytes per second of audio here.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streamaudio.plan.pool_cache import pool_root
from streamaudio.plan.pools import ManifestCache, load_pools
from streamaudio.plan.scenarios import Pools
from streamaudio.plan.shard_jobs import Carry, plan_part
from streamaudio.plan.spec import BuildSpec, Part
from streamaudio.plan.stream_plan import StreamPlan
from streamaudio.render import flac
from streamaudio.render.clips import ClipLoader
from streamaudio.render.dsp import Scratch
from streamaudio.render.stitch import render
from streamaudio.write import interrupt

# seconds of speech one process speaks per second, measured here by benchmarks/bench_tts.py (2 workers:
# Piper 41.7x, espeak-ng 524x); a server's rate (openai) depends on the server
SPEAKING_RATES = {"piper": 20.9, "espeak-ng": 262.0}
SAMPLE_STREAMS = 4  # rendered to measure the rate and the bytes per second, after as many to warm up


@dataclass
class PartPlan:
    """What one part would make. Draws are counted by a 64-bit hash of each clip's source and id (the
    processes planning parts are forked, so they hash alike), which stays small for millions of clips."""

    label: str
    streams: int = 0
    seconds: float = 0.0
    turns: int = 0
    replies: int = 0
    shards: int = 0
    draws: dict[str, array] = field(default_factory=dict)  # source -> hashes of the clips drawn (int64)
    uses: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # source -> (keys, counts)
    speech: dict[int, tuple[str, str, float]] = field(default_factory=dict)  # to speak: (tts, text, seconds)
    elapsed: float = 0.0

    def add(self, plan: StreamPlan) -> None:
        self.streams += 1
        self.seconds += plan.estimated_seconds
        self.turns += len(plan.segments)
        for seg in plan.segments:
            self.replies += seg.respond
            self.draws.setdefault(seg.clip.source, array("q")).append(hash(seg.clip.id))
            clip = seg.clip
            # spoken when the stream is rendered (no file of its own), unless the clip store has it; a TTS
            # clip's id is its voice and text, so each is written down once however often it is drawn
            if clip.tts and not clip.path and (key := hash((clip.source, clip.id))) not in self.speech:
                self.speech[key] = (json.dumps(clip.tts, sort_keys=True), clip.text or "", clip.duration)

    def close(self) -> None:
        """Fold the draws into distinct clips and their counts (before the result leaves the worker)."""
        for source, keys in self.draws.items():
            self.uses[source] = np.unique(np.frombuffer(keys, dtype=np.int64), return_counts=True)
        self.draws = {}


@dataclass
class DryRun:
    parts: list[PartPlan]
    elapsed: float
    sample_seconds: float = 0.0  # audio rendered to measure
    sample_elapsed: float = 0.0
    sample_bytes: int = 0
    to_speak: dict[str, dict[str, float]] = field(default_factory=dict)  # speech_bill before measuring

    @property
    def streams(self) -> int:
        return sum(p.streams for p in self.parts)

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.parts)

    @property
    def bytes_per_second(self) -> float | None:
        return self.sample_bytes / self.sample_seconds if self.sample_seconds else None

    @property
    def render_rate(self) -> float | None:
        """Seconds of audio one process renders (and encodes) per second, as measured here."""
        return self.sample_seconds / self.sample_elapsed if self.sample_elapsed else None

    def speech_bill(self, cache_dir: Path | None) -> dict[str, dict[str, float]]:
        """Per TTS engine: the distinct clips the build will speak that the clip store does not hold yet,
        their seconds, and the hours that takes one process at the rate measured here (None: unknown)."""
        from streamaudio.tts import CachedTTS, Voice

        store = CachedTTS(cache_dir)
        todo: dict[int, tuple[str, str, float]] = {}
        for part in self.parts:
            todo.update(part.speech)
        bill: dict[str, dict[str, float]] = {}
        for tts_json, text, seconds in todo.values():
            tts = json.loads(tts_json)
            voice = Voice.from_tts_field(tts)
            try:
                stored = store.path(store.key(voice, text, dict(tts.get("prosody") or {}))).is_file()
            except Exception:  # an engine not installed here: counted as to be spoken
                stored = False
            if stored:
                continue
            row = bill.setdefault(voice.engine, {"clips": 0, "seconds": 0.0})
            row["clips"] += 1
            row["seconds"] += seconds
        for engine, row in bill.items():
            rate = SPEAKING_RATES.get(engine)
            row["cpu_hours"] = row["seconds"] / rate / 3600 if rate else None
        return bill

    def reuse(self) -> dict[str, dict[str, float]]:
        """Per source: clips drawn, distinct clips, and how often a clip is drawn (mean and most)."""
        out = {}
        for source in sorted({s for p in self.parts for s in p.uses}):
            keys = np.concatenate([p.uses[source][0] for p in self.parts if source in p.uses])
            counts = np.concatenate([p.uses[source][1] for p in self.parts if source in p.uses])
            _, where = np.unique(keys, return_inverse=True)
            per_clip = np.bincount(where, weights=counts)
            out[source] = {
                "draws": int(per_clip.sum()),
                "distinct": int(per_clip.size),
                "mean": float(per_clip.mean()),
                "most": int(per_clip.max()),
            }
        return out


_POOLS: dict[str, Pools] = {}
_SPEC: BuildSpec | None = None


def _plan_part(part: Part, carry: Carry | None = None) -> PartPlan:
    """Plan a whole part (a worker's task): the counts, not the plans."""
    assert _SPEC is not None
    started = time.perf_counter()
    out = PartPlan(part.label)
    for job in plan_part(_SPEC, part, _POOLS[part.label], with_digest=False, carry=carry):
        out.shards += 1
        for plan in job.plans:
            out.add(plan)
    out.close()
    out.elapsed = time.perf_counter() - started
    return out


def _audio_seconds(part: Part) -> float:
    """About how much audio a part plans: the measure of its planning work."""
    if part.hours is not None:
        return part.hours * 3600.0
    return (part.streams or 0) * sum(part.config.stream_seconds) / 2


def dry_run(spec: BuildSpec) -> DryRun:
    """Plan every stream of ``spec`` (no audio is written) and measure a few renders."""
    global _SPEC
    started = time.perf_counter()
    manifests = ManifestCache(pool_root(spec.cache_dir))  # the shared pools: the build reads them again
    _POOLS.clear()
    for part in spec.parts:
        _POOLS[part.label] = load_pools(part, manifests)[0]
    _SPEC = spec
    # parts asked by hours are planned in order (each takes up what the last missed); by streams, at once
    if spec.workers > 1 and len(spec.parts) > 1 and all(p.hours is None for p in spec.parts):
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        largest_first = sorted(spec.parts, key=_audio_seconds, reverse=True)  # the last to end is small
        with ctx.Pool(min(spec.workers, len(spec.parts)), initializer=interrupt.ignore_in_worker) as pool:
            done = {p.label: p for p in pool.imap_unordered(_plan_part, largest_first)}
        parts = [done[p.label] for p in spec.parts]
    else:
        carry = Carry()
        parts = [_plan_part(p, carry) for p in spec.parts]
    result = DryRun(parts, time.perf_counter() - started)
    result.to_speak = result.speech_bill(spec.cache_dir)  # before the renders that measure speak some
    _measure(spec, result)
    return result


def _measure(spec: BuildSpec, result: DryRun) -> None:
    """Render and encode the first streams of the first part, to time them and weigh their FLAC."""
    part = spec.parts[0]
    loader, scratch, encoder = ClipLoader(spec.cache_dir), Scratch(), flac.Encoder()
    sample: list[StreamPlan] = []
    for job in plan_part(spec, part, _POOLS[part.label]):
        sample.extend(job.plans[: 2 * SAMPLE_STREAMS - len(sample)])
        if len(sample) >= 2 * SAMPLE_STREAMS:
            break
    for plan in sample[:-SAMPLE_STREAMS]:  # first use: spoken prompts, decoders, the FLAC library
        render(plan, loader, scratch)
    started = time.perf_counter()
    for plan in sample[-SAMPLE_STREAMS:]:
        rendered = render(plan, loader, scratch)
        result.sample_bytes += len(encoder.encode(rendered.audio))
        result.sample_seconds += rendered.audio.size / 16000
    result.sample_elapsed = time.perf_counter() - started


def summary_rows(result: DryRun) -> list[dict[str, Any]]:
    return [
        {
            "part": p.label,
            "streams": p.streams,
            "hours": p.seconds / 3600,
            "turns": p.turns,
            "replies": p.replies,
            "shards": p.shards,
        }
        for p in result.parts
    ]

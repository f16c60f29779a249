"""Build a corpus: load clip pools, plan every stream, pack plans into shards, render and write them.

The output is a pure function of the inputs and the seed: planning is serial, rendering a stream
depends only on its plan, and shards are written in plan order whatever the number of workers.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import multiprocessing as mp
import pickle
import shutil
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from streamaudio import __version__, tts
from streamaudio.errors import StreamAudioError
from streamaudio.plan.clip_table import POOLS_DIR, SPOKEN_ROLES, ClipTable, as_table, cached_table, mapped
from streamaudio.plan.scenarios import SCENARIOS, Pools, Scenario, ScenarioConfig, ScenarioError
from streamaudio.plan.scenarios.base import tts_clip
from streamaudio.plan.stream_plan import StreamPlan
from streamaudio.prepare.demo import (
    DIALOGUES_MANIFEST,
    NOISE_MANIFEST,
    SOUNDS_MANIFEST,
    SPEECH_MANIFEST,
    manifest_path,
)
from streamaudio.prepare.dialogues import Dialogue, read_source
from streamaudio.prepare.manifest import Clip, ManifestError
from streamaudio.prepare.rejects import Reject, dedupe, read_rejects, rejects_text
from streamaudio.prepare.sources.pipeline import rejects_path
from streamaudio.protocol import CHUNK_SAMPLES, CHUNK_SECONDS, LABEL_REPLY
from streamaudio.render import augment, flac
from streamaudio.render.audio import DecoderWarnings
from streamaudio.render.clips import ClipLoader
from streamaudio.render.stitch import Scratch, render
from streamaudio.tts import TTSError, Voice
from streamaudio.tts.voices import VoiceChoice
from streamaudio.write import interrupt
from streamaudio.write.process_pool import WorkerPool
from streamaudio.write.shards import (
    ShardStats,
    ShardWriter,
    commit_shard,
    load_stats,
    pack,
    sample_record,
    save_stats,
    shard_name,
    write_json_atomic,
    write_text_atomic,
)

STATE_DIR = ".streamaudio"
BUILD_FILE = "build.json"  # the identity of the build whose output the folder holds
LOCK_FILE = "lock"  # held (flock) by the build writing into the folder


class BuildError(StreamAudioError):
    """A build that cannot start or go on; the message is one line naming the problem."""


@dataclass(frozen=True)
class Part:
    """One capability and split of a build, sized by a stream count or by hours of audio."""

    capability: str
    split: str = "train"
    streams: int | None = None
    hours: float | None = None
    sources: tuple[tuple[str, Path], ...] = ()
    noise: tuple[Path, ...] = ()
    config: ScenarioConfig = field(default_factory=ScenarioConfig)

    @property
    def label(self) -> str:
        return f"{self.capability}-{self.split}"


@dataclass(frozen=True)
class BuildSpec:
    """Everything a build depends on."""

    out: Path
    parts: tuple[Part, ...]
    seed: int = 0
    workers: int = 1
    shard_streams: int = 64
    shard_mb: float = 512.0
    cache_dir: Path | None = None
    command: str = ""
    executor: str = "local"  # "local" (a process pool) or "dask"
    scheduler: str | None = None  # a Dask scheduler address; None starts a local cluster
    max_failed_clips: float = 0.01  # share of drawn clips that may fail (their streams are left out)

    @property
    def tts_options(self) -> dict[str, dict[str, Any]]:
        """Each TTS engine's options (``--url``, ``--model``…), for the processes that render."""
        return {p.config.tts.engine: dict(p.config.tts.options) for p in self.parts if p.config.tts}


def single(
    capability: str,
    out: Path,
    *,
    streams: int = 32,
    split: str = "train",
    sources: tuple[tuple[str, Path], ...] = (),
    noise: tuple[Path, ...] = (),
    config: ScenarioConfig | None = None,
    **options: Any,
) -> BuildSpec:
    """A build of one capability and split: the shape of ``streamaudio build --capability X``."""
    config = replace(config or ScenarioConfig(), split=split)
    part = Part(capability, split, streams=streams, sources=sources, noise=noise, config=config)
    return BuildSpec(out, (part,), **options)


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


@dataclass
class Source:
    """A manifest's rows: its clips as a table and its dialogues (a manifest may hold both)."""

    clips: ClipTable
    dialogues: list[Dialogue]
    used: np.ndarray  # per clip row: some part of the build draws it (so a part that cannot is no reject)
    checked: dict = field(default_factory=dict)  # (check, max seconds) -> (codes, usable rows, capability)
    sorted: _Sorted | None = None


class _Manifests:
    """Manifests read once per build, however many parts use them, each into a columnar table kept under
    the build's state folder (read again only when the manifest changes). A broken row is left out and
    becomes a reject naming file:line and the problem; only a manifest with no usable row stops the build."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._cache: dict[tuple[str, str | None], Source] = {}
        self.bad_rows: list[Reject] = []

    def sources(self) -> list[Source]:
        return list(self._cache.values())

    def source(self, path: Path, default_source: str | None = None) -> Source:
        key = (str(path), default_source)
        if key not in self._cache:
            self._cache[key] = self._read(Path(path), default_source)
        return self._cache[key]

    def _read(self, path: Path, default_source: str | None) -> Source:
        if not path.is_file():
            raise ManifestError(f"{path}: manifest does not exist")
        side: dict[str, list] = {"bad": [], "dialogues": []}  # what the table does not hold

        def clips() -> Iterator[Clip]:
            seen: set[int] = set()  # hashes of (source, id): an id seen before is a duplicate

            def left_out(line: int, problem: str, reason: str = "bad_row", ident: str | None = None) -> None:
                where = f"{path}:{line}"
                origin = default_source or "manifest"
                side["bad"].append(Reject(ident or where, origin, reason, f"{where}: {problem}").to_row())

            for line, item in read_source(path, default_source, on_bad=left_out):
                if isinstance(item, Dialogue):
                    side["dialogues"].append([item.id, item.source, item.turns])
                    continue
                key = hash((item.source, item.id))
                if key in seen:
                    left_out(line, f"id {item.id!r} is listed before; kept once", "duplicate", item.id)
                    continue
                seen.add(key)
                yield item

        made = False

        def read() -> Iterator[Clip]:
            nonlocal made
            made = True
            yield from clips()

        table_path = cached_table(path, self.state_dir, read, tag=default_source or "")
        sidecar = table_path.with_suffix(".json")
        if made or not sidecar.is_file():
            if not made:
                for _ in clips():  # the table is there, its sidecar is not: read the rows once more
                    pass
            sidecar.write_text(json.dumps(side, ensure_ascii=False), encoding="utf-8")
        else:
            side = json.loads(sidecar.read_text(encoding="utf-8"))
        table = mapped(table_path)
        bad = [Reject.from_row(row) for row in side["bad"]]
        dialogues = [Dialogue(i, s, tuple((r, t) for r, t in turns)) for i, s, turns in side["dialogues"]]
        if not len(table) and not dialogues:
            why = f"{len(bad)} broken; the first: {bad[0].detail}" if bad else "it holds no rows"
            raise ManifestError(f"{path}: no usable row ({why})")
        self.bad_rows.extend(bad)
        return Source(table, dialogues, np.zeros(len(table), dtype=bool))


@dataclass
class _Sorted:
    """A source's clip rows by role, worked out once however many parts read it."""

    speech: ClipTable  # speech rows (the synthesized stand-ins for prompts and dialogues left out)
    sounds: ClipTable
    spoken: dict[tuple[str, str], Clip]  # synthesized clips by (voice id, text)


def _sort(src: Source) -> _Sorted:
    if src.sorted is None:
        table = src.clips
        is_sound = table.flag("_sound")
        synthesized = np.flatnonzero(table.flag("_synth"))
        spoken: dict[tuple[str, str], Clip] = {}
        for clip in table.clips(synthesized):
            spoken.setdefault((str(clip.tts.get("id") or clip.speaker), clip.text), clip)
        stand_in = table.flag("_stand_in")
        sounds = table.subset(np.flatnonzero(is_sound))
        src.sorted = _Sorted(table.subset(np.flatnonzero(~is_sound & ~stand_in)), sounds, spoken)
    return src.sorted


def _check(src: Source, scenario: type[Scenario], max_seconds: float, capability: str) -> ClipTable:
    """The source's speech rows that a scenario can use; the codes of the others are kept for the rejects
    (made at the end, for rows no part used). Scenarios that check alike share one answer."""
    key = (scenario.unusable.__func__, max_seconds)
    if key not in src.checked:
        speech = _sort(src).speech
        codes = scenario.unusable(speech, max_seconds)
        src.checked[key] = (codes, speech.where(codes == 0), capability)
    codes, usable, _ = src.checked[key]
    src.used[usable.rows] = True  # a view: its rows are the source table's
    return usable


def load_pools(part: Part, manifests: _Manifests) -> tuple[Pools, list[Reject]]:
    """Read a part's sources into pools by what each row is, falling back to the built-in demo pool for
    any role no source fills. Clips made by ``streamaudio synthesize`` also stand in for the text they
    say, in their voice. Rows are sorted by columns, and only the synthesized clips are made into objects
    here; speech clips a part cannot use are listed by ``plan_rejects`` once every part has been read."""
    scenario = SCENARIOS[part.capability]
    max_seconds = part.config.stream_seconds[1]
    sources = [manifests.source(path, default_source=name) for name, path in part.sources]
    sorted_ = [_sort(src) for src in sources]
    dialogues = [d for src in sources for d in src.dialogues]
    spoken = {k: v for s in sorted_ for k, v in s.spoken.items()}
    voices = _voices(part, spoken)
    speech = [src for src, s in zip(sources, sorted_, strict=True) if len(s.speech)]
    if speech:
        usable = [_check(src, scenario, max_seconds, part.capability) for src in speech]
    else:
        demo = as_table(_demo_speech(manifests, voices, part.config.tts))
        usable = [demo.where(scenario.unusable(demo, max_seconds) == 0)]
    pool = concat(usable)
    if "speech" in scenario.needs and not pool:
        reasons: Counter = Counter()
        for src in speech:
            codes = src.checked[(scenario.unusable.__func__, max_seconds)][0]
            reasons.update(UNUSABLE[c] for c in codes[codes > 0].tolist())
        count = sum(len(_sort(src).speech) for src in speech) if speech else "built-in"
        where = ", ".join(str(p) for _, p in part.sources) if speech else "the built-in demo"
        hint = " (streamaudio prepare covost2 gives translations)" if "no_translation" in reasons else ""
        raise BuildError(
            f"{part.capability} needs speech clips it can use and none of the {count} from "
            f"{where} qualifies: {', '.join(f'{k} {v}' for k, v in reasons.items())}{hint}"
        )
    rejects = [
        r
        for _, path in [*part.sources, *((None, p) for p in part.noise)]
        for r in prepared_rejects(Path(path))
    ]
    sounds = [s.sounds for s in sorted_ if len(s.sounds)]
    sound_pool = concat(sounds) if sounds else manifests.source(manifest_path(SOUNDS_MANIFEST)).clips
    if not dialogues:
        dialogues = manifests.source(manifest_path(DIALOGUES_MANIFEST)).dialogues
    noise_files = list(part.noise) or [manifest_path(NOISE_MANIFEST)]
    noise = concat([manifests.source(path, default_source="noise").clips for path in noise_files])
    pools = Pools(
        speech=pool, sounds=sound_pool, noise=noise, dialogues=dialogues, voices=voices, spoken=spoken
    )
    return pools, rejects


def plan_rejects(manifests: _Manifests) -> list[Reject]:
    """Speech clips of the sources that no part of the build could use, each with the first reason."""
    rejects = []
    for src in manifests.sources():
        if src.sorted is None:
            continue
        speech = src.sorted.speech
        for codes, _, capability in src.checked.values():
            unused = np.flatnonzero((codes > 0) & ~src.used[speech.rows])
            if not unused.size:
                continue
            ids = speech.column("id").take(pa.array(unused)).to_pylist()
            origins = speech.column("source").take(pa.array(unused)).to_pylist()
            for code, clip_id, origin in zip(codes[unused].tolist(), ids, origins, strict=True):
                rejects.append(Reject(clip_id, origin, UNUSABLE[code], stage="plan", capability=capability))
    return rejects


UNUSABLE = {1: "no_transcript", 2: "no_translation", 3: "clip_too_long"}  # Scenario.unusable's codes


def concat(tables: list[ClipTable]) -> ClipTable:
    """One view of several, copying no column: the tables' record batches side by side, and their rows."""
    if len(tables) == 1:
        return tables[0]
    starts = np.cumsum([0] + [t.table.num_rows for t in tables])[:-1]
    rows = [start + (np.arange(len(t)) if t.rows is None else t.rows.astype(np.int64))
            for start, t in zip(starts.tolist(), tables, strict=True)]  # fmt: skip
    joined = ClipTable(
        pa.concat_tables([t.table for t in tables]), maps=tuple(m for t in tables for m in t.maps)
    )
    return joined.subset(np.concatenate(rows))


def _voices(part: Part, spoken: dict[tuple[str, str], Clip]) -> tuple[Voice, ...]:
    """The part's voice pool: as chosen (``--tts``, a recipe's ``tts:``), else the voices of the clips
    synthesized ahead for its prompts and dialogues, else the espeak-ng demo voices."""
    try:
        if part.config.tts is not None:
            return part.config.tts.pool(part.config.language)
        ahead = {
            str(c.tts["id"]): Voice.from_tts_field(c.tts)
            for c in spoken.values()
            if c.extra.get("role") in SPOKEN_ROLES and c.tts.get("id")
        }
        if ahead:
            return tuple(ahead[k] for k in sorted(ahead))
        return VoiceChoice().pool(part.config.language)
    except TTSError as exc:
        raise BuildError(f"{part.label}: {exc}") from None


def _demo_speech(
    manifests: _Manifests, voices: tuple[Voice, ...], choice: VoiceChoice | None
) -> Sequence[Clip]:
    """The built-in demo sentences: as recorded in the manifest (espeak-ng), or, when another engine is
    chosen, each sentence spoken by the pool's voices in turn (so ``--tts piper`` is neural throughout)."""
    clips = manifests.source(manifest_path(SPEECH_MANIFEST)).clips
    if choice is None or choice.engine == "espeak-ng":
        return clips
    out: dict[tuple[str, str], Clip] = {}
    for i, clip in enumerate(clips):
        voice = voices[i % len(voices)]
        spoken = tts_clip(clip.text or "", voice, clip.language or "en")
        out.setdefault(
            (voice.id, clip.text or ""),
            replace(spoken, translation=clip.translation, target_language=clip.target_language),
        )
    return list(out.values())


def prepared_rejects(manifest: Path) -> list[Reject]:
    """Rejects that ``streamaudio prepare`` wrote beside a manifest, so the build's list is complete."""
    path = rejects_path(manifest)
    return list(read_rejects(path, "prepare")) if path.is_file() else []


def part_seed(seed: int, part: Part) -> int:
    """Each capability and split draws from its own seeded streams, so parts never depend on each other."""
    return int(np.random.SeedSequence([seed, zlib.crc32(part.label.encode())]).generate_state(1)[0])


def plan_part(spec: BuildSpec, part: Part, pools: Pools, identify: bool = True) -> Iterator[ShardJob]:
    """Plan a part's streams (a count, or until the estimated hours are reached) and pack them into
    shards, yielding each shard's job as soon as it is full: rendering starts while planning goes on.
    Without ``identify`` the jobs carry no digest of their plans (nothing will be written or resumed)."""
    try:
        scenario = SCENARIOS[part.capability](pools, part.config, part_seed(spec.seed, part))
    except ScenarioError as exc:
        raise BuildError(str(exc)) from None
    return _shard_jobs(spec, part, scenario, identify)


def _shard_jobs(spec: BuildSpec, part: Part, scenario: Scenario, identify: bool) -> Iterator[ShardJob]:
    """Plans packed into shard jobs as they come; only the plans of the shard being packed are held, so
    planning millions of streams is flat in memory."""
    held: list[StreamPlan] = []  # planned, not yet in a job: the shard being packed and the next plan
    first = 0  # the index of held[0]

    def estimates() -> Iterator[float]:
        target = (part.hours or 0.0) * 3600.0
        planned, count = 0.0, 0
        while part.streams is None or count < part.streams:
            try:
                plan = scenario.plan(count, f"{part.label}-{count:09d}")
            except ScenarioError as exc:
                raise BuildError(str(exc)) from None
            if part.streams is None and count and planned + plan.estimated_seconds / 2 > target:
                return  # by hours: stop where the total comes closest to the target
            held.append(plan)
            count += 1
            planned += plan.estimated_seconds
            yield plan.estimated_seconds

    for n, group in enumerate(pack(estimates(), spec.shard_streams, spec.shard_mb)):
        chosen = tuple(held[i - first] for i in group)
        del held[: len(group)]
        first += len(group)
        digest = ""
        if identify:  # the plans' pickle identifies them as their repr would, at a third of the cost
            identity = pickle.dumps((__version__, flac.ENCODER, chosen), protocol=5)
            digest = hashlib.sha256(identity).hexdigest()
        yield ShardJob(shard_name(part.capability, part.split, n), chosen, digest)


_LOADER: ClipLoader | None = None


_SCRATCH = Scratch()
_ENCODER = flac.Encoder()


def _init_worker(cache_dir: Path | None, tts_options: dict[str, dict[str, Any]] | None = None) -> None:
    global _LOADER
    tts.configure(tts_options or {})
    _LOADER = ClipLoader(cache_dir)


def _start_worker(cache_dir: Path | None, tts_options: dict[str, dict[str, Any]]) -> None:
    """A pool process's start: its loader, and one tiny encode so that libFLAC's first-call costs are paid
    while the parent is still planning. Ctrl-C is the parent's to handle: it ends the pool."""
    _init_worker(cache_dir, tts_options)
    _ENCODER.encode(np.zeros(CHUNK_SAMPLES, dtype=np.float32))


def render_stream(
    plan: StreamPlan,
) -> tuple[list[bytes | memoryview], dict[str, Any], list[dict[str, Any]], int]:
    """Render one stream and encode it as its tar members; returns the record (valid until the next
    call: write it first), the sample JSON, rejects, and how many lines the decoders printed."""
    if _LOADER is None:
        _init_worker(None)
    with DecoderWarnings() as warnings:
        rendered = render(plan, _LOADER, _SCRATCH)
    record = sample_record(plan.id, _ENCODER.encode(rendered.audio, consume=True), rendered.meta)
    return record, rendered.meta, rendered.rejects, warnings.lines


def _local_shards(
    jobs: Iterator[ShardJob], shard_dir: Path, spec: BuildSpec, pool: WorkerPool | None, tally: _Tally
) -> Iterator[ShardStats]:
    """Shards written (not yet committed) in plan order: in this process without a pool, else by pool
    processes that each render and write whole shards, so that only their stats come back."""
    if pool is None:
        _init_worker(spec.cache_dir, spec.tts_options)
        for job in jobs:
            yield _shard_task(job, shard_dir, tally)
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
                running.append((job.name, pool.submit(_shard_task, job.name, job, shard_dir)))
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


OUTPUTS = ("shards", STATE_DIR, "manifest.json", "rejected.jsonl")


def _prepare_out(spec: BuildSpec, force: bool = False) -> tuple[Path, Path]:
    """Make the output folder ready: resume this build's own output, refuse another build's (or, with
    ``force``, delete it first), and clear what a killed run left half written."""
    out = spec.out
    shards, state = out / "shards", out / STATE_DIR
    identity = build_identity(spec)
    if force:
        _remove_outputs(out)
    else:
        _check_same_build(out, identity)
    try:
        shards.mkdir(parents=True, exist_ok=True)
        state.mkdir(parents=True, exist_ok=True)
        write_json_atomic(state / BUILD_FILE, identity)
    except OSError as exc:
        raise BuildError(f"{out}: cannot write the output folder ({exc.strerror or exc})") from None
    _remove_partials(shards)  # leftovers of a killed run
    return shards, state


def _remove_partials(shards: Path) -> None:
    for partial in shards.glob(".*.partial"):
        partial.unlink(missing_ok=True)


def _check_same_build(out: Path, identity: dict[str, Any]) -> None:
    recorded = out / STATE_DIR / BUILD_FILE
    try:
        earlier = json.loads(recorded.read_text(encoding="utf-8"))
    except FileNotFoundError:
        earlier = None
    except (OSError, ValueError):
        earlier = {}
    has_output = (out / "manifest.json").exists() or any((out / "shards").glob("*.tar"))
    if earlier == identity or (earlier is None and not has_output):
        return
    what = "another build"
    with suppress(OSError, ValueError, KeyError, TypeError):
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        parts = ", ".join(f"{p['capability']}-{p['split']}" for p in manifest["parts"])
        what = f"another build ({manifest.get('command') or parts})"
    raise BuildError(
        f"{out} holds {what}: build into another --out, or add --force to delete its shards and start clean"
    )


def _remove_outputs(out: Path) -> None:
    """Delete a build's output; the columnar pools stay (they are keyed by their manifests, not by it)."""
    for path in [out / n for n in OUTPUTS if n != STATE_DIR] + [
        p for p in (out / STATE_DIR).glob("*") if p.name not in (POOLS_DIR, LOCK_FILE)
    ]:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


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
    with ExitStack() as stack:
        stack.enter_context(_locked(spec.out))
        shard_dir, state_dir = _prepare_out(spec, force)
        try:
            with interrupt.deferred():  # Ctrl-C and SIGTERM stop it between streams
                pool = None
                if spec.executor != "dask" and spec.workers > 1:  # forked first: workers start while we plan
                    pool = WorkerPool(
                        spec.workers, _start_worker, (spec.cache_dir, spec.tts_options), state_dir / "running"
                    )
                try:
                    result = _build(spec, shard_dir, state_dir, pool, progress)
                except BaseException:
                    if pool is not None:
                        pool.close(wait=False)
                    raise
                if pool is not None:
                    pool.close()
        except (KeyboardInterrupt, StreamAudioError):  # the workers are ended: what they were writing goes
            _remove_partials(shard_dir)
            raise
    return replace(result, elapsed=time.perf_counter() - started)


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold the output folder for this build: a second build into it at once is refused in one line."""
    if out.exists() and not out.is_dir():
        raise BuildError(f"{out}: is a file, not a folder; give --out a folder")
    try:
        (out / STATE_DIR).mkdir(parents=True, exist_ok=True)
        lock = open(out / STATE_DIR / LOCK_FILE, "a+b")  # noqa: SIM115 -- held until the block ends
    except OSError as exc:
        raise BuildError(f"{out}: cannot write the output folder ({exc.strerror or exc})") from None
    with lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BuildError(
                f"{out}: another build is writing into this folder now; wait for it or use another --out"
            ) from None
        yield


def _build(
    spec: BuildSpec,
    shard_dir: Path,
    state_dir: Path,
    pool: WorkerPool | None,
    progress: Callable[[int, float], None] | None,
) -> BuildResult:
    """Load pools, plan lazily, write the shards that are missing, then the rejects and the manifest."""
    manifests = _Manifests(state_dir)
    rejects: list[Reject] = []
    planners = []  # each part's shard jobs, planned as they are consumed
    for part in spec.parts:
        pools, part_rejects = load_pools(part, manifests)
        rejects.extend(part_rejects)
        planners.append(plan_part(spec, part, pools))
    rejects.extend(manifests.bad_rows)

    names: list[str] = []  # every shard of the build, in order, as planning reaches it
    done: dict[str, ShardStats] = {}
    skipped: list[str] = []

    def pending() -> Iterator[ShardJob]:
        """Jobs still to build, planned lazily; shards an earlier run finished are skipped."""
        for planner in planners:
            for job in planner:
                interrupt.check()
                names.append(job.name)
                stats = load_stats(state_dir, job.name, job.spec_sha256, shard_dir / job.name)
                if stats is None or stats.dropped:  # a shard that left streams out is tried again
                    yield job
                else:
                    done[job.name] = stats
                    skipped.append(job.name)
                    tally.add_many(stats.streams, stats.seconds)  # progress counts what is there

    tally = _Tally(progress)
    failures = _Failures(spec.max_failed_clips)

    def finish(rejected: list[Reject]) -> list[Reject]:
        ordered = [done[name] for name in names if name in done]
        all_rejects = dedupe(rejected + [Reject.from_row(r) for s in ordered for r in s.rejects])
        write_text_atomic(spec.out / "rejected.jsonl", rejects_text(all_rejects))
        return all_rejects

    try:
        if spec.executor == "dask":
            for stats in _dask_shards(pending(), shard_dir, spec):
                done[stats.name] = stats
                save_stats(state_dir, stats)
                tally.add_many(stats.streams, stats.seconds)
                failures.add(stats)
        else:
            with ThreadPoolExecutor(1, thread_name_prefix="shard-commit") as committer:
                commits = []
                for stats in _local_shards(pending(), shard_dir, spec, pool, tally):
                    done[stats.name] = stats  # fsynced and renamed while the next shards render
                    commits.append(committer.submit(_commit, shard_dir / stats.name, stats, state_dir))
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
    manifest = _manifest(spec, ordered, total_seconds, total_replies, len(all_rejects))
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


@dataclass
class _Tally:
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
    job: ShardJob, shard_dir: Path, cache_dir: Path | None, tts_options: dict[str, dict[str, Any]]
) -> ShardStats:
    """Render, write and commit one whole shard in this process: the unit of work on a cluster."""
    _init_worker(cache_dir, tts_options)
    stats = _shard_task(job, shard_dir)
    commit_shard(shard_dir / job.name)
    return stats


def _commit(path: Path, stats: ShardStats, state_dir: Path) -> None:
    """Make a written shard durable under its final name, then record it as done (in that order)."""
    commit_shard(path)
    save_stats(state_dir, stats)


def _dask_shards(jobs: Iterator[ShardJob], shard_dir: Path, spec: BuildSpec) -> Iterator[ShardStats]:
    """Shards built on a Dask distributed cluster (``spec.scheduler``, or a local one), as they finish.
    Workers write the tars themselves, so the output folder must be on a filesystem they share. Jobs are
    planned as the cluster takes them, four per worker in flight, so the plans never pile up."""
    try:
        import dask
        from distributed import Client, KilledWorker, LocalCluster, wait
    except ImportError:
        raise BuildError("--executor dask needs: pip install 'streamaudio[dask]'") from None
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


def _shard_task(job: ShardJob, shard_dir: Path, tally: _Tally | None = None) -> ShardStats:
    """Render a job's streams and write them into its tar, still under the partial name (``commit_shard``
    puts it in place); nothing partial survives an error. A stream one of whose clips cannot be used is
    left out (its clips are rejected): a stream never silently loses what its plan put in it."""
    tally = tally or _Tally(None)
    writer = ShardWriter(shard_dir / job.name)
    seconds, replies, warnings, rejects, dropped = 0.0, 0, 0, [], []
    try:
        for plan in job.plans:
            record, meta, clip_rejects, stream_warnings = render_stream(plan)
            warnings += stream_warnings
            rejects.extend(clip_rejects)
            if clip_rejects:
                dropped.append(plan.id)
                tally.add_many(0, 0.0)
                continue
            writer.write(record)
            stream_seconds = meta["num_chunks"] * CHUNK_SECONDS
            seconds += stream_seconds
            replies += meta["chunk_labels"].count(LABEL_REPLY)
            tally.add(stream_seconds)
        size, sha = writer.close()
    except BaseException:
        writer.abort()
        raise
    streams = len(job.plans) - len(dropped)
    clips = sum(plan.clip_count for plan in job.plans)
    return ShardStats(
        job.name, streams, round(seconds, 3), replies, size, sha, job.spec_sha256, rejects, warnings, clips,
        dropped,
    )  # fmt: skip


def _describe(part: Part) -> dict[str, Any]:
    """What a part asks for, as the manifest records it."""
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(part.config).items()}
    return {
        "capability": part.capability,
        "split": part.split,
        "requested": {"streams": part.streams} if part.streams is not None else {"hours": part.hours},
        "sources": {name: str(path) for name, path in part.sources} or {"demo": "built-in"},
        "noise": [str(p) for p in part.noise] or ["built-in"],
        "config": config,
    }


def build_identity(spec: BuildSpec) -> dict[str, Any]:
    """What makes a build the same build when it is run again (workers, executor and caches do not)."""
    return {
        "version": __version__,
        "seed": spec.seed,
        "shard_streams": spec.shard_streams,
        "shard_mb": spec.shard_mb,
        "parts": [_describe(p) for p in spec.parts],
    }


def _manifest(
    spec: BuildSpec, shards: list[ShardStats], seconds: float, replies: int, rejected: int
) -> dict[str, Any]:
    def part_entry(part: Part) -> dict[str, Any]:
        mine = [s for s in shards if s.name.startswith(f"{part.label}-")]
        entry = _describe(part)
        return {
            **{k: entry[k] for k in ("capability", "split", "requested")},
            "streams": sum(s.streams for s in mine),
            "dropped_streams": [stream for s in mine for stream in s.dropped],
            "hours": round(sum(s.seconds for s in mine) / 3600.0, 6),
            **{k: entry[k] for k in ("sources", "noise", "config")},
        }

    return {
        "schema": "streamaudio.manifest/1",
        "version": __version__,
        "command": spec.command,
        "seed": spec.seed,
        "capabilities": sorted({p.capability for p in spec.parts}),
        "streams": sum(s.streams for s in shards),
        "hours": round(seconds / 3600.0, 6),
        "replies": replies,
        "rejected": rejected,
        "flac_encoder": flac.ENCODER,
        "shard_streams": spec.shard_streams,
        "shard_mb": spec.shard_mb,
        "parts": [part_entry(p) for p in spec.parts],
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

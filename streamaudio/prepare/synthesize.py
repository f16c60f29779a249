"""``streamaudio synthesize``: text in, a manifest of spoken clips out, with their FLACs in ``audio/``
beside it. Every clip is addressed by its content (engine, version, voice, speaker, warp, prosody, text):
a rerun, or another corpus with the same cache, speaks nothing twice. ``build`` then reads the manifest
like any other source, so no build waits on a neural engine."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from streamaudio import tts
from streamaudio.plan.scenarios import SCENARIOS, Pools, ScenarioConfig
from streamaudio.plan.scenarios.base import Deck
from streamaudio.plan.scenarios.chat import user_texts
from streamaudio.prepare import demo
from streamaudio.prepare.dialogues import Dialogue, read_dialogues, read_source
from streamaudio.prepare.manifest import Clip, read_clips, write_clips
from streamaudio.prepare.sources.pipeline import rejects_path
from streamaudio.protocol import SAMPLE_RATE
from streamaudio.tts import CachedTTS, TTSError, Voice
from streamaudio.write import interrupt
from streamaudio.write.dask_window import dask_client, in_order

DEMO_SOURCES = ("demo", "demo-sentences", "demo-dialogues")
AUDIO_DIR = "audio"  # beside the manifest; shared by every manifest in that folder (content-addressed)


@dataclass(frozen=True)
class Request:
    """One text to speak in one voice, and what the manifest row keeps about where the text came from."""

    text: str
    voice: Voice
    role: str  # "speech" (a clip with a transcript), "prompt" (a scenario's own text) or "dialogue"
    origin: str  # the source clip's id, the dialogue's id or the capability
    language: str = "en"
    fields: dict[str, Any] = field(default_factory=dict)  # translation, target_language… of a speech clip

    @property
    def prosody(self) -> dict[str, float]:
        return self.voice.draw_prosody(self.text)


@dataclass
class SynthesisReport:
    clips: int = 0
    made: int = 0
    reused: int = 0
    rejected: int = 0
    seconds: float = 0.0  # of speech in the manifest
    elapsed: float = 0.0
    made_seconds: float = 0.0  # of speech spoken in this run
    reasons: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        rate = f", {self.made_seconds / self.elapsed:.1f}x real time" if self.made and self.elapsed else ""
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(self.reasons.items())) or "none"
        return (
            f"{self.clips} clips, {self.seconds / 60:.1f} min of speech ({self.made} spoken, "
            f"{self.reused} reused) in {self.elapsed:.1f} s{rate}; rejected: {rejected}"
        )


# -- what to say ------------------------------------------------------------------------------------
def _dealer(voices: tuple[Voice, ...], seed: int) -> Deck:
    if not voices:
        raise TTSError("the voice pool is empty")
    return Deck(list(voices), np.random.default_rng([seed, 0x5E]))


def _distinct(dealer: Deck, k: int) -> list[Voice]:
    """``k`` different voices (or all of them), dealt round the pool so that each speaks as often."""
    out: list[Voice] = []
    while len(out) < min(k, len(dealer.items)):
        v = dealer.draw()
        if v not in out:
            out.append(v)
    return out


def dialogue_requests(
    dialogues: Iterable[Dialogue], voices: tuple[Voice, ...], per_text: int = 1, seed: int = 0
) -> Iterator[Request]:
    """Each dialogue's user side (whole turns and the parts around a thinking pause) in ``per_text``
    voices: one voice says all of a dialogue, as a chat stream needs."""
    dealer = _dealer(voices, seed)
    for dialogue in dialogues:
        texts = user_texts(dialogue)
        for voice in _distinct(dealer, per_text):
            yield from (Request(t, voice, "dialogue", dialogue.id) for t in texts)


def clip_requests(
    clips: Iterable[Clip], voices: tuple[Voice, ...], per_text: int = 1, seed: int = 0
) -> Iterator[Request]:
    """Each clip's transcript in ``per_text`` voices, keeping its translation and languages."""
    dealer = _dealer(voices, seed)
    for clip in clips:
        keep = {k: getattr(clip, k) for k in ("translation", "target_language") if getattr(clip, k)}
        for voice in _distinct(dealer, per_text):
            yield Request(clip.text or "", voice, "speech", clip.id, clip.language or "en", keep)


def prompt_requests(
    capabilities: Iterable[str], pools: Pools, config: ScenarioConfig, voices: tuple[Voice, ...]
) -> Iterator[Request]:
    """Every capability's own spoken text (instructions, questions) in every voice of the pool."""
    for name in capabilities:
        for text in SCENARIOS[name].prompts(pools, config):
            for voice in voices:
                yield Request(text, voice, "prompt", name, config.language)


# -- speaking it ------------------------------------------------------------------------------------
_STORE: CachedTTS | None = None
_CONFIGURED: tuple[Path | None, str] | None = None  # a Dask worker's engine set-up (speak_on_worker)


def text_sources(names: list[str]) -> tuple[list[Dialogue], list[Clip], list[Clip]]:
    """Dialogues, clips with text, and sound clips (whose names the counting prompts say) from the given
    manifests or the built-in demo's (``DEMO_SOURCES``)."""
    dialogues: list[Dialogue] = []
    clips: list[Clip] = []
    sounds: list[Clip] = []
    for name in names:
        if name in ("demo", "demo-sentences"):
            clips.extend(demo.text_clips())
        if name in ("demo", "demo-dialogues"):
            dialogues.extend(read_dialogues(demo.manifest_path(demo.DIALOGUES_MANIFEST)))
        if name in DEMO_SOURCES:
            continue
        for _, item in read_source(Path(name)):
            if isinstance(item, Dialogue):
                dialogues.append(item)
            elif not item.text and (item.labels or item.category):
                sounds.append(item)
            else:  # a clip without text is a reject (empty_text), not left out
                clips.append(item)
    return dialogues, clips, sounds


def requests_for(
    sources: list[str],
    prompts: list[str],
    voices: tuple[Voice, ...],
    voices_per_text: int,
    seed: int,
    language: str = "en",
) -> list[Request]:
    """Everything ``synthesize`` is asked to speak: the sources' texts and the named capabilities'
    prompts (the demo's sounds name the counting prompts when the sources hold none)."""
    dialogues, clips, sounds = text_sources(sources)
    pools = Pools(
        speech=clips,
        sounds=sounds or list(read_clips(demo.manifest_path(demo.SOUNDS_MANIFEST))),
        voices=voices,
    )
    return [
        *clip_requests(clips, voices, voices_per_text, seed),
        *dialogue_requests(dialogues, voices, voices_per_text, seed),
        *prompt_requests(prompts, pools, ScenarioConfig(language=language), voices),
    ]


def _start(cache_dir: Path | None, options: dict[str, dict[str, Any]]) -> None:
    global _STORE
    tts.configure(options)
    _STORE = CachedTTS(cache_dir)


def _speak(job: tuple[str, Voice, str, dict[str, float], str]) -> tuple[str, str | None, str | None]:
    """Speak one request into the shared store (a worker's task); returns (key, reject reason, detail)."""
    key, voice, text, prosody, language = job
    assert _STORE is not None
    try:
        if _STORE.lookup(key) is None:
            _STORE.store(key, tts.render(voice, text, prosody, language))
    except TTSError as exc:
        return key, exc.reason, str(exc)
    return key, None, None


def _link(src: Path, dst: Path) -> None:
    """Put a stored clip into the manifest's folder: a hard link where it can be, else a copy."""
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def synthesize(
    requests: Iterable[Request],
    out: Path,
    *,
    cache_dir: Path | None = None,
    workers: int = 1,
    concurrency: int = 8,
    options: dict[str, dict[str, Any]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
) -> SynthesisReport:
    """Speak the requests (each distinct clip once) and write the manifest ``out``, its rejects beside
    it and the FLACs under ``audio/`` beside it. ``progress(done, total)`` follows the clips.
    ``executor="dask"`` speaks on a Dask cluster (``scheduler``, or a local one of ``workers``) whose
    workers share the clip store's filesystem; the store is content-addressed, so whichever worker
    speaks a clip, the manifest and the audio are the same."""
    started = time.perf_counter()
    options = options or {}
    tts.configure(options)
    store = CachedTTS(cache_dir)
    folder = out.parent
    report = SynthesisReport()
    rejects: list[dict[str, Any]] = []
    unique: dict[str, Request] = {}
    for r in requests:
        if not r.text.strip():
            rejects.append(_reject(r, "empty_text", "nothing to say"))
            continue
        key = store.key(r.voice, r.text, r.prosody)
        if key not in unique or (r.role == "speech" and unique[key].role != "speech"):
            unique[key] = r
    local = {k: folder / AUDIO_DIR / k[:2] / f"{k}.flac" for k in unique}
    todo = [k for k in unique if not local[k].is_file() and not store.path(k).is_file()]
    report.reused = len(unique) - len(todo)
    failed: dict[str, tuple[str, str]] = {}
    done = report.reused
    if progress:
        progress(done, len(unique))
    jobs = [(k, unique[k].voice, unique[k].text, unique[k].prosody, unique[k].language) for k in todo]
    for key, reason, detail in _run(jobs, cache_dir, workers, concurrency, options, executor, scheduler):
        if reason is not None:
            failed[key] = (reason, detail or "")
        else:
            report.made += 1
        done += 1
        if progress:
            progress(done, len(unique))
    clips: list[Clip] = []
    for key, r in unique.items():
        if key in failed:
            rejects.append(_reject(r, *failed[key]))
            continue
        if not local[key].is_file():
            _link(store.path(key), local[key])
        frames = sf.info(str(local[key])).frames
        clips.append(_clip(key, r, frames))
        if key in todo:
            report.made_seconds += frames / SAMPLE_RATE
    write_clips(out, clips)
    with open(rejects_path(out), "w", encoding="utf-8") as f:
        for row in rejects:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    report.clips = len(clips)
    report.seconds = sum(c.duration for c in clips)
    report.rejected = len(rejects)
    for row in rejects:
        report.reasons[row["reason"]] = report.reasons.get(row["reason"], 0) + 1
    report.elapsed = time.perf_counter() - started
    return report


def _run(
    jobs: list[tuple[str, Voice, str, dict[str, float], str]],
    cache_dir: Path | None,
    workers: int,
    concurrency: int,
    options: dict[str, dict[str, Any]],
    executor: str = "local",
    scheduler: str | None = None,
) -> Iterator[tuple[str, str | None, str | None]]:
    """Results in job order: a Dask cluster's workers, threads for engines that send requests, else
    processes (a model each)."""
    if not jobs:
        return
    if executor == "dask":
        with dask_client(workers, scheduler) as client:

            def submit(job: tuple[str, Voice, str, dict[str, float], str]) -> Any:
                return client.submit(speak_on_worker, job, cache_dir, options, pure=False)

            yield from _checked(in_order(client, submit, jobs, 4 * workers, name=lambda job: job[0]))
        return
    engines = {j[1].engine for j in jobs}
    if all(getattr(tts.engine_class(e), "concurrent", False) for e in engines):
        _start(cache_dir, options)
        with ThreadPoolExecutor(max(1, concurrency)) as pool:
            yield from _checked(pool.map(_speak, jobs))
        return
    if workers <= 1:
        _start(cache_dir, options)
        yield from _checked(map(_speak, jobs))
        return
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    with ctx.Pool(workers, initializer=start_worker, initargs=(cache_dir, options)) as pool:
        yield from _checked(pool.imap(_speak, jobs, chunksize=4))


def speak_on_worker(
    job: tuple[str, Voice, str, dict[str, float], str],
    cache_dir: Path | None,
    options: dict[str, dict[str, Any]],
) -> tuple[str, str | None, str | None]:
    """A Dask worker's task: the engines set up once per worker process, then ``_speak``."""
    global _CONFIGURED
    if (cache_dir, repr(options)) != _CONFIGURED:
        _start(cache_dir, options)
        _CONFIGURED = (cache_dir, repr(options))
    return _speak(job)


def start_worker(cache_dir: Path | None, options: dict[str, dict[str, Any]]) -> None:
    interrupt.ignore_in_worker()
    _start(cache_dir, options)


def _checked(results: Iterable[tuple[str, str | None, str | None]]) -> Iterator:
    for result in results:
        interrupt.check()
        yield result


def _reject(r: Request, reason: str, detail: str) -> dict[str, Any]:
    return {
        "clip_id": f"{r.origin}:{r.voice.id}",
        "source": "tts",
        "reason": reason,
        "detail": detail,
        "text": r.text,
        "voice": r.voice.id,
    }


def _clip(key: str, r: Request, frames: int) -> Clip:
    clip = Clip(
        id=f"tts-{key[:20]}",
        source="tts",
        duration=frames / SAMPLE_RATE,
        path=f"{AUDIO_DIR}/{key[:2]}/{key}.flac",
        sample_rate=SAMPLE_RATE,
        channels=1,
        text=r.text,
        language=r.language,
        speaker=r.voice.id,
        tts=r.voice.tts_field(r.text),
        extra={"role": r.role, "origin": r.origin},
    )
    return replace(clip, **r.fields) if r.fields else clip

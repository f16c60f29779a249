"""Clip pools: each manifest read once per build into a mapped columnar table, its rows sorted by role and
checked for what a capability can use; the built-in demo data stands in for a role no source fills."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from streamaudio.plan.clip_table import SPOKEN_ROLES, ClipTable, as_table, cached_table, mapped, pool_path
from streamaudio.plan.pool_cache import making
from streamaudio.plan.scenarios import SCENARIOS, Pools, Scenario
from streamaudio.plan.scenarios.base import tts_clip
from streamaudio.plan.spec import BuildError, Part
from streamaudio.prepare.demo import (
    DIALOGUES_MANIFEST,
    NOISE_MANIFEST,
    SOUNDS_MANIFEST,
    SPEECH_MANIFEST,
    manifest_path,
)
from streamaudio.prepare.dialogues import Dialogue, read_source
from streamaudio.prepare.manifest import Clip, ManifestError
from streamaudio.prepare.rejects import Reject, read_rejects
from streamaudio.prepare.sources.pipeline import rejects_path
from streamaudio.tts import TTSError, Voice
from streamaudio.tts.voices import VoiceChoice
from streamaudio.write.shards import write_text_atomic


@dataclass
class Source:
    """A manifest's rows: its clips as a table and its dialogues (a manifest may hold both)."""

    clips: ClipTable
    dialogues: list[Dialogue]
    used: np.ndarray  # per clip row: some part of the build draws it (so a part that cannot is no reject)
    checked: dict = field(default_factory=dict)  # (check, max seconds) -> (codes, usable rows, capability)
    sorted: _Sorted | None = None


class ManifestCache:
    """Manifests read once per build, however many parts use them, each into a columnar table kept under
    ``root`` (the shared pool cache, ``pool_cache.py``: read again only when the manifest changes). A
    broken row is left out and becomes a reject naming file:line and the problem; only a manifest with no
    usable row stops the build."""

    def __init__(self, root: Path) -> None:
        self.state_dir = root
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

        table_path = pool_path(path, self.state_dir, tag=default_source or "")
        sidecar = table_path.with_suffix(".json")
        with making(table_path):  # one process makes a pool; another started at once waits and reads it
            cached_table(path, self.state_dir, read, tag=default_source or "")
            if made or not sidecar.is_file():
                if not made:
                    for _ in clips():  # the table is there, its sidecar is not: read the rows once more
                        pass
                write_text_atomic(
                    sidecar, json.dumps({**side, "manifest": str(path.resolve())}, ensure_ascii=False)
                )
            else:
                side = json.loads(sidecar.read_text(encoding="utf-8"))
                os.utime(sidecar)  # last used, for ``streamaudio cache prune --older-than``
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


def load_pools(part: Part, manifests: ManifestCache) -> tuple[Pools, list[Reject]]:
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


def plan_rejects(manifests: ManifestCache) -> list[Reject]:
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
    manifests: ManifestCache, voices: tuple[Voice, ...], choice: VoiceChoice | None
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

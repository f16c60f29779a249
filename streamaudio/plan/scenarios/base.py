"""What every scenario shares: configuration, clip pools, decks, noise draws and segment helpers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from streamaudio.errors import StreamAudioError
from streamaudio.plan.clip_table import SMALL, ClipTable, as_table
from streamaudio.plan.phenomena import pick, rates
from streamaudio.plan.stream_plan import Background, NoiseSlice, Segment, StreamPlan
from streamaudio.prepare.dialogues import Dialogue
from streamaudio.prepare.manifest import Clip
from streamaudio.render.augment import AugmentSpec, draw
from streamaudio.tts.voices import Voice, VoiceChoice

SECONDS_PER_CHAR = 0.0575  # speaking time of TTS text (espeak-ng, the demo voices), only to size plans
TALKER_JITTER_DB = 1.0  # an utterance's level varies this much (±) around its talker's level


class ScenarioError(StreamAudioError):
    """A scenario that cannot run on the pools it was given; one line saying what is missing."""


@dataclass(frozen=True)
class ScenarioConfig:
    """Knobs of a stream; ranges are (low, high) and drawn uniformly per stream or per gap."""

    stream_seconds: tuple[float, float] = (30.0, 90.0)
    gap_seconds: tuple[float, float] = (0.8, 2.4)
    snr_db: tuple[float, float] = (5.0, 20.0)
    background_prob: float = 0.8
    gap_snr_db: tuple[float, float] = (15.0, 30.0)
    speech_level_db: float = -26.0
    gain_jitter_db: float = 3.0
    sound_level_db: tuple[float, float] = (-3.0, 3.0)  # relative to the speech level (active RMS both)
    sound_seconds: tuple[float, float] = (0.7, 2.0)  # a sound is cut to this long (with a fade), if longer
    sound_share: float = 0.25  # asr: chance that the next event is a non-speech sound (with silent turn)
    reply_delay_chunks: int = 0
    language: str = "en"
    target_language: str | None = None  # s2tt: the language translated into
    split: str = "train"
    tts: VoiceChoice | None = None  # who speaks its text; None: the synthesized voices, else espeak-ng
    augment: tuple[AugmentSpec, ...] = ()  # applied to speech, instruction and sound clips
    phenomena: tuple[tuple[str, float], ...] = ()  # rates over the capability's own (plan/phenomena.py)
    data: str | None = None  # a YAML file whose keys replace those of the capability's data file


@dataclass
class Pools:
    """What a build draws from, by role. ``voices`` speak the text the scenario says; ``spoken`` holds
    clips made ahead by ``streamaudio synthesize``, by (voice id, text), used before speaking anew."""

    speech: Sequence[Clip] = field(default_factory=list)  # lists, or ClipTables for large pools
    sounds: Sequence[Clip] = field(default_factory=list)
    noise: Sequence[Clip] = field(default_factory=list)
    dialogues: list[Dialogue] = field(default_factory=list)
    voices: tuple[Voice, ...] = ()
    spoken: dict[tuple[str, str], Clip] = field(default_factory=dict)


class Deck:
    """Draws items without replacement, reshuffling when the pool is used up; returns unused draws.
    From a ClipTable, the clips of the next draws are made together (``PREFETCH``), not one by one."""

    PREFETCH = 4096  # clips made ahead from a table: enough to share each record batch's fixed cost

    def __init__(self, items: Sequence, rng: np.random.Generator) -> None:
        if not items:
            raise ValueError("cannot draw from an empty pool")
        if isinstance(items, ClipTable) and len(items) <= SMALL:  # noise beds, sound events: made once
            items = items.clips(np.arange(len(items)))
        self.items = items
        self.rng = rng
        self._order = np.empty(0, dtype=np.int64)
        self._left = 0  # draws come from the end of the order: _order[_left - 1] is next
        self._last = -1
        self._ready: dict[int, Any] = {}

    def draw(self) -> Any:
        if not self._left:
            self._order = self.rng.permutation(len(self.items))
            self._left = self._order.size
            self._ready.clear()
        self._left -= 1
        self._last = int(self._order[self._left])
        if not isinstance(self.items, ClipTable):
            return self.items[self._last]
        if self._last not in self._ready:
            upcoming = self._order[max(0, self._left - self.PREFETCH + 1) : self._left + 1]
            self._ready = dict(zip(upcoming.tolist(), self.items.clips(upcoming), strict=True))
        return self._ready[self._last]

    def put_back(self) -> None:
        """Return the item drawn last (it is drawn next)."""
        self._left += 1


def stream_seed(seed: int, index: int) -> int:
    """A per-stream seed that depends only on the build seed and the stream's index."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """``rng.uniform(lo, hi)`` as numpy computes it (``lo + (hi - lo) * random()``), a third of the cost."""
    lo, hi = bounds
    return float(lo if hi <= lo else lo + (hi - lo) * rng.random())


@cache
def templates(name: str) -> dict[str, Any]:
    """A scenario's data file (``streamaudio/plan/scenarios/<name>.yaml``)."""
    text = files("streamaudio.plan.scenarios").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def scenario_data(name: str, config: ScenarioConfig) -> dict[str, Any]:
    """A scenario's data file with the keys of the recipe's ``data:`` file (if any) in their place."""
    try:
        own = templates(name)
    except FileNotFoundError:  # a capability registered without a data file of its own
        own = {}
    return own if config.data is None else {**own, **_data_file(config.data)}


@cache
def _data_file(path: str) -> dict[str, Any]:
    try:
        found = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(found, dict):
        raise ScenarioError(f"{path}: a scenario's data file must be a mapping of names to lists")
    return found


def tts_clip(text: str, voice: Voice, language: str) -> Clip:
    """A clip spoken by TTS at render time; its duration is an estimate until then."""
    digest = hashlib.sha1(f"{voice.id}\0{text}".encode()).hexdigest()[:12]
    return Clip(
        id=f"tts-{digest}",
        source="tts",
        duration=max(0.5, SECONDS_PER_CHAR * len(text) / voice.warp),
        text=text,
        language=language,
        speaker=voice.id,
        tts=voice.tts_field(text),
    )


def sound_name(clip: Clip) -> str:
    """A sound's readable name: its first label name (lower case, as said in a sentence)."""
    name = clip.label_names[0] if clip.label_names else (clip.category or "sound").replace("_", " ")
    name = name.split(",")[0].strip()
    return name if name.isupper() else name.lower()


class Scenario:
    """A seeded planner: ``plan(index, id)`` depends only on the seed, the index and the draws so far.

    Subclasses set ``name`` and ``needs`` (pool names) and implement ``segments``.
    """

    name = ""
    needs: tuple[str, ...] = ()
    hub_task = "audio-text-to-text"  # the Hub's task category for a dataset of its streams
    summary = ""  # what its streams teach, in one line (the dataset card says it)

    def __init__(self, pools: Pools, config: ScenarioConfig, seed: int) -> None:
        for pool in self.needs:
            if not getattr(pools, pool):
                raise ScenarioError(f"{self.name} needs {pool} clips and the sources give none")
        pools = replace(
            pools, speech=as_table(pools.speech), sounds=as_table(pools.sounds), noise=as_table(pools.noise)
        )
        self.pools = pools
        self.config = config
        self.seed = seed
        deck_rng = np.random.default_rng([seed, 0xA5])
        self.speech = Deck(pools.speech, deck_rng) if pools.speech else None
        self.sounds = Deck(pools.sounds, deck_rng) if pools.sounds else None
        self.dialogues = Deck(pools.dialogues, deck_rng) if pools.dialogues else None
        self.noise = Deck(pools.noise, deck_rng) if pools.noise else None
        self._talkers: dict[str, tuple[float, tuple]] = {}
        self.rates = self.phenomenon_rates(config)
        prompts = self.prompts(pools, config) if pools.spoken else []
        # the voices that have all the scenario's prompts spoken ahead (all voices when none has)
        self._prompt_voices = [
            v for v in pools.voices if all((v.id, t) in pools.spoken for t in prompts)
        ] or list(pools.voices)

    @classmethod
    def phenomenon_rates(cls, config: ScenarioConfig) -> dict[str, float]:
        """The rate of each interaction phenomenon in its streams: its data file's, then the recipe's."""
        return rates(scenario_data(cls.name, config).get("phenomena") or {}, dict(config.phenomena))

    @classmethod
    def unusable(cls, speech: ClipTable, max_seconds: float) -> np.ndarray:
        """Per speech clip, why it cannot serve this scenario: 0 it can, 1 no transcript, 2 no translation
        (scenarios that need one), 3 longer than a stream (the first of these that applies)."""
        codes = np.where(speech.numbers("duration") > max_seconds, 3, 0).astype(np.int8)
        codes[~speech.flag("_said")] = 1
        return codes

    @cached_property
    def data(self) -> dict[str, Any]:
        """Its data file, as the recipe may have replaced parts of it (``scenario_data``)."""
        return scenario_data(self.name, self.config)

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        raise NotImplementedError

    def plan(self, index: int, stream_id: str) -> StreamPlan:
        seed = stream_seed(self.seed, index)
        rng = np.random.default_rng(seed)
        target = uniform(rng, self.config.stream_seconds)
        self._talkers: dict[str, tuple[float, tuple]] = {}  # per stream: talker -> (level, augmentation)
        segments = self.segments(rng, target)
        tail_gap, tail_fill, background = (
            uniform(rng, self.config.gap_seconds),
            self.gap_fill(rng),
            self.background(rng),
        )
        return StreamPlan(
            id=stream_id,
            capability=self.name,
            split=self.config.split,
            language=self.config.language,
            seed=seed,
            segments=tuple(segments),
            tail_gap=tail_gap,
            tail_fill=tail_fill,
            background=background,
            reply_delay_chunks=self.config.reply_delay_chunks,
            min_seconds=self.config.stream_seconds[0],
            media=self.media_layer(rng, max(target, seconds_of(segments))),
        )

    # -- building blocks -------------------------------------------------------------------
    def voice(
        self, rng: np.random.Generator, texts: tuple[str, ...] = (), among: list[Voice] | None = None
    ) -> Voice:
        """A voice from ``among`` (default: the pool): one that has all ``texts`` (default: the scenario's
        prompts) spoken ahead when there is one."""
        voices = (list(self.pools.voices) if texts else self._prompt_voices) if among is None else among
        if texts and self.pools.spoken:
            ready = [v for v in voices if all((v.id, t) in self.pools.spoken for t in texts)]
            voices = ready or voices
        return pick(rng, voices)

    def spoken(self, text: str, voice: Voice) -> Clip:
        """``text`` in ``voice``: the clip synthesized ahead, else one spoken at render time."""
        return self.pools.spoken.get((voice.id, text)) or tts_clip(text, voice, self.config.language)

    @classmethod
    def prompts(cls, pools: Pools, config: ScenarioConfig) -> list[str]:
        """Every text of the scenario's own (instructions, questions…) it may speak, for ``synthesize``."""
        return []

    def media_layer(self, rng: np.random.Generator, seconds: float) -> tuple[Segment, ...]:
        """Speech from a TV or radio under ``seconds`` of stream (``background_media``); none by default."""
        return ()

    def gap_fill(self, rng: np.random.Generator) -> NoiseSlice | None:
        if self.noise is None:
            return None
        level = self.config.speech_level_db - uniform(rng, self.config.gap_snr_db)
        return NoiseSlice(self.noise.draw(), float(rng.random()), level)

    def background(self, rng: np.random.Generator) -> Background | None:
        if self.noise is None or rng.random() >= self.config.background_prob:
            return None
        return Background(self.noise.draw(), float(rng.random()), uniform(rng, self.config.snr_db))

    def segment(
        self,
        rng: np.random.Generator,
        kind: str,
        clip: Clip,
        reply: str | None = None,
        emotion: str = "normal",
        *,
        level_offset: float = 0.0,
        gap: float | None = None,
        info: dict[str, Any] | None = None,
        max_seconds: float | None = None,
    ) -> Segment:
        """A segment after a gap (drawn unless given); it replies when ``reply`` is given.

        Speech keeps its talker's level and room for the whole stream: the first utterance of a talker
        draws them, later ones vary the level by at most ``TALKER_JITTER_DB`` and reuse the augmentation.
        """
        cfg = self.config
        info = dict(info or {})
        talker = None if kind == "sound" else clip.speaker or (clip.tts or {}).get("id")
        known = self._talkers.get(talker) if talker else None
        if known is not None:
            level, chain = known
            level += uniform(rng, (-TALKER_JITTER_DB, TALKER_JITTER_DB))
        else:
            jitter = cfg.sound_level_db if kind == "sound" else (-cfg.gain_jitter_db, cfg.gain_jitter_db)
            level = cfg.speech_level_db + uniform(rng, jitter) + level_offset
            chain = draw(cfg.augment, rng) if cfg.augment else ()
            if talker:
                self._talkers[talker] = (level, chain)
        if talker:
            info["talker"] = talker
        return Segment(
            kind=kind,
            clip=clip,
            gap_before=uniform(rng, cfg.gap_seconds) if gap is None else gap,
            gap_fill=self.gap_fill(rng),
            level_db=level,
            respond=reply is not None,
            reply=reply,
            emotion=emotion,
            info=info,
            augment=chain,
            max_seconds=(max_seconds or uniform(rng, cfg.sound_seconds)) if kind == "sound" else None,
        )


class Planned(list):
    """A stream's segments so far, only ever appended to, with their running length in seconds (added
    in order, as ``sum`` adds them): checking that the next turn fits costs the turn, not the stream."""

    def __init__(self, segments: Iterable[Segment] = ()) -> None:
        super().__init__()
        self.seconds = 0.0
        self.extend(segments)

    def append(self, segment: Segment) -> None:
        super().append(segment)
        self.seconds += max(0.0, segment.gap_before) + segment.seconds

    def extend(self, segments: Iterable[Segment]) -> None:
        for segment in segments:
            self.append(segment)


def seconds_of(segments: list[Segment]) -> float:
    if isinstance(segments, Planned):
        return segments.seconds
    return sum(max(0.0, s.gap_before) + s.seconds for s in segments)


def fits(segments: list[Segment], more: list[Segment], target: float) -> bool:
    """Whether ``more`` still fits in a stream of ``target`` seconds after ``segments``."""
    return seconds_of(segments) + seconds_of(more) <= target

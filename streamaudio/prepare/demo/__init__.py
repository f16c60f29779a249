"""The built-in demo source: sentences of our own spoken by espeak-ng voices, and made-up noise beds.

``python -m streamaudio.prepare.demo`` writes the demo clip manifests into ``manifests/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import yaml

from streamaudio.plan.ontology import audioset
from streamaudio.prepare.manifest import Clip
from streamaudio.protocol import SAMPLE_RATE
from streamaudio.render.sounds import SOUNDS
from streamaudio.tts.espeak import EspeakEngine
from streamaudio.tts.voices import Voice

DEMO_VOICES = EspeakEngine.voices  # espeak-ng variants with speaking rate and pitch
VOICES_PER_SENTENCE = 2
SPEECH_MANIFEST = "demo_speech.jsonl.gz"
NOISE_MANIFEST = "demo_noise.jsonl.gz"
SOUNDS_MANIFEST = "demo_sounds.jsonl.gz"
DIALOGUES_MANIFEST = "demo_dialogues.jsonl.gz"
NOISE_SECONDS = 40.0
SOUND_VARIANTS = 4
TRANSLATION_LANGUAGE = "de"


def sentences() -> list[str]:
    """The demo sentences, in file order."""
    text = files("streamaudio.prepare.demo").joinpath("sentences.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def manifest_path(name: str) -> Path:
    return Path(str(files("streamaudio.manifests").joinpath(name)))


def translations() -> dict[str, str]:
    """English demo sentence → its German translation (our own), for s2tt."""
    text = (
        files("streamaudio.prepare.demo")
        .joinpath(f"translations_{TRANSLATION_LANGUAGE}.tsv")
        .read_text(encoding="utf-8")
    )
    rows = [line.split("\t") for line in text.splitlines()[1:] if line.strip()]
    return {en: de for en, de in rows}


def dialogues() -> list[dict]:
    """The demo dialogues as dialogue-manifest rows."""
    text = files("streamaudio.prepare.demo").joinpath("dialogues.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return [
        {
            "id": f"demo-dialogue-{i:03d}",
            "source": "demo",
            "turns": [{"role": r, "text": t} for r, t in turns],
        }
        for i, turns in enumerate(data)
    ]


def sound_clips() -> list[Clip]:
    """Built-in sound events (``render.sounds``), several variants each, labelled with AudioSet mids."""
    onto = audioset()
    clips = []
    for n, (kind, (_, mids, seconds)) in enumerate(SOUNDS.items()):
        for v in range(SOUND_VARIANTS):
            clips.append(
                Clip(
                    id=f"demo-sound-{kind}-{v}",
                    source="demo-sound",
                    duration=round(seconds * (0.8 + 0.1 * v), 3),
                    sample_rate=SAMPLE_RATE,
                    channels=1,
                    labels=mids,
                    label_names=tuple(onto.name(m) for m in mids),
                    category=kind,
                    generator={"kind": "sound", "sound": kind, "seed": 5000 + 10 * n + v},
                )
            )
    return clips


def text_clips() -> list[Clip]:
    """The demo sentences as text to be spoken, each with its German translation where the demo has one."""
    german = translations()
    return [
        Clip(id=f"demo-en-{i:04d}", source="demo", duration=1.0, text=text, **_translation(text, german))
        for i, text in enumerate(sentences())
    ]


def _translation(text: str, german: dict[str, str]) -> dict[str, str]:
    return {"translation": german[text], "target_language": TRANSLATION_LANGUAGE} if text in german else {}


def speech_clips(speak) -> Iterator[Clip]:
    """Each sentence in two voices; ``speak(text, voice)`` gives the audio to measure durations."""
    german = translations()
    for i, text in enumerate(sentences()):
        for j in range(VOICES_PER_SENTENCE):
            name = DEMO_VOICES[(i + j * 3) % len(DEMO_VOICES)]
            voice = Voice("espeak-ng", name)
            audio = speak(text, name)
            yield Clip(
                id=f"demo-en-{i:04d}-{name.split('@')[0]}",
                source="demo",
                duration=round(audio.size / SAMPLE_RATE, 4),
                sample_rate=SAMPLE_RATE,
                channels=1,
                text=text,
                language="en",
                speaker=voice.id,
                tts=voice.tts_field(text),
                **_translation(text, german),
            )


def noise_clips() -> list[Clip]:
    """Coloured noise, mains hum and TTS babble beds."""
    said = sentences()
    beds: list[tuple[str, str, dict]] = [
        ("white", "coloured", {"exponent": 0.0}),
        ("pink", "coloured", {"exponent": 1.0}),
        ("brown", "coloured", {"exponent": 2.0}),
        ("hum-50hz", "hum", {"base_hz": 50.0}),
        ("hum-60hz", "hum", {"base_hz": 60.0}),
    ]
    for k, talkers in enumerate((3, 5, 8)):
        chosen = [
            {"text": said[(37 * k + 11 * t) % len(said)], "voice": DEMO_VOICES[(k + t) % len(DEMO_VOICES)]}
            for t in range(talkers)
        ]
        beds.append((f"babble-{talkers}", "babble", {"talkers": chosen}))
    return [
        Clip(
            id=f"demo-noise-{name}",
            source="demo-noise",
            duration=NOISE_SECONDS,
            sample_rate=SAMPLE_RATE,
            channels=1,
            category=kind,
            generator={"kind": kind, "seed": 1000 + n, **params},
        )
        for n, (name, kind, params) in enumerate(beds)
    ]

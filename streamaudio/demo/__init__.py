"""The built-in demo source: sentences of our own spoken by espeak-ng voices, and made-up noise beds.

``python -m streamaudio.demo`` writes the demo clip manifests into ``manifests/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

from streamaudio.manifest import Clip
from streamaudio.protocol import SAMPLE_RATE

# espeak-ng voices with variants and speaking rate/pitch (see streamaudio.tts.espeak).
DEMO_VOICES = (
    "en-us+m3@165,45",
    "en-us+f3@160,60",
    "en+m1@170,40",
    "en-gb-x-rp+f2@150,55",
    "en-029+m5@155,50",
    "en-gb-scotland+f4@165,65",
)
VOICES_PER_SENTENCE = 2
SPEECH_MANIFEST = "demo_speech.jsonl.gz"
NOISE_MANIFEST = "demo_noise.jsonl.gz"
NOISE_SECONDS = 40.0


def sentences() -> list[str]:
    """The demo sentences, in file order."""
    text = files("streamaudio.demo").joinpath("sentences.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def manifest_path(name: str) -> Path:
    return Path(str(files("streamaudio.manifests").joinpath(name)))


def speech_clips(speak) -> Iterator[Clip]:
    """Each sentence in two voices; ``speak(text, voice)`` gives the audio to measure durations."""
    for i, text in enumerate(sentences()):
        for j in range(VOICES_PER_SENTENCE):
            voice = DEMO_VOICES[(i + j * 3) % len(DEMO_VOICES)]
            audio = speak(text, voice)
            yield Clip(
                id=f"demo-en-{i:04d}-{voice.split('@')[0]}",
                source="demo",
                duration=round(audio.size / SAMPLE_RATE, 4),
                sample_rate=SAMPLE_RATE,
                channels=1,
                text=text,
                language="en",
                speaker=voice.split("@")[0],
                tts={"engine": "espeak-ng", "voice": voice},
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

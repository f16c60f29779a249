from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import soundfile as sf

from streamaudio.render.audio import active_rms
from streamaudio.tts import (
    CachedTTS,
    EspeakEngine,
    TTSError,
    Utterance,
    Voice,
    get_engine,
    register,
    registry,
)


@pytest.fixture(scope="module")
def engine() -> EspeakEngine:
    return EspeakEngine()


def test_speaks_english_at_16k(engine: EspeakEngine) -> None:
    short = engine.synthesize("Hello.", "en-us")
    long = engine.synthesize("Hello there, this sentence is a good deal longer than the first one.", "en-us")
    assert short.dtype == np.float32 and 0.3 < short.size / 16000 < 2.0
    assert long.size > 3 * short.size
    assert active_rms(long) > 0.01


def test_voices_and_rates_differ(engine: EspeakEngine) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    a = engine.synthesize(text, "en-us+m3")
    b = engine.synthesize(text, "en-gb-x-rp+f2")
    slow = engine.synthesize(text, "en-us+m3@120,50")
    assert a.size != b.size or not np.allclose(a, b)
    assert slow.size > 1.2 * a.size


def test_settings_do_not_leak_between_voices(engine: EspeakEngine) -> None:
    text = "Rate and pitch must not carry over."
    before = engine.synthesize(text, "en-us")
    engine.synthesize(text, "en-us@80,90")
    assert np.array_equal(engine.synthesize(text, "en-us"), before)


def test_other_languages_by_code(engine: EspeakEngine) -> None:
    assert engine.voice_for_language("de") == "de"
    assert engine.voice_for_language("zh-CN") == "cmn"
    assert engine.synthesize("Guten Morgen, wie geht es dir?", engine.voice_for_language("de")).size > 8000
    with pytest.raises(TTSError):
        engine.voice_for_language("xx-nope")
    with pytest.raises(TTSError):
        engine.synthesize("hello", "no-such-voice")


class CountingEngine:
    name = "counting"
    version = "1"
    voices = ("a",)
    prosody: ClassVar[dict] = {"speed": (0.9, 1.1)}
    calls = 0

    def speak(self, u: Utterance) -> tuple[np.ndarray, int]:
        CountingEngine.calls += 1
        t = np.arange(int(0.5 * 22050)) / 22050
        return (0.3 * np.sin(2 * np.pi * 150 * u.prosody.get("speed", 1.0) * t)).astype(np.float32), 22050

    def voice_for_language(self, language: str) -> str:
        return "a"


def test_store_keys_on_voice_text_prosody_and_warp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTERED", {})  # registered for this test only
    register(CountingEngine)
    CountingEngine.calls = 0
    store = CachedTTS(tmp_path)
    plain, fast = Voice("counting", "a"), Voice("counting", "a", warp=1.08)
    first = store.synthesize(plain, "hi", {"speed": 1.0})
    again = store.synthesize(plain, "hi", {"speed": 1.0})
    assert CountingEngine.calls == 1 and np.array_equal(first, again)
    assert first.size == 8000  # 0.5 s at 22.05 kHz, resampled to 16 kHz
    store.synthesize(plain, "hi", {"speed": 1.05})
    store.synthesize(Voice("counting", "b"), "hi", {"speed": 1.0})
    warped = store.synthesize(fast, "hi", {"speed": 1.0})
    store.synthesize(plain, "bye", {"speed": 1.0})
    assert CountingEngine.calls == 5
    assert abs(warped.size - 8000 / 1.08) <= 1  # a warp speeds the voice up (and raises it)
    files = sorted((tmp_path / "tts").rglob("*.flac"))
    assert len(files) == 5 and all(sf.info(str(f)).samplerate == 16000 for f in files)
    files[0].write_bytes(b"not flac")  # a damaged entry is spoken again, not an error
    key = files[0].stem
    assert store.lookup(key) is None and not files[0].exists()


def test_prosody_is_drawn_per_text_and_repeatable() -> None:
    voice = Voice("piper", "joe", prosody=(("length_scale", 0.9, 1.15),))
    a, b = voice.draw_prosody("one thing"), voice.draw_prosody("another thing")
    assert a == voice.draw_prosody("one thing") and a != b
    assert all(0.9 <= v["length_scale"] <= 1.15 for v in (a, b))
    assert voice.id == "piper:joe" and Voice("piper", "/m/en_US-x-medium.onnx", "3", 0.96).id == (
        "piper:en_US-x-medium#3~0.96"
    )


def test_unknown_engine_is_one_line() -> None:
    with pytest.raises(TTSError, match=r"unknown TTS engine 'nope'; known: .*espeak-ng.*piper"):
        get_engine("nope")

from pathlib import Path

import numpy as np
import pytest

from streamaudio.audio import active_rms
from streamaudio.tts import CachedTTS, EspeakEngine, TTSError


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

    def __init__(self) -> None:
        self.calls = 0

    def synthesize(self, text: str, voice: str) -> np.ndarray:
        self.calls += 1
        return np.full(1600, 0.25, dtype=np.float32)

    def voice_for_language(self, language: str) -> str:
        return language


def test_cache_keys_on_voice_and_text(tmp_path: Path) -> None:
    counting = CountingEngine()
    tts = CachedTTS(counting, tmp_path)
    first = tts.synthesize("hi", "a")
    again = tts.synthesize("hi", "a")
    assert counting.calls == 1 and np.array_equal(first, again)
    tts.synthesize("hi", "b")
    tts.synthesize("bye", "a")
    assert counting.calls == 3
    assert len(list((tmp_path / "tts" / "counting").rglob("*.npy"))) == 3

"""The piper engine with the shipped voice: real neural speech, repeatable to the sample, and heard as the
words it was given by an independent recogniser (pocketsphinx, trained on human speech)."""

from pathlib import Path

import jiwer
import numpy as np
import pytest
from pocketsphinx import Decoder

from streamaudio.render.audio import active_rms, frame_powers, to_mono_16k
from streamaudio.tts import CachedTTS, TTSError, Utterance, Voice, VoiceChoice, get_engine, render
from streamaudio.tts.cache import PEAK

SENTENCES = [
    "The rain stopped just before noon.",
    "Could you tell me the way to the station, please?",
    "I would like to hear something calm for the evening.",
    "We missed the last tram and walked home along the river.",
    "Please put the kettle on, I will be there in five minutes.",
    "My brother bought a new bicycle last week.",
]


@pytest.fixture(scope="module")
def recognise():
    decoder = Decoder(samprate=16000)

    def run(audio: np.ndarray) -> str:
        decoder.start_utt()
        decoder.process_raw((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes(), full_utt=True)
        decoder.end_utt()
        return decoder.hyp().hypstr if decoder.hyp() else ""

    return run


def words(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalpha() or c == " ").split())


def test_joe_speaks_16k_mono_neither_clipped_nor_silent() -> None:
    voice = VoiceChoice("piper").pool()[2]
    assert voice.id == "piper:joe"
    audio = render(voice, SENTENCES[1], voice.draw_prosody(SENTENCES[1]))
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 2.0 < audio.size / 16000 < 5.0
    assert np.abs(audio).max() <= PEAK + 1e-6  # below -1 dBFS: nothing clips
    assert active_rms(audio) > 0.03
    powers = frame_powers(audio)
    assert (powers < 1e-6).mean() < 0.5  # speech throughout, not a click in silence


def test_same_utterance_same_samples_other_seed_other_samples() -> None:
    engine = get_engine("piper")
    u = Utterance(SENTENCES[0], "joe", prosody={"length_scale": 1.0}, seed=7)
    a, rate = engine.speak(u)
    b, _ = engine.speak(u)
    c, _ = engine.speak(Utterance(SENTENCES[0], "joe", prosody={"length_scale": 1.0}, seed=8))
    assert rate == 22050
    assert np.array_equal(a, b)  # the graph's noise comes from the seed: builds stay byte-identical
    assert not (a.size == c.size and np.allclose(a, c))
    slow, _ = engine.speak(Utterance(SENTENCES[0], "joe", prosody={"length_scale": 1.3}, seed=7))
    assert slow.size > 1.15 * a.size


def test_warps_change_length_and_pitch() -> None:
    """A warp plays the voice's samples at another rate: tempo, pitch and formants scale together."""
    text = SENTENCES[5]
    low, high = Voice("piper", "joe", warp=0.92), Voice("piper", "joe", warp=1.08)
    a, b = render(low, text, {}), render(high, text, {})
    assert a.size / b.size == pytest.approx(1.08 / 0.92, rel=0.01)
    raw, rate = get_engine("piper").speak(high.utterance(text, {}))
    expected = to_mono_16k(raw, round(rate * 1.08))  # 22050 Hz read as 23814 Hz: everything 8% higher
    expected *= min(1.0, PEAK / np.abs(expected).max())
    np.testing.assert_allclose(b, expected, atol=1e-6)


def test_speakers_are_checked_against_the_voice() -> None:
    with pytest.raises(TTSError, match="one speaker"):
        render(Voice("piper", "joe", speaker="3"), "Hello there.", {})
    with pytest.raises(TTSError, match=r"no such \.onnx file"):
        render(Voice("piper", "/nowhere/voice.onnx"), "Hello there.", {})


def test_unspeakable_text_is_a_reject_reason() -> None:
    with pytest.raises(TTSError) as info:
        render(Voice("piper", "joe"), "   ", {})
    assert info.value.reason == "empty_text"


def test_a_recogniser_hears_piper_far_better_than_espeak(recognise, tmp_path: Path) -> None:
    """The point of neural speech: a recogniser trained on people understands it. Word error rate of
    pocketsphinx's en-US model on the same sentences, in the default voice of each engine."""
    store = CachedTTS(tmp_path)
    piper = Voice("piper", "joe")
    espeak = Voice("espeak-ng", "en-us+m3@165,45")
    refs = [words(s) for s in SENTENCES]
    heard_piper = [recognise(store.synthesize(piper, s, {})) for s in SENTENCES]
    heard_espeak = [recognise(store.synthesize(espeak, s, {})) for s in SENTENCES]
    wer_piper, wer_espeak = jiwer.wer(refs, heard_piper), jiwer.wer(refs, heard_espeak)
    assert wer_piper < 0.35, heard_piper
    assert wer_espeak > wer_piper + 0.3, (wer_piper, wer_espeak)

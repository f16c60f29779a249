import pytest

from streamaudio.protocol import (
    ASSISTANT,
    AUDIO_BEGIN,
    AUDIO_END,
    AUDIO_PAD,
    CHUNK_SAMPLES,
    EMOTION_TOKENS,
    ENGLISH,
    FRAME_SAMPLES,
    KEEP_SILENCE,
    OFFLINE,
    ONLINE,
    PAD,
    SAMPLE_RATE,
    SYSTEM,
    TEXT_BEGIN,
    TEXT_END,
    USER,
    chunks_for,
    normalize_emotion,
    reply_chunk,
)


@pytest.mark.parametrize(
    ("end", "chunk"),
    [
        (0, 0),
        (1, 0),  # first frame still open: its reply comes after chunk 0
        (640, 0),  # ends exactly on a frame boundary inside chunk 0
        (5760, 0),  # ends at the start of frame 9: the next frame is 9, in chunk 0
        (5761, 1),  # one sample into frame 9: the first free frame is 10, in chunk 1
        (6399, 1),
        (6400, 1),  # ends exactly on a chunk boundary: the first frame after it opens chunk 1
        (6401, 1),
        (12160, 1),
        (12161, 2),
        (12800, 2),
        (64_000, 10),
    ],
)
def test_reply_chunk_rule_on_frame_and_chunk_boundaries(end: int, chunk: int) -> None:
    assert reply_chunk(end) == chunk


def test_reply_chunk_delay_and_latency_bounds() -> None:
    assert reply_chunk(6400, delay_chunks=2) == 3
    for end in range(1, 40 * CHUNK_SAMPLES, 97):
        reply_at = (reply_chunk(end) + 1) * CHUNK_SAMPLES  # the reply follows its chunk
        latency = (reply_at - end) / SAMPLE_RATE
        assert 0.0 < latency <= 0.44 + 1e-9
    with pytest.raises(ValueError):
        reply_chunk(-1)


def test_chunk_geometry_and_tokens() -> None:
    assert CHUNK_SAMPLES == 6400 and FRAME_SAMPLES * 10 == CHUNK_SAMPLES
    assert chunks_for(1) == 1 and chunks_for(6400) == 1 and chunks_for(6401) == 2
    assert SYSTEM == TEXT_BEGIN == 151644
    ids = [
        USER,
        ASSISTANT,
        KEEP_SILENCE,
        PAD,
        ONLINE,
        OFFLINE,
        ENGLISH,
        TEXT_END,
        TEXT_BEGIN,
        AUDIO_PAD,
        AUDIO_BEGIN,
        AUDIO_END,
        *EMOTION_TOKENS.values(),
    ]
    assert len(set(ids)) == len(ids)
    assert EMOTION_TOKENS["urgent"] == 151619


def test_emotions_fold_to_normal() -> None:
    assert normalize_emotion("Happy ") == "happy"
    assert normalize_emotion("bored") == "normal"
    assert normalize_emotion(None) == "normal"

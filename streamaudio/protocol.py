"""The Audio-Interaction streaming protocol: rates, chunking, token ids and the reply-chunk rule.

This is the only module that holds these numbers (docs/protocol.md).
"""

from __future__ import annotations

SAMPLE_RATE = 16_000
FRAME_SAMPLES = 640  # one encoder frame, 40 ms
FRAMES_PER_CHUNK = 10
CHUNK_SAMPLES = FRAME_SAMPLES * FRAMES_PER_CHUNK  # 6400 samples, 0.4 s
CHUNK_SECONDS = CHUNK_SAMPLES / SAMPLE_RATE

# Token ids of the Audio-Interaction tokenizer.
USER = 151601
ASSISTANT = 151602
KEEP_SILENCE = 151605
PAD = 151608
ONLINE = 151609
OFFLINE = 151610
ENGLISH = 151611
HAPPY = 151614
SAD = 151615
ANGRY = 151616
SURPRISE = 151617
NORMAL = 151618
URGENT = 151619
TEXT_END = 151643
TEXT_BEGIN = 151644
SYSTEM = TEXT_BEGIN  # the system marker shares TEXT_BEGIN's id
AUDIO_PAD = 151646
AUDIO_BEGIN = 151647
AUDIO_END = 151648
IGNORE_INDEX = -100

EMOTION_TOKENS: dict[str, int] = {
    "happy": HAPPY,
    "sad": SAD,
    "angry": ANGRY,
    "surprise": SURPRISE,
    "normal": NORMAL,
    "urgent": URGENT,
}

SYSTEM_PROMPT = (
    "You are a helpful assistant. When there is no user text, if the audio contains a question, "
    "please answer it. If it is a sound effect, determine based on the sound whether help is needed."
)

NO_RESPONSE = "<no need to response>"

# Chunk label alphabet of the shard contract.
LABEL_SILENT = "S"
LABEL_REPLY = "B"

SCHEMA_STREAM = "streamaudio.stream/1"


def normalize_emotion(emotion: str | None) -> str:
    """Map any emotion string onto the protocol's six; anything unknown is 'normal'."""
    e = (emotion or "").strip().lower()
    return e if e in EMOTION_TOKENS else "normal"


def reply_chunk(end_sample: int, delay_chunks: int = 0) -> int:
    """Chunk on which the reply to a turn ending at ``end_sample`` lands.

    It is the chunk holding the first frame after the turn: ``ceil(end / 640) // 10``, plus an
    optional delay in whole chunks.
    """
    if end_sample < 0 or delay_chunks < 0:
        raise ValueError("end_sample and delay_chunks must be non-negative")
    frames = -(-end_sample // FRAME_SAMPLES)  # ceil without floats
    return frames // FRAMES_PER_CHUNK + delay_chunks


def chunks_for(num_samples: int) -> int:
    """Number of whole chunks needed to hold ``num_samples`` samples."""
    return -(-num_samples // CHUNK_SAMPLES)

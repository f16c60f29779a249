"""The released builder's input (``dataset/cons_online_data.py``): lines over WAV pieces of a stream.

Each piece ends on the first whole frame after its turn's voice (plus the reply delay), so the builder's
rule (a turn's decision after its piece's last frame, on chunk ``frames // 10``) puts each decision on the
chunk streamaudio labelled. A stream is cut into lines as the trainer's lines are (``lines.plan_lines``,
counting the noise the builder adds), each line's audio after its last turn is its ``tail_audio_path``
(the builder draws a tail of its own instead), and every line has the ``conversation`` the builder reads
(``_extract_turns``, ``cons_online_data.py:105-121``): ``online`` lines have only that; ``stream2m`` lines
are the StreamAudio-2M sample shape of the released README with ``conversation`` beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from streamaudio.protocol import CHUNK_SAMPLES, FRAME_SAMPLES, NO_RESPONSE, SAMPLE_RATE
from streamaudio.render.sample_json import EventJSON, StreamJSON, TurnJSON
from streamaudio.use.lines import Line, voice_end_frame

FORMATS = ("online", "stream2m")


def write_pieces(
    folder: Path, audio: np.ndarray, meta: StreamJSON, line: Line
) -> list[tuple[Path, TurnJSON | None]]:
    """The line's pieces as WAVs: one per turn decided in it, ending where the turn's voice ends (whole
    frames), then the audio after the last one up to the line's end (its tail, turn None)."""
    folder.mkdir(parents=True, exist_ok=True)
    pieces: list[tuple[Path, TurnJSON | None]] = []
    start = line.start * CHUNK_SAMPLES
    stop = line.stop * CHUNK_SAMPLES
    for k, turn in enumerate(meta["turns"]):
        end = voice_end_frame(meta, turn) * FRAME_SAMPLES
        if not line.start <= turn["chunk"] < line.stop or end <= start:
            continue
        pieces.append((_write(folder / f"{k:03d}.wav", audio[start:end]), turn))
        start = end
    if stop > start:
        name = f"tail-{line.id.removeprefix(meta['id']).lstrip('-') or 'all'}.wav"
        pieces.append((_write(folder / name, audio[start:stop]), None))
    return pieces


def _write(path: Path, audio: np.ndarray) -> Path:
    sf.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
    return path


def builder_line(
    meta: StreamJSON, line: Line, pieces: list[tuple[Path, TurnJSON | None]], fmt: str
) -> dict[str, Any]:
    """The builder's line: one ``conversation`` item per turn; the audio after the last turn is
    ``tail_audio_path``; ``stream`` and ``chunks`` say where in the stream the line lies."""
    events = meta["events"]
    conversation, turns = [], []
    tail = None
    for path, turn in pieces:
        if turn is None:
            tail = str(path)
            continue
        item = _item(turn, path)
        conversation.append(item)
        event = events[turn["event"]]
        turns.append({"user": _user_text(event), **item, "scene_type": event["kind"]})
    where = {"stream": meta["id"], "chunks": [line.start, line.stop]}
    if fmt == "online":
        return {"id": line.id, "conversation": conversation, "tail_audio_path": tail, **where}
    return {
        "id": line.id,
        "stream_scene_type": meta["capability"],
        "num_turns": len(turns),
        "turns": turns,
        "conversation": conversation,
        "tail_audio_path": tail,
        **where,
    }


def _item(turn: TurnJSON, path: Path) -> dict[str, Any]:
    respond = bool(turn["respond"])
    return {
        "audio_path": str(path),
        "assistant": turn["text"] if respond else NO_RESPONSE,
        "emotion": turn.get("emotion", "normal") if respond else "normal",
    }


def _user_text(event: EventJSON) -> str:
    if event.get("text"):
        return event["text"]
    names = event.get("label_names") or event.get("labels") or []
    return f"<{event['kind']}: {', '.join(names)}>" if names else f"<{event['kind']}>"

"""The two ways the released Audio-Interaction code runs a model over audio, as rules the backend follows.

``offline`` is ``generate/base.py``'s ``streaming_generate`` as ``infer_offline.py`` calls it: the log-mel
of the whole file at once (``_encode_audio_samples``, ``:88-112``, as training's ``AudioFeat.pt``), one
session for the file, greedy decoding over the whole vocabulary (``temperature=0.0, top_p=0.0``), a token
other than KEEP_SILENCE or TEXT_BEGIN while listening an error (``:367-368``), no cap on a reply. Past the
model's block size the released model fails (``model.py:220``); here the session starts again from the
system prompt over the rest of the stream, as one would cut the file there, and it is counted.

``server`` is ``web/server.py``'s ``InferenceSession``: the log-mel of the audio heard since the last
reset (``encode_frame``), the listening step sampled from the whole vocabulary at temperature 1
(``sample(logits)``, ``:265``), another token there only warned about and kept in the context
(``:295-296``), a reply of at most 512 tokens with no TEXT_END after the cap (``stream_text``), the KV cache
and the audio history cleared after every reply (``:378-389``) and, dropping the chunk that found it, when
the session reached 1,500 positions (``:91``, ``:242-249``, ``:406-412``), and audio that arrives while it
speaks refused (409, ``:398-400``; the page stops its microphone until the reply ends). How long a reply
takes depends on the machine: ``token_seconds`` per generated token, rounded up to whole chunks dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from streamaudio.protocol import CHUNK_SECONDS

SESSIONS = ("offline", "server")
DECISIONS = ("released", "restricted")  # restricted: the listening step chooses KEEP_SILENCE or TEXT_BEGIN
SERVER_MAX_POSITIONS = 1500  # web/server.py:91, MAX_INPUT_POS_LEN
SERVER_MAX_REPLY_TOKENS = 512  # web/server.py:77, MAX_TEXT_TOKENS
SEED = 1337  # the released server's and offline script's set_seed(1337)
TOKEN_SECONDS = 0.03  # assumed: about 33 tokens a second, a 7B model on one GPU


@dataclass(frozen=True)
class SessionRules:
    """What a session mode decides: features, sampling, caps and resets."""

    name: str
    whole_file_features: bool  # log-mel of the whole session audio at once, else of the history so far
    sample: bool  # temperature 1 over the whole vocabulary, else greedy
    reset_after_reply: bool
    max_positions: int | None  # reset (dropping the chunk) when a chunk starts at this many positions
    max_reply_tokens: int | None
    stop_off_protocol: bool  # a token other than KEEP_SILENCE/TEXT_BEGIN while listening ends the stream
    token_seconds: float  # audio refused while a reply is generated, per token

    def busy_chunks(self, tokens: int) -> int:
        """Chunks refused while a reply of ``tokens`` generated tokens is produced."""
        return math.ceil(round(tokens * self.token_seconds / CHUNK_SECONDS, 9)) if self.token_seconds else 0


def session_rules(
    name: str, max_reply_tokens: int | None = None, token_seconds: float = TOKEN_SECONDS
) -> SessionRules:
    """The rules of a mode; ``max_reply_tokens`` overrides its reply cap (offline has none)."""
    if name == "offline":
        return SessionRules(name, True, False, False, None, max_reply_tokens, True, 0.0)
    if name == "server":
        cap = max_reply_tokens or SERVER_MAX_REPLY_TOKENS
        return SessionRules(name, False, True, True, SERVER_MAX_POSITIONS, cap, False, token_seconds)
    raise ValueError(f"session {name!r}: choose from {', '.join(SESSIONS)}")


@dataclass
class SessionStats:
    """What happened in the sessions of a run, for the report."""

    listening_steps: int = 0
    resets: int = 0
    dropped_chunks: int = 0  # the chunk that found a full session, and chunks refused while speaking
    capped_replies: int = 0
    left_protocol: int = 0  # listening steps whose chosen token was neither KEEP_SILENCE nor TEXT_BEGIN
    off_protocol_argmax: int = 0  # listening steps where the whole vocabulary's argmax is another token
    off_protocol_mass: float = 0.0  # summed probability (temperature 1) of the other tokens
    stopped_streams: list[str] = field(default_factory=list)  # offline: streams ended by such a token

    def to_dict(self) -> dict[str, object]:
        steps = self.listening_steps or 1
        return {
            "listening_steps": self.listening_steps,
            "resets": self.resets,
            "dropped_chunks": self.dropped_chunks,
            "capped_replies": self.capped_replies,
            "left_protocol": self.left_protocol,
            "off_protocol_argmax_share": round(self.off_protocol_argmax / steps, 6),
            "off_protocol_mean_probability": round(self.off_protocol_mass / steps, 6),
            "stopped_streams": self.stopped_streams,
        }

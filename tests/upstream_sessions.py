"""The released Audio-Interaction code's two inference loops, re-implemented line by line for the harness
tests, driving litgpt 0.5.8's own GPT (the released model's base) with the released float16 rotary
positions, openai-whisper's own log-mel and transformers' own audio tower.

Each function cites the lines of ``xzf-thu/Audio-Interaction`` (commit 30951392) it follows. What is
replaced, and why:
- the released ``GPT.forward(token, None, 1, audio_feat, input_pos, …)`` writes the chunk's 10 encoder
  frames over the PAD embeddings; here a forward hook on litgpt's ``wte`` does the same;
- audio comes as samples, not as files through ``whisper.load_audio`` (ffmpeg): the same float32 values;
- ``streaming_generate`` fails past the model's block size (``model.py:220``) and has no reply cap; the
  offline loop here starts a new session over the rest of the audio where the block would be passed and
  closes a reply with TEXT_END at the cap, as streamaudio's ``offline`` session documents;
- the server's 409 and its microphone stop are wall-clock behaviour: ``busy_chunks`` says how many chunks
  a reply of so many tokens keeps out.

A decision per chunk is ``S`` (KEEP_SILENCE), ``B`` (TEXT_BEGIN), ``X`` (another token while listening)
or ``-`` (not heard: dropped, refused, or after the offline loop stopped).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from ai_checkpoint import KEEP_SILENCE_ID as KEEP_SILENCE
from ai_checkpoint import TEXT_BEGIN_ID as TEXT_BEGIN

# dataset/TOKENS.py
AUDIO_BEGIN, PAD, ASSISTANT, TEXT_END = 151647, 151608, 151602, 151643
ONLINE, ENGLISH, SYSTEM = 151609, 151611, TEXT_BEGIN
CHUNK = 6400
LISTEN = [AUDIO_BEGIN] + [PAD] * 10 + [ASSISTANT]


class Model:
    """litgpt's GPT with a KV cache, the chunk's features written over its PAD embeddings."""

    def __init__(self, gpt: Any) -> None:
        self.gpt = gpt
        self.features: torch.Tensor | None = None

        def write_audio(module: Any, args: tuple, out: torch.Tensor) -> torch.Tensor:
            if self.features is not None:
                out = out.clone()
                out[args[0] == PAD] = self.features.to(out.dtype)
            return out

        gpt.transformer.wte.register_forward_hook(write_audio)

    def reset(self) -> None:
        """``model.clear_kv_cache()`` then ``set_kv_cache(batch_size=1)`` (server.py:199-201, :219-222)."""
        self.gpt.clear_kv_cache()
        self.gpt.set_kv_cache(batch_size=1)

    def forward(
        self, tokens: list[int], input_pos: torch.Tensor, features: torch.Tensor | None
    ) -> torch.Tensor:
        """base.py:128-133 (_forward): the last position's logits."""
        self.features = features
        with torch.no_grad():
            logits = self.gpt(torch.tensor([tokens]), input_pos=input_pos)
        self.features = None
        return logits[0, -1].float()


def whole_file_features(audio: np.ndarray, encoder: Any) -> list[torch.Tensor]:
    """base.py:88-112 (_encode_audio_samples): the whole audio's log-mel, runs of 40, chunks of 10."""
    import whisper

    samples = list(audio)
    if len(samples) % CHUNK:
        samples += [0] * (CHUNK - len(samples) % CHUNK)
    mel = whisper.log_mel_spectrogram(np.array(samples, dtype=np.float32), n_mels=128)
    n = mel.shape[1]
    runs = [40] * (n // 40) + ([n % 40] if n % 40 else [])
    with torch.no_grad():
        feat = encoder(mel, torch.tensor(runs), torch.tensor((n - 1) // 2 + 1)).last_hidden_state
    keep = feat.shape[0] - feat.shape[0] % 10
    return [feat[i : i + 10] for i in range(0, keep, 10)]


def history_features(history: list[np.ndarray], encoder: Any) -> torch.Tensor:
    """server.py:146-167 (encode_frame): the log-mel of the whole history, the newest 10 frames."""
    import whisper

    mel = whisper.log_mel_spectrogram(np.concatenate(history), n_mels=128)
    n = mel.shape[-1]
    with torch.no_grad():
        feat = encoder(mel, torch.tensor([40] * (n // 40)), torch.tensor((n - 1) // 2 + 1)).last_hidden_state
    return feat[-10:]


def offline(
    model: Model, encoder: Any, prefix: list[int], audio: np.ndarray, max_reply: int, block: int = 4096
) -> str:
    """base.py:272-370 (streaming_generate) over one file, greedy (infer_offline.py: temperature 0,
    top_p 0, top_k 1); a new session where the block would be passed; replies capped."""
    n = audio.size // CHUNK
    out = ["-"] * n
    chunk = 0
    while chunk < n:
        model.reset()
        feats = whole_file_features(audio[chunk * CHUNK :], encoder)
        first = chunk
        token = list(prefix)
        pos = 0
        while chunk < n:
            if pos + len(token) + len(LISTEN) + 1 > block:  # no room for a listen block and its token
                break
            ids = token + LISTEN
            logits = model.forward(ids, torch.arange(pos, pos + len(ids)), feats[chunk - first])
            pos += len(ids)
            choice = int(torch.argmax(logits))  # sample(temperature=0, top_p=0): argmax
            if choice == KEEP_SILENCE:
                out[chunk], token = "S", [choice]
            elif choice == TEXT_BEGIN:
                out[chunk] = "B"
                token = [choice]
                for _ in range(min(max_reply, block - pos - 2)):  # the block holds the reply and TEXT_END
                    logits = model.forward(token, torch.arange(pos, pos + 1), None)
                    pos += 1
                    token = [int(torch.argmax(logits))]
                    if token == [TEXT_END]:
                        break
                else:
                    model.forward(token, torch.arange(pos, pos + 1), None)
                    pos += 1
                    token = [TEXT_END]
            else:  # base.py:367-368: ValueError("Unexpected token … while listening")
                out[chunk] = "X"
                return "".join(out)
            chunk += 1
    return "".join(out)


def sample(logits: torch.Tensor, generator: torch.Generator) -> int:
    """base.py:59-75 with the server's defaults (temperature 1, no top-k, top-p 1): softmax, multinomial."""
    probs = torch.nn.functional.softmax(logits, dim=-1)
    return int(torch.multinomial(probs, num_samples=1, generator=generator))


def server(
    model: Model,
    encoder: Any,
    prefix: list[int],
    audio: np.ndarray,
    max_reply: int,
    busy_chunks: Callable[[int], int],
    seed: int = 1337,
) -> str:
    """web/server.py: /audio (:392-425), InferenceSession (:181-330), the decode thread (:366-389)."""
    generator = torch.Generator().manual_seed(seed)
    n = audio.size // CHUNK
    out = ["-"] * n
    history: list[np.ndarray] = []

    def fresh() -> tuple[list[int], int]:  # _init_kv_and_prompt (:197-214), the prompt not yet fed
        model.reset()
        history.clear()
        return list(prefix), 0

    token, pos = fresh()
    busy = 0
    for chunk in range(n):
        if busy:  # 409 while decoding (:398-400)
            busy -= 1
            continue
        if pos + len(token) >= 1500:  # should_evict (:242-249) before any work (:406-412)
            token, pos = fresh()
            continue
        history.append(audio[chunk * CHUNK : (chunk + 1) * CHUNK])
        feats = history_features(history, encoder)
        ids = token + LISTEN
        logits = model.forward(ids, torch.arange(pos, pos + len(ids)), feats)
        pos += len(ids)
        choice = sample(logits, generator)
        token = [choice]
        if choice == KEEP_SILENCE:
            out[chunk] = "S"
            continue
        if choice != TEXT_BEGIN:  # :295-296, a warning; the token stays in the context
            out[chunk] = "X"
            continue
        out[chunk] = "B"
        generated = 0
        for _ in range(max_reply):  # stream_text (:298-330)
            logits = model.forward(token, torch.arange(pos, pos + 1), None)
            pos += 1
            token = [sample(logits, generator)]
            generated += 1
            if token == [TEXT_END]:
                break
        token, pos = fresh()  # session.reset() after every reply (:378-389)
        busy = busy_chunks(generated)
    return "".join(out)

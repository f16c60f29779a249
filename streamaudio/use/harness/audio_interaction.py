"""The ``audio-interaction`` backend: a released Audio-Interaction checkpoint run chunk by chunk.

It computes what the released model computes, in one of the released code's two sessions
(``session.py``: ``offline`` as ``streaming_generate``, ``server`` as the web server):

- whisper's log-mel (128 bins) of the session's whole audio (offline) or of the audio heard so far
  (server), encoded by the chunk-wise Qwen2.5-Omni audio tower (``feature_lens`` in runs of 40,
  ``aftercnn_lens``), 10 encoder frames per chunk;
- per chunk ``AUDIO_BEGIN PAD×10 ASSISTANT`` with those frames written into the PAD slots, then the
  listening step's token: KEEP_SILENCE, TEXT_BEGIN, or (as the released rules allow) another token;
- after TEXT_BEGIN an optional emotion token (the model may skip it) and text up to TEXT_END or the
  mode's reply cap;
- rotary positions rounded to float16 as the released model builds them (2049 -> 2048), the positions
  it was trained with.

``decision="restricted"`` makes the listening step choose between KEEP_SILENCE and TEXT_BEGIN only; either
way the stats count how often the whole vocabulary's choice would have left the protocol. The model runs
in float32 on CPU and bfloat16 on CUDA unless ``dtype`` says otherwise; the encoder runs in float32.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np

from streamaudio.protocol import (
    ASSISTANT,
    AUDIO_BEGIN,
    CHUNK_SAMPLES,
    EMOTION_TOKENS,
    ENGLISH,
    FRAMES_PER_CHUNK,
    KEEP_SILENCE,
    ONLINE,
    PAD,
    SYSTEM,
    SYSTEM_PROMPT,
    TEXT_BEGIN,
    TEXT_END,
)
from streamaudio.render.sample_json import StreamJSON
from streamaudio.use.harness.checkpoint import (
    encode_mel,
    load_encoder,
    load_language_model,
    positions_fp16,
    torch_device,
)
from streamaudio.use.harness.errors import NEEDS_MODEL, HarnessError
from streamaudio.use.harness.logmel import MEL_FRAMES_PER_CHUNK, log_mel
from streamaudio.use.harness.loop import Reply
from streamaudio.use.harness.session import DECISIONS, SEED, TOKEN_SECONDS, SessionStats, session_rules
from streamaudio.use.tokens import TokenizerError, load_tokenizer

DTYPES = ("auto", "float32", "bfloat16", "float16")
EMOTION_BY_ID = {v: k for k, v in EMOTION_TOKENS.items()}
LISTEN = [AUDIO_BEGIN, *[PAD] * FRAMES_PER_CHUNK, ASSISTANT]


def _fp16_rotary(model: Any, table: Any) -> None:
    """Make the model's rotary embedding see float16-rounded positions (the attention mask does not)."""
    rotary = model.model.rotary_emb

    def round_positions(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        if "position_ids" in kwargs:
            kwargs["position_ids"] = table[kwargs["position_ids"]]
        else:
            args = (args[0], table[args[1]], *args[2:])
        return args, kwargs

    rotary.register_forward_pre_hook(round_positions, with_kwargs=True)


class AudioInteractionBackend:
    """An Audio-Interaction model behind the harness loop (CPU or CUDA)."""

    name = "audio-interaction"
    whole_stream = True  # offline features are the whole stream's

    def __init__(
        self,
        checkpoint: Path | None,
        device: str = "cpu",
        seed: int = SEED,
        max_reply_tokens: int | None = None,
        session_tokens: int | None = None,
        dtype: str = "auto",
        session: str = "offline",
        decision: str = "released",
        token_seconds: float = TOKEN_SECONDS,
    ) -> None:
        if checkpoint is None:
            raise HarnessError("the audio-interaction backend needs a checkpoint folder")
        if dtype not in DTYPES:
            raise HarnessError(f"dtype {dtype}: choose from {', '.join(DTYPES)}")
        if decision not in DECISIONS:
            raise HarnessError(f"decision {decision}: choose from {', '.join(DECISIONS)}")
        try:
            self.rules = session_rules(session, max_reply_tokens, token_seconds)
        except ValueError as exc:
            raise HarnessError(str(exc)) from None
        try:
            import torch
            import transformers  # noqa: F401
        except ImportError:
            raise HarnessError(NEEDS_MODEL) from None
        self.torch = torch
        self.device = torch_device(device)
        root = Path(checkpoint)
        if not (root / "tokenizer.json").is_file():
            raise HarnessError(f"{root}: not an Audio-Interaction checkpoint (no tokenizer.json)")
        try:
            self.tokenizer = load_tokenizer(root / "tokenizer.json")
        except TokenizerError as exc:
            raise HarnessError(str(exc)) from None
        model = load_language_model(root)
        if dtype == "auto":
            dtype = "bfloat16" if self.device.type == "cuda" else "float32"
        self.model = model.to(self.device, getattr(torch, dtype))
        block = self.model.config.max_position_embeddings
        session_tokens = session_tokens or block
        if not 0 < session_tokens <= block:
            raise HarnessError(f"a session of {session_tokens} tokens: the model holds 1 to {block}")
        self.session_tokens = session_tokens
        _fp16_rotary(self.model, positions_fp16(block).to(self.device))
        self.encoder = load_encoder(root).to(self.device)
        self.restricted = decision == "restricted"
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self._cache_kw = (
            "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        )
        self.stats = SessionStats()

    @property
    def resets(self) -> int:
        return self.stats.resets

    # -- the loop's interface --------------------------------------------------------------
    def start(self, meta: StreamJSON, audio: np.ndarray | None = None) -> None:
        """A new stream; offline features need its whole ``audio`` (without it, the audio so far)."""
        self._prompt = meta.get("system_prompt", SYSTEM_PROMPT)
        self._stream = str(meta.get("id", ""))
        self._audio = audio
        self._busy = 0
        self._stopped = False
        self._open_session(0)

    def step(self, chunk: np.ndarray, index: int) -> Reply | None:
        rules = self.rules
        if self._stopped:
            return None
        if self._busy:  # refused while the reply was being generated
            self._busy -= 1
            self.stats.dropped_chunks += 1
            return None
        if rules.max_positions is not None and self.position >= rules.max_positions:
            self._reset(index + 1)  # the server clears its cache and drops the chunk that found it full
            self.stats.dropped_chunks += 1
            return None
        if self.position + len(LISTEN) + 1 > self.session_tokens:  # the model's block: start again here
            self._reset(index)
        self._history.append(np.asarray(chunk, dtype=np.float32))
        embeds = self._embed(LISTEN)
        embeds[0, 1 : 1 + FRAMES_PER_CHUNK] = self._chunk_features(index)
        token = self._listen(self._forward(embeds))
        logits = self._forward(self._embed([token]))
        if token == KEEP_SILENCE:
            return None
        if token != TEXT_BEGIN:  # the server warns and goes on; streaming_generate raises
            self.stats.left_protocol += 1
            if rules.stop_off_protocol:
                self._stopped = True
                self.stats.stopped_streams.append(self._stream)
            return None
        reply, generated = self._speak(logits)
        if rules.reset_after_reply:
            self._reset(index + 1)
        self._busy = rules.busy_chunks(generated)
        return reply

    # -- pieces ----------------------------------------------------------------------------
    def _speak(self, logits: Any) -> tuple[Reply, int]:
        """The reply after TEXT_BEGIN and how many tokens were generated for it."""
        budget = self.session_tokens - self.position - 1  # room for TEXT_END
        if self.rules.max_reply_tokens is not None:
            budget = min(self.rules.max_reply_tokens, budget)
        emotion, text = "normal", []
        generated = 0
        for k in range(budget):
            token = self._choose(logits, None)
            generated += 1
            if not (self.rules.reset_after_reply and token == TEXT_END):  # the context goes on
                logits = self._forward(self._embed([token]))
            if token == TEXT_END:
                break
            if k == 0 and token in EMOTION_BY_ID:
                emotion = EMOTION_BY_ID[token]
            else:
                text.append(token)
        else:
            self.stats.capped_replies += 1
            if not self.rules.reset_after_reply:  # offline: close the reply so that listening goes on
                self._forward(self._embed([TEXT_END]))
        return Reply(self.tokenizer.decode(text, skip_special_tokens=True).strip(), emotion), generated

    def _reset(self, next_chunk: int) -> None:
        self.stats.resets += 1
        self._open_session(next_chunk)

    def _open_session(self, first_chunk: int) -> None:
        """A new KV cache with the system prompt; the audio history (and offline features) start at
        ``first_chunk``."""
        from transformers import DynamicCache

        try:
            self.cache = DynamicCache(config=self.model.config)
        except TypeError:  # transformers 4.x
            self.cache = DynamicCache()
        self.position = 0
        self._history: list[np.ndarray] = []
        self._first = first_chunk
        self._file_features = None
        if self.rules.whole_file_features and self._audio is not None:
            rest = self._audio[first_chunk * CHUNK_SAMPLES :]
            if rest.size >= CHUNK_SAMPLES:
                self._file_features = encode_mel(
                    self.encoder, log_mel(rest[: rest.size // CHUNK_SAMPLES * CHUNK_SAMPLES])
                )
        prompt = self.tokenizer.encode(self._prompt, add_special_tokens=False).ids
        self._forward(self._embed([ONLINE, ENGLISH, SYSTEM, TEXT_BEGIN, *prompt, TEXT_END]))

    def _chunk_features(self, index: int) -> Any:
        """The encoder's 10 frames of chunk ``index``: from the whole session audio's log-mel (offline),
        or from the log-mel of the audio heard since the session began (server)."""
        if self._file_features is not None:
            k = (index - self._first) * FRAMES_PER_CHUNK
            frames = self._file_features[k : k + FRAMES_PER_CHUNK]
        else:
            mel = log_mel(np.concatenate(self._history))
            frames = encode_mel(self.encoder, mel[:, -MEL_FRAMES_PER_CHUNK:])
        return frames.to(self.model.dtype)

    def _embed(self, ids: list[int]) -> Any:
        torch = self.torch
        return self.model.get_input_embeddings()(torch.tensor([ids], device=self.device)).clone()

    def _forward(self, embeds: Any) -> Any:
        torch = self.torch
        length = embeds.shape[1]
        positions = torch.arange(self.position, self.position + length, device=self.device)[None]
        with torch.no_grad():
            out = self.model(
                inputs_embeds=embeds,
                position_ids=positions,
                use_cache=True,
                logits_to_keep=1,
                **{self._cache_kw: self.cache},
            )
        self.position += length
        self._last = out.logits[0, -1].float()
        return self._last

    def _listen(self, logits: Any) -> int:
        """The listening step's token, counting how far the whole vocabulary strays from the protocol."""
        torch = self.torch
        probs = torch.softmax(logits, dim=-1)
        self.stats.listening_steps += 1
        self.stats.off_protocol_mass += float(1.0 - probs[KEEP_SILENCE] - probs[TEXT_BEGIN])
        self.stats.off_protocol_argmax += int(torch.argmax(logits)) not in (KEEP_SILENCE, TEXT_BEGIN)
        return self._choose(logits, [KEEP_SILENCE, TEXT_BEGIN] if self.restricted else None)

    def _choose(self, logits: Any, allowed: list[int] | None) -> int:
        """Greedy (offline), or sampled at temperature 1 (server), over ``allowed`` or every token."""
        torch = self.torch
        if allowed is not None:
            masked = torch.full_like(logits, float("-inf"))
            masked[allowed] = logits[allowed]
            logits = masked
        if not self.rules.sample:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits, dim=-1).cpu()
        return int(torch.multinomial(probs, 1, generator=self.generator))

"""The ``audio-interaction`` backend: a released Audio-Interaction checkpoint run chunk by chunk.

It computes what the released model and its streaming server compute:

- the log-mel of the whole audio heard so far in the session (whisper's, 128 bins), its last 40 frames
  encoded by the chunk-wise Qwen2.5-Omni audio tower (``feature_lens`` in runs of 40, ``aftercnn_lens``);
- per chunk ``AUDIO_BEGIN PAD×10 ASSISTANT`` with the 10 encoder frames written into the PAD slots, then
  KEEP_SILENCE or TEXT_BEGIN;
- after TEXT_BEGIN an optional emotion token (the model may skip it) and text up to TEXT_END, at most
  ``max_reply_tokens`` (512, as the released server);
- rotary positions rounded to float16 as the released model builds them (2049 -> 2048), the positions
  it was trained with;
- a session of at most ``session_tokens`` positions (4096, the training length): when the next chunk
  would not fit, the session starts again from the system prompt with an empty audio history, as the
  released server clears its cache.

Decoding is greedy (the released offline generator's default), or temperature 0.3 / top-k 3. The model
runs in float32 on CPU and bfloat16 on CUDA unless ``dtype`` says otherwise; the encoder runs in float32.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np

from streamaudio.protocol import (
    ASSISTANT,
    AUDIO_BEGIN,
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
from streamaudio.use.tokens import TokenizerError, load_tokenizer

MAX_REPLY_TOKENS = 512
SESSION_TOKENS = 4096
TEMPERATURE, TOP_K = 0.3, 3
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

    def __init__(
        self,
        checkpoint: Path | None,
        device: str = "cpu",
        greedy: bool = True,
        seed: int = 0,
        max_reply_tokens: int = MAX_REPLY_TOKENS,
        session_tokens: int = SESSION_TOKENS,
        dtype: str = "auto",
    ) -> None:
        if checkpoint is None:
            raise HarnessError("the audio-interaction backend needs a checkpoint folder")
        if dtype not in DTYPES:
            raise HarnessError(f"dtype {dtype}: choose from {', '.join(DTYPES)}")
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
        if not 0 < session_tokens <= block:
            raise HarnessError(f"a session of {session_tokens} tokens: the model holds 1 to {block}")
        self.session_tokens = session_tokens
        _fp16_rotary(self.model, positions_fp16(block).to(self.device))
        self.encoder = load_encoder(root).to(self.device)
        self.greedy = greedy
        self.max_reply_tokens = max_reply_tokens
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self._cache_kw = (
            "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        )
        self.resets = 0

    # -- the loop's interface --------------------------------------------------------------
    def start(self, meta: StreamJSON) -> None:
        self._prompt = meta.get("system_prompt", SYSTEM_PROMPT)
        self._open_session()

    def step(self, chunk: np.ndarray, index: int) -> Reply | None:
        if self.position + len(LISTEN) + 1 > self.session_tokens:
            self.resets += 1
            self._open_session()
        self._history.append(np.asarray(chunk, dtype=np.float32))
        embeds = self._embed(LISTEN)
        embeds[0, 1 : 1 + FRAMES_PER_CHUNK] = self._encode_last_chunk()
        logits = self._forward(embeds)
        decision = self._choose(logits, [KEEP_SILENCE, TEXT_BEGIN])
        logits = self._forward(self._embed([decision]))
        if decision == KEEP_SILENCE:
            return None
        budget = min(self.max_reply_tokens, self.session_tokens - self.position - 1)
        emotion, text = "normal", []
        for k in range(budget):
            token = self._choose(logits, None)
            logits = self._forward(self._embed([token]))
            if token == TEXT_END:
                break
            if k == 0 and token in EMOTION_BY_ID:
                emotion = EMOTION_BY_ID[token]
            else:
                text.append(token)
        else:
            self._forward(self._embed([TEXT_END]))
        return Reply(self.tokenizer.decode(text, skip_special_tokens=True).strip(), emotion)

    # -- pieces ----------------------------------------------------------------------------
    def _open_session(self) -> None:
        from transformers import DynamicCache

        try:
            self.cache = DynamicCache(config=self.model.config)
        except TypeError:  # transformers 4.x
            self.cache = DynamicCache()
        self.position = 0
        self._history: list[np.ndarray] = []
        prompt = self.tokenizer.encode(self._prompt, add_special_tokens=False).ids
        self._forward(self._embed([ONLINE, ENGLISH, SYSTEM, TEXT_BEGIN, *prompt, TEXT_END]))

    def _encode_last_chunk(self) -> Any:
        """The encoder's 10 frames of the newest chunk, from the log-mel of the session's whole audio."""
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

    def _choose(self, logits: Any, allowed: list[int] | None) -> int:
        torch = self.torch
        if allowed is not None:
            masked = torch.full_like(logits, float("-inf"))
            masked[allowed] = logits[allowed]
            logits = masked
        if self.greedy:
            return int(torch.argmax(logits))
        top = torch.topk(logits / TEMPERATURE, k=min(TOP_K, len(allowed) if allowed else TOP_K))
        probs = torch.softmax(top.values, dim=-1).cpu()
        return int(top.indices[int(torch.multinomial(probs, 1, generator=self.generator))])

"""The ``audio-interaction`` backend: an Audio-Interaction checkpoint run chunk by chunk.

Checkpoint folder (the released layout):

    model_config.yaml              litgpt Config of the language model (Qwen2-style)
    model.safetensors.index.json   weight map over the safetensors shards (litgpt parameter names)
    model-*.safetensors
    tokenizer.json                 Hugging Face tokenizer
    <name>.pth                     chunk-wise Qwen2.5-Omni audio encoder weights (a state dict)
    qwen25OmniConfig/config.json   its transformers config (the audio encoder's, or a whole
                                   Qwen2.5-Omni config whose thinker holds it)

Per chunk the loop feeds ``AUDIO_BEGIN PAD×10 ASSISTANT`` with the encoder's 10 output frames written
into the 10 PAD positions, then lets the model choose KEEP_SILENCE or TEXT_BEGIN; after TEXT_BEGIN it
picks an emotion and writes text until TEXT_END. Decoding is greedy, or temperature 0.3 / top-k 3.
The litgpt weights are mapped onto transformers' Qwen2 model (``attn.qkv`` split as q, k, v).
Install with ``pip install 'streamaudio[audio-interaction]'``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from streamaudio import protocol as P
from streamaudio.harness.backends import HarnessError
from streamaudio.harness.loop import Reply

MAX_REPLY_TOKENS = 96
TEMPERATURE, TOP_K = 0.3, 3
EMOTION_BY_ID = {v: k for k, v in P.EMOTION_TOKENS.items()}
LAYER_NAMES = {  # litgpt block weight -> transformers Qwen2 layer weight
    "norm_1.weight": "input_layernorm.weight",
    "norm_2.weight": "post_attention_layernorm.weight",
    "attn.proj.weight": "self_attn.o_proj.weight",
    "mlp.fc_1.weight": "mlp.gate_proj.weight",
    "mlp.fc_2.weight": "mlp.up_proj.weight",
    "mlp.proj.weight": "mlp.down_proj.weight",
}
INSTALL = "the audio-interaction backend needs: pip install 'streamaudio[audio-interaction]'"


def _hf_config(lit: dict[str, Any]) -> Any:
    from transformers import Qwen2Config

    head = lit.get("head_size") or lit["n_embd"] // lit["n_head"]
    return Qwen2Config(
        vocab_size=lit.get("padded_vocab_size") or lit["vocab_size"], hidden_size=lit["n_embd"],
        intermediate_size=lit["intermediate_size"], num_hidden_layers=lit["n_layer"],
        num_attention_heads=lit["n_head"], num_key_value_heads=lit.get("n_query_groups", lit["n_head"]),
        head_dim=head, max_position_embeddings=lit.get("block_size", 32768),
        rope_theta=lit.get("rope_base", 1000000), rms_norm_eps=lit.get("norm_eps", 1e-6),
        tie_word_embeddings=False,
    )  # fmt: skip


def litgpt_to_hf(weights: dict[str, Any], lit: dict[str, Any]) -> dict[str, Any]:
    """Rename (and split) litgpt language-model weights into transformers' Qwen2 names."""
    head = lit.get("head_size") or lit["n_embd"] // lit["n_head"]
    q_size, kv_size = lit["n_head"] * head, lit.get("n_query_groups", lit["n_head"]) * head
    out = {}
    for name, tensor in weights.items():
        parts = name.split(".")
        if name == "transformer.wte.weight":
            out["model.embed_tokens.weight"] = tensor
        elif name == "transformer.ln_f.weight":
            out["model.norm.weight"] = tensor
        elif name == "lm_head.weight":
            out["lm_head.weight"] = tensor
        elif parts[:2] == ["transformer", "h"]:
            i, rest = parts[2], ".".join(parts[3:])
            base = f"model.layers.{i}."
            if rest.startswith("attn.qkv."):
                kind = rest.rsplit(".", 1)[1]
                q, k, v = tensor.split((q_size, kv_size, kv_size), dim=0)
                for proj, t in (("q_proj", q), ("k_proj", k), ("v_proj", v)):
                    out[f"{base}self_attn.{proj}.{kind}"] = t
            else:
                if rest not in LAYER_NAMES:
                    raise HarnessError(f"unexpected weight {name} in the checkpoint")
                out[base + LAYER_NAMES[rest]] = tensor
        else:
            raise HarnessError(f"unexpected weight {name} in the checkpoint")
    return out


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
    ) -> None:
        if checkpoint is None:
            raise HarnessError("--backend audio-interaction needs --checkpoint DIR")
        try:
            import torch
            import yaml
            from safetensors.torch import load_file
            from tokenizers import Tokenizer
            from transformers import Qwen2ForCausalLM, WhisperFeatureExtractor
        except ImportError:
            raise HarnessError(
                "the audio-interaction backend needs: pip install 'streamaudio[audio-interaction]'"
            ) from None
        self.torch = torch
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise HarnessError(f"--device {device}: CUDA is not available here")
        self.device = torch.device(device)
        root = Path(checkpoint)
        try:
            lit = yaml.safe_load((root / "model_config.yaml").read_text(encoding="utf-8"))
            index = json.loads((root / "model.safetensors.index.json").read_text(encoding="utf-8"))
            weights = {}
            for shard in sorted(set(index["weight_map"].values())):
                weights.update(load_file(str(root / shard)))
            self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        except (OSError, ValueError, KeyError) as exc:
            raise HarnessError(f"{root}: not an Audio-Interaction checkpoint ({exc})") from None
        model = Qwen2ForCausalLM(_hf_config(lit))
        model.load_state_dict(litgpt_to_hf(weights, lit), strict=True)
        self.model = model.to(self.device).eval()
        self.encoder = self._load_encoder(root).to(self.device).eval()
        self.features = WhisperFeatureExtractor(
            feature_size=self.encoder.config.num_mel_bins,
            sampling_rate=P.SAMPLE_RATE,
            hop_length=160,
            n_fft=400,
        )
        self.greedy = greedy
        self.max_reply_tokens = max_reply_tokens
        self.generator = torch.Generator(device="cpu").manual_seed(seed)

    def _load_encoder(self, root: Path) -> Any:
        import torch
        from transformers import AutoConfig
        from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniAudioEncoder

        config_dir = root / "qwen25OmniConfig"
        pths = sorted(root.glob("*.pth"))
        if not config_dir.is_dir() or len(pths) != 1:
            raise HarnessError(f"{root}: needs qwen25OmniConfig/ and exactly one audio encoder .pth")
        config = AutoConfig.from_pretrained(str(config_dir))
        for path in ("thinker_config.audio_config", "audio_config"):
            node = config
            for attr in path.split("."):
                node = getattr(node, attr, None)
            if node is not None:
                config = node
                break
        encoder = Qwen2_5OmniAudioEncoder(config)
        state = torch.load(str(pths[0]), map_location="cpu", weights_only=True)
        encoder.load_state_dict(state, strict=True)
        return encoder

    # -- the loop's interface --------------------------------------------------------------
    def start(self, meta: dict[str, Any]) -> None:
        prompt = self.tokenizer.encode(
            meta.get("system_prompt", P.SYSTEM_PROMPT), add_special_tokens=False
        ).ids
        ids = [P.ONLINE, P.ENGLISH, P.SYSTEM, P.TEXT_BEGIN, *prompt, P.TEXT_END]
        self.cache = None
        self._forward(self._embed(ids))

    def step(self, chunk: np.ndarray, index: int) -> Reply | None:
        torch = self.torch
        with torch.no_grad():
            frames = self._encode(chunk)
            embeds = self._embed([P.AUDIO_BEGIN, *[P.PAD] * P.FRAMES_PER_CHUNK, P.ASSISTANT])
            embeds[0, 1 : 1 + P.FRAMES_PER_CHUNK] = frames
            logits = self._forward(embeds)
            decision = self._choose(logits, [P.KEEP_SILENCE, P.TEXT_BEGIN])
            self._forward(self._embed([decision]))
            if decision == P.KEEP_SILENCE:
                return None
            emotion = self._choose(self._last, list(EMOTION_BY_ID))
            logits = self._forward(self._embed([emotion]))
            text: list[int] = []
            for _ in range(self.max_reply_tokens):
                token = self._choose(logits, None)
                logits = self._forward(self._embed([token]))
                if token == P.TEXT_END:
                    break
                text.append(token)
            else:
                self._forward(self._embed([P.TEXT_END]))
            return Reply(
                self.tokenizer.decode(text, skip_special_tokens=True).strip(), EMOTION_BY_ID[emotion]
            )

    # -- pieces ----------------------------------------------------------------------------
    def _encode(self, chunk: np.ndarray) -> Any:
        torch = self.torch
        mel = self.features(
            chunk.astype(np.float32),
            sampling_rate=P.SAMPLE_RATE,
            return_tensors="pt",
            padding=False,
            truncation=False,
        )["input_features"][0]
        frames = P.CHUNK_SAMPLES // 160
        mel = mel[:, :frames].to(self.device, self.encoder.dtype)
        out = self.encoder(mel, feature_lens=torch.tensor([frames], device=self.device)).last_hidden_state
        return out[: P.FRAMES_PER_CHUNK].to(self.model.dtype)

    def _embed(self, ids: list[int]) -> Any:
        torch = self.torch
        return self.model.get_input_embeddings()(torch.tensor([ids], device=self.device)).clone()

    def _forward(self, embeds: Any) -> Any:
        with self.torch.no_grad():
            out = self.model(inputs_embeds=embeds, past_key_values=self.cache, use_cache=True)
        self.cache = out.past_key_values
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

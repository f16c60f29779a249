"""A released Audio-Interaction checkpoint folder: the language model and the audio encoder.

The layout (as the released model ships it):

    model_config.yaml                       litgpt Config of the language model (Qwen2.5-style)
    model.safetensors.index.json            weight map over the safetensors shards (litgpt names)
    model-*.safetensors
    tokenizer.json                          Qwen2.5's Hugging Face tokenizer
    audiointeraction_ChunkwisedEncoder.pth  the chunk-wise Qwen2.5-Omni audio encoder (a state dict);
                                            any single ``*.pth`` is taken when that name is absent
    qwen25OmniConfig/config.json            its transformers config: a whole Qwen2.5-Omni config
                                            (``thinker_config.audio_config``) or the encoder's own

The litgpt weights are mapped onto transformers' Qwen2 model: ``attn.qkv`` split into q, k and v.
Checkpoints of litgpt 0.5.4 and older name it ``attn.attn`` with the heads interleaved per query group
(``[Q.., K, V]`` per group); they are reassembled first, as the released model's loader does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamaudio.use.harness.errors import HarnessError
from streamaudio.use.harness.logmel import MEL_FRAMES_PER_CHUNK

ENCODER_FILE = "audiointeraction_ChunkwisedEncoder.pth"
ENCODER_CONFIG = "qwen25OmniConfig"
LAYER_NAMES = {  # litgpt block weight -> transformers Qwen2 layer weight
    "norm_1.weight": "input_layernorm.weight",
    "norm_2.weight": "post_attention_layernorm.weight",
    "attn.proj.weight": "self_attn.o_proj.weight",
    "mlp.fc_1.weight": "mlp.gate_proj.weight",
    "mlp.fc_2.weight": "mlp.up_proj.weight",
    "mlp.proj.weight": "mlp.down_proj.weight",
}


def _head_sizes(lit: dict[str, Any]) -> tuple[int, int, int]:
    head = lit.get("head_size") or lit["n_embd"] // lit["n_head"]
    groups = lit.get("n_query_groups") or lit["n_head"]
    return head, lit["n_head"] * head, groups * head


def qkv_reassemble(tensor: Any, lit: dict[str, Any]) -> Any:
    """litgpt <= 0.5.4's interleaved ``[Q.., K, V] x groups`` rows as ``[Q.., K.., V..]``."""
    import torch

    head = lit.get("head_size") or lit["n_embd"] // lit["n_head"]
    groups = lit.get("n_query_groups") or lit["n_head"]
    per_group = lit["n_head"] // groups
    parts = [c.split((head * per_group, head, head)) for c in torch.chunk(tensor, groups)]
    return torch.cat([torch.cat([p[i] for p in parts]) for i in range(3)])


def litgpt_to_hf(weights: dict[str, Any], lit: dict[str, Any]) -> dict[str, Any]:
    """Rename (and split) litgpt language-model weights into transformers' Qwen2 names."""
    _, q_size, kv_size = _head_sizes(lit)
    out = {}
    for name, tensor in weights.items():
        parts = name.split(".")
        if name == "transformer.wte.weight":
            out["model.embed_tokens.weight"] = tensor
        elif name == "transformer.ln_f.weight":
            out["model.norm.weight"] = tensor
        elif name == "lm_head.weight":
            out["lm_head.weight"] = tensor
        elif parts[:2] == ["transformer", "h"] and len(parts) > 3:
            i, rest = parts[2], ".".join(parts[3:])
            base = f"model.layers.{i}."
            if rest.startswith(("attn.qkv.", "attn.attn.")):
                kind = rest.rsplit(".", 1)[1]
                if rest.startswith("attn.attn."):
                    tensor = qkv_reassemble(tensor, lit)
                q, k, v = tensor.split((q_size, kv_size, kv_size), dim=0)
                for proj, t in (("q_proj", q), ("k_proj", k), ("v_proj", v)):
                    out[f"{base}self_attn.{proj}.{kind}"] = t
            elif rest in LAYER_NAMES:
                out[base + LAYER_NAMES[rest]] = tensor
            else:
                raise HarnessError(f"unexpected weight {name} in the checkpoint")
        else:
            raise HarnessError(f"unexpected weight {name} in the checkpoint")
    return out


def hf_config(lit: dict[str, Any]) -> Any:
    from transformers import Qwen2Config

    head, _, _ = _head_sizes(lit)
    return Qwen2Config(
        vocab_size=lit.get("padded_vocab_size") or lit["vocab_size"], hidden_size=lit["n_embd"],
        intermediate_size=lit["intermediate_size"], num_hidden_layers=lit["n_layer"],
        num_attention_heads=lit["n_head"], num_key_value_heads=lit.get("n_query_groups") or lit["n_head"],
        head_dim=head, max_position_embeddings=lit.get("block_size", 32768),
        rope_theta=lit.get("rope_base", 10000), rms_norm_eps=lit.get("norm_eps", 1e-5),
        tie_word_embeddings=False,
    )  # fmt: skip


def torch_device(name: str) -> Any:
    """A torch device by name; one that torch does not know or this machine lacks is a HarnessError."""
    import torch

    try:
        device = torch.device(name)
    except RuntimeError:
        raise HarnessError(f"device {name!r} is not a torch device (cpu, cuda, cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HarnessError(f"device {name!r}: CUDA is not available on this machine")
    return device


def load_language_model(root: Path) -> Any:
    """transformers' Qwen2ForCausalLM holding the checkpoint's litgpt weights (float32, CPU)."""
    import yaml
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    from transformers import Qwen2ForCausalLM

    try:
        lit = yaml.safe_load((root / "model_config.yaml").read_text(encoding="utf-8"))
        index = json.loads((root / "model.safetensors.index.json").read_text(encoding="utf-8"))
        weights = {}
        for shard in sorted(set(index["weight_map"].values())):
            weights.update(load_file(str(root / shard)))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError, SafetensorError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HarnessError(f"{root}: not an Audio-Interaction checkpoint ({first})") from None
    if not isinstance(lit, dict):
        raise HarnessError(f"{root / 'model_config.yaml'}: not a litgpt model config")
    try:
        config = hf_config(lit)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise HarnessError(f"{root / 'model_config.yaml'}: not a litgpt model config ({exc!r})") from None
    model = Qwen2ForCausalLM(config)
    try:
        model.load_state_dict(litgpt_to_hf(weights, lit), strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise HarnessError(f"{root}: the weights do not fit model_config.yaml ({first})") from None
    return model.eval()


def load_encoder(root: Path) -> Any:
    """The chunk-wise Qwen2.5-Omni audio encoder of a checkpoint folder (float32, CPU, eval mode)."""
    import torch
    from transformers import AutoConfig
    from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import Qwen2_5OmniAudioEncoderConfig
    from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniAudioEncoder

    config_dir = root / ENCODER_CONFIG
    named = root / ENCODER_FILE
    pths = [named] if named.is_file() else sorted(root.glob("*.pth"))
    if not config_dir.is_dir() or len(pths) != 1:
        raise HarnessError(f"{root}: needs {ENCODER_CONFIG}/ and the audio encoder {ENCODER_FILE}")
    try:
        try:
            config = AutoConfig.from_pretrained(str(config_dir))
        except ValueError:  # an encoder-only config, which transformers 4.x's AutoConfig does not know
            config = Qwen2_5OmniAudioEncoderConfig.from_pretrained(str(config_dir))
        for path in ("thinker_config.audio_config", "audio_config"):
            node = config
            for attr in path.split("."):
                node = getattr(node, attr, None)
            if node is not None:
                config = node
                break
        encoder = Qwen2_5OmniAudioEncoder(config)
        encoder.load_state_dict(torch.load(str(pths[0]), map_location="cpu", weights_only=True), strict=True)
    except Exception as exc:  # torch's unpickler raises anything (IndexError…) on a garbage file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HarnessError(f"{pths[0]}: not a Qwen2.5-Omni audio encoder ({first})") from None
    return encoder.requires_grad_(False).eval()


def encode_mel(encoder: Any, mel: Any) -> Any:
    """Encoder frames of a log-mel ``(n_mels, T)``, called as the released code calls it.

    ``feature_lens`` cuts the mel into runs of 40 frames (0.4 s), each encoded on its own;
    ``aftercnn_lens`` is the length after the first convolution. Returns ``(T // 4, n_embd)``.
    """
    import torch

    frames = mel.shape[1]
    runs = [MEL_FRAMES_PER_CHUNK] * (frames // MEL_FRAMES_PER_CHUNK)
    if frames % MEL_FRAMES_PER_CHUNK:
        runs.append(frames % MEL_FRAMES_PER_CHUNK)
    device = next(encoder.parameters()).device
    with torch.no_grad():
        return encoder(
            mel.to(device),
            torch.tensor(runs, device=device),
            torch.tensor((frames - 1) // 2 + 1, device=device),
        ).last_hidden_state


def positions_fp16(count: int) -> Any:
    """Rotary positions as the released model builds them: ``arange`` in float16 (2049 -> 2048, …).

    Training used the same positions, so a faithful replay uses them too.
    """
    import torch

    return torch.arange(count, dtype=torch.float16).to(torch.int64)

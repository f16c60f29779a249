"""A tiny, randomly initialised Audio-Interaction checkpoint in the released layout, made by the references.

The language model is litgpt 0.5.8's own ``GPT`` (the version the released code pins) on a tiny Qwen2.5-style
config, saved under litgpt's own parameter names; the audio encoder is transformers' own
``Qwen2_5OmniAudioEncoder``. Nothing here knows how streamaudio maps or loads the weights, so a test that
compares streamaudio's logits with ``reference_gpt``'s checks the mapping rather than restating it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import save_file
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

EMBED, LAYERS, HEADS, GROUPS, FFN = 32, 2, 4, 2, 64
BLOCK = 4096
QWEN_SPECIALS = [  # Qwen2.5's added tokens from id 151643 on (the protocol uses 151643-151648)
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
]
BASE_VOCAB = 151643
VOCAB = 151680  # litgpt's padded vocabulary: room for every protocol id
WORDS = ["okay", "hello", "there", "the", "sound", "is", "yes", "no", "once", "twice", "i", "hear", "a"]
LIT_CONFIG = {
    "name": "tiny-audio-interaction", "block_size": BLOCK, "vocab_size": VOCAB, "padded_vocab_size": VOCAB,
    "n_layer": LAYERS, "n_head": HEADS, "n_embd": EMBED, "n_query_groups": GROUPS,
    "head_size": EMBED // HEADS, "intermediate_size": FFN, "rotary_percentage": 1.0,
    "parallel_residual": False, "bias": False,
    "attn_bias": True, "norm_class_name": "RMSNorm", "norm_eps": 1e-6, "mlp_class_name": "LLaMAMLP",
    "rope_base": 1000000,
}  # fmt: skip


KEEP_SILENCE_ID, TEXT_BEGIN_ID = 151605, 151644


def reference_gpt(seed: int = 0, protocol: bool = False) -> Any:
    """litgpt 0.5.8's GPT on the tiny config, random weights scaled up so that logits move.

    ``protocol`` gives it a head that speaks the protocol: every output row zero but KEEP_SILENCE's and
    TEXT_BEGIN's, which are opposite and large, so that every step (greedy, or sampled at temperature 1
    from the whole vocabulary) almost always gives one of the two, decided by the audio heard."""
    from litgpt.config import Config
    from litgpt.model import GPT

    torch.manual_seed(seed)
    model = GPT(Config(**LIT_CONFIG))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" not in name and "ln_f" not in name:
                p.normal_(0.0, 0.2)
        if protocol:
            direction = model.lm_head.weight[KEEP_SILENCE_ID].clone() * 60.0
            model.lm_head.weight.zero_()
            model.lm_head.weight[KEEP_SILENCE_ID] = direction
            model.lm_head.weight[TEXT_BEGIN_ID] = -direction
    return model.eval()


def upstream_rope(model: Any) -> None:
    """The released model's rotary cache (model.py, build_rope_cache): positions made in float16."""
    n_elem = model.config.rope_n_elem
    theta = 1.0 / (model.config.rope_base ** (torch.arange(0, n_elem, 2).float() / n_elem))
    seq_idx = torch.arange(model.max_seq_length, dtype=torch.float16) / 1.0
    idx_theta = torch.outer(seq_idx, theta).repeat(1, 2)
    model.cos, model.sin = torch.cos(idx_theta), torch.sin(idx_theta)


def tokenizer() -> Tokenizer:
    vocab = {w: i for i, w in enumerate(WORDS)}
    vocab["[UNK]"] = len(vocab)
    vocab.update({f"<filler{i}>": i for i in range(len(vocab), BASE_VOCAB)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens([AddedToken(t, special=True) for t in QWEN_SPECIALS])
    return tok


def write_checkpoint(root: Path, seed: int = 0, legacy_qkv: bool = False, protocol: bool = False) -> Path:
    """The released layout; ``legacy_qkv`` stores litgpt <= 0.5.4's interleaved ``attn.attn`` tensors,
    ``protocol`` the head of ``reference_gpt(protocol=True)``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "model_config.yaml").write_text(yaml.safe_dump(LIT_CONFIG))
    model = reference_gpt(seed, protocol)
    weights = {k: v.contiguous() for k, v in model.state_dict().items()}
    if legacy_qkv:
        weights = {_legacy_name(k): _interleave(v) if ".attn.qkv." in k else v for k, v in weights.items()}
    names = sorted(weights)
    shards = {
        "model-00001-of-00002.safetensors": names[: len(names) // 2],
        "model-00002-of-00002.safetensors": names[len(names) // 2 :],
    }
    weight_map = {}
    for shard, keys in shards.items():
        save_file({k: weights[k] for k in keys}, str(root / shard))
        weight_map.update(dict.fromkeys(keys, shard))
    (root / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    tokenizer().save(str(root / "tokenizer.json"))

    from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import Qwen2_5OmniConfig
    from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniAudioEncoder

    torch.manual_seed(seed + 1)
    audio = {
        "num_mel_bins": 128,
        "d_model": 32,
        "encoder_layers": 2,
        "encoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "output_dim": EMBED,
        "n_window": 100,
        "max_source_positions": 1500,
    }
    # the released layout: a whole Qwen2.5-Omni config whose thinker's audio_config is the encoder's
    omni = Qwen2_5OmniConfig(thinker_config={"audio_config": audio})
    omni.save_pretrained(str(root / "qwen25OmniConfig"))
    enc_config = omni.thinker_config.audio_config
    torch.save(
        Qwen2_5OmniAudioEncoder(enc_config).state_dict(), root / "audiointeraction_ChunkwisedEncoder.pth"
    )
    return root


def _legacy_name(name: str) -> str:
    return name.replace(".attn.qkv.", ".attn.attn.")


def _interleave(qkv: torch.Tensor) -> torch.Tensor:
    """``[Q.., K.., V..]`` as litgpt <= 0.5.4 stored it: ``[Q.., K, V]`` for each query group."""
    head = EMBED // HEADS
    per = HEADS // GROUPS
    q, k, v = qkv.split((HEADS * head, GROUPS * head, GROUPS * head))
    groups = [
        torch.cat(
            (
                q[g * per * head : (g + 1) * per * head],
                k[g * head : (g + 1) * head],
                v[g * head : (g + 1) * head],
            )
        )
        for g in range(GROUPS)
    ]
    return torch.cat(groups)

"""Write a tiny, randomly initialised Audio-Interaction checkpoint in the released layout."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, pre_tokenizers

from streamaudio import protocol as P

EMBED, LAYERS, HEADS, GROUPS, FFN = 32, 2, 4, 2, 64
VOCAB = 151680  # room for the protocol's special ids (up to 151648)
WORDS = [
    "[UNK]",
    "okay",
    "hello",
    "there",
    "the",
    "sound",
    "is",
    "yes",
    "no",
    "once",
    "twice",
    "i",
    "hear",
    "a",
]


def write_checkpoint(root: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    root.mkdir(parents=True, exist_ok=True)
    head = EMBED // HEADS
    config = {
        "name": "tiny-audio-interaction", "block_size": 4096, "vocab_size": VOCAB, "padded_vocab_size": VOCAB,
        "n_layer": LAYERS, "n_head": HEADS, "n_embd": EMBED, "n_query_groups": GROUPS, "head_size": head,
        "intermediate_size": FFN, "rotary_percentage": 1.0, "parallel_residual": False, "bias": False,
        "attn_bias": True, "norm_class_name": "RMSNorm", "norm_eps": 1e-6, "mlp_class_name": "LLaMAMLP",
        "rope_base": 1000000,
    }  # fmt: skip
    (root / "model_config.yaml").write_text(yaml.safe_dump(config))
    qkv = (HEADS + 2 * GROUPS) * head

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape) * 0.2

    weights = {
        "transformer.wte.weight": rand(VOCAB, EMBED),
        "transformer.ln_f.weight": torch.ones(EMBED),
        "lm_head.weight": rand(VOCAB, EMBED),
    }
    for i in range(LAYERS):
        b = f"transformer.h.{i}."
        weights.update(
            {
                b + "norm_1.weight": torch.ones(EMBED),
                b + "norm_2.weight": torch.ones(EMBED),
                b + "attn.qkv.weight": rand(qkv, EMBED),
                b + "attn.qkv.bias": rand(qkv),
                b + "attn.proj.weight": rand(EMBED, EMBED),
                b + "mlp.fc_1.weight": rand(FFN, EMBED),
                b + "mlp.fc_2.weight": rand(FFN, EMBED),
                b + "mlp.proj.weight": rand(EMBED, FFN),
            }
        )
    names = sorted(weights)
    shards = {
        "model-00001-of-00002.safetensors": names[: len(names) // 2],
        "model-00002-of-00002.safetensors": names[len(names) // 2 :],
    }
    weight_map = {}
    for shard, keys in shards.items():
        save_file({k: weights[k].contiguous() for k in keys}, str(root / shard))
        weight_map.update(dict.fromkeys(keys, shard))
    (root / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(root / "tokenizer.json"))

    from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import Qwen2_5OmniAudioEncoderConfig
    from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniAudioEncoder

    enc_config = Qwen2_5OmniAudioEncoderConfig(
        num_mel_bins=128,
        d_model=32,
        encoder_layers=2,
        encoder_attention_heads=2,
        encoder_ffn_dim=64,
        output_dim=EMBED,
        n_window=100,
        max_source_positions=1500,
    )
    enc_config.save_pretrained(str(root / "qwen25OmniConfig"))
    torch.save(Qwen2_5OmniAudioEncoder(enc_config).state_dict(), root / "audio_encoder.pth")
    assert P.TEXT_BEGIN < VOCAB
    return root

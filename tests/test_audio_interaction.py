"""The audio-interaction backend on a tiny random checkpoint of the released layout (CPU; CUDA if present)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ai_checkpoint import write_checkpoint

from streamaudio.harness.audio_interaction import AudioInteractionBackend
from streamaudio.harness.backends import HarnessError
from streamaudio.harness.run import run_harness
from streamaudio.protocol import EMOTIONS


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short ASR streams: a random model may answer every chunk, so keep the audio brief."""
    from streamaudio.build import build, single
    from streamaudio.scenarios import ScenarioConfig

    out = tmp_path_factory.mktemp("short") / "asr"
    build(single("asr", out, streams=2, seed=5, config=ScenarioConfig(stream_seconds=(6.0, 9.0))))
    return out / "shards" / "asr-train-000000.tar"


def backend(checkpoint: Path, **options: object) -> AudioInteractionBackend:
    return AudioInteractionBackend(checkpoint, max_reply_tokens=6, **options)


def test_runs_the_protocol_loop_on_cpu(checkpoint: Path, short: Path) -> None:
    result = run_harness([short], backend(checkpoint, device="cpu"))
    assert result.streams == 2
    assert result.metrics["overall"]["references"] > 0
    again = run_harness([short], backend(checkpoint, device="cpu"))
    assert again.metrics == result.metrics  # greedy decoding is deterministic


def test_replies_follow_the_protocol(checkpoint: Path, short: Path) -> None:
    from conftest import read_shard

    from streamaudio.harness.loop import run_stream

    meta, audio, _ = next(iter(read_shard(short).values()))
    audio = audio[: 10 * 6400]  # 4 s: sampled replies run long on a random model
    emitted = run_stream(audio, meta, backend(checkpoint, greedy=False, seed=1))
    chunks = [e.chunk for e in emitted]
    assert len(chunks) == len(set(chunks)) and all(0 <= c < 10 for c in chunks)
    assert all(e.emotion in EMOTIONS for e in emitted)
    assert emitted, "temperature sampling from a random model should speak now and then"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_runs_on_cuda(checkpoint: Path, short: Path) -> None:
    assert run_harness([short], backend(checkpoint, device="cuda")).streams == 2


def test_bad_checkpoints_are_one_line_errors(tmp_path: Path, demo_build: Path) -> None:
    with pytest.raises(HarnessError, match="--checkpoint"):
        AudioInteractionBackend(None)
    with pytest.raises(HarnessError, match="not an Audio-Interaction checkpoint"):
        AudioInteractionBackend(tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamaudio.cli",
            "harness",
            str(demo_build),
            "--backend",
            "audio-interaction",
            "--checkpoint",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and str(tmp_path) in proc.stderr


def test_litgpt_weights_map_onto_qwen2() -> None:
    from streamaudio.harness.audio_interaction import litgpt_to_hf

    lit = {"n_embd": 8, "n_head": 4, "n_query_groups": 2, "head_size": 2}
    qkv = torch.arange(16 * 8, dtype=torch.float32).reshape(16, 8)  # (4 + 2 * 2) heads x 2 rows
    out = litgpt_to_hf({"transformer.h.0.attn.qkv.weight": qkv, "transformer.h.0.mlp.fc_1.weight": qkv}, lit)
    assert torch.equal(out["model.layers.0.self_attn.q_proj.weight"], qkv[:8])
    assert torch.equal(out["model.layers.0.self_attn.k_proj.weight"], qkv[8:12])
    assert torch.equal(out["model.layers.0.self_attn.v_proj.weight"], qkv[12:])
    assert "model.layers.0.mlp.gate_proj.weight" in out
    with pytest.raises(HarnessError, match="unexpected weight"):
        litgpt_to_hf({"transformer.h.0.attn.mystery": qkv}, lit)


def test_the_audio_reaches_the_model(checkpoint: Path) -> None:
    import numpy as np

    model = backend(checkpoint)
    decisions = []
    for chunk in (
        np.zeros(6400, np.float32),
        0.3 * np.random.default_rng(0).standard_normal(6400).astype(np.float32),
    ):
        model.start({})
        model.step(chunk, 0)
        decisions.append(model._last.clone())
    assert not torch.allclose(decisions[0], decisions[1])

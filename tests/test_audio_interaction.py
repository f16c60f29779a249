"""The audio-interaction backend against independent references: litgpt 0.5.8's own GPT (the version the
released code pins) with the released float16 rotary positions, openai-whisper's own log-mel, the encoder
called as the released server calls it, and a recorded golden decision sequence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ai_checkpoint import reference_gpt, upstream_rope, write_checkpoint
from helpers import long_asr_stream

from streamaudio.protocol import CHUNK_SAMPLES, SAD, TEXT_BEGIN, TEXT_END
from streamaudio.use.harness.audio_interaction import AudioInteractionBackend
from streamaudio.use.harness.backends import HarnessError
from streamaudio.use.harness.loop import run_stream
from streamaudio.use.harness.run import run_harness

HARNESS = [sys.executable, "-m", "streamaudio.cli", "harness"]
GOLDEN = Path(__file__).parent / "golden" / "audio_interaction_decisions.json"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def long_stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, np.ndarray]:
    """One 125-135 s demo ASR stream (seed 8): long enough to pass position 2048 and the 4096 session cap."""
    return long_asr_stream(tmp_path_factory.mktemp("long"))


def backend(checkpoint: Path, **options: object) -> AudioInteractionBackend:
    """The offline session, its listening step restricted to the protocol: the random tiny checkpoint
    would otherwise leave it at once (test_harness_sessions.py holds the released rules)."""
    return AudioInteractionBackend(checkpoint, **{"max_reply_tokens": 6, "decision": "restricted", **options})


class Recorder:
    """Wraps a backend's forward: every embedding it feeds and the logits it gets back, in order."""

    def __init__(self, model: AudioInteractionBackend) -> None:
        self.embeds: list[torch.Tensor] = []
        self.logits: list[tuple[int, torch.Tensor]] = []
        forward = model._forward

        def recording(embeds: torch.Tensor) -> torch.Tensor:
            start = model.position
            self.embeds.append(embeds.detach().clone())
            out = forward(embeds)
            if start == 0 and self.embeds[:-1]:
                raise AssertionError("the session restarted")
            self.logits.append((start + embeds.shape[1] - 1, out.clone()))
            return out

        model._forward = recording


def test_logits_equal_litgpt_with_the_released_rotary_positions(checkpoint: Path, long_stream: tuple) -> None:
    """A whole session (prompt, chunks with audio, replies) up to position 4095, fed to litgpt 0.5.8's GPT
    at once with the released model's float16 rotary cache: the logits agree at every decision."""
    meta, audio = long_stream
    model = backend(checkpoint)
    rec = Recorder(model)
    model.start(meta)
    for index in range(audio.size // CHUNK_SAMPLES):
        if model.position + 13 > 4096:
            break
        model.step(audio[index * CHUNK_SAMPLES : (index + 1) * CHUNK_SAMPLES], index)
    embeds = torch.cat(rec.embeds, dim=1)
    assert embeds.shape[1] > 4000

    reference = reference_gpt()
    reference.max_seq_length = 4096
    upstream_rope(reference)
    reference.transformer.wte.register_forward_hook(lambda module, args, out: embeds)
    with torch.no_grad():
        logits = reference(torch.zeros(1, embeds.shape[1], dtype=torch.long))[0]
    worst_low = max((logits[p] - ours).abs().max().item() for p, ours in rec.logits if p < 2048)
    worst_high = max((logits[p] - ours).abs().max().item() for p, ours in rec.logits if p >= 2048)
    assert worst_low < 1e-4 and worst_high < 1e-4, (worst_low, worst_high)

    exact = reference_gpt()  # exact integer positions differ from 2049 on: the rounding matters
    exact.max_seq_length = 4096
    exact.transformer.wte.register_forward_hook(lambda module, args, out: embeds)
    with torch.no_grad():
        plain = exact(torch.zeros(1, embeds.shape[1], dtype=torch.long))[0]
    assert max((plain[p] - ours).abs().max().item() for p, ours in rec.logits if p > 2100) > 1e-2


def test_legacy_interleaved_qkv_checkpoints_load_the_same(checkpoint: Path, tmp_path: Path) -> None:
    legacy = write_checkpoint(tmp_path / "legacy", legacy_qkv=True)
    index = json.loads((legacy / "model.safetensors.index.json").read_text())
    assert any(".attn.attn." in k for k in index["weight_map"])
    chunk = 0.1 * np.random.default_rng(0).standard_normal(CHUNK_SAMPLES).astype(np.float32)
    got = []
    for root in (checkpoint, legacy):
        model = backend(root)
        model.start({})
        model.step(chunk, 0)
        got.append(model._last)
    assert torch.equal(got[0], got[1])


def test_log_mel_is_whispers_over_the_whole_stream_and_every_history(long_stream: tuple) -> None:
    import whisper

    from streamaudio.use.harness.logmel import log_mel

    _, audio = long_stream
    assert (log_mel(audio) - whisper.log_mel_spectrogram(audio, n_mels=128)).abs().max() < 1e-5
    for chunks in range(1, 40):
        history = audio[: chunks * CHUNK_SAMPLES]
        assert (log_mel(history) - whisper.log_mel_spectrogram(history, n_mels=128)).abs().max() < 1e-5


def test_chunk_features_are_what_the_released_server_encodes(checkpoint: Path, long_stream: tuple) -> None:
    """web/server.py encode_frame: whisper's log-mel of the whole history, every 40-frame run encoded with
    ``aftercnn_lens``, the newest 10 frames kept. The backend encodes only the newest run: the same."""
    import whisper

    _, audio = long_stream
    model = backend(checkpoint, session="server")
    model.start({})
    for index in (0, 1, 2, 30):
        history = audio[: (index + 1) * CHUNK_SAMPLES]
        model._history = [history]
        mel = whisper.log_mel_spectrogram(history, n_mels=128)
        frames = mel.shape[-1]
        with torch.no_grad():
            full = model.encoder(
                mel, torch.tensor([40] * (frames // 40)), torch.tensor((frames - 1) // 2 + 1)
            )
        assert torch.allclose(model._chunk_features(index), full.last_hidden_state[-10:], atol=1e-5)


def test_decisions_equal_the_golden_record(checkpoint: Path, long_stream: tuple) -> None:
    """Greedy decisions of the tiny checkpoint on a 125 s+ demo stream (offline session: whole-stream
    log-mel, a new session at the block size), recorded once: a later change to the model path shows up
    here. STREAMAUDIO_WRITE_GOLDEN=1 records it anew."""
    meta, audio = long_stream
    model = backend(checkpoint, max_reply_tokens=4)
    emitted = run_stream(audio, meta, model)
    replied = {e.chunk for e in emitted}
    record = {
        "stream": meta["id"],
        "num_chunks": meta["num_chunks"],
        "resets": model.resets,
        "decisions": "".join("B" if c in replied else "S" for c in range(meta["num_chunks"])),
        "replies": [f"{e.chunk} {e.emotion}: {e.text}" for e in emitted],
    }
    if os.environ.get("STREAMAUDIO_WRITE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(record, indent=1) + "\n")
    assert record == json.loads(GOLDEN.read_text())
    assert record["resets"] >= 1 and 0 < len(record["replies"]) < record["num_chunks"]


def test_emotion_is_optional_and_replies_are_capped(checkpoint: Path) -> None:
    model = backend(checkpoint, max_reply_tokens=3)
    hello = model.tokenizer.token_to_id("hello")
    chunk = np.zeros(CHUNK_SAMPLES, np.float32)
    for script, want in (
        ([TEXT_BEGIN, SAD, hello, TEXT_END], ("hello", "sad")),
        ([TEXT_BEGIN, hello, hello, TEXT_END], ("hello hello", "normal")),  # no emotion token
        ([TEXT_BEGIN, hello, hello, hello, hello], ("hello hello hello", "normal")),  # the cap
    ):
        model.start({})
        tokens = iter(script)
        model._choose = lambda logits, allowed, tokens=tokens: next(tokens)
        reply = model.step(chunk, 0)
        assert (reply.text, reply.emotion) == want


def test_the_session_restarts_at_its_cap(checkpoint: Path, long_stream: tuple) -> None:
    _, audio = long_stream
    model = backend(checkpoint, session_tokens=400)
    model.start({})
    highest = 0
    for index in range(80):
        model.step(audio[index * CHUNK_SAMPLES : (index + 1) * CHUNK_SAMPLES], index)
        highest = max(highest, model.position)
    assert model.resets >= 2 and highest <= 400
    assert sum(h.size for h in model._history) < 80 * CHUNK_SAMPLES  # the audio history restarts too


def test_dtypes(checkpoint: Path) -> None:
    chunk = np.zeros(CHUNK_SAMPLES, np.float32)
    model = backend(checkpoint, dtype="bfloat16")
    assert model.model.dtype == torch.bfloat16 and model.encoder.dtype == torch.float32
    model.start({})
    model.step(chunk, 0)
    assert backend(checkpoint).model.dtype == torch.float32  # auto on CPU
    with pytest.raises(HarnessError, match="dtype"):
        backend(checkpoint, dtype="int8")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_runs_on_cuda_in_bfloat16(checkpoint: Path, long_stream: tuple) -> None:
    model = backend(checkpoint, device="cuda")
    assert model.model.dtype == torch.bfloat16
    meta, audio = long_stream
    assert len(run_stream(audio[: 20 * CHUNK_SAMPLES], meta, model)) <= 20


def test_runs_the_protocol_loop_through_the_harness(checkpoint: Path, demo_build: Path) -> None:
    tar = demo_build / "shards" / "asr-train-000000.tar"
    result = run_harness([tar], backend(checkpoint))
    assert result.streams == 3 and result.metrics["overall"]["references"] > 0
    assert run_harness([tar], backend(checkpoint)).metrics == result.metrics  # greedy is deterministic


def test_bad_checkpoints_and_tokenizers_are_one_line_errors(tmp_path: Path, demo_build: Path) -> None:
    with pytest.raises(HarnessError, match="checkpoint folder"):
        AudioInteractionBackend(None)
    with pytest.raises(HarnessError, match="not an Audio-Interaction checkpoint"):
        AudioInteractionBackend(tmp_path)
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]")).save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(HarnessError, match="not the Audio-Interaction tokenizer"):
        AudioInteractionBackend(tmp_path)
    proc = subprocess.run(
        [*HARNESS, str(demo_build), "--backend", "audio-interaction", "--checkpoint", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and str(tmp_path) in proc.stderr


def test_the_audio_reaches_the_model(checkpoint: Path) -> None:
    model = backend(checkpoint)
    decisions = []
    for chunk in (
        np.zeros(CHUNK_SAMPLES, np.float32),
        0.3 * np.random.default_rng(0).standard_normal(CHUNK_SAMPLES).astype(np.float32),
    ):
        model.start({})
        model.step(chunk, 0)
        decisions.append(model._last.clone())
    assert not torch.allclose(decisions[0], decisions[1])

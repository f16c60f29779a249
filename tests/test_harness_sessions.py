"""The harness's two sessions against the released loops (upstream_sessions.py) on a tiny checkpoint whose
head speaks the protocol: the same decision on every chunk of a stream long enough to reset."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import upstream_sessions as R
from ai_checkpoint import reference_gpt, tokenizer, upstream_rope, write_checkpoint
from helpers import long_asr_stream

from streamaudio.protocol import CHUNK_SAMPLES, SYSTEM_PROMPT
from streamaudio.use.harness.audio_interaction import AudioInteractionBackend
from streamaudio.use.harness.backends import HarnessError
from streamaudio.use.harness.session import session_rules

MAX_REPLY = 5


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "protocol", protocol=True)


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, np.ndarray]:
    """A 125-135 s demo ASR stream (over 300 chunks): past 4096 positions offline, 1500 on the server."""
    return long_asr_stream(tmp_path_factory.mktemp("long"))


@pytest.fixture(scope="module")
def reference(checkpoint: Path) -> tuple[R.Model, object, list[int]]:
    from transformers import AutoConfig
    from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniAudioEncoder

    gpt = reference_gpt(protocol=True)
    gpt.max_seq_length = 4096
    upstream_rope(gpt)
    # the encoder as the released code loads it (utils.py:62-71, load_audio_encoder)
    config = AutoConfig.from_pretrained(checkpoint / "qwen25OmniConfig").thinker_config.audio_config
    encoder = Qwen2_5OmniAudioEncoder._from_config(config)
    encoder.load_state_dict(torch.load(checkpoint / "audiointeraction_ChunkwisedEncoder.pth"))
    prompt = tokenizer().encode(SYSTEM_PROMPT, add_special_tokens=False).ids  # base.py:13-16
    prefix = [R.ONLINE, R.ENGLISH, R.SYSTEM, R.TEXT_BEGIN, *prompt, R.TEXT_END]
    return R.Model(gpt), encoder.eval(), prefix


def decisions(model: AudioInteractionBackend, meta: dict, audio: np.ndarray) -> str:
    """Our backend's decision per chunk, in the reference's letters."""
    model.start(meta, audio)
    out = []
    for index in range(audio.size // CHUNK_SAMPLES):
        before, stopped = replace(model.stats), model._stopped
        reply = model.step(audio[index * CHUNK_SAMPLES : (index + 1) * CHUNK_SAMPLES], index)
        if reply is not None:
            out.append("B")
        elif model.stats.left_protocol > before.left_protocol:
            out.append("X")
        elif stopped or model.stats.dropped_chunks > before.dropped_chunks:
            out.append("-")
        else:
            out.append("S")
    return "".join(out)


def test_offline_session_is_streaming_generate(checkpoint: Path, stream: tuple, reference: tuple) -> None:
    meta, audio = stream
    model, encoder, prefix = reference
    ours = AudioInteractionBackend(checkpoint, session="offline", max_reply_tokens=MAX_REPLY)
    got = decisions(ours, meta, audio)
    want = R.offline(model, encoder, prefix, audio, MAX_REPLY)
    assert len(got) >= 300 and got == want
    assert "B" in got and "S" in got and ours.stats.resets >= 1  # replies, silences, past the block


def test_server_session_is_the_web_server(checkpoint: Path, stream: tuple, reference: tuple) -> None:
    meta, audio = stream
    model, encoder, prefix = reference
    ours = AudioInteractionBackend(checkpoint, session="server", max_reply_tokens=MAX_REPLY)
    got = decisions(ours, meta, audio)
    want = R.server(model, encoder, prefix, audio, MAX_REPLY, session_rules("server").busy_chunks)
    assert got == want
    assert got.count("B") >= 3 and "-" in got  # replies (each resetting) and refused or dropped chunks
    assert ours.stats.resets >= got.count("B") and ours.stats.capped_replies > 0


def test_restricted_decisions_and_what_an_unrestricted_model_would_do(
    checkpoint: Path, stream: tuple
) -> None:
    """The random tiny checkpoint (no protocol head) leaves the protocol at once offline; restricted, it
    goes on, and the stats say how often the whole vocabulary's choice would have left it."""
    meta, audio = stream
    root = checkpoint.parent.parent / "random"
    if not root.is_dir():
        write_checkpoint(root)
    free = AudioInteractionBackend(root, session="offline", max_reply_tokens=MAX_REPLY)
    got = decisions(free, meta, audio[: 40 * CHUNK_SAMPLES])
    assert got[0] == "X" and set(got[1:]) == {"-"} and free.stats.stopped_streams == [meta["id"]]
    held = AudioInteractionBackend(root, session="offline", decision="restricted", max_reply_tokens=MAX_REPLY)
    got = decisions(held, meta, audio[: 40 * CHUNK_SAMPLES])
    assert set(got) <= {"S", "B"} and held.stats.left_protocol == 0
    assert held.stats.to_dict()["off_protocol_argmax_share"] == 1.0


def test_modes_and_decisions_are_checked(checkpoint: Path) -> None:
    with pytest.raises(HarnessError, match="session"):
        AudioInteractionBackend(checkpoint, session="online")
    with pytest.raises(HarnessError, match="decision"):
        AudioInteractionBackend(checkpoint, decision="free")
    assert session_rules("server").busy_chunks(14) == 2 and session_rules("offline").busy_chunks(99) == 0

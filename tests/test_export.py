"""Upstream export, read by a faithful re-implementation of the released code's rules (upstream_rules.py):
every line usable by its trainer, features equal to its feature step, its builder's arithmetic giving back
our labels, long streams cut at turn boundaries."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import upstream_rules as U
from ai_checkpoint import EMBED, tokenizer, write_checkpoint
from helpers import CAPABILITIES, read_shard

from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.plan.spec import single
from streamaudio.protocol import (
    ASSISTANT,
    AUDIO_BEGIN,
    ENGLISH,
    FRAME_SAMPLES,
    IGNORE_INDEX,
    KEEP_SILENCE,
    ONLINE,
    PAD,
    SYSTEM,
    SYSTEM_PROMPT,
    TEXT_BEGIN,
    TEXT_END,
    URGENT,
)
from streamaudio.use.export import FeatureWriter, export_upstream
from streamaudio.use.lines import plan_lines
from streamaudio.use.tokens import encode_text, layout, load_tokenizer
from streamaudio.write.build import build

M = IGNORE_INDEX
EXPORT = [sys.executable, "-m", "streamaudio.cli", "export", "upstream"]


def samples_of(out: Path) -> dict[str, tuple[dict, np.ndarray, int]]:
    return {k: v for tar in sorted((out / "shards").glob("*.tar")) for k, v in read_shard(tar).items()}


def test_token_layout_is_pinned() -> None:
    words = {"be": 7, "nice": 8, "hi": 9, "there": 10}
    meta = {
        "system_prompt": "be nice",
        "num_chunks": 3,
        "turns": [
            {"event": 0, "chunk": 1, "respond": True, "text": "hi there", "emotion": "urgent"},
            {"event": 1, "chunk": 2, "respond": False},
        ],
    }
    tok = layout(meta, lambda text: [words[w] for w in text.split()])
    listen = [AUDIO_BEGIN, *[PAD] * 10, ASSISTANT]
    assert tok.input_ids == [
        ONLINE, ENGLISH, SYSTEM, TEXT_BEGIN, 7, 8, TEXT_END,
        *listen, KEEP_SILENCE,
        *listen, TEXT_BEGIN, URGENT, 9, 10, TEXT_END,
        *listen, KEEP_SILENCE,
    ]  # fmt: skip
    assert tok.labels == [
        *[M] * 7,
        *[M] * 12, KEEP_SILENCE,
        *[M] * 12, TEXT_BEGIN, URGENT, 9, 10, TEXT_END,
        *[M] * 12, KEEP_SILENCE,
    ]  # fmt: skip
    assert tok.audio_pos == [(8, 18), (21, 31), (38, 48)]
    assert layout(meta, lambda text: [words[w] for w in text.split()], 1, 2).audio_pos == [(8, 18)]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, demo_build: Path, checkpoint: Path) -> Path:
    """``export upstream --checkpoint tiny`` of the demo build, through the CLI."""
    to = tmp_path_factory.mktemp("export") / "up"
    proc = subprocess.run(
        [*EXPORT, str(demo_build), "--to", str(to), "--checkpoint", str(checkpoint)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "exported 8 streams" in proc.stdout and "no features" not in proc.stdout
    return to


def test_every_line_is_usable_by_the_upstream_trainer(exported: Path, demo_build: Path) -> None:
    assert [p.name for p in (exported / "tokens").iterdir()] == ["tokens.jsonl"]  # nothing else read as data
    items, skipped = U.scan(str(exported / "tokens"))
    samples = samples_of(demo_build)
    assert skipped == 0 and len(items) == len(samples)
    for item in items:
        got = U.get_item(item)
        assert got["cut"] == 0  # nothing past max_seq_len
        features = got["pt_list"]
        assert torch.is_tensor(features) and features.shape == (10 * len(item["audio_pos"]), EMBED)
        U.fill_online(features, item["audio_pos"], EMBED, 4096)  # raises where a chunk does not fit
        meta = samples[item["idx"]][0]
        labels = "".join(
            "S" if item["labels"][b + 1] == U.KEEP_SILENCE else "B" for _, b in item["audio_pos"]
        )
        assert labels == meta["chunk_labels"]


def test_features_equal_the_released_feature_step(exported: Path, demo_build: Path, checkpoint: Path) -> None:
    from transformers import AutoConfig
    from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniAudioEncoder

    # the encoder as the released code loads it (utils.py:62-71, load_audio_encoder)
    config = AutoConfig.from_pretrained(checkpoint / "qwen25OmniConfig").thinker_config.audio_config
    encoder = Qwen2_5OmniAudioEncoder._from_config(config)
    encoder.load_state_dict(torch.load(checkpoint / "audiointeraction_ChunkwisedEncoder.pth"))
    encoder = encoder.eval()
    for key, (_, audio, _) in list(samples_of(demo_build).items())[:3]:
        wav, _ = sf.read(exported / "wavs" / f"{key}.wav", dtype="float32")
        assert np.array_equal(wav, audio)
        ours = torch.load(exported / "features" / key / "AudioFeat.pt")
        reference = U.encoder_features(audio, encoder)
        assert ours.shape == reference.shape
        assert torch.allclose(ours, reference, atol=1e-5), (ours - reference).abs().max()


def test_turn_map_truncation_ends_on_each_reply_and_the_longest_keeps_the_line(exported: Path) -> None:
    """Every entry cuts after a reply's TEXT_END, or (the last) keeps the whole line, so that under the
    trainer's default (use_turn_map on, a cut drawn from turn_0 … turn_9) every chunk can be trained."""
    items, _ = U.scan(str(exported / "tokens"))
    cuts = 0
    for item in items:
        turn_map = item["turn_audio_end_map"]
        assert 0 < len(turn_map) <= U.MAX_TURNS and list(turn_map) == [
            f"turn_{k}" for k in range(len(turn_map))
        ]
        assert max(turn_map.values()) == len(item["audio_pos"])
        for key, chunks in turn_map.items():
            got = U.get_item(item, turn=key)
            assert len(got["audio_pos"]) == chunks
            if chunks == len(item["audio_pos"]):  # the whole line: nothing cut
                assert got["input_ids"][: len(item["input_ids"])] == item["input_ids"]
                continue
            ids = got["input_ids"][: len(got["input_ids"]) - got["input_ids"][::-1].index(TEXT_END)]
            last_listen = got["audio_pos"][-1][1]
            assert ids[last_listen + 1] == TEXT_BEGIN  # the line ends on this chunk's reply
            assert got["labels"][len(ids) - 1] == TEXT_END and set(got["labels"][len(ids) :]) == {M}
            cuts += 1
    assert cuts > 0


@pytest.fixture(scope="module")
def builder_lines(tmp_path_factory: pytest.TempPathFactory, capability_builds: Path) -> dict[str, Path]:
    out = {}
    for cap in CAPABILITIES:
        to = tmp_path_factory.mktemp("builder") / cap
        export_upstream([capability_builds / cap], to, "online")
        out[cap] = to
    return out


@pytest.mark.parametrize("cap", CAPABILITIES)
def test_the_builders_arithmetic_gives_back_our_labels(
    cap: str, builder_lines: dict[str, Path], capability_builds: Path
) -> None:
    """The released builder's step 4 on our online.jsonl (pieces carry their own gaps, so no noise is put
    before them) lands every decision on our chunk_labels, stream by stream."""
    samples = samples_of(capability_builds / cap)
    encode = encode_text(tokenizer())
    system = len(encode(SYSTEM_PROMPT))
    lines = [json.loads(x) for x in (builder_lines[cap] / "online.jsonl").read_text().splitlines()]
    by_stream: dict[str, list[dict]] = {}
    for line in lines:
        assert U.extract_turns(line)  # the builder's step 1 reads it
        by_stream.setdefault(line["stream"], []).append(line)
    assert sorted(by_stream) == sorted(samples)
    for key, parts in by_stream.items():
        meta, audio, _ = samples[key]
        labels, pieces_all = "", []
        for line in sorted(parts, key=lambda x: x["chunks"]):
            pieces = [sf.read(t["audio_path"], dtype="float32")[0] for t in line["conversation"]]
            tail = np.zeros(0, np.float32)
            if line["tail_audio_path"]:
                tail = sf.read(line["tail_audio_path"], dtype="float32")[0]
            pieces_all += [*pieces, tail]
            turns = [
                {"audio_frames": U.output_len(p.size), "assistant": t["assistant"]}
                for p, t in zip(pieces, line["conversation"], strict=True)
            ]
            assert all(p.size % FRAME_SAMPLES == 0 for p in pieces)
            labels += U.builder_labels(turns, U.output_len(tail.size))
            # with the most noise the builder adds, its token line fits the trainer's 4096
            assert U.builder_tokens(turns, 60, [60] * len(turns), encode, system) <= 4096, line["id"]
        assert np.array_equal(np.concatenate(pieces_all), audio)  # the pieces are the stream
        assert labels == meta["chunk_labels"], key


def test_default_recipe_streams_fit_after_cutting(tmp_path: Path, checkpoint: Path) -> None:
    """Chat streams as long as the streamaudio-2m recipe draws them (up to 150 s) pass 4096 tokens; the
    export cuts them at turn boundaries into lines that fit and that still hold every label."""
    out = tmp_path / "chat"
    build(single("chat", out, streams=3, seed=4, config=ScenarioConfig(stream_seconds=(140.0, 150.0))))
    encode = encode_text(load_tokenizer(checkpoint / "tokenizer.json"))
    samples = samples_of(out)
    assert any(len(layout(m, encode).input_ids) > 4096 for m, _, _ in samples.values())
    result = export_upstream([out], tmp_path / "up", "online", encode)
    assert result.split_streams > 0 and result.over_limit == [] and result.builder_over_limit == []
    assert result.reach.shares() == {
        "chunks_on": 1.0,
        "replies_on": 1.0,
        "chunks_off": 1.0,
        "replies_off": 1.0,
    }
    # through the released builder, with the most noise it adds (60 frames before each turn and as tail)
    system = len(encode(SYSTEM_PROMPT))
    for line in map(json.loads, (tmp_path / "up" / "online.jsonl").read_text().splitlines()):
        turns = [
            {"audio_frames": U.output_len(sf.info(t["audio_path"]).frames), "assistant": t["assistant"]}
            for t in U.extract_turns(line)
        ]
        assert U.builder_tokens(turns, 60, [60] * len(turns), encode, system) <= 4096, line["id"]
    # without the turn-map cap, lines of more than ten replies leave chunks no cut reaches
    uncapped = export_upstream([out], tmp_path / "uncapped", "online", encode, max_turns=None)
    assert uncapped.reach.chunks_on < uncapped.reach.chunks_off == uncapped.reach.chunks
    items, _ = U.scan(str(tmp_path / "up" / "tokens"), check_audio_file=False)
    assert len(items) == result.lines > len(samples)
    by_stream: dict[str, list[dict]] = {}
    for item in items:
        assert U.get_item(item)["cut"] == 0
        stream = item["idx"] if item["idx"] in samples else item["idx"].rsplit("-", 1)[0]
        by_stream.setdefault(stream, []).append(item)
    for key, (meta, audio, _) in samples.items():
        parts = sorted(by_stream[key], key=lambda i: i["idx"])
        labels = "".join(
            "S" if p["labels"][b + 1] == U.KEEP_SILENCE else "B" for p in parts for _, b in p["audio_pos"]
        )
        assert labels == meta["chunk_labels"]
        wavs = [sf.read(tmp_path / "up" / "wavs" / f"{p['idx']}.wav", dtype="float32")[0] for p in parts]
        assert np.array_equal(np.concatenate(wavs), audio)
        turn_ends = {t["chunk"] + 1 for t in meta["turns"]}
        starts = np.cumsum([0] + [len(p["audio_pos"]) for p in parts])[1:-1]
        assert set(starts.tolist()) <= turn_ends  # every cut follows a turn's decision chunk


def test_a_turn_longer_than_the_cap_is_reported(demo_build: Path) -> None:
    meta = next(iter(samples_of(demo_build).values()))[0]
    encode = encode_text(tokenizer())
    lines = plan_lines(meta, encode, 200)
    assert len(lines) > 1 and lines[0].start == 0 and lines[-1].stop == meta["num_chunks"]
    assert all(a.stop == b.start for a, b in itertools.pairwise(lines))
    assert any(len(layout(meta, encode, x.start, x.stop).input_ids) > 200 for x in lines)


def test_without_a_checkpoint_the_feature_step_is_named(tmp_path: Path, demo_build: Path) -> None:
    tok = tmp_path / "tokenizer.json"
    tokenizer().save(str(tok))
    proc = subprocess.run(
        [*EXPORT, str(demo_build), "--to", str(tmp_path / "up"), "--tokenizer", str(tok)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and "step3_extract_features" in proc.stdout
    step2 = [json.loads(x) for x in (tmp_path / "up" / "step2.jsonl").read_text().splitlines()]
    items, skipped = U.scan(str(tmp_path / "up" / "tokens"))
    assert skipped == len(step2) == 8 and items == []  # until the feature step writes AudioFeat.pt …
    for rec in step2:
        folder = tmp_path / "up" / "features" / rec["idx"]
        assert folder.is_dir() and Path(rec["concat_wav_path"]).is_file()
        torch.save(torch.zeros(1), folder / "AudioFeat.pt")
    assert len(U.scan(str(tmp_path / "up" / "tokens"))[0]) == 8  # … where the trainer looks for it


def test_stream2m_lines_are_readable_by_the_builder(tmp_path: Path, demo_build: Path) -> None:
    export_upstream([demo_build / "shards" / "asr-train-000000.tar"], tmp_path, "stream2m")
    line = json.loads((tmp_path / "stream2m.jsonl").read_text().splitlines()[0])
    assert {"id", "stream_scene_type", "num_turns", "turns", "tail_audio_path", "conversation"} <= set(line)
    assert line["stream_scene_type"] == "asr" and line["num_turns"] == len(line["turns"])
    first = line["turns"][0]
    second = next(t for t in line["turns"] if t["scene_type"] == "speech")
    assert set(first) == {"user", "assistant", "emotion", "scene_type", "audio_path"}
    assert first["scene_type"] == "instruction"
    assert second["user"] == second["assistant"]  # ASR: the transcript
    turns = U.extract_turns(line)  # the builder's step 1 reads the line's conversation
    assert [t["audio_path"] for t in turns] == [t["audio_path"] for t in line["turns"]]
    with pytest.raises(ValueError, match="missing 'conversation'"):  # what the shape alone would give
        U.extract_turns({k: v for k, v in line.items() if k != "conversation"})
    assert not (tmp_path / "tokens").exists()


def test_feature_writer_needs_a_checkpoint(tmp_path: Path) -> None:
    from streamaudio.use.harness.backends import HarnessError

    with pytest.raises(HarnessError, match="qwen25OmniConfig"):
        FeatureWriter(tmp_path)


def test_export_cli_errors(tmp_path: Path, demo_build: Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not a tokenizer")
    plain = tmp_path / "plain.json"
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordLevel({"[UNK]": 0, "hi": 1}, unk_token="[UNK]")).save(str(plain))
    for args, needle in (
        ([str(demo_build), "--tokenizer", str(bad)], "not a tokenizer.json"),
        ([str(demo_build), "--tokenizer", str(plain)], "id 151643 (TEXT_END) is not a special token"),
        ([str(tmp_path / "nothing")], "nothing"),
    ):
        proc = subprocess.run(
            [*EXPORT, *args, "--to", str(tmp_path / "x")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1 and needle in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1

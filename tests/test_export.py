"""Upstream export: WAVs that reassemble each stream, the online / StreamAudio-2M lines, and token ids."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import read_shard
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from streamaudio import protocol as P
from streamaudio.export import export_upstream, load_tokenizer
from streamaudio.tokens import layout

M = P.IGNORE_INDEX


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
    listen = [P.AUDIO_BEGIN, *[P.PAD] * 10, P.ASSISTANT]
    assert tok.input_ids == [
        P.ONLINE, P.ENGLISH, P.SYSTEM, P.TEXT_BEGIN, 7, 8, P.TEXT_END,
        *listen, P.KEEP_SILENCE,
        *listen, P.TEXT_BEGIN, P.URGENT, 9, 10, P.TEXT_END,
        *listen, P.KEEP_SILENCE,
    ]  # fmt: skip
    assert tok.labels == [
        *[M] * 7,
        *[M] * 12, P.KEEP_SILENCE,
        *[M] * 12, P.TEXT_BEGIN, P.URGENT, 9, 10, P.TEXT_END,
        *[M] * 12, P.KEEP_SILENCE,
    ]  # fmt: skip
    assert tok.audio_pos == [(8, 18), (21, 31), (38, 48)]


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory: pytest.TempPathFactory, demo_build: Path) -> Path:
    """A small word-level tokenizer trained on the corpus' own texts, saved as tokenizer.json."""
    texts = [P.SYSTEM_PROMPT]
    for tar in (demo_build / "shards").glob("*.tar"):
        for meta, _, _ in read_shard(tar).values():
            texts += [t["text"] for t in meta["turns"] if t["respond"]]
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok.save(str(path))
    return path


def test_online_export_with_tokens(tmp_path: Path, demo_build: Path, tokenizer_file: Path) -> None:
    encode = load_tokenizer(tokenizer_file)
    result = export_upstream([demo_build], tmp_path, "online", encode)
    assert result.streams == 8
    samples = {
        k: v for tar in sorted((demo_build / "shards").glob("*.tar")) for k, v in read_shard(tar).items()
    }
    lines = [json.loads(x) for x in (tmp_path / "online.jsonl").read_text().splitlines()]
    tokens = {t["idx"]: t for t in map(json.loads, (tmp_path / "tokens.jsonl").read_text().splitlines())}
    assert [line["id"] for line in lines] == sorted(samples)
    for line in lines:
        meta, audio, _ = samples[line["id"]]
        whole, sr = sf.read(tmp_path / "wavs" / f"{line['id']}.wav", dtype="float32")
        assert sr == 16000 and np.array_equal(whole, audio)
        pieces = [sf.read(item["audio_path"], dtype="float32")[0] for item in line["conversation"]]
        assert np.array_equal(np.concatenate(pieces), audio)  # the pieces are the stream, to the sample
        assert all(p.size % P.CHUNK_SAMPLES == 0 for p in pieces)
        ends = np.cumsum([p.size for p in pieces]) // P.CHUNK_SAMPLES
        for turn, item, end in zip(meta["turns"], line["conversation"], ends, strict=False):
            assert end - 1 == turn["chunk"]  # each turn's reply chunk is its piece's last chunk
            assert item["assistant"] == (turn["text"] if turn["respond"] else P.NO_RESPONSE)
        tok = tokens[line["id"]]
        ids, labels = tok["input_ids"], tok["labels"]
        assert len(ids) == len(labels) and len(tok["audio_pos"]) == meta["num_chunks"]
        for chunk, (a, b) in enumerate(tok["audio_pos"]):
            assert ids[a - 1] == P.AUDIO_BEGIN and ids[a:b] == [P.PAD] * 10 and ids[b] == P.ASSISTANT
            if meta["chunk_labels"][chunk] == "S":
                assert ids[b + 1] == labels[b + 1] == P.KEEP_SILENCE
            else:
                turn = next(t for t in meta["turns"] if t["chunk"] == chunk)
                body = [P.TEXT_BEGIN, P.EMOTION_TOKENS[turn["emotion"]], *encode(turn["text"]), P.TEXT_END]
                assert ids[b + 1 : b + 1 + len(body)] == body == labels[b + 1 : b + 1 + len(body)]
        learned = sum(label != M for label in labels)
        replies = [t for t in meta["turns"] if t["respond"]]
        assert learned == meta["chunk_labels"].count("S") + sum(len(encode(t["text"])) + 3 for t in replies)
        assert tok["pt_path_dir"].endswith(f"{line['id']}.wav")


def test_stream2m_lines(tmp_path: Path, demo_build: Path) -> None:
    export_upstream([demo_build / "shards" / "asr-train-000000.tar"], tmp_path, "stream2m")
    line = json.loads((tmp_path / "stream2m.jsonl").read_text().splitlines()[0])
    assert (
        set(line) == {"id", "stream_scene_type", "num_turns", "turns"} and line["stream_scene_type"] == "asr"
    )
    assert line["num_turns"] == len(line["turns"])
    first, second = line["turns"][0], line["turns"][1]
    assert set(first) == {"user", "assistant", "emotion", "scene_type", "audio_path"}
    assert (
        first["scene_type"] == "instruction" and second["user"] == second["assistant"]
    )  # ASR: the transcript
    assert not (tmp_path / "tokens.jsonl").exists()


def test_export_cli_errors(tmp_path: Path, demo_build: Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not a tokenizer")
    for args, needle in (
        ([str(demo_build), "--tokenizer", str(bad)], "tokenizer"),
        ([str(tmp_path / "nothing")], "nothing"),
    ):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "streamaudio.cli",
                "export",
                "upstream",
                *args,
                "--to",
                str(tmp_path / "x"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1 and needle in proc.stderr and "Traceback" not in proc.stderr

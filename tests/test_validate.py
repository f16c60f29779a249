"""`streamaudio validate`: a mutation suite corrupting valid shards every way the contract can break."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import webdataset as wds
from recordings import librivox

from streamaudio.check.corpus import vad_findings, validate_corpus
from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.plan.spec import single
from streamaudio.protocol import CHUNK_SAMPLES
from streamaudio.write.build import build

Members = dict[str, dict[str, bytes]]  # key -> {"json": …, "flac": …}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("valid") / "asr"
    build(
        single(
            "asr", out, streams=4, seed=12, shard_streams=2, config=ScenarioConfig(stream_seconds=(15, 25))
        )
    )
    return out


def _read(tar: Path) -> Members:
    members: Members = {}
    with tarfile.open(tar) as t:
        for m in t:
            key, _, ext = m.name.partition(".")
            members.setdefault(key, {})[ext] = t.extractfile(m).read()
    return members


def _write(tar: Path, members: Members, mtime: float = 0.0) -> None:
    with open(tar, "wb") as f:
        writer = wds.TarWriter(f, mtime=mtime)
        for key, parts in members.items():
            writer.write({"__key__": key, **parts})
        writer.close()


def _meta(members: Members, key: str) -> dict:
    return json.loads(members[key]["json"])


def _set_meta(members: Members, key: str, meta: dict) -> None:
    members[key]["json"] = json.dumps(meta).encode()


def _audio(members: Members, key: str) -> tuple[np.ndarray, int]:
    return sf.read(io.BytesIO(members[key]["flac"]), dtype="float32")


def _set_audio(members: Members, key: str, audio: np.ndarray, sr: int = 16000) -> None:
    buf = io.BytesIO()
    sf.write(buf, audio, sr, format="FLAC", subtype="PCM_16")
    members[key]["flac"] = buf.getvalue()


def shifted_reply(m: Members, k: str) -> None:
    meta = _meta(m, k)
    turn = meta["turns"][1]
    labels = list(meta["chunk_labels"])
    labels[turn["chunk"]], labels[turn["chunk"] + 1] = "S", "B"
    turn["chunk"] += 1
    meta["chunk_labels"] = "".join(labels)
    _set_meta(m, k, meta)


def missing_b(m: Members, k: str) -> None:
    meta = _meta(m, k)
    labels = list(meta["chunk_labels"])
    labels[meta["turns"][0]["chunk"]] = "S"
    meta["chunk_labels"] = "".join(labels)
    _set_meta(m, k, meta)


def extra_b(m: Members, k: str) -> None:
    meta = _meta(m, k)
    meta["chunk_labels"] = "B" + meta["chunk_labels"][1:]
    _set_meta(m, k, meta)


def double_reply(m: Members, k: str) -> None:
    meta = _meta(m, k)
    meta["turns"][1]["chunk"] = meta["turns"][0]["chunk"]
    _set_meta(m, k, meta)


def truncated_audio(m: Members, k: str) -> None:
    audio, _ = _audio(m, k)
    _set_audio(m, k, audio[:-1000])


def wrong_rate(m: Members, k: str) -> None:
    audio, _ = _audio(m, k)
    _set_audio(m, k, soxr.resample(audio, 16000, 22050), 22050)


def clipped(m: Members, k: str) -> None:
    audio, _ = _audio(m, k)
    audio[1000:1200] = 1.0
    _set_audio(m, k, audio)


def silent_event(m: Members, k: str) -> None:
    meta = _meta(m, k)
    audio, _ = _audio(m, k)
    ev = next(e for e in meta["events"] if e["kind"] == "speech")
    audio[ev["start_sample"] : ev["end_sample"]] = 0.0
    _set_audio(m, k, audio)


def swapped_transcript(m: Members, k: str) -> None:
    meta = _meta(m, k)
    a, b = meta["turns"][1], meta["turns"][2]
    a["text"], b["text"] = b["text"], a["text"]
    _set_meta(m, k, meta)


def event_outside(m: Members, k: str) -> None:
    meta = _meta(m, k)
    meta["events"][-1]["end_sample"] = meta["num_chunks"] * CHUNK_SAMPLES + 6400
    _set_meta(m, k, meta)


def bad_emotion(m: Members, k: str) -> None:
    meta = _meta(m, k)
    meta["turns"][0]["emotion"] = "bored"
    _set_meta(m, k, meta)


def broken_json(m: Members, k: str) -> None:
    m[k]["json"] = b'{"schema": "streamaudio.stream/1", "id": '


MUTATIONS: list[tuple[Callable[[Members, str], None], str]] = [
    (shifted_reply, "reply_chunk"), (missing_b, "missing_reply_label"), (extra_b, "extra_reply_label"),
    (double_reply, "double_reply"), (truncated_audio, "audio_length"), (wrong_rate, "sample_rate"),
    (clipped, "clipped"), (silent_event, "silent_event"), (swapped_transcript, "asr_transcript"),
    (event_outside, "event_bounds"), (bad_emotion, "schema"), (broken_json, "broken_json"),
]  # fmt: skip


def _copy(corpus: Path, tmp_path: Path) -> Path:
    out = tmp_path / "c"
    shutil.copytree(corpus, out)
    return out


def test_the_valid_corpus_passes(corpus: Path) -> None:
    report = validate_corpus([corpus])
    assert report.ok(strict=True) and report.streams == 4 and not report.warnings


@pytest.mark.parametrize(("mutate", "kind"), MUTATIONS, ids=[k for _, k in MUTATIONS])
def test_each_corruption_is_caught_and_named(
    corpus: Path, tmp_path: Path, mutate: Callable, kind: str
) -> None:
    out = _copy(corpus, tmp_path)
    tar = out / "shards" / "asr-train-000001.tar"
    members = _read(tar)
    key = sorted(members)[0]
    mutate(members, key)
    _write(tar, members)
    report = validate_corpus([out])
    assert not report.ok()
    assert kind in report.faults, dict(report.faults)
    assert any(key in msg or str(tar) in msg for msg in report.examples[kind])


def test_truncated_tar(corpus: Path, tmp_path: Path) -> None:
    out = _copy(corpus, tmp_path)
    tar = out / "shards" / "asr-train-000000.tar"
    tar.write_bytes(tar.read_bytes()[: tar.stat().st_size // 2])
    report = validate_corpus([out])
    assert {"unreadable_shard", "checksum", "stream_count"} <= set(report.faults)


def test_checksum_drift_and_duplicates_and_strays(corpus: Path, tmp_path: Path) -> None:
    out = _copy(corpus, tmp_path)
    first, second = out / "shards" / "asr-train-000000.tar", out / "shards" / "asr-train-000001.tar"
    _write(first, _read(first), mtime=1.0)  # same streams, different bytes
    report = validate_corpus([out])
    assert set(report.faults) == {"checksum"}
    members = _read(second)
    members.update(dict(list(_read(first).items())[:1]))
    _write(second, members)
    assert "duplicate_key" in validate_corpus([out]).faults
    shutil.copy(corpus / "shards" / "asr-train-000000.tar", out / "shards" / "extra.tar")
    assert validate_corpus([out]).warnings["unlisted_shard"] == 1


def test_cli_exit_codes_and_report(corpus: Path, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "streamaudio.cli", "validate", *args],
            capture_output=True,
            text=True,
            timeout=300,
        )

    ok = run(str(corpus), "--workers", "2", "--report", str(tmp_path / "ok.json"))
    assert ok.returncode == 0 and "OK" in ok.stdout and "4 streams" in ok.stdout
    assert json.loads((tmp_path / "ok.json").read_text())["ok"] is True
    out = _copy(corpus, tmp_path)
    stray = {
        f"stray-{key}": parts for key, parts in _read(corpus / "shards" / "asr-train-000000.tar").items()
    }
    for key in stray:
        meta = _meta(stray, key)
        _set_meta(stray, key, {**meta, "id": key})
    _write(out / "shards" / "stray.tar", stray)
    assert run(str(out)).returncode == 0  # a shard the manifest does not list is a warning
    assert run(str(out), "--strict").returncode == 1
    tar = out / "shards" / "asr-train-000001.tar"
    members = _read(tar)
    shifted_reply(members, sorted(members)[0])
    _write(tar, members)
    bad = run(str(out), "--report", str(tmp_path / "bad.json"))
    assert bad.returncode == 1 and "reply_chunk" in bad.stdout and "FAILED" in bad.stdout
    assert json.loads((tmp_path / "bad.json").read_text())["faults"]["reply_chunk"] == 1
    missing = run(str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "nowhere" in missing.stderr and "Traceback" not in missing.stderr


def test_vad_checks_on_real_speech() -> None:
    wav, text = librivox()[0]
    speech, _ = sf.read(wav, dtype="float32")
    rng = np.random.default_rng(0)
    n = 8 * CHUNK_SAMPLES * 4
    audio = (0.003 * rng.standard_normal(n)).astype(np.float32)
    audio[16000 : 16000 + speech.size] += speech
    end = 16000 + speech.size
    meta = {
        "id": "vad",
        "events": [
        {"kind": "speech", "start_sample": 16000, "end_sample": end, "text": text},
        {"kind": "speech", "start_sample": end + 8000, "end_sample": n - 100, "text": "nothing said here"},
        {"kind": "noise", "role": "gap", "category": "coloured", "clip_id": "n", "start_sample": 8000,
         "end_sample": end},
    ], "turns": [{"event": 0, "chunk": (end + 3 * CHUNK_SAMPLES) // CHUNK_SAMPLES, "respond": True}],
    }  # fmt: skip
    kinds = {f.kind: f.message for f in vad_findings(meta, audio)}
    assert "event 1" in kinds["vad_not_speech"]  # noise claimed to be speech
    assert "gap event 2" in kinds["vad_speech_in_gap"]  # speech inside a gap claimed quiet
    meta["events"][0]["end_sample"] = 16000 + speech.size // 2  # claims the speech ended halfway
    meta["turns"][0]["chunk"] = (16000 + speech.size // 2) // CHUNK_SAMPLES + 1
    assert "vad_reply_during_speech" in {f.kind for f in vad_findings(meta, audio)}

"""Whole builds: layout, contract, checksums, determinism, shard caps and resume."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
from helpers import read_shard

from streamaudio.check.validate import check_sample, schema
from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.plan.spec import BuildError, single
from streamaudio.write import dealer
from streamaudio.write.build import build
from streamaudio.write.output import STATE_DIR
from streamaudio.write.worker import join_pieces

SMALL = ScenarioConfig(stream_seconds=(15.0, 30.0))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shas(out: Path) -> dict[str, str]:
    return {p.name: _sha(p) for p in sorted((out / "shards").glob("*.tar"))}


def test_layout_manifest_and_every_sample(demo_build: Path) -> None:
    manifest = json.loads((demo_build / "manifest.json").read_text())
    assert (demo_build / "rejected.jsonl").exists()
    tars = sorted((demo_build / "shards").glob("*.tar"))
    assert [p.name for p in tars] == ["asr-train-000000.tar", "asr-train-000001.tar", "asr-train-000002.tar"]
    assert [s["path"] for s in manifest["shards"]] == [f"shards/{p.name}" for p in tars]
    assert manifest["streams"] == 8 and manifest["seed"] == 3
    keys, hours, replies = [], 0.0, 0
    for entry, tar in zip(manifest["shards"], tars, strict=True):
        assert entry["sha256"] == _sha(tar) and entry["bytes"] == tar.stat().st_size
        samples = read_shard(tar)
        assert entry["streams"] == len(samples)
        for key, (meta, audio, sr) in samples.items():
            jsonschema.validate(meta, schema("stream"))
            assert check_sample(meta, audio, sr) == [], key
            assert meta["id"] == key
            keys.append(key)
            hours += meta["num_chunks"] * 0.4 / 3600
            replies += meta["chunk_labels"].count("B")
    assert keys == [f"asr-train-{i:09d}" for i in range(8)]
    assert manifest["hours"] == pytest.approx(hours, abs=1e-5)
    assert manifest["replies"] == replies


def test_same_seed_same_bytes_any_worker_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = build(single("asr", tmp_path / "w1", streams=6, seed=9, shard_streams=2, workers=1, config=SMALL))
    joined = []
    monkeypatch.setattr(dealer, "join_pieces", lambda *a: joined.append(a[0]) or join_pieces(*a))
    seen: list[tuple[int, float]] = []
    two = build(
        single("asr", tmp_path / "w2", streams=6, seed=9, shard_streams=2, workers=2, config=SMALL),
        lambda streams, seconds: seen.append((streams, seconds)),
    )
    # three processes: the last shards are rendered in pieces and joined
    assert [len(pieces) for pieces in joined] == [2]  # the last shard, in two pieces of one stream
    build(single("asr", tmp_path / "w3", streams=12, seed=9, shard_streams=2, workers=3, config=SMALL))
    build(single("asr", tmp_path / "w4", streams=12, seed=9, shard_streams=2, workers=1, config=SMALL))
    assert len(joined) == 3
    assert one.streams == two.streams == 6
    assert _shas(tmp_path / "w1") == _shas(tmp_path / "w2")
    assert _shas(tmp_path / "w3") == _shas(tmp_path / "w4")
    assert len(_shas(tmp_path / "w1")) == 3
    for a, b in (("w1", "w2"), ("w4", "w3")):
        assert _manifest_without_times(tmp_path / a) == _manifest_without_times(tmp_path / b)
    # every stream counted once, whoever rendered it
    assert seen[-1] == (6, pytest.approx(two.seconds)) and len(seen) >= 3
    assert not list((tmp_path / "w2" / "shards").glob(".*"))  # no piece or partial left
    other = build(single("asr", tmp_path / "s2", streams=6, seed=10, shard_streams=2, config=SMALL))
    assert other.streams == 6 and _shas(tmp_path / "s2") != _shas(tmp_path / "w1")


def _manifest_without_times(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    for key in ("elapsed", "created", "command", "workers", "out"):
        manifest.pop(key, None)
    return manifest


def test_shard_size_cap(tmp_path: Path) -> None:
    build(single("asr", tmp_path / "o", streams=6, seed=1, shard_mb=2.0, config=SMALL))
    tars = list((tmp_path / "o" / "shards").glob("*.tar"))
    assert len(tars) >= 3
    assert all(p.stat().st_size <= 2.0e6 for p in tars)


def test_rerun_builds_only_what_is_missing(tmp_path: Path) -> None:
    spec = single("asr", tmp_path / "o", streams=6, seed=4, shard_streams=2, config=SMALL)
    first = build(spec)
    before = _shas(spec.out)
    assert first.skipped_shards == 0
    (spec.out / "shards" / "asr-train-000001.tar").unlink()
    (spec.out / "shards" / ".asr-train-000002.tar.partial").write_bytes(b"half a tar")
    again = build(spec)
    assert again.skipped_shards == 2
    assert _shas(spec.out) == before
    assert not list((spec.out / "shards").glob(".*partial"))
    assert (spec.out / STATE_DIR / "asr-train-000001.tar.json").exists()
    other = single("asr", spec.out, streams=6, seed=5, shard_streams=2, config=SMALL)
    with pytest.raises(BuildError, match=r"holds another build \(asr-train\).*--force"):
        build(other)  # another build's output is never mixed with this one's
    assert _shas(spec.out) == before
    changed = build(other, force=True)
    assert changed.skipped_shards == 0 and _shas(spec.out) != before


def test_broken_clip_is_rejected_and_build_goes_on(tmp_path: Path, demo_build: Path) -> None:
    import numpy as np
    import soundfile as sf

    from streamaudio.tts import EspeakEngine

    audio_dir = tmp_path / "clips"
    audio_dir.mkdir()
    espeak = EspeakEngine()
    rows = []
    for i, text in enumerate(["The first clip is fine.", "So is the second one.", "And the third."]):
        sf.write(audio_dir / f"ok{i}.wav", espeak.synthesize(text, "en-us"), 16000)
        seconds = sf.info(audio_dir / f"ok{i}.wav").duration  # a row's duration is checked when decoded
        rows.append(
            {"id": f"ok{i}", "source": "mine", "path": f"clips/ok{i}.wav", "duration": seconds, "text": text}
        )
    (audio_dir / "bad.wav").write_bytes(b"this is not a wav file")
    rows.append({"id": "bad", "source": "mine", "path": "clips/bad.wav", "duration": 2.0, "text": "Broken."})
    rows.append({"id": "mute", "source": "mine", "path": "clips/ok0.wav", "duration": 2.0})
    manifest = tmp_path / "mine.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sf.write(tmp_path / "n.wav", np.random.default_rng(0).standard_normal(32000) * 0.1, 16000)
    noise = tmp_path / "noise.jsonl"
    noise.write_text(json.dumps({"id": "n", "source": "x", "path": "n.wav", "duration": 2.0}) + "\n")
    spec = single(
        "asr",
        tmp_path / "o",
        streams=6,
        seed=1,
        sources=(("mine", manifest),),
        noise=(noise,),
        config=ScenarioConfig(stream_seconds=(8.0, 12.0)),
        max_failed_clips=0.5,
    )
    result = build(spec)
    assert result.dropped and result.streams == 6 - len(result.dropped)  # the streams that drew "bad"
    rejected = [json.loads(line) for line in (spec.out / "rejected.jsonl").read_text().splitlines()]
    assert {(r["clip_id"], r["reason"]) for r in rejected} == {
        ("bad", "decode_error"),
        ("mute", "no_transcript"),
    }
    for tar in (spec.out / "shards").glob("*.tar"):
        for meta, audio, sr in read_shard(tar).values():
            assert check_sample(meta, audio, sr) == []
            assert "bad" not in {e["clip_id"] for e in meta["events"]}


def test_plan_only_says_what_the_build_makes_and_writes_no_shard(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from streamaudio.cli.main import app

    args = ["build", "--capability", "chat", "--streams", "9", "--shard-streams", "4", "--seed", "3"]
    args += ["--cache-dir", str(tmp_path / "cache")]
    planned = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "plan"), "--plan-only"])
    assert planned.exit_code == 0, planned.output
    assert not (tmp_path / "plan").exists()  # nothing written there: the pools are in the shared cache
    assert list((tmp_path / "cache" / "pools").glob("*.arrow"))
    built = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "built")])
    assert built.exit_code == 0, built.output
    manifest = json.loads((tmp_path / "built" / "manifest.json").read_text())
    row = next(line for line in planned.output.splitlines() if "chat/train" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[1] == "9 streams" and cells[2] == "9"  # asked, then planned
    assert cells[6] == str(len(manifest["shards"]))  # shards as built
    assert int(cells[5].replace(",", "")) == manifest["replies"]  # every reply planned is one built
    said = " ".join(planned.output.split())
    assert "9 streams" in said and "MB per hour of audio" in said and "with --workers 1" in said
    assert "tts: " in said and "draws of" in said

"""``streamaudio synthesize`` with Piper, and every capability built from what it made: nothing spoken at
build time, validate clean, byte-identical rebuilds, one voice per user and never the addressed voice
in the background."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import CAPABILITIES
from typer.testing import CliRunner

from streamaudio.cli.main import app
from streamaudio.prepare.demo import sentences, translations
from streamaudio.prepare.manifest import read_clips
from streamaudio.use.reader import iter_samples, shard_paths

runner = CliRunner()
WARPS = "1,1.08"  # two talkers from the shipped voice keep the test short


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 demo sentences (with their German translations, for s2tt) and two rows that cannot be said."""
    folder = tmp_path_factory.mktemp("texts")
    german = translations()
    said = [s for s in sentences() if s in german][:25] + [s for s in sentences() if s not in german][:15]
    rows = [
        {"id": f"s{i}", "source": "demo", "duration": 1.0, "tts": {"voice": "x"}, "text": t, "language": "en"}
        | ({"translation": german[t], "target_language": "de"} if t in german else {})
        for i, t in enumerate(said)
    ]
    rows += [
        {"id": "blank", "source": "demo", "duration": 1.0, "tts": {"voice": "x"}, "text": "  "},
        {"id": "dots", "source": "demo", "duration": 1.0, "tts": {"voice": "x"}, "text": "..."},
    ]
    path = folder / "sentences.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory, texts: Path) -> tuple[Path, str, Path]:
    """The texts, the demo dialogues and every capability's prompts, spoken by Piper with 2 workers."""
    folder = tmp_path_factory.mktemp("speech")
    cache = folder / "cache"
    args = ["synthesize", str(texts), "demo-dialogues", "--prompts", "all", "--engine", "piper"]
    args += ["--warp", WARPS, "--voices-per-text", "2", "--workers", "2", "--cache-dir", str(cache)]
    result = runner.invoke(app, [*args, "--out", str(folder / "speech.jsonl")])
    assert result.exit_code == 0, result.output
    return folder / "speech.jsonl", result.output, cache


def test_manifest_matches_the_files(synthesized: tuple[Path, str, Path]) -> None:
    manifest, output, _ = synthesized
    clips = list(read_clips(manifest))
    roles = {c.extra["role"] for c in clips}
    assert roles == {"speech", "dialogue", "prompt"}
    assert "rejected: empty_text 2, unspeakable 2" in output  # the blank and the dots, in both voices
    for clip in clips:
        info = sf.info(clip.path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert clip.duration == info.frames / 16000  # the manifest's duration is the file's
        assert clip.tts["engine"] == "piper" and clip.speaker == clip.tts["id"]
        assert set(clip.tts["prosody"]) == {"length_scale", "noise_scale", "noise_w_scale"}
    for clip in clips[::40]:
        audio, _ = sf.read(clip.path, dtype="float32")
        assert np.abs(audio).max() < 0.9 and np.sqrt(np.mean(audio**2)) > 0.01
    by_dialogue: dict[str, set[str]] = {}
    for c in clips:
        if c.extra["role"] == "dialogue":
            by_dialogue.setdefault(c.extra["origin"], set()).add(c.speaker)
    assert all(len(v) == 2 for v in by_dialogue.values())  # each dialogue in two voices, whole
    rejects = [json.loads(x) for x in manifest.with_name("speech.rejected.jsonl").read_text().splitlines()]
    assert sorted(r["reason"] for r in rejects) == ["empty_text"] * 2 + ["unspeakable"] * 2


def test_a_rerun_speaks_nothing_and_a_second_corpus_reuses(
    synthesized: tuple[Path, str, Path], texts: Path, tmp_path: Path
) -> None:
    manifest, _, cache = synthesized
    args = ["synthesize", str(texts), "demo-dialogues", "--prompts", "all", "--engine", "piper"]
    args += ["--warp", WARPS, "--voices-per-text", "2", "--cache-dir", str(cache)]
    again = runner.invoke(app, [*args, "--out", str(manifest)])
    assert again.exit_code == 0 and "(0 spoken," in again.output, again.output
    other = runner.invoke(app, [*args, "--out", str(tmp_path / "other.jsonl")])  # another folder, same cache
    assert other.exit_code == 0 and "(0 spoken," in other.output, other.output
    assert (tmp_path / "other.jsonl").read_bytes() == manifest.read_bytes()


@pytest.fixture(scope="module")
def builds(synthesized: tuple[Path, str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    manifest, _, cache = synthesized
    out = tmp_path_factory.mktemp("from-speech")
    for cap in CAPABILITIES:
        args = ["build", "--capability", cap, "--source", f"tts={manifest}", "--streams", "3"]
        result = runner.invoke(app, [*args, "--out", str(out / cap), "--cache-dir", str(cache)])
        assert result.exit_code == 0, result.output
    return out


def test_every_capability_builds_from_synthesized_speech(
    builds: Path, synthesized: tuple[Path, str, Path]
) -> None:
    made = {c.id: c for c in read_clips(synthesized[0])}
    for cap in CAPABILITIES:
        spoken = 0
        for tar in shard_paths([builds / cap]):
            for sample in iter_samples(tar):
                for ev in sample.meta["events"]:
                    if ev["kind"] in ("speech", "instruction"):
                        assert ev["clip_id"] in made, (cap, ev["clip_id"])  # nothing spoken at build time
                        assert ev["voice"].startswith("piper:joe")
                        spoken += 1
        assert spoken or cap == "proactive", cap  # proactive streams hold sounds only
    check = subprocess.run(
        [sys.executable, "-m", "streamaudio", "validate", *(str(builds / c) for c in CAPABILITIES)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_rebuilds_are_byte_identical(
    builds: Path, synthesized: tuple[Path, str, Path], tmp_path: Path
) -> None:
    manifest, _, cache = synthesized
    for cap in ("chat", "environment"):
        args = [
            "build",
            "--capability",
            cap,
            "--source",
            f"tts={manifest}",
            "--streams",
            "3",
            "--workers",
            "2",
        ]
        result = runner.invoke(app, [*args, "--out", str(tmp_path / cap), "--cache-dir", str(cache)])
        assert result.exit_code == 0, result.output
        first = sorted((builds / cap / "shards").glob("*.tar"))
        again = sorted((tmp_path / cap / "shards").glob("*.tar"))
        assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]


def test_voices_per_stream(builds: Path) -> None:
    for tar in shard_paths([builds / "chat"]):
        for sample in iter_samples(tar):
            by_dialogue: dict[str, set[str]] = {}
            for ev in sample.meta["events"]:
                if ev["kind"] == "speech":
                    by_dialogue.setdefault(ev["dialogue"], set()).add(ev["voice"])
            assert all(len(v) == 1 for v in by_dialogue.values())  # one user voice per dialogue
    background = 0
    for tar in shard_paths([builds / "environment"]):
        for sample in iter_samples(tar):
            speech = [e for e in sample.meta["events"] if e["kind"] == "speech"]
            addressed = {e["voice"] for e in speech if e["addressed"]}
            # the user's own near misses of the wake phrase are not addressed, but in the user's voice
            others = {
                e["voice"] for e in speech if not e["addressed"] and e.get("phenomenon") != "near_miss_wake"
            }
            assert len(addressed) == 1 and not addressed & others
            background += len(others)
    assert background


def test_stats_shows_voices_per_capability(builds: Path) -> None:
    result = runner.invoke(app, ["stats", str(builds / "chat"), str(builds / "environment")])
    assert result.exit_code == 0, result.output
    assert (
        "voices in chat: " in result.output
        and "voices in environment: 2, utterances each: piper:joe" in result.output
    )


def test_synthesis_on_a_dask_cluster_is_local_synthesis(tmp_path: Path) -> None:
    """``--executor dask`` on a local cluster: the same manifest and the same audio bytes as two local
    processes, and a rerun speaks nothing; a device the engine cannot use is one line."""
    pytest.importorskip("distributed")
    args = ["synthesize", "demo-sentences", "--engine", "espeak-ng", "--workers", "2"]
    for name, extra in (("local", []), ("dask", ["--executor", "dask"])):
        out = tmp_path / name / "m.jsonl.gz"
        result = runner.invoke(
            app, [*args, *extra, "--out", str(out), "--cache-dir", str(tmp_path / f"c-{name}")]
        )
        assert result.exit_code == 0, result.output
    local, dask = (tmp_path / "local", tmp_path / "dask")
    assert gzip.decompress((local / "m.jsonl.gz").read_bytes()) == gzip.decompress(
        (dask / "m.jsonl.gz").read_bytes()
    )
    files = sorted(p.relative_to(local) for p in (local / "audio").rglob("*.flac"))
    assert len(files) == 325 and files == sorted(
        p.relative_to(dask) for p in (dask / "audio").rglob("*.flac")
    )
    assert all((local / f).read_bytes() == (dask / f).read_bytes() for f in files)
    again = runner.invoke(
        app,
        [
            *args,
            "--executor",
            "dask",
            "--out",
            str(dask / "m.jsonl.gz"),
            "--cache-dir",
            str(tmp_path / "c-dask"),
        ],
    )
    assert again.exit_code == 0 and "(0 spoken, 325 reused)" in again.output
    wrong = runner.invoke(app, [*args, "--device", "cuda", "--out", str(tmp_path / "x.jsonl.gz")])
    assert wrong.exit_code == 1 and "piper takes a device" in wrong.output

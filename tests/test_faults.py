"""Fault injection: every bad input gets a verdict (used, rejected with a reason, or one error line and a
non-zero exit), never a traceback, a hang, or exit 0 on a corpus that is not what was asked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from faults import (
    cli,
    good_speech,
    lying_rate_wav,
    row,
    speech_wav,
    tiny_wav,
    write_jsonl,
)
from test_sources import make_commonvoice

BUILD = ["build", "--capability", "asr", "--stream-seconds", "20:30"]


def rejects(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The one ``error:`` line a failed command printed (after any progress bar)."""
    assert proc.returncode not in (0, None), proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.replace("\r", "\n").splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def stream_lengths(out: Path) -> list[float]:
    from helpers import read_shard

    return [
        meta["num_chunks"] * 0.4
        for tar in sorted((out / "shards").glob("*.tar"))
        for meta, _, _ in read_shard(tar).values()
    ]


# -- wrong corpora with exit 0 --------------------------------------------------------------------------


def test_readme_workflow_from_another_folder_reads_every_clip(tmp_path: Path) -> None:
    """prepare run in one folder, build in another: the manifest's paths still lead to the audio."""
    make_commonvoice(tmp_path / "data" / "cv", "v17", durations=False)
    noise = tmp_path / "data" / "noise"
    speech_wav(noise / "room.wav", 3)
    (tmp_path / "work").mkdir()
    prepared = cli(
        "prepare", "commonvoice", "../data/cv/en", "--out", "manifests/cv.jsonl.gz", cwd=tmp_path / "work"
    )
    assert prepared.returncode == 0, prepared.stderr
    noised = cli(
        "prepare", "noise-dir", "../data/noise", "--out", "manifests/noise.jsonl", cwd=tmp_path / "work"
    )
    assert noised.returncode == 0, noised.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    built = cli(
        *BUILD,
        "--streams",
        "3",
        "--source",
        "cv=../work/manifests/cv.jsonl.gz",
        "--noise",
        "../work/manifests/noise.jsonl",
        "--out",
        "o",
        cwd=elsewhere,
    )
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("built 3 streams"), built.stdout
    assert not [r for r in rejects(elsewhere / "o") if r.get("stage") == "render"]
    assert min(stream_lengths(elsewhere / "o")) >= 20


def test_dialogue_rejects_share_the_clip_rejects_shape(tmp_path: Path) -> None:
    moss = tmp_path / "moss.jsonl"
    good = {
        "conversation_id": 1,
        "chat": {
            "turn_1": {"Human": "<|Human|>: hi there<eoh>", "MOSS": "<|MOSS|>: hello, how can I help?<eom>"}
        },
    }
    write_jsonl(moss, [good, "this line is not JSON", {**good, "conversation_id": 2}, {"chat": 5}])
    prepared = cli(
        "prepare", "dialogue", str(moss), "--format", "moss", "--out", str(tmp_path / "dia.jsonl.gz")
    )
    assert prepared.returncode == 0, prepared.stderr
    built = cli(
        "build",
        "--capability",
        "chat",
        "--source",
        f"dia={tmp_path / 'dia.jsonl.gz'}",
        "--streams",
        "4",
        "--out",
        str(tmp_path / "o"),
    )
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "o" / "manifest.json").is_file()
    reasons = {r["clip_id"]: r["reason"] for r in rejects(tmp_path / "o")}
    assert reasons[f"{moss}:2"] == "invalid_json" and reasons[f"{moss}:4"] == "bad_row"


def test_a_moved_audio_folder_stops_the_build_in_one_line(tmp_path: Path) -> None:
    manifest = write_jsonl(tmp_path / "m.jsonl", good_speech(tmp_path / "audio", 6))
    shutil.move(tmp_path / "audio", tmp_path / "moved")
    built = cli(*BUILD, "--streams", "3", "--source", f"lab={manifest}", "--out", str(tmp_path / "o"))
    line = one_error_line(built)
    assert "could not be used" in line and str(tmp_path / "audio") in line
    assert not (tmp_path / "o" / "manifest.json").exists()  # no corpus is claimed
    assert {r["reason"] for r in rejects(tmp_path / "o") if r.get("stage") == "render"} == {"missing_audio"}
    shutil.move(tmp_path / "moved", tmp_path / "audio")  # put back: the rerun builds every stream
    again = cli(*BUILD, "--streams", "3", "--source", f"lab={manifest}", "--out", str(tmp_path / "o"))
    assert again.returncode == 0 and again.stdout.startswith("built 3 streams"), again.stderr


def test_a_few_failed_clips_leave_out_their_streams_and_say_so(tmp_path: Path) -> None:
    rows = good_speech(tmp_path / "audio", 8)
    rows.append({**row(tmp_path / "audio" / "u0.wav", "gone"), "path": str(tmp_path / "nowhere.wav")})
    manifest = write_jsonl(tmp_path / "m.jsonl", rows)
    args = [*BUILD, "--streams", "6", "--source", f"lab={manifest}", "--out", str(tmp_path / "o")]
    built = cli(*args, "--max-failed-clips", "0.5")
    assert built.returncode == 0, built.stderr
    assert "warning:" in built.stderr and "left out" in built.stderr and "nowhere.wav" in built.stderr
    manifest_json = json.loads((tmp_path / "o" / "manifest.json").read_text())
    dropped = manifest_json["parts"][0]["dropped_streams"]
    assert dropped and manifest_json["streams"] == 6 - len(dropped)
    assert min(stream_lengths(tmp_path / "o")) >= 20  # every stream written is whole
    strict = cli(*args, "--max-failed-clips", "0")
    assert "--max-failed-clips 0" in one_error_line(strict)


def test_a_tts_server_that_is_down_fails_the_build(tmp_path: Path) -> None:
    built = cli(
        *BUILD,
        "--streams",
        "2",
        "--tts",
        "openai",
        "--engine-option",
        "url=http://127.0.0.1:9/v1",
        "--engine-option",
        "retries=0",
        "--voice",
        "alloy",
        "--out",
        str(tmp_path / "o"),
        "--cache-dir",
        str(tmp_path / "cache"),
        timeout=600,
    )
    assert "could not be used" in one_error_line(built)


@pytest.mark.parametrize("kind", ["empty", "blank", "parquet", "tsv_header_only"])
def test_an_empty_source_is_an_error_not_demo_data(tmp_path: Path, kind: str) -> None:
    if kind == "tsv_header_only":
        loc = tmp_path / "cv" / "en"
        (loc / "clips").mkdir(parents=True)
        (loc / "validated.tsv").write_text("client_id\tpath\tsentence\n")
        prepared = cli("prepare", "commonvoice", str(loc), "--out", str(tmp_path / "cv.jsonl"))
        assert "no usable clip" in one_error_line(prepared)
        return
    path = tmp_path / {"empty": "e.jsonl", "blank": "b.jsonl", "parquet": "p.parquet"}[kind]
    if kind == "parquet":
        pq.write_table(pa.table({"id": pa.array([], pa.string())}), path)
    else:
        path.write_text("" if kind == "empty" else "\n  \n\n")
    built = cli(*BUILD, "--streams", "2", "--source", f"x={path}", "--out", str(tmp_path / "o"))
    line = one_error_line(built)
    assert str(path) in line and "no usable row" in line


def test_audio_is_checked_against_what_its_row_says(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    lying = lying_rate_wav(audio / "lying.wav", rate=1)
    long = speech_wav(audio / "long.wav", 0)
    tiny = tiny_wav(audio / "tiny.wav")
    rows = [
        *good_speech(audio, 6),
        row(lying, "lying", duration=2.0),
        row(long, "long_listed_short", duration=2.0),
        row(tiny, "tiny", duration=0.5),
        row(long, "rate_claim", sample_rate=48000),
    ]
    manifest = write_jsonl(tmp_path / "m.jsonl", rows)
    built = cli(
        *BUILD,
        "--streams",
        "20",
        "--source",
        f"lab={manifest}",
        "--out",
        str(tmp_path / "o"),
        "--max-failed-clips",
        "1",
    )
    assert built.returncode == 0, built.stderr
    reasons = {r["clip_id"]: r["reason"] for r in rejects(tmp_path / "o") if r.get("stage") == "render"}
    assert reasons == {
        "lying": "bad_sample_rate",
        "long_listed_short": "length_mismatch",
        "tiny": "too_short",
        "rate_claim": "rate_mismatch",
    }
    assert max(stream_lengths(tmp_path / "o")) < 60  # the hour-long file listed as 2 s is not in it
    listed = write_jsonl(tmp_path / "list.jsonl", [{"path": str(p), "text": "x"} for p in (lying, tiny)])
    prepared = cli("prepare", "manifest", str(listed), "--out", str(tmp_path / "p.jsonl"))
    assert "no usable clip" in one_error_line(prepared)
    found = {json.loads(line)["reason"] for line in (tmp_path / "p.rejected.jsonl").read_text().splitlines()}
    assert found == {"bad_sample_rate", "too_short"}


# -- killed and interrupted workers --------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def test_a_killed_worker_stops_the_build_and_the_rerun_resumes_exactly(tmp_path: Path) -> None:
    args = [*BUILD, "--streams", "120", "--shard-streams", "4", "--seed", "5"]
    reference = tmp_path / "ref"
    assert cli(*args, "--out", str(reference)).returncode == 0
    out = tmp_path / "o"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamaudio.cli", *args, "--workers", "2", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list((out / "shards").glob("*.tar")) and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = _children(proc.pid)
    assert workers, "no worker processes"
    os.kill(workers[-1], signal.SIGKILL)  # as the OOM killer does
    killed = time.monotonic()
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - killed < 10
    line = one_error_line(subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr))
    assert "worker process died" in line and "SIGKILL" in line and ".tar" in line
    again = cli(*args, "--workers", "2", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert {p.name: p.read_bytes() for p in (out / "shards").glob("*.tar")} == {
        p.name: p.read_bytes() for p in (reference / "shards").glob("*.tar")
    }


def test_a_killed_parent_leaves_no_worker_and_no_traceback(tmp_path: Path) -> None:
    args = [
        *BUILD,
        "--streams",
        "200",
        "--shard-streams",
        "4",
        "--workers",
        "2",
        "--out",
        str(tmp_path / "o"),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamaudio.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not _children(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = _children(proc.pid)
    proc.kill()
    _, stderr = proc.communicate(timeout=30)
    time.sleep(1.0)
    assert not [w for w in workers if Path(f"/proc/{w}").exists() and "zombie" not in _state(w)]
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def test_two_builds_into_one_folder_at_once(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "streamaudio.cli", *BUILD, "--streams", "60", "--out", str(tmp_path / "o")]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / "o" / ".streamaudio" / "build.json"
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    second = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert first.wait(timeout=300) == 0
    if second.returncode == 0:  # the first had finished already: the second resumed it, all kept
        assert "already built" in second.stdout
    else:
        assert "another build is writing" in one_error_line(second)


def test_out_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    assert "is a file" in one_error_line(cli(*BUILD, "--streams", "1", "--out", str(tmp_path / "afile")))


def test_every_capability_builds_from_prepared_sources_with_their_rejects(tmp_path: Path) -> None:
    """Every adapter's output (each with rejects of its own) feeds a build of each capability it can."""
    from test_sources import make_audioset, make_musan

    cv = make_commonvoice(tmp_path / "cv", "v5", durations=False)
    covost = tmp_path / "covost_v2.en_de.tsv"
    covost.write_text(
        "path\ttranslation\tsplit\ncommon_voice_en_0.mp3\tund Herr John Dashwood hatte dann Muße\ttrain\n"
        "common_voice_en_1.mp3\ter war kein übel gesinnter junger Mann\ttrain\n"
        "common_voice_en_404.mp3\tnirgends\ttrain\n",
        encoding="utf-8",
    )
    segments, audio = make_audioset(tmp_path / "as")
    musan = make_musan(tmp_path / "musan")
    moss = write_jsonl(
        tmp_path / "moss.jsonl",
        [
            {
                "chat": {
                    "turn_1": {
                        "Human": "<|Human|>: what is a fjord?<eoh>",
                        "MOSS": "<|MOSS|>: a sea inlet.<eom>",
                    }
                }
            },
            "not JSON",
        ],
    )
    m = tmp_path / "manifests"
    for args in (
        ["commonvoice", str(cv), "--out", str(m / "cv.jsonl.gz")],
        ["covost2", str(covost), "--commonvoice", str(cv), "--out", str(m / "covost.parquet")],
        ["audioset", str(segments), "--audio-dir", str(audio), "--out", str(m / "as.jsonl")],
        ["musan", str(musan), "--out", str(m / "musan.jsonl")],
        ["dialogue", str(moss), "--format", "moss", "--out", str(m / "moss.jsonl")],
    ):
        done = cli("prepare", *args)
        assert done.returncode == 0, done.stderr
        assert "rejected 0" not in done.stdout, done.stdout  # each adapter met at least one bad input
    sources = {
        "asr": ["cv=" + str(m / "cv.jsonl.gz"), "as=" + str(m / "as.jsonl")],
        "s2tt": ["covost=" + str(m / "covost.parquet")],
        "chat": ["moss=" + str(m / "moss.jsonl")],
        "understanding": ["as=" + str(m / "as.jsonl")],
        "proactive": ["as=" + str(m / "as.jsonl")],
        "environment": ["cv=" + str(m / "cv.jsonl.gz")],
        "counting": ["as=" + str(m / "as.jsonl")],
    }
    for capability, given in sources.items():
        out = tmp_path / "o" / capability
        args = ["build", "--capability", capability, "--streams", "2", "--stream-seconds", "20:30"]
        args += [x for s in given for x in ("--source", s)] + [
            "--noise",
            str(m / "musan.jsonl"),
            "--out",
            str(out),
        ]
        built = cli(*args)
        assert built.returncode == 0, (capability, built.stderr)
        found = rejects(out)
        assert {r["stage"] for r in found} >= {"prepare"}, capability
        assert all(set(r) >= {"clip_id", "source", "reason", "detail"} for r in found)
        assert cli("validate", str(out)).returncode == 0, capability


def test_a_shard_that_kills_dask_workers_each_time_stops_the_build_with_its_name(
    installed: dict[str, str], tmp_path: Path
) -> None:
    """The example command plugin told to kill the process that speaks (as a native crash or the OOM killer
    would): the scheduler retries the shard on fresh workers, then the build stops naming it."""
    pytest.importorskip("distributed")
    args = [*BUILD, "--streams", "2", "--executor", "dask", "--workers", "2", "--tts", "command"]
    args += ["--engine-option", "command=sh -c 'kill -9 $PPID'", "--cache-dir", str(tmp_path / "cache")]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "streamaudio.cli", *args, "--out", str(tmp_path / "o")],
        env=installed,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert time.monotonic() - started < 240
    assert "asr-train-000000.tar killed Dask workers" in one_error_line(done)

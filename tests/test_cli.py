"""The command line as a user runs it: the default build, inspect, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import read_shard

from streamaudio.check.validate import check_sample


def run(*args: str, cwd: Path | None = None, columns: int = 160) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamaudio.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": str(columns)},
        timeout=300,
    )


def test_default_build_finishes_quickly_and_passes_the_contract(tmp_path: Path) -> None:
    env_cache = tmp_path / "fresh-cache"  # cold TTS cache, as on a fresh machine
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "streamaudio.cli", "build", "--capability", "asr"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "STREAMAUDIO_CACHE": str(env_cache)},
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr
    assert elapsed < 120
    assert "built 32 streams" in proc.stdout and "x real time" in proc.stdout
    out = tmp_path / "streamaudio-out" / "asr"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["streams"] == 32 and manifest["command"] == "streamaudio build --capability asr"
    n = 0
    for tar in sorted((out / "shards").glob("*.tar")):
        for key, (meta, audio, sr) in read_shard(tar).items():
            assert check_sample(meta, audio, sr) == [], key
            n += 1
    assert n == 32


def test_inspect_prints_the_timeline(demo_build: Path) -> None:
    tar = demo_build / "shards" / "asr-train-000001.tar"
    proc = run("inspect", str(tar), "--key", "asr-train-000000003", columns=80)
    assert proc.returncode == 0, proc.stderr
    meta = read_shard(tar)["asr-train-000000003"][0]
    assert "asr-train-000000003" in proc.stdout and "events" in proc.stdout and "turns" in proc.stdout
    first_speech = next(e for e in meta["events"] if e["kind"] == "speech")
    assert f"{first_speech['start_sample'] / 16000:.2f}" in proc.stdout
    assert first_speech["text"].split()[0] in proc.stdout
    # the labels wrap in whole tens of chunks that fit the terminal
    assert meta["chunk_labels"][:70] in proc.stdout and max(map(len, proc.stdout.splitlines())) <= 80
    # events in time order, gaps among the speech; a silent turn has no reply time
    starts = [float(line.split()[2]) for line in proc.stdout.split("events, in time order")[1]
              .split("turns")[0].splitlines() if line.split() and line.split()[0].isdigit()]  # fmt: skip
    assert starts == sorted(starts) and len(starts) == len(meta["events"])
    silent = [t for t in meta["turns"] if not t["respond"]]
    if silent:
        assert any(line.split()[:3] == [str(silent[0]["event"]), str(silent[0]["chunk"]), "-"]
                   for line in proc.stdout.splitlines())  # fmt: skip


def test_inspect_lists_the_streams_of_a_shard_or_a_folder_and_finds_a_key_in_a_folder(
    demo_build: Path,
) -> None:
    listing = run("inspect", str(demo_build))
    assert listing.returncode == 0, listing.stderr
    keys = [k for tar in sorted((demo_build / "shards").glob("*.tar")) for k in read_shard(tar)]
    assert all(key in listing.stdout for key in keys) and f"{len(keys)} streams" in listing.stdout
    one = run("inspect", str(demo_build), "--key", keys[-1])
    assert one.returncode == 0 and keys[-1] in one.stdout and "turns" in one.stdout


def _one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_unknown_capability(tmp_path: Path) -> None:
    _one_line_error(run("build", "--capability", "karaoke", "--out", str(tmp_path / "o")), "karaoke", "asr")


def test_unwritable_output_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    _one_line_error(run("build", "--out", str(blocker / "out")), str(blocker / "out"))


def test_missing_source_manifest(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl.gz"
    _one_line_error(
        run("build", "--source", f"cv={missing}", "--out", str(tmp_path / "o")),
        str(missing),
        "does not exist",
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"id": "a", "source": "s", "path": "a.wav"}', "missing duration"),
        ('{"id": "a", "source": "s", "duration": 1.0, "text": "x"}', "needs one of path"),
    ],
)
def test_broken_manifest_rows_are_rejects_and_the_build_goes_on(
    tmp_path: Path, line: str, problem: str
) -> None:
    import soundfile as sf

    from streamaudio.tts import EspeakEngine

    espeak = EspeakEngine()
    rows = []
    for i, text in enumerate(["The first clip is fine.", "So is the second one."]):
        sf.write(tmp_path / f"ok{i}.wav", espeak.synthesize(text, "en-us"), 16000)
        seconds = sf.info(tmp_path / f"ok{i}.wav").duration
        rows.append(
            json.dumps(
                {"id": f"ok{i}", "source": "s", "path": f"ok{i}.wav", "duration": seconds, "text": text}
            )
        )
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(rows[0] + "\n" + line + "\n" + rows[1] + "\n")
    out = tmp_path / "o"
    proc = run(
        "build",
        "--source",
        f"mine={manifest}",
        "--streams",
        "2",
        "--stream-seconds",
        "10:12",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    rejected = [json.loads(x) for x in (out / "rejected.jsonl").read_text().splitlines()]
    bad = [r for r in rejected if r["reason"] == "bad_row"]
    assert len(bad) == 1 and bad[0]["clip_id"] == f"{manifest}:2" and problem in bad[0]["detail"]
    only_bad = tmp_path / "bad.jsonl"
    only_bad.write_text(line + "\n" + line + "\n")
    _one_line_error(
        run("build", "--source", f"mine={only_bad}", "--out", str(tmp_path / "o2")),
        f"{only_bad}",
        "no usable row",
    )


def test_inspect_errors(demo_build: Path, tmp_path: Path) -> None:
    tar = demo_build / "shards" / "asr-train-000000.tar"
    _one_line_error(run("inspect", str(tar), "--key", "nope"), "nope", str(tar))
    _one_line_error(run("inspect", str(tmp_path / "x.tar"), "--key", "a"), "x.tar")


def test_bad_range(tmp_path: Path) -> None:
    proc = run("build", "--stream-seconds", "90:30", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "--stream-seconds" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--streams", "0"], "--streams"),
        (["--hours", "0"], "--hours"),
        (["--shard-streams", "0"], "--shard-streams"),
        (["--shard-mb", "0"], "--shard-mb"),
        (["--workers", "0"], "--workers"),
        (["--background-prob", "1.5"], "--background-prob"),
        (["--reply-delay-chunks", "-1"], "--reply-delay-chunks"),
        (["--seed", "-3"], "--seed"),
        (["--stream-seconds", "-5:10"], "--stream-seconds"),
        (["--gap-seconds", "2:x"], "--gap-seconds"),
    ],
)
def test_out_of_range_values_are_refused_in_one_line(tmp_path: Path, args: list[str], option: str) -> None:
    """Zero is a value, not "not given": every numeric option names itself and its range."""
    proc = run("build", *args, "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and option in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error:")
    assert not (tmp_path / "o").exists()


def test_negative_snr_and_the_version(tmp_path: Path) -> None:
    proc = run(
        "build", "--streams", "2", "--snr=-5:5", "--stream-seconds", "10:12", "--out", str(tmp_path / "o")
    )
    assert proc.returncode == 0, proc.stderr
    part = json.loads((tmp_path / "o" / "manifest.json").read_text())["parts"][0]
    assert part["config"]["snr_db"] == [-5.0, 5.0]
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("streamaudio ")


def test_every_install_hint_keeps_its_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    """Errors go through rich, which reads [...] as markup: every hint the CLI can print must survive."""
    import re

    import typer

    from streamaudio.cli.common import fail

    root = Path(__file__).resolve().parents[1] / "streamaudio"
    hints = set()
    for path in root.rglob("*.py"):
        for literal in re.findall(
            r'"([^"\n]*pip install \'streamaudio\[[a-z-]+\]\'[^"\n]*)"', path.read_text()
        ):
            hints.add(literal)
    assert len(hints) >= 6
    for hint in hints:
        with pytest.raises(typer.Exit):
            fail(hint)
        printed = capsys.readouterr().err
        extra = re.search(r"streamaudio\[[a-z-]+\]", hint).group(0)
        assert extra in printed, (hint, printed)


def test_harness_says_what_it_needs_before_any_work(tmp_path: Path, demo_build: Path) -> None:
    """Without jiwer (the [harness] extra) the command stops at once with the install line."""
    (tmp_path / "jiwer.py").write_text("raise ImportError('not installed')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "streamaudio.cli", "harness", str(demo_build), "--backend", "oracle"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        timeout=120,
    )
    assert proc.returncode == 1 and "pip install 'streamaudio[harness]'" in proc.stderr
    assert "Traceback" not in proc.stderr and "harness oracle" not in proc.stderr  # no bar: no work began


def test_a_second_build_into_the_same_folder_is_refused(tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    small = ["--streams", "2", "--stream-seconds", "10:12"]
    assert run("build", *small, "--out", out).returncode == 0
    assert "already built" in run("build", *small, "--out", out).stdout  # the same build resumes
    other = run("build", "--capability", "chat", *small, "--out", out)
    _one_line_error(other, "holds another build", "--force")
    assert sorted(p.name for p in (tmp_path / "o" / "shards").iterdir()) == ["asr-train-000000.tar"]
    forced = run("build", "--capability", "chat", *small, "--out", out, "--force")
    assert forced.returncode == 0
    assert sorted(p.name for p in (tmp_path / "o" / "shards").iterdir()) == ["chat-train-000000.tar"]
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["capabilities"] == ["chat"]


def test_tables_fit_80_columns(demo_build: Path) -> None:
    tar = demo_build / "shards" / "asr-train-000000.tar"
    for args in (
        ["inspect", str(tar), "--key", "asr-train-000000001"],
        ["harness", str(demo_build), "--backend", "oracle"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "streamaudio.cli", *args],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "80"},
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        assert "…" not in proc.stdout and max(map(len, proc.stdout.splitlines())) <= 80

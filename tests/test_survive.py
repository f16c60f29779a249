"""Scale and survive: identical bytes on any executor, SIGKILL mid-shard then rerun, disk full."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streamaudio.cli.main import app
from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.plan.spec import BuildError, single
from streamaudio.write.build import build
from streamaudio.write.output import STATE_DIR
from streamaudio.write.shards import ShardWriter

CFG = ScenarioConfig(stream_seconds=(15.0, 25.0))
# the reference build below, as a command line
REFERENCE_ARGS = [
    *("build", "--streams", "8", "--seed", "6"),
    *("--shard-streams", "2", "--stream-seconds", "15:25"),
]


def shas(out: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((out / "shards").glob("*.tar"))
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("ref") / "o"
    build(single("asr", out, streams=8, seed=6, shard_streams=2, workers=1, config=CFG))
    return shas(out)


def test_identical_on_one_worker_two_workers_and_a_dask_cluster(
    tmp_path: Path, reference: dict[str, str]
) -> None:
    from distributed import LocalCluster

    assert len(reference) == 4
    build(single("asr", tmp_path / "two", streams=8, seed=6, shard_streams=2, workers=2, config=CFG))
    build(
        single(
            "asr",
            tmp_path / "dask",
            streams=8,
            seed=6,
            shard_streams=2,
            workers=2,
            config=CFG,
            executor="dask",
        )
    )
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        build(
            single(
                "asr",
                tmp_path / "remote",
                streams=8,
                seed=6,
                shard_streams=2,
                config=CFG,
                executor="dask",
                scheduler=cluster.scheduler_address,
            )
        )
    for name in ("two", "dask", "remote"):
        assert shas(tmp_path / name) == reference, name


def test_unreachable_scheduler_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="cannot reach the Dask scheduler"):
        build(
            single(
                "asr", tmp_path / "o", streams=2, config=CFG, executor="dask", scheduler="tcp://127.0.0.1:9"
            )
        )


def test_sigkill_mid_shard_then_rerun(tmp_path: Path, reference: dict[str, str]) -> None:
    out = tmp_path / "o"
    command = [sys.executable, "-m", "streamaudio.cli", *REFERENCE_ARGS, "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    state = out / STATE_DIR
    while time.monotonic() < deadline:  # wait until one shard is done and the next is being written
        if list(state.glob("*.tar.json")) and list((out / "shards").glob(".*.partial")):
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()  # written last, so absent after a kill
    for tar in (out / "shards").glob("*.tar"):  # anything under a final name is a complete tar
        with tarfile.open(tar) as t:
            assert len(t.getnames()) == 4
    done_before = len(list(state.glob("*.tar.json")))
    assert 1 <= done_before < 4
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({done_before} already built)" in rerun.stdout
    assert shas(out) == reference
    assert not list((out / "shards").glob(".*partial"))
    assert json.loads((out / "manifest.json").read_text())["streams"] == 8


def test_disk_full_stops_with_one_line_and_a_rerun_resumes(
    tmp_path: Path, reference: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "o"
    args = [*REFERENCE_ARGS, "--out", str(out)]
    real_write = ShardWriter.write
    calls = {"n": 0}

    def filling(self: ShardWriter, *a: object) -> None:
        calls["n"] += 1
        if calls["n"] > 5:  # the disk fills up while the third shard is written
            raise OSError(errno.ENOSPC, "No space left on device", str(self.tmp))
        real_write(self, *a)

    monkeypatch.setattr(ShardWriter, "write", filling)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "No space left on device" in result.output and "Traceback" not in result.output
    assert not list((out / "shards").glob(".*partial")) and len(list((out / "shards").glob("*.tar"))) == 2
    monkeypatch.setattr(ShardWriter, "write", real_write)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "(2 already built)" in again.output
    assert shas(out) == reference


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stream_that_cannot_be_planned_stops_the_build_cleanly(
    tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planning runs ahead of rendering; an error in it still ends the build with a BuildError, and
    the shards finished before it are whole."""
    from streamaudio.plan.scenarios import AsrScenario, ScenarioError

    real_plan = AsrScenario.plan

    def plan(self: AsrScenario, index: int, key: str) -> object:
        if index == 5:
            raise ScenarioError("stream 5 cannot be planned")
        return real_plan(self, index, key)

    monkeypatch.setattr(AsrScenario, "plan", plan)
    spec = single("asr", tmp_path / "o", streams=12, seed=1, workers=workers, shard_streams=2, config=CFG)
    with pytest.raises(BuildError, match="stream 5 cannot be planned"):
        build(spec)
    shards = tmp_path / "o" / "shards"
    assert sorted(p.name for p in shards.iterdir()) == ["asr-train-000000.tar", "asr-train-000001.tar"]
    for tar in shards.iterdir():
        with tarfile.open(tar) as t:
            assert len(t.getnames()) == 4

"""Ctrl-C (and SIGTERM) at many moments of a build, with 1 or 2 workers and with Dask, as a terminal sends
it: to the whole process group. Never a traceback, never exit 0, nothing half written left behind, and the
rerun gives exactly the shards of a build that was never interrupted."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BUILD = ["build", "--capability", "asr", "--streams", "80", "--shard-streams", "2", "--seed", "3"]
BUILD += ["--stream-seconds", "20:40"]
MOMENTS = {  # seconds after the build has started (its output folder is claimed)
    ("1", "local"): [0.0, 0.04, 0.12, 0.25, 0.42, 0.62],
    ("2", "local"): [0.0, 0.05, 0.12, 0.25, 0.4],
    ("2", "dask"): [0.0, 0.8, 2.2],
}


def command(out: Path, workers: str, executor: str) -> list[str]:
    return [sys.executable, "-m", "streamaudio", *BUILD, "--workers", workers, "--executor", executor]


def shards(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((out / "shards").iterdir())}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("reference") / "o"
    done = subprocess.run([*command(out, "1", "local"), "--out", str(out)], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return shards(out)


def interrupt_at(out: Path, workers: str, executor: str, delay: float, signum: int) -> tuple[int, str, str]:
    """Start a build, wait until it has claimed its folder, wait ``delay`` more, signal its process group."""
    proc = subprocess.Popen(
        [*command(out, workers, executor), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, which the signal goes to, as from a terminal
    )
    claimed = out / ".streamaudio" / "build.json"
    deadline = time.monotonic() + 60
    while not claimed.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    sent = time.monotonic()
    if proc.poll() is None:
        os.killpg(proc.pid, signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 10, "the build did not stop soon after the signal"
    return proc.returncode, stdout, stderr


@pytest.mark.parametrize(("workers", "executor"), list(MOMENTS))
def test_interrupts_stop_cleanly_and_resume_exactly(
    tmp_path: Path, reference: dict[str, str], workers: str, executor: str
) -> None:
    interrupted = 0
    moments = [(d, signal.SIGINT) for d in MOMENTS[(workers, executor)]]
    if executor == "local":  # SIGTERM to the group kills the workers too: the build must still stop as asked
        moments += [(d, signal.SIGTERM) for d in ((0.0, 0.1, 0.2, 0.3) if workers == "2" else (0.2,))]
    for k, (delay, signum) in enumerate(moments):
        out = tmp_path / f"o{k}"
        code, stdout, stderr = interrupt_at(out, workers, executor, delay, signum)
        assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
        if stdout.startswith("built "):  # the build had finished before the signal came (or as it exited)
            assert shards(out) == reference
            continue
        interrupted += 1
        assert code == 128 + signum, (code, stderr)
        assert "interrupted" in stderr
        assert not list((out / "shards").glob(".*")), "a half-written shard was left behind"
        rerun = subprocess.run(
            [*command(out, workers, executor), "--out", str(out)], capture_output=True, text=True, timeout=300
        )
        assert rerun.returncode == 0, rerun.stderr
        assert shards(out) == reference  # exactly the uninterrupted build's bytes
    assert interrupted >= len(moments) - 1  # (9 + 8 + 4 at least: over 20 moments in all)

"""The reference harness: the protocol loop, the metrics, and the oracle and VAD backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streamaudio.protocol import CHUNK_SAMPLES
from streamaudio.use.harness.backends import HarnessError, OracleBackend, VadBackend, make_backend
from streamaudio.use.harness.loop import ChunkFifo, Emission, Reply, run_stream
from streamaudio.use.harness.metrics import match, score
from streamaudio.use.harness.run import fdb_output, run_harness


class EveryChunk:
    """A backend that wants to speak after every chunk (and records what it was fed)."""

    name = "eager"

    def start(self, meta: dict) -> None:
        self.seen: list[int] = []

    def step(self, chunk: np.ndarray, index: int) -> Reply | None:
        assert chunk.shape == (CHUNK_SAMPLES,)
        self.seen.append(index)
        return Reply(f"chunk {index}")


def test_fifo_hands_out_whole_chunks_and_drops_the_partial_tail() -> None:
    fifo = ChunkFifo()
    got = []
    for piece in np.array_split(np.arange(3 * CHUNK_SAMPLES + 777, dtype=np.float32), 17):
        fifo.push(piece)
        got.extend(fifo.chunks())
    assert len(got) == 3 and all(c.size == CHUNK_SAMPLES for c in got)
    assert np.array_equal(np.concatenate(got), np.arange(3 * CHUNK_SAMPLES, dtype=np.float32))


def test_loop_gives_at_most_one_reply_per_chunk() -> None:
    backend = EveryChunk()
    emitted = run_stream(np.zeros(5 * CHUNK_SAMPLES + 100, np.float32), {"turns": []}, backend, arrival=999)
    assert backend.seen == [0, 1, 2, 3, 4]
    assert [e.chunk for e in emitted] == [0, 1, 2, 3, 4]


def test_matching_and_metrics_by_hand() -> None:
    assert match([3, 10], [4, 9, 11], 1) == {0: 0, 1: 1}
    assert match([3, 10], [5], 1) == {}
    meta = {
        "capability": "asr",
        "events": [{"kind": "speech", "end_sample": 2 * CHUNK_SAMPLES, "text": "a b c"},
                   {"kind": "sound", "end_sample": 5 * CHUNK_SAMPLES},
                   {"kind": "speech", "end_sample": 8 * CHUNK_SAMPLES, "text": "d e f"}],
        "turns": [{"event": 0, "chunk": 2, "respond": True, "text": "a b c"},
                  {"event": 1, "chunk": 5, "respond": False},
                  {"event": 2, "chunk": 8, "respond": True, "text": "d e f"}],
    }  # fmt: skip
    emissions = [Emission(3, "a b x", "normal"), Emission(5, "", "normal")]
    m = score([(meta, emissions)])["asr"]
    assert m["exact"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert m["within_1_chunk"]["precision"] == 0.5 and m["within_1_chunk"]["recall"] == 0.5
    assert m["takeover_rate"] == 1.0  # it spoke on the sound that needed no reply
    assert m["latency_ms"]["median"] == pytest.approx(
        800.0
    )  # reply after chunk 3 ends; speech ended at 0.8 s
    assert m["wer"] == pytest.approx(1 / 3, abs=1e-3)


def test_oracle_is_perfect_and_vad_is_a_baseline(demo_build: Path, tmp_path: Path) -> None:
    oracle = run_harness([demo_build], OracleBackend(), fdb_out=tmp_path / "fdb")
    overall = oracle.metrics["overall"]
    assert oracle.streams == 8
    assert (
        overall["exact"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0} and overall["takeover_rate"] == 0.0
    )
    assert oracle.metrics["asr"]["wer"] == 0.0
    assert 0 < overall["latency_ms"]["median"] <= 440
    out = json.loads((tmp_path / "fdb" / "asr-train-000000000" / "output.json").read_text())
    assert (
        out["chunks"]
        and out["chunks"][0]["timestamp"][0] > 0
        and out["text"].split()[0] == out["chunks"][0]["text"]
    )
    vad = run_harness([demo_build], VadBackend())
    vad_overall = vad.metrics["overall"]
    assert vad_overall["within_1_chunk"]["recall"] > 0.3  # it hears where speech ends …
    assert vad_overall["exact"]["f1"] < 0.8 and vad_overall["within_1_chunk"]["precision"] < 1.0  # … no more
    assert "wer" not in vad.metrics["asr"]  # it has no text


def test_fdb_output_places_words_after_their_chunk() -> None:
    out = fdb_output([Emission(4, "hello there", "normal")], [])
    assert out == {
        "text": "hello there",
        "chunks": [{"text": "hello", "timestamp": [2.0, 2.3]}, {"text": "there", "timestamp": [2.3, 2.6]}],
        "turns": [],
    }


def test_cli(demo_build: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamaudio.cli",
            "harness",
            str(demo_build),
            "--backend",
            "oracle",
            "--report",
            str(tmp_path / "r.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    overall = next(line for line in proc.stdout.splitlines() if line.strip().startswith("overall"))
    assert overall.split()[3:5] == ["1.00", "1.00"]  # F1 exact, F1 within one chunk
    assert json.loads((tmp_path / "r.json").read_text())["metrics"]["overall"]["exact"]["f1"] == 1.0
    with pytest.raises(HarnessError):
        make_backend("telepathy")

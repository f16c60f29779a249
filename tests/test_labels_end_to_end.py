"""Labels checked from the shards alone, with the rule written out here rather than taken from streamaudio:
a reply to a turn whose trigger ends at sample ``e`` lands on chunk ``ceil(e / 640) // 10 + delay``."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import soundfile as sf


def shard_samples(out: Path) -> list[tuple[dict, int, int]]:
    """(meta, number of samples, sample rate) of every stream, read with tarfile and soundfile only."""
    found = []
    for tar_path in sorted((out / "shards").glob("*.tar")):
        members: dict[str, dict[str, bytes]] = {}
        with tarfile.open(tar_path) as tar:
            for m in tar:
                key, _, ext = m.name.partition(".")
                members.setdefault(key, {})[ext] = tar.extractfile(m).read()
        for parts in members.values():
            info = sf.info(io.BytesIO(parts["flac"]))
            found.append((json.loads(parts["json"]), info.frames, info.samplerate))
    return found


@pytest.mark.parametrize("delay", [0, 1])
def test_every_label_follows_the_rule(tmp_path: Path, delay: int) -> None:
    out = tmp_path / "asr"
    build = ["build", "--capability", "asr", "--streams", "4", "--stream-seconds", "20:40", "--seed", "9"]
    build += ["--reply-delay-chunks", str(delay)]
    proc = subprocess.run(
        [sys.executable, "-m", "streamaudio.cli", *build, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    samples = shard_samples(out)
    assert len(samples) == 4
    for meta, frames, rate in samples:
        assert rate == 16000 and frames == meta["num_chunks"] * 6400 == len(meta["chunk_labels"]) * 6400
        assert meta["reply_delay_chunks"] == delay
        expected = ["S"] * meta["num_chunks"]
        for turn in meta["turns"]:
            end = meta["events"][turn["event"]]["end_sample"]
            chunk = math.ceil(end / 640) // 10 + delay
            assert turn["chunk"] == chunk, (meta["id"], turn)
            if turn["respond"]:
                assert expected[chunk] == "S"  # at most one reply per chunk
                expected[chunk] = "B"
        assert meta["chunk_labels"] == "".join(expected)
        assert "B" in expected and "S" in expected

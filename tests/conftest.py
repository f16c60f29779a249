from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import CAPABILITIES


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test session synthesizes into its own TTS cache."""
    os.environ["STREAMAUDIO_CACHE"] = str(tmp_path_factory.mktemp("cache"))


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


@pytest.fixture(scope="session")
def corpus_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Demo builds made once per session and shared: ``corpus_factory("asr", streams=6, …)`` gives the
    folder of that build (copy it before damaging it)."""
    from streamaudio.plan.scenarios import ScenarioConfig
    from streamaudio.plan.spec import single
    from streamaudio.write.build import build

    made: dict[tuple, Path] = {}

    def make(
        capability: str = "asr",
        streams: int = 6,
        seed: int = 2,
        shard_streams: int = 64,
        stream_seconds: tuple[float, float] = (20.0, 30.0),
    ) -> Path:
        key = (capability, streams, seed, shard_streams, stream_seconds)
        if key not in made:
            out = tmp_path_factory.mktemp("corpus") / capability
            config = ScenarioConfig(stream_seconds=stream_seconds)
            build(
                single(
                    capability, out, streams=streams, seed=seed, shard_streams=shard_streams, config=config
                )
            )
            made[key] = out
        return made[key]

    return make

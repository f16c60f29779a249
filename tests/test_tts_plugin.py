"""A TTS engine from another package, found through the ``streamaudio.tts`` entry-point group: the
example plugin in tests/plugins is installed with pip (into a folder on the path) and used by name."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs the espeak-ng program")


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamaudio", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_a_plugin_engine_synthesizes_and_builds(installed: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "speech" / "speech.jsonl"
    result = run(
        installed, "synthesize", "demo-dialogues", "--prompts", "chat", "--engine", "command",
        "--workers", "2", "--cache-dir", str(tmp_path / "cache"), "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "rejected: none" in result.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and {r["tts"]["engine"] for r in rows} == {"command"}
    assert {r["tts"]["voice"] for r in rows} == {"en-us", "en-gb"}  # the plugin's default voices
    assert all(150 <= r["tts"]["prosody"]["rate"] <= 190 for r in rows)  # its prosody range, drawn
    info = sf.info(str(out.parent / rows[0]["path"]))
    assert (info.samplerate, info.channels) == (16000, 1)
    build = run(
        installed, "build", "--capability", "chat", "--source", f"speech={out}", "--streams", "2",
        "--out", str(tmp_path / "chat"), "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    # without the plugin on the path, the name is unknown: one line that lists what is known
    env = {k: v for k, v in installed.items() if k != "PYTHONPATH"}
    missing = run(
        env, "synthesize", "demo-dialogues", "--engine", "command", "--out", str(tmp_path / "x.jsonl")
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "error: unknown TTS engine 'command'; known: espeak-ng, openai, piper"
    ]

"""The model tests again on transformers 4.57.6, the version the released Audio-Interaction code pins
(tests/references.sh installs it beside the environment's current transformers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PIN = Path(sys.prefix) / "transformers-4.57"
HERE = Path(__file__).parent
# the tests that hold transformers' modules to the references (the rest read no model code, or repeat these)
MODEL_TESTS = [
    str(HERE / "test_audio_interaction.py") + "::test_logits_equal_litgpt_with_the_released_rotary_positions",
    str(HERE / "test_audio_interaction.py") + "::test_chunk_features_are_what_the_released_server_encodes",
    str(HERE / "test_audio_interaction.py") + "::test_legacy_interleaved_qkv_checkpoints_load_the_same",
    str(HERE / "test_harness_sessions.py") + "::test_offline_session_is_streaming_generate",
    str(HERE / "test_export.py") + "::test_features_equal_the_released_feature_step",
]


@pytest.mark.skipif(not PIN.is_dir(), reason="tests/references.sh has not installed transformers 4.57.6")
def test_model_tests_pass_on_the_released_transformers_pin() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PIN), os.environ.get("PYTHONPATH", "")])}
    version = subprocess.run(
        [sys.executable, "-c", "import transformers; print(transformers.__version__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == "4.57.6"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *MODEL_TESTS],
        env=env,
        cwd=HERE.parent,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout.splitlines()[-1]

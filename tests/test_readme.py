"""Every Python example in README.md runs as written, against the demo build where it names ``OUT``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from ai_checkpoint import tokenizer

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_there_are_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_python_example_runs(number: int, demo_build: Path, tmp_path: Path) -> None:
    tokenizer().save(str(tmp_path / "tokenizer.json"))  # the released vocabulary's special ids
    code = BLOCKS[number].replace('"OUT/', f'"{demo_build}/')
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

"""Every command's --help, rendered at 80 columns as a user sees it: plain metavars, no Python types in
angle brackets, no braces, no reStructuredText backquotes, no line past 80 columns."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from streamaudio.cli.main import app


def commands() -> Iterator[list[str]]:
    def walk(command: Any, path: list[str]) -> Iterator[list[str]]:  # typer carries its own click
        yield path
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                if not sub.hidden:
                    yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


COMMANDS = list(commands())


def test_there_are_commands_to_check() -> None:
    assert len(COMMANDS) > 15 and ["harness"] in COMMANDS and ["export", "upstream"] in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "streamaudio")
def test_help_reads_as_prose_at_80_columns(path: list[str]) -> None:
    result = CliRunner().invoke(
        app, [*path, "--help"], env={"COLUMNS": "80", "NO_COLOR": "1"}, terminal_width=80
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Usage:" in text
    types = re.findall(r"<(?:bool|int|float|str|text|path|Path|list\[)[^>]*>|<[\w-]+\|[^>]*>", text)
    assert not types, f"{' '.join(path)} --help shows Python types {types}:\n{text}"
    for bad in ("{", "``", "x>=", "x<="):
        assert bad not in text, f"{' '.join(path)} --help shows {bad!r}:\n{text}"
    assert max(len(line) for line in text.splitlines()) <= 80

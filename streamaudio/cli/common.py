"""What the command modules share: one-line errors on stderr."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True)


def error_line(message: str) -> int:
    """Print ``error: message`` on one line (the message is not read as markup); returns the exit code, 1."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return 1


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on one line and exit 1."""
    raise typer.Exit(error_line(message))

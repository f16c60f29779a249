"""The ``streamaudio`` Typer application that every command module registers on."""

from __future__ import annotations

from typing import Annotated

import typer

from streamaudio import __version__
from streamaudio.cli.help_format import plain_help
from streamaudio.errors import StreamAudioError
from streamaudio.plan.scenarios import SCENARIOS

plain_help()
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Build, inspect and check StreamAudio-2M-style streaming audio corpora.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"streamaudio {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", metavar="", help="Print the version and exit.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
    """Build, inspect and check StreamAudio-2M-style streaming audio corpora."""


CAPABILITIES = ", ".join(SCENARIOS)


KNOWN_ERRORS = (StreamAudioError,)

"""The ``streamaudio`` command: the command modules registered on one app, and the entry point that
prints every error as one line."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from streamaudio.cli import build, check, harness, use  # noqa: F401 -- registers their commands, in order
from streamaudio.cli.app import app
from streamaudio.cli.cache import cache_app
from streamaudio.cli.common import err, error_line
from streamaudio.cli.export import export_app
from streamaudio.cli.prepare import app as prepare_app
from streamaudio.cli.synthesize import synthesize_cmd
from streamaudio.errors import StreamAudioError

app.command("synthesize")(synthesize_cmd)
app.add_typer(prepare_app, name="prepare")
app.add_typer(export_app, name="export")
app.add_typer(cache_app, name="cache")


def main() -> None:
    """The console entry point: usage errors (a value out of range, a missing argument) print as one
    ``error:`` line like every other error, instead of a box."""
    try:  # typer from 0.2x carries its own click
        from typer._click import exceptions as cli_errors
    except ImportError:
        from click import exceptions as cli_errors

    command = typer.main.get_command(app)
    try:
        code = command.main(prog_name="streamaudio", standalone_mode=False)
    except cli_errors.NoArgsIsHelpError:  # typer has printed the help already
        code = 0
    except cli_errors.UsageError as exc:
        where = f" (see {exc.ctx.command_path} --help)" if exc.ctx else ""
        err.print(
            f"[bold red]error:[/] {escape(exc.format_message())}{where}", highlight=False, soft_wrap=True
        )
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted")
        code = 130
    except BrokenPipeError:  # the reader of our output went away (| head): nothing more to say
        code = 1
    except StreamAudioError as exc:  # what a command did not catch itself: still one line
        code = error_line(str(exc))
    except OSError as exc:  # a file the command could not read or write (unwritable, a folder, disk full)
        code = error_line(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    sys.exit(code or 0)


if __name__ == "__main__":
    main()

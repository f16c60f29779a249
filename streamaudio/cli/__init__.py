"""The ``streamaudio`` command: one module per command group over the library."""

from streamaudio.cli.main import app, main

__all__ = ["app", "main"]

"""The one error base: every error streamaudio raises on purpose derives from it; the CLI catches it."""

from __future__ import annotations


class StreamAudioError(Exception):
    """A problem with an input, an option or the machine, said in one line naming the file and the problem."""

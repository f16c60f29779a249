"""The ``streamaudio`` command (and ``python -m streamaudio``): a Ctrl-C while it starts up exits quietly."""

from __future__ import annotations

import signal
import sys
from types import FrameType


def _quiet(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write("interrupted\n")
    sys.exit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGINT, _quiet)  # the imports take a second; no traceback for a Ctrl-C in them
    signal.signal(signal.SIGTERM, _quiet)
    from streamaudio.cli.main import main as run

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    run()


if __name__ == "__main__":
    main()

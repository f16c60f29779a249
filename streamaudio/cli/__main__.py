"""``python -m streamaudio.cli``: the same as the ``streamaudio`` command."""

from streamaudio.__main__ import main

main()

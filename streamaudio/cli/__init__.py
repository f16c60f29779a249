"""The ``streamaudio`` command: one module per command group over the library."""

"""streamaudio: StreamAudio-2M-style training corpora for streaming audio language models."""

__version__ = "0.1.0"

"""The harness's error and the install lines of what its parts need."""

from __future__ import annotations

from streamaudio.errors import StreamAudioError

NEEDS_MODEL = "the audio-interaction backend needs: pip install 'streamaudio[audio-interaction]'"
NEEDS_SCORERS = "harness scores need: pip install 'streamaudio[harness]' (jiwer for WER, sacrebleu for BLEU)"


class HarnessError(StreamAudioError):
    """A backend that cannot run here (a missing checkpoint or package); one line saying why."""

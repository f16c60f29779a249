"""A streamaudio TTS engine that runs a command-line synthesizer which reads text on stdin and writes a
WAV on stdout (espeak-ng by default; a lab's CosyVoice or voice-cloning script plugs in the same way)."""

from __future__ import annotations

import io
import shlex
import subprocess
from typing import ClassVar

import numpy as np
import soundfile as sf

from streamaudio.tts import TTSError, Utterance


class CommandEngine:
    name = "command"
    voices = ("en-us", "en-gb")  # used when --voice is not given
    prosody: ClassVar[dict[str, tuple[float, float]]] = {"rate": (150.0, 190.0)}  # drawn per utterance

    def __init__(self, command: str = "espeak-ng --stdout -v {voice} -s {rate:.0f}", timeout: float = 30):
        self.command = command
        self.timeout = float(timeout)
        self.version = f"command 1/{command}"  # part of every clip's key: another command, other clips

    def speak(self, utterance: Utterance) -> tuple[np.ndarray, int]:
        values = {"rate": 175.0, **utterance.prosody}
        argv = shlex.split(self.command.format(voice=utterance.voice, speaker=utterance.speaker, **values))
        text = utterance.text.encode()
        try:
            done = subprocess.run(argv, input=text, capture_output=True, timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TTSError(f"{argv[0]}: {exc}") from None
        if done.returncode != 0:
            raise TTSError(f"{argv[0]} exited {done.returncode}: {done.stderr.decode()[:200].strip()}")
        audio, rate = sf.read(io.BytesIO(done.stdout), dtype="float32")
        return audio, rate

    def voice_for_language(self, language: str) -> str:
        return language.lower()

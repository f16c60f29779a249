"""Any server that speaks the OpenAI speech API (``POST /v1/audio/speech``): the common face of CosyVoice,
Kokoro, Fish and other TTS servers. Requests are retried on connection errors, timeouts, 429 and 5xx,
with backoff; whatever format comes back is decoded by libsndfile and resampled by the stage."""

from __future__ import annotations

import io
import os
import time
from typing import ClassVar

import numpy as np
import requests
import soundfile as sf

from streamaudio.tts.base import TTSError, Utterance

RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class OpenAIEngine:
    """Voices are the server's voice names; ``speed`` is the one prosody parameter the API has."""

    name = "openai"
    voices = ("alloy",)
    prosody: ClassVar[dict[str, tuple[float, float]]] = {}
    prosody_names: ClassVar[tuple[str, ...]] = ("speed",)
    concurrent = True  # the stage sends this many requests at once from threads, not processes

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        model: str = "tts-1",
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        retries: int = 3,
        response_format: str = "flac",
    ) -> None:
        self.url = url.rstrip("/") + ("" if url.rstrip("/").endswith("/audio/speech") else "/v1/audio/speech")
        self.model = model
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.response_format = response_format
        self.version = f"openai-speech/{model}/{response_format}"  # the server's model names the output
        self.headers = {"Authorization": f"Bearer {key}"} if (key := os.environ.get(api_key_env)) else {}
        self.session = requests.Session()

    def speak(self, utterance: Utterance) -> tuple[np.ndarray, int]:
        body = {
            "model": self.model,
            "input": utterance.text,
            "voice": utterance.voice,
            "response_format": self.response_format,
        }
        if "speed" in utterance.prosody:
            body["speed"] = utterance.prosody["speed"]
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(8.0, 0.25 * 2 ** (attempt - 1)))
            try:
                reply = self.session.post(self.url, json=body, headers=self.headers, timeout=self.timeout)
            except requests.Timeout:
                problem = f"no answer within {self.timeout:g} s"
                continue
            except requests.ConnectionError as exc:
                problem = f"cannot connect to {self.url} ({type(exc).__name__})"
                continue
            if reply.status_code in RETRY_STATUS:
                problem = f"HTTP {reply.status_code} from {self.url}"
                continue
            if reply.status_code != 200:
                raise TTSError(f"HTTP {reply.status_code} from {self.url}: {reply.text[:120].strip()}")
            try:
                audio, rate = sf.read(io.BytesIO(reply.content), dtype="float32")
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise TTSError(f"{self.url} answered audio that cannot be decoded ({exc})") from None
            return audio, int(rate)
        raise TTSError(f"{problem}, after {self.retries + 1} tries")

    def voice_for_language(self, language: str) -> str:
        return self.voices[0]

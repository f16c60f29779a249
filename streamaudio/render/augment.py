"""Augmentations applied to a clip before stitching: room reverb, telephone band, low-pass and gain.

Parameters are drawn when a stream is planned (from its seeded generator) and applied with
audiomentations at fixed values when it is rendered, so the same plan always sounds the same and
each event's JSON records what was done to it. Install with ``pip install 'streamaudio[augment]'``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamaudio.errors import StreamAudioError
from streamaudio.protocol import SAMPLE_RATE

DEFAULT_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "reverb": {
        "room_x": (3.0, 8.0),
        "room_y": (3.0, 8.0),
        "room_z": (2.4, 3.2),
        "absorption": (0.1, 0.5),
        "mic_distance": (0.5, 3.0),
    },
    "telephone": {"low_hz": (300.0, 300.0), "high_hz": (3400.0, 3400.0)},
    "gain": {"gain_db": (-6.0, 6.0)},
    "lowpass": {"cutoff_hz": (2000.0, 6000.0)},
}


class AugmentError(StreamAudioError):
    """An augmentation that cannot run here; one line saying why."""


@dataclass(frozen=True)
class AugmentSpec:
    """One link of a recipe's chain: apply ``name`` with probability ``p``, parameters drawn from ranges."""

    name: str
    p: float = 1.0
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def from_recipe(cls, entry: dict[str, Any]) -> AugmentSpec:
        name = entry["name"]
        ranges = {k: (float(v[0]), float(v[1])) for k, v in entry.items() if k in DEFAULT_RANGES[name]}
        return cls(name, float(entry.get("p", 1.0)), ranges)


def draw(
    chain: tuple[AugmentSpec, ...], rng: np.random.Generator
) -> tuple[tuple[str, dict[str, float]], ...]:
    """The augmentations one clip gets, with their parameters, drawn from the chain."""
    chosen = []
    for spec in chain:
        if rng.random() >= spec.p:
            continue
        ranges = {**DEFAULT_RANGES[spec.name], **spec.ranges}
        chosen.append(
            (spec.name, {k: round(float(rng.uniform(lo, hi)), 4) for k, (lo, hi) in ranges.items()})
        )
    return tuple(chosen)


def require() -> None:
    """Fail early, in one line, when the augment extra is missing."""
    try:
        import audiomentations  # noqa: F401
    except ImportError:
        raise AugmentError("the recipe asks for augmentation: pip install 'streamaudio[augment]'") from None


def apply(audio: np.ndarray, name: str, params: dict[str, float]) -> np.ndarray:
    """Apply one augmentation at fixed parameters (everything but gain, which the stitcher applies)."""
    import audiomentations as am

    if name == "reverb":
        x, y = params["room_x"], params["room_y"]
        transform = am.RoomSimulator(
            min_size_x=x, max_size_x=x, min_size_y=y, max_size_y=y,
            min_size_z=params["room_z"], max_size_z=params["room_z"],
            calculation_mode="absorption",
            min_absorption_value=params["absorption"], max_absorption_value=params["absorption"],
            min_source_x=x / 3, max_source_x=x / 3, min_source_y=y / 3, max_source_y=y / 3,
            min_source_z=1.6, max_source_z=1.6,
            min_mic_distance=params["mic_distance"], max_mic_distance=params["mic_distance"],
            min_mic_azimuth=0.5, max_mic_azimuth=0.5, min_mic_elevation=0.0, max_mic_elevation=0.0,
            use_ray_tracing=False, max_order=8, leave_length_unchanged=True, p=1.0,
        )  # fmt: skip
    elif name == "telephone":
        low, high = params["low_hz"], params["high_hz"]
        center = (low + high) / 2
        transform = am.BandPassFilter(
            min_center_freq=center,
            max_center_freq=center,
            min_bandwidth_fraction=(high - low) / center,
            max_bandwidth_fraction=(high - low) / center,
            min_rolloff=24,
            max_rolloff=24,
            p=1.0,
        )
    elif name == "lowpass":
        cutoff = params["cutoff_hz"]
        transform = am.LowPassFilter(
            min_cutoff_freq=cutoff, max_cutoff_freq=cutoff, min_rolloff=12, max_rolloff=12, p=1.0
        )
    else:
        raise ValueError(f"{name} is not applied to the clip")
    return np.asarray(transform(samples=audio.astype(np.float32), sample_rate=SAMPLE_RATE), dtype=np.float32)

"""Built-in sound events made from numbers, for demo streams where no sound corpus is given.

Each is a recognisable imitation of an AudioSet class (an alarm's T3 beeps, a siren's sweep, a
two-tone doorbell, knocks, a phone's ring, breaking glass, a cough, a baby's cry, a dog's bark,
piano notes, typing, rain, traffic); real corpora come in through ``streamaudio prepare``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from streamaudio.protocol import SAMPLE_RATE

SR = SAMPLE_RATE


def _t(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * SR)) / SR


def _env(n: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / SR
    return np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)


def _place(out: np.ndarray, piece: np.ndarray, at: float) -> None:
    i = int(at * SR)
    j = min(out.size, i + piece.size)
    if i < out.size:
        out[i:j] += piece[: j - i]


def _lowpass(x: np.ndarray, hz: float) -> np.ndarray:
    spec = np.fft.rfft(x)
    spec[np.fft.rfftfreq(x.size, 1 / SR) > hz] = 0
    return np.fft.irfft(spec, x.size)


def alarm(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Smoke-alarm T3 pattern: three 0.5 s beeps near 3.1 kHz, then a pause."""
    out = np.zeros(int(seconds * SR))
    hz = 3100 * rng.uniform(0.97, 1.03)
    beep = np.sin(2 * np.pi * hz * _t(0.5)) * _env(int(0.5 * SR), 0.005, 5.0)
    at = 0.1
    while at < seconds:
        for k in range(3):
            _place(out, beep, at + k * 1.0)
        at += 4.5
    return out


def siren(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A wailing siren sweeping between about 650 and 1500 Hz."""
    t = _t(seconds)
    rate = rng.uniform(0.2, 0.35)
    freq = 1075 + 425 * np.sin(2 * np.pi * rate * t)
    phase = 2 * np.pi * np.cumsum(freq) / SR
    return np.sin(phase) + 0.3 * np.sin(2 * phase)


def doorbell(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Ding-dong: two decaying bell tones a major third apart."""
    out = np.zeros(int(seconds * SR))
    base = 660 * rng.uniform(0.9, 1.1)
    for k, hz in enumerate((base, base / 1.26)):
        n = int(1.2 * SR)
        tone = sum(a * np.sin(2 * np.pi * hz * m * _t(1.2)) for m, a in ((1, 1.0), (2.76, 0.4), (5.4, 0.2)))
        _place(out, tone * _env(n, 0.002, 0.5), 0.1 + 0.6 * k)
    return out


def knock(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Knuckles on a wooden door: short low thuds in a group of three or four."""
    out = np.zeros(int(seconds * SR))
    for k in range(int(rng.integers(3, 5))):
        n = int(0.08 * SR)
        thud = _lowpass(rng.standard_normal(n), 900) * _env(n, 0.001, 0.015)
        thud += 0.5 * np.sin(2 * np.pi * rng.uniform(140, 200) * _t(0.08)) * _env(n, 0.001, 0.02)
        _place(out, thud, 0.1 + 0.22 * k + rng.uniform(0, 0.03))
    return out


def phone(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A telephone bell: 440 + 480 Hz with fast tremolo, 2 s on, 4 s off."""
    t = _t(seconds)
    tone = np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t)
    tremolo = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * 20 * t))
    gate = ((t + rng.uniform(0, 0.2)) % 6.0) < 2.0
    return tone * tremolo * gate


def glass(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Breaking glass: a bright crash, then scattered high tinkles."""
    out = np.zeros(int(seconds * SR))
    n = int(0.4 * SR)
    crash = (rng.standard_normal(n) - _lowpass(rng.standard_normal(n), 2500)) * _env(n, 0.001, 0.08)
    _place(out, crash, 0.05)
    for _ in range(int(rng.integers(12, 25))):
        hz, m = rng.uniform(3000, 7000), int(0.12 * SR)
        _place(out, 0.4 * np.sin(2 * np.pi * hz * _t(0.12)) * _env(m, 0.001, 0.03), rng.uniform(0.1, 1.2))
    return out


def cough(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Two or three coughs: voiced noise bursts with a fast attack."""
    out = np.zeros(int(seconds * SR))
    at = 0.1
    for _ in range(int(rng.integers(2, 4))):
        n = int(0.3 * SR)
        pitch = rng.uniform(110, 180)
        voiced = np.sign(np.sin(2 * np.pi * pitch * _t(0.3))) * 0.3
        burst = _lowpass(rng.standard_normal(n) + voiced, 3000) * _env(n, 0.005, 0.07)
        _place(out, burst, at)
        at += rng.uniform(0.35, 0.55)
    return out


def baby_cry(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """An infant's cry: 'waah' bursts around 450 Hz with vibrato and strong harmonics."""
    out = np.zeros(int(seconds * SR))
    at = 0.05
    while at < seconds - 0.3:
        dur = rng.uniform(0.6, 1.1)
        t = _t(dur)
        f0 = (
            rng.uniform(400, 520)
            * (1 + 0.04 * np.sin(2 * np.pi * 6 * t))
            * (1 + 0.15 * np.sin(np.pi * t / dur))
        )
        phase = 2 * np.pi * np.cumsum(f0) / SR
        voice = sum(np.sin(k * phase) / k for k in range(1, 8))
        _place(out, voice * np.sin(np.pi * t / dur) ** 0.5, at)
        at += dur + rng.uniform(0.2, 0.5)
    return out


def bark(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A dog barking: short harsh harmonic bursts with falling pitch."""
    out = np.zeros(int(seconds * SR))
    at = 0.1
    while at < seconds - 0.2:
        n = int(0.18 * SR)
        t = _t(0.18)
        f0 = rng.uniform(350, 550) * (1 - 0.4 * t / 0.18)
        phase = 2 * np.pi * np.cumsum(f0) / SR
        woof = (sum(np.sin(k * phase) / k for k in range(1, 10)) + 0.3 * rng.standard_normal(n)) * _env(
            n, 0.005, 0.06
        )
        _place(out, woof, at)
        at += rng.uniform(0.3, 0.8)
    return out


def piano(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Piano notes of a simple melody: struck harmonic tones with a long decay."""
    out = np.zeros(int(seconds * SR))
    scale = 261.63 * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12]) / 12)
    at = 0.05
    while at < seconds - 0.2:
        hz = scale[int(rng.integers(len(scale)))]
        n = int(1.5 * SR)
        note = sum(np.sin(2 * np.pi * hz * k * _t(1.5)) * 0.6**k for k in range(1, 7))
        _place(out, note * _env(n, 0.003, 0.45), at)
        at += rng.choice([0.25, 0.5])
    return out


def typing(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Typing on a keyboard: irregular short clicks."""
    out = np.zeros(int(seconds * SR))
    at = 0.05
    while at < seconds - 0.05:
        n = int(0.025 * SR)
        click = (rng.standard_normal(n) - _lowpass(rng.standard_normal(n), 1500)) * _env(n, 0.0005, 0.004)
        _place(out, click * rng.uniform(0.5, 1.0), at)
        at += rng.exponential(0.12) + 0.04
    return out


def rain(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Rain: a soft noise bed with many small droplets."""
    n = int(seconds * SR)
    out = 0.3 * _lowpass(rng.standard_normal(n), 5000)
    for at in rng.uniform(0, seconds, int(seconds * 60)):
        m = int(0.01 * SR)
        _place(out, rng.standard_normal(m) * _env(m, 0.0005, 0.002) * rng.uniform(0.3, 1.5), at)
    return out


def traffic(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Road traffic: low rumble swelling as vehicles pass."""
    n = int(seconds * SR)
    t = _t(seconds)
    rumble = _lowpass(rng.standard_normal(n), 400)
    swell = 0.4 + 0.6 * np.sin(np.pi * (t / seconds * rng.uniform(1, 3) + rng.uniform())) ** 2
    return rumble * swell


# kind → (generator, AudioSet mids it imitates, typical seconds)
SOUNDS: dict[str, tuple[Callable[[np.random.Generator, float], np.ndarray], tuple[str, ...], float]] = {
    "smoke-alarm": (alarm, ("/m/01y3hg", "/m/07pp_mv"), 4.5),
    "siren": (siren, ("/m/03kmc9",), 5.0),
    "doorbell": (doorbell, ("/m/03wwcy", "/m/07r67yg"), 2.2),
    "knock": (knock, ("/m/07r4wb8",), 1.2),
    "phone-ring": (phone, ("/m/07pp8cl",), 4.0),
    "glass-breaking": (glass, ("/m/07rn7sz", "/m/039jq"), 1.5),
    "cough": (cough, ("/m/01b_21",), 1.6),
    "baby-cry": (baby_cry, ("/t/dd00002",), 4.0),
    "dog-bark": (bark, ("/m/05tny_", "/m/0bt9lr"), 2.5),
    "piano": (piano, ("/m/05r5c", "/m/04rlf"), 4.0),
    "typing": (typing, ("/m/0316dw", "/m/01m2v"), 3.0),
    "rain": (rain, ("/m/06mb1",), 5.0),
    "traffic": (traffic, ("/m/0btp2",), 5.0),
}


def generate(kind: str, seconds: float, seed: int) -> np.ndarray:
    """One built-in sound at unit peak, float32."""
    make = SOUNDS[kind][0]
    x = make(np.random.default_rng(seed), seconds)
    return (x / (np.max(np.abs(x)) + 1e-9)).astype(np.float32)

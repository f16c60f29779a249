"""Common Voice preparation speed: rows/s with clip_durations.tsv, and files/s probing audio headers.

    python benchmarks/bench_prepare.py [--rows 50000] [--workers 2]

A Common Voice v17-layout locale folder is made with --rows clips: each a file of its own (a copy of
one of 40 real 48 kHz MP3s of espeak-ng speech, so every probe opens another file), 1% of them
truncated (these make mpg123 print "Xing stream size off" warnings, which are counted, not shown).
Before each timed pass the clips are written back and dropped from the page cache
(``posix_fadvise(DONTNEED)``), so probing reads from the disk as a first run over a corpus does.
``--no-probe`` with clip_durations.tsv opens no audio (rows/s); the default probes every header
(files/s). Targets: >= 20 000 rows/s and >= 5 000 files/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import soundfile as sf
import soxr

from streamaudio.prepare.demo import DEMO_VOICES, sentences
from streamaudio.prepare.sources import commonvoice, run_prepare
from streamaudio.tts import EspeakEngine

HEADER = [
    "client_id",
    "path",
    "sentence_id",
    "sentence",
    "sentence_domain",
    "up_votes",
    "down_votes",
    "age",
    "gender",
    "accents",
    "variant",
    "locale",
    "segment",
]


def make_locale(root: Path, rows: int) -> Path:
    loc = root / "en"
    clips = loc / "clips"
    clips.mkdir(parents=True)
    engine = EspeakEngine()
    said = sentences()
    originals = []
    for i in range(40):
        audio = engine.synthesize(said[i], DEMO_VOICES[i % len(DEMO_VOICES)])
        path = root / f"orig{i}.mp3"
        sf.write(path, soxr.resample(audio, 16000, 48000), 48000, format="MP3")
        originals.append((path, said[i], sf.info(path).duration))
    broken = root / "broken.mp3"
    broken.write_bytes(originals[0][0].read_bytes()[: originals[0][0].stat().st_size // 2])
    lines, durations = ["\t".join(HEADER)], ["clip\tduration[ms]"]
    for n in range(rows):
        src, text, seconds = originals[n % len(originals)]
        name = f"common_voice_en_{n}.mp3"
        shutil.copyfile(broken if n % 100 == 99 else src, clips / name)
        values = {
            "client_id": f"c{n % 997}",
            "path": name,
            "sentence": text,
            "locale": "en",
            "up_votes": "2",
            "down_votes": "0",
        }
        lines.append("\t".join(values.get(h, "") for h in HEADER))
        durations.append(f"{name}\t{int(seconds * 1000)}")
    (loc / "validated.tsv").write_text("\n".join(lines) + "\n")
    (loc / "clip_durations.tsv").write_text("\n".join(durations) + "\n")
    return loc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        loc = make_locale(root, args.rows)
        cold(loc / "clips")
        started = time.perf_counter()
        report = run_prepare(commonvoice.scan(loc, probe=False), root / "with-durations.jsonl.gz")
        rate = report.read / (time.perf_counter() - started)
        print(f"--no-probe with clip_durations.tsv: {rate:,.0f} rows/s  ({report.summary()})")
        cold(loc / "clips")
        started = time.perf_counter()
        report = run_prepare(commonvoice.scan(loc), root / "probed.jsonl.gz", workers=args.workers)
        rate = report.read / (time.perf_counter() - started)
        print(f"probing every header, {args.workers} workers: {rate:,.0f} files/s  ({report.summary()})")


def cold(folder: Path) -> None:
    """Write the files back and drop them from the page cache."""
    os.sync()
    for path in folder.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


if __name__ == "__main__":
    main()

"""StreamAudio-2M scale: a 10 000 000-row clip manifest, 2 600 000 planned streams, 1 000 rendered.

    python benchmarks/bench_scale.py [--rows 10000000] [--streams 2600000] [--render 1000] [--files 3000]
                                     [--steps abcde]

The manifest is synthetic but shaped like the real mixture: 60% speech rows (Common Voice-like: text,
speaker; one in nine with a German translation) and 40% sound rows (AudioSet-like labels),
pointing at ``--files`` real WAV files (espeak-ng sentences and the built-in sound events) written before
timing starts. Each step runs in a fresh process that reports its own peak resident memory (and its
workers' largest); the targets are those of the StreamAudio-2M issue:

(a) manifest -> columnar pool (once; kept under the output's state folder): parent < 1 GB; with the pool
    there, the first stream is planned < 15 s after start;
(b) ``build --pipeline pipelines/streamaudio-2m.yaml --streams 2600000 --plan-only --workers 2``:
    < 15 minutes on 2 cores, peak < 2 GB;
(c) the same recipe, ``--streams 1000 --workers 2``, rendered: each worker adds < 200 MB (its unique set
    size, sampled: the pages it shares with the parent are the parent's);
(d) builds from the manifest into new folders, the pool in the shared cache (``--cache-dir``): the first
    makes the pool, a later one into another folder starts rendering < 15 s after start, peak < 600 MB;
(e) ``synthesize`` of the 325 demo sentences with Piper: 2 local processes against a local 2-worker Dask
    cluster, each into an empty clip store (the same audio bytes either way: tests/test_synthesize.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import soundfile as sf

from streamaudio.prepare.demo import sentences, sound_clips
from streamaudio.render.sounds import generate
from streamaudio.tts import EspeakEngine

ROOT = Path(__file__).resolve().parent.parent


def make_files(
    folder: Path, n: int
) -> tuple[list[tuple[str, str, float]], list[tuple[str, list[str], float]]]:
    """n/2 spoken sentences (path, text, seconds) and n/2 sound events (path, labels, seconds) as 16 kHz
    WAV files: each row of the manifest says what its file holds (a build checks it)."""
    folder.mkdir(parents=True, exist_ok=True)
    engine, said = EspeakEngine(), sentences()
    speech, sounds = [], []
    for i in range(n // 2):
        path, text = folder / f"s{i}.wav", said[i % len(said)]
        audio = engine.synthesize(text, "en-us")
        sf.write(path, audio, 16000)
        speech.append((str(path), text, round(audio.size / 16000, 3)))
    kinds = sound_clips()
    for i in range(n - n // 2):
        clip = kinds[i % len(kinds)]
        path = folder / f"e{i}.wav"
        audio = generate(clip.generator["sound"], clip.duration, 7000 + i)
        sf.write(path, audio, 16000)
        sounds.append((str(path), list(clip.labels), round(audio.size / 16000, 3)))
    return speech, sounds


def write_manifest(
    path: Path, rows: int, speech: list[tuple[str, str, float]], sounds: list[tuple[str, list[str], float]]
) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(rows):
            if i % 5 < 3:
                file, text, seconds = speech[i % len(speech)]
                row = {"id": f"cv{i}", "source": "cv", "duration": seconds, "path": file,
                       "sample_rate": 16000, "channels": 1, "text": text, "language": "en",
                       "speaker": f"client{i % 200_003}"}  # fmt: skip
                if i % 9 == 0:
                    row |= {"translation": f"Übersetzung {i}", "target_language": "de"}
            else:
                file, labels, seconds = sounds[i % len(sounds)]
                row = {"id": f"as{i}", "source": "audioset", "duration": seconds, "path": file,
                       "sample_rate": 16000, "channels": 1, "labels": labels}  # fmt: skip
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


CHILD = """
import json, resource, sys, time
started = time.perf_counter()
from pathlib import Path
from streamaudio.write.output import STATE_DIR
from streamaudio.plan.spec import BuildSpec, Part
from streamaudio.plan.pools import ManifestCache, load_pools
from streamaudio.plan.shard_jobs import plan_part
manifest, out = Path(sys.argv[1]), Path(sys.argv[2])
spec = BuildSpec(out, (Part("asr", streams=1, sources=(("cv", manifest),)),))
pools, _ = load_pools(spec.parts[0], ManifestCache(out / STATE_DIR))
ready = time.perf_counter() - started
next(iter(plan_part(spec, spec.parts[0], pools)))
first = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
anon, file = (int(status[k].split()[0]) / 1024 for k in ("RssAnon", "RssFile"))
found = {"pool_s": ready, "first_stream_s": first, "rss_mb": peak, "anon_mb": anon, "file_mb": file}
print(json.dumps(found))
"""


def run(args: list[str]) -> tuple[float, str, float]:
    """Wall seconds, stdout, and the largest resident set of the process or any of its workers (MB), as
    GNU time reports it."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *args], capture_output=True, text=True, check=True)
    rss = int(done.stderr.strip().splitlines()[-1]) / 1024
    return time.perf_counter() - started, done.stdout, rss


def run_sampled(args: list[str]) -> tuple[float, str, float, float]:
    """Wall seconds, stdout, the parent's peak resident set and the largest peak of what one worker adds
    (its unique set: pages no other process shares), sampled every 0.2 s (MB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    parent, peaks = psutil.Process(proc.pid), {"parent": 0.0, "worker": 0.0}

    def sample() -> None:
        while proc.poll() is None:
            try:
                peaks["parent"] = max(peaks["parent"], parent.memory_info().rss / 2**20)
                for child in parent.children(recursive=True):
                    peaks["worker"] = max(peaks["worker"], child.memory_full_info().uss / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode})")
    return time.perf_counter() - started, stdout, peaks["parent"], peaks["worker"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--streams", type=int, default=2_600_000)
    parser.add_argument("--render", type=int, default=1000)
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--steps", default="abcde", help="which of (a)-(e) to run, e.g. 'de'")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        speech, sounds = make_files(root / "audio", args.files)
        manifest = root / "clips.jsonl"
        started = time.perf_counter()
        write_manifest(manifest, args.rows, speech, sounds)
        size = manifest.stat().st_size / 1e9
        print(
            f"manifest: {args.rows:,} rows, {size:.2f} GB, written in {time.perf_counter() - started:.0f} s"
        )
        if "a" in args.steps:
            pool_steps(manifest, root / "out")
        if "b" in args.steps or "c" in args.steps:
            mixture_steps(manifest, root, args)
        if "d" in args.steps:
            new_folders(root, manifest)
        if "e" in args.steps:
            synthesis(root)


def pool_steps(manifest: Path, out: Path) -> None:
    """(a): the manifest made into a pool, then read again with the pool there."""
    code = [sys.executable, "-c", CHILD, str(manifest), str(out)]
    _, stdout, _ = run(code)
    made = json.loads(stdout)
    print(
        f"(a) manifest -> pool: {made['pool_s']:.1f} s, peak {made['rss_mb']:.0f} MB (target < 1 GB); "
        f"at the end {made['anon_mb']:.0f} MB heap + {made['file_mb']:.0f} MB file-backed "
        "(libraries, the pool)"
    )
    _, stdout, _ = run(code)
    again = json.loads(stdout)
    print(
        f"    pool there: first stream planned {again['first_stream_s']:.1f} s after start "
        f"(target < 15 s), peak {again['rss_mb']:.0f} MB; at the end {again['anon_mb']:.0f} MB heap + "
        f"{again['file_mb']:.0f} MB file-backed"
    )


def mixture_steps(manifest: Path, root: Path, args: argparse.Namespace) -> None:
    """(b) and (c): the streamaudio-2m recipe planned at full size, then a part of it rendered."""
    recipe = str(ROOT / "pipelines/streamaudio-2m.yaml")
    build = [sys.executable, "-m", "streamaudio", "build", "--pipeline", recipe,
             "--cache-dir", str(root / "cache"), "--source", f"cv={manifest}", "--out", str(root / "out"),
             "--workers", "2"]  # fmt: skip
    if "b" in args.steps:
        wall, stdout, rss = run([*build, "--streams", str(args.streams), "--plan-only"])
        planned = next(line for line in stdout.splitlines() if " streams, " in line and "planned in" in line)
        print(
            f"(b) --plan-only {args.streams:,} streams: {wall / 60:.1f} min, peak {rss:.0f} MB "
            "(targets < 15 min, < 2 GB)"
        )
        print(f"    {planned.strip()}")
    if "c" in args.steps:
        wall, stdout, parent, worker = run_sampled([*build, "--streams", str(args.render)])
        print(
            f"(c) render {args.render:,} streams, 2 workers: {wall:.0f} s; parent peak {parent:.0f} MB, "
            f"a worker adds at most {worker:.0f} MB (target < 200 MB)"
        )
        print(f"    {next(line for line in stdout.splitlines() if line.startswith('built '))}")


def new_folders(root: Path, manifest: Path) -> None:
    """(d): two builds into new folders from one manifest, a fresh shared cache: the first pays the pool."""
    cache = root / "shared-cache"
    for label, folder in (("first", "new-a"), ("later", "new-b")):
        args = [sys.executable, "-m", "streamaudio", "build", "--capability", "asr",
                "--source", f"cv={manifest}", "--streams", "20", "--cache-dir", str(cache),
                "--out", str(root / folder)]  # fmt: skip
        wall, _, rss = run(args)
        print(f"(d) build into a new folder, {label}: {wall:.1f} s in all, peak {rss:.0f} MB")


def synthesis(root: Path) -> None:
    """(e): Piper on 2 local processes against a local 2-worker Dask cluster, each from an empty store."""
    for label, extra in (("2 processes", []), ("Dask, 2 workers", ["--executor", "dask"])):
        tag = label.split()[0].strip(",")
        args = [sys.executable, "-m", "streamaudio", "synthesize", "demo-sentences", "--engine", "piper",
                "--workers", "2", "--cache-dir", str(root / f"tts-{tag}" / "store"),
                "--out", str(root / f"tts-{tag}" / "speech.jsonl"), *extra]  # fmt: skip
        wall, stdout, _ = run(args)
        said = next(line for line in stdout.splitlines() if line.startswith("synthesize:"))
        print(f"(e) synthesize, {label}: {wall:.0f} s in all; {said}")


if __name__ == "__main__":
    main()

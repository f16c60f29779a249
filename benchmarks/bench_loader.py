"""Loader throughput: decoded audio seconds per wall second, streamaudio's StreamDataset against Lhotse's
Shar reader on the same FLAC bytes, with 1 and 2 DataLoader workers.

    pip install lhotse          # the peer (not a streamaudio dependency)
    python benchmarks/bench_loader.py [--streams 48] [--repeat 5]

Both read FLAC from tar shards through a torch DataLoader (batch_size=None), each worker taking its
own shards; Lhotse's side is CutSet.from_shar(...) with cut.load_audio(). Lhotse's Shar writer encodes
the streams anew (libsndfile at its defaults); our shards are then rewritten with exactly those FLAC
members, so both decode the same bytes. Each figure is the median of ``--repeat`` runs, the two tools
taking turns to go first. The figures it prints are the ones the README quotes.

For scale, the same FLAC members are decoded in a bare loop in this process (no loader, no DataLoader,
no JSON), once with soundfile.read (libsndfile, as Lhotse decodes) and once with streamaudio's
decode_flac (libFLAC called directly when the system has it). Targets: one worker >= 0.8x the bare
libsndfile loop and >= 1.3x Lhotse Shar.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import soundfile as sf
import torch
from torch.utils.data import DataLoader, IterableDataset

from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.plan.spec import single
from streamaudio.render.flac_decoder import DECODER, decode_flac
from streamaudio.use.loader import StreamDataset
from streamaudio.use.reader import iter_samples
from streamaudio.write.build import build
from streamaudio.write.shards import ShardWriter, commit_shard, sample_record


class SharAudio(IterableDataset):
    """Lhotse Shar shards split across DataLoader workers; yields decoded audio."""

    def __init__(self, shar_dir: Path) -> None:
        self.cuts = sorted(shar_dir.glob("cuts.*.jsonl.gz"))
        self.recordings = sorted(shar_dir.glob("recording.*.tar"))

    def __iter__(self):
        from lhotse import CutSet

        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        fields = {
            "cuts": [str(p) for p in self.cuts[worker::workers]],
            "recording": [str(p) for p in self.recordings[worker::workers]],
        }
        for cut in CutSet.from_shar(fields=fields):
            yield torch.from_numpy(cut.load_audio()[0])


def to_shar(corpus: Path, shar_dir: Path, shard_size: int) -> None:
    """The same streams as Lhotse cuts with in-memory FLAC recordings, exported as Shar."""
    from lhotse import CutSet, Recording

    cuts = []
    for tar in sorted((corpus / "shards").glob("*.tar")):
        for sample in iter_samples(tar):
            recording = Recording.from_bytes(sample.flac, recording_id=sample.key)
            cuts.append(recording.to_cut())
    shar_dir.mkdir(parents=True, exist_ok=True)
    CutSet.from_cuts(cuts).to_shar(shar_dir, fields={"recording": "flac"}, shard_size=shard_size)


def bare_rate(corpus: Path, decode: Callable[[bytes], object]) -> float:
    """Decoded audio seconds per wall second of a plain loop over the shards' FLAC members in this
    process: no loader, no DataLoader, no JSON."""
    flacs = [s.flac for tar in sorted((corpus / "shards").glob("*.tar")) for s in iter_samples(tar)]
    started = time.perf_counter()
    samples = sum(len(decode(data)[0]) for data in flacs)
    return samples / 16000 / (time.perf_counter() - started)


def rate(dataset: IterableDataset, workers: int) -> float:
    loader = DataLoader(dataset, batch_size=None, num_workers=workers)
    started = time.perf_counter()
    seconds = sum(
        audio.shape[-1] / 16000 for audio in (x["audio"] if isinstance(x, dict) else x for x in loader)
    )
    return seconds / (time.perf_counter() - started)


def same_bytes(corpus: Path, shar_dir: Path, out: Path) -> Path:
    """Our shards with their FLAC members replaced by the ones Lhotse's Shar writer made."""
    flacs: dict[str, bytes] = {}
    for tar in sorted(shar_dir.glob("recording.*.tar")):
        with tarfile.open(tar) as t:
            for member in t.getmembers():
                if member.name.endswith(".flac"):
                    flacs[member.name.removesuffix(".flac")] = t.extractfile(member).read()
    (out / "shards").mkdir(parents=True)
    for tar in sorted((corpus / "shards").glob("*.tar")):
        writer = ShardWriter(out / "shards" / tar.name)
        for sample in iter_samples(tar):
            writer.write(sample_record(sample.key, flacs[sample.key], sample.meta))
        writer.close()
        commit_shard(out / "shards" / tar.name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "asr"
        build(
            single(
                "asr",
                corpus,
                streams=args.streams,
                seed=1,
                shard_streams=8,
                config=ScenarioConfig(stream_seconds=(50, 70)),
            )
        )
        shar = Path(tmp) / "shar"
        to_shar(corpus, shar, shard_size=8)
        ours_dir = same_bytes(corpus, shar, Path(tmp) / "same")
        bare = {
            "libsndfile": lambda data: sf.read(io.BytesIO(data), dtype="float32"),
            "ours": decode_flac,
        }
        bares = {
            name: statistics.median(bare_rate(ours_dir, decode) for _ in range(args.repeat))
            for name, decode in bare.items()
        }
        print(
            f"bare decode of the same FLAC bytes, one process, no loader: soundfile.read (libsndfile) "
            f"{bares['libsndfile']:,.0f}x, streamaudio's decode_flac ({DECODER}) {bares['ours']:,.0f}x"
        )
        print(
            f"{'workers':>8}{'streamaudio':>14}{'lhotse shar':>14}{'ratio':>8}{'/ bare libsndfile':>19}"
            f"{'/ bare ours':>13}   (median of {args.repeat})"
        )
        for workers in (1, 2):
            ours, peer = [], []
            for i in range(args.repeat):
                first, second = ("ours", "peer") if i % 2 == 0 else ("peer", "ours")
                for who in (first, second):
                    if who == "ours":
                        ours.append(rate(StreamDataset(ours_dir, shuffle=0, tensors="torch"), workers))
                    else:
                        peer.append(rate(SharAudio(shar), workers))
            a, b = statistics.median(ours), statistics.median(peer)
            print(
                f"{workers:>8}{a:>13,.0f}x{b:>13,.0f}x{a / b:>7.2f}x{a / bares['libsndfile']:>18.2f}x"
                f"{a / bares['ours']:>12.2f}x"
            )


if __name__ == "__main__":
    main()

"""Stream shards into training: a WebDataset-backed iterable dataset, crops, collation and resumption.

``StreamDataset`` reads local paths, globs, brace patterns or ``pipe:`` URLs (through webdataset's
``gopen``). Each epoch, the shard list is shuffled with a seed of (seed, epoch), split across ranks
(``RANK``/``WORLD_SIZE``) and DataLoader workers, so no sample is seen twice in an epoch; samples
pass through a seeded shuffle buffer. With ``resampled=True`` shards are drawn with replacement
forever. Items are dicts of numpy arrays, or torch tensors when torch is installed (``tensors=``).

Resuming: the order of an epoch is a pure function of (seed, epoch, rank, worker), so a position is
just how many samples each worker has handed out. ``StreamDataset.state_dict`` covers in-process
iteration; ``StreamLoader`` (a torch DataLoader) counts batches and knows that DataLoader takes
them from its workers in turn, so it can resume with workers too.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streamaudio.protocol import CHUNK_SAMPLES, IGNORE_INDEX, LABEL_REPLY, PAD, SAMPLE_RATE
from streamaudio.render.flac_decoder import decode_flac
from streamaudio.render.sample_json import StreamJSON
from streamaudio.use.reader import ReadError, Sample, iter_stream
from streamaudio.use.tokens import Encode, check_tokenizer, encode_text, layout, load_tokenizer

try:  # torch is optional: without it the same pipeline yields numpy arrays
    import torch
    from torch.utils.data import IterableDataset as _Base
except ImportError:  # pragma: no cover - exercised in environments without torch
    torch = None
    _Base = object


def expand_urls(urls: str | Path | list[str | Path]) -> list[str]:
    """Shard URLs from paths, globs, brace patterns (``a-{000..009}.tar``) and ``pipe:`` commands."""
    import webdataset as wds

    items = [urls] if isinstance(urls, (str, Path)) else list(urls)
    out: list[str] = []
    for item in items:
        text = str(item)
        if Path(text).is_dir():
            out += sorted(glob.glob(os.path.join(text, "shards", "*.tar"))) or sorted(
                glob.glob(f"{text}/*.tar")
            )
            continue
        for url in wds.shardlists.expand_urls(text):
            matches = sorted(glob.glob(url)) if any(c in url for c in "*?[") and ":" not in url[:6] else [url]
            out += matches
    if not out:
        raise ValueError(f"no shards in {urls!r}")
    return out


def _open(url: str) -> Any:
    import webdataset as wds

    return wds.gopen(url, "rb")


def rank_and_world() -> tuple[int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def _worker() -> tuple[int, int]:
    if torch is None:
        return 0, 1
    info = torch.utils.data.get_worker_info()
    return (info.id, info.num_workers) if info else (0, 1)


def crop(
    meta: StreamJSON, audio: np.ndarray, max_chunks: int, rng: np.random.Generator
) -> tuple[dict[str, Any], np.ndarray]:
    """At most ``max_chunks`` chunks starting at a turn boundary (the chunk after a reply chunk, or 0),
    with audio, labels, turns and events cut and shifted to match."""
    n = meta["num_chunks"]
    if n <= max_chunks:
        return meta, audio
    starts = sorted({0, *(t["chunk"] + 1 for t in meta["turns"] if t["chunk"] + 1 <= n - max_chunks)})
    start = starts[int(rng.integers(len(starts)))]
    end = start + max_chunks
    a, b = start * CHUNK_SAMPLES, end * CHUNK_SAMPLES
    events, index = [], {}
    for i, ev in enumerate(meta["events"]):
        if ev["end_sample"] > a and ev["start_sample"] < b:
            index[i] = len(events)
            events.append(
                {
                    **ev,
                    "start_sample": max(ev["start_sample"], a) - a,
                    "end_sample": min(ev["end_sample"], b) - a,
                }
            )
    turns = [
        {**t, "event": index[t["event"]], "chunk": t["chunk"] - start}
        for t in meta["turns"]
        if start <= t["chunk"] < end and t["event"] in index
    ]
    cropped = {
        **meta,
        "num_chunks": max_chunks,
        "chunk_labels": meta["chunk_labels"][start:end],
        "events": events,
        "turns": turns,
        "crop": {"start_chunk": start, "of_chunks": n},
    }
    return cropped, audio[a:b]


@dataclass
class StreamDataset(_Base):
    """Streams from WebDataset shards, as dicts ready for a training step (see the module docstring)."""

    urls: str | Path | list[str | Path]
    tokenizer: Any = None  # a tokenizers.Tokenizer, a tokenizer.json path, or an encode function
    shuffle: int = 1000  # sample shuffle buffer size; 0 keeps shard order
    seed: int = 0
    resampled: bool = False
    decode: str = "float32"  # or "int16"
    max_chunks: int | None = None  # random crops at turn boundaries
    tensors: str = "torch" if torch is not None else "numpy"
    epoch: int = 0
    _skip: dict[int, int] = field(default_factory=dict, repr=False)
    _seen: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.max_chunks is not None and self.max_chunks < 1:
            raise ValueError(f"max_chunks must be at least 1, got {self.max_chunks}")
        if self.decode not in ("float32", "int16"):
            raise ValueError(f"decode must be 'float32' or 'int16', got {self.decode!r}")
        self.shards = expand_urls(self.urls)
        self.encode = _encoder(self.tokenizer)
        if self.tensors == "torch" and torch is None:
            raise ImportError("tensors='torch' needs torch; use tensors='numpy'")

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` (its shard and sample order follow from seed and epoch)."""
        self.epoch = epoch
        self._skip, self._seen = {}, {}

    # -- resumption ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Position of in-process iteration: the epoch and the samples handed out."""
        return {"epoch": self.epoch, "seen": dict(self._seen)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self._skip = {int(k): int(v) for k, v in state["seen"].items()}
        self._seen = dict(self._skip)

    # -- iteration ---------------------------------------------------------------------------
    def _my_shards(self, worker: int, workers: int, rng: np.random.Generator) -> Iterator[str]:
        rank, world = rank_and_world()
        slot, slots = rank * workers + worker, world * workers
        if self.resampled:
            while True:
                yield self.shards[int(rng.integers(len(self.shards)))]
        order = list(self.shards)
        if self.shuffle:
            order = [order[i] for i in np.random.default_rng([self.seed, self.epoch]).permutation(len(order))]
        yield from order[slot::slots]

    def _samples(self) -> Iterator[tuple[int, str, Sample]]:
        worker, workers = _worker()
        rank, _ = rank_and_world()
        rng = np.random.default_rng([self.seed, self.epoch, rank, worker])
        buffer: list[tuple[str, Sample]] = []
        for url in self._my_shards(worker, workers, rng):
            with _open(url) as stream:
                for sample in iter_stream(stream, url):
                    if not self.shuffle:
                        yield worker, url, sample
                        continue
                    buffer.append((url, sample))
                    if len(buffer) >= self.shuffle:
                        yield worker, *buffer.pop(int(rng.integers(len(buffer))))
        while buffer:
            yield worker, *buffer.pop(int(rng.integers(len(buffer))))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        crop_rng: dict[int, np.random.Generator] = {}
        for worker, url, sample in self._samples():
            if self._skip.get(worker, 0) > 0:  # resuming: already handed out before the stop
                self._skip[worker] -= 1
                continue
            self._seen[worker] = self._seen.get(worker, 0) + 1
            rng = crop_rng.setdefault(worker, np.random.default_rng([self.seed, self.epoch, worker, 0xC0]))
            try:
                yield self.item(sample, rng)
            except (ValueError, RuntimeError, KeyError, TypeError) as exc:  # libsndfile's errors included
                raise ReadError(f"{url}: {sample.key}: {exc}") from None

    def item(self, sample: Sample, rng: np.random.Generator | None = None) -> dict[str, Any]:
        """One sample as a training item."""
        audio, sr = decode_flac(sample.flac, self.decode)
        meta = sample.meta
        _check_audio(audio, sr, meta)
        if self.max_chunks:
            meta, audio = crop(meta, audio, self.max_chunks, rng or np.random.default_rng(self.seed))
        labels = np.frombuffer(meta["chunk_labels"].encode(), dtype=np.uint8) == ord(LABEL_REPLY)
        item: dict[str, Any] = {
            "key": sample.key,
            "audio": audio,
            "chunk_labels": labels.astype(np.int64),
            "turns": meta["turns"],
            "meta": meta,
        }
        if self.encode is not None:
            tok = layout(meta, self.encode)
            item["input_ids"] = np.asarray(tok.input_ids, dtype=np.int64)
            item["labels"] = np.asarray(tok.labels, dtype=np.int64)
            item["audio_pos"] = np.asarray(tok.audio_pos, dtype=np.int64)
        return _to_tensors(item) if self.tensors == "torch" else item


def _check_audio(audio: np.ndarray, sr: int, meta: StreamJSON) -> None:
    """Raise ValueError unless the audio is what the protocol and the stream's JSON say it is."""
    if sr != SAMPLE_RATE or audio.ndim != 1:
        channels = 1 if audio.ndim == 1 else audio.shape[1]
        raise ValueError(f"audio is {sr} Hz with {channels} channels, not {SAMPLE_RATE} Hz mono")
    if audio.size != int(meta["num_chunks"]) * CHUNK_SAMPLES:
        raise ValueError(f"{audio.size} samples, its JSON says {meta['num_chunks']} chunks")


def _encoder(tokenizer: Any) -> Encode | None:
    """An encode function; a tokenizer or a tokenizer.json path must hold the protocol's special ids."""
    if tokenizer is None or callable(tokenizer):
        return tokenizer
    if isinstance(tokenizer, (str, Path)):
        return encode_text(load_tokenizer(Path(tokenizer)))
    check_tokenizer(tokenizer, Path("<tokenizer>"))
    return encode_text(tokenizer)


ARRAYS = ("audio", "chunk_labels", "input_ids", "labels", "audio_pos")


def _to_tensors(item: dict[str, Any]) -> dict[str, Any]:
    return {k: torch.from_numpy(np.ascontiguousarray(v)) if k in ARRAYS else v for k, v in item.items()}


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Pad a batch to its longest stream: audio (0), chunk labels (-1), input ids (PAD), labels (-100),
    with masks; audio positions are padded with -1."""
    numpy = not (torch is not None and isinstance(items[0]["audio"], torch.Tensor))

    def stack(key: str, fill: int | float) -> tuple[Any, Any]:
        arrays = [np.asarray(i[key]) for i in items]
        longest = max(a.shape[0] for a in arrays)
        out = np.full((len(arrays), longest, *arrays[0].shape[1:]), fill, dtype=arrays[0].dtype)
        mask = np.zeros((len(arrays), longest), dtype=bool)
        for n, a in enumerate(arrays):
            out[n, : a.shape[0]] = a
            mask[n, : a.shape[0]] = True
        return (out, mask) if numpy else (torch.from_numpy(out), torch.from_numpy(mask))

    batch: dict[str, Any] = {
        "key": [i["key"] for i in items],
        "turns": [i["turns"] for i in items],
        "meta": [i["meta"] for i in items],
    }
    batch["audio"], batch["audio_mask"] = stack("audio", 0)
    batch["chunk_labels"], batch["chunk_mask"] = stack("chunk_labels", -1)
    if "input_ids" in items[0]:
        batch["input_ids"], batch["attention_mask"] = stack("input_ids", PAD)
        batch["labels"], _ = stack("labels", IGNORE_INDEX)
        batch["audio_pos"], _ = stack("audio_pos", -1)
    return batch


class StreamLoader:
    """A torch DataLoader over a StreamDataset that can stop mid-epoch and resume without repeats.

    DataLoader hands out batches from its workers in turn (worker 0, 1, …), so after ``b`` batches
    worker ``w`` has produced ``b // W + (w < b % W)`` of them; a restart skips that many samples per
    worker. Batches must be full until the epoch ends (the last one may be short).
    """

    def __init__(
        self,
        dataset: StreamDataset,
        batch_size: int,
        num_workers: int = 0,
        collate_fn: Callable[[list[dict[str, Any]]], Any] = collate,
        **options: Any,
    ) -> None:
        if torch is None:
            raise ImportError("StreamLoader needs torch; iterate StreamDataset directly without it")
        self.dataset = dataset
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.batches = 0
        self._options = {"collate_fn": collate_fn, **options}

    def __iter__(self) -> Iterator[Any]:
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_size=self.batch_size, num_workers=self.num_workers, **self._options
        )
        for batch in loader:
            self.batches += 1
            yield batch
        self.dataset.set_epoch(self.dataset.epoch + 1)
        self.batches = 0

    def state_dict(self) -> dict[str, Any]:
        workers = max(1, self.num_workers)
        seen = {
            w: (self.batches // workers + (w < self.batches % workers)) * self.batch_size
            for w in range(workers)
        }
        return {"epoch": self.dataset.epoch, "seen": seen, "batches": self.batches}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.dataset.load_state_dict(state)
        self.batches = int(state.get("batches", 0))

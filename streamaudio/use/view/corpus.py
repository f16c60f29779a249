"""A corpus as the viewer reads it: every shard indexed, each stream's JSON and audio read by offset
from its tar, the last ``validate`` report's faults by stream, and the ``stats`` figures."""

from __future__ import annotations

import io
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from streamaudio.check.corpus import KEPT_REPORT
from streamaudio.errors import StreamAudioError
from streamaudio.protocol import CHUNK_SECONDS, SAMPLE_RATE
from streamaudio.render.flac_decoder import decode_flac
from streamaudio.render.sample_json import StreamJSON
from streamaudio.use.reader import shard_paths
from streamaudio.use.stats import corpus_stats
from streamaudio.use.view.shard_index import ShardIndex, StreamEntry, index_shard
from streamaudio.write.output import STATE_DIR

PEAKS_PER_SECOND = 100  # waveform resolution: the minimum and maximum of each 10 ms


WAVS_KEPT = 4  # decoded streams kept for the player


class StreamError(StreamAudioError):
    """A stream that cannot be shown; one line naming it and the problem."""


class Corpus:
    def __init__(self, out: Path, report: Path | None = None) -> None:
        self.out = out
        self.state_dir = out / STATE_DIR
        self.shards: list[ShardIndex] = [index_shard(p, self.state_dir) for p in shard_paths([out])]
        self.streams: list[StreamEntry] = [s for shard in self.shards for s in shard.streams]
        self.by_key: dict[str, StreamEntry] = {}
        self._position: dict[str, int] = {}  # a key's place in the corpus order (its first stream's)
        for at, entry in enumerate(self.streams):
            self.by_key.setdefault(entry.key, entry)
            self._position.setdefault(entry.key, at)
        self.report = _read_report(report) if report else _kept_report(self.state_dir / KEPT_REPORT)
        self.faults: dict[str, list[dict[str, Any]]] = (self.report or {}).get("by_stream", {})
        self._stats: dict[str, Any] | None = None
        self._wavs: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def listing(self) -> dict[str, Any]:
        """The corpus page's data: every stream with what it is listed and searched by."""
        return {
            "out": str(self.out),
            "streams": [
                {
                    "key": e.key,
                    "shard": Path(e.shard).name,
                    **e.summary,
                    "faults": [f["message"] for f in self.faults.get(e.key, [])],
                    "error": e.error,
                }
                for e in self.streams
            ],
            "shard_errors": [{"shard": s.path, "error": s.error} for s in self.shards if s.error],
            "report": None if self.report is None else _report_summary(self.report),
        }

    def entry(self, key: str) -> StreamEntry:
        if key not in self.by_key:
            raise KeyError(key)
        return self.by_key[key]

    def member(self, key: str, ext: str) -> bytes:
        entry = self.entry(key)
        if ext not in entry.members:
            raise StreamError(f"{Path(entry.shard).name}: {key} has no .{ext} member")
        offset, size = entry.members[ext]
        try:
            with open(entry.shard, "rb") as f:
                f.seek(offset)
                data = f.read(size)
        except OSError as exc:
            raise StreamError(f"{entry.shard}: cannot read shard ({exc.strerror})") from None
        if len(data) != size:
            raise StreamError(f"{Path(entry.shard).name}: {key}.{ext} is cut short")
        return data

    def meta(self, key: str) -> dict[str, Any]:
        entry = self.entry(key)
        if entry.error:
            raise StreamError(f"{Path(entry.shard).name}: {entry.error}")
        try:
            return json.loads(self.member(key, "json"))
        except ValueError as exc:
            raise StreamError(f"{Path(entry.shard).name}: {key}.json is not valid JSON ({exc})") from None

    def stream(self, key: str) -> dict[str, Any]:
        """The stream page's data: its JSON, its faults and its neighbours (an error instead of the JSON
        when the stream cannot be read)."""
        entry = self.entry(key)
        at = self._position[key]
        out: dict[str, Any] = {
            "key": key,
            "shard": Path(entry.shard).name,
            "previous": self.streams[at - 1].key if at else None,
            "next": self.streams[at + 1].key if at + 1 < len(self.streams) else None,
            "faults": self.faults.get(key, []),
            "chunk_seconds": CHUNK_SECONDS,
            "sample_rate": SAMPLE_RATE,
        }
        try:
            out["meta"] = self.meta(key)
        except StreamError as exc:
            out["error"] = str(exc)
        return out

    def _decoded(self, key: str) -> tuple[np.ndarray, int]:
        data = self.member(key, "flac")
        try:
            return decode_flac(data)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            name = Path(self.entry(key).shard).name
            raise StreamError(f"{name}: {key}.flac cannot be decoded ({exc})") from None

    def wav(self, key: str) -> bytes:
        """The stream as a 16-bit WAV for the page's player: Chromium's FLAC demuxer fails some seeks
        into a FLAC without a seek table, a WAV seeks exactly (the last few are kept in memory)."""
        with self._lock:
            if key in self._wavs:
                self._wavs.move_to_end(key)
                return self._wavs[key]
        audio, sr = self._decoded(key)
        buffer = io.BytesIO()
        sf.write(buffer, audio, sr, subtype="PCM_16", format="WAV")
        data = buffer.getvalue()
        with self._lock:
            self._wavs[key] = data
            while len(self._wavs) > WAVS_KEPT:
                self._wavs.popitem(last=False)
        return data

    def peaks(self, key: str) -> dict[str, Any]:
        """The stream's waveform: the lowest and highest sample of every 10 ms, as int8."""
        audio, sr = self._decoded(key)
        mono = audio if audio.ndim == 1 else audio.mean(axis=1)
        step = max(1, sr // PEAKS_PER_SECOND)
        bins = -(-mono.size // step)
        padded = np.zeros(bins * step, dtype=np.float32)
        padded[: mono.size] = mono
        frames = padded.reshape(bins, step)
        scale = lambda a: np.clip(np.round(a * 127), -127, 127).astype(int).tolist()  # noqa: E731
        return {"per_second": sr / step, "low": scale(frames.min(axis=1)), "high": scale(frames.max(axis=1))}

    def stats(self) -> dict[str, Any]:
        """The ``stats`` figures of every readable stream (read once, on first request)."""
        with self._lock:
            if self._stats is None:
                metas = []
                for entry in self.streams:
                    try:
                        metas.append(self.meta(entry.key))
                    except StreamError:
                        continue
                self._stats = _stats_summary(corpus_stats([m for m in metas if _usable(m)]))
            return self._stats


def _usable(meta: StreamJSON) -> bool:
    return all(k in meta for k in ("capability", "num_chunks", "chunk_labels", "turns", "events"))


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    p5, median, p95 = np.percentile(np.asarray(values, dtype=float), [5, 50, 95]).tolist()
    digits = 0 if abs(median) >= 100 else 1 if abs(median) >= 10 else 2
    return {"p5": round(p5, digits), "median": round(median, digits), "p95": round(p95, digits)}


def _histogram(values: list[float], bins: int = 20) -> dict[str, list[float]] | None:
    """Counts in equal bins between the smallest and the largest value, for the page to draw."""
    if not values:
        return None
    counts, edges = np.histogram(np.asarray(values, dtype=float), bins=bins)
    return {"counts": counts.tolist(), "edges": [round(e, 3) for e in edges.tolist()]}


def _stats_summary(stats: dict[str, Any]) -> dict[str, Any]:
    return {
        "table": stats["table"],
        "latency_ms": _percentiles(stats["latency_ms"]),
        "gap_s": _percentiles(stats["gap_s"]),
        "snr_db": _percentiles(stats["snr_db"]),
        "histograms": {name: _histogram(stats[name]) for name in ("latency_ms", "gap_s", "snr_db")},
        "sources": stats["sources"],
        "voices": {c: len(v) for c, v in stats["voices"].items()},
    }


def _read_report(path: Path) -> dict[str, Any]:
    """A ``validate --report`` file the user named; one that is not one is an error naming it."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise StreamError(f"{path}: cannot read the report ({why})") from None
    if not _is_report(report):
        raise StreamError(f"{path}: not a validate report (no by_stream faults by stream)")
    return report


def _kept_report(path: Path) -> dict[str, Any] | None:
    """The folder's last validate report, if there is a sound one."""
    try:
        return _read_report(path)
    except StreamError:
        return None


def _is_report(report: Any) -> bool:
    if not isinstance(report, dict) or not isinstance(report.get("by_stream", {}), dict):
        return False

    def fault(f: Any) -> bool:
        return isinstance(f, dict) and isinstance(f.get("message"), str)

    by_stream = report.get("by_stream", {}).values()
    return all(isinstance(found, list) and all(map(fault, found)) for found in by_stream) and all(
        isinstance(report.get(k, {}), dict) for k in ("faults", "warnings", "examples")
    )


def _report_summary(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": report.get("ok"),
        "faults": report.get("faults", {}),
        "warnings": report.get("warnings", {}),
        "examples": report.get("examples", {}),
    }

"""The shared half of every adapter: probe what needs probing, write the manifest, rejects and report."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

from streamaudio.prepare.manifest import Clip, ClipSink
from streamaudio.prepare.rejects import Reject
from streamaudio.prepare.sources.probe import Probe, probe_batch
from streamaudio.prepare.sources.tsv import SourceError
from streamaudio.render.audio import MIN_SPEECH_SECONDS

PROBE_BATCH = 64
MAX_CHUNK = 4096
WINDOW_SLACK = 0.5  # seconds a full recording may fall short of a segment's end


@dataclass(frozen=True)
class Candidate:
    """A clip an adapter found; ``probe`` asks for its header to be read (duration, rate, channels).

    ``window`` (start, end seconds) marks a segment of a longer recording: when the probed file
    reaches past ``end`` it is the whole recording and the clip becomes that segment of it;
    otherwise the file is taken to be the segment already cut.
    """

    clip: Clip
    probe: bool = True
    window: tuple[float, float] | None = None


@dataclass
class PrepareReport:
    """What an adapter read, kept and rejected (by reason), and how many decoder warnings it swallowed."""

    read: int = 0
    kept: int = 0
    rejected: Counter = field(default_factory=Counter)
    decoder_warnings: int = 0
    warning_examples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    unprobed: int = 0  # kept without reading their header (--no-probe): no sample_rate or channels

    def summary(self) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items())) or "none"
        line = (
            f"read {self.read}, kept {self.kept} ({self.seconds / 3600:.2f} h), "
            f"rejected {sum(self.rejected.values())} ({reasons})"
        )
        if self.decoder_warnings:
            line += f"; {self.decoder_warnings} decoder warnings, e.g. {self.warning_examples[0]!r}"
        if self.unprobed:
            line += f"; {self.unprobed} kept without probing (--no-probe): no sample_rate or channels"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "kept": self.kept,
            "rejected": dict(self.rejected),
            "decoder_warnings": self.decoder_warnings,
            "warning_examples": self.warning_examples,
            "hours": round(self.seconds / 3600, 6),
            "unprobed": self.unprobed,
        }


def rejects_path(manifest: Path) -> Path:
    """``cv_en.jsonl.gz`` → ``cv_en.rejected.jsonl`` beside it."""
    name = manifest.name
    for suffix in (".jsonl.gz", ".jsonl", ".parquet"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return manifest.with_name(f"{name}.rejected.jsonl")


def _chunks(items: Iterable[Candidate | Reject]) -> Iterator[list[Candidate | Reject]]:
    """Input order kept; a chunk closes at PROBE_BATCH probes or MAX_CHUNK items."""
    chunk: list[Candidate | Reject] = []
    probes = 0
    for item in items:
        chunk.append(item)
        probes += isinstance(item, Candidate) and item.probe
        if probes >= PROBE_BATCH or len(chunk) >= MAX_CHUNK:
            yield chunk
            chunk, probes = [], 0
    if chunk:
        yield chunk


def _paths(chunk: list[Candidate | Reject]) -> list[str]:
    return [str(i.clip.path) for i in chunk if isinstance(i, Candidate) and i.probe]


def _resolve(
    chunk: list[Candidate | Reject], result: tuple[list[Probe], int, list[str]], report: PrepareReport
) -> Iterator[Candidate | Reject]:
    probes, warnings, examples = result
    report.decoder_warnings += warnings
    report.warning_examples.extend(examples[: max(0, 3 - len(report.warning_examples))])
    found = iter(probes)
    for item in chunk:
        yield _apply(item, next(found)) if isinstance(item, Candidate) and item.probe else item


def _probed(
    items: Iterable[Candidate | Reject], workers: int, report: PrepareReport
) -> Iterator[Candidate | Reject]:
    """Items in input order, probe candidates resolved; at most a few chunks in memory at a time."""
    chunks = _chunks(items)
    if workers <= 1:
        for chunk in chunks:
            yield from _resolve(chunk, probe_batch(_paths(chunk)), report)
        return
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    with ctx.Pool(workers) as pool:
        while window := list(islice(chunks, workers * 4)):
            results = pool.imap(probe_batch, [_paths(c) for c in window])
            for chunk, result in zip(window, results, strict=True):
                yield from _resolve(chunk, result, report)


def _apply(item: Candidate, probe: Probe) -> Candidate | Reject:
    clip = item.clip
    if probe.reason:
        return Reject(clip.id, clip.source, probe.reason, probe.detail or "", clip.path)
    if clip.text and probe.duration < MIN_SPEECH_SECONDS and not item.window:
        return Reject(clip.id, clip.source, "too_short", f"{probe.duration:.4f} s of speech", clip.path)
    clip = replace(clip, sample_rate=probe.sample_rate, channels=probe.channels)
    if item.window and probe.duration >= item.window[1] - WINDOW_SLACK:
        start, end = item.window
        return Candidate(
            replace(clip, offset=start, duration=round(end - start, 4), segment=True), probe=False
        )
    if clip.segment:
        return Candidate(clip, probe=False)
    return Candidate(replace(clip, duration=round(probe.duration, 4)), probe=False)


def check_output(out: Path, inputs: Iterable[Path]) -> None:
    """Refuse a manifest (or its rejects list) that would overwrite one of the inputs it is made from."""
    written = {os.path.realpath(out), os.path.realpath(rejects_path(out))}
    for path in inputs:
        if os.path.realpath(path) in written:
            raise SourceError(f"{out}: the output would overwrite the input {path}")


@contextmanager
def atomic_outputs(*paths: Path) -> Iterator[tuple[Path, ...]]:
    """Temporary names beside ``paths``, renamed over them only when the block ends without an error, so a
    killed run or a full disk never leaves a partial manifest under the real name."""
    temps = tuple(p.with_name(f".partial.{p.name}") for p in paths)  # the suffix still says the format
    try:
        yield temps
        for tmp, path in zip(temps, paths, strict=True):
            os.replace(tmp, path)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


def run_prepare(
    items: Iterable[Candidate | Reject],
    out: Path,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    inputs: Iterable[Path] = (),
) -> PrepareReport:
    """Probe, then stream kept clips to ``out`` and rejects beside it; returns the report. Audio paths are
    written absolute, so the manifest reads the same from any folder; an id seen before is a duplicate."""
    check_output(out, inputs)
    report = PrepareReport()
    out.parent.mkdir(parents=True, exist_ok=True)
    seen: set[int] = set()  # hashes of (source, id) kept: 10 M clips fit in well under a gigabyte
    with (
        atomic_outputs(out, rejects_path(out)) as (manifest, rejected),
        ClipSink(manifest) as sink,
        open(rejected, "w", encoding="utf-8") as rejects,
    ):
        for item in _probed(items, workers, report):
            report.read += 1
            if isinstance(item, Candidate) and hash((item.clip.source, item.clip.id)) in seen:
                item = Reject(item.clip.id, item.clip.source, "duplicate", "id kept once", item.clip.path)
            if isinstance(item, Reject):
                report.rejected[item.reason] += 1
                row = item.to_row()
                if item.path:
                    row["path"] = os.path.abspath(item.path)
                rejects.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                clip = item.clip
                seen.add(hash((clip.source, clip.id)))
                report.kept += 1
                report.seconds += clip.duration
                report.unprobed += clip.sample_rate is None
                if clip.path and not os.path.isabs(clip.path):
                    clip = replace(clip, path=os.path.abspath(clip.path))
                sink.write(clip)
            if progress and report.read % 1000 == 0:
                progress(report.read)
    if progress:
        progress(report.read)
    return report

"""``streamaudio validate``: every shard and stream of a corpus against the contract, the manifest and,
optionally, a voice activity detector. Faults fail a corpus; warnings (VAD findings, stray shards)
fail it only under ``--strict``."""

from __future__ import annotations

import contextlib
import hashlib
import io
import multiprocessing as mp
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from rich.console import Console
from rich.table import Table

from streamaudio.check.phenomena import phenomenon_counts, rates_of
from streamaudio.check.validate import Fault, check_sample
from streamaudio.protocol import CHUNK_SAMPLES, CHUNK_SECONDS, LABEL_REPLY, SAMPLE_RATE
from streamaudio.render.flac_decoder import decode_flac
from streamaudio.use.reader import ReadError, iter_stream, manifest_shards, read_manifest, shard_paths

EXAMPLES = 3  # messages kept per kind
KEPT_REPORT = "validate.json"  # an output folder's last findings, in its state folder (``view`` reads it)
VAD_MIN_SPEECH = 0.5  # share of a speech event's windows the VAD must call speech
VAD_GAP_SECONDS = 0.5  # longest stretch of VAD speech tolerated inside a gap
SPEECH_KINDS = ("speech", "instruction")
SPEECHLIKE = ("babble", "speech")  # noise categories the VAD rightly calls speech
VAD_HANGOVER = 0.25  # seconds silero's probability takes to fall after speech ends (in noise)
VAD_STILL_SPEAKING = 0.8  # share of speech windows after the hangover that means speech goes on


@dataclass
class Report:
    streams: int = 0
    seconds: float = 0.0
    replies: Counter = field(default_factory=Counter)
    streams_by_capability: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    shards: list[dict[str, Any]] = field(default_factory=list)
    by_stream: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # key -> its findings
    phenomena: Counter = field(default_factory=Counter)  # (capability, phenomenon, "seen"/"could") -> n

    def add(self, fault: Fault, key: str | None = None) -> None:
        warning = fault.warning
        (self.warnings if warning else self.faults)[fault.kind] += 1
        if len(self.examples[fault.kind]) < EXAMPLES:
            self.examples[fault.kind].append(fault.message)
        if key is not None:
            found = {"kind": fault.kind, "message": fault.message, "warning": warning}
            self.by_stream.setdefault(key, []).append(found)

    def merge(self, other: Report) -> None:
        self.streams += other.streams
        self.seconds += other.seconds
        for mine, theirs in (
            (self.replies, other.replies),
            (self.streams_by_capability, other.streams_by_capability),
            (self.faults, other.faults),
            (self.warnings, other.warnings),
            (self.phenomena, other.phenomena),
        ):
            mine.update(theirs)
        for kind, messages in other.examples.items():
            self.examples[kind].extend(messages[: EXAMPLES - len(self.examples[kind])])
        for key, found in other.by_stream.items():
            self.by_stream.setdefault(key, []).extend(found)

    def ok(self, strict: bool = False) -> bool:
        return not self.faults and not (strict and self.warnings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok(), "streams": self.streams, "hours": round(self.seconds / 3600, 6),
            "streams_by_capability": dict(self.streams_by_capability), "replies": dict(self.replies),
            "faults": dict(self.faults), "warnings": dict(self.warnings), "examples": dict(self.examples),
            "shards": self.shards, "by_stream": self.by_stream, "phenomena": self.phenomenon_rates(),
        }  # fmt: skip

    def phenomenon_rates(self) -> dict[str, dict[str, dict[str, float | int]]]:
        """Per capability, each phenomenon's count, chances and rate (check/phenomena.py)."""
        caps = sorted({cap for cap, _, _ in self.phenomena})
        counts = {
            cap: Counter({(n, w): v for (c, n, w), v in self.phenomena.items() if c == cap}) for cap in caps
        }
        return {cap: found for cap in caps if (found := rates_of(counts[cap]))}


def validate_corpus(
    targets: list[Path],
    vad: bool = False,
    workers: int = 1,
    progress: Callable[[int, float], None] | None = None,
) -> Report:
    """Check shards (manifest sha256 and counts, readability, duplicate keys) and every stream in them;
    shards are checked in ``workers`` processes and the findings merged in shard order."""
    report = Report()
    paths = shard_paths(targets)
    expected, shortest = _manifest_facts(targets)
    listed = {p.resolve() for p in paths}
    for path in expected:
        if path not in listed:
            report.add(Fault("missing_shard", f"{path}: listed in manifest.json but absent"))
    present = [p for p in paths if p.is_file()]
    for path in paths:
        if not path.is_file():
            report.add(Fault("missing_shard", f"{path}: listed in manifest.json but absent"))
    seen: dict[str, Path] = {}
    shards = _each_shard(present, vad, workers, shortest)
    for path, (part, keys, digest) in zip(present, shards, strict=True):
        report.merge(part)
        for key in keys:
            if key in seen:
                report.add(Fault("duplicate_key", f"{path}: {key} also in {seen[key]}"))
            seen[key] = path
        entry = expected.get(path.resolve())
        if entry is None and expected:
            report.add(Fault("unlisted_shard", f"{path}: not in manifest.json", warning=True))
        elif entry is not None:
            if entry["sha256"] != digest:
                report.add(
                    Fault(
                        "checksum",
                        f"{path}: sha256 {digest[:12]}… differs from manifest.json's {entry['sha256'][:12]}…",
                    )
                )
            if entry["streams"] != len(keys):
                report.add(
                    Fault(
                        "stream_count", f"{path}: {len(keys)} streams, manifest.json says {entry['streams']}"
                    )
                )
        report.shards.append({"path": str(path), "streams": len(keys), "sha256": digest})
        if progress:
            progress(report.streams, report.seconds)
    return report


def _each_shard(
    paths: list[Path], vad: bool, workers: int, shortest: dict[tuple[str, str], float]
) -> Iterator[tuple[Report, list[str], str]]:
    jobs = [(p, vad, shortest) for p in paths]
    if workers <= 1 or len(paths) < 2:
        yield from map(check_shard, jobs)
        return
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    with ctx.Pool(min(workers, len(paths))) as pool:
        yield from pool.imap(check_shard, jobs)


def check_shard(
    job: tuple[Path, bool] | tuple[Path, bool, dict[tuple[str, str], float]],
) -> tuple[Report, list[str], str]:
    """One shard's findings, its keys in order, and its sha256 (runs in a worker); the job may carry the
    shortest stream its build asked for, by (capability, split)."""
    path, vad, shortest = (*job, {})[:3]
    report = Report()
    keys: list[str] = []
    data = path.read_bytes()  # read once: hashed, then parsed
    digest = hashlib.sha256(data).hexdigest()

    def broken(key: str, problem: str) -> None:  # one stream's fault: the streams after it are checked
        keys.append(key)
        report.add(Fault("broken_json" if "JSON" in problem else "missing_member", problem), key=key)

    try:
        for sample in iter_stream(io.BytesIO(data), str(path), broken):
            keys.append(sample.key)
            _check_stream(report, path, sample.key, sample.meta, sample.flac, vad)
            _check_length(report, path, sample.key, sample.meta, shortest)
    except ReadError as exc:
        report.add(Fault("broken_json" if "JSON" in str(exc) else "unreadable_shard", str(exc)))
    return report, keys, digest


def _check_length(
    report: Report, path: Path, key: str, meta: Any, shortest: dict[tuple[str, str], float]
) -> None:
    """A stream shorter than the range its build asked for lost something its plan put in it."""
    if not isinstance(meta, dict):
        return
    low = shortest.get((str(meta.get("capability")), str(meta.get("split"))))
    chunks = meta.get("num_chunks")
    if low is not None and isinstance(chunks, int) and chunks * CHUNK_SECONDS < low - 1e-6:
        seconds = chunks * CHUNK_SECONDS
        report.add(
            Fault("short_stream", f"{path}: {key} is {seconds:.1f} s, its build asked >= {low:g} s"), key=key
        )


def _manifest_facts(
    targets: list[Path],
) -> tuple[dict[Path, dict[str, Any]], dict[tuple[str, str], float]]:
    """From the targets' manifests, each read once: every listed shard's entry, and the shortest stream
    each part of the build asked for (by capability and split)."""
    entries: dict[Path, dict[str, Any]] = {}
    shortest: dict[tuple[str, str], float] = {}
    for target in targets:
        if not (target.is_dir() and (target / "manifest.json").is_file()):
            continue
        manifest = read_manifest(target)
        for path, shard in manifest_shards(target, manifest):
            entries[path.resolve()] = shard
        for part in manifest.get("parts") or []:
            with contextlib.suppress(KeyError, TypeError, ValueError, IndexError):
                low = float(part["config"]["stream_seconds"][0])
                shortest[(str(part["capability"]), str(part["split"]))] = low
    return entries, shortest


def _check_stream(report: Report, path: Path, key: str, meta: dict[str, Any], flac: bytes, vad: bool) -> None:
    try:
        audio, sr = decode_flac(flac)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        report.add(Fault("undecodable_audio", f"{path}: {key}.flac cannot be decoded ({exc})"), key=key)
        return
    report.streams += 1
    report.seconds += audio.shape[0] / sr
    if isinstance(meta, dict):
        report.streams_by_capability[meta.get("capability", "?")] += 1
        report.replies[meta.get("capability", "?")] += str(meta.get("chunk_labels", "")).count(LABEL_REPLY)
    if isinstance(meta, dict) and meta.get("id") != key:
        report.add(Fault("key_mismatch", f"{path}: sample {key} carries id {meta.get('id')!r}"), key=key)
    faults = check_sample(meta, audio, sr)
    for fault in faults:
        report.add(fault, key=key)
    if not any(f.kind == "schema" for f in faults):
        for (name, what), n in phenomenon_counts(meta).items():
            report.phenomena[meta["capability"], name, what] += n
    if vad and not faults and audio.ndim == 1 and sr == SAMPLE_RATE:
        for fault in vad_findings(meta, audio):
            report.add(fault, key=key)


def vad_findings(meta: dict[str, Any], audio: np.ndarray) -> list[Fault]:
    """What silero VAD disagrees with: speech events that are not speech, speech in gaps, replies that
    land while their trigger is still speaking. Gaps and backgrounds of speech-like noise (babble,
    MUSAN speech), and streams with a TV or radio talking under them, are left out: the VAD rightly hears
    speech there."""
    from streamaudio.check.vad import SPEECH, WINDOW, speech_probability

    sid = meta["id"]
    speech = speech_probability(audio) > SPEECH
    events = meta["events"]
    babble_under = any(
        (e.get("role") == "background" and _speechlike(e)) or e.get("role") == "media" for e in events
    )
    found = []

    def span(a: int, b: int) -> np.ndarray:
        return speech[a // WINDOW : max(a // WINDOW + 1, b // WINDOW)]

    for i, ev in enumerate(events):
        a, b = ev["start_sample"], ev["end_sample"]
        if ev["kind"] in SPEECH_KINDS and ev.get("addressed", True) and span(a, b).mean() < VAD_MIN_SPEECH:
            share = span(a, b).mean()
            found.append(
                Fault(
                    "vad_not_speech",
                    f"{sid}: {ev['kind']} event {i} is {share:.0%} speech to the VAD",
                    warning=True,
                )
            )
        quiet_gap = ev.get("role") == "gap" and not _speechlike(ev) and not babble_under
        if quiet_gap and _longest_run(span(a, b)) * WINDOW / SAMPLE_RATE > VAD_GAP_SECONDS:
            found.append(
                Fault("vad_speech_in_gap", f"{sid}: gap event {i} [{a}, {b}) holds speech", warning=True)
            )
    for t in meta["turns"]:
        ev = events[t["event"]]
        if not t["respond"] or ev["kind"] not in SPEECH_KINDS or babble_under:
            continue
        end, reply_at = ev["end_sample"], (t["chunk"] + 1) * CHUNK_SAMPLES
        judged = span(end + int(VAD_HANGOVER * SAMPLE_RATE), reply_at)  # after the VAD's own decay
        if judged.size >= 2 and judged.mean() >= VAD_STILL_SPEAKING and not _masked(events, end, reply_at):
            message = f"{sid}: the reply on chunk {t['chunk']} lands while event {t['event']} still speaks"
            found.append(Fault("vad_reply_during_speech", message, warning=True))
    return found


def _speechlike(ev: dict[str, Any]) -> bool:
    return ev.get("category") in SPEECHLIKE or "babble" in ev.get("clip_id", "")


def _masked(events: list[dict[str, Any]], a: int, b: int) -> bool:
    """Whether other speech, or speech-like noise, sounds in [a, b) (then the VAD hears that instead)."""
    for e in events:
        overlaps = e["start_sample"] < b and e["end_sample"] > a and e["end_sample"] != a
        if overlaps and (e["kind"] in SPEECH_KINDS or _speechlike(e)):
            return True
    return False


def _longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for v in mask:
        run = run + 1 if v else 0
        best = max(best, run)
    return best


def show_report(report: Report, console: Console) -> None:
    """The summary a person reads: totals, replies per capability, faults and warnings with examples."""
    console.print(
        f"{report.streams} streams, {report.seconds / 3600:.3f} h, {len(report.shards)} shards",
        highlight=False,
    )
    table = Table(title="per capability", title_justify="left")
    for col in ("capability", "streams", "replies"):
        table.add_column(col)
    for cap, n in sorted(report.streams_by_capability.items()):
        table.add_row(cap, str(n), str(report.replies[cap]))
    console.print(table)
    rates = report.phenomenon_rates()
    if rates:
        shown = Table(title="interaction phenomena (rates: docs/phenomena.md)", title_justify="left")
        for col in ("capability", "phenomenon", "seen", "of", "rate"):
            shown.add_column(col, justify="left" if col in ("capability", "phenomenon") else "right")
        for cap, found in rates.items():
            for name, got in found.items():
                shown.add_row(cap, name, str(got["seen"]), str(got["could"]), f"{got['rate']:.0%}")
        console.print(shown)
    for title, counts in (("faults", report.faults), ("warnings", report.warnings)):
        if not counts:
            continue
        found = Table(title=title, title_justify="left")
        found.add_column("kind", no_wrap=True)
        found.add_column("count", justify="right")
        found.add_column("first examples", overflow="fold")
        for kind, n in counts.most_common():
            found.add_row(kind, str(n), "\n".join(report.examples[kind]))
        console.print(found)

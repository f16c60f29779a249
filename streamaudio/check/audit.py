"""``streamaudio audit``: could a model tell "reply" from "stay silent" without hearing what was said (or,
where only context or addressing should decide, from the words alone), and does the stitching leave level
steps in the noise that no microphone would record?

Three measurements per capability, from the shards alone (plus the noise clips, to render the noise again):

- **shortcut predictability**: every turn is a decision (reply or stay silent). For each, features that
  carry no content (the trigger's duration, its level in the mix, the gap before it, its position in the
  stream, the background's SNR, its source and its voice) are collected, and the ROC AUC of predicting the
  decision from each feature alone and from all together (a cross-validated logistic regression) is
  reported. 0.5 means the feature says nothing; 1.0 means it gives every decision away.
- **content predictability** (``check/content_audit.py``): in ``environment`` and over ``chat``'s
  acknowledgements and short answers, the same AUC from the trigger's words alone.
- **boundary artefacts**: the noise stem (background and gap beds, rendered again from the events'
  clips, offsets, spans, fades and gains) is measured in 10 ms windows on both sides of every boundary
  the stitcher made (event and bed edges, fade ends, loop seams); the level step there is compared with
  the steps the noise itself has elsewhere.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streamaudio.check.content_audit import SCOPES, Said, content_auc, said
from streamaudio.check.cross_validation import cross_validated_auc, measurable
from streamaudio.check.validate import stream_problem
from streamaudio.errors import StreamAudioError
from streamaudio.protocol import CHUNK_SAMPLES, SAMPLE_RATE
from streamaudio.render.audio import db_to_gain
from streamaudio.use.reader import iter_samples, shard_paths

NUMERIC = ("duration", "level", "gap_before", "position", "background_snr")
CATEGORICAL = ("source", "voice")
FEATURES = NUMERIC + CATEGORICAL
NO_BACKGROUND_SNR = 60.0  # a stream without background noise, as a number
WINDOW = 160  # 10 ms
PERCENTILES = (50, 90, 99, 100)


class AuditError(StreamAudioError):
    """A corpus the audit cannot read; one line saying why."""


@dataclass
class Decision:
    respond: bool
    features: dict[str, Any]
    stream: str = ""


@dataclass
class CapabilityAudit:
    decisions: list[Decision] = field(default_factory=list)
    said: list[Said] = field(default_factory=list)  # decisions the content audit covers
    boundary_steps: list[float] = field(default_factory=list)
    noise_steps: list[float] = field(default_factory=list)  # the noise's own steps away from boundaries
    streams: int = 0
    stems: int = 0


def decisions(meta: dict[str, Any], audio: np.ndarray) -> list[Decision]:
    """One decision per turn, with the non-content features of its trigger event."""
    events = meta["events"]
    background = next((e for e in events if e.get("role") == "background"), None)
    snr = background["snr_db"] if background else NO_BACKGROUND_SNR
    found = []
    previous_end = 0
    for turn in meta["turns"]:
        ev = events[turn["event"]]
        a, b = ev["start_sample"], ev["end_sample"]
        power = float(np.mean(np.square(audio[a:b], dtype=np.float64))) if b > a else 0.0
        found.append(
            Decision(
                bool(turn["respond"]),
                {
                    "duration": (b - a) / SAMPLE_RATE,
                    "level": 10 * np.log10(power + 1e-12),
                    "gap_before": (a - previous_end) / SAMPLE_RATE,
                    "position": a / SAMPLE_RATE,
                    "background_snr": snr,
                    "source": ev["source"],
                    "voice": ev.get("talker") or ev.get("speaker") or "",
                    "kind": "sound" if ev["kind"] == "sound" else "speech",
                },
                meta["id"],
            )
        )
        previous_end = max(previous_end, b)
    return found


def shortcut_auc(found: list[Decision]) -> dict[str, Any]:
    """ROC AUC of reply vs silence from each feature alone and from all together (cross-validated)."""
    y = np.array([d.respond for d in found], dtype=int)
    if not measurable(y):
        return {"auc": None, "features": {}, "note": "too few decisions of one kind to measure"}
    from sklearn.metrics import roc_auc_score

    alone = {}
    for name in NUMERIC:
        x = np.array([d.features[name] for d in found], dtype=float)
        auc = float(roc_auc_score(y, x)) if np.ptp(x) > 0 else 0.5
        alone[name] = max(auc, 1.0 - auc)
    groups = np.array([d.stream for d in found])
    for name in CATEGORICAL:
        alone[name] = _cross_validated_auc(_design(found, (), (name,)), y, groups)
    together = _cross_validated_auc(_design(found, NUMERIC, CATEGORICAL), y, groups)
    worst = sorted(alone, key=alone.get, reverse=True)
    return {"auc": together, "features": alone, "worst": worst[:2]}


def _design(found: list[Decision], numeric: Iterable[str], categorical: Iterable[str]) -> np.ndarray:
    """Standardised numeric features; categorical ones as one-hot columns centred within each kind of
    trigger (speech, sound), so they carry who or which corpus it is but not whether it is speech, which
    is content (in asr that is the very decision)."""
    columns = []
    for name in numeric:
        x = np.array([d.features[name] for d in found], dtype=float)
        columns.append(((x - x.mean()) / (x.std() or 1.0))[:, None])
    kinds = np.array([d.features["kind"] for d in found])
    for name in categorical:
        values = [d.features[name] for d in found]
        levels = sorted(set(values))
        if len(levels) > 1:
            onehot = np.array([[v == level for level in levels] for v in values], dtype=float)
            for kind in set(kinds.tolist()):
                rows = kinds == kind
                onehot[rows] -= onehot[rows].mean(axis=0)
            columns.append(onehot)
    return np.hstack(columns) if columns else np.zeros((len(found), 1))


def _cross_validated_auc(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """Out-of-fold AUC of a logistic regression on the features; 0.5 when they never vary."""
    from sklearn.linear_model import LogisticRegression

    if np.ptp(x, axis=0).max() == 0:
        return 0.5
    return cross_validated_auc(LogisticRegression(max_iter=1000), x, y, groups)


# -- the noise stem -----------------------------------------------------------------------------
def noise_clips(out: Path) -> dict[str, Any]:
    """clip id -> Clip of every noise manifest the build used (``manifest.json``'s parts)."""
    from streamaudio.prepare.demo import NOISE_MANIFEST, manifest_path
    from streamaudio.prepare.manifest import read_clips

    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    paths = {p for part in manifest.get("parts", []) for p in part.get("noise", [])}
    clips: dict[str, Any] = {}
    for path in sorted(paths):
        source = manifest_path(NOISE_MANIFEST) if path == "built-in" else Path(path)
        try:
            for clip in read_clips(source, "noise"):
                clips.setdefault(clip.id, clip)
        except Exception:  # a manifest moved or gone: stems of its clips cannot be rendered
            continue
    return clips


def noise_stem(meta: dict[str, Any], load: Callable[[str], np.ndarray | None]) -> np.ndarray | None:
    """The stream's background and gap beds rendered again from its JSON; None if a clip is missing."""
    from streamaudio.render.dsp import mix_bed

    length = meta["num_chunks"] * CHUNK_SAMPLES
    stem = np.zeros(length, dtype=np.float32)
    for ev in meta["events"]:
        if ev["kind"] != "noise":
            continue
        noise = load(ev["clip_id"])
        if noise is None or "offset" not in ev:
            return None
        span = (
            ev.get("audio_start_sample", ev["start_sample"]),
            ev.get("audio_end_sample", ev["end_sample"]),
        )
        fades = (ev.get("fade_in_samples", 0), ev.get("fade_out_samples", 0))
        mix_bed(stem, span, noise, ev["offset"], db_to_gain(ev["gain_db"]), fades)
    return stem


def boundaries(meta: dict[str, Any], sizes: dict[str, int]) -> list[int]:
    """Every sample where the stitcher started, ended, faded or looped something."""
    from streamaudio.render.dsp import crossfaded_pieces

    found = set()
    for ev in meta["events"]:
        a = ev.get("audio_start_sample", ev["start_sample"])
        b = ev.get("audio_end_sample", ev["end_sample"])
        found.update((ev["start_sample"], ev["end_sample"], a, b))
        found.update((a + ev.get("fade_in_samples", 0), b - ev.get("fade_out_samples", 0)))
        if ev["kind"] == "noise" and ev["clip_id"] in sizes:
            for pos, _, _, fade_in, _ in crossfaded_pieces(sizes[ev["clip_id"]], ev["offset"], b - a):
                found.update((a + pos, a + pos + fade_in))
    return sorted(found)


def level_steps(stem: np.ndarray, at: Iterable[int]) -> list[float]:
    """|level difference| in dB between the 10 ms windows before and after each position."""
    steps = []
    for b in at:
        if WINDOW <= b <= stem.size - WINDOW:
            before = float(np.mean(np.square(stem[b - WINDOW : b], dtype=np.float64)))
            after = float(np.mean(np.square(stem[b : b + WINDOW], dtype=np.float64)))
            if max(before, after) < 1e-10:  # digital silence on both sides: no step to hear
                steps.append(0.0)
            else:
                steps.append(abs(10 * np.log10((before + 1e-12) / (after + 1e-12))))
    return steps


def away_from(edges: list[int], length: int, every: int = CHUNK_SAMPLES // 2) -> list[int]:
    """Positions on a grid at least 50 ms from every boundary: where the noise's own steps are measured."""
    margin = SAMPLE_RATE // 20
    edges_arr = np.array(edges or [-(10**9)])
    grid = np.arange(every, length - every, every)
    distance = np.min(np.abs(grid[:, None] - edges_arr[None, :]), axis=1)
    return grid[distance >= margin].tolist()


# -- the whole audit ------------------------------------------------------------------------------
def audit(targets: list[Path], progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """The report: per capability, the shortcut AUCs and the boundary-step percentiles."""
    from streamaudio.render.clips import ClipLoader

    try:
        tars = shard_paths(targets)
    except Exception as exc:
        raise AuditError(str(exc)) from None
    clips = {k: v for out in targets if out.is_dir() for k, v in noise_clips(out).items()}
    loader = ClipLoader()
    cache: dict[str, np.ndarray | None] = {}

    def load(clip_id: str) -> np.ndarray | None:
        if clip_id not in cache:
            clip = clips.get(clip_id)
            try:
                cache[clip_id] = None if clip is None else loader.load(clip)
            except Exception:
                cache[clip_id] = None
        return cache[clip_id]

    per: dict[str, CapabilityAudit] = defaultdict(CapabilityAudit)
    streams = 0
    for tar in tars:
        for sample in iter_samples(tar):
            if (problem := stream_problem(sample.meta)) is not None:
                raise AuditError(f"{tar}: {sample.key}.json is not a stream's JSON ({problem})")
            try:
                audio, _ = sample.audio()
            except (ValueError, RuntimeError) as exc:
                raise AuditError(f"{tar}: {sample.key}.flac cannot be decoded ({exc})") from None
            meta = sample.meta
            cap = per[meta["capability"]]
            cap.streams += 1
            cap.decisions += decisions(meta, audio)
            cap.said += said(meta)
            stem = noise_stem(meta, load)
            if stem is not None:
                sizes = {k: v.size for k, v in cache.items() if v is not None}
                edges = boundaries(meta, sizes)
                cap.boundary_steps += level_steps(stem, edges)
                cap.noise_steps += level_steps(stem, away_from(edges, stem.size))
                cap.stems += 1
            streams += 1
            if progress:
                progress(streams)
    return {
        "schema": "streamaudio.audit/1",
        "corpus": [str(t) for t in targets],
        "streams": streams,
        "capabilities": {name: _summary(name, cap) for name, cap in sorted(per.items())},
    }


def _summary(name: str, cap: CapabilityAudit) -> dict[str, Any]:
    respond = sum(d.respond for d in cap.decisions)
    return {
        "streams": cap.streams,
        "decisions": len(cap.decisions),
        "replies": respond,
        "silent": len(cap.decisions) - respond,
        "shortcut": shortcut_auc(cap.decisions),
        "content": {**content_auc(cap.said), "over": SCOPES[name]} if cap.said else None,
        "boundary_steps_db": _percentiles(cap.boundary_steps),
        "noise_steps_db": _percentiles(cap.noise_steps),
        "boundaries": len(cap.boundary_steps),
        "streams_with_stems": cap.stems,
    }


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    got = np.percentile(np.array(values), PERCENTILES)
    return {
        ("max" if p == 100 else f"p{p}"): round(float(v), 3) for p, v in zip(PERCENTILES, got, strict=True)
    }


def worst_auc(report: dict[str, Any]) -> tuple[str, float] | None:
    """The capability whose decisions are most predictable from what they must not be decided by (features
    without content, or words where only context or addressing should decide), and that AUC."""
    aucs = [
        (name, c["shortcut"]["auc"]) for name, c in report["capabilities"].items() if c["shortcut"]["auc"]
    ]
    aucs += [
        (f"{name} (words)", c["content"]["auc"])
        for name, c in report["capabilities"].items()
        if c.get("content") and c["content"]["auc"]
    ]
    return max(aucs, key=lambda item: item[1]) if aucs else None

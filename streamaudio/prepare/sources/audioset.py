"""AudioSet: segment CSVs with the user's local audio, or the Hub's parquet layout."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path

from streamaudio.prepare.manifest import Clip
from streamaudio.prepare.sources.audio_files import index_by_stem
from streamaudio.prepare.sources.pipeline import Candidate, Reject
from streamaudio.prepare.sources.tsv import SourceError

SOURCE = "audioset"


def read_ontology(path: Path) -> dict[str, str]:
    """mid → display name from ``ontology.json``."""
    try:
        nodes = json.loads(path.read_text(encoding="utf-8"))
        return {n["id"]: n["name"] for n in nodes}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SourceError(f"{path}: not an AudioSet ontology.json ({exc})") from None


def read_label_csv(path: Path) -> dict[str, str]:
    """mid → display name from ``class_labels_indices.csv`` (index,mid,display_name)."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return {row["mid"]: row["display_name"] for row in csv.DictReader(f)}
    except (OSError, KeyError, csv.Error) as exc:
        raise SourceError(f"{path}: not a class_labels_indices.csv ({exc})") from None


def _stamp(value: str) -> list[str]:
    """Spellings of a start/end time in file names: ``30.000`` → 30.000, 30.0, 30."""
    number = float(value)
    spellings = [value, f"{number:.1f}", f"{number:.3f}", str(int(number)) if number.is_integer() else value]
    return list(dict.fromkeys(spellings))


def _window_problem(start: float, end: float) -> str | None:
    """Why a segment's start and end cannot be a segment (nan, inf, negative, or not increasing)."""
    if not (math.isfinite(start) and math.isfinite(end)):
        return f"start {start} and end {end} must be finite"
    if start < 0 or end <= start:
        return f"start {start:g} must be >= 0 and below end {end:g}"
    return None


def audio_names(ytid: str, start: str, end: str) -> list[str]:
    """File stems a download tool may have used for a segment."""
    names = [f"Y{ytid}", ytid]
    for s in _stamp(start):
        names += [f"{ytid}_{s}", f"Y{ytid}_{s}"]
        for e in _stamp(end):
            names += [f"{ytid}_{s}_{e}", f"Y{ytid}_{s}_{e}"]
    return names


def scan_segments(csv_path: Path, audio_dir: Path, names: dict[str, str]) -> Iterator[Candidate | Reject]:
    """Segments of a CSV (``# `` comment lines, ``YTID, start, end, "mid,mid"``) found under ``audio_dir``."""
    if not audio_dir.is_dir():
        raise SourceError(f"{audio_dir}: audio folder does not exist")
    index = index_by_stem(audio_dir)
    try:
        text = csv_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{csv_path}: cannot read ({exc})") from None
    subset = csv_path.stem
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    for fields in reader:
        line = reader.line_num
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) != 4:
            yield Reject(
                f"{csv_path.name}:{line}", SOURCE, "malformed_row", f"{len(fields)} fields, line {line}"
            )
            continue
        ytid, start, end, labels = (f.strip() for f in fields)
        try:
            window = (float(start), float(end))
        except ValueError:
            yield Reject(f"{csv_path.name}:{line}", SOURCE, "malformed_row", f"bad times, line {line}")
            continue
        if problem := _window_problem(*window):
            yield Reject(f"{csv_path.name}:{line}", SOURCE, "bad_times", f"{problem}, line {line}")
            continue
        clip_id = f"{ytid}_{int(window[0])}"
        path = next((index[n] for n in audio_names(ytid, start, end) if n in index), None)
        if path is None:
            yield Reject(clip_id, SOURCE, "missing_audio", f"no file for {ytid} under {audio_dir}")
            continue
        mids = tuple(m.strip() for m in labels.split(",") if m.strip())
        clip = Clip(
            id=clip_id,
            source=SOURCE,
            duration=window[1] - window[0],
            path=str(path),
            labels=mids,
            label_names=tuple(names.get(m, m) for m in mids),
            extra={
                "audioset_subset": subset,
                "ytid": ytid,
                "start_seconds": window[0],
                "end_seconds": window[1],
            },
        )
        yield Candidate(clip, probe=True, window=window)


def scan_hub(parquet_dir: Path, audio_out: Path, names: dict[str, str]) -> Iterator[Candidate | Reject]:
    """The Hub's parquet layout (video_id, audio{bytes,path}, labels, human_labels); audio is written to
    ``audio_out`` as the original encoded bytes (no transcoding)."""
    import pyarrow.parquet as pq

    files = sorted(parquet_dir.rglob("*.parquet"))
    if not files:
        raise SourceError(f"{parquet_dir}: no .parquet files")
    audio_out.mkdir(parents=True, exist_ok=True)
    for file in files:
        try:
            batches = pq.ParquetFile(file).iter_batches(batch_size=256)
            for batch in batches:
                for row in batch.to_pylist():
                    yield _hub_row(row, file, audio_out, names)
        except (OSError, ValueError) as exc:
            raise SourceError(f"{file}: cannot read parquet ({exc})") from None


def _hub_row(row: dict, file: Path, audio_out: Path, names: dict[str, str]) -> Candidate | Reject:
    video = str(row.get("video_id") or "")
    if not video:
        return Reject(f"{file.name}:?", SOURCE, "malformed_row", "no video_id")
    audio = row.get("audio") or {}
    data = audio.get("bytes") if isinstance(audio, dict) else None
    if not data:
        return Reject(video, SOURCE, "missing_audio", f"{file.name}: no audio bytes")
    suffix = Path(audio.get("path") or "").suffix.lower() or _sniff(data)
    target = audio_out / f"{video}{suffix}"
    if not target.exists() or target.stat().st_size != len(data):
        target.write_bytes(data)
    mids = tuple(row.get("labels") or ())
    human = tuple(row.get("human_labels") or ())
    label_names = human if len(human) == len(mids) else tuple(names.get(m, m) for m in mids)
    return Candidate(
        Clip(
            id=video,
            source=SOURCE,
            duration=10.0,
            path=str(target),
            labels=mids,
            label_names=label_names,
            extra={"parquet": file.name},
        ),
        probe=True,
    )


def _sniff(data: bytes) -> str:
    if data[:4] == b"fLaC":
        return ".flac"
    if data[:4] == b"RIFF":
        return ".wav"
    if data[:4] == b"OggS":
        return ".ogg"
    return ".mp3"

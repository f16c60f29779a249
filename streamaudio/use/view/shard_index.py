"""Where each stream's members lie in a shard: tar headers read once, kept under the corpus's state
folder (keyed by the shard's path, size and modification time), so a corpus opens without extracting."""

from __future__ import annotations

import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamaudio.prepare.manifest import cache_key
from streamaudio.protocol import CHUNK_SECONDS, LABEL_REPLY
from streamaudio.render.sample_json import StreamJSON

INDEX_DIR = "view"  # under the corpus's state folder
VERSION = 3  # of the kept index's layout and summary


@dataclass
class StreamEntry:
    """One stream of a shard: its members' (offset, size) in the tar, and what the corpus page lists."""

    key: str
    shard: str  # the shard's path
    members: dict[str, tuple[int, int]]  # extension -> (offset of the data, size)
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # why the stream cannot be shown


@dataclass
class ShardIndex:
    path: str
    streams: list[StreamEntry]
    error: str | None = None  # the shard could be read only up to here (its earlier streams are listed)


def summarize(meta: StreamJSON) -> dict[str, Any]:
    """What the corpus page lists and searches of a stream."""
    events, turns = meta.get("events", []), meta.get("turns", [])
    names = [n for e in events for n in e.get("label_names") or ()]  # sounds are searched by their names
    texts = [e.get("text") for e in events] + [t.get("text") for t in turns] + names
    voices = sorted({str(e["voice"]) for e in events if e.get("voice")})
    return {
        "voices": voices,
        "capability": str(meta.get("capability", "?")),
        "split": str(meta.get("split", "?")),
        "seconds": int(meta.get("num_chunks", 0)) * CHUNK_SECONDS,
        "turns": len(turns),
        "replies": str(meta.get("chunk_labels", "")).count(LABEL_REPLY),
        "text": " ".join(t for t in texts if isinstance(t, str)),
    }


def index_shard(path: Path, state_dir: Path) -> ShardIndex:
    """The shard's index, read from the state folder when the shard is unchanged, else made and kept."""
    try:
        stat = path.stat()
    except OSError as exc:
        return ShardIndex(str(path), [], f"cannot read shard ({exc.strerror})")
    cached = state_dir / INDEX_DIR / f"{cache_key(path, stat, VERSION)}.json"
    if cached.is_file():
        try:
            return _loads(json.loads(cached.read_text(encoding="utf-8")), path, stat.st_size)
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # a damaged or planted cache entry is made again
    made = _index(path)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(_dumps(made), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, cached)
    except OSError:
        pass  # a read-only corpus is indexed again next time
    return made


def _index(path: Path) -> ShardIndex:
    """Read the tar's headers (seeking over the data), then each stream's small JSON member. A tar that
    breaks off keeps the streams before the break."""
    entries: dict[str, StreamEntry] = {}
    error = None
    try:
        with open(path, "rb") as f:
            try:
                with tarfile.open(fileobj=f, mode="r:") as tar:
                    for member in tar:
                        if member.isfile():
                            stem, _, ext = member.name.partition(".")
                            entry = entries.setdefault(stem, StreamEntry(stem, str(path), {}))
                            entry.members[ext] = (member.offset_data, member.size)
            except (tarfile.TarError, EOFError) as exc:
                error = f"cannot read past {len(entries)} streams ({exc})"
            size = os.fstat(f.fileno()).st_size
            for entry in entries.values():
                _summarize(f, entry, size)
    except OSError as exc:
        error = f"cannot read shard ({exc.strerror})"
    return ShardIndex(str(path), list(entries.values()), error)


def _summarize(f: Any, entry: StreamEntry, size: int) -> None:
    cut = [ext for ext, (offset, length) in entry.members.items() if offset + length > size]
    missing = [ext for ext in ("json", "flac") if ext not in entry.members]
    if cut or missing:
        entry.error = f"{entry.key}: " + "; ".join(
            [f".{ext} is cut short" for ext in cut] + [f"no .{ext} member" for ext in missing]
        )
        return
    offset, length = entry.members["json"]
    f.seek(offset)
    try:
        meta = json.loads(f.read(length))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
        entry.summary = summarize(meta)
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        entry.error = f"{entry.key}.json is not a stream's JSON ({exc})"


def _dumps(index: ShardIndex) -> dict[str, Any]:
    return {
        "path": index.path,
        "error": index.error,
        "streams": [[e.key, e.members, e.summary, e.error] for e in index.streams],
    }


def _loads(data: dict[str, Any], path: Path, size: int) -> ShardIndex:
    """A kept index, trusted only as far as it agrees with the shard it is kept for: it must name that shard,
    and every member must lie inside it (raises ValueError otherwise, and the shard is indexed anew)."""
    if data["path"] != str(path):
        raise ValueError("the index names another shard")
    streams = []
    for key, members, summary, err in data["streams"]:
        spans = {str(k): (int(o), int(n)) for k, (o, n) in members.items()}
        if any(o < 0 or n < 0 or o + n > size for o, n in spans.values()):
            raise ValueError("a member lies outside the shard")
        streams.append(StreamEntry(str(key), str(path), spans, dict(summary), err))
    return ShardIndex(str(path), streams, data["error"])

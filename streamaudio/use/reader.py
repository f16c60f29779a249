"""Reading corpora back: the shards of an output folder, and the samples of a shard, streamed."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from streamaudio.errors import StreamAudioError
from streamaudio.render.flac_decoder import decode_flac
from streamaudio.render.sample_json import StreamJSON


class ReadError(StreamAudioError):
    """A corpus or shard that cannot be read; one line naming it."""


@dataclass(frozen=True)
class Sample:
    key: str
    meta: StreamJSON
    flac: bytes

    def audio(self) -> tuple[np.ndarray, int]:
        return decode_flac(self.flac)


def shard_paths(targets: list[Path]) -> list[Path]:
    """Tars named directly, or every shard of an output folder (in manifest order when it has one)."""
    paths: list[Path] = []
    for target in targets:
        if target.is_dir():
            manifest = target / "manifest.json"
            found = sorted((target / "shards").glob("*.tar")) or sorted(target.glob("*.tar"))
            if manifest.is_file():  # the manifest's order first, then any shard it does not list
                listed = [path for path, _ in manifest_shards(target)]
                paths += listed + [p for p in found if p not in listed]
            else:
                paths += found
        elif target.is_file():
            paths.append(target)
        else:
            raise ReadError(f"{target}: no such shard or output folder")
    if not paths:
        raise ReadError(f"no shards found in {', '.join(map(str, targets))}")
    return paths


def read_manifest(out: Path) -> dict[str, Any]:
    """An output folder's ``manifest.json``; one that cannot be read or has no shard list is an error."""
    path = out / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReadError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ReadError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("shards"), list):
        raise ReadError(f"{path}: not a streamaudio manifest (no shards list)")
    return manifest


def manifest_shards(out: Path, manifest: dict[str, Any] | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """The shards ``manifest.json`` lists (``manifest``, if it is read already), each with its entry; a
    path that leaves the folder's ``shards/`` or an entry without its path, size and sha256 is an error."""
    manifest_path = out / "manifest.json"
    root = (out / "shards").resolve()
    listed = []
    for n, entry in enumerate((manifest or read_manifest(out))["shards"]):
        fields = isinstance(entry, dict) and isinstance(entry.get("path"), str)
        if not fields or not isinstance(entry.get("sha256"), str) or not isinstance(entry.get("bytes"), int):
            raise ReadError(f"{manifest_path}: shard entry {n} lacks its path, bytes or sha256")
        path = out / entry["path"]
        if path.resolve().parent != root:
            raise ReadError(f"{manifest_path}: shard path {entry['path']!r} is outside {out / 'shards'}")
        listed.append((path, entry))
    return listed


def count_streams(targets: list[Path]) -> int | None:
    """How many streams the targets hold, for a progress total: from the manifest of an output folder,
    else from a tar's member names; None where either cannot be read (the read itself will say why)."""
    total = 0
    try:
        for target in targets:
            if target.is_dir():
                total += sum(int(entry.get("streams", 0)) for _, entry in manifest_shards(target))
            else:
                with tarfile.open(target, mode="r:") as tar:
                    total += sum(1 for name in tar.getnames() if name.endswith(".json"))
    except (ReadError, OSError, tarfile.TarError, ValueError, TypeError, AttributeError):
        return None
    return total


def iter_samples(tar_path: Path) -> Iterator[Sample]:
    """The samples of a WebDataset tar in order (members grouped by key)."""
    try:
        with open(tar_path, "rb") as f:
            yield from iter_stream(f, str(tar_path))
    except OSError as exc:
        raise ReadError(f"{tar_path}: cannot read shard ({exc})") from None


def iter_stream(
    fileobj: BinaryIO, name: str, on_bad: Callable[[str, str], None] | None = None
) -> Iterator[Sample]:
    """The samples of a tar read from any stream (a file, a pipe, a socket), in order. A sample without a
    readable JSON stops the read, or with ``on_bad`` is reported to it as (key, problem) and skipped."""

    def sample(key: str, parts: dict[str, bytes]) -> Iterator[Sample]:
        try:
            yield _sample(name, key, parts)
        except ReadError as exc:
            if on_bad is None:
                raise
            on_bad(key, str(exc))

    try:
        with tarfile.open(fileobj=fileobj, mode="r|") as tar:
            key, parts = None, {}
            for member in tar:
                if not member.isfile():
                    continue
                stem, _, ext = member.name.partition(".")
                if key is not None and stem != key:
                    yield from sample(key, parts)
                    parts = {}
                key = stem
                f = tar.extractfile(member)
                parts[ext] = f.read() if f else b""
            if key is not None:
                yield from sample(key, parts)
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise ReadError(f"{name}: cannot read shard ({exc})") from None


def _sample(tar_path: Path | str, key: str, parts: dict[str, bytes]) -> Sample:
    if "json" not in parts:
        raise ReadError(f"{tar_path}: {key} has no .json member")
    try:
        meta = json.loads(parts["json"])
    except ValueError as exc:
        raise ReadError(f"{tar_path}: {key}.json is not valid JSON ({exc})") from None
    return Sample(key, meta, parts.get("flac", b""))


def iter_streams(targets: list[Path]) -> Iterator[Sample]:
    """The samples of every shard of the targets whose JSON is a stream's and whose audio decodes; any
    other raises ReadError naming shard and key."""
    from streamaudio.check.validate import stream_problem

    for tar in shard_paths(targets):
        for sample in iter_samples(tar):
            if (problem := stream_problem(sample.meta)) is not None:
                raise ReadError(f"{tar}: {sample.key}.json is not a stream's JSON ({problem})")
            yield sample

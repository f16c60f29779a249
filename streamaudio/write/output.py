"""The output folder's lifecycle: claim it (locked), resume or refuse what it holds, and its manifest.json."""

from __future__ import annotations

import fcntl
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict
from pathlib import Path
from typing import Any

from streamaudio import __version__
from streamaudio.plan.clip_table import POOLS_DIR
from streamaudio.plan.spec import BuildError, BuildSpec, Part
from streamaudio.render import flac
from streamaudio.write.shards import (
    ShardStats,
    write_json_atomic,
)

STATE_DIR = ".streamaudio"


BUILD_FILE = "build.json"  # the identity of the build whose output the folder holds


LOCK_FILE = "lock"  # held (flock) by the build writing into the folder


OUTPUTS = ("shards", STATE_DIR, "manifest.json", "rejected.jsonl")


def prepare_out(spec: BuildSpec, force: bool = False) -> tuple[Path, Path]:
    """Make the output folder ready: resume this build's own output, refuse another build's (or, with
    ``force``, delete it first), and clear what a killed run left half written."""
    out = spec.out
    shards, state = out / "shards", out / STATE_DIR
    identity = build_identity(spec)
    if force:
        _remove_outputs(out)
    else:
        _check_same_build(out, identity)
    try:
        shards.mkdir(parents=True, exist_ok=True)
        state.mkdir(parents=True, exist_ok=True)
        write_json_atomic(state / BUILD_FILE, identity)
    except OSError as exc:
        raise BuildError(f"{out}: cannot write the output folder ({exc.strerror or exc})") from None
    remove_partials(shards)  # leftovers of a killed run
    return shards, state


def remove_partials(shards: Path) -> None:
    for partial in shards.glob(".*.partial"):
        partial.unlink(missing_ok=True)


def _check_same_build(out: Path, identity: dict[str, Any]) -> None:
    recorded = out / STATE_DIR / BUILD_FILE
    try:
        earlier = json.loads(recorded.read_text(encoding="utf-8"))
    except FileNotFoundError:
        earlier = None
    except (OSError, ValueError):
        earlier = {}
    has_output = (out / "manifest.json").exists() or any((out / "shards").glob("*.tar"))
    if earlier == identity or (earlier is None and not has_output):
        return
    what = "another build"
    with suppress(OSError, ValueError, KeyError, TypeError):
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        parts = ", ".join(f"{p['capability']}-{p['split']}" for p in manifest["parts"])
        what = f"another build ({manifest.get('command') or parts})"
    raise BuildError(
        f"{out} holds {what}: build into another --out, or add --force to delete its shards and start clean"
    )


def _remove_outputs(out: Path) -> None:
    """Delete a build's output; the columnar pools stay (they are keyed by their manifests, not by it)."""
    for path in [out / n for n in OUTPUTS if n != STATE_DIR] + [
        p for p in (out / STATE_DIR).glob("*") if p.name not in (POOLS_DIR, LOCK_FILE)
    ]:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the output folder for this build: a second build into it at once is refused in one line."""
    if out.exists() and not out.is_dir():
        raise BuildError(f"{out}: is a file, not a folder")
    try:
        (out / STATE_DIR).mkdir(parents=True, exist_ok=True)
        lock = open(out / STATE_DIR / LOCK_FILE, "a+b")  # noqa: SIM115 -- held until the block ends
    except OSError as exc:
        raise BuildError(f"{out}: cannot write the output folder ({exc.strerror or exc})") from None
    with lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BuildError(
                f"{out}: another build is writing into this folder now; wait for it or use another --out"
            ) from None
        yield


def describe_part(part: Part) -> dict[str, Any]:
    """What a part asks for, as the manifest records it."""
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(part.config).items()}
    return {
        "capability": part.capability,
        "split": part.split,
        "requested": {"streams": part.streams} if part.streams is not None else {"hours": part.hours},
        "sources": {name: str(path) for name, path in part.sources} or {"demo": "built-in"},
        "noise": [str(p) for p in part.noise] or ["built-in"],
        "config": config,
    }


def build_identity(spec: BuildSpec) -> dict[str, Any]:
    """What makes a build the same build when it is run again (workers, executor and caches do not)."""
    return {
        "version": __version__,
        "seed": spec.seed,
        "shard_streams": spec.shard_streams,
        "shard_mb": spec.shard_mb,
        "parts": [describe_part(p) for p in spec.parts],
    }


def corpus_manifest(
    spec: BuildSpec, shards: list[ShardStats], seconds: float, replies: int, rejected: int
) -> dict[str, Any]:
    def part_entry(part: Part) -> dict[str, Any]:
        mine = [s for s in shards if s.name.startswith(f"{part.label}-")]
        entry = describe_part(part)
        return {
            **{k: entry[k] for k in ("capability", "split", "requested")},
            "streams": sum(s.streams for s in mine),
            "dropped_streams": [stream for s in mine for stream in s.dropped],
            "hours": round(sum(s.seconds for s in mine) / 3600.0, 6),
            **{k: entry[k] for k in ("sources", "noise", "config")},
        }

    return {
        "schema": "streamaudio.manifest/1",
        "version": __version__,
        "command": spec.command,
        "seed": spec.seed,
        "capabilities": sorted({p.capability for p in spec.parts}),
        "streams": sum(s.streams for s in shards),
        "hours": round(seconds / 3600.0, 6),
        "replies": replies,
        "rejected": rejected,
        "flac_encoder": flac.ENCODER,  # this run's; each shard names the one that wrote it
        "shard_streams": spec.shard_streams,
        "shard_mb": spec.shard_mb,
        "parts": [part_entry(p) for p in spec.parts],
        "shards": [
            {
                "path": f"shards/{s.name}",
                "streams": s.streams,
                "hours": round(s.seconds / 3600.0, 6),
                "replies": s.replies,
                "bytes": s.bytes,
                "sha256": s.sha256,
                "encoder": s.encoder or flac.ENCODER,
            }
            for s in shards
        ],
    }

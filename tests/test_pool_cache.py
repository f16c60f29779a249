"""The shared pool cache: a manifest is read once per machine, whatever the output folder; two builds
started at once make one pool; ``streamaudio cache`` lists and prunes it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from streamaudio.cli.main import app
from streamaudio.plan.pool_cache import list_pools
from streamaudio.prepare.demo import SPEECH_MANIFEST, manifest_path


def asr_from(manifest: Path, streams: int, seconds: str) -> list[str]:
    """``build`` of asr streams from one manifest as the ``cv`` source."""
    return ["build", "--capability", "asr", "--source", f"cv={manifest}", "--streams", str(streams),
            "--stream-seconds", seconds]  # fmt: skip


def build(manifest: Path, out: Path, cache: Path) -> subprocess.Popen:
    args = asr_from(manifest, 3, "8:12")
    return subprocess.Popen(
        [sys.executable, "-m", "streamaudio.cli", *args, "--out", str(out), "--cache-dir", str(cache)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_builds_into_new_folders_share_one_pool_made_once(tmp_path: Path) -> None:
    manifest = prepared(tmp_path)
    cache = tmp_path / "cache"
    first, second = build(manifest, tmp_path / "a", cache), build(manifest, tmp_path / "b", cache)  # at once
    for proc in (first, second):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    pools = ours(cache, manifest)
    assert len(pools) == 1  # made once, by one of the two
    made = pools[0].path.stat().st_mtime_ns
    third = build(manifest, tmp_path / "c", cache)  # a new folder: the pool is read, not made again
    assert third.wait(timeout=300) == 0
    assert pools[0].path.stat().st_mtime_ns == made and len(ours(cache, manifest)) == 1
    assert not (tmp_path / "c" / ".streamaudio" / "pools").exists()  # the build's folder keeps its own only
    shards = [sorted((tmp_path / d / "shards").glob("*.tar")) for d in "abc"]
    assert [[p.read_bytes() for p in s] for s in shards[1:]] == [[p.read_bytes() for p in shards[0]]] * 2


def test_cache_lists_and_prunes(tmp_path: Path) -> None:
    manifest = prepared(tmp_path)
    cache = tmp_path / "cache"
    assert build(manifest, tmp_path / "a", cache).wait(timeout=300) == 0
    runner = CliRunner()
    every = len(list_pools(cache))  # ours and the built-in noise and sounds the build also read
    listed = runner.invoke(app, ["cache", "list", "--cache-dir", str(cache)], env={"COLUMNS": "250"})
    assert listed.exit_code == 0 and str(manifest.resolve()) in listed.output
    assert f"{every} pools" in listed.output
    kept = runner.invoke(app, ["cache", "prune", "--cache-dir", str(cache), "--older-than", "7"])
    assert kept.exit_code == 0 and "removed 0 pools" in kept.output and len(list_pools(cache)) == every
    pruned = runner.invoke(app, ["cache", "prune", "--cache-dir", str(cache)])
    assert pruned.exit_code == 0 and f"removed {every} pools" in pruned.output and list_pools(cache) == []
    again = build(manifest, tmp_path / "b", cache)  # a pruned pool is made again when a build needs it
    assert again.wait(timeout=300) == 0 and len(ours(cache, manifest)) == 1


def ours(cache: Path, manifest: Path) -> list:
    return [p for p in list_pools(cache) if p.manifest == str(manifest.resolve())]


def prepared(tmp_path: Path) -> Path:
    """A manifest of its own (the demo speech, copied): a path no other test's pool is keyed by."""
    out = tmp_path / "speech.jsonl.gz"
    shutil.copyfile(manifest_path(SPEECH_MANIFEST), out)
    return out


def test_a_decoded_clip_cache_gives_the_same_shards(tmp_path: Path) -> None:
    """``--decoded-cache``: MP3 sources decoded once into the cache folder; a build reading them back
    writes exactly the shards of a build that decodes every MP3 again."""
    from test_sources import make_commonvoice

    loc = make_commonvoice(tmp_path / "cv", "v17", durations=False)
    manifest = tmp_path / "cv.jsonl.gz"
    runner = CliRunner()
    prepared = runner.invoke(app, ["prepare", "commonvoice", str(loc), "--out", str(manifest)])
    assert prepared.exit_code == 0, prepared.output
    args = asr_from(manifest, 2, "10:14")
    cache = tmp_path / "cache"
    for name, extra in (("plain", []), ("first", ["--decoded-cache"]), ("later", ["--decoded-cache"])):
        done = runner.invoke(app, [*args, *extra, "--out", str(tmp_path / name), "--cache-dir", str(cache)])
        assert done.exit_code == 0, done.output
        if name == "first":
            kept = {p: p.stat().st_mtime_ns for p in (cache / "decoded").rglob("*.npy")}
            assert kept and all(p.stat().st_size > 1000 for p in kept)  # the MP3s it drew, decoded
    assert {
        p: p.stat().st_mtime_ns for p in (cache / "decoded").rglob("*.npy")
    } == kept  # read, not made again
    tars = {name: sorted((tmp_path / name / "shards").glob("*.tar")) for name in ("plain", "first", "later")}
    for tar in tars["plain"]:
        assert tar.read_bytes() == (tmp_path / "first" / "shards" / tar.name).read_bytes()
        assert tar.read_bytes() == (tmp_path / "later" / "shards" / tar.name).read_bytes()

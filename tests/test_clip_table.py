"""Columnar clip pools: a manifest is read once into a memory-mapped Arrow file, clips are made only for
the rows drawn, and nothing about the build's output changes."""

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from streamaudio.plan import pools as pools_module
from streamaudio.plan.clip_table import ClipTable, cached_table, mapped
from streamaudio.plan.pools import ManifestCache, concat, load_pools, plan_rejects
from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.plan.scenarios.base import Deck
from streamaudio.plan.spec import Part


def write_manifest(path: Path, rows: int, bad: int = 0) -> Path:
    audio = path.parent / "a.wav"
    with open(path, "w") as f:
        for i in range(rows):
            row = {
                "id": f"c{i}",
                "source": "cv",
                "duration": 1.0 + (i % 7) / 10,
                "path": audio.name,
                "sample_rate": 48000,
                "channels": 1,
                "text": f"sentence number {i}",
                "speaker": f"spk{i % 13}",
                "labels": ["/m/09x0r"] if i % 5 == 0 else [],
                "extra": {"up_votes": str(i % 3)},
            }
            if i % 11 == 0:
                row |= {"translation": f"Satz {i}", "target_language": "de"}
            if i % 17 == 0:
                row["tts"] = {"engine": "espeak-ng", "voice": "en-us"}
            f.write(json.dumps(row) + "\n")
        for k in range(bad):
            f.write("{not json\n" if k % 2 else json.dumps({"id": f"b{k}", "source": "cv"}) + "\n")
    return path


def test_rows_come_back_as_the_clips_they_were(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.jsonl", 300, bad=4)
    src = ManifestCache(tmp_path / "state").source(manifest, "cv")
    good = read_clips_ok(manifest)
    assert len(src.clips) == len(good) == 300
    assert list(src.clips) == good  # every field: paths resolved, labels, tts, extra, floats exact
    assert src.clips[7] == good[7] and src.clips[-1] == good[-1]
    view = src.clips.subset(np.array([5, 2, 9]))
    assert list(view) == [good[5], good[2], good[9]] and view.clips([2, 0]) == [good[9], good[5]]


def read_clips_ok(path: Path) -> list:
    """The manifest's good rows as the row reader makes them."""
    from streamaudio.prepare.dialogues import read_source

    return [item for _, item in read_source(path, "cv", on_bad=lambda line, problem: None)]


def test_a_second_read_maps_the_file_and_a_changed_manifest_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_manifest(tmp_path / "m.jsonl", 50, bad=2)
    state = tmp_path / "state"
    first = ManifestCache(state)
    first.source(manifest, "cv")
    assert len(first.bad_rows) == 2

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the manifest was parsed again")

    monkeypatch.setattr(pools_module, "read_source", no_reading)
    again = ManifestCache(state)
    assert len(again.source(manifest, "cv").clips) == 50
    assert len(again.bad_rows) == 2  # the broken rows are still reported, from the table's side file
    monkeypatch.undo()
    write_manifest(manifest, 60)  # a new manifest: new size and time, so it is read anew
    assert len(ManifestCache(state).source(manifest, "cv").clips) == 60


def test_a_deck_draws_the_same_from_a_table_as_from_a_list(tmp_path: Path) -> None:
    clips = read_clips_ok(write_manifest(tmp_path / "m.jsonl", 700))
    table = ClipTable.from_clips(clips)
    a, b = Deck(clips, np.random.default_rng(4)), Deck(table, np.random.default_rng(4))
    drawn = []
    for k in range(1600):  # more than two reshuffles, with put-backs
        x, y = a.draw(), b.draw()
        assert x == y
        drawn.append(x.id)
        if k % 9 == 0:
            a.put_back()
            b.put_back()
    assert len(set(drawn)) == 700


def test_a_large_table_in_many_batches_draws_the_same(tmp_path: Path) -> None:
    """Past the small-table cache, clips are taken batch by batch and put back in draw order."""
    clips = read_clips_ok(write_manifest(tmp_path / "m.jsonl", 9000))
    one = ClipTable.from_clips(clips).table
    table = ClipTable(pa.Table.from_batches(one.to_batches(max_chunksize=700)))
    assert table.table.column("id").num_chunks == 13
    a, b = Deck(clips, np.random.default_rng(9)), Deck(table, np.random.default_rng(9))
    for k in range(12000):
        assert a.draw() == b.draw()
        if k % 7 == 0:
            a.put_back()
            b.put_back()
    picked = np.array([8999, 0, 700, 699, 4321, 0])
    assert table.clips(picked) == [clips[i] for i in picked] and table.clips([]) == []


def mapped_kb(path: Path) -> int:
    """Resident kB of this process's mappings of a file (``/proc/self/smaps``)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:
            inside = line.endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(head[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux's /proc")
def test_drawing_from_a_mapped_table_leaves_its_pages_unmapped(tmp_path: Path) -> None:
    """Random draws would fault in pages of every column around each row (64 KB a fault) until the
    whole file counts as resident; the table unmaps what it touched after each record batch."""
    clips = read_clips_ok(write_manifest(tmp_path / "m.jsonl", 30_000))
    path = cached_table(tmp_path / "m.jsonl", tmp_path / "state", lambda: clips)
    table = mapped(path)
    drawn = table.clips(np.random.default_rng(1).permutation(len(table))[:3000])
    assert drawn[:3] == [clips[i] for i in np.random.default_rng(1).permutation(len(table))[:3]]
    assert mapped_kb(path) <= 256, mapped_kb(path)  # the footer and schema read when opening it
    table.table.column("_record").slice(0, 3000).to_pylist()  # reading records without releasing them
    assert mapped_kb(path) > 1024, mapped_kb(path)


def test_joined_pools_copy_no_column(tmp_path: Path) -> None:
    """Several sources make one pool as a view over their mapped files, drawing what each would."""
    a = read_clips_ok(write_manifest(tmp_path / "a.jsonl", 9000))
    b = read_clips_ok(write_manifest(tmp_path / "b.jsonl", 500))
    ta = mapped(cached_table(tmp_path / "a.jsonl", tmp_path / "state", lambda: a))
    tb = mapped(cached_table(tmp_path / "b.jsonl", tmp_path / "state", lambda: b))
    joined = concat([ta.subset(np.arange(9000)[::-2]), tb])
    assert joined.maps == ta.maps + tb.maps and joined.table.column("id").num_chunks == 2
    expected = a[::-1][::2] + b
    assert len(joined) == len(expected)
    assert joined.clips([0, 4499, 4500, 4999]) == [expected[i] for i in (0, 4499, 4500, 4999)]


def test_pools_make_no_object_per_row(tmp_path: Path) -> None:
    """Loading a 100 000-row pool allocates a few MB of Python objects, not one clip per row (~1.7 KB)."""
    manifest = write_manifest(tmp_path / "m.jsonl", 100_000)
    part = Part("asr", sources=(("cv", manifest),), streams=1, config=ScenarioConfig())
    load_pools(part, ManifestCache(tmp_path / "state"))  # makes the columnar file
    tracemalloc.start()
    manifests = ManifestCache(tmp_path / "state")
    pools, _ = load_pools(part, manifests)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(pools.speech) == 100_000 and not plan_rejects(manifests)
    assert len(pools.spoken) == len(range(0, 100_000, 17))  # only rows with a TTS voice are made: ~6 000
    assert peak < 30e6, peak


def test_unusable_rows_are_rejected_by_column(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.jsonl", 500)
    config = ScenarioConfig(stream_seconds=(30.0, 1.45))  # clips of 1.5 s and more are too long
    manifests = ManifestCache(tmp_path)
    pools, _ = load_pools(Part("s2tt", sources=(("cv", manifest),), streams=1, config=config), manifests)
    reasons = {r.id: r.reason for r in plan_rejects(manifests)}
    for i in range(500):
        long = 1.0 + (i % 7) / 10 > 1.45
        expected = "no_translation" if i % 11 else ("clip_too_long" if long else None)
        assert reasons.get(f"c{i}") == expected, i
    assert len(pools.speech) == sum(1 for i in range(0, 500, 11) if 1.0 + (i % 7) / 10 <= 1.45)

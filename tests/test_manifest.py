from __future__ import annotations

import gzip
import json
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamaudio.check.validate import schema
from streamaudio.prepare.demo import (
    NOISE_MANIFEST,
    SPEECH_MANIFEST,
    manifest_path,
    noise_clips,
    sentences,
    speech_clips,
)
from streamaudio.prepare.manifest import Clip, ManifestError, read_clips, write_clips
from streamaudio.render.clips import ClipLoader

CLIP = Clip(
    id="a1",
    source="cv",
    duration=2.5,
    path="/data/a1.mp3",
    text="hello there",
    language="en",
    labels=("/m/09x0r",),
    extra={"up_votes": 3},
)


def test_jsonl_gz_round_trip_is_reproducible(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl.gz"
    write_clips(p, [CLIP, CLIP])
    first = p.read_bytes()
    write_clips(p, [CLIP, CLIP])
    assert p.read_bytes() == first  # no timestamp in the gzip header
    assert list(read_clips(p)) == [CLIP, CLIP]
    with gzip.open(p, "rt") as f:
        jsonschema.validate(json.loads(f.readline()), schema("clip"))


def test_parquet_and_relative_paths(tmp_path: Path) -> None:
    p = tmp_path / "m.parquet"
    pq.write_table(
        pa.Table.from_pylist(
            [{"id": "x", "source": "s", "duration": 1.0, "path": "audio/x.wav", "text": "t"}]
        ),
        p,
    )
    (clip,) = read_clips(p)
    assert clip.path == str(tmp_path / "audio" / "x.wav") and clip.text == "t"


def test_default_source_fills_missing_source(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    p.write_text(json.dumps({"id": "x", "duration": 1.0, "path": "/x.wav"}) + "\n")
    assert next(read_clips(p, default_source="mine")).source == "mine"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[1, 2]", "JSON object"),
        ('{"id": "x", "source": "s", "duration": -1, "path": "p"}', "positive"),
        ('{"id": "x", "source": "s", "duration": "soon", "path": "p"}', "bad clip row"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    p = tmp_path / "m.jsonl"
    p.write_text("\n" + line + "\n")
    with pytest.raises(ManifestError, match=problem) as info:
        list(read_clips(p))
    assert f"{p}:2:" in str(info.value)


def test_corrupt_gzip_is_one_error(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl.gz"
    p.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ManifestError, match=str(p)):
        list(read_clips(p))


def test_demo_has_300_distinct_sentences_in_several_voices() -> None:
    said = sentences()
    assert len(said) >= 300 and len(set(said)) == len(said)
    words = [len(s.split()) for s in said]
    assert min(words) <= 3 and max(words) >= 18
    clips = list(read_clips(manifest_path(SPEECH_MANIFEST)))
    assert len({c.speaker for c in clips}) >= 5
    assert {c.text for c in clips} == set(said)


def test_committed_demo_manifests_are_current() -> None:
    """The manifests in manifests/ are exactly what `python -m streamaudio.prepare.demo` writes."""
    loader = ClipLoader()
    assert list(read_clips(manifest_path(SPEECH_MANIFEST))) == list(speech_clips(loader.speak))
    assert list(read_clips(manifest_path(NOISE_MANIFEST))) == noise_clips()
    for path in (SPEECH_MANIFEST, NOISE_MANIFEST):
        with gzip.open(manifest_path(path), "rt") as f:
            for line in f:
                jsonschema.validate(json.loads(line), schema("clip"))


def test_noise_beds_render(tmp_path: Path) -> None:
    loader = ClipLoader(tmp_path)
    for clip in noise_clips():
        audio = loader.load(clip)
        assert audio.size == int(clip.duration * 16000)
        assert abs(float((audio**2).mean()) - 1.0) < 1e-3  # unit RMS beds

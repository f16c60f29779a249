import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
import webdataset as wds

from streamaudio.write.shards import TAR_MTIME, ShardWriter, commit_shard, pack, sample_record

SAMPLES = [
    ("asr-train-000000000", b"fLaC" + bytes(range(256)) * 7, {"id": "a", "text": "naïve café", "n": 1.5}),
    ("asr-train-000000001", b"fLaC" * 128, {"id": "b", "events": []}),  # data a whole number of blocks
    ("asr-train-000000002", b"", {}),
]


def test_records_are_the_tar_webdataset_writes(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path / "ours.tar")
    for key, flac, meta in SAMPLES:
        writer.write(sample_record(key, flac, meta))
    size, sha = writer.close()
    assert (tmp_path / ".ours.tar.partial").exists() and not (tmp_path / "ours.tar").exists()
    commit_shard(tmp_path / "ours.tar")
    ours = (tmp_path / "ours.tar").read_bytes()
    assert not (tmp_path / ".ours.tar.partial").exists()
    assert (size, sha) == (len(ours), hashlib.sha256(ours).hexdigest())

    theirs = io.BytesIO()
    with wds.TarWriter(theirs, mtime=TAR_MTIME, user="streamaudio", group="streamaudio") as tw:
        for key, flac, meta in SAMPLES:
            tw.write({"__key__": key, "flac": flac, "json": json.dumps(meta, ensure_ascii=False).encode()})
    assert ours == theirs.getvalue()
    with tarfile.open(tmp_path / "ours.tar") as tar:
        names = tar.getnames()
        assert names == [f"{key}.{ext}" for key, *_ in SAMPLES for ext in ("flac", "json")]
        assert tar.extractfile(names[0]).read() == SAMPLES[0][1]


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path / "x.tar")
    writer.write(sample_record(*SAMPLES[0]))
    writer.abort()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("streams", "mb", "groups"), [(2, 1e9, 3), (10, 1e9, 1), (10, 0.05, 5)])
def test_pack_caps_streams_and_size(streams: int, mb: float, groups: int) -> None:
    packed = list(pack(iter([1.0] * 5), streams, mb))
    assert len(packed) == groups and [i for g in packed for i in g] == list(range(5))

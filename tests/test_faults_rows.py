"""Fault injection, rows and files: one bad row or file is a reject naming file:line and the reason, and the
work goes on; an input that cannot be read at all is one error line."""

from __future__ import annotations

import errno
import gzip
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from faults import cli, good_speech, row, speech_wav, write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_faults import one_error_line, rejects

from streamaudio.plan.pools import ManifestCache
from streamaudio.prepare.manifest import ClipSink
from streamaudio.prepare.sources import run_prepare, user_list

BUILD = ["build", "--capability", "asr", "--stream-seconds", "20:30", "--streams", "2"]
WRONG = {
    "text": [5, ["a"], {"a": 1}],
    "tts": ["abc", 3],
    "path": ["a\0b.wav", 7],
    "labels": ["dog,cat"],
    "duration": ["long", True, float("nan")],
    "sample_rate": ["16k", -1],
    "id": [{"x": 1}, None],
}


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return good_speech(tmp_path_factory.mktemp("speech"), 4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(sorted(WRONG)), pick=st.integers(0, 2), line=st.integers(0, 4))
def test_a_row_of_a_wrong_type_is_a_reject_naming_its_line(
    tmp_path_factory: pytest.TempPathFactory, speech: list[dict], field: str, pick: int, line: int
) -> None:
    folder = tmp_path_factory.mktemp("rows")
    values = WRONG[field]
    bad = {**speech[0], "id": "bad", field: values[pick % len(values)]}
    rows = [*speech]
    rows.insert(line, bad)
    manifest = write_jsonl(folder / "m.jsonl", [json.dumps(r, allow_nan=True) for r in rows])
    found = ManifestCache(folder / "state")
    source = found.source(manifest, "lab")
    assert len(source.clips) == len(speech)  # every good row kept
    assert [r.reason for r in found.bad_rows] == ["bad_row"]
    assert found.bad_rows[0].detail.startswith(f"{manifest}:{line + 1}: ")


def test_bad_lines_duplicates_and_a_garbage_rejects_list_do_not_stop_a_build(
    tmp_path: Path, speech: list[dict]
) -> None:
    lines = [json.dumps(r).encode() for r in speech]
    lines.insert(1, b'{"id": "latin1", "text": "caf\xe9"}')  # one invalid UTF-8 byte
    lines.append(json.dumps({**speech[0], "labels": "dog,cat"}).encode())
    lines.append(json.dumps(speech[1]).encode())  # the same id again
    manifest = write_jsonl(tmp_path / "m.jsonl", lines)
    (tmp_path / "m.rejected.jsonl").write_text('{"clip_id": "x", "source": "s", "reason": "r"}\nnot json\n')
    built = cli(*BUILD, "--source", f"lab={manifest}", "--out", str(tmp_path / "o"))
    assert built.returncode == 0, built.stderr
    found = {(r["reason"], r["clip_id"]) for r in rejects(tmp_path / "o")}
    assert ("bad_row", f"{manifest}:2") in found  # not UTF-8
    assert ("bad_row", f"{manifest}:6") in found  # labels as a string
    assert ("duplicate", speech[1]["id"]) in found
    assert ("bad_reject_line", f"{tmp_path / 'm.rejected.jsonl'}:2") in found
    assert ("r", "x") in found


def test_prepare_keeps_an_id_once_and_every_bad_file_once(tmp_path: Path) -> None:
    audio = speech_wav(tmp_path / "a.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "junk1.wav").write_bytes(b"RIFF" + os.urandom(500))
    (tmp_path / "junk2.wav").write_bytes(b"RIFF" + os.urandom(500))
    listed = [
        {"path": str(audio), "id": "same", "text": "a"},
        {"path": str(audio), "id": "same", "text": "b"},
    ]
    listed += [
        {"path": str(tmp_path / n), "id": "bad", "text": "c"} for n in ("empty.wav", "junk1.wav", "junk2.wav")
    ]
    src = write_jsonl(tmp_path / "list.jsonl", listed)
    done = cli("prepare", "manifest", str(src), "--out", str(tmp_path / "m.jsonl"))
    assert done.returncode == 0, done.stderr
    kept = (tmp_path / "m.jsonl").read_text().splitlines()
    assert len(kept) == 1 and json.loads(kept[0])["text"] == "a"
    built = cli(*BUILD, "--source", f"lab={tmp_path / 'm.jsonl'}", "--out", str(tmp_path / "o"))
    bad = [r for r in rejects(tmp_path / "o") if r["clip_id"] == "bad"]
    assert built.returncode == 0 and len(bad) == 3  # three bad files sharing an id: three rejects
    assert {r["reason"] for r in rejects(tmp_path / "o") if r["clip_id"] == "same"} == {"duplicate"}


def test_a_bom_before_a_tsv_header_is_read(tmp_path: Path) -> None:
    loc = tmp_path / "cv" / "en"
    speech_wav(loc / "clips" / "a.wav")
    speech_wav(loc / "clips" / "b.wav", 1)
    lines = ["client_id\tpath\tsentence", "spk1\ta.wav\thello there", "spk2\tb.wav\tcaf\udce9 au lait"]
    (loc / "validated.tsv").write_bytes(
        b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"
    )
    done = cli("prepare", "commonvoice", str(loc), "--out", str(tmp_path / "cv.jsonl"))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "cv.jsonl").read_text().splitlines()]
    assert [r["speaker"] for r in rows] == ["spk1"]
    rejected = [json.loads(line) for line in (tmp_path / "cv.rejected.jsonl").read_text().splitlines()]
    assert rejected[0]["reason"] == "malformed_row" and "not UTF-8" in rejected[0]["detail"]


def test_a_fifo_a_folder_and_a_device_where_audio_should_be(tmp_path: Path, speech: list[dict]) -> None:
    os.mkfifo(tmp_path / "fifo.wav")
    (tmp_path / "folder.wav").mkdir()
    odd = [
        row(speech[0]["path"], "fifo", duration=2.0) | {"path": str(tmp_path / "fifo.wav")},
        row(speech[0]["path"], "folder", duration=2.0) | {"path": str(tmp_path / "folder.wav")},
        row(speech[0]["path"], "device", duration=2.0) | {"path": "/dev/zero"},
    ]
    manifest = write_jsonl(tmp_path / "m.jsonl", [*speech, *odd])
    built = cli(
        *BUILD,
        "--streams",
        "8",
        "--source",
        f"lab={manifest}",
        "--out",
        str(tmp_path / "o"),
        "--max-failed-clips",
        "1",
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    reasons = {r["clip_id"]: r["reason"] for r in rejects(tmp_path / "o") if r.get("stage") == "render"}
    assert reasons == {"fifo": "not_a_file", "folder": "not_a_file", "device": "not_a_file"}


def test_prepare_never_overwrites_its_input(tmp_path: Path) -> None:
    audio = speech_wav(tmp_path / "a.wav")
    src = write_jsonl(tmp_path / "list.jsonl", [{"path": str(audio), "text": "a"}] * 5)
    before = src.read_bytes()
    done = cli("prepare", "manifest", str(src), "--out", str(src))
    assert "would overwrite the input" in one_error_line(done)
    assert src.read_bytes() == before


def test_a_full_disk_during_prepare_leaves_no_partial_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audio = speech_wav(tmp_path / "a.wav")
    src = write_jsonl(
        tmp_path / "list.jsonl", [{"path": str(audio), "id": str(i), "text": "a"} for i in range(9)]
    )
    out = tmp_path / "m.jsonl"
    out.write_text("the manifest of an earlier run\n")
    written = []

    def full(self: ClipSink, clip: object) -> None:
        written.append(clip)
        if len(written) > 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))

    monkeypatch.setattr(ClipSink, "write", full)
    with pytest.raises(OSError):
        run_prepare(user_list.scan_list(src), out)
    assert out.read_text() == "the manifest of an earlier run\n"
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


@pytest.mark.parametrize("damage", ["not_object", "conversations_str", "truncated_gz", "bad_utf8"])
def test_prepare_dialogue_on_damaged_input(tmp_path: Path, damage: str) -> None:
    good = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}
    if damage == "truncated_gz":
        src = tmp_path / "d.jsonl.gz"
        data = gzip.compress(("\n".join(json.dumps(good) for _ in range(2000)) + "\n").encode())
        src.write_bytes(data[: len(data) // 2])
    else:
        bad = {
            "not_object": b"[1, 2]",
            "conversations_str": b'{"conversations": "str"}',
            "bad_utf8": b'{"conversations": "\xff"}',
        }[damage]
        src = write_jsonl(tmp_path / "d.jsonl", [good, bad, good])
    done = cli("prepare", "dialogue", str(src), "--format", "sharegpt", "--out", str(tmp_path / "o.jsonl"))
    if damage == "truncated_gz":
        assert "truncated or damaged gzip" in one_error_line(done)
        assert not (tmp_path / "o.jsonl").exists()
        return
    assert done.returncode == 0, done.stderr
    assert "kept 2" in done.stdout and "rejected 1" in done.stdout


def test_a_parquet_row_with_a_bad_extra_is_a_reject(tmp_path: Path, speech: list[dict]) -> None:
    table = pa.table(
        {
            "id": ["a", "b"],
            "source": ["lab", "lab"],
            "duration": [speech[0]["duration"], speech[1]["duration"]],
            "path": [speech[0]["path"], speech[1]["path"]],
            "text": ["one", "two"],
            "extra": ['{"ok": 1}', "{not json"],
        }
    )
    pq.write_table(table, tmp_path / "m.parquet")
    found = ManifestCache(tmp_path / "state")
    assert len(found.source(tmp_path / "m.parquet", "lab").clips) == 1
    assert found.bad_rows[0].detail.startswith(f"{tmp_path / 'm.parquet'}:2: extra is not valid JSON")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--voice", "x"], "add --tts ENGINE"),
        (["--warp", "1.0"], "add --tts ENGINE"),
        (["--engine-option", "a=b"], "add --tts ENGINE"),
        (["--tts", "espeak-ng", "--prosody", "bogus=1:2"], "takes no prosody"),
    ],
)
def test_options_that_would_do_nothing_are_refused(tmp_path: Path, args: list[str], says: str) -> None:
    assert says in one_error_line(cli(*BUILD, *args, "--out", str(tmp_path / "o")))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(20, 43), value=st.binary(min_size=1, max_size=4))
def test_a_lying_wav_header_is_decoded_or_refused_never_crashes(
    tmp_path_factory: pytest.TempPathFactory, offset: int, value: bytes
) -> None:
    """Any overwrite of the fmt and data fields of a real recording's header: audio of a sane length, or an
    AudioError with a reject reason."""
    from streamaudio.render.audio import AudioError, load_audio

    path = speech_wav(tmp_path_factory.mktemp("hdr") / "a.wav")
    data = bytearray(path.read_bytes())
    data[offset : offset + len(value)] = value
    path.write_bytes(bytes(data))
    try:
        audio = load_audio(path)
    except AudioError as exc:
        assert exc.reason and str(path) in str(exc)
        return
    assert 0 < audio.size <= 16000 * 3600  # never an hour from a few seconds of bytes

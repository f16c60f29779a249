"""Fault injection, the commands after a build: the viewer under hostile requests and planted state, upload
and validate on tampered folders, the loader on bad audio, and every error as one line."""

from __future__ import annotations

import io
import json
import shutil
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from faults import cli, flip_bytes, get, members, status, wav_bytes, write_tar
from helpers import running
from test_faults import one_error_line

from streamaudio.use.loader import StreamDataset
from streamaudio.use.reader import ReadError
from streamaudio.use.view.shard_index import INDEX_DIR


@pytest.fixture(scope="module")
def built(corpus_factory) -> Path:
    return corpus_factory("asr", streams=6, seed=2, shard_streams=3)


@pytest.fixture
def corpus(built: Path, tmp_path: Path) -> Path:
    out = tmp_path / "o"
    shutil.copytree(built, out)
    return out


def first_key(out: Path) -> tuple[Path, str]:
    tar = sorted((out / "shards").glob("*.tar"))[0]
    return tar, members(tar)[0][0].split(".")[0]


# -- the viewer -------------------------------------------------------------------------------------------


def test_one_stream_with_an_absurd_json_stays_on_that_stream(corpus: Path) -> None:
    tar, key = first_key(corpus)
    items = members(tar)
    meta = json.loads(items[1][1])
    items[1] = (
        items[1][0],
        json.dumps(meta).replace(f'"num_chunks": {meta["num_chunks"]}', '"num_chunks": 1e400').encode(),
    )
    write_tar(tar, items)
    with running(corpus) as server:
        port = server.server_address[1]
        listing = json.loads(get(port, "/api/corpus").split(b"\r\n\r\n", 1)[1])
        broken = [s for s in listing["streams"] if s["error"]]
        assert [s["key"] for s in broken] == [key]
        assert status(get(port, "/api/corpus")) == 200  # the server lives on


def test_a_malformed_report_is_one_error_line(corpus: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text('{"by_stream": ["not", "a", "dict"]}')
    assert "not a validate report" in one_error_line(
        cli("view", str(corpus), "--report", str(report), "--port", "0")
    )
    assert "65535" in one_error_line(cli("view", str(corpus), "--port", "70000"))


def test_audio_of_a_stream_cut_short_never_hangs(corpus: Path) -> None:
    tar, key = first_key(corpus)
    with running(corpus) as server:
        port = server.server_address[1]
        data = tar.read_bytes()
        tar.write_bytes(data[: len(data) // 3])  # cut after the index was made
        started = time.monotonic()
        answer = get(port, f"/audio/{key}.flac")
        assert time.monotonic() - started < 5
        declared = (
            int(answer.split(b"Content-Length: ")[1].split(b"\r\n")[0]) if b"Content-Length" in answer else 0
        )
        assert len(answer.split(b"\r\n\r\n", 1)[1]) <= declared


def test_hostile_ranges_hosts_and_bursts(corpus: Path) -> None:
    _, key = first_key(corpus)
    with running(corpus) as server:
        port = server.server_address[1]
        huge = get(port, f"/audio/{key}.flac", extra=f"Range: bytes={'9' * 5000}-\r\n")
        assert status(huge) in (200, 206, 416)
        assert status(get(port, "/api/corpus", host="evil.example:80")) == 421  # DNS rebinding
        assert status(get(port, "/api/corpus", host=f"localhost:{port}")) == 200
        assert status(get(port, "/../../etc/passwd")) == 404
        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(lambda _: status(get(port, "/api/corpus")), range(200)))
        assert answers == [200] * 200


def test_a_half_open_connection_is_closed(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamaudio.use.view import server as server_module

    monkeypatch.setattr(server_module.Handler, "timeout", 1)
    with running(corpus) as server:
        port = server.server_address[1]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /api/corpus HTTP/1.1\r\n")  # and never the rest
            started = time.monotonic()
            assert s.recv(100) in (b"",) or True
            assert time.monotonic() - started < 5


def test_a_planted_index_cannot_serve_another_file(corpus: Path, tmp_path: Path) -> None:
    with running(corpus):
        pass  # the index is made and kept
    secret = tmp_path / "secret.txt"
    secret.write_text("private key material")
    for kept in (corpus / ".streamaudio" / INDEX_DIR).glob("*.json"):
        data = json.loads(kept.read_text())
        data["path"] = str(secret)
        for stream in data["streams"]:
            stream[1]["flac"] = [0, secret.stat().st_size]
        kept.write_text(json.dumps(data))
    with running(corpus) as server:
        port = server.server_address[1]
        _, key = first_key(corpus)
        answer = get(port, f"/audio/{key}.flac")
        assert b"private key material" not in answer and status(answer) == 200
        assert answer.split(b"\r\n\r\n", 1)[1][:4] == b"fLaC"


def test_serving_beyond_this_machine_warns(corpus: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "streamaudio.cli", "view", str(corpus), "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)
    proc.terminate()
    _, stderr = proc.communicate(timeout=20)
    assert "warning:" in stderr and "can read the corpus" in stderr


# -- upload and validate on tampered folders ------------------------------------------------------------


def test_upload_refuses_a_changed_shard_and_a_path_outside(corpus: Path, tmp_path: Path) -> None:
    tar, _ = first_key(corpus)
    flip_bytes(tar, 2000)
    line = one_error_line(cli("upload", str(corpus), "--repo", "me/x", "--dry-run", str(tmp_path / "stage")))
    assert "sha256 differs" in line
    assert "checksum" in cli("validate", str(corpus)).stdout + cli("validate", str(corpus)).stderr
    manifest = json.loads((corpus / "manifest.json").read_text())
    outside = tmp_path / "elsewhere.tar"
    shutil.copy(sorted((corpus / "shards").glob("*.tar"))[1], outside)
    manifest["shards"][0]["path"] = "../../" + str(outside.relative_to(outside.anchor).as_posix())
    (corpus / "manifest.json").write_text(json.dumps(manifest))
    for command in (
        ["upload", str(corpus), "--repo", "me/x", "--dry-run", str(tmp_path / "s2")],
        ["validate", str(corpus)],
    ):
        assert "is outside" in one_error_line(cli(*command))


@pytest.mark.parametrize("damage", ["not_json", "no_shards", "missing_shard"])
def test_upload_on_a_broken_manifest_is_one_line(corpus: Path, tmp_path: Path, damage: str) -> None:
    if damage == "not_json":
        (corpus / "manifest.json").write_text("{oops")
    elif damage == "no_shards":
        (corpus / "manifest.json").write_text("{}")
    else:
        sorted((corpus / "shards").glob("*.tar"))[0].unlink()
    one_error_line(cli("upload", str(corpus), "--repo", "me/x", "--dry-run", str(tmp_path / "stage")))


def test_validate_finds_wav_bytes_in_flac_and_checks_every_stream_after_a_broken_one(corpus: Path) -> None:
    tar, _ = first_key(corpus)
    items = members(tar)
    items[1] = (items[1][0], b"{not json")  # the first stream's JSON
    items[2] = (items[2][0], wav_bytes())  # the second stream's audio, as WAV
    write_tar(tar, items)
    done = cli("validate", str(corpus))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    text = done.stdout + done.stderr
    assert "broken_json" in text and "undecodable_audio" in text


# -- the loader -------------------------------------------------------------------------------------------


def test_loader_errors_name_shard_and_key_and_audio_is_checked(corpus: Path) -> None:
    tar, key = first_key(corpus)
    items = members(tar)
    audio, sr = sf.read(io.BytesIO(items[0][1]), dtype="float32")
    buf = io.BytesIO()
    sf.write(buf, np.stack([audio, audio], axis=1), sr, format="FLAC")  # stereo
    items[0] = (items[0][0], buf.getvalue())
    write_tar(tar, items)
    with pytest.raises(ReadError, match=rf"{tar.name}: {key}: .*2 channels"):
        list(StreamDataset(str(tar), shuffle=0, tensors="numpy"))
    with pytest.raises(ValueError, match="max_chunks"):
        StreamDataset(str(tar), max_chunks=-5, tensors="numpy")


# -- one line, never a traceback -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda o, t: ["validate", str(o), "--report", str(t)],  # a folder where the report goes
        lambda o, t: ["validate", str(o), "--report", "/proc/nope/r.json"],
        lambda o, t: ["plot", str(first_key(o)[0]), "--key", first_key(o)[1], "--out", str(t / "p.xyz")],
        lambda o, t: ["stats", str(o)],
        lambda o, t: ["inspect", str(first_key(o)[0]), "--key", "nope"],
    ],
)
def test_errors_are_one_line(corpus: Path, tmp_path: Path, make) -> None:
    args = make(corpus, tmp_path)
    if args[0] == "stats":
        tar, _ = first_key(corpus)
        items = members(tar)
        items[1] = (items[1][0], b"[1, 2, 3]")
        write_tar(tar, items)
    one_error_line(cli(*args))


@pytest.mark.parametrize("damage", ["garbage_pth", "truncated_safetensors", "bad_yaml", "bogus_device"])
def test_a_damaged_checkpoint_or_device_is_one_line(corpus: Path, tmp_path: Path, damage: str) -> None:
    pytest.importorskip("torch")
    from ai_checkpoint import write_checkpoint

    root = write_checkpoint(tmp_path / "ckpt")
    device = "cpu"
    if damage == "garbage_pth":
        next(root.glob("*.pth")).write_bytes(b"this is not a pickle")
    elif damage == "truncated_safetensors":
        shard = next(root.glob("*.safetensors"))
        shard.write_bytes(shard.read_bytes()[:100])
    elif damage == "bad_yaml":
        (root / "model_config.yaml").write_text("n_embd: [\n")
    else:
        device = "bogus"
    done = cli(
        "harness",
        str(corpus),
        "--backend",
        "audio-interaction",
        "--checkpoint",
        str(root),
        "--device",
        device,
    )
    line = one_error_line(done)
    assert ("bogus" in line) if damage == "bogus_device" else (str(root) in line)

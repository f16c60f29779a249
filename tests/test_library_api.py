"""Every command is one call of the library: each command's library function, run here without typer on a
small corpus, does the command's work (the CLI only parses options and prints)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamaudio.check.corpus import validate_corpus
from streamaudio.plan.recipe import RecipeError, requested_build
from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.prepare.sources import run_prepare, user_list
from streamaudio.use.export import export_upstream
from streamaudio.use.harness.backends import make_backend
from streamaudio.use.harness.run import run_harness
from streamaudio.use.hub import stage
from streamaudio.use.inspect import read_sample
from streamaudio.use.reader import iter_samples, shard_paths
from streamaudio.use.stats import corpus_stats
from streamaudio.use.view import make_server
from streamaudio.write.build import build


@pytest.fixture(scope="module")
def corpus(corpus_factory) -> Path:
    return corpus_factory("asr", streams=3, seed=2, stream_seconds=(12.0, 16.0))


def test_a_build_is_asked_for_as_the_command_asks(tmp_path: Path) -> None:
    spec, name = requested_build(
        tmp_path / "o", capability="asr", streams=3, seed=2, overrides={"stream_seconds": (12.0, 16.0)}
    )
    assert name == "asr" and spec.parts[0].config.stream_seconds == (12.0, 16.0)
    assert build(spec).streams == 3


def test_a_recipe_build_is_asked_for_the_same_way(tmp_path: Path) -> None:
    recipe = Path(__file__).parent.parent / "pipelines" / "streamaudio-2m.yaml"
    spec, name = requested_build(tmp_path / "o", pipeline=recipe, capability="chat", split="test", streams=2)
    assert name == "streamaudio-2m" and [p.label for p in spec.parts] == ["chat-test"]
    with pytest.raises(RecipeError, match="not one of the recipe's splits"):
        requested_build(tmp_path / "o", pipeline=recipe, split="nope")


def test_each_command_is_a_library_call(corpus: Path, tmp_path: Path) -> None:
    report = validate_corpus([corpus])  # validate
    assert report.ok() and report.streams == 3
    tar = shard_paths([corpus])[0]
    key = next(iter_samples(tar)).key
    meta, flac = read_sample(tar, key)  # inspect
    assert meta["id"] == key and flac[:4] == b"fLaC"
    stats = corpus_stats([s.meta for s in iter_samples(tar)])  # stats
    assert stats["table"]["asr/train"]["streams"] == 3
    exported = export_upstream([corpus], tmp_path / "export")  # export upstream
    assert (tmp_path / "export" / "online.jsonl").is_file() and exported
    scored = run_harness([corpus], make_backend("oracle")).metrics  # harness --backend oracle
    assert scored["overall"]["exact"]["f1"] == 1.0
    staged = stage(corpus, tmp_path / "stage", "me/asr")  # upload --dry-run
    assert (staged / "README.md").is_file()
    server = make_server(corpus, "127.0.0.1", 0)  # view
    try:
        assert len(server.corpus.listing()["streams"]) == 3
    finally:
        server.server_close()


def test_prepare_is_a_library_call(corpus: Path, tmp_path: Path) -> None:
    from helpers import read_shard

    tar = shard_paths([corpus])[0]
    _, audio, sr = next(iter(read_shard(tar).values()))
    import soundfile as sf

    sf.write(tmp_path / "a.wav", audio, sr)
    listed = tmp_path / "list.jsonl"
    listed.write_text(json.dumps({"path": "a.wav", "text": "hello"}) + "\n")
    report = run_prepare(user_list.scan_list(listed), tmp_path / "m.jsonl")
    assert report.kept == 1
    assert ScenarioConfig().stream_seconds == (30.0, 90.0)

"""Every command is one call of the library: each command's library function, run here without typer on a
small corpus, does the command's work (the CLI only parses options and prints)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import streamaudio
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


def test_the_viewer_and_the_loader_need_no_plotting_and_no_cluster() -> None:
    code = (
        "import sys, streamaudio.use.view.server, streamaudio.loader, streamaudio.use.loader; "
        "print(sorted(m for m in ('matplotlib', 'dask', 'distributed') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_no_module_imports_itself_round_a_circle() -> None:
    """Module-level imports between streamaudio's modules form no cycle (imports inside functions, made
    only when called, are left out)."""
    root = Path(streamaudio.__file__).parent
    modules = {
        ".".join(("streamaudio", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__"): p
        for p in root.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = graph.setdefault(name, set())
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("streamaudio"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    edges.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in modules)
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(graph.get(name, ())):
            if nxt == name or nxt not in modules:
                continue
            assert state.get(nxt) != 1, " -> ".join([*trail, name, nxt])
            if nxt not in state:
                visit(nxt, [*trail, name])
        state[name] = 2

    for name in sorted(modules):
        if name not in state:
            visit(name, [])

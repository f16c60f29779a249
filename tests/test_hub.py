"""Hub staging: the staged repo loads with `datasets` (and streaming) and gives back every sample intact."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from datasets import load_dataset

from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.plan.spec import BuildSpec, Part
from streamaudio.use.hub import HubError, stage
from streamaudio.use.reader import iter_samples
from streamaudio.write.build import build


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = ScenarioConfig(stream_seconds=(10, 20))
    parts = tuple(
        Part(cap, split, streams=n, config=cfg)
        for cap, split, n in (("asr", "train", 4), ("asr", "dev", 2), ("counting", "train", 3))
    )
    out = tmp_path_factory.mktemp("hub") / "corpus"
    build(BuildSpec(out, parts, seed=3, shard_streams=2))
    return out


@pytest.fixture(scope="module")
def hf_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A private datasets cache: the shared one could hand back rows of an older build at the same path."""
    return str(tmp_path_factory.mktemp("hf-cache"))


@pytest.fixture(scope="module")
def staged(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stage(corpus, tmp_path_factory.mktemp("stage") / "repo", "someone/streams")


def same_json(a: object, b: object) -> bool:
    """Equal, floats within 1e-12 relative: Arrow's JSON type may round a decimal 1 ulp differently."""
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def shard_samples(corpus: Path, capability: str, split: str) -> dict[str, tuple[dict, bytes]]:
    return {
        s.key: (s.meta, s.flac)
        for tar in sorted((corpus / "shards").glob(f"{capability}-{split}-*.tar"))
        for s in iter_samples(tar)
    }


def test_layout_and_card(staged: Path) -> None:
    assert sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*.tar")) == [
        "data/asr/dev/asr-dev-000000.tar",
        "data/asr/train/asr-train-000000.tar",
        "data/asr/train/asr-train-000001.tar",
        "data/counting/train/counting-train-000000.tar",
        "data/counting/train/counting-train-000001.tar",
    ]
    card = (staged / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["license"] and meta["language"] == ["en"] and meta["size_categories"] == ["n<1K"]
    assert set(meta["task_categories"]) == {"automatic-speech-recognition", "audio-classification"}
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert set(configs) == {"asr", "counting", "default"}
    assert {d["split"] for d in configs["asr"]["data_files"]} == {"train", "dev"}
    assert "9 streams" in card and "load_dataset" in card and (staged / "manifest.json").is_file()


@pytest.mark.parametrize(("capability", "split"), [("asr", "train"), ("asr", "dev"), ("counting", "train")])
@pytest.mark.parametrize("streaming", [False, True])
def test_datasets_gives_back_every_sample(
    corpus: Path, staged: Path, hf_cache: str, capability: str, split: str, streaming: bool
) -> None:
    ds = load_dataset(str(staged), capability, split=split, streaming=streaming, cache_dir=hf_cache)
    rows = {row["__key__"]: row for row in ds}
    expected = shard_samples(corpus, capability, split)
    assert set(rows) == set(expected)
    for key, (meta, flac) in expected.items():
        assert same_json(rows[key]["json"], meta), key
        assert rows[key]["flac"] == flac  # the audio bytes, exactly


def test_stage_and_upload_errors(corpus: Path, staged: Path, tmp_path: Path) -> None:
    with pytest.raises(HubError, match="not empty"):
        stage(corpus, staged, "someone/streams")
    with pytest.raises(HubError, match=r"no manifest\.json"):
        stage(tmp_path, tmp_path / "s", "someone/streams")
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    no_token = subprocess.run(
        [sys.executable, "-m", "streamaudio.cli", "upload", str(corpus), "--repo", "a/b"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "HF_HOME": str(tmp_path)},
    )
    assert no_token.returncode == 1 and "HF_TOKEN" in no_token.stderr and "Traceback" not in no_token.stderr
    unreachable = subprocess.run(
        [sys.executable, "-m", "streamaudio.cli", "upload", str(corpus), "--repo", "a/b"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "HF_TOKEN": "hf_test", "HF_ENDPOINT": "http://127.0.0.1:9"},
    )
    assert unreachable.returncode == 1 and "upload to a/b failed" in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1

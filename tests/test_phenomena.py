"""Interaction phenomena: drawn at their rates, decided as they should be, invisible to the words where
only context or addressing should decide, scored per phenomenon, and off without a trace at rate 0."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from helpers import read_shard

from streamaudio.check.audit import audit
from streamaudio.check.corpus import validate_corpus
from streamaudio.check.phenomena import SILENT, check_phenomena
from streamaudio.plan.phenomena import PHENOMENA
from streamaudio.plan.scenarios import SCENARIOS
from streamaudio.plan.scenarios.base import ScenarioConfig, templates
from streamaudio.prepare.demo import DEMO_VOICES
from streamaudio.use.harness.backends import make_backend
from streamaudio.use.harness.run import run_harness

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "zero_rates.json"
ZERO = {name: 0.0 for name in PHENOMENA if name != "pause"}  # the thinking pause is older than the rest


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamaudio", *args], capture_output=True, text=True)


def recipe(tmp_path: Path, capabilities: dict, **top: object) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"splits": {"train": 1.0}, **top, "capabilities": capabilities}))
    return path


def metas(out: Path) -> list[dict]:
    return [meta for tar in sorted((out / "shards").glob("*.tar")) for meta, _, _ in read_shard(tar).values()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The default demo builds (60 streams, seed 11) of the capabilities that have phenomena."""
    base = tmp_path_factory.mktemp("phenomena")
    for cap in ("chat", "environment", "asr"):
        proc = cli("build", "--capability", cap, "--streams", "60", "--seed", "11", "--out", str(base / cap))
        assert proc.returncode == 0, proc.stderr
    return {cap: base / cap for cap in ("chat", "environment", "asr")}


def test_default_builds_hold_each_phenomenon_at_its_rate_and_pass_strict_vad(demo: dict[str, Path]) -> None:
    report = validate_corpus(list(demo.values()), vad=True)
    assert report.ok(strict=True), (dict(report.faults), dict(report.warnings))
    rates = report.phenomenon_rates()
    seen = set()
    for cap, found in rates.items():
        asked = SCENARIOS[cap].phenomenon_rates(ScenarioConfig())
        for name, got in found.items():
            if not asked[name]:
                continue
            seen.add(name)
            # within a few points where there are hundreds of chances; within three standard errors else
            slack = max(0.04, 3 * (asked[name] * (1 - asked[name]) / got["could"]) ** 0.5)
            assert abs(got["rate"] - asked[name]) <= slack, (cap, name, got, asked[name])
    assert seen == set(PHENOMENA)


def test_words_and_glue_do_not_give_the_decisions_away(demo: dict[str, Path]) -> None:
    """Text-only AUC: environment with the addressing removed (0.999 when nothing but background
    sentences stayed silent) and chat's acknowledgements and short answers; and every non-content AUC."""
    report = audit([demo["chat"], demo["environment"]])
    for cap in ("chat", "environment"):
        found = report["capabilities"][cap]
        assert found["content"]["auc"] <= 0.65, (cap, found["content"])
        assert found["shortcut"]["auc"] <= 0.65, (cap, found["shortcut"])
        assert max(found["shortcut"]["features"].values()) <= 0.66, (cap, found["shortcut"]["features"])
    assert report["capabilities"]["chat"]["content"]["decisions"] >= 150


def test_the_content_audit_sees_sentences_that_are_only_ever_answered(tmp_path: Path) -> None:
    """Without counterfactual talk the words give environment's decisions away, and audit fails on it."""
    off = {"talk_to_others": 0.0, "near_miss_wake": 0.0, "background_media": 0.0, "hesitation": 0.0}
    path = recipe(tmp_path, {"environment": {"share": 1.0, "phenomena": off}}, streams=40, seed=11)
    assert cli("build", "--pipeline", str(path), "--out", str(tmp_path / "o")).returncode == 0
    proc = cli("audit", str(tmp_path / "o"), "--report", str(tmp_path / "a.json"))
    words = json.loads((tmp_path / "a.json").read_text())["capabilities"]["environment"]["content"]
    assert words["auc"] > 0.9 and proc.returncode == 1 and "environment (words)" in proc.stdout


@pytest.mark.parametrize("cap", ["asr", "chat", "environment"])
def test_at_rate_zero_the_streams_are_the_ones_built_before_phenomena(tmp_path: Path, cap: str) -> None:
    """The same audio, labels and turns as the code before phenomena built (recorded in the golden file)."""
    path = recipe(tmp_path, {cap: {"share": 1.0, "phenomena": ZERO}}, streams=4, seed=3)
    assert cli("build", "--pipeline", str(path), "--out", str(tmp_path / "o")).returncode == 0
    golden = json.loads(GOLDEN.read_text())
    for tar in (tmp_path / "o" / "shards").glob("*.tar"):
        for key, (meta, audio, _) in read_shard(tar).items():
            pcm = (audio * 32768).round().astype("<i2").tobytes()
            want = golden[key]
            assert hashlib.sha256(pcm).hexdigest() == want["audio_sha256"], key
            assert meta["chunk_labels"] == want["chunk_labels"]
            assert [[t["chunk"], t["respond"]] for t in meta["turns"]] == want["turns"]
            assert {e.get("phenomenon") for e in meta["events"]} <= {None, "pause"}


def test_builds_are_byte_identical_for_any_number_of_workers(tmp_path: Path) -> None:
    args = ["--capability", "environment", "--streams", "8", "--seed", "5", "--shard-streams", "2"]
    for workers in ("1", "2"):
        proc = cli("build", *args, "--workers", workers, "--out", str(tmp_path / workers))
        assert proc.returncode == 0, proc.stderr
    one, two = (sorted((tmp_path / w / "shards").glob("*.tar")) for w in ("1", "2"))
    assert [p.read_bytes() for p in one] == [p.read_bytes() for p in two]
    assert any(e.get("role") == "media" for m in metas(tmp_path / "1") for e in m["events"])


def test_phenomena_are_decided_as_they_say(demo: dict[str, Path]) -> None:
    for cap, out in demo.items():
        for meta in metas(out):
            for turn in meta["turns"]:
                ev = meta["events"][turn["event"]]
                name = ev.get("phenomenon")
                assert turn.get("phenomenon") == name
                if name in SILENT or ev.get("hesitation") or ev.get("pause_follows"):
                    assert not turn["respond"], (cap, ev)
                elif name is not None:
                    assert turn["respond"], (cap, ev)
    said = templates("phenomena")["short_utterances"]
    chat = [m for m in metas(demo["chat"])]
    shorts = Counter(
        (m["events"][t["event"]]["text"], t["respond"])
        for m in chat
        for t in m["turns"]
        if m["events"][t["event"]].get("phenomenon") in ("acknowledgement", "short_answer")
    )
    both = [text for text in said if shorts[text, True] and shorts[text, False]]
    assert len(both) >= len(said) // 2  # the same words answered in one place and not in another


def test_environment_says_the_same_words_to_the_assistant_and_to_others(demo: dict[str, Path]) -> None:
    addressed, others, media = set(), set(), []
    for meta in metas(demo["environment"]):
        for ev in meta["events"]:
            if ev["kind"] != "speech":
                continue
            words = ev["text"].removeprefix(ev.get("addressing", "")).strip()
            if ev.get("role") == "media":
                media.append(ev)
            elif ev["addressed"] and not ev.get("hesitation"):
                addressed.add(words.lower())
            elif ev.get("phenomenon") in ("talk_to_others", "near_miss_wake"):
                others.add(words.lower())
                assert (
                    not ev["text"]
                    .lower()
                    .startswith(tuple(w.lower() for w in templates("environment")["wake_phrases"]))
                )
    assert len(addressed & others) >= 0.8 * len(others)  # counterfactual pairs
    assert media and all(ev["media"]["high_hz"] <= 6000 and ev["media"]["rt60"] >= 0.3 for ev in media)


def test_validate_catches_a_phenomenon_decided_wrongly(demo: dict[str, Path]) -> None:
    meta = next(
        m for m in metas(demo["chat"]) if any(t.get("phenomenon") == "acknowledgement" for t in m["turns"])
    )
    broken = copy.deepcopy(meta)
    turn = next(t for t in broken["turns"] if t.get("phenomenon") == "acknowledgement")
    turn.update(respond=True, text="You're welcome.", emotion="normal")
    kinds = {f.kind for f in check_phenomena(meta["id"], broken, None, 16000)}
    assert kinds == {"phenomenon_reply"}
    turn.update(phenomenon="short_answer")
    assert "phenomenon_tag" in {f.kind for f in check_phenomena(meta["id"], broken, None, 16000)}
    assert check_phenomena(meta["id"], meta, None, 16000) == []


def test_bad_phenomena_in_a_recipe_get_one_line(tmp_path: Path) -> None:
    for phenomena, said in (({"giggle": 0.1}, "phenomena"), ({"hesitation": 1.5}, "phenomena/hesitation")):
        path = recipe(tmp_path, {"chat": {"share": 1.0, "phenomena": phenomena}}, streams=2)
        proc = cli("build", "--pipeline", str(path), "--out", str(tmp_path / "o"))
        assert proc.returncode == 1 and said in proc.stderr and "Traceback" not in proc.stderr
    for text, said in (("- not a mapping\n", "must be a mapping"), ("a: [b\n", "not valid YAML")):
        (tmp_path / "data.yaml").write_text(text)
        path = recipe(tmp_path, {"environment": {"share": 1.0, "data": "data.yaml"}}, streams=2)
        proc = cli("build", "--pipeline", str(path), "--out", str(tmp_path / "o"))
        assert proc.returncode == 1 and said in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    path = recipe(tmp_path, {"environment": {"share": 1.0, "data": "gone.yaml"}}, streams=2)
    proc = cli("build", "--pipeline", str(path), "--out", str(tmp_path / "o"))
    assert proc.returncode == 1 and "gone.yaml" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "eval"
    proc = cli("build", "--pipeline", str(ROOT / "pipelines" / "eval-interaction.yaml"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_the_evaluation_recipe_holds_every_phenomenon_100_times_in_unseen_words_and_voices(
    evaluation: Path,
) -> None:
    found = metas(evaluation)
    assert {m["split"] for m in found} == {"test"}
    counts = Counter(t["phenomenon"] for m in found for t in m["turns"] if "phenomenon" in t)
    assert all(counts[name] >= 100 for name in PHENOMENA), counts
    voices = {e["voice"].split(":", 1)[1] for m in found for e in m["events"] if e.get("voice")}
    assert voices and not voices & set(DEMO_VOICES)
    trained = {ex["question"] for ex in templates("environment")["exchanges"]}
    asked = {
        e["text"].removeprefix(e.get("addressing", "")).strip()
        for m in found
        for e in m["events"]
        if m["capability"] == "environment" and e["kind"] == "speech"
    }
    assert not asked & trained


def test_the_oracle_scores_perfectly_per_phenomenon(evaluation: Path, tmp_path: Path) -> None:
    result = run_harness([evaluation], make_backend("oracle"), tmp_path / "fdb")
    assert set(result.phenomena) == {*PHENOMENA, "overall"}
    for name, got in result.phenomena.items():
        assert got["takeover_rate"] in (None, 0.0) and got["response_rate"] in (None, 1.0), name
        assert got["latency_chunks"] in (None, 0.0), name
    turns = json.loads(next((tmp_path / "fdb").glob("*/output.json")).read_text())["turns"]
    assert turns and all({"phenomenon", "respond", "chunk", "start", "end"} <= set(t) for t in turns)

"""A capability added from outside: one module (here, a class in this test) plus its registration. A timer
answers a fixed time after it is set; the stream builds, validates, exports with the reply in the right
piece, and the oracle harness scores it at that latency. Every list of capabilities reads the registry."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from streamaudio.check.corpus import validate_corpus
from streamaudio.check.validate import schema
from streamaudio.plan.scenarios import SCENARIOS, Scenario, ScenarioConfig, register_capability
from streamaudio.plan.scenarios.base import Planned
from streamaudio.plan.spec import single
from streamaudio.plan.stream_plan import Segment
from streamaudio.protocol import CHUNK_SAMPLES, CHUNK_SECONDS, SAMPLE_RATE, reply_chunk
from streamaudio.use.export import export_upstream
from streamaudio.use.harness.backends import OracleBackend
from streamaudio.use.harness.run import run_harness
from streamaudio.use.hub import dataset_card
from streamaudio.write.build import build

TIMER_SECONDS = 4.0


class TimerScenario(Scenario):
    """Timers set by voice; each answers when it runs out."""

    name = "timer"
    summary = "answer when a timer set by voice runs out"

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        after = round(TIMER_SECONDS / CHUNK_SECONDS)
        segs = Planned()
        while not segs or segs.seconds + TIMER_SECONDS < target:
            ask = self.spoken("Set a timer for four seconds.", self.voice(rng))
            segs.append(
                replace(self.segment(rng, "instruction", ask, "Time is up!"), reply_after_chunks=after)
            )
        return segs


@pytest.fixture
def timer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(SCENARIOS, "timer", raising=False)
    register_capability(TimerScenario)
    yield
    SCENARIOS.pop("timer", None)


def test_a_registered_capability_builds_validates_exports_and_scores(timer: None, tmp_path: Path) -> None:
    out = tmp_path / "timer"
    config = ScenarioConfig(stream_seconds=(20.0, 30.0), background_prob=0.0)
    result = build(single("timer", out, streams=3, seed=1, config=config))
    assert result.streams == 3 and result.replies >= 6
    assert validate_corpus([out]).ok(strict=True)
    export = tmp_path / "export"
    export_upstream([out], export)
    lines = [json.loads(line) for line in (export / "online.jsonl").read_text().splitlines()]
    from helpers import read_shard

    metas = {
        meta["id"]: meta for meta, _, _ in read_shard(out / "shards" / "timer-train-000000.tar").values()
    }
    for line in lines:
        meta = metas[line["id"]]
        replies = [t for t in meta["turns"] if t["respond"]]
        assert [p["assistant"] for p in line["conversation"][: len(replies)]] == ["Time is up!"] * len(
            replies
        )
        elapsed = 0
        for piece, turn in zip(line["conversation"], replies, strict=False):
            elapsed += sf.info(piece["audio_path"]).frames
            trigger_end = meta["events"][turn["event"]]["end_sample"]
            assert reply_chunk(elapsed) == turn["chunk"]  # the builder's rule lands on the timer's chunk
            assert turn["chunk"] * CHUNK_SAMPLES >= trigger_end + TIMER_SECONDS * SAMPLE_RATE - CHUNK_SAMPLES
    scored = run_harness([out], OracleBackend()).metrics["timer"]
    assert scored["exact"]["f1"] == 1.0
    assert TIMER_SECONDS * 1000 <= scored["latency_ms"]["median"] < TIMER_SECONDS * 1000 + 500


def test_every_list_of_capabilities_is_the_registry(timer: None) -> None:
    assert "timer" in schema("stream")["properties"]["capability"]["enum"]
    assert "timer" in schema("pipeline")["properties"]["capabilities"]["propertyNames"]["enum"]
    card = dataset_card(
        {"streams": 1, "hours": 0.1, "replies": 1},
        "me/x",
        {"timer": {"train": ["a"]}},
        [],
        {"timer": 0.1},
        "mit",
    )
    assert "answer when a timer set by voice runs out" in card

"""Run a backend over a corpus: replay every stream through the loop, score it, write FDB-style output."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamaudio.protocol import CHUNK_SECONDS
from streamaudio.use.harness.loop import Backend, Emission, run_stream
from streamaudio.use.harness.metrics import score
from streamaudio.use.harness.phenomena import phenomenon_scores, turn_outcomes
from streamaudio.use.reader import iter_samples, shard_paths

WORD_SECONDS = 0.3  # nominal speaking time per word when placing reply words on the timeline


@dataclass
class HarnessResult:
    streams: int
    seconds: float
    elapsed: float
    metrics: dict[str, Any]
    session: dict[str, Any] | None = None  # a model backend's session stats (resets, dropped chunks, …)
    phenomena: dict[str, Any] = field(default_factory=dict)  # scores per interaction phenomenon

    @property
    def realtime_factor(self) -> float:
        return self.seconds / self.elapsed if self.elapsed else float("inf")


def fdb_output(emissions: list[Emission], turns: list[dict[str, Any]]) -> dict[str, Any]:
    """Full-Duplex-Bench style ``output.json``: the replies' words with timestamps (a reply is emitted
    after its chunk, so its words start at the chunk's end, ``WORD_SECONDS`` apart), and the stream's
    turns with their phenomenon and what the backend did there (``phenomena.turn_outcomes``)."""
    words = []
    for e in emissions:
        start = (e.chunk + 1) * CHUNK_SECONDS
        for k, word in enumerate(e.text.split() or ["<reply>"]):
            t0 = start + k * WORD_SECONDS
            words.append({"text": word, "timestamp": [round(t0, 3), round(t0 + WORD_SECONDS, 3)]})
    return {"text": " ".join(w["text"] for w in words), "chunks": words, "turns": turns}


def run_harness(
    targets: list[Path],
    backend: Backend,
    fdb_out: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> HarnessResult:
    results: list[tuple[dict[str, Any], list[Emission]]] = []
    outcomes: list[list[dict[str, Any]]] = []
    seconds = 0.0
    started = time.perf_counter()
    for tar in shard_paths(targets):
        for sample in iter_samples(tar):
            audio, sr = sample.audio()
            emissions = run_stream(audio, sample.meta, backend)
            results.append((sample.meta, emissions))
            outcomes.append(turn_outcomes(sample.meta, emissions))
            seconds += audio.shape[0] / sr
            if fdb_out is not None:
                folder = fdb_out / sample.key
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "output.json").write_text(
                    json.dumps(fdb_output(emissions, outcomes[-1]), ensure_ascii=False) + "\n"
                )
            if progress:
                progress(len(results))
    elapsed = time.perf_counter() - started
    stats = getattr(backend, "stats", None)
    return HarnessResult(
        len(results),
        seconds,
        elapsed,
        score(results),
        stats.to_dict() if stats else None,
        phenomenon_scores(outcomes),
    )

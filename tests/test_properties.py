"""Property tests: the stitcher's invariants over random plans, and source parsers under malformed rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streamaudio.plan.scenarios.base import uniform
from streamaudio.plan.stream_plan import Background, Segment, StreamPlan
from streamaudio.prepare.manifest import Clip, under
from streamaudio.prepare.sources import audioset, commonvoice, dialogue, run_prepare
from streamaudio.protocol import CHUNK_SAMPLES, SAMPLE_RATE, reply_chunk
from streamaudio.render.clips import ClipLoader
from streamaudio.render.stitch import render

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class SynthLoader(ClipLoader):
    """Clips of exactly their duration: a tone for speech (never trimmed), seeded noise for noise."""

    def _load(self, clip: Clip) -> np.ndarray:
        n = round(clip.duration * SAMPLE_RATE)
        if clip.source == "noise":
            return np.random.default_rng(len(clip.id)).standard_normal(n).astype(np.float32)
        t = np.arange(n) / SAMPLE_RATE
        return (0.5 * np.sin(2 * np.pi * (200 + 10 * len(clip.id)) * t)).astype(np.float32)


segment_specs = st.lists(
    st.tuples(st.integers(160, 60_000), st.integers(0, 40_000), st.floats(-40, 6), st.booleans()),
    min_size=1,
    max_size=8,
)


@SETTINGS
@given(
    specs=segment_specs,
    delay=st.integers(0, 3),
    tail=st.integers(0, 30_000),
    snr=st.one_of(st.none(), st.floats(-5, 40)),
)
def test_stitcher_invariants(
    specs: list[tuple[int, int, float, bool]], delay: int, tail: int, snr: float | None
) -> None:
    check_stitched(specs, delay, tail, snr)


def check_stitched(
    specs: list[tuple[int, int, float, bool]], delay: int, tail: int, snr: float | None
) -> None:
    """Render a plan of synthetic clips and check what every stream must hold."""
    segments = tuple(
        Segment(
            "speech",
            Clip(id=f"c{i}", source="t", duration=n / SAMPLE_RATE, path="x", text=f"u{i}"),
            gap / SAMPLE_RATE,
            None,
            level,
            respond,
            f"u{i}" if respond else None,
        )
        for i, (n, gap, level, respond) in enumerate(specs)
    )
    noise = (
        Background(Clip(id="n", source="noise", duration=3.0, path="x"), 0.3, snr)
        if snr is not None
        else None
    )
    plan = StreamPlan("p", "asr", "train", "en", 1, segments, tail / SAMPLE_RATE, None, noise, delay)
    r = render(plan, SynthLoader())
    meta, audio = r.meta, r.audio
    assert audio.size == meta["num_chunks"] * CHUNK_SAMPLES  # whole chunks
    assert audio.size >= sum(n for n, *_ in specs)  # every clip fits
    assert np.max(np.abs(audio)) <= 0.98 + 1e-6  # never clipped
    replying = [t for t in meta["turns"] if t["respond"]]
    chunks = [t["chunk"] for t in replying]
    assert len(chunks) == len(set(chunks))  # at most one reply per chunk
    assert {i for i, c in enumerate(meta["chunk_labels"]) if c == "B"} == set(chunks)
    for t in meta["turns"]:
        ev = meta["events"][t["event"]]
        assert t["chunk"] == reply_chunk(ev["end_sample"], delay) < meta["num_chunks"]
        assert 0 <= ev["start_sample"] < ev["end_sample"] <= audio.size
    if snr is not None and min(n for n, *_ in specs) >= 8000:  # SNR is defined over 20 ms analysis frames
        bg = next(e for e in meta["events"] if e.get("role") == "background")
        speech = np.zeros_like(audio)
        for e in meta["events"]:
            if e["kind"] == "speech":
                clip = SynthLoader().load(Clip(id=e["clip_id"], source="t", duration=1.0, path="x"))
                n = e["end_sample"] - e["start_sample"]
                tone = 0.5 * np.sin(2 * np.pi * (200 + 10 * len(e["clip_id"])) * np.arange(n) / SAMPLE_RATE)
                for k, edge in (
                    (e["fade_in_samples"], slice(None)),
                    (e["fade_out_samples"], slice(None, None, -1)),
                ):
                    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)  # raised cosine
                    tone[edge][:k] *= ramp
                speech[e["start_sample"] : e["end_sample"]] = tone * 10 ** (e["gain_db"] / 20)
                del clip
        noise_only = audio - speech
        speech_power = np.mean(
            np.concatenate(
                [speech[e["start_sample"] : e["end_sample"]] for e in meta["events"] if e["kind"] == "speech"]
            )
            ** 2
        )
        measured = 10 * np.log10(speech_power / np.mean(noise_only.astype(np.float64) ** 2))
        assert abs(measured - bg["snr_db"]) < 0.5


@SETTINGS
@given(
    rows=st.lists(
        st.lists(
            st.text(
                alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\t\n\r"),
                max_size=12,
            ),
            min_size=0,
            max_size=9,
        ),
        max_size=25,
    )
)
@example(rows=[["", ""], ["", ""]])  # lines of a lone tab: rows of empty fields
@example(rows=[["", "\x00", "0", "", "", "", "", ""]])  # a NUL in a path: no such file, not a crash
def test_commonvoice_parser_accounts_for_every_row(tmp_path_factory, rows: list[list[str]]) -> None:
    loc = tmp_path_factory.mktemp("cv") / "en"
    (loc / "clips").mkdir(parents=True)
    header = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent"
    lines = [header] + ["\t".join(r) for r in rows]
    (loc / "validated.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    nonblank = sum(1 for r in rows if "\t".join(r))  # a line of tabs is a row (of empty fields), not blank
    report = run_prepare(commonvoice.scan(loc), tmp_path_factory.mktemp("o") / "m.jsonl")
    assert report.read == report.kept + sum(report.rejected.values())
    assert report.kept == 0 and report.read <= nonblank + 1  # no clip exists, so nothing can be kept


@SETTINGS
@given(lines=st.lists(st.text(max_size=60), max_size=20))
def test_audioset_and_dialogue_parsers_survive_garbage(tmp_path_factory, lines: list[str]) -> None:
    root = tmp_path_factory.mktemp("fz")
    (root / "audio").mkdir()
    csv = root / "segments.csv"
    csv.write_text(
        "# c\n# c\n# YTID, start_seconds, end_seconds, positive_labels\n" + "\n".join(lines) + "\n",
        encoding="utf-8",
    )
    report = run_prepare(audioset.scan_segments(csv, root / "audio", {}), root / "a.jsonl")
    assert report.kept == 0 and report.read == sum(report.rejected.values())
    chats = root / "chats.jsonl"
    chats.write_text(
        "\n".join(
            [
                *lines,
                json.dumps(
                    {
                        "messages": [
                            {"role": "user", "content": "hi"},
                            {"role": "assistant", "content": "hello"},
                        ]
                    }
                ),
            ]
        ),
        encoding="utf-8",
    )
    rep = dialogue.prepare(chats, "messages", root / "d.jsonl")
    assert rep.kept >= 1 and rep.read == rep.kept + sum(rep.rejected.values())
    assert not [p.name for p in root.iterdir() if "partial" in p.name]  # outputs are renamed into place


TIMES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from(["nan", "inf", "-inf", "-1", "-0.5", "1e999", "NaN", "30.000"]),
)


@SETTINGS
@given(times=st.lists(st.tuples(TIMES, TIMES), min_size=1, max_size=8))
def test_audioset_rejects_impossible_times(tmp_path_factory, times: list[tuple]) -> None:
    """nan, inf, negative or reversed start/end times: a reject with its reason, never a crash."""
    root = tmp_path_factory.mktemp("as")
    (root / "audio").mkdir()
    rows = [f'vid{i}, {start}, {end}, "/m/09x0r"' for i, (start, end) in enumerate(times)]
    for i in range(len(times)):
        (root / "audio" / f"Yvid{i}.wav").write_bytes(b"")  # found by YTID; never probed when rejected
    csv = root / "segments.csv"
    csv.write_text("# YTID, start_seconds, end_seconds, positive_labels\n" + "\n".join(rows) + "\n")
    items = list(audioset.scan_segments(csv, root / "audio", {}))
    assert len(items) == len(times)
    for item, (start, end) in zip(items, times, strict=True):
        s, e = float(start), float(end)
        bad = not (math.isfinite(s) and math.isfinite(e)) or s < 0 or e <= s
        assert (getattr(item, "reason", None) == "bad_times") == bad, (start, end, item)


@SETTINGS
@given(
    specs=st.lists(
        st.tuples(st.integers(8000, 40_000), st.integers(0, 20_000), st.floats(-40, 6), st.booleans()),
        min_size=1,
        max_size=5,
    ),
    snr=st.floats(-5, 40),
)
def test_background_snr_holds_for_any_levels(specs: list[tuple[int, int, float, bool]], snr: float) -> None:
    check_stitched(specs, delay=0, tail=0, snr=snr)


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from(["/", "/data", "/data/cv/", "/a b/ü"]),
    path=st.text(alphabet="ab./ ü", min_size=1, max_size=12).filter(lambda p: not p.startswith("/")),
)
@example(base="/data", path="./clips/x.mp3")
@example(base="/data", path="clips//x.mp3")
@example(base="/data", path="clips/../x.mp3")
@example(base="/", path="x.wav")
def test_manifest_paths_resolve_as_pathlib_does(base: str, path: str) -> None:
    assert under(Path(base), path) == str(Path(base) / path)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lo=st.floats(-100, 100), width=st.floats(0.001, 100))
def test_uniform_draws_what_numpy_draws(seed: int, lo: float, width: float) -> None:
    ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
    for _ in range(5):
        assert uniform(ours, (lo, lo + width)) == numpys.uniform(lo, lo + width)

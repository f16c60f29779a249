"""Every capability on the built-in demo data: contract, and the semantics of when to speak."""

from __future__ import annotations

import copy
import itertools
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from helpers import CAPABILITIES, read_shard

from streamaudio.check.validate import check_sample
from streamaudio.plan.ontology import audioset
from streamaudio.plan.phenomena import reply_parts
from streamaudio.plan.scenarios import SCENARIOS
from streamaudio.plan.scenarios.base import templates
from streamaudio.plan.scenarios.chat import split_options
from streamaudio.plan.spec import BuildError, single
from streamaudio.prepare.demo import DIALOGUES_MANIFEST, manifest_path
from streamaudio.prepare.dialogues import read_dialogues
from streamaudio.protocol import SAMPLE_RATE
from streamaudio.write.build import build


@pytest.fixture(scope="module")
def built(capability_builds: Path) -> dict[str, list[dict]]:
    """capability -> samples (meta, with audio under "_audio"), 6 demo streams each."""
    out = {}
    for cap in CAPABILITIES:
        samples = []
        for tar in sorted((capability_builds / cap / "shards").glob("*.tar")):
            for meta, audio, sr in read_shard(tar).values():
                assert check_sample(meta, audio, sr) == [], meta["id"]
                samples.append({**meta, "_audio": audio})
        out[cap] = samples
    return out


def turns_of(samples: list[dict]) -> list[tuple[dict, dict, dict]]:
    """(sample, turn, its event) for every turn."""
    return [(s, t, s["events"][t["event"]]) for s in samples for t in s["turns"]]


def test_all_seven_are_known() -> None:
    assert sorted(SCENARIOS) == sorted(CAPABILITIES)


@pytest.mark.parametrize("cap", CAPABILITIES)
def test_every_capability_builds_contract_true_streams(built: dict, cap: str) -> None:
    samples = built[cap]
    assert len(samples) == 6 and all(s["capability"] == cap for s in samples)
    replies = sum(s["chunk_labels"].count("B") for s in samples)
    silent = sum(not t["respond"] for s in samples for t in s["turns"])
    assert replies > 0
    assert sum(s["chunk_labels"].count("S") for s in samples) > 3 * replies
    if cap not in ("s2tt", "counting"):  # these answer every event; their silence is between events
        assert silent > 0, "the capability also teaches which events to leave unanswered"


def test_asr_sounds_between_utterances_stay_silent(built: dict) -> None:
    sounds = [(t, e) for _, t, e in turns_of(built["asr"]) if e["kind"] == "sound"]
    assert sounds and all(not t["respond"] for t, _ in sounds)
    speech = [(t, e) for _, t, e in turns_of(built["asr"]) if e["kind"] == "speech"]
    assert all(t["respond"] and t["text"] == e["text"] for t, e in speech)


def test_s2tt_replies_are_translations_into_the_named_language(built: dict) -> None:
    for s in built["s2tt"]:
        opening = s["events"][0]
        assert opening["kind"] == "instruction" and "German" in opening["text"]
        assert "German" in s["turns"][0]["text"]
        for t in s["turns"][1:]:
            ev = s["events"][t["event"]]
            assert t["text"] == ev["translation"] != ev["text"]


def test_s2tt_without_translations_says_so_and_stops(tmp_path: Path) -> None:
    rows = [
        {"id": f"c{i}", "source": "cv", "tts": {"voice": "en-us"}, "duration": 2.0, "text": "Hello there."}
        for i in range(3)
    ]
    manifest = tmp_path / "cv.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(BuildError, match=r"no_translation 3.*prepare covost2"):
        build(single("s2tt", tmp_path / "o", streams=2, sources=(("cv", manifest),)))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamaudio.cli",
            "build",
            "--capability",
            "s2tt",
            "--source",
            f"cv={manifest}",
            "--out",
            str(tmp_path / "o2"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "translation" in proc.stderr and "Traceback" not in proc.stderr


SHORT = set(templates("phenomena")["short_utterances"])


def test_chat_pauses_never_reply_and_replies_are_the_assistant_turns(built: dict) -> None:
    dialogues = {d.id: d for d in read_dialogues(manifest_path(DIALOGUES_MANIFEST))}
    pauses = 0
    for s in built["chat"]:
        events = s["events"]
        for t in s["turns"]:
            ev = events[t["event"]]
            exchanges = dialogues[ev["dialogue"]].exchanges()
            user, assistant = exchanges[ev["exchange"]]
            if ev.get("pause_follows"):
                pauses += 1
                assert not t["respond"]
                after = events[t["event"] + 1]
                assert after["after_pause"] and after["exchange"] == ev["exchange"]
                pause = (after["start_sample"] - ev["end_sample"]) / SAMPLE_RATE
                assert 0.8 <= pause <= 2.4  # as long as the gaps between turns
                assert f"{ev['text']} {after['text']}" == user
                chunks = range(t["chunk"], s["turns"][s["turns"].index(t) + 1]["chunk"])
                assert all(s["chunk_labels"][c] == "S" for c in chunks)
            elif ev.get("hesitation"):  # a filler or restart: silent, and the whole turn comes next
                assert not t["respond"] and events[t["event"] + 1]["text"] == user
            elif ev.get("phenomenon") == "acknowledgement":  # after a reply, silent
                assert not t["respond"] and ev["text"] in SHORT
            elif ev.get("phenomenon") == "short_answer":  # the rest of the reply that asked to go on
                asked = s["turns"][s["turns"].index(t) - 1]["text"]
                head, rest = reply_parts(assistant)
                assert ev["text"] in SHORT and t["text"] == rest and asked.startswith(head + " ")
            else:
                asked = t["respond"] and t["text"] != assistant
                assert t["respond"] and (t["text"] == assistant or (asked and t["text"].endswith("?")))
    assert pauses > 0


def test_split_options_prefer_punctuation() -> None:
    assert split_options("I would like to go out tonight, but not far.") == (
        ("I would like to go out tonight,", "but not far."),
    )
    text = "one two three four five six seven eight nine ten"
    [(first, second)] = split_options(text)
    assert 6 <= len(first.split()) <= 7 and len(second.split()) >= 3  # late in the turn: 60-95% of it
    assert split_options(text) == ((first, second),)  # the same cut every time, so it can be spoken ahead
    long = " ".join(f"word{i}" for i in range(30))
    cuts = {len(split_options(f"{w} {long}")[0][0].split()) for w in "abcdefgh"}
    assert len(cuts) > 1  # drawn from the text: different turns pause at different places
    assert split_options("Too short here.") == ()
    many = "Well, you know, I think, perhaps, maybe, we could, in the end, go out, or stay in, tonight."
    assert 1 <= len(split_options(many)) <= 3


def test_understanding_answers_follow_the_labels(built: dict) -> None:
    onto = audioset()
    before = after = 0
    for s in built["understanding"]:
        for t in s["turns"]:
            ev = s["events"][t["event"]]
            if not t["respond"]:
                continue
            if ev["kind"] == "sound":  # asked before the sound: the answer waits for the sound's end
                question, sound = s["events"][t["event"] - 1], ev
                assert question["asks_about"] == "next"
                before += 1
            else:
                question, sound = ev, s["events"][t["event"] - 1]
                assert sound["kind"] == "sound" and question["asks_about"] == "previous"
                after += 1
            name = sound["label_names"][0].split(",")[0].lower()
            assert name in t["text"].lower()
            if question["question"] == "category":
                assert question["answer_yes"] == onto.is_a(sound["labels"], question["category"])
                assert t["text"].startswith(("Yes", "It is")) == question["answer_yes"]
    assert before and after


def test_proactive_policy(built: dict) -> None:
    turns = [(t, e) for _, t, e in turns_of(built["proactive"])]
    by_policy = Counter((e["policy"], t["respond"]) for t, e in turns)
    assert any(r for (_, r) in by_policy) and any(not r for (_, r) in by_policy)
    for t, e in turns:
        if e["policy"] in ("smoke alarm", "siren"):
            assert t["respond"] and t["emotion"] == "urgent"
        if e["policy"] in ("music", "typing", "rain", "traffic"):
            assert not t["respond"]


def test_environment_replies_only_to_addressed_speech(built: dict) -> None:
    wake = tuple(templates("environment")["wake_phrases"])
    overlaps = follow_ups = 0
    levels: dict[str, list[float]] = {"addressed": [], "background": []}

    def level(audio: np.ndarray, ev: dict) -> float:
        return 10 * np.log10(np.mean(np.square(audio[ev["start_sample"] : ev["end_sample"]])) + 1e-12)

    for s in built["environment"]:
        events = s["events"]
        live = [e for e in events if e["kind"] == "speech" and e.get("role") != "media"]
        for t in s["turns"]:
            ev = events[t["event"]]
            assert t["respond"] == (ev["addressed"] and not ev.get("hesitation"))  # a filler waits
            if ev["addressed"] and not ev.get("follow_up") and not ev.get("hesitation"):
                assert ev["text"].startswith(wake)
            if ev.get("follow_up"):
                follow_ups += 1
                assert not ev["text"].startswith(wake) and live[live.index(ev) - 1]["addressed"]
        talk = live
        for a, b in itertools.pairwise(talk):
            overlaps += b["start_sample"] < a["end_sample"]
        levels["addressed"] += [level(s["_audio"], e) for e in talk if e["addressed"]]
        levels["background"] += [level(s["_audio"], e) for e in talk if not e["addressed"]]
    assert overlaps > 0 and follow_ups > 0
    # how loud a voice is does not tell who is addressed: some background talk is louder than some
    # addressed speech, and the two share their middle
    assert max(levels["background"]) > min(levels["addressed"]) + 3
    assert abs(np.median(levels["background"]) - np.median(levels["addressed"])) < 3


def test_counting_counts_each_repetition_in_order(built: dict) -> None:
    words = templates("counting")["counts"]
    episodes = 0
    for s in built["counting"]:
        replies: list[str] = []
        clip = None
        for t in s["turns"] + [None]:
            ev = s["events"][t["event"]] if t else None
            if t is None or ev.get("counting") == "start":
                if replies:
                    assert replies == words[: len(replies)] and 2 <= len(replies) <= 8
                    episodes += 1
                replies, clip = [], None
                continue
            assert ev["kind"] == "sound" and t["respond"]
            assert clip in (None, ev["clip_id"])  # the same sound each time
            clip = ev["clip_id"]
            replies.append(t["text"])
    assert episodes >= 6


def test_validator_catches_semantic_faults(built: dict) -> None:
    chat = next(s for s in built["chat"] if any(e.get("pause_follows") for e in s["events"]))
    broken = copy.deepcopy({k: v for k, v in chat.items() if k != "_audio"})
    turn = next(t for t in broken["turns"] if broken["events"][t["event"]].get("pause_follows"))
    turn.update(respond=True, text="Too early!", emotion="normal")
    labels = list(broken["chunk_labels"])
    labels[turn["chunk"]] = "B"
    broken["chunk_labels"] = "".join(labels)
    kinds = {f.kind for f in check_sample(broken, chat["_audio"], SAMPLE_RATE)}
    assert "reply_in_pause" in kinds

    counting = copy.deepcopy({k: v for k, v in built["counting"][0].items() if k != "_audio"})
    counted = [t for t in counting["turns"] if "count" in counting["events"][t["event"]]]
    counted[0]["text"], counted[1]["text"] = counted[1]["text"], counted[0]["text"]
    assert "count_order" in {
        f.kind for f in check_sample(counting, built["counting"][0]["_audio"], SAMPLE_RATE)
    }

    s2tt = copy.deepcopy({k: v for k, v in built["s2tt"][0].items() if k != "_audio"})
    s2tt["turns"][1]["text"] = s2tt["events"][s2tt["turns"][1]["event"]]["text"]
    assert "s2tt_translation" in {f.kind for f in check_sample(s2tt, built["s2tt"][0]["_audio"], SAMPLE_RATE)}

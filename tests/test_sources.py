"""Source adapters on fixtures in each corpus's real layout, made from real recordings, with its faults."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from helpers import read_shard
from recordings import ALSA, BUCKLE, FREEDESKTOP, librivox, require, truncate, write_as

from streamaudio.check.validate import check_sample, schema
from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.plan.spec import single
from streamaudio.prepare.manifest import read_clips
from streamaudio.prepare.sources import (
    SourceError,
    audioset,
    commonvoice,
    covost2,
    dialogue,
    noise_sets,
    rejects_path,
    run_prepare,
    user_list,
)
from streamaudio.write.build import build

ONTOLOGY = Path(__file__).parent / "data" / "audioset_ontology.json"  # the real ontology.json, CC BY-SA 4.0

HEADERS = {
    "v3": "client_id path sentence up_votes down_votes age gender accent",
    "v5": "client_id path sentence up_votes down_votes age gender accent locale segment",
    "v8": "client_id path sentence up_votes down_votes age gender accents locale segment",
    "v13": "client_id path sentence up_votes down_votes age gender accents variant locale segment",
    "v17": "client_id path sentence_id sentence sentence_domain up_votes down_votes age gender accents "
    "variant locale segment",
}


def _rejects(out: Path) -> dict[str, str]:
    return {r["clip_id"]: r["reason"] for r in map(json.loads, rejects_path(out).read_text().splitlines())}


def make_commonvoice(root: Path, version: str, durations: bool) -> Path:
    """A Common Voice locale folder: 5 good clips (48 kHz mono and 44.1 kHz stereo MP3) and every fault."""
    loc = root / "en"
    clips = loc / "clips"
    rows = []
    for i, (wav, text) in enumerate(librivox()):
        rate, channels = (44100, 2) if i == 1 else (48000, 1)
        write_as(wav, clips / f"common_voice_en_{i}.mp3", rate, channels)
        rows.append((f"common_voice_en_{i}.mp3", text))
    write_as(librivox()[0][0], clips / "common_voice_en_trunc.mp3", 48000)
    truncate(clips / "common_voice_en_trunc.mp3", 0.15)
    (clips / "common_voice_en_empty.mp3").write_bytes(b"")
    (clips / "common_voice_en_garbage.mp3").write_bytes(os.urandom(40_000))
    write_as(librivox()[2][0], clips / "common_voice_en_nosentence.mp3", 48000)
    rows += [
        ("common_voice_en_trunc.mp3", "cut short"),
        ("common_voice_en_empty.mp3", "nothing here"),
        ("common_voice_en_garbage.mp3", "noise not audio"),
        ("common_voice_en_missing.mp3", "gone"),
        ("common_voice_en_nosentence.mp3", "   "),
    ]
    header = HEADERS[version].split()
    lines = ["\t".join(header)]
    for path, sentence in rows:
        values = {
            "client_id": f"spk{len(lines) % 3}",
            "path": path,
            "sentence": sentence,
            "up_votes": "2",
            "down_votes": "0",
            "age": "twenties",
            "gender": "female",
            "locale": "en",
            "segment": "",
        }
        lines.append("\t".join(values.get(h, "") for h in header))
    lines.append("\t".join(["spk9", "common_voice_en_0.mp3", "a duplicate row"] + [""] * (len(header) - 3)))
    lines.append("too\tfew\tfields")
    lines.insert(3, lines[1].replace('"', ""))  # a quote-free duplicate of the first row
    lines[1] = lines[1].replace("and mister", 'and "mister')  # quotes are text, never quoting
    loc.mkdir(parents=True, exist_ok=True)
    (loc / "validated.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if durations:
        ms = ["clip\tduration[ms]"]
        for path, _ in rows:
            try:
                seconds = sf.info(clips / path).duration
            except (sf.LibsndfileError, RuntimeError):
                seconds = 3.0  # what a release lists for a file that is broken on disk
            ms.append(f"{path}\t{int(seconds * 1000)}")
        (loc / "clip_durations.tsv").write_text("\n".join(ms) + "\n")
    return loc


@pytest.mark.parametrize("version", list(HEADERS))
def test_commonvoice_every_header_version_probing_headers(tmp_path: Path, version: str) -> None:
    loc = make_commonvoice(tmp_path, version, durations=False)
    out = tmp_path / "cv.jsonl.gz"
    report = run_prepare(commonvoice.scan(loc), out, workers=2)
    kept = list(read_clips(out))
    assert [c.id for c in kept] == [f"common_voice_en_{i}.mp3" for i in range(5)]
    assert report.kept == 5 and report.read == 13
    assert dict(report.rejected) == {
        "truncated": 1,
        "empty_file": 1,
        "undecodable": 1,
        "missing_file": 1,
        "empty_sentence": 1,
        "duplicate": 2,
        "malformed_row": 1,
    }
    rejects = _rejects(out)
    assert rejects["common_voice_en_trunc.mp3"] == "truncated"
    assert rejects["common_voice_en_garbage.mp3"] == "undecodable"
    first = kept[0]
    assert first.text.startswith('and "mister john dashwood')
    assert first.language == "en" and first.split == "validated" and first.speaker
    assert first.sample_rate == 48000 and abs(first.duration - sf.info(librivox()[0][0]).duration) < 0.1
    assert kept[1].sample_rate == 44100 and kept[1].channels == 2
    accent_key = "accent" if version == "v3" else "accents"
    assert accent_key not in first.extra  # empty columns are not carried
    with gzip.open(out, "rt") as f:
        for line in f:
            jsonschema.validate(json.loads(line), schema("clip"))


def test_commonvoice_with_clip_durations_and_no_probe_opens_no_audio(tmp_path: Path) -> None:
    loc = make_commonvoice(tmp_path, "v17", durations=True)
    out = tmp_path / "cv.jsonl"
    report = run_prepare(commonvoice.scan(loc, probe=False), out)
    assert report.decoder_warnings == 0
    kept = {c.id: c for c in read_clips(out)}
    # undecodable bytes look fine without opening them: they are caught at build time
    assert set(kept) == {f"common_voice_en_{i}.mp3" for i in range(5)} | {"common_voice_en_garbage.mp3"}
    assert kept["common_voice_en_0.mp3"].sample_rate is None  # header never read, and the report says so
    assert report.unprobed == 6 and "6 kept without probing (--no-probe)" in report.summary()
    assert dict(report.rejected) == {
        "truncated": 1,
        "empty_file": 1,
        "missing_file": 1,
        "empty_sentence": 1,
        "duplicate": 2,
        "malformed_row": 1,
    }


def test_commonvoice_probes_by_default_and_rejects_zero_ms(tmp_path: Path) -> None:
    loc = make_commonvoice(tmp_path, "v17", durations=True)
    listing = loc / "clip_durations.tsv"
    lines = listing.read_text().splitlines()
    zero = [f"{x.split()[0]}\t0" if x.startswith("common_voice_en_3.mp3") else x for x in lines]
    listing.write_text("\n".join(zero) + "\n")
    out = tmp_path / "cv.jsonl"
    report = run_prepare(commonvoice.scan(loc), out)
    kept = list(read_clips(out))
    assert all(c.sample_rate in (44100, 48000) and c.channels in (1, 2) for c in kept)  # every row
    assert report.unprobed == 0 and report.rejected["undecodable"] == 1
    assert _rejects(out)["common_voice_en_3.mp3"] == "empty_audio"  # listed as 0 ms: never an invented 1 s
    assert report.kept == 4


def test_commonvoice_language_from_folder_and_missing_split(tmp_path: Path) -> None:
    loc = make_commonvoice(tmp_path, "v3", durations=False)
    assert next(c for c in commonvoice.scan(loc) if hasattr(c, "clip")).clip.language == "en"
    with pytest.raises(SourceError, match=r"train\.tsv"):
        list(commonvoice.scan(loc, split="train"))


def test_build_from_prepared_commonvoice_and_musan_noise(tmp_path: Path) -> None:
    loc = make_commonvoice(tmp_path / "cv", "v17", durations=True)
    cv = tmp_path / "cv.jsonl.gz"
    run_prepare(commonvoice.scan(loc, probe=False), cv)  # the garbage file is then found by the build
    musan = make_musan(tmp_path / "musan")
    noise = tmp_path / "musan.jsonl.gz"
    run_prepare(noise_sets.scan_musan(musan, ("noise", "music")), noise)
    out = tmp_path / "asr"
    result = build(
        single(
            "asr",
            out,
            streams=4,
            seed=2,
            sources=(("commonvoice", cv),),
            noise=(noise,),
            config=ScenarioConfig(stream_seconds=(20, 30)),
            max_failed_clips=0.2,  # the garbage file fails where it is drawn: those streams are left out
        )
    )
    assert result.streams == 4 - len(result.dropped)
    used = set()
    for tar in (out / "shards").glob("*.tar"):
        for meta, audio, sr in read_shard(tar).values():
            assert check_sample(meta, audio, sr) == []
            used |= {e["clip_id"] for e in meta["events"] if e["source"] == "commonvoice"}
            assert {e["source"] for e in meta["events"] if e["kind"] == "noise"} <= {"musan"}
    good = {f"common_voice_en_{i}.mp3" for i in range(5)}
    assert used <= good and len(used) >= 4  # (a clip drawn only beside the garbage one left with its stream)
    rejected = {r["clip_id"]: r for r in map(json.loads, (out / "rejected.jsonl").read_text().splitlines())}
    assert rejected["common_voice_en_garbage.mp3"]["reason"] == "decode_error"  # found while building
    assert rejected["common_voice_en_garbage.mp3"]["stream"] in result.dropped
    assert rejected["common_voice_en_trunc.mp3"]["stage"] == "prepare"  # carried over from prepare
    assert rejected["musan-music-broken"]["reason"] == "undecodable"  # from the noise manifest


def test_covost2_joins_on_path(tmp_path: Path) -> None:
    loc = make_commonvoice(tmp_path, "v5", durations=False)
    tsv = tmp_path / "covost_v2.en_de.tsv"
    tsv.write_text(
        "path\ttranslation\tsplit\n"
        "common_voice_en_0.mp3\tund Herr John Dashwood hatte dann Muße\ttrain\n"
        "common_voice_en_1.mp3\ter war kein übel gesinnter junger Mann\tdev\n"
        "common_voice_en_garbage.mp3\tRauschen\ttest\n"
        "common_voice_en_404.mp3\tnirgends\ttrain\n"
        "common_voice_en_2.mp3\t\ttrain\n",
        encoding="utf-8",
    )
    out = tmp_path / "covost.parquet"
    report = run_prepare(covost2.scan(tsv, loc), out)
    kept = list(read_clips(out))
    assert [(c.id, c.split) for c in kept] == [
        ("common_voice_en_0.mp3", "train"),
        ("common_voice_en_1.mp3", "dev"),
    ]
    assert kept[1].translation == "er war kein übel gesinnter junger Mann"
    assert kept[1].text == "he was not an ill disposed young man"
    assert (kept[0].language, kept[0].target_language, kept[0].source) == ("en", "de", "covost2")
    assert dict(report.rejected) == {"undecodable": 1, "not_in_commonvoice": 1, "empty_translation": 1}
    with pytest.raises(SourceError, match="covost_v2"):
        covost2.languages(tmp_path / "translations.tsv")


def make_audioset(root: Path) -> tuple[Path, Path]:
    audio = root / "audio"
    write_as(FREEDESKTOP / "bell.oga", audio / "Y--PJHxphWEs.wav", 32000)  # PANNs layout
    write_as(FREEDESKTOP / "complete.oga", audio / "sub" / "abc123_30.flac", 44100, 2)
    write_as(ALSA / "Front_Center.wav", audio / "Yxyz789_5.000_15.000.wav", 48000)
    long = audio / "full_video.wav"  # a whole recording: the 2.0-3.0 s segment must be cut from it
    write_as(librivox()[0][0], long, 16000)  # 6 s, past the end at 3 s
    (audio / "Ybroken1.wav").write_bytes(b"RIFF" + os.urandom(3000))
    csv = root / "balanced_train_segments.csv"
    csv.write_text(
        "# Segments csv created Sun Mar  5 10:54:31 2017\n"
        "# num_ytids=6, num_segs=6, num_unique_labels=4, num_positive_labels=7\n"
        "# YTID, start_seconds, end_seconds, positive_labels\n"
        '--PJHxphWEs, 30.000, 40.000, "/m/0395lw,/m/07pp_mv"\n'
        'abc123, 30.000, 40.000, "/m/09x0r"\n'
        'xyz789, 5.000, 15.000, "/m/09x0r,/m/05zppz"\n'
        'full_video, 2.000, 3.000, "/m/07cx4"\n'
        'gone42, 0.000, 10.000, "/m/0jbk"\n'
        'broken1, 0.000, 10.000, "/m/0jbk"\n'
        "bad row without labels\n"
    )
    return csv, audio


def test_audioset_segments_and_layouts(tmp_path: Path) -> None:
    csv, audio = make_audioset(tmp_path)
    names = audioset.read_ontology(require(ONTOLOGY))
    out = tmp_path / "as.jsonl.gz"
    report = run_prepare(audioset.scan_segments(csv, audio, names), out, workers=2)
    kept = {c.id: c for c in read_clips(out)}
    assert set(kept) == {"--PJHxphWEs_30", "abc123_30", "xyz789_5", "full_video_2"}
    assert kept["--PJHxphWEs_30"].label_names == ("Bell", "Alarm")
    assert kept["xyz789_5"].label_names == ("Speech", "Male speech, man speaking")
    assert kept["abc123_30"].path.endswith("sub/abc123_30.flac") and kept["abc123_30"].channels == 2
    whole = kept["full_video_2"]
    assert whole.segment and whole.offset == 2.0 and whole.duration == 1.0
    assert not kept["xyz789_5"].segment  # the file is the segment already cut
    assert dict(report.rejected) == {"missing_audio": 1, "undecodable": 1, "malformed_row": 1}
    labels_csv = tmp_path / "class_labels_indices.csv"
    labels_csv.write_text(
        'index,mid,display_name\n0,/m/09x0r,"Speech"\n1,/m/05zppz,"Male speech, man speaking"\n'
    )
    assert audioset.read_label_csv(labels_csv)["/m/05zppz"] == "Male speech, man speaking"


def test_audioset_hub_parquet(tmp_path: Path) -> None:
    flac = write_as(FREEDESKTOP / "bell.oga", tmp_path / "x.flac", 48000).read_bytes()
    table = pa.Table.from_pylist(
        [
            {
                "video_id": "-abc",
                "audio": {"bytes": flac, "path": "-abc.flac"},
                "labels": ["/m/0395lw"],
                "human_labels": ["Bell"],
            },
            {
                "video_id": "noaudio",
                "audio": {"bytes": None, "path": None},
                "labels": ["/m/0jbk"],
                "human_labels": [],
            },
        ]
    )
    (tmp_path / "hub").mkdir()
    pq.write_table(table, tmp_path / "hub" / "train-00000.parquet")
    out = tmp_path / "hub.jsonl.gz"
    report = run_prepare(audioset.scan_hub(tmp_path / "hub", tmp_path / "audio", {}), out)
    (clip,) = read_clips(out)
    assert clip.id == "-abc" and clip.label_names == ("Bell",) and Path(clip.path).read_bytes() == flac
    assert clip.sample_rate == 48000 and report.rejected == {"missing_audio": 1}


def make_musan(root: Path) -> Path:
    keys = sorted(require(BUCKLE).glob("*.wav"))
    for i, key in enumerate(keys[:3]):
        write_as(key, root / "noise" / "free-sound" / f"noise-free-sound-{i:04d}.wav", 16000)
    (root / "noise" / "free-sound" / "ANNOTATIONS").write_text(
        "noise-free-sound-0000 http://example.org/keys\n"
    )
    write_as(FREEDESKTOP / "complete.oga", root / "music" / "fma" / "music-fma-0000.wav", 16000)
    (root / "music" / "fma" / "ANNOTATIONS").write_text("music-fma-0000 Jazz N Someone Nobody\n")
    (root / "music" / "fma" / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    write_as(librivox()[1][0], root / "speech" / "librivox" / "speech-librivox-0000.wav", 16000)
    return root


def test_musan_parts_sources_and_annotations(tmp_path: Path) -> None:
    root = make_musan(tmp_path / "musan")
    out = tmp_path / "musan.jsonl"
    report = run_prepare(noise_sets.scan_musan(root), out)
    kept = {c.id: c for c in read_clips(out)}
    assert len(kept) == 5 and report.rejected == {"undecodable": 1}
    assert kept["musan-noise-noise-free-sound-0000"].extra["musan_source"] == "free-sound"
    assert kept["musan-noise-noise-free-sound-0000"].extra["annotation"] == "http://example.org/keys"
    music = kept["musan-music-music-fma-0000"]
    assert music.category == "music" and music.extra["genre"] == "Jazz" and music.extra["vocals"] == "N"
    only_noise = run_prepare(noise_sets.scan_musan(root, ("noise",)), tmp_path / "n.jsonl")
    assert only_noise.kept == 3
    with pytest.raises(SourceError):
        list(noise_sets.scan_musan(tmp_path / "nowhere"))


def test_esc50_and_noise_folder(tmp_path: Path) -> None:
    esc = tmp_path / "ESC-50"
    write_as(sorted(BUCKLE.glob("*.wav"))[5], esc / "audio" / "1-100032-A-0.wav", 44100)
    write_as(FREEDESKTOP / "bell.oga", esc / "audio" / "1-100038-A-14.wav", 44100)
    (esc / "meta").mkdir()
    (esc / "meta" / "esc50.csv").write_text(
        "filename,fold,target,category,esc10,src_file,take\n"
        "1-100032-A-0.wav,1,0,keyboard_typing,False,100032,A\n"
        "1-100038-A-14.wav,1,14,church_bells,False,100038,A\n"
        "1-404-A-1.wav,2,1,rooster,True,404,A\n"
        ",3,,,,,\n"
    )
    out = tmp_path / "esc.jsonl"
    report = run_prepare(noise_sets.scan_esc50(esc), out)
    kept = {c.id: c for c in read_clips(out)}
    assert kept["1-100032-A-0"].category == "keyboard_typing" and kept["1-100032-A-0"].extra["fold"] == "1"
    assert kept["1-100038-A-14"].label_names == ("church bells",)
    assert "CC BY-NC" in kept["1-100038-A-14"].extra["license"]
    assert report.rejected == {"missing_file": 1, "malformed_row": 1}

    folder = tmp_path / "noises"
    write_as(FREEDESKTOP / "bell.oga", folder / "bells" / "a.ogg", 44100, 2, fmt="OGG")
    write_as(ALSA / "Noise.wav", folder / "white.wav", 48000)
    (folder / "notes.txt").write_text("not audio")
    (folder / "bells" / "bad.flac").write_bytes(b"fLaC-not-really")
    out = tmp_path / "dir.parquet"
    report = run_prepare(noise_sets.scan_folder(folder), out)
    kept = {c.id: c for c in read_clips(out)}
    assert set(kept) == {"bells/a", "white"} and kept["bells/a"].category == "bells"
    assert report.rejected == {"undecodable": 1}


def test_user_list_csv_and_jsonl(tmp_path: Path) -> None:
    wav, text = librivox()[3]
    write_as(wav, tmp_path / "clips" / "one.wav", 16000)
    (tmp_path / "list.csv").write_text(f'path,text,speaker\nclips/one.wav,"{text}",me\nclips/none.wav,x,me\n')
    out = tmp_path / "mine.jsonl"
    report = run_prepare(user_list.scan_list(tmp_path / "list.csv"), out)
    (clip,) = read_clips(out)
    assert clip.text == text and clip.speaker == "me" and clip.path == str(tmp_path / "clips" / "one.wav")
    assert report.rejected == {"missing_file": 1}
    (tmp_path / "list.jsonl").write_text(json.dumps({"path": "clips/one.wav", "text": "t"}) + "\n{oops\n")
    report = run_prepare(user_list.scan_list(tmp_path / "list.jsonl"), tmp_path / "b.jsonl")
    assert report.kept == 1 and report.rejected == {"malformed_row": 1}


def test_dialogue_formats(tmp_path: Path) -> None:
    moss = {
        "conversation_id": 7,
        "chat": {
            "turn_2": {"Human": "<|Human|>: And tomorrow?<eoh>\n", "MOSS": "<|MOSS|>: Sunny.<eom>\n"},
            "turn_1": {
                "Human": "<|Human|>: What is the weather like?<eoh>\n",
                "MOSS": "<|MOSS|>: Rainy today.<eom>\n",
            },
        },
    }
    share = {
        "id": "s1",
        "conversations": [
            {"from": "system", "value": "be nice"},
            {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "Hello!"},
        ],
    }
    messages = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Name a colour."}]},
            {"role": "assistant", "content": "Blue."},
        ]
    }
    lonely = {"messages": [{"role": "user", "content": "anyone?"}]}
    for fmt, rows in (("moss", [moss]), ("sharegpt", [share]), ("messages", [messages, lonely])):
        src = tmp_path / f"{fmt}.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")
        out = tmp_path / f"{fmt}-out.jsonl.gz"
        report = dialogue.prepare(src, fmt, out, workers=2 if fmt == "moss" else 1)
        with gzip.open(out, "rt") as f:
            kept = [json.loads(line) for line in f]
        assert report.rejected["invalid_json"] == 1
        for row in kept:
            jsonschema.validate(row, schema("dialogue"))
        rejects = [json.loads(line) for line in rejects_path(out).read_text().splitlines()]
        where = f"{src}:{len(rows) + 1}"  # the one reject shape: the row named by file:line
        assert any(r["reason"] == "invalid_json" and r["clip_id"] == where for r in rejects)
        if fmt == "moss":
            assert kept[0]["turns"] == [
                {"role": "user", "text": "What is the weather like?"},
                {"role": "assistant", "text": "Rainy today."},
                {"role": "user", "text": "And tomorrow?"},
                {"role": "assistant", "text": "Sunny."},
            ]
        if fmt == "sharegpt":
            assert [t["role"] for t in kept[0]["turns"]] == ["user", "assistant"]
        if fmt == "messages":
            assert kept[0]["turns"][0]["text"] == "Name a colour." and report.rejected["no_turns"] == 1


def test_prepare_cli_reports_counts_and_swallows_decoder_warnings(tmp_path: Path) -> None:
    loc = make_commonvoice(tmp_path, "v13", durations=False)
    write_as(librivox()[4][0], loc / "clips" / "common_voice_en_half.mp3", 48000)
    truncate(loc / "clips" / "common_voice_en_half.mp3", 0.5)  # mpg123: "Xing stream size off …"
    with open(loc / "validated.tsv", "a") as f:
        f.write("\t".join(["spk", "common_voice_en_half.mp3", "half a clip"] + [""] * 8) + "\n")
    out = tmp_path / "cv.jsonl.gz"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamaudio.cli",
            "prepare",
            "commonvoice",
            str(loc),
            "--out",
            str(out),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        "read 14, kept 5" in proc.stdout and "truncated 2" in proc.stdout and "undecodable 1" in proc.stdout
    )
    assert "decoder warnings" in proc.stdout
    assert "Xing" not in proc.stderr
    report = json.loads((tmp_path / "cv.report.json").read_text())
    assert report["decoder_warnings"] >= 1 and report["rejected"]["truncated"] == 2
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamaudio.cli",
            "prepare",
            "commonvoice",
            str(tmp_path / "no"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamaudio.cli", "prepare", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_prepare_commands_wire_their_options(tmp_path: Path) -> None:
    csv, audio = make_audioset(tmp_path / "as")
    proc = _cli(
        "audioset",
        str(csv),
        "--audio-dir",
        str(audio),
        "--ontology",
        str(ONTOLOGY),
        "--out",
        str(tmp_path / "as.jsonl.gz"),
        "--workers",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    assert "kept 4" in proc.stdout and "missing_audio 1" in proc.stdout
    assert next(read_clips(tmp_path / "as.jsonl.gz")).label_names == ("Bell", "Alarm")

    musan = make_musan(tmp_path / "musan")
    proc = _cli("musan", str(musan), "--part", "music", "--out", str(tmp_path / "m.jsonl"))
    assert proc.returncode == 0 and "read 2, kept 1" in proc.stdout

    src = tmp_path / "chat.jsonl"
    src.write_text(
        json.dumps(
            {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
        )
        + "\n"
    )
    proc = _cli("dialogue", str(src), "--format", "messages", "--out", str(tmp_path / "d.jsonl"))
    assert proc.returncode == 0 and "kept 1" in proc.stdout
    proc = _cli("dialogue", str(src), "--format", "klingon", "--out", str(tmp_path / "d.jsonl"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr

    proc = _cli(
        "audioset", str(csv), "--audio-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.jsonl")
    )
    assert proc.returncode == 1 and "nowhere" in proc.stderr and "Traceback" not in proc.stderr


def test_build_counts_decoder_warnings_instead_of_printing_them(tmp_path: Path) -> None:
    loc = make_commonvoice(tmp_path / "cv", "v17", durations=True)
    half = truncate(write_as(librivox()[4][0], loc / "clips" / "common_voice_en_half.mp3", 48000), 0.5)
    with open(loc / "validated.tsv", "a") as f:
        f.write(
            "\t".join(["spk", half.name, "", "he might even have been made amiable himself"] + [""] * 9)
            + "\n"
        )
    with open(loc / "clip_durations.tsv", "a") as f:
        f.write(f"{half.name}\t3290\n")
    cv = tmp_path / "cv.jsonl.gz"
    run_prepare(commonvoice.scan(loc, probe=False), cv)  # not probed: the half file is kept
    assert half.name in {c.id for c in read_clips(cv)}
    out = tmp_path / "asr"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamaudio.cli",
            "build",
            "--source",
            f"cv={cv}",
            "--streams",
            "6",
            "--stream-seconds",
            "15:25",
            "--max-failed-clips",
            "0.2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Xing" not in proc.stderr and "decoder warnings" in proc.stdout
    assert json.loads((out / "manifest.json").read_text())["decoder_warnings"] >= 1

"""``streamaudio prepare …``: one command per corpus layout, each writing a clip manifest and its rejects."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from streamaudio.cli.common import fail
from streamaudio.cli.progress import Bar
from streamaudio.prepare.sources import (
    Candidate,
    Reject,
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

app = typer.Typer(no_args_is_help=True, help="Read a corpus as released and write a clip manifest for build.")

Out = Annotated[
    Path, typer.Option("--out", help="Manifest to write: .jsonl.gz, .jsonl or .parquet.", metavar="PATH")
]
Workers = Annotated[int, typer.Option(help="Processes probing audio headers.", metavar="N")]
Probe = Annotated[
    bool | None,
    typer.Option(
        "--probe/--no-probe",
        help="Read every audio header (duration, sample rate, channels); --no-probe trusts "
        "clip_durations.tsv and leaves rate and channels out. \\[default: --probe]",
        metavar="",
    ),
]


def _run(
    name: str,
    items: Callable[[], Iterable[Candidate | Reject]],
    out: Path,
    workers: int,
    inputs: tuple[Path, ...] = (),
) -> None:
    """Run an adapter through the pipeline with a progress bar; errors become one line, and so does an
    input that gives no usable clip (its rejects are still written)."""
    try:
        with Bar(f"prepare {name}", "rows") as bar:
            report = run_prepare(items(), out, max(1, workers), progress=bar, inputs=inputs)
    except (SourceError, OSError) as exc:
        if isinstance(exc, SourceError):
            fail(str(exc))
        fail(f"{exc.filename or out}: {exc.strerror or exc}")
    report_path = rejects_path(out).with_name(
        rejects_path(out).name.replace(".rejected.jsonl", ".report.json")
    )
    report_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    if not report.kept:
        fail(f"{name}: no usable clip ({report.summary()}); rejects -> {rejects_path(out)}")
    typer.echo(f"{name}: {report.summary()}")
    typer.echo(f"manifest -> {out}; rejects -> {rejects_path(out)}")


@app.command("commonvoice")
def commonvoice_cmd(
    locale_dir: Annotated[Path, typer.Argument(help="A Common Voice locale folder, e.g. cv-corpus-17.0/en.")],
    out: Out,
    split: Annotated[
        str, typer.Option(help="Which TSV: validated, train, dev, test, other, invalidated.", metavar="TEXT")
    ] = "validated",
    probe: Probe = None,
    workers: Workers = 1,
) -> None:
    """Common Voice, any release (v1 to the current one)."""
    _run(
        "commonvoice",
        lambda: commonvoice.scan(locale_dir, split, probe),
        out,
        workers,
        (locale_dir / f"{split}.tsv",),
    )


@app.command("covost2")
def covost2_cmd(
    tsv: Annotated[Path, typer.Argument(help="covost_v2.<src>_<tgt>.tsv")],
    commonvoice_dir: Annotated[
        Path, typer.Option("--commonvoice", help="The Common Voice (v4) locale folder.", metavar="PATH")
    ],
    out: Out,
    cv_split: Annotated[
        str, typer.Option(help="Common Voice TSV to join with.", metavar="TEXT")
    ] = "validated",
    probe: Probe = None,
    workers: Workers = 1,
) -> None:
    """CoVoST 2 translations joined with their Common Voice clips."""
    _run("covost2", lambda: covost2.scan(tsv, commonvoice_dir, cv_split, probe), out, workers, (tsv,))


def _names(ontology: Path | None, labels: Path | None) -> dict[str, str]:
    if ontology:
        return audioset.read_ontology(ontology)
    return audioset.read_label_csv(labels) if labels else {}


@app.command("audioset")
def audioset_cmd(
    segments_csv: Annotated[Path, typer.Argument(help="balanced_train_segments.csv or another segment CSV.")],
    audio_dir: Annotated[
        Path, typer.Option(help="Where the downloaded audio is (any depth).", metavar="PATH")
    ],
    out: Out,
    ontology: Annotated[
        Path | None, typer.Option(help="ontology.json, to name the mids.", metavar="PATH")
    ] = None,
    labels: Annotated[
        Path | None, typer.Option(help="class_labels_indices.csv, to name the mids.", metavar="PATH")
    ] = None,
    workers: Workers = 1,
) -> None:
    """AudioSet segments with local audio (Y<YTID>.wav, <YTID>_<start>.flac …)."""
    _run(
        "audioset",
        lambda: audioset.scan_segments(segments_csv, audio_dir, _names(ontology, labels)),
        out,
        workers,
        (segments_csv,),
    )


@app.command("audioset-hub")
def audioset_hub_cmd(
    parquet_dir: Annotated[Path, typer.Argument(help="Folder of the Hub's AudioSet parquet files.")],
    out: Out,
    audio_out: Annotated[
        Path | None, typer.Option(help="Where to write the audio. \\[default: beside --out]", metavar="PATH")
    ] = None,
    ontology: Annotated[
        Path | None, typer.Option(help="ontology.json, for rows without human_labels.", metavar="PATH")
    ] = None,
    workers: Workers = 1,
) -> None:
    """AudioSet in the Hub's parquet layout (video_id, audio, labels, human_labels)."""
    target = audio_out or out.parent / f"{rejects_path(out).name.replace('.rejected.jsonl', '')}-audio"
    _run("audioset-hub", lambda: audioset.scan_hub(parquet_dir, target, _names(ontology, None)), out, workers)


MusanPart = Enum("MusanPart", {p: p for p in noise_sets.MUSAN_PARTS}, type=str)


@app.command("musan")
def musan_cmd(
    musan_dir: Annotated[Path, typer.Argument(help="The musan/ folder.")],
    out: Out,
    part: Annotated[
        list[MusanPart] | None, typer.Option(help="Parts to take. \\[default: all three]")
    ] = None,
    workers: Workers = 1,
) -> None:
    """MUSAN noise, music and speech, with each source's ANNOTATIONS."""
    parts = tuple(p.value for p in part) if part else noise_sets.MUSAN_PARTS
    _run("musan", lambda: noise_sets.scan_musan(musan_dir, parts), out, workers)


@app.command("esc50")
def esc50_cmd(
    esc50_dir: Annotated[Path, typer.Argument(help="The ESC-50 folder (meta/esc50.csv, audio/).")],
    out: Out,
    workers: Workers = 1,
) -> None:
    """ESC-50 environmental sounds with category, fold and source file."""
    _run("esc50", lambda: noise_sets.scan_esc50(esc50_dir), out, workers)


@app.command("noise-dir")
def noise_dir_cmd(
    audio_dir: Annotated[Path, typer.Argument(help="Any folder of audio files (DNS noise_fullband, …).")],
    out: Out,
    source: Annotated[str, typer.Option(help="Source name written to each row.", metavar="TEXT")] = "noise",
    workers: Workers = 1,
) -> None:
    """Every audio file under a folder."""
    _run("noise-dir", lambda: noise_sets.scan_folder(audio_dir, source), out, workers)


@app.command("manifest")
def manifest_cmd(
    file: Annotated[
        Path,
        typer.Argument(help="CSV with a header, or JSON lines, naming path (and text …)."),
    ],
    out: Out,
    source: Annotated[str, typer.Option(help="Source name for rows without one.", metavar="TEXT")] = "user",
    workers: Workers = 1,
) -> None:
    """A list of your own clips."""
    _run("manifest", lambda: user_list.scan_list(file, source), out, workers, (file,))


DialogueFormat = Enum("DialogueFormat", {f: f for f in dialogue.FORMATS}, type=str)


@app.command("dialogue")
def dialogue_cmd(
    file: Annotated[Path, typer.Argument(help="JSON lines (.jsonl or .jsonl.gz).")],
    fmt: Annotated[DialogueFormat, typer.Option("--format", help="moss, sharegpt or messages.")],
    out: Out,
    workers: Annotated[int, typer.Option(help="Processes parsing lines.", metavar="N")] = 1,
) -> None:
    """Conversations as user/assistant text turns, for TTS."""
    try:
        report = dialogue.prepare(file, fmt.value, out, max(1, workers))
    except SourceError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or file}: {exc.strerror or exc}")
    if not report.kept:
        fail(f"{file}: no usable dialogue ({report.summary()}); rejects -> {rejects_path(out)}")
    typer.echo(f"dialogue: {report.summary()}")
    typer.echo(f"dialogues -> {out}; rejects -> {rejects_path(out)}")

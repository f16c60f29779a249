"""``streamaudio build``: options to a BuildSpec, a progress bar, the summary."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from streamaudio.cli.app import CAPABILITIES, KNOWN_ERRORS, app
from streamaudio.cli.common import err, fail
from streamaudio.cli.options import Executor, parse_range, parse_source, positive
from streamaudio.cli.progress import Bar
from streamaudio.cli.synthesize import (
    EngineOptions,
    ProsodyRanges,
    Voices,
    Warps,
    voice_choice,
)
from streamaudio.plan.recipe import requested_build
from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.plan.spec import DEFAULT_CAPABILITY, DEFAULT_STREAMS, BuildSpec, Part
from streamaudio.write.build import TooManyFailures, build

CONFIG = ScenarioConfig()  # the defaults the help shows are the library's own


def _range(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:g}:{bounds[1]:g}"


# long only by its options: typer reads each from the signature, with its help
@app.command("build")
def build_cmd(
    capability: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help=f"What the streams teach: {CAPABILITIES}. "
            f"\\[default: {DEFAULT_CAPABILITY}; with --pipeline: all of it]",
            show_default=False,
        ),
    ] = None,
    pipeline: Annotated[
        Path | None,
        typer.Option(
            metavar="RECIPE", help="A recipe (pipelines/*.yaml): a mixture by hours.", show_default=False
        ),
    ] = None,
    hours: Annotated[
        float | None,
        typer.Option(
            metavar="HOURS",
            help="Hours of audio to build (instead of --streams).",
            callback=positive,
            show_default=False,
        ),
    ] = None,
    streams: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=1,
            help=f"Number of streams to build. \\[default: {DEFAULT_STREAMS}]",
            show_default=False,
        ),
    ] = None,
    stream_seconds: Annotated[
        str | None,
        typer.Option(
            metavar="LOW:HIGH",
            help=f"Stream length range in seconds, LOW:HIGH. \\[default: {_range(CONFIG.stream_seconds)}]",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=0,
            help=f"Seed: the same inputs and seed give identical shards. \\[default: {BuildSpec.seed}]",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[int, typer.Option(metavar="N", min=1, help="Processes rendering streams.")] = 1,
    out: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR", help="Output folder. \\[default: ./streamaudio-out/NAME]", show_default=False
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Split name. \\[default: train; with --pipeline: its splits]",
            show_default=False,
        ),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=MANIFEST",
            help="Clip or dialogue manifest, NAME=MANIFEST (repeatable). \\[default: built-in demo]",
            show_default=False,
        ),
    ] = None,
    noise: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="MANIFEST",
            help="Noise clip manifest (repeatable). \\[default: built-in beds]",
            show_default=False,
        ),
    ] = None,
    snr: Annotated[
        str | None,
        typer.Option(
            metavar="LOW:HIGH",
            help="Background SNR range in dB vs. active speech (--snr=-5:5 for negative). "
            f"\\[default: {_range(CONFIG.snr_db)}]",
            show_default=False,
        ),
    ] = None,
    background_prob: Annotated[
        float | None,
        typer.Option(
            metavar="P",
            min=0.0,
            max=1.0,
            help=f"Share of streams with background noise. \\[default: {CONFIG.background_prob:g}]",
            show_default=False,
        ),
    ] = None,
    gap_seconds: Annotated[
        str | None,
        typer.Option(
            metavar="LOW:HIGH",
            help=f"Gap length range between events in seconds. \\[default: {_range(CONFIG.gap_seconds)}]",
            show_default=False,
        ),
    ] = None,
    gap_snr: Annotated[
        str | None,
        typer.Option(
            metavar="LOW:HIGH",
            help=f"How far below speech the gap noise beds sit, dB. \\[default: {_range(CONFIG.gap_snr_db)}]",
            show_default=False,
        ),
    ] = None,
    reply_delay_chunks: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=0,
            help="Extra chunks before each reply (the released model: 0). "
            f"\\[default: {CONFIG.reply_delay_chunks}]",
            show_default=False,
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            metavar="CODE",
            help=f"Language of the spoken instructions. \\[default: {CONFIG.language}]",
            show_default=False,
        ),
    ] = None,
    target_language: Annotated[
        str | None,
        typer.Option(
            metavar="CODE", help="s2tt: the language to translate into. \\[default: de]", show_default=False
        ),
    ] = None,
    shard_streams: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=1,
            help=f"Most streams per shard. \\[default: {BuildSpec.shard_streams}]",
            show_default=False,
        ),
    ] = None,
    shard_mb: Annotated[
        float | None,
        typer.Option(
            metavar="MB",
            callback=positive,
            help=f"Most megabytes per shard, estimated from PCM. \\[default: {BuildSpec.shard_mb:g}]",
            show_default=False,
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Where manifests' pools and spoken clips are cached, shared by every build. "
            "\\[default: $STREAMAUDIO_CACHE, else ~/.cache/streamaudio]",
            show_default=False,
        ),
    ] = None,
    executor: Annotated[
        Executor, typer.Option(metavar="local|dask", help="local: a process pool; dask: a Dask cluster.")
    ] = Executor.local,
    scheduler: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Dask scheduler, tcp://HOST:8786. \\[default: a local cluster]",
            show_default=False,
        ),
    ] = None,
    decoded_cache: Annotated[
        bool,
        typer.Option(
            "--decoded-cache",
            metavar="",
            help="Keep sources that need a decoder (MP3, OGG, FLAC) decoded in the cache folder, so that "
            "later builds read them at WAV speed (float32: about 230 MB per hour of audio).",
        ),
    ] = False,
    max_failed_clips: Annotated[
        float,
        typer.Option(
            metavar="SHARE",
            min=0.0,
            max=1.0,
            help="Share of the drawn clips that may fail to load; their streams are left out, and past it "
            "the build stops with an error.",
        ),
    ] = BuildSpec.max_failed_clips,
    force: Annotated[
        bool,
        typer.Option("--force", metavar="", help="Delete what another build left in --out and start clean."),
    ] = False,
    plan_only: Annotated[
        bool,
        typer.Option(
            "--plan-only",
            metavar="",
            help="Plan every stream and say what the build would make; write no shard.",
        ),
    ] = False,
    tts_engine: Annotated[
        str | None,
        typer.Option(
            "--tts",
            metavar="ENGINE",
            help="Who speaks prompts and dialogues: espeak-ng, piper, openai or a plugin. \\[default: the "
            "voices of --source clips made by synthesize, else espeak-ng]",
            show_default=False,
        ),
    ] = None,
    voice: Voices = None,
    warp: Warps = None,
    prosody: ProsodyRanges = None,
    engine_option: EngineOptions = None,
) -> None:
    """Build WebDataset shards of labelled streams (resumes when rerun with the same arguments)."""
    if hours is not None and streams is not None:
        fail("give --hours or --streams, not both")
    if tts_engine is None and (voice or warp or prosody or engine_option):
        fail("--voice, --warp, --prosody and --engine-option choose a TTS engine's voices: add --tts ENGINE")
    try:  # a voice or a recipe that cannot be had is one line, however the command is invoked
        given = {
            "stream_seconds": stream_seconds and parse_range(stream_seconds, "--stream-seconds"),
            "gap_seconds": gap_seconds and parse_range(gap_seconds, "--gap-seconds"),
            "snr_db": snr and parse_range(snr, "--snr", negative=True),
            "gap_snr_db": gap_snr and parse_range(gap_snr, "--gap-snr", negative=True),
            "background_prob": background_prob,
            "reply_delay_chunks": reply_delay_chunks,
            "language": language,
            "target_language": target_language,
            "sources": tuple(parse_source(s) for s in source or ()),
            "tts": tts_engine and voice_choice(tts_engine, voice, warp, prosody, engine_option),
            "noise": tuple(noise or ()),
        }
        spec, name = requested_build(
            out, capability=capability, pipeline=pipeline, streams=streams, hours=hours, split=split,
            overrides=given, seed=seed, shard_streams=shard_streams, shard_mb=shard_mb, workers=workers,
            cache_dir=cache_dir, command=shlex.join(["streamaudio", *sys.argv[1:]]), executor=executor.value,
            scheduler=scheduler, max_failed_clips=max_failed_clips, decoded_cache=decoded_cache,
        )  # fmt: skip
    except KNOWN_ERRORS as exc:
        fail(str(exc))
    for note in spec.notes:
        err.print(f"[bold yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    if plan_only:
        _show_plan(spec)
        return
    _run_build(spec, name, force)


def _span(seconds: float) -> str:
    """A duration as people say it: 40 s, 12.5 min, 3.2 h."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:,.1f} h"


def _show_parts(out: Path) -> None:
    """Each part's size, asked against built, from the manifest just written."""
    try:
        parts = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["parts"]
    except (OSError, ValueError, KeyError):
        return
    for p in parts:
        asked = p["requested"]
        want = f"{asked['streams']:,} streams" if "streams" in asked else f"{_hours(asked['hours'])} h"
        typer.echo(
            f"  {p['capability']}/{p['split']}: asked {want}, built {p['streams']:,} streams, "
            f"{_hours(p['hours'])} h"
        )


def _hours(hours: float) -> str:
    """Hours with the digits that show their size: 0.031, 2.48, 1,204.5."""
    return f"{hours:,.3f}" if hours < 10 else f"{hours:,.1f}"


def _bytes(size: float) -> str:
    return f"{size / 1e6:,.0f} MB" if size < 1e9 else f"{size / 1e9:,.1f} GB"


def _asked(part: Part) -> str:
    return f"{part.streams:,} streams" if part.streams is not None else f"{_hours(part.hours or 0.0)} h"


def _show_plan(spec: BuildSpec) -> None:
    """Plan the whole build and print what it would make (``--plan-only``)."""
    from rich.table import Table

    from streamaudio.plan.dry_run import dry_run, summary_rows

    try:
        result = dry_run(spec)
    except KeyboardInterrupt:
        err.print("interrupted: no shard was written")
        raise typer.Exit(130) from None
    except KNOWN_ERRORS as exc:
        fail(str(exc))
    table = Table(title=f"plan of {spec.out} (no shard written)", title_justify="left")
    for col in ("capability/split", "asked", "streams", "hours", "turns", "replies", "shards"):
        table.add_column(col, justify="left" if col == "capability/split" else "right")
    for part, row in zip(spec.parts, summary_rows(result), strict=True):
        table.add_row(
            row["part"].replace("-", "/", 1), _asked(part), f"{row['streams']:,}", _hours(row["hours"]),
            f"{row['turns']:,}", f"{row['replies']:,}", f"{row['shards']:,}",
        )  # fmt: skip
    console = Console()
    console.print(table)
    hours = result.seconds / 3600
    line = f"{result.streams:,} streams, {_hours(hours)} h, planned in {result.elapsed:.1f} s"
    if (bps := result.bytes_per_second) and (rate := result.render_rate):
        cpu = result.seconds / rate
        line += (
            f"; about {_bytes(bps * result.seconds)} of shards ({bps * 3600 / 1e6:,.0f} MB per hour "
            f"of audio); rendering at {rate:,.0f}x real time per process (measured on "
            f"{result.sample_seconds:.0f} s here) takes {_span(cpu)} of CPU, about "
            f"{_span(cpu / spec.workers)} with --workers {spec.workers}"
        )
    console.print(line, highlight=False)
    for engine, bill in result.to_speak.items():
        took = (
            f", about {_span(bill['cpu_hours'] * 3600)} of CPU at the rate measured for {engine} "
            f"({_span(bill['cpu_hours'] * 3600 / spec.workers)} with --workers {spec.workers})"
            if bill["cpu_hours"] is not None
            else f" (the time depends on the {engine} server)"
        )
        hours = _hours(bill["seconds"] / 3600)
        console.print(
            f"to speak with {engine}: {bill['clips']:,} clips not in the store, {hours} h of speech{took}",
            highlight=False,
        )
    for source, r in result.reuse().items():
        console.print(
            f"{source}: {r['draws']:,} draws of {r['distinct']:,} clips, each drawn {r['mean']:.1f} times "
            f"on average, at most {r['most']:,}",
            highlight=False,
        )


def _run_build(spec: BuildSpec, name: str, force: bool = False) -> None:
    """Run a build with a progress bar (made on the first stream) and print its summary."""
    by_streams = all(p.streams is not None for p in spec.parts)
    total = sum(p.streams or 0 for p in spec.parts) if by_streams else sum(p.hours or 0 for p in spec.parts)
    # by streams, or by hours of audio: either way with a total, a share and an ETA
    unit, fmt = ("streams", "{n_fmt}/{total_fmt}") if by_streams else ("h", "{n:.2f}/{total:.2f} h")
    fmt = "{desc}: {percentage:3.0f}%|{bar}| " + fmt + " [{elapsed}<{remaining}{postfix}]"
    bar = Bar(f"build {name}", unit, total, leave=True, fmt=fmt)

    def progress(done: int, seconds: float) -> None:
        if by_streams:
            bar(done, postfix=f"{seconds / 3600:.2f} h audio")
        else:
            bar(seconds / 3600, postfix=f"{done} streams")

    try:
        with bar:
            result = build(spec, progress, force=force)
    except KeyboardInterrupt as exc:  # Ctrl-C (130) or SIGTERM (143), taken between streams
        err.print("interrupted: finished shards are kept; run the same command again to resume")
        raise typer.Exit(128 + getattr(exc, "signum", 2)) from None
    except TooManyFailures as exc:
        fail(f"{exc} (--max-failed-clips {spec.max_failed_clips:g}; see {spec.out / 'rejected.jsonl'})")
    except (*KNOWN_ERRORS, OSError) as exc:
        if isinstance(exc, KNOWN_ERRORS):
            fail(str(exc))
        fail(f"{exc.filename or spec.out}: {exc.strerror or exc}")
    if result.dropped:
        err.print(
            f"[bold yellow]warning:[/] {len(result.dropped)} streams left out, a clip of theirs could not be "
            f"used (the first: {escape(result.first_failure)}); see {escape(str(result.out))}/rejected.jsonl",
            highlight=False,
            soft_wrap=True,
        )
    if result.rebuilt:
        name, why = result.rebuilt[0]
        more = f" and {len(result.rebuilt) - 1} more" if len(result.rebuilt) > 1 else ""
        err.print(f"rebuilt {name}{more}: {why}", highlight=False, soft_wrap=True)
    resumed = f" ({result.skipped_shards} already built)" if result.skipped_shards else ""
    left_out = f" ({len(result.dropped)} left out)" if result.dropped else ""
    if result.decoder_warnings:
        resumed += f", {result.decoder_warnings} decoder warnings (see manifest.json)"
    typer.echo(
        f"built {result.streams} streams{left_out}, {result.hours:.3f} h, {result.replies} replies, "
        f"{result.shards} shards{resumed}, {result.rejected} rejected clips in {result.elapsed:.1f} s "
        f"({result.realtime_factor:.0f}x real time) -> {result.out}"
    )
    if len(spec.parts) > 1:
        _show_parts(result.out)

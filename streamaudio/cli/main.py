"""The ``streamaudio`` command: a thin layer over the library."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
import tempfile
import textwrap
import time
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from tqdm import tqdm

from streamaudio import __version__
from streamaudio.check.corpus import KEPT_REPORT, show_report, validate_corpus
from streamaudio.check.vad import VadError, model_path
from streamaudio.cli.common import err, error_line, fail
from streamaudio.cli.prepare import app as prepare_app
from streamaudio.cli.synthesize import (
    EngineOptions,
    ProsodyRanges,
    Voices,
    Warps,
    synthesize_cmd,
    voice_choice,
)
from streamaudio.errors import StreamAudioError
from streamaudio.plan.recipe import RecipeError, load_recipe, recipe_parts
from streamaudio.plan.scenarios import SCENARIOS, ScenarioConfig
from streamaudio.tts import TTSError
from streamaudio.tts.voices import VoiceChoice
from streamaudio.use.export import FORMATS as EXPORT_FORMATS
from streamaudio.use.export import MAX_TOKENS, FeatureWriter, export_upstream
from streamaudio.use.harness.backends import HarnessError, make_backend
from streamaudio.use.harness.checkpoint import INSTALL
from streamaudio.use.harness.metrics import require_scorers
from streamaudio.use.harness.report import show_metrics
from streamaudio.use.harness.run import run_harness
from streamaudio.use.hub import HubError, stage, upload
from streamaudio.use.inspect import InspectError, read_sample, show
from streamaudio.use.reader import ReadError, shard_paths
from streamaudio.use.tokens import TokenizerError, encode_text, load_tokenizer
from streamaudio.write.build import STATE_DIR, BuildSpec, Part, TooManyFailures, build

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Build, inspect and check StreamAudio-2M-style streaming audio corpora.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"streamaudio {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", metavar="", help="Print the version and exit.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
    """Build, inspect and check StreamAudio-2M-style streaming audio corpora."""


CAPABILITIES = ", ".join(SCENARIOS)
KNOWN_ERRORS = (StreamAudioError,)


def parse_range(text: str, name: str, negative: bool = False) -> tuple[float, float]:
    """``"30:120"`` → (30, 120); a single number is a fixed value; ``"-5:5"`` only where ``negative``."""
    lo, sep, hi = text[1:].partition(":") if text.startswith("-") else text.partition(":")
    lo = ("-" + lo) if text.startswith("-") else lo
    try:
        low, high = float(lo), float(hi or lo) if sep else float(lo)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number or a LOW:HIGH range", param_hint=name) from None
    if not (np.isfinite(low) and np.isfinite(high)) or high < low or (low < 0 and not negative):
        need = "LOW <= HIGH" if negative else "0 <= LOW <= HIGH"
        raise typer.BadParameter(f"{text!r}: need {need}", param_hint=name)
    return low, high


def parse_source(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise typer.BadParameter(f"{text!r}: expected NAME=MANIFEST", param_hint="--source")
    return name, Path(path)


class Executor(str, Enum):
    local = "local"
    dask = "dask"


def positive(value: float | None) -> float | None:
    """Typer callback: a float option that must be above 0 when given."""
    if value is not None and value <= 0:
        raise typer.BadParameter(f"{value:g} is not in the range x>0")
    return value


@app.command("build")
def build_cmd(
    capability: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help=f"What the streams teach: {CAPABILITIES}. \\[default: asr; with --pipeline: all of it]",
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
            metavar="N", min=1, help="Number of streams to build. \\[default: 32]", show_default=False
        ),
    ] = None,
    stream_seconds: Annotated[
        str | None,
        typer.Option(
            metavar="LOW:HIGH",
            help="Stream length range in seconds, LOW:HIGH. \\[default: 30:90]",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=0,
            help="Seed: the same inputs and seed give identical shards. \\[default: 0]",
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
            help="Background SNR range in dB vs. active speech (--snr=-5:5 for negative). \\[default: 5:20]",
            show_default=False,
        ),
    ] = None,
    background_prob: Annotated[
        float | None,
        typer.Option(
            metavar="P",
            min=0.0,
            max=1.0,
            help="Share of streams with background noise. \\[default: 0.8]",
            show_default=False,
        ),
    ] = None,
    gap_seconds: Annotated[
        str | None,
        typer.Option(
            metavar="LOW:HIGH",
            help="Gap length range between events in seconds. \\[default: 0.8:2.4]",
            show_default=False,
        ),
    ] = None,
    gap_snr: Annotated[
        str | None,
        typer.Option(
            metavar="LOW:HIGH",
            help="How far below speech the gap noise beds sit, dB. \\[default: 15:30]",
            show_default=False,
        ),
    ] = None,
    reply_delay_chunks: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=0,
            help="Extra chunks before each reply (the released model: 0). \\[default: 0]",
            show_default=False,
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            metavar="CODE", help="Language of the spoken instructions. \\[default: en]", show_default=False
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
        typer.Option(metavar="N", min=1, help="Most streams per shard. \\[default: 64]", show_default=False),
    ] = None,
    shard_mb: Annotated[
        float | None,
        typer.Option(
            metavar="MB",
            callback=positive,
            help="Most megabytes per shard, estimated from PCM. \\[default: 512]",
            show_default=False,
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Where spoken clips are cached. \\[default: ~/.cache/streamaudio]",
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
        "tts": tts_engine and _voice_choice(tts_engine, voice, warp, prosody, engine_option),
        "noise": tuple(noise or ()),
    }
    overrides = {k: v for k, v in given.items() if v not in (None, ())}
    try:
        if pipeline is not None:
            recipe = load_recipe(pipeline)
            parts = recipe_parts(
                recipe, pipeline.parent, hours=hours, streams=streams, only=capability, overrides=overrides
            )
            parts = tuple(p for p in parts if split is None or p.split == split)
            name = recipe.get("name") or pipeline.stem
        else:
            recipe, name = {}, capability or "asr"
            config = replace(
                ScenarioConfig(), **{k: v for k, v in overrides.items() if k not in ("sources", "noise")}
            )
            size = {"hours": hours} if hours is not None else {"streams": streams or 32}
            parts = (
                Part(
                    name,
                    split or "train",
                    sources=overrides.get("sources", ()),
                    noise=overrides.get("noise", ()),
                    config=replace(config, split=split or "train"),
                    **size,
                ),
            )
    except RecipeError as exc:
        fail(str(exc))
    if not parts:
        fail(f"--split {split!r} is not one of the recipe's splits")
    spec = BuildSpec(
        out=out or Path("streamaudio-out") / name,
        parts=parts,
        seed=seed if seed is not None else recipe.get("seed", 0),
        workers=workers,
        shard_streams=shard_streams or recipe.get("shard_streams", 64),
        shard_mb=shard_mb or recipe.get("shard_mb", 512.0),
        cache_dir=cache_dir,
        command=shlex.join(["streamaudio", *sys.argv[1:]]),
        executor=executor.value,
        scheduler=scheduler,
        max_failed_clips=max_failed_clips,
    )
    if plan_only:
        _show_plan(spec)
        return
    _run_build(spec, name, force)


def _span(seconds: float) -> str:
    """A duration as people say it: 40 s, 12.5 min, 3.2 h."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:,.1f} h"


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
    for col in ("capability/split", "streams", "hours", "turns", "replies", "shards"):
        table.add_column(col, justify="left" if col == "capability/split" else "right")
    for row in summary_rows(result):
        table.add_row(
            row["part"].replace("-", "/", 1), f"{row['streams']:,}", f"{row['hours']:,.1f}",
            f"{row['turns']:,}", f"{row['replies']:,}", f"{row['shards']:,}",
        )  # fmt: skip
    console = Console()
    console.print(table)
    hours = result.seconds / 3600
    line = f"{result.streams:,} streams, {hours:,.1f} h, planned in {result.elapsed:.1f} s"
    if (bps := result.bytes_per_second) and (rate := result.render_rate):
        cpu = result.seconds / rate
        line += (
            f"; about {bps * result.seconds / 1e9:,.1f} GB of shards ({bps * 3600 / 1e6:,.0f} MB per hour "
            f"of audio); rendering at {rate:,.0f}x real time per process (measured on "
            f"{result.sample_seconds:.0f} s here) takes {_span(cpu)} of CPU, about "
            f"{_span(cpu / spec.workers)} with --workers {spec.workers}"
        )
    console.print(line, highlight=False)
    for source, r in result.reuse().items():
        console.print(
            f"{source}: {r['draws']:,} draws of {r['distinct']:,} clips, each drawn {r['mean']:.1f} times "
            f"on average, at most {r['most']:,}",
            highlight=False,
        )


def _voice_choice(
    engine: str,
    voices: list[str] | None,
    warps: str | None,
    prosody: list[str] | None,
    options: list[str] | None,
) -> VoiceChoice:
    try:
        return voice_choice(engine, voices, warps, prosody, options)
    except TTSError as exc:
        fail(str(exc))


def _run_build(spec: BuildSpec, name: str, force: bool = False) -> None:
    """Run a build with a progress bar (made on the first stream) and print its summary."""
    bar: tqdm | None = None
    by_streams = all(p.streams is not None for p in spec.parts)
    total = sum(p.streams or 0 for p in spec.parts) if by_streams else sum(p.hours or 0 for p in spec.parts)

    def progress(done: int, seconds: float) -> None:
        nonlocal bar
        if bar is None:  # by streams, or by hours of audio: either way with a total, a share and an ETA
            unit, fmt = ("stream", "{n_fmt}/{total_fmt}") if by_streams else ("h", "{n:.2f}/{total:.2f} h")
            bar = tqdm(
                total=total,
                unit=unit,
                desc=f"build {name}",
                dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| " + fmt + " [{elapsed}<{remaining}{postfix}]",
            )
        bar.n = done if by_streams else min(seconds / 3600, total)
        bar.set_postfix_str(
            f"{seconds / 3600:.2f} h audio" if by_streams else f"{done} streams", refresh=False
        )
        bar.update(0)

    try:
        result = build(spec, progress, force=force)
    except KeyboardInterrupt as exc:  # Ctrl-C (130) or SIGTERM (143), taken between streams
        if bar is not None:
            bar.close()
        err.print("interrupted: finished shards are kept; run the same command again to resume")
        raise typer.Exit(128 + getattr(exc, "signum", 2)) from None
    except TooManyFailures as exc:
        if bar is not None:
            bar.close()
        fail(f"{exc} (--max-failed-clips {spec.max_failed_clips:g}; see {spec.out / 'rejected.jsonl'})")
    except (*KNOWN_ERRORS, OSError) as exc:
        if bar is not None:
            bar.close()
        if isinstance(exc, KNOWN_ERRORS):
            fail(str(exc))
        fail(f"{exc.filename or spec.out}: {exc.strerror or exc}")
    if bar is not None:
        bar.close()
    if result.dropped:
        err.print(
            f"[bold yellow]warning:[/] {len(result.dropped)} streams left out, a clip of theirs could not be "
            f"used (the first: {escape(result.first_failure)}); see {escape(str(result.out))}/rejected.jsonl",
            highlight=False,
            soft_wrap=True,
        )
    resumed = f" ({result.skipped_shards} already built)" if result.skipped_shards else ""
    left_out = f" ({len(result.dropped)} left out)" if result.dropped else ""
    if result.decoder_warnings:
        resumed += f", {result.decoder_warnings} decoder warnings (see manifest.json)"
    typer.echo(
        f"built {result.streams} streams{left_out}, {result.hours:.3f} h, {result.replies} replies, "
        f"{result.shards} shards{resumed}, {result.rejected} rejected clips in {result.elapsed:.1f} s "
        f"({result.realtime_factor:.0f}x real time) -> {result.out}"
    )


@app.command("validate")
def validate_cmd(
    targets: Annotated[list[Path], typer.Argument(help="Output folders or shards.")],
    vad: Annotated[
        bool, typer.Option("--vad", metavar="", help="Also check events against silero VAD (warnings).")
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write the findings as JSON here.", metavar="PATH")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", metavar="", help="Fail on warnings too.")] = False,
    workers: Annotated[int, typer.Option(help="Processes checking shards.", metavar="N")] = 1,
) -> None:
    """Check every stream against the shard contract (and the manifest); exit 1 on any fault. The
    findings of an output folder are also kept in its state folder, where ``view`` shows them."""
    bars: list[tqdm] = []

    def progress(streams: int, seconds: float) -> None:
        if not bars:
            bars.append(tqdm(unit=" streams", desc="validate", dynamic_ncols=True, leave=False))
        bars[0].update(streams - bars[0].n)

    try:
        if vad:
            model_path()
        found = validate_corpus(targets, vad=vad, workers=max(1, workers), progress=progress)
    except (ReadError, VadError) as exc:
        fail(str(exc))
    finally:
        for bar in bars:
            bar.close()
    text = json.dumps(found.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if report is not None:
        report.write_text(text, encoding="utf-8")
    if len(targets) == 1 and targets[0].is_dir():  # kept for ``streamaudio view``: faults by stream
        with contextlib.suppress(OSError):
            (targets[0] / STATE_DIR).mkdir(exist_ok=True)
            (targets[0] / STATE_DIR / KEPT_REPORT).write_text(text, encoding="utf-8")
    show_report(found, Console())
    ok = found.ok(strict)
    typer.echo("OK" if ok else "FAILED" + (" (warnings count under --strict)" if not found.faults else ""))
    if not ok:
        raise typer.Exit(1)


@app.command("audit")
def audit_cmd(
    targets: Annotated[list[Path], typer.Argument(help="Output folders (or shards: no noise steps then).")],
    report: Annotated[Path | None, typer.Option(help="Write the audit as JSON here.", metavar="PATH")] = None,
    figure: Annotated[
        Path | None, typer.Option(help="Draw the shortcut AUCs into this PNG.", metavar="PATH")
    ] = None,
    max_auc: Annotated[
        float,
        typer.Option(
            min=0.5, max=1.0, help="Exit 1 when a capability's all-features AUC is above this.", metavar="X"
        ),
    ] = 0.65,
) -> None:
    """Can replies be guessed from level, length or timing instead of content? Steps in the noise?"""
    from streamaudio.check.audit import AuditError, audit, worst_auc
    from streamaudio.check.audit_report import plot_audit, show_audit

    try:
        import sklearn  # noqa: F401
    except ImportError:
        fail("audit needs: pip install 'streamaudio[audit]'")
    bar = tqdm(unit=" streams", desc="audit", dynamic_ncols=True, leave=False)
    try:
        found = audit(targets, progress=lambda n: bar.update(n - bar.n))
    except AuditError as exc:
        bar.close()
        fail(str(exc))
    bar.close()
    if report is not None:
        report.write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
    if figure is not None:
        plot_audit(found, figure, max_auc)
    show_audit(found, Console(), max_auc)
    worst = worst_auc(found)
    if worst and worst[1] > max_auc:
        typer.echo(
            f"FAILED: {worst[0]} replies can be guessed without content (AUC {worst[1]:.2f} > {max_auc:g})"
        )
        raise typer.Exit(1)
    typer.echo("OK" if worst else "OK (no capability has both replies and silent turns to compare)")


class BackendName(str, Enum):
    oracle = "oracle"
    vad = "vad"
    audio_interaction = "audio-interaction"


@app.command("harness")
def harness_cmd(
    targets: Annotated[list[Path], typer.Argument(help="Output folders or shards.")],
    backend: Annotated[BackendName, typer.Option(help="oracle, vad or audio-interaction.")],
    checkpoint: Annotated[
        Path | None, typer.Option(help="audio-interaction: the checkpoint folder.", metavar="PATH")
    ] = None,
    device: Annotated[str, typer.Option(help="audio-interaction: cpu or cuda.", metavar="TEXT")] = "cpu",
    dtype: Annotated[
        str,
        typer.Option(
            help="audio-interaction: auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16, float16.",
            metavar="TEXT",
        ),
    ] = "auto",
    max_reply_tokens: Annotated[
        int,
        typer.Option(
            min=1, help="audio-interaction: longest reply, in tokens (the released server: 512).", metavar="N"
        ),
    ] = 512,
    session_tokens: Annotated[
        int,
        typer.Option(
            min=64,
            help="audio-interaction: positions per session before it restarts (trained at 4096).",
            metavar="N",
        ),
    ] = 4096,
    report: Annotated[
        Path | None, typer.Option(help="Write the metrics as JSON here.", metavar="PATH")
    ] = None,
    fdb_out: Annotated[
        Path | None, typer.Option(help="Write Full-Duplex-Bench output.json per stream.", metavar="PATH")
    ] = None,
) -> None:
    """Replay streams chunk by chunk through a backend and score when it speaks."""
    try:
        options = (
            {
                "checkpoint": checkpoint,
                "device": device,
                "dtype": dtype,
                "max_reply_tokens": max_reply_tokens,
                "session_tokens": session_tokens,
            }
            if backend is BackendName.audio_interaction
            else {}
        )
        require_scorers()
        model = make_backend(backend.value, **options)
    except (VadError, HarnessError, ImportError) as exc:
        fail(str(exc))
    bar = tqdm(unit=" streams", desc=f"harness {backend.value}", dynamic_ncols=True, leave=False)
    try:
        result = run_harness(targets, model, fdb_out, progress=lambda n: bar.update(n - bar.n))
    except ReadError as exc:
        bar.close()
        fail(str(exc))
    bar.close()
    if report is not None:
        report.write_text(
            json.dumps(
                {
                    "backend": backend.value,
                    "streams": result.streams,
                    "hours": round(result.seconds / 3600, 6),
                    "metrics": result.metrics,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    show_metrics(result, backend.value, Console())


@app.command("upload")
def upload_cmd(
    out: Annotated[Path, typer.Argument(help="A streamaudio output folder.")],
    repo: Annotated[str, typer.Option(help="Dataset repo on the Hub, USER/NAME.", metavar="TEXT")],
    private: Annotated[bool, typer.Option("--private", metavar="", help="Create the repo private.")] = False,
    dry_run: Annotated[
        Path | None, typer.Option(help="Only stage the repo into this folder.", metavar="PATH")
    ] = None,
    license_id: Annotated[
        str, typer.Option("--license", help="License id for the card.", metavar="TEXT")
    ] = "other",
) -> None:
    """Stage a corpus as a Hugging Face dataset repo (card, configs per capability) and upload it."""
    try:
        if dry_run is not None:
            stage(out, dry_run, repo, license_id)
            typer.echo(
                f"staged {repo} in {dry_run}: {sum(1 for _ in dry_run.rglob('*.tar'))} shards, README.md, "
                "manifest.json (nothing uploaded)"
            )
            return
        with tempfile.TemporaryDirectory(prefix="streamaudio-stage-") as tmp:
            staged = stage(out, Path(tmp) / "repo", repo, license_id)
            url = upload(staged, repo, private)
    except HubError as exc:
        fail(str(exc))
    typer.echo(f"uploaded {out} -> {url}")


@app.command("view")
def view_cmd(
    out: Annotated[Path, typer.Argument(help="An output folder of a build.")],
    port: Annotated[int, typer.Option(help="Port to serve on.", metavar="N", min=0, max=65535)] = 8765,
    host: Annotated[
        str, typer.Option(help="Address to bind (others on the network can reach 0.0.0.0).", metavar="HOST")
    ] = "127.0.0.1",
    open_browser: Annotated[
        bool, typer.Option("--open", metavar="", help="Open the page in the default browser.")
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option(help="A validate --report JSON (default: the folder's last validate).", metavar="PATH"),
    ] = None,
) -> None:
    """Audit a corpus in the browser: its streams by capability and split, and each stream's waveform,
    chunk labels, events and replies, played with a cursor. Shards are read in place."""
    from streamaudio.use.view import make_server, serve
    from streamaudio.use.view.server import is_loopback

    if not out.is_dir():
        fail(f"{out}: not an output folder")
    started = time.perf_counter()
    try:
        server = make_server(out, host, port, report)
    except StreamAudioError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot serve on {host}:{port} ({exc.strerror or exc}); choose another with --port")
    corpus = server.corpus
    if not is_loopback(host):
        err.print(
            f"[bold yellow]warning:[/] serving on {escape(host)}: anyone who can reach this machine on port "
            f"{server.server_address[1]} can read the corpus",
            highlight=False,
            soft_wrap=True,
        )
    errors = sum(1 for s in corpus.shards if s.error) + sum(1 for s in corpus.streams if s.error)
    typer.echo(
        f"{len(corpus.streams)} streams in {len(corpus.shards)} shards indexed in "
        f"{time.perf_counter() - started:.1f} s" + (f", {errors} unreadable" if errors else "")
    )
    typer.echo(f"serving {out} at {server.url} (Ctrl-C stops)")
    try:
        serve(server, open_browser)
    except KeyboardInterrupt:
        typer.echo("stopped")


@app.command("plot")
def plot_cmd(
    tar: Annotated[Path, typer.Argument(help="A shard (.tar).")],
    key: Annotated[str, typer.Option(help="Stream key.", metavar="TEXT")],
    out: Annotated[Path, typer.Option(help="PNG (or PDF/SVG) to write.", metavar="PATH")] = Path(
        "stream.png"
    ),
) -> None:
    """Draw one stream: waveform, spectrogram, events, the chunk grid and the replies."""
    from streamaudio.render.audio import decode_flac
    from streamaudio.use.plots import plot_stream

    try:
        meta, flac = read_sample(tar, key)
    except InspectError as exc:
        fail(str(exc))
    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        fail(f"{out}: write a .png, .pdf or .svg")
    try:
        audio, _ = decode_flac(flac)
    except (ValueError, RuntimeError) as exc:
        fail(f"{tar}: {key}.flac cannot be decoded ({exc})")
    typer.echo(f"wrote {plot_stream(meta, audio, out)}")


@app.command("stats")
def stats_cmd(
    targets: Annotated[list[Path], typer.Argument(help="Output folders or shards.")],
    out: Annotated[
        Path | None, typer.Option(help="Also draw the figures into this PNG.", metavar="PATH")
    ] = None,
) -> None:
    """Hours and streams per capability and split, latencies, gaps, SNRs, sources and voices."""
    from rich.table import Table

    from streamaudio.use.plots import corpus_stats, plot_stats
    from streamaudio.use.reader import iter_streams

    try:
        stats = corpus_stats([s.meta for s in iter_streams(targets)])
    except ReadError as exc:
        fail(str(exc))
    table = Table(title="corpus", title_justify="left")
    for col in ("capability/split", "streams", "hours", "replies"):
        table.add_column(col)
    for name, row in stats["table"].items():
        table.add_row(name, str(row["streams"]), f"{row['hours']:.3f}", str(row["replies"]))
    console = Console()
    console.print(table)
    for label, values, unit in (
        ("reply latency", stats["latency_ms"], "ms"),
        ("gaps", stats["gap_s"], "s"),
        ("background SNR", stats["snr_db"], "dB"),
    ):
        if values:
            console.print(
                f"{label}: median {np.median(values):.2f} {unit}, p10 {np.percentile(values, 10):.2f}, "
                f"p90 {np.percentile(values, 90):.2f} ({len(values)})",
                highlight=False,
            )
    console.print("top sources: " + ", ".join(f"{s} {n}" for s, n in stats["sources"]), highlight=False)
    for capability, voices in stats["voices"].items():
        shown = ", ".join(f"{v} {n}" for v, n in list(voices.items())[:4])
        more = f", … {len(voices) - 4} more" if len(voices) > 4 else ""
        console.print(f"voices in {capability}: {len(voices)} ({shown}{more})", highlight=False)
    if out is not None:
        typer.echo(f"wrote {plot_stats(stats, out)}")


@app.command("inspect")
def inspect_cmd(
    tar: Annotated[Path, typer.Argument(help="A shard (.tar).")],
    key: Annotated[str, typer.Option(help="Stream key, e.g. asr-train-000000003.", metavar="TEXT")],
) -> None:
    """Print one stream's timeline: its events with their times and its turns with chunk and text."""
    try:
        meta, _ = read_sample(tar, key)
        show(meta, Console())
    except KNOWN_ERRORS as exc:
        fail(str(exc))
    except (KeyError, TypeError) as exc:
        fail(f"{tar}: stream {key!r} does not follow the shard contract (missing {exc})")


export_app = typer.Typer(no_args_is_help=True, help="Write a corpus in other tools' formats.")
app.command("synthesize")(synthesize_cmd)
app.add_typer(prepare_app, name="prepare")
app.add_typer(export_app, name="export")


ExportFormat = Enum("ExportFormat", {f: f for f in EXPORT_FORMATS}, type=str)


@export_app.command("upstream")
def export_upstream_cmd(
    out: Annotated[Path, typer.Argument(help="A streamaudio output folder (or shards).")],
    to: Annotated[Path, typer.Option("--to", help="Folder to write into.", metavar="PATH")],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="Builder line format: online or stream2m.")
    ] = ExportFormat.online,
    tokenizer: Annotated[
        Path | None,
        typer.Option(
            help="The released tokenizer.json: write tokens/tokens.jsonl for the trainer.", metavar="PATH"
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="A released checkpoint folder: write features/<line>/AudioFeat.pt (and tokens).",
            metavar="PATH",
        ),
    ] = None,
    max_tokens: Annotated[
        int,
        typer.Option(
            min=64, help="Longest training line; longer streams are cut at turn boundaries.", metavar="N"
        ),
    ] = MAX_TOKENS,
    device: Annotated[
        str, typer.Option(help="Where the audio tower runs with --checkpoint: cpu or cuda.", metavar="TEXT")
    ] = "cpu",
) -> None:
    """Write what the released Audio-Interaction code trains on: tokens, features, WAVs, builder lines."""
    encode = features = None
    try:
        if tokenizer is None and checkpoint is not None:
            tokenizer = checkpoint / "tokenizer.json"
        if tokenizer is not None:
            encode = encode_text(load_tokenizer(tokenizer))
        if checkpoint is not None:
            features = FeatureWriter(checkpoint, device)
        tars = shard_paths([out])
    except (HarnessError, ReadError, TokenizerError) as exc:
        fail(str(exc))
    except ImportError:
        fail(INSTALL)
    bar = tqdm(unit="stream", desc="export upstream", dynamic_ncols=True, leave=False)
    try:
        result = export_upstream(
            tars, to, fmt.value, encode, features, max_tokens, progress=lambda n: bar.update(n - bar.n)
        )
    except (ReadError, OSError) as exc:
        bar.close()
        fail(str(exc) if isinstance(exc, ReadError) else f"{exc.filename or to}: {exc.strerror or exc}")
    bar.close()
    notes = []
    if encode and result.split_streams:
        notes.append(f"{result.split_streams} streams cut at turn boundaries to fit {max_tokens} tokens.")
    if result.over_limit:
        notes.append(
            f"Warning: {len(result.over_limit)} lines are still longer than {max_tokens} tokens (one turn "
            f"runs past it; the trainer will cut them): {', '.join(result.over_limit[:5])}."
        )
    if not encode:
        notes.append("No tokens: give --tokenizer (the released tokenizer.json) or --checkpoint.")
    if features is None:
        notes.append(
            "No features yet: run the released feature step (step3_extract_features) on "
            f"{to / 'step2.jsonl'} with features_dir {to / 'features'}, or give --checkpoint."
        )
    typer.echo(f"exported {result.streams} streams ({result.turns} turns) as {result.lines} training lines")
    for note in notes:
        typer.echo(textwrap.fill(note, 80, initial_indent="  ", subsequent_indent="    "))
    for f in result.files:
        typer.echo(f"  {f}")


def main() -> None:
    """The console entry point: usage errors (a value out of range, a missing argument) print as one
    ``error:`` line like every other error, instead of a box."""
    try:  # typer from 0.2x carries its own click
        from typer._click import exceptions as cli_errors
    except ImportError:
        from click import exceptions as cli_errors

    command = typer.main.get_command(app)
    try:
        code = command.main(prog_name="streamaudio", standalone_mode=False)
    except cli_errors.NoArgsIsHelpError:  # typer has printed the help already
        code = 0
    except cli_errors.UsageError as exc:
        where = f" (see {exc.ctx.command_path} --help)" if exc.ctx else ""
        err.print(
            f"[bold red]error:[/] {escape(exc.format_message())}{where}", highlight=False, soft_wrap=True
        )
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted")
        code = 130
    except BrokenPipeError:  # the reader of our output went away (| head): nothing more to say
        code = 1
    except StreamAudioError as exc:  # what a command did not catch itself: still one line
        code = error_line(str(exc))
    except OSError as exc:  # a file the command could not read or write (unwritable, a folder, disk full)
        code = error_line(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    sys.exit(code or 0)


if __name__ == "__main__":
    main()

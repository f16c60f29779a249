"""The ``streamaudio`` command: a thin layer over the library."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from tqdm import tqdm

from streamaudio.audio import AudioError
from streamaudio.build import BuildError, BuildSpec, build
from streamaudio.cli_common import err, fail
from streamaudio.cli_prepare import app as prepare_app
from streamaudio.inspect_stream import InspectError, read_sample, show
from streamaudio.manifest import ManifestError
from streamaudio.scenarios import ScenarioConfig
from streamaudio.tts import TTSError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Build, inspect and check StreamAudio-2M-style streaming audio corpora.",
)

KNOWN_ERRORS = (BuildError, ManifestError, InspectError, AudioError, TTSError)


def parse_range(text: str, name: str) -> tuple[float, float]:
    """``"30:120"`` → (30, 120); a single number is a fixed value."""
    try:
        lo, _, hi = text.partition(":")
        low, high = float(lo), float(hi or lo)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number or a LOW:HIGH range", param_hint=name) from None
    if high < low or low < 0:
        raise typer.BadParameter(f"{text!r}: need 0 <= LOW <= HIGH", param_hint=name)
    return low, high


def parse_source(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise typer.BadParameter(f"{text!r}: expected NAME=MANIFEST", param_hint="--source")
    return name, Path(path)


@app.command("build")
def build_cmd(
    capability: Annotated[str, typer.Option(help="What the streams teach: asr.")] = "asr",
    streams: Annotated[int, typer.Option(help="Number of streams to build.")] = 32,
    stream_seconds: Annotated[str, typer.Option(help="Stream length range in seconds, LOW:HIGH.")] = "30:90",
    seed: Annotated[int, typer.Option(help="Seed; the same inputs and seed give identical shards.")] = 0,
    workers: Annotated[int, typer.Option(help="Processes rendering streams.")] = 1,
    out: Annotated[
        Path | None, typer.Option(help="Output folder [default: ./streamaudio-out/CAPABILITY].")
    ] = None,
    split: Annotated[str, typer.Option(help="Split name used in shard and stream names.")] = "train",
    source: Annotated[
        list[str] | None, typer.Option(help="Speech clip manifest, NAME=MANIFEST (repeatable).")
    ] = None,
    noise: Annotated[list[Path] | None, typer.Option(help="Noise clip manifest (repeatable).")] = None,
    snr: Annotated[str, typer.Option(help="Background noise SNR range in dB vs. active speech.")] = "5:20",
    background_prob: Annotated[float, typer.Option(help="Share of streams with background noise.")] = 0.8,
    gap_seconds: Annotated[str, typer.Option(help="Gap length range between events, seconds.")] = "0.8:2.4",
    gap_snr: Annotated[str, typer.Option(help="How far below speech the gap noise beds sit, dB.")] = "15:30",
    reply_delay_chunks: Annotated[
        int, typer.Option(help="Extra chunks between a turn's end and its reply.")
    ] = 0,
    language: Annotated[
        str, typer.Option(help="Language of the streams (spoken instructions use it).")
    ] = "en",
    shard_streams: Annotated[int, typer.Option(help="Most streams per shard.")] = 64,
    shard_mb: Annotated[
        float, typer.Option(help="Most megabytes per shard (estimated from PCM size).")
    ] = 512.0,
    cache_dir: Annotated[Path | None, typer.Option(help="TTS cache [default: ~/.cache/streamaudio].")] = None,
) -> None:
    """Build WebDataset shards of labelled streams (resumes when rerun with the same arguments)."""
    if workers < 1 or shard_streams < 1 or shard_mb <= 0 or reply_delay_chunks < 0:
        fail("--workers and --shard-streams must be >= 1, --shard-mb > 0, --reply-delay-chunks >= 0")
    if not 0.0 <= background_prob <= 1.0:
        fail("--background-prob must be between 0 and 1")
    config = ScenarioConfig(
        stream_seconds=parse_range(stream_seconds, "--stream-seconds"),
        gap_seconds=parse_range(gap_seconds, "--gap-seconds"),
        snr_db=parse_range(snr, "--snr"),
        background_prob=background_prob,
        gap_snr_db=parse_range(gap_snr, "--gap-snr"),
        reply_delay_chunks=reply_delay_chunks,
        language=language,
        split=split,
    )
    spec = BuildSpec(
        capability=capability,
        out=out or Path("streamaudio-out") / capability,
        streams=streams,
        seed=seed,
        workers=workers,
        shard_streams=shard_streams,
        shard_mb=shard_mb,
        sources=tuple(parse_source(s) for s in source or ()),
        noise=tuple(noise or ()),
        config=config,
        cache_dir=cache_dir,
        command=shlex.join(["streamaudio", *sys.argv[1:]]),
    )
    bar: tqdm | None = None  # made on the first rendered stream, so input errors print alone

    def progress(done: int, seconds: float) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=streams, unit="stream", desc=f"build {capability}", dynamic_ncols=True)
        bar.n = done
        bar.set_postfix_str(f"{seconds / 3600:.2f} h audio", refresh=False)
        bar.update(0)

    try:
        result = build(spec, progress)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        err.print("interrupted: finished shards are kept; run the same command again to resume")
        raise typer.Exit(130) from None
    except (*KNOWN_ERRORS, OSError) as exc:
        if bar is not None:
            bar.close()
        if isinstance(exc, KNOWN_ERRORS):
            fail(str(exc))
        fail(f"{exc.filename or spec.out}: {exc.strerror or exc}")
    if bar is not None:
        bar.close()
    resumed = f" ({result.skipped_shards} already built)" if result.skipped_shards else ""
    if result.decoder_warnings:
        resumed += f", {result.decoder_warnings} decoder warnings (see manifest.json)"
    typer.echo(
        f"built {result.streams} streams, {result.hours:.3f} h, {result.replies} replies, "
        f"{result.shards} shards{resumed}, {result.rejected} rejected clips in {result.elapsed:.1f} s "
        f"({result.realtime_factor:.0f}x real time) -> {result.out}"
    )


@app.command("inspect")
def inspect_cmd(
    tar: Annotated[Path, typer.Argument(help="A shard (.tar).")],
    key: Annotated[str, typer.Option(help="Stream key, e.g. asr-train-000000003.")],
) -> None:
    """Print one stream's timeline: its events with their times and its turns with chunk and text."""
    try:
        meta, _ = read_sample(tar, key)
        show(meta, Console())
    except KNOWN_ERRORS as exc:
        fail(str(exc))
    except (KeyError, TypeError) as exc:
        fail(f"{tar}: stream {key!r} does not follow the shard contract (missing {exc})")


app.add_typer(prepare_app, name="prepare")

if __name__ == "__main__":
    app()

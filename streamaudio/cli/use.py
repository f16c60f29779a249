"""``streamaudio upload``, ``view``, ``plot``, ``stats`` and ``inspect``."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape

from streamaudio.cli.app import KNOWN_ERRORS, app
from streamaudio.cli.common import err, fail
from streamaudio.errors import StreamAudioError
from streamaudio.use.hub import HubError, stage, upload
from streamaudio.use.inspect import InspectError, list_streams, read_sample, show
from streamaudio.use.reader import ReadError


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
    from streamaudio.render.flac_decoder import decode_flac
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

    from streamaudio.use.plots import plot_stats
    from streamaudio.use.reader import iter_streams
    from streamaudio.use.stats import corpus_stats

    try:
        stats = corpus_stats([s.meta for s in iter_streams(targets)])
    except ReadError as exc:
        fail(str(exc))
    table = Table(title="corpus", title_justify="left")
    for col in ("capability/split", "streams", "hours", "replies"):
        table.add_column(col, justify="left" if col == "capability/split" else "right")
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
                f"p90 {np.percentile(values, 90):.2f} (of {len(values):,})",
                highlight=False,
            )
    console.print(
        "clips per source: " + ", ".join(f"{s} ×{n:,}" for s, n in stats["sources"]), highlight=False
    )
    for capability, voices in stats["voices"].items():
        shown = ", ".join(f"{v} ×{n:,}" for v, n in list(voices.items())[:4])
        more = f", and {len(voices) - 4} more" if len(voices) > 4 else ""
        console.print(
            f"voices in {capability}: {len(voices)}, utterances each: {shown}{more}", highlight=False
        )
    if out is not None:
        typer.echo(f"wrote {plot_stats(stats, out)}")


@app.command("inspect")
def inspect_cmd(
    tar: Annotated[Path, typer.Argument(help="A shard (.tar) or an output folder.", metavar="TAR")],
    key: Annotated[
        str | None,
        typer.Option(
            help="Stream key, e.g. asr-train-000000003; without it, list the streams.", metavar="KEY"
        ),
    ] = None,
) -> None:
    """Print one stream's timeline: its events in time order and its turns with chunk and text."""
    try:
        if key is None:
            list_streams(tar, Console())
            return
        meta, _ = read_sample(tar, key)
        show(meta, Console())
    except KNOWN_ERRORS as exc:
        fail(str(exc))
    except (KeyError, TypeError) as exc:
        fail(f"{tar}: stream {key!r} does not follow the shard contract (missing {exc})")

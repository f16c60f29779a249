"""``streamaudio harness``: replay a corpus through a model backend and score its decisions."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streamaudio.check.vad import VadError
from streamaudio.cli.app import app
from streamaudio.cli.common import fail
from streamaudio.cli.progress import Bar
from streamaudio.use.harness.backends import make_backend
from streamaudio.use.harness.errors import HarnessError
from streamaudio.use.harness.metrics import require_scorers
from streamaudio.use.harness.report import show_metrics
from streamaudio.use.harness.run import run_harness
from streamaudio.use.harness.session import DECISIONS, SEED, SESSIONS, TOKEN_SECONDS
from streamaudio.use.reader import ReadError, count_streams

Session = Enum("Session", {s: s for s in SESSIONS}, type=str)
Decision = Enum("Decision", {d: d for d in DECISIONS}, type=str)


class BackendName(str, Enum):
    oracle = "oracle"
    vad = "vad"
    audio_interaction = "audio-interaction"


# long only by its options: typer reads each from the signature, with its help
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
    session: Annotated[
        Session,
        typer.Option(
            help="audio-interaction: run as the released offline generator (whole-file log-mel, greedy) "
            "or as its web server (log-mel of the audio so far, sampled, reset after each reply).",
        ),
    ] = Session.offline,
    decision: Annotated[
        Decision,
        typer.Option(
            help="audio-interaction: the released rule (any token may follow a chunk) or restricted "
            "(KEEP_SILENCE or TEXT_BEGIN only).",
        ),
    ] = Decision.released,
    max_reply_tokens: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="audio-interaction: longest reply, in tokens. \\[default: offline none, server 512]",
            metavar="N",
            show_default=False,
        ),
    ] = None,
    session_tokens: Annotated[
        int | None,
        typer.Option(
            min=64,
            help="audio-interaction, offline: positions per session before it starts again. "
            "\\[default: the model's block size]",
            metavar="N",
            show_default=False,
        ),
    ] = None,
    token_seconds: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="audio-interaction, server: seconds to generate a reply token; audio arriving "
            "meanwhile is refused, as the server does.",
            metavar="S",
        ),
    ] = TOKEN_SECONDS,
    seed: Annotated[
        int, typer.Option(help="audio-interaction, server: sampling seed (the server's: 1337).", metavar="N")
    ] = SEED,
    report: Annotated[
        Path | None, typer.Option(help="Write the metrics as JSON here.", metavar="PATH")
    ] = None,
    fdb_out: Annotated[
        Path | None,
        typer.Option(
            help="Write Full-Duplex-Bench output.json per stream, with each turn's phenomenon.",
            metavar="PATH",
        ),
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
                "session": session.value,
                "decision": decision.value,
                "token_seconds": token_seconds,
                "seed": seed,
            }
            if backend is BackendName.audio_interaction
            else {}
        )
        if backend is BackendName.audio_interaction and checkpoint is None:
            fail("--backend audio-interaction needs --checkpoint DIR")
        require_scorers()
        model = make_backend(backend.value, **options)
    except (VadError, HarnessError, ImportError) as exc:
        fail(str(exc))
    try:
        with Bar(f"harness {backend.value}", "streams", count_streams(targets)) as bar:
            result = run_harness(targets, model, fdb_out, progress=bar)
    except ReadError as exc:
        fail(str(exc))
    if report is not None:
        report.write_text(
            json.dumps(
                {
                    "backend": backend.value,
                    "streams": result.streams,
                    "hours": round(result.seconds / 3600, 6),
                    "metrics": result.metrics,
                    "phenomena": result.phenomena,
                    **({"session": {"mode": session.value, **result.session}} if result.session else {}),
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    show_metrics(result, backend.value, Console())
    if report is not None:
        typer.echo(f"report -> {report}")
    if fdb_out is not None:
        typer.echo(f"Full-Duplex-Bench output -> {fdb_out}/<stream>/output.json")

"""``streamaudio validate`` and ``streamaudio audit``."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streamaudio.check.corpus import KEPT_REPORT, show_report, validate_corpus
from streamaudio.check.vad import VadError, model_path
from streamaudio.cli.app import app
from streamaudio.cli.common import fail
from streamaudio.cli.progress import Bar
from streamaudio.use.reader import ReadError, count_streams
from streamaudio.write.output import STATE_DIR


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
    findings of an output folder are also kept in its state folder, where the viewer shows them."""
    try:
        if vad:
            model_path()
        with Bar("validate", "streams", count_streams(targets)) as bar:
            found = validate_corpus(
                targets, vad=vad, workers=max(1, workers), progress=lambda streams, _: bar(streams)
            )
    except (ReadError, VadError) as exc:
        fail(str(exc))
    text = json.dumps(found.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if report is not None:
        report.write_text(text, encoding="utf-8")
    if len(targets) == 1 and targets[0].is_dir():  # kept for ``streamaudio view``: faults by stream
        with contextlib.suppress(OSError):
            (targets[0] / STATE_DIR).mkdir(exist_ok=True)
            (targets[0] / STATE_DIR / KEPT_REPORT).write_text(text, encoding="utf-8")
    show_report(found, Console())
    if report is not None:
        typer.echo(f"report -> {report}")
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
            min=0.5,
            max=1.0,
            help="Exit 1 when a capability's all-features AUC, or its words' AUC, is above this.",
            metavar="X",
        ),
    ] = 0.65,
) -> None:
    """Can replies be guessed from level, length or timing instead of content, or from the words where
    only context or addressing should decide? Steps in the noise?"""
    from streamaudio.check.audit import AuditError, audit, worst_auc
    from streamaudio.check.audit_report import plot_audit, show_audit

    try:
        import sklearn  # noqa: F401
    except ImportError:
        fail("audit needs: pip install 'streamaudio[audit]'")
    try:
        with Bar("audit", "streams", count_streams(targets)) as bar:
            found = audit(targets, progress=bar)
    except AuditError as exc:
        fail(str(exc))
    if report is not None:
        report.write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
    if figure is not None:
        plot_audit(found, figure, max_auc)
    show_audit(found, Console(), max_auc)
    for what, path in (("report", report), ("figure", figure)):
        if path is not None:
            typer.echo(f"{what} -> {path}")
    worst = worst_auc(found)
    if worst and worst[1] > max_auc:
        typer.echo(
            f"FAILED: {worst[0]} replies can be guessed without content (AUC {worst[1]:.2f} > {max_auc:g})"
        )
        raise typer.Exit(1)
    typer.echo("OK" if worst else "OK (no capability has both replies and silent turns to compare)")

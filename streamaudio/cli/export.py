"""``streamaudio export upstream``: lines and features the released code reads."""

from __future__ import annotations

import textwrap
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from streamaudio.cli.common import fail
from streamaudio.cli.progress import Bar
from streamaudio.use.export import FORMATS as EXPORT_FORMATS
from streamaudio.use.export import FeatureWriter, export_upstream
from streamaudio.use.harness.errors import NEEDS_MODEL, HarnessError
from streamaudio.use.lines import MAX_TOKENS, MAX_TURNS, Reach
from streamaudio.use.reader import ReadError, count_streams, shard_paths
from streamaudio.use.tokens import TokenizerError, encode_text, load_tokenizer

export_app = typer.Typer(no_args_is_help=True, help="Write a corpus in other tools' formats.")


ExportFormat = Enum("ExportFormat", {f: f for f in EXPORT_FORMATS}, type=str)


# long only by its options: typer reads each from the signature, with its help
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
    turn_map_turns: Annotated[
        int,
        typer.Option(
            min=0,
            help="Most turn-map entries a training line has; the released trainer draws its cut from the "
            "first 10 only, so more leave chunks it never trains on (0: no cap).",
            metavar="N",
        ),
    ] = MAX_TURNS,
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
        fail(NEEDS_MODEL)
    try:
        with Bar("export upstream", "streams", count_streams([out])) as bar:
            result = export_upstream(
                tars,
                to,
                fmt.value,
                encode,
                features,
                max_tokens,
                progress=bar,
                max_turns=turn_map_turns or None,
            )
    except (ReadError, OSError) as exc:
        fail(str(exc) if isinstance(exc, ReadError) else f"{exc.filename or to}: {exc.strerror or exc}")
    notes = []
    if encode and result.split_streams:
        notes.append(
            f"{result.split_streams} streams cut at turn boundaries to fit {max_tokens} tokens"
            + (f" and {turn_map_turns} turn-map entries." if turn_map_turns else ".")
        )
    if encode:
        notes.append(reach_note(result.reach))
    if result.builder_split_streams:
        notes.append(
            f"{fmt.value}.jsonl: {result.builder_split_streams} streams cut into {result.builder_lines} "
            f"builder lines that fit {max_tokens} tokens with the builder's own noise."
        )
    if result.builder_over_limit:
        notes.append(
            f"Warning: {len(result.builder_over_limit)} builder lines may pass {max_tokens} tokens with the "
            f"builder's noise (one turn runs past it): {', '.join(result.builder_over_limit[:5])}."
        )
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


def reach_note(reach: Reach) -> str:
    """What the released dataloader can ever train on, with its ``use_turn_map`` on (default) and off."""
    share = reach.shares()
    return (
        f"Trainable under the released dataloader: {share['chunks_on']:.1%} of chunks and "
        f"{share['replies_on']:.1%} of replies with use_turn_map on (its default), "
        f"{share['chunks_off']:.1%} and {share['replies_off']:.1%} with it off."
    )

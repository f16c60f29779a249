"""``streamaudio cache``: the shared pool cache, listed and pruned."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from streamaudio.plan.pool_cache import list_pools, pool_root, prune_pools

cache_app = typer.Typer(no_args_is_help=True, help="The pools every build shares, listed and pruned.")

CacheDir = Annotated[
    Path | None,
    typer.Option(
        metavar="DIR",
        help="The cache folder. \\[default: $STREAMAUDIO_CACHE, else ~/.cache/streamaudio]",
        show_default=False,
    ),
]


def _age(seconds: float) -> str:
    if seconds < 60:
        return "under a minute"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 86400 else f"{seconds / 86400:.1f} d"


@cache_app.command("list")
def list_cmd(cache_dir: CacheDir = None) -> None:
    """Each pool: the manifest it holds, its size, when it was made and last used."""
    root = pool_root(cache_dir)
    entries = list_pools(root)
    now = time.time()
    table = Table(box=box.SIMPLE, pad_edge=False)
    for col in ("MB", "made", "last used"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("manifest", overflow="fold")  # last: a long path folds without pushing the rest
    for e in entries:
        made, used = _age(now - e.made), _age(now - e.used)
        table.add_row(f"{e.bytes / 1e6:,.1f}", f"{made} ago", f"{used} ago", e.manifest)
    Console().print(table)
    total = sum(e.bytes for e in entries)
    typer.echo(f"{len(entries)} pools, {total / 1e6:,.1f} MB in {root}")


@cache_app.command("prune")
def prune_cmd(
    cache_dir: CacheDir = None,
    older_than: Annotated[
        float,
        typer.Option(min=0.0, metavar="DAYS", help="Only pools not used for this many days (0: every pool)."),
    ] = 0.0,
) -> None:
    """Remove pools (a build makes a removed one again from its manifest when it needs it)."""
    root = pool_root(cache_dir)
    removed, freed = prune_pools(root, older_than)
    typer.echo(f"removed {removed} pools, {freed / 1e6:,.1f} MB, from {root}")

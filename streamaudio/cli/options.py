"""Option values the commands share: ranges, NAME=MANIFEST sources, positive numbers, executors."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import numpy as np
import typer


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

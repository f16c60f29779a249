"""A finding of a check: what ``validate`` reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One finding: a short kind and a message naming where. A warning is advice (what VAD doubts, a shard
    the manifest does not list); ``validate`` fails on faults, and with ``--strict`` on warnings too."""

    kind: str
    message: str
    warning: bool = False

"""A part's streams planned lazily and packed into shard jobs (the plans of one shard and its digest)."""

from __future__ import annotations

import hashlib
import pickle
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from streamaudio import __version__
from streamaudio.plan.scenarios import SCENARIOS, Pools, Scenario, ScenarioError
from streamaudio.plan.spec import BuildError, BuildSpec, Part
from streamaudio.plan.stream_plan import StreamPlan
from streamaudio.write.shards import (
    pack,
    shard_name,
)


@dataclass(frozen=True)
class ShardJob:
    name: str
    plans: tuple[StreamPlan, ...]
    spec_sha256: str


def part_seed(seed: int, part: Part) -> int:
    """Each capability and split draws from its own seeded streams, so parts never depend on each other."""
    return int(np.random.SeedSequence([seed, zlib.crc32(part.label.encode())]).generate_state(1)[0])


@dataclass
class Carry:
    """How far the parts planned so far came over (negative) or under their hours: the next part asked
    by hours plans that much more, so that a build of many parts lands on its total. Parts are planned
    in order, so the plans stay the same whoever plans them."""

    seconds: float = 0.0


def plan_part(
    spec: BuildSpec, part: Part, pools: Pools, with_digest: bool = True, carry: Carry | None = None
) -> Iterator[ShardJob]:
    """Plan a part's streams (a count, or until the estimated hours are reached) and pack them into
    shards, yielding each shard's job as soon as it is full: rendering starts while planning goes on.
    Without ``with_digest`` the jobs carry no digest of their plans (nothing will be written or resumed);
    ``carry`` is shared by the parts of a build, planned one after the other."""
    try:
        scenario = SCENARIOS[part.capability](pools, part.config, part_seed(spec.seed, part))
    except ScenarioError as exc:
        raise BuildError(str(exc)) from None
    return _shard_jobs(spec, part, scenario, with_digest, carry or Carry())


def _shard_jobs(
    spec: BuildSpec, part: Part, scenario: Scenario, with_digest: bool, carry: Carry
) -> Iterator[ShardJob]:
    """Plans packed into shard jobs as they come; only the plans of the shard being packed are held, so
    planning millions of streams is flat in memory."""
    held: list[StreamPlan] = []  # planned, not yet in a job: the shard being packed and the next plan
    first = 0  # the index of held[0]

    def estimates() -> Iterator[float]:
        asked = (part.hours or 0.0) * 3600.0
        target = max(asked + carry.seconds, asked / 2) if part.hours is not None else 0.0
        planned, count = 0.0, 0
        while part.streams is None or count < part.streams:
            try:
                plan = scenario.plan(count, f"{part.label}-{count:09d}")
            except ScenarioError as exc:
                raise BuildError(str(exc)) from None
            if part.streams is None and planned + plan.estimated_seconds / 2 > target:
                break  # by hours: stop where the total comes closest to the target (maybe at none)
            held.append(plan)
            count += 1
            planned += plan.estimated_seconds
            yield plan.estimated_seconds
        if part.hours is not None:
            carry.seconds = target - planned

    for n, group in enumerate(pack(estimates(), spec.shard_streams, spec.shard_mb)):
        chosen = tuple(held[i - first] for i in group)
        del held[: len(group)]
        first += len(group)
        digest = ""
        if with_digest:  # the plans' pickle identifies them as their repr would, at a third of the cost
            # not the FLAC encoder: every encoder gives the same samples, so a finished shard is kept
            identity = pickle.dumps((__version__, chosen), protocol=5)
            digest = hashlib.sha256(identity).hexdigest()
        yield ShardJob(shard_name(part.capability, part.split, n), chosen, digest)

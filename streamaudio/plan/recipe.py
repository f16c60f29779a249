"""Build recipes (``pipelines/*.yaml``): a mixture of capabilities by hours, turned into build parts."""

from __future__ import annotations

import math
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from streamaudio.check.validate import schema
from streamaudio.errors import StreamAudioError
from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.plan.scenarios.base import scenario_data
from streamaudio.plan.spec import DEFAULT_CAPABILITY, BuildSpec, Part, single
from streamaudio.render.augment import AugmentSpec
from streamaudio.tts.voices import VoiceChoice

CONFIG_FIELDS = {f.name for f in fields(ScenarioConfig)}
RANGE_FIELDS = {"stream_seconds", "gap_seconds", "snr_db", "gap_snr_db", "sound_level_db", "sound_seconds"}


class RecipeError(StreamAudioError):
    """A recipe that cannot be read or does not fit the schema; one line naming file and field."""


def load_recipe(path: Path) -> dict[str, Any]:
    """Read and validate a recipe against ``schemas/pipeline.schema.json``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecipeError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    errors = sorted(
        jsonschema.Draft202012Validator(schema("pipeline")).iter_errors(data), key=lambda e: e.path
    )
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(top)"
        raise RecipeError(f"{path}: {where}: {errors[0].message}")
    return data


def _config(settings: dict[str, Any], base: ScenarioConfig) -> ScenarioConfig:
    values = {k: tuple(v) if k in RANGE_FIELDS else v for k, v in settings.items() if k in CONFIG_FIELDS}
    if "augment" in values:
        values["augment"] = tuple(AugmentSpec.from_recipe(a) for a in values["augment"])
    if "phenomena" in values:
        values["phenomena"] = tuple(sorted({**dict(base.phenomena), **values["phenomena"]}.items()))
    if isinstance(values.get("tts"), (str, dict)):
        values["tts"] = recipe_voices(values["tts"])
    return replace(base, **values)


def recipe_voices(tts: str | dict[str, Any]) -> VoiceChoice:
    """A recipe's ``tts:``: an engine name, or a mapping with its voices, warps, prosody and options."""
    if isinstance(tts, str):
        return VoiceChoice(tts)
    prosody = tts.get("prosody")
    return VoiceChoice(
        engine=tts["engine"],
        voices=tuple(tts.get("voices", ())),
        prosody=None
        if prosody is None
        else tuple((k, float(lo), float(hi)) for k, (lo, hi) in prosody.items()),
        warps=tuple(float(w) for w in tts.get("warps", ())),
        options=tuple(sorted(tts.get("options", {}).items())),
    )


def recipe_parts(
    recipe: dict[str, Any],
    folder: Path,
    *,
    hours: float | None = None,
    streams: int | None = None,
    only: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[Part, ...]:
    """The parts of a recipe: each capability's share of the hours (or streams) split by ``splits``.

    ``hours``/``streams`` replace the recipe's totals, ``only`` keeps one capability, and
    ``overrides`` (ScenarioConfig fields, sources, noise) win over everything in the recipe.
    """
    overrides = overrides or {}
    caps = recipe["capabilities"]
    if only is not None:
        if only not in caps:
            raise RecipeError(f"the recipe has no capability {only!r} (it has {', '.join(caps)})")
        caps = {only: caps[only]}
    if hours is None and streams is None:
        hours, streams = recipe.get("hours"), recipe.get("streams")
    if hours is None and streams is None:
        raise RecipeError("the recipe gives neither hours nor streams: give one of them")
    splits = recipe.get("splits") or {"train": 1.0}
    share_total = sum(c["share"] for c in caps.values())
    split_total = sum(splits.values())
    defaults = recipe.get("defaults", {})
    parts = []
    for cap, settings in caps.items():
        merged = {**defaults, **settings}
        config = _config(
            {**merged, **{k: v for k, v in overrides.items() if k in CONFIG_FIELDS}}, ScenarioConfig()
        )
        if config.data is not None:
            config = replace(config, data=str(_resolve(folder, config.data)))
            scenario_data(cap, config)  # a data file that cannot be read is said before anything is built
        sources = overrides.get("sources") or tuple(
            (name, _resolve(folder, p)) for name, p in merged.get("sources", {}).items()
        )
        noise = overrides.get("noise") or tuple(_resolve(folder, p) for p in merged.get("noise", []))
        for split, split_share in splits.items():
            share = settings["share"] / share_total * split_share / split_total
            size = (
                {"hours": round(hours * share, 9)}
                if hours is not None
                else {"streams": max(1, round(streams * share))}
            )
            parts.append(
                Part(cap, split, sources=sources, noise=noise, config=replace(config, split=split), **size)
            )
    return tuple(parts)


def fit_small_parts(parts: tuple[Part, ...]) -> tuple[tuple[Part, ...], list[str]]:
    """Parts asked by hours that are too small for one stream (under half a typical stream of theirs)
    are left out, their hours given to the largest part of the same capability, so that the build lands
    on the hours asked; each is said in a note. When every part is too small, the hours are refused with
    the smallest that build something. Parts asked by streams are kept as they are."""

    def typical(part: Part) -> float:
        return sum(part.config.stream_seconds) / 2

    def small(part: Part) -> bool:
        return part.hours is not None and part.hours * 3600 < typical(part) / 2

    kept = [p for p in parts if not small(p)]
    if not kept:
        total = sum(p.hours or 0.0 for p in parts)
        least = min(typical(p) / 2 / 3600 * total / p.hours for p in parts if p.hours)
        raise RecipeError(
            f"{total:g} h is too small for this recipe: no part of it holds one stream; ask at least "
            f"--hours {math.ceil(least * 1000) / 1000:g}"
        )
    extra: dict[str, float] = {}
    notes = []
    for part in filter(small, parts):
        hours = part.hours or 0.0
        half = typical(part) / 2
        note = f"{part.label}: {hours * 3600:.0f} s asked, under half a stream ({half:.0f} s): left out"
        same = [p for p in kept if p.capability == part.capability and p.hours is not None]
        if same:
            heir = max(same, key=lambda p: p.hours or 0.0)
            extra[heir.label] = extra.get(heir.label, 0.0) + hours
            note += f", its hours go to {heir.label}"
        notes.append(note)
    fitted = tuple(
        replace(p, hours=round((p.hours or 0.0) + extra[p.label], 9)) if p.label in extra else p for p in kept
    )
    return fitted, notes


def _resolve(folder: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else folder / p


def requested_build(
    out: Path | None = None,
    *,
    capability: str | None = None,
    pipeline: Path | None = None,
    streams: int | None = None,
    hours: float | None = None,
    split: str | None = None,
    overrides: dict[str, Any] | None = None,
    seed: int | None = None,
    shard_streams: int | None = None,
    shard_mb: float | None = None,
    **options: Any,
) -> tuple[BuildSpec, str]:
    """The build a command line asks for, and its name: one capability and split (``single``), or a recipe's
    parts (``pipeline``, only ``capability`` and ``split`` of it when given). ``overrides`` (ScenarioConfig
    fields, ``sources``, ``noise``) win over the recipe; what nobody gives takes the recipe's value, else
    the library's default. ``out`` defaults to ``streamaudio-out/NAME``."""
    overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, ())}
    if hours is not None and streams is not None:
        raise RecipeError("give hours or streams, not both")
    recipe: dict[str, Any] = {}
    if pipeline is not None:
        recipe = load_recipe(pipeline)
        parts = recipe_parts(recipe, pipeline.parent, hours=hours, streams=streams, only=capability,
                             overrides=overrides)  # fmt: skip
        parts = tuple(p for p in parts if split is None or p.split == split)
        if not parts:
            raise RecipeError(f"split {split!r} is not one of the recipe's splits")
        parts, notes = fit_small_parts(parts)
        name = recipe.get("name") or pipeline.stem
    else:
        notes = []
        name = capability or DEFAULT_CAPABILITY
        config = replace(ScenarioConfig(), **{k: v for k, v in overrides.items() if k in CONFIG_FIELDS})
        sized = {"hours": hours} if hours is not None else {"streams": streams} if streams is not None else {}
        parts = single(name, Path(), split=split or "train", sources=overrides.get("sources", ()),
                       noise=overrides.get("noise", ()), config=config, **sized).parts  # fmt: skip
    given = {"seed": seed, "shard_streams": shard_streams, "shard_mb": shard_mb}
    for key, value in given.items():  # the command line's, else the recipe's, else the spec's default
        if value is None and key in recipe:
            given[key] = recipe[key]
    settings = {k: v for k, v in given.items() if v is not None}
    spec = BuildSpec(out or Path("streamaudio-out") / name, parts, **settings, **options, notes=tuple(notes))
    return spec, name

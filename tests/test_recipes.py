"""Build recipes: every recipe in pipelines/ is valid and builds; a mixture keeps its proportions."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from helpers import read_shard

from streamaudio.check.validate import check_sample
from streamaudio.plan.recipe import RecipeError, load_recipe, recipe_parts
from streamaudio.plan.spec import BuildSpec
from streamaudio.write.build import build

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamaudio.cli", "build", *args], capture_output=True, text=True, timeout=600
    )


def test_there_is_a_recipe_per_capability_and_a_mixture() -> None:
    names = {p.stem for p in PIPELINES.glob("*.yaml")}
    assert names == {
        "asr",
        "s2tt",
        "chat",
        "understanding",
        "proactive",
        "environment",
        "counting",
        "streamaudio-2m",
        "eval-interaction",
    }
    mixture = load_recipe(PIPELINES / "streamaudio-2m.yaml")
    assert len(mixture["capabilities"]) == 7


@pytest.mark.parametrize("recipe", sorted(p.name for p in PIPELINES.glob("*.yaml")))
def test_every_recipe_builds_valid_streams(tmp_path: Path, recipe: str) -> None:
    parts = recipe_parts(load_recipe(PIPELINES / recipe), PIPELINES, streams=8)
    result = build(BuildSpec(tmp_path / "o", parts, seed=1))
    assert result.streams >= len(parts)
    for tar in (tmp_path / "o" / "shards").glob("*.tar"):
        for meta, audio, sr in read_shard(tar).values():
            assert check_sample(meta, audio, sr) == [], meta["id"]


def test_mixture_by_hours_lands_on_the_hours_and_keeps_the_recipe_proportions(tmp_path: Path) -> None:
    """--hours on the mixture: within 5% of what was asked, in the recipe's proportions; parts too small
    for one stream (2% dev/test of 1.5 h) are left out and said so; --plan-only plans the same streams."""
    args = [
        "--pipeline",
        str(PIPELINES / "streamaudio-2m.yaml"),
        "--hours",
        "1.5",
        "--out",
        str(tmp_path / "mix"),
    ]
    plan = cli(*args, "--plan-only")
    assert plan.returncode == 0, plan.stderr
    proc = cli(*args, "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("left out") == 14 and "chat-dev: " in proc.stderr  # every dev and test part
    assert "asr/train: asked" in proc.stdout
    manifest = json.loads((tmp_path / "mix" / "manifest.json").read_text())
    shares = {
        c: s["share"] for c, s in load_recipe(PIPELINES / "streamaudio-2m.yaml")["capabilities"].items()
    }
    hours = Counter()
    for part in manifest["parts"]:
        hours[part["capability"]] += part["hours"]
    total = sum(hours.values())
    assert total == pytest.approx(1.5, rel=0.05)
    for cap, share in shares.items():
        assert hours[cap] / total == pytest.approx(share, abs=0.06), cap
    names = {p.name.rsplit("-", 1)[0] for p in (tmp_path / "mix" / "shards").glob("*.tar")}
    assert names == {f"{c}-train" for c in shares}
    assert f"{manifest['streams']} streams" in plan.stdout  # the plan and the build agree


@pytest.mark.parametrize("hours", ["0.5", "2"])
def test_hours_on_the_mixture_land_within_five_percent(hours: str, tmp_path: Path) -> None:
    from streamaudio.plan.dry_run import dry_run
    from streamaudio.plan.recipe import requested_build

    spec, _ = requested_build(tmp_path / "o", pipeline=PIPELINES / "streamaudio-2m.yaml", hours=float(hours))
    assert dry_run(spec).seconds / 3600 == pytest.approx(float(hours), rel=0.05)


def test_hours_too_small_for_any_part_are_refused_with_the_smallest_that_works(tmp_path: Path) -> None:
    proc = cli(
        "--pipeline", str(PIPELINES / "streamaudio-2m.yaml"), "--hours", "0.005", "--out", str(tmp_path)
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    smallest = proc.stderr.split("--hours ")[-1].split()[0]
    assert "too small for this recipe" in proc.stderr and float(smallest) > 0.005
    assert cli("--pipeline", str(PIPELINES / "streamaudio-2m.yaml"), "--hours", smallest, "--plan-only",
               "--out", str(tmp_path / "ok")).returncode == 0  # fmt: skip


def test_command_line_flags_override_the_recipe(tmp_path: Path) -> None:
    proc = cli(
        "--pipeline",
        str(PIPELINES / "streamaudio-2m.yaml"),
        "--capability",
        "counting",
        "--split",
        "train",
        "--streams",
        "3",
        "--stream-seconds",
        "12:16",
        "--seed",
        "5",
        "--out",
        str(tmp_path / "o"),
    )
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["capabilities"] == ["counting"] and manifest["seed"] == 5 and manifest["streams"] == 3
    assert manifest["parts"][0]["config"]["stream_seconds"] == [12.0, 16.0]
    assert [p.name for p in (tmp_path / "o" / "shards").glob("*.tar")] == ["counting-train-000000.tar"]


def test_hours_without_a_recipe(tmp_path: Path) -> None:
    proc = cli("--capability", "proactive", "--hours", "0.05", "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["hours"] == pytest.approx(
        0.05, abs=0.02
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("capabilities: {karaoke: {share: 1}}", "karaoke"),
        ("capabilities: {asr: {share: 1, snr_db: [5]}}", "snr_db"),
        ("capabilities: {asr: {}}", "share"),
        ("hours: [1\n", "not valid YAML"),
        ("bogus: 1\ncapabilities: {}", "bogus"),
    ],
)
def test_bad_recipes_are_one_line_errors(tmp_path: Path, text: str, needle: str) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(text)
    with pytest.raises(RecipeError, match=needle):
        load_recipe(recipe)
    proc = cli("--pipeline", str(recipe), "--hours", "0.1", "--out", str(tmp_path / "o"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and str(recipe) in proc.stderr

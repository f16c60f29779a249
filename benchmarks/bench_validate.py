"""Validation speed: contract checks (1 and 2 workers) and silero VAD checks, in x real time.

    python benchmarks/bench_validate.py [--hours 1]

Builds a mixed corpus from the recipe pipelines/streamaudio-2m.yaml (demo data) first, untimed.
Targets: contract checks >= 5 000x real time; --vad >= 200x real time per core.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from streamaudio.check.corpus import validate_corpus
from streamaudio.plan.recipe import load_recipe, recipe_parts
from streamaudio.plan.spec import BuildSpec
from streamaudio.write.build import build

RECIPE = Path(__file__).resolve().parents[1] / "pipelines" / "streamaudio-2m.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mix"
        build(BuildSpec(out, recipe_parts(load_recipe(RECIPE), RECIPE.parent, hours=args.hours), workers=2))
        for label, vad, workers in (
            ("contract", False, 1),
            ("contract", False, 2),
            ("contract + vad", True, 1),
        ):
            started = time.perf_counter()
            report = validate_corpus([out], vad=vad, workers=workers)
            rate = report.seconds / (time.perf_counter() - started)
            print(
                f"{label:<16} {workers} worker(s): {rate:8,.0f}x real time  ({report.streams} streams, "
                f"{report.seconds / 3600:.2f} h, {sum(report.faults.values())} faults, "
                f"{sum(report.warnings.values())} warnings)"
            )


if __name__ == "__main__":
    main()

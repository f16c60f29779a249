"""Harness speed on one core: the oracle and VAD backends over a demo corpus, in x real time (target >= 100x).

python benchmarks/bench_harness.py [--streams 24]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from streamaudio.plan.spec import single
from streamaudio.use.harness.backends import OracleBackend, VadBackend
from streamaudio.use.harness.run import run_harness
from streamaudio.write.build import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "asr"
        build(single("asr", out, streams=args.streams, seed=1))
        for backend in (OracleBackend(), VadBackend()):
            result = run_harness([out], backend)
            f1 = result.metrics["overall"]["within_1_chunk"]["f1"]
            print(
                f"{backend.name:<8} {result.realtime_factor:8,.0f}x real time  ({result.streams} streams, "
                f"{result.seconds / 3600:.2f} h, F1 within 1 chunk {f1:.2f})"
            )


if __name__ == "__main__":
    main()

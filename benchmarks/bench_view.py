"""How fast ``streamaudio view`` opens a corpus: 100 shards of 64 environment streams (~60 s each).

    python benchmarks/bench_view.py [--shards 100]

Two shards are built, then copied under 100 names (the index reads every tar's headers and each
stream's JSON, so copies cost what distinct shards would). Times: the first open (every tar indexed,
the page cache dropped first when this process may), the second (the kept indexes read), and the
corpus page's data. No peer has such a viewer; the figure to beat is "seconds" for 100 shards.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.plan.spec import single
from streamaudio.use.view import Corpus
from streamaudio.write.build import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = ScenarioConfig(stream_seconds=(45.0, 75.0))
        build(single("environment", root / "src", streams=128, seed=1, shard_streams=64, config=config))
        out = root / "corpus"
        (out / "shards").mkdir(parents=True)
        made = sorted((root / "src" / "shards").glob("*.tar"))
        for i in range(args.shards):
            source = made[i % len(made)]
            shutil.copy(source, out / "shards" / f"c{i:04d}-{source.name}")
        size = sum(p.stat().st_size for p in (out / "shards").iterdir()) / 1e9
        subprocess.run(["sync"], check=False)
        dropped = (
            subprocess.run(
                ["sh", "-c", "echo 3 > /proc/sys/vm/drop_caches"], capture_output=True, check=False
            ).returncode
            == 0
        )
        started = time.perf_counter()
        corpus = Corpus(out)
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = Corpus(out)
        second = time.perf_counter() - started
        started = time.perf_counter()
        again.listing()
        listing = time.perf_counter() - started
        cache = "page cache dropped" if dropped else "page cache not dropped (needs root)"
        print(f"{args.shards} shards, {len(corpus.streams):,} streams, {size:.1f} GB ({cache})")
        print(f"first open, every tar indexed: {first:.2f} s; again, indexes kept: {second:.2f} s; "
              f"the corpus page's data: {listing * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()

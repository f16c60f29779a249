"""Behaviour lock: the sha256 of every shard of a fixed set of builds, and of what validate, audit, export
and the oracle harness write about them, so that moving code can be shown to change no byte.

    python benchmarks/behaviour_lock.py record lock.json   # before a change
    python benchmarks/behaviour_lock.py check lock.json    # after it: exit 1 on any difference

Builds: every capability (12 demo streams each), the streamaudio-2m recipe at 0.3 h, asr spoken by Piper,
asr on 2 workers and on a local Dask cluster. Each runs the installed ``streamaudio`` command.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPABILITIES = ("asr", "s2tt", "chat", "understanding", "proactive", "environment", "counting")
BUILDS = {
    **{cap: ["--capability", cap, "--streams", "12", "--seed", "4"] for cap in CAPABILITIES},
    "streamaudio-2m": ["--pipeline", str(ROOT / "pipelines" / "streamaudio-2m.yaml"), "--hours", "0.3"],
    "piper": ["--capability", "asr", "--streams", "4", "--tts", "piper", "--seed", "2"],
    "workers": ["--capability", "asr", "--streams", "40", "--shard-streams", "8", "--workers", "2"],
    "dask": [
        "--capability",
        "asr",
        "--streams",
        "16",
        "--shard-streams",
        "4",
        "--executor",
        "dask",
        "--workers",
        "2",
    ],
}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamaudio", *args], capture_output=True, text=True)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def text_digest(path: Path, work: Path) -> str:
    """The digest of a text file that names files by absolute path, with the work folder left out."""
    return hashlib.sha256(path.read_text(encoding="utf-8").replace(str(work), "WORK").encode()).hexdigest()


def tree(folder: Path, work: Path) -> dict[str, str]:
    """Every file's digest (JSON lines as text without the work folder)."""
    return {
        str(p.relative_to(folder)): text_digest(p, work) if p.suffix == ".jsonl" else digest(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def stable(text: str) -> str:
    """Command output without what changes from run to run: times, rates, temporary folders."""
    text = re.sub(r"/tmp/\S+", "TMP", text)
    text = re.sub(r"\d+(\.\d+)? ?(s|ms)\b|\d+x real time|\[[^\]]*\]", "T", text)
    return "\n".join(line for line in text.splitlines() if "%|" not in line)


def lock(work: Path, cache: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, args in BUILDS.items():
        out = work / name
        done = run("build", *args, "--out", str(out), "--cache-dir", str(cache))
        if done.returncode:
            raise SystemExit(f"{name}: build failed: {done.stderr.strip().splitlines()[-1]}")
        for shard in sorted((out / "shards").glob("*.tar")):
            found[f"{name}/{shard.name}"] = digest(shard)
        found[f"{name}/rejected.jsonl"] = digest(out / "rejected.jsonl")
    asr = work / "asr"
    found["validate"] = hashlib.sha256(stable(run("validate", str(asr)).stdout).encode()).hexdigest()
    report = work / "audit.json"
    run("audit", str(asr), "--report", str(report))
    found["audit --report"] = text_digest(report, work)
    run("export", "upstream", str(asr), "--to", str(work / "export"))
    for name, sha in tree(work / "export", work).items():
        found[f"export/{name}"] = sha
    harness = run("harness", str(asr), "--backend", "oracle", "--report", str(work / "harness.json"))
    ok = harness.returncode == 0
    found["harness --backend oracle"] = text_digest(work / "harness.json", work) if ok else "failed"
    return found


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in ("record", "check"):
        raise SystemExit(__doc__)
    target = Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        found = lock(Path(tmp) / "work", Path(tmp) / "cache")
    if sys.argv[1] == "record":
        target.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
        print(f"{len(found)} digests -> {target}")
        return
    expected = json.loads(target.read_text())
    differ = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
    for key in differ:
        print(f"differs: {key}")
    print(f"{len(found) - len(differ)} of {len(expected)} digests identical")
    raise SystemExit(1 if differ else 0)


if __name__ == "__main__":
    main()

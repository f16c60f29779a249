"""Share a corpus on the Hugging Face Hub: stage the repo exactly as it will be uploaded, then upload it.

Layout: ``data/<capability>/<split>/*.tar`` (the WebDataset shards, hard-linked when possible),
``manifest.json``, and a dataset card ``README.md`` whose YAML declares one config per capability
(plus ``default``) with ``data_files`` per split, so ``datasets.load_dataset(repo, "asr")`` works.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

from streamaudio import __version__
from streamaudio.errors import StreamAudioError
from streamaudio.plan.scenarios import SCENARIOS
from streamaudio.use.reader import ReadError, iter_samples, manifest_shards, read_manifest


class HubError(StreamAudioError):
    """A corpus that cannot be staged or uploaded; one line saying why."""


def size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return name
    return "1M<n<10M"


def stage(out: Path, stage_dir: Path, repo: str, license_id: str = "other") -> Path:
    """Lay out ``stage_dir`` as the Hub repo will be; returns its path."""
    manifest_path = out / "manifest.json"
    if not manifest_path.is_file():
        raise HubError(f"{out}: no manifest.json (is this a streamaudio output folder?)")
    try:
        manifest = read_manifest(out)
        shards = manifest_shards(out, manifest)
    except ReadError as exc:
        raise HubError(str(exc)) from None
    if stage_dir.exists() and any(stage_dir.iterdir()):
        raise HubError(f"{stage_dir}: staging folder is not empty")
    for src, shard in shards:  # what is uploaded is what the manifest vouches for, byte for byte
        _verify(src, shard)
    files: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    languages: set[str] = set()
    hours: Counter = Counter()
    for src, shard in shards:
        capability, split = _capability_split(src.name)
        dest = stage_dir / "data" / capability / split / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(src, dest)
        files[capability][split].append(f"data/{capability}/{split}/*.tar")
        hours[capability] += shard["hours"]
        languages |= _languages(src)
    shutil.copy2(manifest_path, stage_dir / "manifest.json")
    card = dataset_card(manifest, repo, files, sorted(languages), hours, license_id)
    (stage_dir / "README.md").write_text(card, encoding="utf-8")
    return stage_dir


def _verify(path: Path, entry: dict[str, Any]) -> None:
    """Raise HubError unless the shard is there with the size and sha256 its manifest entry gives."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise HubError(f"{path}: listed in manifest.json, cannot be read ({exc.strerror or exc})") from None
    if digest.hexdigest() != entry["sha256"]:
        raise HubError(f"{path}: sha256 differs from manifest.json's (changed since the build); not staged")


def _languages(shard: Path) -> set[str]:
    """Languages of a shard's first stream: its own, and any it is translated into."""
    try:
        meta = next(iter_samples(shard)).meta
    except (ReadError, StopIteration):
        raise HubError(f"{shard}: cannot read its first stream") from None
    found = {meta.get("language", "en")}
    found |= {ev["target_language"] for ev in meta["events"] if ev.get("target_language")}
    return {code.split("-")[0] for code in found}


def _capability_split(name: str) -> tuple[str, str]:
    parts = name.removesuffix(".tar").split("-")
    if len(parts) < 3:
        raise HubError(f"{name}: not a shard name like asr-train-000000.tar")
    return parts[0], "-".join(parts[1:-1])


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


# long only by the card's template, which reads best whole
def dataset_card(
    manifest: dict[str, Any],
    repo: str,
    files: dict[str, dict[str, list[str]]],
    languages: list[str],
    hours: Counter,
    license_id: str,
) -> str:
    """README.md: YAML metadata (license, languages, tasks, size, a config per capability) and a body."""
    configs = [
        {
            "config_name": cap,
            "data_files": [
                {"split": split, "path": sorted(set(paths))} for split, paths in sorted(splits.items())
            ],
        }
        for cap, splits in sorted(files.items())
    ]
    every: dict[str, list[str]] = defaultdict(list)
    for splits in files.values():
        for split, paths in splits.items():
            every[split] += sorted(set(paths))
    configs.append(
        {"config_name": "default", "data_files": [{"split": s, "path": p} for s, p in sorted(every.items())]}
    )
    features = [{"name": "__key__", "dtype": "string"}, {"name": "__url__", "dtype": "string"},
                {"name": "flac", "dtype": "binary"}, {"name": "json", "dtype": "json"}]  # fmt: skip
    meta = {
        "license": license_id,
        "language": languages or ["en"],
        "task_categories": sorted({SCENARIOS[c].hub_task for c in files if c in SCENARIOS}),
        "size_categories": [size_category(manifest["streams"])],
        "tags": ["audio", "streaming", "full-duplex", "webdataset", "streamaudio"],
        "configs": configs,
        # the audio stays undecoded bytes and the labels arbitrary JSON: no codec or schema inference needed
        "dataset_info": [{"config_name": c["config_name"], "features": features} for c in configs],
    }
    rows = "\n".join(f"| `{c}` | {_summary(c)} | {hours[c]:.2f} |" for c in sorted(files))
    return f"""---
{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip()}
---

# {repo.split("/")[-1]}

Training streams for streaming audio language models such as Audio-Interaction: long 16 kHz
streams stitched from speech, sounds and noise, in which every 0.4 s chunk is labelled either
KEEP_SILENCE (`S`) or a reply (`B`, TEXT_BEGIN … TEXT_END). The corpus teaches *when* to speak as much
as *what* to say. Built with streamaudio {manifest.get("version", __version__)}.

{manifest["streams"]} streams, {manifest["hours"]:.2f} hours, {manifest["replies"]} replies.

| capability | what the streams teach | hours |
| --- | --- | --- |
{rows}

## Shard contract

Each sample of a WebDataset tar is one stream: `<key>.flac` (16 kHz mono PCM_16, exactly
`num_chunks × 6400` samples) and `<key>.json` (schema `streamaudio.stream/1`): `chunk_labels` (one
character per chunk), `events` in stream samples (instruction, speech, sound, noise) and `turns`
(`event`, `chunk`, `respond`, `text`, `emotion`). A reply to a turn ending at sample `e` lands on chunk
`ceil(e / 640) // 10`. `manifest.json` lists every shard with its sha256.

## How it was built

```
{manifest.get("command") or "streamaudio build"}
```

seed {manifest.get("seed")}, streamaudio {manifest.get("version", __version__)}; `manifest.json` holds the
full configuration of every part.

## Loading

```python
import io

import soundfile
from datasets import load_dataset

ds = load_dataset("{repo}", "{sorted(files)[0]}", split="train")
row = ds[0]
meta = row["json"]                                       # the stream's labels and events (a dict)
audio, sr = soundfile.read(io.BytesIO(row["flac"]))      # the FLAC bytes, undecoded
```

Streaming works too (`streaming=True`). For training, `streamaudio.loader.StreamDataset` reads the
tars directly (shuffling, rank and worker splits, crops, token ids). The card declares the `flac`
column as undecoded bytes (decode it with soundfile, no extra codecs needed) and `json` as JSON.
"""


def upload(stage_dir: Path, repo: str, private: bool = False, token: str | None = None) -> str:
    """Create the dataset repo if needed and upload the staged folder (resumable, large-folder mode)."""
    from huggingface_hub import HfApi, get_token

    token = token or get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
    api = HfApi(token=token)
    try:
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        api.upload_large_folder(
            repo_id=repo, folder_path=str(stage_dir), repo_type="dataset", private=private
        )
    except Exception as exc:  # huggingface_hub and requests raise many types; all end the upload the same way
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HubError(f"upload to {repo} failed: {first}") from None
    return f"https://huggingface.co/datasets/{repo}"


def _summary(capability: str) -> str:
    scenario = SCENARIOS.get(capability)
    return scenario.summary if scenario is not None and scenario.summary else capability

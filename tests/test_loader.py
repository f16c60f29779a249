"""The training loader: coverage per epoch across ranks and workers, shuffling, crops, collation, resume."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from streamaudio.check.validate import check_sample
from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.plan.spec import single
from streamaudio.protocol import IGNORE_INDEX, PAD
from streamaudio.use.loader import StreamDataset, StreamLoader, collate, expand_urls
from streamaudio.write.build import build


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("loader") / "asr"
    build(
        single(
            "asr", out, streams=12, seed=2, shard_streams=2, config=ScenarioConfig(stream_seconds=(12, 30))
        )
    )
    return out


ALL = {f"asr-train-{i:09d}" for i in range(12)}


def keys(items) -> list[str]:
    return [k for item in items for k in ([item["key"]] if isinstance(item["key"], str) else item["key"])]


def test_items(corpus: Path) -> None:
    ds = StreamDataset(corpus, shuffle=0, tokenizer=lambda text: [len(w) for w in text.split()])
    items = list(ds)
    assert keys(items) == sorted(ALL)
    item = items[0]
    assert item["audio"].dtype == torch.float32 and item["audio"].numel() == item["meta"]["num_chunks"] * 6400
    assert item["chunk_labels"].tolist() == [int(c == "B") for c in item["meta"]["chunk_labels"]]
    assert (
        item["input_ids"].shape == item["labels"].shape
        and len(item["audio_pos"]) == item["meta"]["num_chunks"]
    )
    a, b = item["audio_pos"][0].tolist()
    assert item["input_ids"][a:b].tolist() == [PAD] * 10


def test_each_sample_once_per_epoch_across_ranks_and_workers(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        loader = torch.utils.data.DataLoader(
            StreamDataset(corpus, seed=3), batch_size=2, num_workers=2, collate_fn=collate
        )
        seen += keys(loader)
    assert sorted(seen) == sorted(ALL)


def test_shuffling_is_seeded_per_epoch(corpus: Path) -> None:
    first = keys(StreamDataset(corpus, seed=1, shuffle=4))
    assert first == keys(StreamDataset(corpus, seed=1, shuffle=4))
    assert sorted(first) == sorted(ALL) and first != sorted(ALL)
    later = StreamDataset(corpus, seed=1, shuffle=4)
    later.set_epoch(1)
    assert keys(later) != first


def test_resampled_runs_forever(corpus: Path) -> None:
    stream = iter(StreamDataset(corpus, resampled=True, shuffle=0))
    drawn = [next(stream)["key"] for _ in range(30)]
    assert len(drawn) == 30 and set(drawn) <= ALL


def test_crops_cut_at_turn_boundaries_and_stay_consistent(corpus: Path) -> None:
    ds = StreamDataset(
        corpus, shuffle=0, max_chunks=20, tensors="numpy", tokenizer=lambda t: [1] * len(t.split())
    )
    cropped = 0
    for item in ds:
        meta = item["meta"]
        assert meta["num_chunks"] <= 20 and item["audio"].size == meta["num_chunks"] * 6400
        assert check_sample({k: v for k, v in meta.items() if k != "crop"}, item["audio"], 16000) == []
        assert len(item["audio_pos"]) == meta["num_chunks"] and item["chunk_labels"].sum() == len(
            [t for t in meta["turns"] if t["respond"]]
        )
        cropped += "crop" in meta
    assert cropped > 0


def test_crop_starts_after_a_reply_chunk(corpus: Path) -> None:
    from streamaudio.use.loader import crop
    from streamaudio.use.reader import iter_samples

    sample = next(iter_samples(next((corpus / "shards").glob("*.tar"))))
    audio, _ = sample.audio()
    boundaries = {0} | {t["chunk"] + 1 for t in sample.meta["turns"]}
    starts = set()
    for seed in range(20):
        meta, cut = crop(sample.meta, audio, 10, np.random.default_rng(seed))
        starts.add(meta["crop"]["start_chunk"])
        assert np.array_equal(cut, audio[meta["crop"]["start_chunk"] * 6400 :][: 10 * 6400])
    assert starts <= boundaries and len(starts) > 1


def test_collate_pads_and_masks(corpus: Path) -> None:
    items = list(StreamDataset(corpus, shuffle=0, tokenizer=lambda t: [5] * len(t.split())))[:3]
    batch = collate(items)
    longest = max(i["audio"].numel() for i in items)
    assert batch["audio"].shape == (3, longest) and batch["audio_mask"].sum() == sum(
        i["audio"].numel() for i in items
    )
    assert batch["chunk_labels"].shape[1] == longest // 6400
    assert (batch["chunk_labels"][~batch["chunk_mask"]] == -1).all()
    assert (batch["labels"][~batch["attention_mask"]] == IGNORE_INDEX).all()
    assert batch["input_ids"][~batch["attention_mask"]].eq(PAD).all()


def test_resume_mid_epoch_with_workers(corpus: Path) -> None:
    loader = StreamLoader(StreamDataset(corpus, seed=4, shuffle=3), batch_size=2, num_workers=2)
    full = keys(StreamLoader(StreamDataset(corpus, seed=4, shuffle=3), batch_size=2, num_workers=2))
    first: list[str] = []
    for batch in loader:
        first += batch["key"]
        if loader.batches == 3:
            break
    state = loader.state_dict()
    resumed = StreamLoader(StreamDataset(corpus, seed=4, shuffle=3), batch_size=2, num_workers=2)
    resumed.load_state_dict(state)
    rest = keys(resumed)
    assert sorted(first + rest) == sorted(ALL) and not set(first) & set(rest)
    assert len(full) == 12  # the restart interleaves workers from worker 0 again; the samples are the same


def test_resume_in_process(corpus: Path) -> None:
    ds = StreamDataset(corpus, seed=5, shuffle=3, tensors="numpy")
    it = iter(ds)
    head = [next(it)["key"] for _ in range(5)]
    again = StreamDataset(corpus, seed=5, shuffle=3, tensors="numpy")
    again.load_state_dict(ds.state_dict())
    assert head + keys(again) == keys(StreamDataset(corpus, seed=5, shuffle=3, tensors="numpy"))


def test_urls(corpus: Path) -> None:
    shards = sorted(str(p) for p in (corpus / "shards").glob("*.tar"))
    brace = str(corpus / "shards" / "asr-train-{000000..000005}.tar")
    assert expand_urls(brace) == shards
    assert expand_urls(str(corpus / "shards" / "*.tar")) == shards
    piped = StreamDataset([f"pipe:cat {s}" for s in shards[:2]], shuffle=0)
    assert keys(piped) == sorted(ALL)[:4]
    with pytest.raises(ValueError, match="no shards"):
        expand_urls(str(corpus / "nothing-*.tar"))


def test_numpy_without_torch(corpus: Path) -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from streamaudio.use.loader import StreamDataset, collate\n"
        f"items = list(StreamDataset({str(corpus)!r}, shuffle=0))\n"
        "import numpy as np\n"
        "assert isinstance(items[0]['audio'], np.ndarray) and len(items) == 12\n"
        "assert collate(items[:2])['audio'].shape[0] == 2\n"
        "print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "ok", proc.stderr

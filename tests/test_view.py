"""``streamaudio view``: the shard index, the server's answers (and refusals), faults and damaged shards
shown on their own streams, and the pages driven in a real headless Chromium."""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import socket
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import running
from typer.testing import CliRunner

from streamaudio.cli.main import app
from streamaudio.plan.scenarios import ScenarioConfig
from streamaudio.plan.spec import single
from streamaudio.use.view import Corpus, ViewServer
from streamaudio.use.view.shard_index import INDEX_DIR
from streamaudio.write.build import build
from streamaudio.write.output import STATE_DIR

ARTIFACTS = Path(
    os.environ.get("STREAMAUDIO_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")
)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two capabilities, two shards each (chat streams have many turns and replies)."""
    root = tmp_path_factory.mktemp("view")
    for cap in ("chat", "environment"):
        build(single(cap, root / cap, streams=4, seed=5, shard_streams=2,
                     config=ScenarioConfig(stream_seconds=(25.0, 40.0))))  # fmt: skip
    out = root / "corpus"
    (out / "shards").mkdir(parents=True)
    for cap in ("chat", "environment"):
        for tar in sorted((root / cap / "shards").glob("*.tar")):
            shutil.copy(tar, out / "shards" / tar.name)
    return out


@pytest.fixture
def corpus(corpus_dir: Path, tmp_path: Path) -> Path:
    """A private copy (the viewer writes its index under the state folder; tests damage shards)."""
    out = tmp_path / "corpus"
    shutil.copytree(corpus_dir, out)
    return out


@pytest.fixture
def server(corpus: Path) -> Iterator[ViewServer]:
    with running(corpus) as served:
        yield served


def get(server: ViewServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    """A raw request: the path goes out exactly as written (no client normalizes ``..``)."""
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), body


def members(tar_path: Path) -> dict[str, bytes]:
    with tarfile.open(tar_path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def test_the_index_finds_every_member_and_is_kept(corpus: Path) -> None:
    """Offsets read once per tar point at each member's bytes; a second open reads the kept index, and a
    changed shard is indexed again."""
    found = Corpus(corpus)
    shards = sorted((corpus / "shards").glob("*.tar"))
    assert [Path(s.path).name for s in found.shards] == [p.name for p in shards]
    for shard in shards:
        for name, data in members(shard).items():
            key, _, ext = name.partition(".")
            assert found.member(key, ext) == data
    kept = sorted((corpus / STATE_DIR / INDEX_DIR).glob("*.json"))
    assert len(kept) == len(shards)
    stamps = [p.stat().st_mtime_ns for p in kept]
    again = Corpus(corpus)
    assert [p.stat().st_mtime_ns for p in kept] == stamps and again.listing() == found.listing()
    first = found.streams[0]
    assert first.summary["seconds"] == found.meta(first.key)["num_chunks"] * 0.4
    shutil.copy(shards[1], shards[0])  # another shard's bytes under the first one's name
    assert Corpus(corpus).streams[0].key == found.shards[1].streams[0].key


def test_the_server_serves_pages_json_and_audio_by_range(server: ViewServer, corpus: Path) -> None:
    listing = json.loads(get(server, "/api/corpus")[2])
    keys = [s["key"] for s in listing["streams"]]
    assert len(keys) == 8 and {s["capability"] for s in listing["streams"]} == {"chat", "environment"}
    assert all(0 < s["replies"] <= s["turns"] and s["seconds"] > 0 for s in listing["streams"])
    key = keys[2]
    flac = Corpus(corpus).member(key, "flac")
    status, headers, body = get(server, f"/audio/{key}.flac")
    assert status == 200 and body == flac and headers["Accept-Ranges"] == "bytes"
    status, headers, body = get(server, f"/audio/{key}.flac", {"Range": "bytes=100-4195"})
    assert status == 206 and body == flac[100:4196]
    assert headers["Content-Range"] == f"bytes 100-4195/{len(flac)}"
    assert get(server, f"/audio/{key}.flac", {"Range": "bytes=-10"})[2] == flac[-10:]
    assert get(server, f"/audio/{key}.flac", {"Range": f"bytes={len(flac)}-"})[0] == 416
    # the player's WAV: the same samples, by range too (Chromium seeks a WAV exactly, not every FLAC)
    status, headers, wav = get(server, f"/audio/{key}.wav")
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    assert np.array_equal(
        sf.read(io.BytesIO(wav), dtype="int16")[0], sf.read(io.BytesIO(flac), dtype="int16")[0]
    )
    assert get(server, f"/audio/{key}.wav", {"Range": "bytes=44-99"})[2] == wav[44:100]
    stream = json.loads(get(server, f"/api/stream/{key}")[2])
    assert stream["meta"]["id"] == key and stream["previous"] == keys[1] and stream["next"] == keys[3]
    peaks = json.loads(get(server, f"/api/peaks/{key}")[2])
    audio, _ = sf.read(io.BytesIO(flac), dtype="float32")
    assert len(peaks["low"]) == -(-audio.size // 160) and max(peaks["high"]) == round(audio.max() * 127)
    for path in ("/", f"/stream/{key}", "/static/stream.js", "/static/view.css"):
        assert get(server, path)[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2fetc%2fpasswd",
        "//etc/passwd",
        "/etc/passwd",
        "/audio/..%2fmanifest.json",
        "/audio/../manifest.json",
        "/stream/../../manifest.json",
        "/api/stream/..%2f..%2fmanifest.json",
        "/static/__init__.py",
        "/static/",
        "/shards/chat-train-000000.tar",
        "/manifest.json",
    ],
)
def test_paths_outside_the_corpus_are_not_found(server: ViewServer, path: str) -> None:
    status, _, body = get(server, path)
    assert status == 404 and b"root:" not in body and b"shards" not in body


def test_damage_shows_on_its_own_stream(corpus: Path) -> None:
    """A stream whose JSON or audio is broken shows its error; a shard cut short lists the streams before
    the damage and says where it stopped; every other stream is served as before."""
    shards = sorted((corpus / "shards").glob("*.tar"))
    index = Corpus(corpus)
    bad_json, bad_flac = index.shards[0].streams[0].key, index.shards[0].streams[1].key
    with open(shards[0], "r+b") as f:
        for key, ext in ((bad_json, "json"), (bad_flac, "flac")):
            offset, size = index.by_key[key].members[ext]
            f.seek(offset + size // 2)
            f.write(b"\xff" * min(4096, size // 2))
    cut = shards[2]
    cut_keys = [s.key for s in index.shards[2].streams]
    second_flac = index.by_key[cut_keys[1]].members["flac"]
    with open(cut, "r+b") as f:
        f.truncate(second_flac[0] + 1000)
    with running(corpus) as server:
        listing = json.loads(get(server, "/api/corpus")[2])
        by_key = {s["key"]: s for s in listing["streams"]}
        assert "not a stream's JSON" in by_key[bad_json]["error"]
        stream = json.loads(get(server, f"/api/stream/{bad_json}")[2])
        assert "meta" not in stream and bad_json in stream["error"]
        assert "cannot be decoded" in json.loads(get(server, f"/api/peaks/{bad_flac}")[2])["error"]
        [shard_error] = listing["shard_errors"]
        assert shard_error["shard"] == str(cut) and "cannot read past" in shard_error["error"]
        assert cut_keys[0] in by_key and by_key[cut_keys[0]]["error"] is None
        assert cut_keys[1] not in by_key or by_key[cut_keys[1]]["error"]
        healthy = [s["key"] for s in listing["streams"] if not s["error"] and s["key"] != bad_flac]
        assert len(healthy) >= 4
        for key in healthy:
            assert "meta" in json.loads(get(server, f"/api/stream/{key}")[2])
            assert "low" in json.loads(get(server, f"/api/peaks/{key}")[2])


def rewrite(tar_path: Path, key: str, change) -> None:
    """The shard again, with one stream's JSON changed."""
    parts = members(tar_path)
    meta = json.loads(parts[f"{key}.json"])
    change(meta)
    parts[f"{key}.json"] = json.dumps(meta).encode()
    with tarfile.open(tar_path, "w") as tar:
        for name, data in parts.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_validate_faults_are_listed_by_stream(corpus: Path) -> None:
    shard = sorted((corpus / "shards").glob("*.tar"))[1]
    key = Corpus(corpus).shards[1].streams[1].key
    rewrite(shard, key, lambda meta: meta.update(chunk_labels="B" + meta["chunk_labels"][1:]))
    result = CliRunner().invoke(app, ["validate", str(corpus)])
    assert result.exit_code == 1
    listing = Corpus(corpus).listing()
    faulty = {s["key"]: s["faults"] for s in listing["streams"] if s["faults"]}
    assert list(faulty) == [key] and key in faulty[key][0]
    assert listing["report"]["ok"] is False and listing["report"]["faults"]


def test_view_command_errors_are_one_line(corpus: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["view", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "not an output folder" in result.output
    assert len(result.output.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["view", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "no shards found" in result.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["view", str(corpus), "--port", str(port)])
    assert result.exit_code == 1 and f"cannot serve on 127.0.0.1:{port}" in result.output


# --- the pages in a real browser ---------------------------------------------------------------------

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    not (CHROMIUM and DRIVER) and not os.environ.get("STREAMAUDIO_REQUIRE_BROWSER"),
    reason="needs Debian's chromium and chromium-driver (CI installs them and requires this test)",
)


@pytest.fixture
def browser() -> Iterator:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER or "chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait(condition, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not met in {timeout} s")


@needs_browser
def test_the_pages_in_a_headless_chromium(browser, corpus: Path) -> None:

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    faulty = Corpus(corpus).shards[2].streams[1].key
    rewrite(sorted((corpus / "shards").glob("*.tar"))[2], faulty, lambda m: m["turns"][0].update(chunk=0))
    assert CliRunner().invoke(app, ["validate", str(corpus)]).exit_code == 1
    index = Corpus(corpus)
    with running(corpus) as server:
        pages(browser, server, index, faulty)


def pages(browser, server: ViewServer, index: Corpus, faulty: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server.url)
    rows = wait(lambda: browser.find_elements(By.CSS_SELECTOR, "tr.stream"))
    assert [r.get_attribute("data-key") for r in rows] == [s.key for s in index.streams]
    groups = browser.find_elements(By.CSS_SELECTOR, "#groups tbody tr")
    assert sorted(" ".join(g.text.split()[:3]) for g in groups) == ["chat train 4", "environment train 4"]
    wait(lambda: "reply latency" in browser.find_element(By.ID, "figures").text)
    charts = browser.find_elements(By.CSS_SELECTOR, "#figures svg.chart")  # the stats are drawn
    assert len(charts) >= 4 and all(c.find_elements(By.TAG_NAME, "rect") for c in charts)
    assert browser.find_elements(By.CSS_SELECTOR, "#streams td.voices")  # each stream's voices
    search = browser.find_element(By.ID, "f-text")
    wanted = index.streams[5]
    search.send_keys(wanted.summary["text"].split("?")[0][:30])

    def listed() -> list[str]:
        return [r.get_attribute("data-key") for r in browser.find_elements(By.CSS_SELECTOR, "tr.stream")]

    shown = wait(lambda: (keys := listed()) and len(keys) < len(rows) and keys)
    assert wanted.key in shown
    search.clear()
    browser.execute_script("document.getElementById('f-text').dispatchEvent(new Event('input'))")
    wait(lambda: len(listed()) == len(rows))
    assert "FAILED" in browser.find_element(By.ID, "report").text
    browser.find_element(By.ID, "f-faults").click()
    wait(lambda: listed() == [faulty])
    assert browser.find_element(By.ID, "filters-set").is_displayed()  # a kept filter says it is set
    assert "has faults" in browser.find_element(By.ID, "filters-set").text
    assert faulty in browser.find_element(By.CSS_SELECTOR, "tr.stream td.fault").text
    browser.find_element(By.ID, "f-faults").click()
    wait(lambda: len(listed()) == len(rows))
    browser.save_screenshot(str(ARTIFACTS / "view-corpus.png"))

    key = index.streams[0].key
    meta = index.meta(key)
    browser.find_element(By.CSS_SELECTOR, f'tr.stream[data-key="{key}"] a').click()
    ready = wait(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    assert ready == "yes", browser.find_element(By.ID, "error").text
    chunks = browser.find_elements(By.CSS_SELECTOR, ".chunk")
    assert "".join(c.get_attribute("class").split()[1] for c in chunks) == meta["chunk_labels"]
    events = browser.find_elements(By.CSS_SELECTOR, ".event")
    assert len(events) == len(meta["events"])
    replies = browser.find_elements(By.CSS_SELECTOR, ".reply")
    assert [r.text.rsplit(" (", 1)[0] for r in replies] == [t["text"] for t in meta["turns"] if t["respond"]]
    audio = "return document.getElementById('audio')"
    browser.find_element(By.ID, "play").click()
    wait(lambda: browser.execute_script(audio + ".currentTime") > 0.5)
    assert not browser.execute_script(audio + ".paused")
    turn = len(meta["turns"]) // 2
    row = browser.find_element(By.CSS_SELECTOR, f'tr.turn[data-turn="{turn}"]')
    start = meta["events"][meta["turns"][turn]["event"]]["start_sample"] / 16000
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    row.click()
    position = browser.execute_script(audio + ".currentTime")
    assert start - 0.01 <= position < start + 0.5, (start, position)
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(" ")
    wait(lambda: browser.execute_script(audio + ".paused"))
    at = browser.execute_script(audio + ".currentTime")
    body.send_keys("\ue014")  # the right arrow: the next chunk's start
    stepped = browser.execute_script(audio + ".currentTime")
    chunk = int((at + 1e-3) / 0.4) + 1
    assert abs(stepped - chunk * 0.4) < 1e-3
    assert f"chunk {chunk} " in browser.find_element(By.ID, "time").text
    legend = browser.find_element(By.ID, "legend").text
    assert "overheard" in legend and "background" in legend and "reply" in legend
    browser.execute_script("window.scrollTo(0, 0)")
    cursor = """const v = document.getElementById('timeline');
        const x = parseFloat(document.getElementById('cursor').style.left);
        return [x, v.scrollLeft, v.clientWidth, document.getElementById('audio').currentTime];"""
    seconds = meta["num_chunks"] * 0.4
    for t in (3.2, seconds / 2, seconds - 1.0):  # zoom in at the start, the middle, the end: the cursor stays
        browser.execute_script(f"document.getElementById('audio').currentTime = {t}")
        wait(lambda t=t: abs(browser.execute_script(audio + ".currentTime") - t) < 1e-3)
        body.send_keys("0")
        for _ in range(4):
            body.send_keys("+")
        for _ in range(3):
            x, left, width, now = browser.execute_script(cursor)
            assert left <= x <= left + width, (t, now, x, left, width)
            body.send_keys("\ue014")  # step on: the view follows
    assert not browser.find_element(By.ID, "error").is_displayed()  # every seek played (none failed)
    body.send_keys("0")
    for _ in range(2):
        browser.find_element(By.ID, "zoom-in").click()
    wait(
        lambda: (
            browser.find_element(By.ID, "track").size["width"]
            > 2 * browser.find_element(By.ID, "timeline").size["width"]
        )
    )
    browser.save_screenshot(str(ARTIFACTS / "view-stream.png"))
    body.send_keys("n")
    wait(lambda: browser.current_url.endswith(f"/stream/{index.streams[1].key}"))
    browser.get(f"{server.url}stream/{faulty}")
    wait(lambda: faulty in browser.find_element(By.ID, "faults").text)
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors  # no script failed on any page

"""Neural speech in demo builds: ``build --tts piper`` and a recipe's ``tts:`` key, offline, with the
shipped voice; and one-line errors for voices that are not there."""

from pathlib import Path

from typer.testing import CliRunner

from streamaudio.cli.main import app
from streamaudio.use.reader import iter_samples, shard_paths

runner = CliRunner()


def spoken_events(out: Path) -> list[dict]:
    return [
        ev
        for tar in shard_paths([out])
        for sample in iter_samples(tar)
        for ev in sample.meta["events"]
        if ev["kind"] in ("speech", "instruction")
    ]


def test_build_chat_with_piper(tmp_path: Path) -> None:
    args = ["build", "--capability", "chat", "--tts", "piper", "--streams", "2", "--stream-seconds", "20:30"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "chat"), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    events = spoken_events(tmp_path / "chat")
    assert events and all(ev["tts"]["engine"] == "piper" for ev in events)
    assert {ev["voice"] for ev in events} <= {
        f"piper:joe{w}" for w in ("~0.92", "~0.96", "", "~1.04", "~1.08")
    }
    assert all(set(ev["tts"]["prosody"]) == {"length_scale", "noise_scale", "noise_w_scale"} for ev in events)
    # the speech bill: everything the build spoke is in the store now, so a plan of it speaks nothing more
    plan = runner.invoke(
        app, [*args, "--out", str(tmp_path / "p"), "--cache-dir", str(tmp_path / "c"), "--plan-only"]
    )
    assert plan.exit_code == 0 and "to speak with piper" not in plan.output, plan.output


def test_plan_only_says_what_speech_a_build_will_synthesize(tmp_path: Path) -> None:
    args = ["build", "--capability", "chat", "--tts", "espeak-ng", "--streams", "6", "--plan-only"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "to speak with espeak-ng: " in said and "clips not in the store" in said
    assert "of CPU at the rate measured for espeak-ng" in said


def test_a_recipe_chooses_the_engine_and_voices(tmp_path: Path) -> None:
    recipe = tmp_path / "neural.yaml"
    recipe.write_text(
        "streams: 2\n"
        "defaults:\n  stream_seconds: [20, 30]\n"
        "capabilities:\n"
        "  environment:\n    share: 1\n    tts: {engine: piper, warps: [0.96, 1.06]}\n"
        "  asr:\n    share: 1\n    tts: espeak-ng\n"
    )
    result = runner.invoke(
        app,
        [
            "build",
            "--pipeline",
            str(recipe),
            "--out",
            str(tmp_path / "o"),
            "--cache-dir",
            str(tmp_path / "c"),
        ],
    )
    assert result.exit_code == 0, result.output
    voices = {ev["voice"] for ev in spoken_events(tmp_path / "o") if ev.get("addressed") is not None}
    assert voices == {"piper:joe~0.96", "piper:joe~1.06"}
    asr = [ev for ev in spoken_events(tmp_path / "o") if ev.get("addressed") is None]
    assert asr and all(ev["voice"].startswith("espeak-ng:") for ev in asr)


def test_voice_errors_are_one_line(tmp_path: Path) -> None:
    cases = {
        ("--tts", "piper", "--voice", "/no/such.onnx"): "piper voice '/no/such.onnx': no such .onnx file",
        ("--tts", "piper", "--voice", "joe#4"): "piper voice joe has one speaker; got speaker '4'",
        ("--tts", "piper", "--warp", "1.5"): "warp 1.5 is outside 0.8..1.25",
        ("--tts", "nope"): "unknown TTS engine 'nope'; known: espeak-ng, openai, piper",
        (
            "--capability",
            "environment",
            "--tts",
            "piper",
            "--warp",
            "1",
        ): "environment needs two voices or more",
        (
            "--tts",
            "piper",
            "--language",
            "de",
        ): "piper has no shipped 'de' voice; name a Piper voice model (.onnx) for it",
    }
    for args, message in cases.items():
        result = runner.invoke(
            app, ["build", *args, "--streams", "1", "--out", str(tmp_path / "x"), "--force"]
        )
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output and result.output.count("\n") <= 2, result.output

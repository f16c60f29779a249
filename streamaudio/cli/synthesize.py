"""``streamaudio synthesize`` and the voice options that ``build`` shares with it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from streamaudio import tts
from streamaudio.cli.common import err, fail
from streamaudio.cli.options import Executor
from streamaudio.cli.progress import Bar
from streamaudio.plan.scenarios import SCENARIOS
from streamaudio.prepare.manifest import ManifestError
from streamaudio.prepare.sources.pipeline import rejects_path
from streamaudio.prepare.synthesize import requests_for, synthesize
from streamaudio.tts import TTSError, parse_prosody
from streamaudio.tts.voices import VoiceChoice
from streamaudio.write import interrupt
from streamaudio.write.dask_window import DaskError

# the voice options ``synthesize`` and ``build --tts`` share
Voices = Annotated[
    list[str] | None,
    typer.Option(
        "--voice",
        metavar="NAME[#SPEAKER]",
        help="A voice (repeatable): joe or a Piper .onnx path, a server's voice. \\[default: engine's]",
        show_default=False,
    ),
]
Warps = Annotated[
    str | None,
    typer.Option(
        "--warp",
        metavar="LIST",
        help="Speed warps making more talkers of each voice, e.g. 0.94,1,1.06. \\[default: the engine's]",
        show_default=False,
    ),
]
ProsodyRanges = Annotated[
    list[str] | None,
    typer.Option(
        "--prosody",
        metavar="NAME=LOW:HIGH",
        help="A prosody range drawn per utterance (repeatable). \\[default: the engine's]",
        show_default=False,
    ),
]
EngineOptions = Annotated[
    list[str] | None,
    typer.Option(
        "--engine-option",
        metavar="KEY=VALUE",
        help="Any option of the engine, e.g. url=http://HOST:PORT (repeatable).",
        show_default=False,
    ),
]


def voice_choice(
    engine: str,
    voices: list[str] | None,
    warps: str | None,
    prosody: list[str] | None,
    options: list[str] | None,
    **named: Any,
) -> VoiceChoice:
    """A VoiceChoice from the command line (``named``: --url, --model… when given)."""
    try:
        ranges = parse_prosody(prosody or [])
        known = tts.prosody_names(engine)
        unknown = sorted(set(ranges) - set(known))
        if unknown:
            takes = f"takes {', '.join(known)}" if known else "takes no prosody parameter"
            raise TTSError(f"--prosody {', '.join(unknown)}: {engine} {takes}")
        warp_values = tuple(float(w) for w in warps.split(",")) if warps else ()
    except ValueError:
        raise TTSError(f"--warp {warps!r}: expected numbers separated by commas, e.g. 0.94,1,1.06") from None
    given: dict[str, Any] = {k: v for k, v in named.items() if v is not None}
    for item in options or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise TTSError(f"--engine-option {item!r}: expected KEY=VALUE")
        given[key] = value
    return VoiceChoice(
        engine=engine,
        voices=tuple(voices or ()),
        prosody=None if prosody is None else tuple((k, lo, hi) for k, (lo, hi) in sorted(ranges.items())),
        warps=warp_values,
        options=tuple(sorted(given.items())),
    )


# long only by its options: typer reads each from the signature, with its help
def synthesize_cmd(
    sources: Annotated[
        list[str],
        typer.Argument(
            metavar="SOURCE",
            help="Dialogue or clip manifests with text; demo, demo-sentences or demo-dialogues.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="PATH", help="Manifest to write (.jsonl, .jsonl.gz, .parquet).")
    ],
    prompts: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME",
            help="Also speak a capability's instructions and questions in every voice; all for all.",
            show_default=False,
        ),
    ] = None,
    engine: Annotated[str, typer.Option(metavar="NAME", help="espeak-ng, piper, openai or a plugin.")] = (
        "espeak-ng"
    ),
    voice: Voices = None,
    warp: Warps = None,
    prosody: ProsodyRanges = None,
    voices_per_text: Annotated[
        int, typer.Option(metavar="N", min=1, help="Voices each clip's text or dialogue is spoken in.")
    ] = 1,
    language: Annotated[str, typer.Option(metavar="CODE", help="Language of the prompts.")] = "en",
    seed: Annotated[int, typer.Option(metavar="N", min=0, help="Seed dealing voices to texts.")] = 0,
    workers: Annotated[int, typer.Option(metavar="N", min=1, help="Processes, each with its own model.")] = 1,
    url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="openai: the server, http://HOST:PORT.", show_default=False),
    ] = None,
    model: Annotated[
        str | None, typer.Option(metavar="NAME", help="openai: the model name.", show_default=False)
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(metavar="SECONDS", help="openai: per request. \\[default: 60]", show_default=False),
    ] = None,
    retries: Annotated[
        int | None,
        typer.Option(
            metavar="N", min=0, help="openai: retries per request. \\[default: 3]", show_default=False
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(metavar="N", min=1, help="openai: requests in flight at once.")
    ] = 8,
    engine_option: EngineOptions = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Where spoken clips are kept for reuse. \\[default: ~/.cache/streamaudio]",
            show_default=False,
        ),
    ] = None,
    executor: Annotated[
        Executor,
        typer.Option(metavar="local|dask", help="local: processes here; dask: a Dask cluster's workers."),
    ] = Executor.local,
    scheduler: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Dask scheduler, tcp://HOST:8786; the cache folder must be on a filesystem its workers "
            "share. \\[default: a local cluster of --workers]",
            show_default=False,
        ),
    ] = None,
    device: Annotated[
        str,
        typer.Option(
            metavar="cpu|cuda",
            help="piper: run the voice on this device (cuda needs onnxruntime-gpu).",
        ),
    ] = "cpu",
) -> None:
    """Speak text (dialogues, transcripts, the capabilities' prompts) into a clip manifest for build."""
    names = list(SCENARIOS) if prompts and "all" in prompts else list(prompts or [])
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        fail(f"--prompts {unknown[0]!r}: not a capability ({', '.join(SCENARIOS)} or all)")
    if device != "cpu":
        if engine in ("espeak-ng", "openai"):
            fail(f"--device {device}: {engine} runs where it runs (piper takes a device)")
        engine_option = [*(engine_option or []), f"device={device}"]
    try:
        choice = voice_choice(
            engine,
            voice,
            warp,
            prosody,
            engine_option,
            url=url,
            model=model,
            timeout=timeout,
            retries=retries,
        )
        tts.configure({engine: dict(choice.options)})
        voices = choice.pool(language)
        requests = requests_for(sources, names, voices, voices_per_text, seed, language)
    except (TTSError, ManifestError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename}: {exc.strerror or exc}")
    if not requests:
        fail("nothing to say: the sources hold no text (give dialogue or clip manifests, or --prompts)")
    bar = Bar(f"synthesize {engine}", "clips", leave=True)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar(done)

    try:
        with bar, interrupt.deferred():
            report = synthesize(
                requests,
                out,
                cache_dir=cache_dir,
                workers=workers,
                concurrency=concurrency,
                options={engine: dict(choice.options)},
                progress=progress,
                executor=executor.value,
                scheduler=scheduler,
            )
    except KeyboardInterrupt as exc:
        err.print("interrupted: spoken clips are kept; run the same command again to go on")
        raise typer.Exit(128 + getattr(exc, "signum", 2)) from None
    except (TTSError, DaskError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or out}: {exc.strerror or exc}")
    typer.echo(f"synthesize: {report.summary()}")
    typer.echo(f"manifest -> {out}; rejects -> {rejects_path(out)}")

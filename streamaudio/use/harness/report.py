"""The harness's metrics as a table for people."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from streamaudio.use.harness.run import HarnessResult


def show_metrics(result: HarnessResult, backend: str, console: Console) -> None:
    console.print(
        f"{backend}: {result.streams} streams, {result.seconds / 3600:.3f} h in {result.elapsed:.1f} s "
        f"({result.realtime_factor:.0f}x real time)",
        highlight=False,
    )
    table = Table(title="reply decisions", title_justify="left", box=box.SIMPLE, pad_edge=False)
    for col in ("capability", "refs", "preds", "F1", "F1 ±1", "latency", "takeover", "WER/BLEU"):
        table.add_column(col, no_wrap=True, justify="left" if col == "capability" else "right")
    for cap, m in result.metrics.items():
        f1 = [f"{m[k]['f1']:.2f}" for k in ("exact", "within_1_chunk")]
        latency = f"{m['latency_ms']['median']:.0f}/{m['latency_ms']['p90']:.0f}" if m["latency_ms"] else "-"
        takeover = f"{m['takeover_rate']:.2f}" if m["takeover_rate"] is not None else "-"
        text = f"WER {m['wer']:.3f}" if "wer" in m else (f"BLEU {m['bleu']:.1f}" if "bleu" in m else "-")
        table.add_row(cap, str(m["references"]), str(m["predictions"]), *f1, latency, takeover, text)
    console.print(table)
    console.print(
        "F1: reply on the labelled chunk; F1 ±1: within one chunk; latency: median/p90 ms after the "
        "trigger ends; takeover: replies to turns that stay silent. Precision and recall: --report.",
        highlight=False,
    )
    if result.phenomena:
        show_phenomena(result.phenomena, console)
    if result.session:
        s = result.session
        console.print(
            f"session: {s['resets']} resets, {s['dropped_chunks']} chunks not heard, {s['capped_replies']} "
            f"replies cut at the cap, {s['left_protocol']} listening steps left the protocol; with every "
            f"token allowed, {s['off_protocol_argmax_share']:.1%} of them would by argmax (mean probability "
            f"{s['off_protocol_mean_probability']:.3f})",
            highlight=False,
        )


def show_phenomena(scores: dict, console: Console) -> None:
    """Per interaction phenomenon: take-over rate where silence is right, response rate and latency where
    a reply is."""
    table = Table(title="interaction phenomena", title_justify="left", box=box.SIMPLE, pad_edge=False)
    for col in ("phenomenon", "silent", "takeover", "replies", "response", "latency"):
        table.add_column(col, no_wrap=True, justify="left" if col == "phenomenon" else "right")
    for name, s in scores.items():
        takeover = "-" if s["takeover_rate"] is None else f"{s['takeover_rate']:.2f}"
        response = "-" if s["response_rate"] is None else f"{s['response_rate']:.2f}"
        latency = "-" if s["latency_s"] is None else f"{s['latency_chunks']:g} ch / {s['latency_s']:.2f} s"
        table.add_row(name, str(s["silent_turns"]), takeover, str(s["reply_turns"]), response, latency)
    console.print(table)
    console.print(
        "takeover: replies where silence is right; response: replies at most 2 s late where one is right; "
        "latency: median chunks after the decision chunk / seconds after the trigger ends.",
        highlight=False,
    )

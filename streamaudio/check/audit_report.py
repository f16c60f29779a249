"""The audit's report on the terminal and as a figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from streamaudio.check.audit import FEATURES

SHORT = {
    "duration": "dur",
    "level": "lvl",
    "gap_before": "gap",
    "position": "pos",
    "background_snr": "snr",
    "source": "src",
    "voice": "voice",
}


def show_audit(report: dict[str, Any], console: Console, max_auc: float) -> None:
    """Two tables that fit 80 columns: shortcut AUCs per feature, then boundary steps."""
    table = Table(
        title="shortcut AUC (0.5: says nothing; 1.0: gives it away)", title_justify="left", box=box.SIMPLE
    )
    table.add_column("capability", no_wrap=True)
    for name in FEATURES:
        table.add_column(SHORT[name], justify="right")
    table.add_column("all", justify="right")
    table.add_column("words", justify="right")
    for name, cap in report["capabilities"].items():
        shortcut = cap["shortcut"]
        words = (cap.get("content") or {}).get("auc")
        said = "–" if words is None else f"[bold {'red' if words > max_auc else 'green'}]{words:.2f}[/]"
        if shortcut["auc"] is None:
            table.add_row(name, *["–"] * len(FEATURES), "n/a", said)
            continue
        cells = [f"{shortcut['features'][f]:.2f}" for f in FEATURES]
        auc = shortcut["auc"]
        table.add_row(name, *cells, f"[bold {'red' if auc > max_auc else 'green'}]{auc:.2f}[/]", said)
    console.print(table)
    scoped = [(n, c["content"]) for n, c in report["capabilities"].items() if c.get("content")]
    for name, content in scoped:
        console.print(f"words: {name}: {content['over']} ({content['decisions']} decisions)")
    steps = Table(
        title="decisions, and level steps in dB (10 ms windows) at event edges and in the noise",
        title_justify="left",
        box=box.SIMPLE,
        pad_edge=False,
    )
    for col in ("capability", "replies", "silent", "edges", "p50", "p99", "max", "noise p99"):
        steps.add_column(col, justify="left" if col == "capability" else "right", no_wrap=True)
    for name, cap in report["capabilities"].items():
        at, own = cap["boundary_steps_db"], cap["noise_steps_db"] or {"p99": float("nan")}
        cells = ["–"] * 3 if at is None else [f"{at['p50']:.1f}", f"{at['p99']:.1f}", f"{at['max']:.1f}"]
        steps.add_row(
            name, str(cap["replies"]), str(cap["silent"]), str(cap["boundaries"]), *cells, f"{own['p99']:.1f}"
        )
    console.print(steps)


def _bar(cap: dict[str, Any], feature: str) -> float:
    """One bar's height: a feature's AUC, all together, or the words' (0 where not measured)."""
    if feature == "all":
        return cap["shortcut"]["auc"]
    if feature == "words":
        return ((cap.get("content") or {}).get("auc")) or 0.0
    return cap["shortcut"]["features"][feature]


def plot_audit(report: dict[str, Any], path: Path, max_auc: float) -> None:
    """Per capability, the AUC of each feature and of all together, with the threshold drawn in."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    caps = [n for n, c in report["capabilities"].items() if c["shortcut"]["auc"] is not None]
    names = [*FEATURES, "all", "words"]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.4 * len(caps) + 2), 4.2))
    width = 0.8 / len(names)
    colors = plt.get_cmap("tab10").colors
    for i, feature in enumerate(names):
        values = [_bar(report["capabilities"][c], feature) for c in caps]
        x = np.arange(len(caps)) + (i - (len(names) - 1) / 2) * width
        ax.bar(x, values, width, label=feature, color="black" if feature == "all" else colors[i])
    ax.axhline(max_auc, color="red", linestyle="--", linewidth=1, label=f"max AUC {max_auc:g}")
    ax.axhline(0.5, color="grey", linewidth=0.8)
    ax.set_xticks(np.arange(len(caps)), caps)
    ax.set_ylim(0.3, 1.02)
    ax.set_ylabel("ROC AUC, reply vs silent")
    ax.set_title(
        "Can the decision be guessed without the content?\n"
        "(words: from the words alone, where they must not decide)",
        fontsize=10,
    )
    ax.legend(ncol=4, fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.12))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

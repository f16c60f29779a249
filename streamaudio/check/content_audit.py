"""The content audit: where the words alone must not decide, can a text-only classifier over the trigger's
transcript tell replies from silences anyway?

- ``environment``: every decision, with the words that address someone removed (the wake phrase, a near
  miss of it, a name): only who is addressed should decide, not which sentences get answered. Hesitations
  and thinking pauses are left out: there the words rightly decide (an unfinished sentence is silent).
- ``chat``: the acknowledgements and short answers: the same short utterance is answered or not by what
  came before it, which the trigger's words do not hold.

The classifier is a logistic regression over bags of words and word pairs, its AUC measured on whole
streams it was not trained on (folds by stream), as the non-content AUCs are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streamaudio.check.cross_validation import cross_validated_auc, measurable

SCOPES = {
    "environment": "every decision, addressing words removed (not hesitations)",
    "chat": "acknowledgements and short answers",
}
UNFINISHED = ("hesitation", "pause")  # phenomena whose words rightly decide


@dataclass
class Said:
    """One decision in scope: the trigger's words (addressing removed), the decision and its stream."""

    text: str
    respond: bool
    stream: str


def said(meta: dict[str, Any]) -> list[Said]:
    """The decisions of a stream that the content audit covers (none outside ``SCOPES``)."""
    cap = meta["capability"]
    if cap not in SCOPES:
        return []
    out = []
    for turn in meta["turns"]:
        ev = meta["events"][turn["event"]]
        phenomenon = ev.get("phenomenon")
        if cap == "chat" and phenomenon not in ("acknowledgement", "short_answer"):
            continue
        if cap == "environment" and phenomenon in UNFINISHED:
            continue
        out.append(Said(without_addressing(ev), bool(turn["respond"]), meta["id"]))
    return out


def without_addressing(ev: dict[str, Any]) -> str:
    """The event's transcript without the words that say whom it addresses (``addressing``)."""
    text = ev.get("text") or ""
    addressing = ev.get("addressing")
    if addressing and text.startswith(addressing):
        text = text[len(addressing) :]
    return text.strip()


def content_auc(found: list[Said]) -> dict[str, Any]:
    """Out-of-fold ROC AUC of reply vs silence from the words alone; None when too few of one kind."""
    y = np.array([s.respond for s in found], dtype=int)
    if not measurable(y):
        return {"auc": None, "decisions": len(found), "note": "too few decisions of one kind to measure"}
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    words = make_pipeline(
        CountVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b"), LogisticRegression(max_iter=1000)
    )
    texts = np.array([s.text for s in found], dtype=object)
    auc = cross_validated_auc(words, texts, y, np.array([s.stream for s in found]))
    return {"auc": round(auc, 4), "decisions": len(found), "replies": int(y.sum())}

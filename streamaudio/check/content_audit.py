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

FOLDS = 5
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
    if len(set(y.tolist())) < 2 or min(np.bincount(y)) < FOLDS:
        return {"auc": None, "decisions": len(found), "note": "too few decisions of one kind to measure"}
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline

    texts = np.array([s.text for s in found], dtype=object)
    groups = np.array([s.stream for s in found])
    if len(set(groups.tolist())) >= FOLDS:
        splits = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=0).split(texts, y, groups)
    else:
        splits = StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(texts, y)
    scores = np.zeros(len(found))
    for train, test in splits:
        if len(set(y[train].tolist())) < 2:
            scores[test] = y[train].mean()
            continue
        model = make_pipeline(
            CountVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b"),
            LogisticRegression(max_iter=1000),
        )
        model.fit(texts[train], y[train])
        scores[test] = model.predict_proba(texts[test])[:, 1]
    return {
        "auc": round(float(roc_auc_score(y, scores)), 4),
        "decisions": len(found),
        "replies": int(y.sum()),
    }

"""A sentiment model beyond accuracy: metrics, calibration, error analysis, and the data it learns from."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from sklearn import metrics

from helpers.tokenization import clean_text

_HTML_TAG = re.compile(r"<[^>]+>")
_MESSY_SPACE = re.compile(r"\s{2,}|^\s|\s$")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


# --- metrics --------------------------------------------------------------------------------------

def scores(labels: Sequence[int], p_positive: Sequence[float], threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, F1 (positive class), ROC-AUC and log loss of P(positive) against 0/1 labels.

    >>> s = scores([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> s["accuracy"], s["roc_auc"]
    (0.5, 0.75)
    """
    labels, p = np.asarray(labels), np.asarray(p_positive, dtype=float)
    predicted = (p >= threshold).astype(int)
    return {"accuracy": metrics.accuracy_score(labels, predicted), "f1": metrics.f1_score(labels, predicted),
            "roc_auc": metrics.roc_auc_score(labels, p),
            "log_loss": metrics.log_loss(labels, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1])}


def confusion(labels: Sequence[int], p_positive: Sequence[float], threshold: float = 0.5) -> pd.DataFrame:
    """The confusion matrix as a table: rows are true labels, columns predicted."""
    predicted = (np.asarray(p_positive) >= threshold).astype(int)
    matrix = metrics.confusion_matrix(labels, predicted, labels=[0, 1])
    names = ["negative", "positive"]
    return pd.DataFrame(matrix, index=[f"true {n}" for n in names], columns=[f"predicted {n}" for n in names])


# --- calibration ----------------------------------------------------------------------------------

def reliability(labels: Sequence[int], p_positive: Sequence[float], n_bins: int = 10) -> pd.DataFrame:
    """Bins of confidence (probability of the predicted class): count, mean confidence, accuracy.

    A calibrated model is right 80% of the time when it says 80%: accuracy equals confidence in every bin.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be a positive number of bins, got {n_bins}.")
    labels, p = np.asarray(labels), np.asarray(p_positive, dtype=float)
    confidence = np.maximum(p, 1 - p)  # in [0.5, 1] for two classes
    correct = (p >= 0.5).astype(int) == labels
    edges = np.linspace(0.5, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    rows = [{"low": edges[b], "high": edges[b + 1], "count": int((which == b).sum()),
             "confidence": confidence[which == b].mean() if (which == b).any() else np.nan,
             "accuracy": correct[which == b].mean() if (which == b).any() else np.nan} for b in range(n_bins)]
    return pd.DataFrame(rows)


def expected_calibration_error(labels: Sequence[int], p_positive: Sequence[float], n_bins: int = 10) -> float:
    """ECE: the gap |accuracy - confidence| of each bin, weighted by the share of examples in it.

    >>> expected_calibration_error([1, 1, 0, 0], [0.9, 0.9, 0.9, 0.1], n_bins=5)  # says 90% and is right 75%
    0.15
    """
    table = reliability(labels, p_positive, n_bins).dropna()
    gap = (table["accuracy"] - table["confidence"]).abs()
    return round(float((gap * table["count"]).sum() / table["count"].sum()), 10)


def fit_temperature(logits: torch.Tensor, labels: Sequence[int], max_iter: int = 200) -> float:
    """The temperature T > 0 that minimizes the cross-entropy of softmax(logits / T) (fit it on validation).

    One number, so it cannot change a single prediction (argmax is unchanged), only how confident they are.
    """
    logits = torch.as_tensor(logits, dtype=torch.float64)  # (N, C)
    target = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)  # T = exp(log_t) stays positive
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), target)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())


def plot_reliability(curves: dict[str, tuple[Sequence[int], Sequence[float]]], n_bins: int = 10, ax=None):
    """Reliability diagram: accuracy against confidence per bin for each (labels, P(positive)), with ECE.

    Bars on a second axis count the predictions in each bin, because a bin of a few reviews is noisy.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    counts = ax.twinx()  # the bars sit behind the curves, in their lower third
    ax.set_zorder(counts.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot([0.5, 1], [0.5, 1], ls="--", color="grey", label="perfect calibration")
    width, top = 0.5 / n_bins / max(len(curves), 1), 1
    for k, (name, (labels, p)) in enumerate(curves.items()):
        table = reliability(labels, p, n_bins)
        top = max(top, int(table["count"].max()))
        ece = expected_calibration_error(labels, p, n_bins)
        shown = table.dropna()  # an empty bin has no accuracy
        line, = ax.plot(shown["confidence"], shown["accuracy"], marker="o", label=f"{name} (ECE {ece:.3f})")
        counts.bar(table["low"] + (k + 0.5) * width, table["count"], width=width, color=line.get_color(),
                   alpha=0.3)
    counts.set(ylabel="predictions in the bin (bars)", ylim=(0, 3 * top))
    counts.grid(False)
    ax.set(xlabel="confidence (probability of the predicted class)", ylabel="accuracy in the bin",
           xlim=(0.5, 1.0), ylim=(0.4, 1.0), title="Reliability diagram")
    ax.legend(loc="upper left")
    return ax


# --- error analysis -------------------------------------------------------------------------------

def confident_mistakes(texts: Sequence[str], labels: Sequence[int], p_positive: Sequence[float],
                       k: int = 5) -> pd.DataFrame:
    """The k wrong predictions the model was surest of, most confident first."""
    labels, p = np.asarray(labels), np.asarray(p_positive, dtype=float)
    wrong = np.flatnonzero((p >= 0.5).astype(int) != labels)
    confidence = np.maximum(p, 1 - p)[wrong]
    picked = wrong[np.argsort(-confidence, kind="stable")[:k]]
    # Plain ints: a datasets Column (datasets 4) refuses numpy integers as keys.
    shown = [texts[int(i)] for i in picked]
    return pd.DataFrame({"index": picked, "label": labels[picked], "p_positive": p[picked],
                         "words": [len(t.split()) for t in shown], "text": shown})


def accuracy_by_length(lengths: Sequence[int], labels: Sequence[int], p_positive: Sequence[float],
                       edges: Sequence[int]) -> pd.DataFrame:
    """Accuracy in length buckets [edges[i], edges[i+1]): reviews, accuracy, and the share of all reviews.

    The last edge may be `float("inf")`: that bucket is labelled "low+".

    >>> accuracy_by_length([10, 20, 300], [1, 0, 1], [0.9, 0.8, 0.7], [0, 100, 1000])["accuracy"].tolist()
    [0.5, 1.0]
    """
    lengths, labels = np.asarray(lengths), np.asarray(labels)
    correct = (np.asarray(p_positive) >= 0.5).astype(int) == labels
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (lengths >= low) & (lengths < high)
        label = f"{low}+" if high == float("inf") else f"{low}-{high - 1}"
        rows.append({"tokens": label, "reviews": int(inside.sum()),
                     "accuracy": correct[inside].mean() if inside.any() else np.nan})
    table = pd.DataFrame(rows)
    table["share"] = table["reviews"] / len(lengths)
    return table


def accuracy_where(texts: Sequence[str], labels: Sequence[int], p_positive: Sequence[float],
                   patterns: dict[str, str]) -> pd.DataFrame:
    """Accuracy on the reviews that match each regular expression (case-insensitive), beside the rest.

    >>> accuracy_where(["not bad", "great"], [1, 1], [0.2, 0.9],
    ...                {"negation": r"\\bnot\\b"})["reviews"].tolist()
    [1, 2]
    """
    labels = np.asarray(labels)
    correct = (np.asarray(p_positive) >= 0.5).astype(int) == labels
    rows = []
    for name, pattern in patterns.items():
        match = np.array([re.search(pattern, t, re.IGNORECASE) is not None for t in texts], dtype=bool)
        rows.append({"pattern": name, "reviews": int(match.sum()),
                     "accuracy": correct[match].mean() if match.any() else np.nan})
    rows.append({"pattern": "all reviews", "reviews": len(labels), "accuracy": correct.mean()})
    return pd.DataFrame(rows)


# --- the data -------------------------------------------------------------------------------------

def normalize_for_duplicates(text: str) -> str:
    """The key two near-duplicate reviews share: cleaned, lowercased, punctuation and spacing dropped.

    >>> (normalize_for_duplicates("Great  movie!<br /><br />Loved it.")
    ...  == normalize_for_duplicates("great movie, loved it"))
    True
    """
    return _NOT_WORD.sub(" ", clean_text(text)).strip()


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def preprocessing_report(train_texts: Sequence[str], test_texts: Sequence[str]) -> pd.DataFrame:
    """What cleaning would change, measured: HTML, messy spacing, duplicates within train, train/test overlap.

    Exact duplicates are byte-equal texts; near duplicates share `normalize_for_duplicates` but are not exact.
    """
    exact_train = [_digest(t) for t in train_texts]
    near_train = [_digest(normalize_for_duplicates(t)) for t in train_texts]
    exact_test = [_digest(t) for t in test_texts]
    near_test = [_digest(normalize_for_duplicates(t)) for t in test_texts]
    exact_counts, near_counts = Counter(exact_train), Counter(near_train)
    # Copies beyond the first of each group: what deduplication would remove.
    exact_extra = sum(c - 1 for c in exact_counts.values())
    near_extra = sum(c - 1 for c in near_counts.values()) - exact_extra
    exact_set, near_set = set(exact_train), set(near_train)
    in_train_exact = sum(d in exact_set for d in exact_test)
    in_train_near = sum(d in near_set for d in near_test) - in_train_exact
    n_train, n_test = len(train_texts), len(test_texts)
    rows = [
        ("train reviews with HTML tags", sum(bool(_HTML_TAG.search(t)) for t in train_texts), n_train),
        ("train reviews with messy whitespace", sum(bool(_MESSY_SPACE.search(t)) for t in train_texts),
         n_train),
        ("exact duplicates within train (extra copies)", exact_extra, n_train),
        ("near duplicates within train (extra copies)", near_extra, n_train),
        ("test reviews also in train, exactly", in_train_exact, n_test),
        ("test reviews also in train, nearly", in_train_near, n_test),
    ]
    return pd.DataFrame([{"what": w, "reviews": c, "share (%)": round(100 * c / max(n, 1), 2)}
                         for w, c, n in rows])


def deduplicate(texts: Sequence[str]) -> list[int]:
    """Indices of the first review of each near-duplicate group, in order: the rows to keep.

    >>> deduplicate(["Good film.", "good film", "Bad film."])
    [0, 2]
    """
    seen: set[bytes] = set()
    keep = []
    for i, text in enumerate(texts):
        key = _digest(normalize_for_duplicates(text))
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return keep

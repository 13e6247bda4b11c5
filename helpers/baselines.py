"""The baseline every neural model is compared with: TF-IDF uni+bigrams and logistic regression."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from helpers import bench
from helpers.tokenization import clean_text

C_GRID = (1.0, 3.0, 10.0, 30.0)


def tfidf_logreg(C: float = 10.0, min_df: int = 2) -> Pipeline:
    """TF-IDF over cleaned uni- and bigrams (sublinear tf), then L2 logistic regression."""
    return make_pipeline(
        TfidfVectorizer(preprocessor=clean_text, ngram_range=(1, 2), min_df=min_df, sublinear_tf=True,
                        token_pattern=r"(?u)\b\w[\w']*\b"),
        LogisticRegression(C=C, max_iter=2_000),
    )


def select_C(train_texts: Sequence[str], train_labels: Sequence[int], val_texts: Sequence[str],
             val_labels: Sequence[int], grid: Sequence[float] = C_GRID) -> tuple[float, dict[float, float]]:
    """The regularization strength with the best validation accuracy, and every score tried."""
    scores = {C: tfidf_logreg(C).fit(train_texts, train_labels).score(val_texts, val_labels) for C in grid}
    return max(scores, key=scores.get), scores


def select_and_fit(train_texts: Sequence[str], train_labels: Sequence[int], val_texts: Sequence[str],
                   val_labels: Sequence[int]) -> tuple[Pipeline, float, dict[float, float]]:
    """Choose C on validation, then refit on train + validation: the model, its C, and every score tried."""
    best_C, scores = select_C(train_texts, train_labels, val_texts, val_labels)
    model = tfidf_logreg(best_C).fit(list(train_texts) + list(val_texts), list(train_labels) + list(val_labels))
    return model, best_C, scores


@bench.register("tfidf_logreg", "TF-IDF uni+bigrams, logistic regression (C chosen on validation)")
def _bench_tfidf_logreg(train, val, test, profile) -> dict:
    start = time.perf_counter()
    # Selection sees train and validation only; test is scored once, below.
    model, best_C, scores = select_and_fit(list(train["text"]), list(train["label"]), list(val["text"]),
                                           list(val["label"]))
    seconds = time.perf_counter() - start
    return {"test_accuracy": model.score(list(test["text"]), list(test["label"])), "val_accuracy": scores[best_C],
            "train_seconds": seconds, "params": {"C": best_C}}

"""The baseline every neural model is compared with: TF-IDF uni+bigrams and logistic regression.

Words are counted with the course's word tokenizer (`tokenization.word_tokenize` after `clean_text`),
so the baseline sees the same tokens as the vocabularies and the neural models. `C` is chosen on the
validation split, and the chosen model stays fitted on the training split alone, as the neural models
are: notebook 00, chapter 03 and the benchmark table report one procedure and one number.
"""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from helpers.tokenization import clean_text, word_tokenize

# Inverse regularization strengths, about threefold apart. On full IMDB validation accuracy rises to a
# plateau from C = 10 to 300 (best at 100), so the chosen C sits inside the grid, not on its edge.
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)


def tfidf_vectorizer(min_df: int = 2) -> TfidfVectorizer:
    """TF-IDF of the course's words and word pairs (sublinear tf) found in `min_df` reviews or more."""
    return TfidfVectorizer(preprocessor=clean_text, tokenizer=word_tokenize, token_pattern=None,
                           lowercase=False, ngram_range=(1, 2), min_df=min_df, sublinear_tf=True)


def tfidf_logreg(C: float = 10.0, min_df: int = 2) -> Pipeline:
    """TF-IDF uni- and bigrams, then L2 logistic regression with inverse regularization strength `C`."""
    return make_pipeline(tfidf_vectorizer(min_df), LogisticRegression(C=C, max_iter=2_000))


def select_and_fit(train_texts: Sequence[str], train_labels: Sequence[int], val_texts: Sequence[str],
                   val_labels: Sequence[int], grid: Sequence[float] = C_GRID
                   ) -> tuple[Pipeline, float, dict[float, float]]:
    """Fit on train for each C in `grid`, keep the best on validation: (that model, its C, every score).

    The vocabulary and IDF weights come from the training split only, like every other model's;
    validation only chooses C, and the model is not refit on it. Ties go to the smaller C.
    """
    if not grid:
        raise ValueError("grid is empty: give at least one value of C to try, e.g. baselines.C_GRID.")
    vectorizer = tfidf_vectorizer()
    X_train, X_val = vectorizer.fit_transform(train_texts), vectorizer.transform(val_texts)
    scores: dict[float, float] = {}
    best: LogisticRegression | None = None
    for C in sorted(grid):
        logreg = LogisticRegression(C=C, max_iter=2_000).fit(X_train, train_labels)
        scores[C] = logreg.score(X_val, val_labels)
        if best is None or scores[C] > scores[best.C]:  # a tie keeps the smaller C: the simpler model
            best = logreg
    return make_pipeline(vectorizer, best), best.C, scores


def select_C(train_texts: Sequence[str], train_labels: Sequence[int], val_texts: Sequence[str],
             val_labels: Sequence[int], grid: Sequence[float] = C_GRID
             ) -> tuple[float, dict[float, float]]:
    """The C with the best validation accuracy, and every score tried (`select_and_fit`'s C)."""
    _, best_C, scores = select_and_fit(train_texts, train_labels, val_texts, val_labels, grid)
    return best_C, scores

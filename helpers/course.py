"""The course as a whole: its chapters, what each builds on, a map of them, and every recorded result.

    course.CHAPTERS["09_deployment"].builds_on     # ('08_sentiment_pipeline',)
    course.draw_map()                              # one figure: the chapters and their arrows
    course.results_tables(results.load_results())  # {"IMDB classifiers (...)": DataFrame, "deploy: ...": ...}

Chapter 10 reads it; the README's notebook table lists the same chapters (a test keeps them equal).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from helpers import results


@dataclass(frozen=True)
class Chapter:
    """One notebook: its title, what it builds in a few words, and the chapters it uses."""

    title: str
    builds: str
    builds_on: tuple[str, ...] = ()

    @staticmethod
    def number(name: str) -> str:
        """The two-digit number of a notebook name.

        >>> Chapter.number("05_transformer")
        '05'
        """
        return name[:2]


CHAPTERS: dict[str, Chapter] = {
    "00_getting_started": Chapter("Getting started", "IMDB, profiles,\nTF-IDF baseline"),
    "01_tokenization": Chapter("Tokenization", "cleaning, BPE,\nWordPiece", ("00_getting_started",)),
    "02_word_embeddings": Chapter("Word embeddings", "word2vec, GloVe,\nfastText", ("01_tokenization",)),
    "03_rnn_lstm_gru": Chapter("RNN, LSTM, GRU", "recurrence, BiLSTM\nclassifier", ("02_word_embeddings",)),
    "04_seq2seq_attention": Chapter("Seq2seq + attention", "teacher forcing,\nbeam search",
                                    ("03_rnn_lstm_gru",)),
    "05_transformer": Chapter("The Transformer", "self-attention,\npositions, layer norm",
                              ("04_seq2seq_attention", "02_word_embeddings")),
    "06_pretrained_bert": Chapter("Pre-trained BERT", "MLM, [CLS],\nfine-tuning",
                                  ("05_transformer", "01_tokenization")),
    "07_long_documents": Chapter("Long documents", "Longformer, BigBird,\nReformer", ("06_pretrained_bert",)),
    "08_sentiment_pipeline": Chapter("Sentiment pipeline", "ablations, calibration,\nensemble",
                                     ("07_long_documents", "06_pretrained_bert", "00_getting_started")),
    "09_deployment": Chapter("Deployment", "int8, ONNX,\na web service", ("08_sentiment_pipeline",)),
    "10_review": Chapter("Review", "15 questions,\nall results", ("09_deployment",)),
}
PER_ROW = 6  # chapters per row of the map: 00-05 left to right, then 06-10 right to left


def map_position(index: int, per_row: int = PER_ROW) -> tuple[float, float]:
    """(x, y) of the index-th chapter on the map: a snake, left to right, then back on the row below.

    >>> [map_position(i, per_row=3) for i in (0, 2, 3, 5)]
    [(0, 0), (2, 0), (2, -1), (0, -1)]
    """
    row, col = divmod(index, per_row)
    return (col if row % 2 == 0 else per_row - 1 - col), -row


def draw_map(ax=None, chapters: dict[str, Chapter] = CHAPTERS):
    """Draw the chapters as boxes on a snake and an arrow from each chapter to every chapter that uses it."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if ax is None:
        _, ax = plt.subplots(figsize=(15, 4))  # wide enough for the longest title in its box
    names = list(chapters)
    where = {name: map_position(i) for i, name in enumerate(names)}
    width, height = 1.7, 0.62
    for name, (x, y) in where.items():
        chapter = chapters[name]
        ax.add_patch(FancyBboxPatch((x * 2 - width / 2, y * 1.4 - height / 2), width, height,
                                    boxstyle="round,pad=0.04", facecolor="#dbe9f6", edgecolor="#2b5d8a"))
        ax.text(x * 2, y * 1.4 + 0.14, f"{Chapter.number(name)} · {chapter.title}", ha="center", va="center",
                fontsize=9, weight="bold")
        ax.text(x * 2, y * 1.4 - 0.12, chapter.builds, ha="center", va="center", fontsize=8, color="#333333")
    for name, chapter in chapters.items():
        for source in chapter.builds_on:
            (x0, y0), (x1, y1) = where[source], where[name]
            next_in_line = names.index(name) - names.index(source) == 1
            # Neighbours on the snake get a straight arrow; longer reaches arc over the boxes between them.
            bend = 0.0 if next_in_line else (0.35 if y0 == y1 == 0 else -0.35 if y0 == y1 else 0.2)
            ax.add_patch(FancyArrowPatch((x0 * 2, y0 * 1.4), (x1 * 2, y1 * 1.4),
                                         connectionstyle=f"arc3,rad={bend}", arrowstyle="-|>",
                                         mutation_scale=14, shrinkA=28, shrinkB=28,
                                         color="#2b5d8a" if next_in_line else "#c0504d", lw=1.4, zorder=0))
    ax.set(xlim=(-1.1, PER_ROW * 2 - 0.9), ylim=(-2.2, 0.8), aspect="equal")
    ax.axis("off")
    return ax


# --- Every recorded result, grouped for reading -------------------------------------------------------------


def results_tables(recorded: dict[str, dict]) -> dict[str, pd.DataFrame]:
    """RESULTS.md's tables as DataFrames of the same text cells (90.9%, 58.5 MB), by the line above each.

    The IMDB classifiers come first, best first within each profile, then one table per other benchmark,
    headed "name: what it measures (where)". `results.tables` decides the rows, their order, the columns and
    how each cell reads; the numbers themselves are in `recorded`.
    """
    return {results.heading(table): pd.DataFrame(results.text_rows(table),
                                                 columns=[c.header for c in table.columns])
            for table in results.tables(recorded)}

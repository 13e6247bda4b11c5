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


# The map's geometry in data units: box size, distance between box centres, the gap an arrow keeps from a box.
BOX_WIDTH, BOX_HEIGHT, X_STEP, Y_STEP, PAD, ARC = 2.05, 0.62, 2.5, 1.5, 0.06, 0.4


def edge(source: tuple[float, float], target: tuple[float, float]) -> tuple[tuple, tuple, float]:
    """(start, end, bend) of the arrow between two box centres, so that it never crosses a box.

    Neighbours on a row: edge to edge. Between rows: from the bottom edge to the top edge, across the gap.
    Further on one row: an arc over the top row or under the others (`bend` is matplotlib's arc3 rad), from
    and to a quarter of the box's width off its centre, so that two arcs at one box do not meet.

    >>> edge((0, 0), (2.5, 0))
    ((1.085, 0), (1.415, 0), 0.0)
    """
    (x0, y0), (x1, y1) = source, target
    half_w, half_h, right = BOX_WIDTH / 2 + PAD, BOX_HEIGHT / 2 + PAD, 1 if x1 > x0 else -1
    if y0 != y1:  # across the gap between the rows, leaving the box centres to the vertical arrows
        shift = 0.0 if x0 == x1 else right * BOX_WIDTH / 4
        return (x0 + shift, y0 - half_h), (x1 - shift, y1 + half_h), 0.0
    if abs(x1 - x0) <= X_STEP:
        return (round(x0 + right * half_w, 6), y0), (round(x1 - right * half_w, 6), y1), 0.0
    side, quarter = (1 if y0 == 0 else -1), right * BOX_WIDTH / 4  # over the top row, under the others
    # An arc's height is bend x length / 2: the bend shrinks with the length, so every arc is ARC high.
    bend = -2 * ARC / (abs(x1 - x0) - BOX_WIDTH / 2) * side * right
    return (x0 + quarter, y0 + side * half_h), (x1 - quarter, y1 + side * half_h), bend


def draw_map(ax=None, chapters: dict[str, Chapter] = CHAPTERS):
    """Draw the chapters as boxes on a snake and an arrow from each chapter to every chapter that uses it."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    names = list(chapters)
    rows = 1 + (len(names) - 1) // PER_ROW
    xlim = (-BOX_WIDTH / 2 - 0.1, (PER_ROW - 1) * X_STEP + BOX_WIDTH / 2 + 0.1)
    ylim = (-(rows - 1) * Y_STEP - 1.05, 1.05)
    if ax is None:  # an inch per unit, the axes filling the figure: the longest title fits in its box
        fig, ax = plt.subplots(figsize=(xlim[1] - xlim[0], ylim[1] - ylim[0]))
        fig.subplots_adjust(left=0, right=1, bottom=0, top=1)
    where = {name: tuple(v * step for v, step in zip(map_position(i), (X_STEP, Y_STEP)))
             for i, name in enumerate(names)}
    for name, (x, y) in where.items():
        chapter = chapters[name]
        ax.add_patch(FancyBboxPatch((x - BOX_WIDTH / 2, y - BOX_HEIGHT / 2), BOX_WIDTH, BOX_HEIGHT,
                                    boxstyle="round,pad=0.04", facecolor="#dbe9f6", edgecolor="#2b5d8a",
                                    zorder=1))
        ax.text(x, y + 0.14, f"{Chapter.number(name)} · {chapter.title}", ha="center", va="center",
                fontsize=9, weight="bold", zorder=2)
        ax.text(x, y - 0.12, chapter.builds, ha="center", va="center", fontsize=8, color="#333333", zorder=2)
    for name, chapter in chapters.items():
        for source in chapter.builds_on:
            start, end, bend = edge(where[source], where[name])
            next_in_line = names.index(name) - names.index(source) == 1
            ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={bend}", arrowstyle="-|>",
                                         mutation_scale=14, shrinkA=0, shrinkB=0, lw=1.4, zorder=3,
                                         color="#2b5d8a" if next_in_line else "#c0504d"))
    ax.set(xlim=xlim, ylim=ylim, aspect="equal")
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

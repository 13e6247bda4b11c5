"""A sentiment predictor for any text: load a fine-tuned classifier once, then get a label and a probability.

    predictor = SentimentPredictor.load("models/imdb")
    predictor.predict(["A joy from start to finish.", "Two hours I will never get back."])
    # [Prediction(label='positive', probability=0.98), Prediction(label='negative', probability=0.99)]

It wraps chapter 06's `finetune.FineTuned` (encoder, pooled head, tokenizer and the truncation it was trained
with: head+tail by default, so a review longer than the model's window keeps its opening and its verdict) and
adds what an application needs: strict input checks, the same cleaning as in training (HTML out), batches of
similar length with a progress bar, a calibration temperature, and an all-or-nothing save (safetensors
weights, JSON settings, checksums checked at load; `finetune.save_folder`).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm.auto import tqdm

from helpers import finetune, storage, training
from helpers.batching import in_length_order, pad_batch
from helpers.checks import check_texts
from helpers.tokenization import clean_text

LABELS = ("negative", "positive")  # index = class id: IMDB's 0 and 1
SETTINGS_FILE = "predictor.json"


def unreadable(text: str) -> str | None:
    """Why the predictor cannot read `text` (not UTF-8, or nothing left once cleaned), or None if it can.

    >>> unreadable("A fine film.") is None, unreadable("<br /><br />\u200b")
    (True, 'nothing is left to read once HTML, control and zero-width characters are removed')
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate, e.g. "\ud800", which no tokenizer accepts
        return f"it is not valid Unicode (a lone surrogate at character {error.start}): send UTF-8 text"
    # Categories C (control, format: zero-width) and Z (spaces) carry nothing a model can read.
    if not any(unicodedata.category(c)[0] not in "CZ" for c in clean_text(text, lowercase=False)):
        return "nothing is left to read once HTML, control and zero-width characters are removed"
    return None


def without_each_word(words: list[str]) -> list[str]:
    """The text once per word, with that word left out.

    >>> without_each_word(["not", "bad", "at", "all"])
    ['bad at all', 'not at all', 'not bad all', 'not bad at']
    """
    return [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))]


class Prediction(NamedTuple):
    """One text's verdict: its label and the model's probability of that label (0.5 to 1)."""

    label: str
    probability: float


@dataclass
class SentimentPredictor:
    """A fine-tuned classifier with what turns texts into predictions: batching, a calibration temperature."""

    classifier: finetune.FineTuned
    temperature: float = 1.0  # logits are divided by it (fit on validation: analysis.fit_temperature)
    batch_size: int = 64

    def __post_init__(self):
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not 0 < t < math.inf:
            raise ValueError(f"temperature must be positive and finite, got {self.temperature!r}.")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive number of texts, got {self.batch_size!r}.")

    @property
    def max_len(self) -> int:
        """Tokens per text the model reads, [CLS] and [SEP] included."""
        return self.classifier.config.max_len

    @torch.no_grad()
    def logits(self, texts: Iterable[str], batch_size: int | None = None,
               progress: bool | None = None) -> torch.Tensor:
        """Raw class scores (N, classes), batched by similar length; a progress bar if there are several."""
        texts = check_texts(texts, allow_blank=False)
        for i, text in enumerate(texts):
            if (reason := unreadable(text)) is not None:
                raise ValueError(f"Text {i} cannot be classified: {reason}.")
        texts = [clean_text(t, lowercase=False) for t in texts]  # as in training: no HTML
        batch_size = batch_size or self.batch_size
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive number of texts, got {batch_size}.")
        ids = self.classifier.inputs(texts)  # truncated as in training, [CLS] and [SEP] added
        starts = range(0, len(ids), batch_size)
        show = progress if progress is not None else len(starts) > 1
        model, pad_id = self.classifier.model.eval(), self.classifier.tokenizer.pad_token_id
        # The model may be any module from (input_ids, attention_mask) to logits: one run by onnxruntime
        # (chapter 09) has no parameters, and its inputs stay on the CPU.
        device = next(model.parameters(), torch.empty(0)).device

        def predict(order: list[int]) -> torch.Tensor:
            outputs = []
            for start in tqdm(starts, desc="predicting", unit="batch", disable=not show, leave=True):
                rows = order[start:start + batch_size]
                inputs, _ = pad_batch([ids[i] for i in rows], [0] * len(rows), pad_id)
                outputs.append(model(**training.to_device(inputs, device)).float().cpu())  # (B, classes)
            return torch.cat(outputs)  # (N, classes), shortest first

        return in_length_order(predict, [len(x) for x in ids])

    def predict_proba(self, texts: Iterable[str], batch_size: int | None = None,
                      progress: bool | None = None) -> np.ndarray:
        """P(positive) for each text, temperature applied."""
        return (self.logits(texts, batch_size, progress) / self.temperature).softmax(-1)[:, 1].numpy()

    def predict(self, texts: Iterable[str], batch_size: int | None = None,
                progress: bool | None = None) -> list[Prediction]:
        """A label and its probability for each text, in order."""
        p = self.predict_proba(texts, batch_size, progress)
        return [Prediction(LABELS[int(q >= 0.5)], float(max(q, 1 - q))) for q in p]

    def word_effects(self, text: str) -> list[tuple[str, float | None]]:
        """Each word of `text` with how far it moves P(positive): P(text) minus P(text without it).

        None where leaving the word out changes nothing the model reads (the middle of a review longer than
        its window) or leaves nothing to read. Asking the model itself, one word left out at a time, needs
        no gradients and no attention weights, so it holds however the model runs (int8, ONNX); it costs one
        text per word the model reads.
        """
        if not isinstance(text, str):
            raise TypeError(f"word_effects takes one text (a str), got {type(text).__name__}.")
        words = clean_text(text, lowercase=False).split()
        whole = " ".join(words)
        variants = without_each_word(words)
        ids = self.classifier.inputs([whole] + variants)
        # A word the model reads changes its input when left out; one in the unread middle does not.
        read = [i for i, v in enumerate(variants) if ids[i + 1] != ids[0] and unreadable(v) is None]
        p = self.predict_proba([whole] + [variants[i] for i in read], progress=False)
        effects: list[float | None] = [None] * len(words)
        for k, i in enumerate(read, start=1):
            effects[i] = float(p[0] - p[k])
        return list(zip(words, effects))

    @classmethod
    def load(cls, directory: str | os.PathLike) -> SentimentPredictor:
        """A predictor saved with `save` (or a classifier from `FineTuned.save`), on the course's device."""
        directory = storage.readable_folder(directory)
        if not (directory / "finetune.json").is_file():
            raise FileNotFoundError(f"No saved predictor in {directory} (no finetune.json). Train one with "
                                    "`python -m helpers.train_sentiment --out DIR`, "
                                    "or save one with .save(DIR).")
        classifier = finetune.load(directory)  # checks every file, predictor.json included
        settings_file = directory / SETTINGS_FILE
        settings = storage.read_json(settings_file) if settings_file.is_file() else {}
        try:
            return cls(classifier, **settings)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{settings_file} is damaged ({error}). Save the predictor again.") from None

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the predictor to `directory`, all or nothing: a save killed midway leaves the old one.

        The classifier (safetensors weights, encoder config, tokenizer, finetune.json) and the predictor's
        settings go into one staging folder that is swapped in when complete (`finetune.save_folder`).
        """
        settings = {"temperature": self.temperature, "batch_size": self.batch_size}

        def write(folder: Path) -> None:
            self.classifier.write(folder)
            (folder / SETTINGS_FILE).write_text(json.dumps(settings, indent=1) + "\n")

        return finetune.save_folder(directory, write, writer="helpers.sentiment.SentimentPredictor.save")

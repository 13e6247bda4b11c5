"""A sentiment predictor for any text: load a fine-tuned classifier once, then predict a label and a probability.

    predictor = SentimentPredictor.load("models/imdb")
    predictor.predict(["A joy from start to finish.", "Two hours I will never get back."])
    # [Prediction(label='positive', probability=0.98), Prediction(label='negative', probability=0.99)]

It wraps chapter 06's `finetune.FineTuned` (encoder, pooled head, tokenizer and the truncation it was trained
with: head+tail by default, so a review longer than the model's window keeps its opening and its verdict) and adds
what an application needs: strict input checks, the same cleaning as in training (HTML out), batches of similar length with a progress bar, a calibration
temperature, and a save that replaces the folder atomically (safetensors weights, JSON settings).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm.auto import tqdm

from helpers import finetune, training
from helpers.tokenization import clean_text

LABELS = ("negative", "positive")  # index = class id: IMDB's 0 and 1
SETTINGS_FILE = "predictor.json"


class Prediction(NamedTuple):
    """One text's verdict: its label and the model's probability of that label (0.5 to 1)."""

    label: str
    probability: float


def check_texts(texts: Iterable[str]) -> list[str]:
    """The texts as a list, or a clear error: a bare string, a non-string, an empty text, an empty batch."""
    if isinstance(texts, bytes):
        raise TypeError("Pass a list of texts, not a single bytes object: decode it and wrap it in a list.")
    try:
        texts = finetune.check_texts(texts)
    except TypeError as error:
        if not hasattr(texts, "__iter__"):
            raise TypeError(f"Pass a list of texts; got a {type(texts).__name__}.") from None
        raise error
    for i, text in enumerate(texts):
        if not text.strip():
            raise ValueError(f"Text {i} is empty or only whitespace: there is nothing to classify.")
    return texts


@dataclass
class SentimentPredictor:
    """A fine-tuned classifier with what turns texts into predictions: batching and a calibration temperature."""

    classifier: finetune.FineTuned
    temperature: float = 1.0  # logits are divided by it (fit on validation: analysis.fit_temperature)
    batch_size: int = 64

    def __post_init__(self):
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}.")

    @property
    def max_len(self) -> int:
        """Tokens per text the model reads, [CLS] and [SEP] included."""
        return self.classifier.config.max_len

    @torch.no_grad()
    def logits(self, texts: Iterable[str], batch_size: int | None = None, progress: bool | None = None) -> torch.Tensor:
        """Raw class scores (N, classes), in batches of similar length; a progress bar when there are several."""
        texts = [clean_text(t, lowercase=False) for t in check_texts(texts)]  # as in training: no HTML
        batch_size = batch_size or self.batch_size
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive number of texts, got {batch_size}.")
        ids = self.classifier.inputs(texts)  # truncated as in training, [CLS] and [SEP] added
        order = np.argsort([len(x) for x in ids], kind="stable")  # similar lengths together: less padding
        starts = range(0, len(ids), batch_size)
        show = progress if progress is not None else len(starts) > 1
        model, pad_id = self.classifier.model.eval(), self.classifier.tokenizer.pad_token_id
        device = next(model.parameters()).device
        out = torch.empty(len(ids), model.head.out_features)
        for start in tqdm(starts, desc="predicting", unit="batch", disable=not show, leave=True):
            rows = order[start:start + batch_size]
            inputs, _ = finetune.pad_batch([ids[i] for i in rows], [0] * len(rows), pad_id)
            out[torch.as_tensor(rows)] = model(**training.to_device(inputs, device)).float().cpu()  # (B, classes)
        return out

    def predict_proba(self, texts: Iterable[str], batch_size: int | None = None,
                      progress: bool | None = None) -> np.ndarray:
        """P(positive) for each text, temperature applied."""
        return (self.logits(texts, batch_size, progress) / self.temperature).softmax(-1)[:, 1].numpy()

    def predict(self, texts: Iterable[str], batch_size: int | None = None,
                progress: bool | None = None) -> list[Prediction]:
        """A label and its probability for each text, in order."""
        p = self.predict_proba(texts, batch_size, progress)
        return [Prediction(LABELS[int(q >= 0.5)], float(max(q, 1 - q))) for q in p]

    @classmethod
    def load(cls, directory: str | os.PathLike) -> SentimentPredictor:
        """A predictor saved with `save` (or a classifier saved by `FineTuned.save`), on the course's device."""
        directory = Path(directory)
        _recover(directory)
        if not (directory / "finetune.json").is_file():
            raise FileNotFoundError(f"No saved predictor in {directory} (no finetune.json). Train one with "
                                    "`python -m helpers.train_sentiment --out DIR`, or save one with .save(DIR).")
        settings_file = directory / SETTINGS_FILE
        settings = json.loads(settings_file.read_text()) if settings_file.is_file() else {}
        return cls(finetune.load(directory), **settings)

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the predictor to `directory`, atomically: a reader sees the old predictor or the new one.

        Everything is written into a staging folder beside the target; only when it is complete do two renames
        swap it in. A save killed midway leaves the previous predictor as it was (`load` finishes a swap that a
        kill interrupted between the two renames).
        """
        directory = Path(directory)
        _recover(directory)
        staging_root, previous = _siblings(directory)
        shutil.rmtree(staging_root, ignore_errors=True)  # left by a save that was killed
        staging = staging_root / directory.name
        self.classifier.save(staging)  # safetensors weights, encoder config, tokenizer, finetune.json
        settings = {"temperature": self.temperature, "batch_size": self.batch_size}
        (staging / SETTINGS_FILE).write_text(json.dumps(settings, indent=1) + "\n")
        _sync(staging)
        if directory.exists():
            os.replace(directory, previous)
        os.replace(staging, directory)
        shutil.rmtree(previous, ignore_errors=True)
        shutil.rmtree(staging_root, ignore_errors=True)
        return directory


def _siblings(directory: Path) -> tuple[Path, Path]:
    """The staging folder a save writes into, and where the previous predictor waits during the swap."""
    return directory.with_name(f".{directory.name}.saving"), directory.with_name(f".{directory.name}.previous")


def _recover(directory: Path) -> None:
    """Finish what a killed save left: put the previous predictor back, or drop it once the new one is in place."""
    _, previous = _siblings(directory)
    if previous.exists():
        if directory.exists():
            shutil.rmtree(previous)
        else:
            os.replace(previous, directory)


def _sync(folder: Path) -> None:
    """Flush every file in `folder` to disk, so the rename cannot publish files a power cut would lose."""
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())

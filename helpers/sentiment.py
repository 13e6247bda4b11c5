"""A sentiment predictor for any text: load a fine-tuned model once, then predict a label and a probability.

    predictor = SentimentPredictor.load("models/imdb")
    predictor.predict(["A joy from start to finish.", "Two hours I will never get back."])
    # [Prediction(label='positive', probability=0.98), Prediction(label='negative', probability=0.99)]

Reviews longer than the model's window keep their head and tail (Sun et al., 2019: the opening and the verdict
at the end carry the sentiment). A saved predictor is a folder in the Hugging Face layout (safetensors weights,
config, tokenizer) plus `predictor.json` with its settings; saving replaces the folder atomically.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from helpers import config

LABELS = ("negative", "positive")  # index = class id: IMDB's 0 and 1
SETTINGS_FILE = "predictor.json"


class Prediction(NamedTuple):
    """One text's verdict: its label and the model's probability of that label (0.5 to 1)."""

    label: str
    probability: float


def head_tail_ids(ids: Sequence[int], budget: int, head: int) -> list[int]:
    """Keep the first `head` and the last `budget - head` ids when there are more than `budget`.

    >>> head_tail_ids(list(range(10)), budget=6, head=2)
    [0, 1, 6, 7, 8, 9]
    >>> head_tail_ids([1, 2, 3], budget=6, head=2)
    [1, 2, 3]
    """
    if not 0 <= head <= budget:
        raise ValueError(f"head must be between 0 and the budget ({budget}), got {head}.")
    ids = list(ids)
    return ids if len(ids) <= budget else ids[:head] + ids[len(ids) - (budget - head):]


def special_frame(tokenizer) -> tuple[list[int], list[int]]:
    """The special token ids a tokenizer puts before and after one text: ([CLS], [SEP]) for BERT."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    framed = tokenizer("a", add_special_tokens=True)["input_ids"]
    start = next(i for i in range(len(framed)) if framed[i:i + len(bare)] == bare)
    return framed[:start], framed[start + len(bare):]


def check_texts(texts: Iterable[str]) -> list[str]:
    """The texts as a list, or a clear error: a bare string, a non-string, an empty text, an empty batch."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("Pass a list of texts, not a single string: wrap one review in a list, predict([text]).")
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"Pass a list of texts; got a {type(texts).__name__}.") from None
    if not texts:
        raise ValueError("The list of texts is empty: pass at least one text.")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"Text {i} is a {type(text).__name__}, not a string: pass every text as a str.")
        if not text.strip():
            raise ValueError(f"Text {i} is empty or only whitespace: there is nothing to classify.")
    return texts


@dataclass
class SentimentPredictor:
    """A sequence classifier and its tokenizer, with the settings that turn texts into its inputs."""

    model: torch.nn.Module
    tokenizer: object
    max_len: int = 256  # tokens per text, [CLS] and [SEP] included
    head: int = 64  # of the max_len - 2 text tokens, this many from the start; the rest from the end
    temperature: float = 1.0  # logits are divided by it (fit on validation: analysis.fit_temperature)
    batch_size: int = 32
    labels: tuple[str, ...] = field(default=LABELS)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with special tokens, head+tail truncated to max_len."""
        before, after = special_frame(self.tokenizer)
        budget = self.max_len - len(before) - len(after)
        # verbose=False: reviews longer than the model's window are expected; head+tail takes care of them.
        ids = self.tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        return [before + head_tail_ids(x, budget, self.head) + after for x in ids]

    @torch.no_grad()
    def logits(self, texts: Iterable[str], batch_size: int | None = None, progress: bool | None = None) -> torch.Tensor:
        """Raw class scores (N, classes), in batches of similar length; a progress bar when there are many."""
        texts = check_texts(texts)
        batch_size = batch_size or self.batch_size
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive number of texts, got {batch_size}.")
        ids = self.encode(texts)
        order = np.argsort([len(x) for x in ids], kind="stable")  # similar lengths together: less padding
        starts = range(0, len(ids), batch_size)
        show = progress if progress is not None else len(starts) > 1
        device = next(self.model.parameters()).device
        self.model.eval()
        out = torch.empty(len(ids), self.model.config.num_labels)
        for start in tqdm(starts, desc="predicting", unit="batch", disable=not show, leave=True):
            rows = order[start:start + batch_size]
            batch = self.tokenizer.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="pt")
            out[torch.as_tensor(rows)] = self.model(**batch.to(device)).logits.float().cpu()  # (B, classes)
        return out

    def predict_proba(self, texts: Iterable[str], batch_size: int | None = None,
                      progress: bool | None = None) -> np.ndarray:
        """P(positive) for each text, temperature applied."""
        return (self.logits(texts, batch_size, progress) / self.temperature).softmax(-1)[:, 1].numpy()

    def predict(self, texts: Iterable[str], batch_size: int | None = None,
                progress: bool | None = None) -> list[Prediction]:
        """A label and its probability for each text, in order."""
        p = self.predict_proba(texts, batch_size, progress)
        return [Prediction(self.labels[int(q >= 0.5)], float(max(q, 1 - q))) for q in p]

    def settings(self) -> dict:
        """What `save` writes to predictor.json beside the model."""
        return {k: v for k, v in asdict(self).items() if k not in ("model", "tokenizer")}

    @classmethod
    def load(cls, directory: str | os.PathLike, device: str | torch.device | None = None,
             **model_kwargs) -> SentimentPredictor:
        """A predictor saved with `save` (safetensors only, never remote code), on `device` (default: the best)."""
        directory = Path(directory)
        _recover(directory)
        if not (directory / SETTINGS_FILE).is_file():
            raise FileNotFoundError(f"No saved predictor in {directory} (no {SETTINGS_FILE}). Train one with "
                                    "`python -m helpers.train_sentiment --out DIR`, or save one with .save(DIR).")
        settings = json.loads((directory / SETTINGS_FILE).read_text())
        settings["labels"] = tuple(settings.get("labels", LABELS))
        model = AutoModelForSequenceClassification.from_pretrained(
            directory, use_safetensors=True, trust_remote_code=False, **model_kwargs)
        tokenizer = AutoTokenizer.from_pretrained(directory)
        model.to(torch.device(device) if device is not None else config.get_device())
        return cls(model=model, tokenizer=tokenizer, **settings)

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the predictor to `directory`, atomically: a reader sees the old predictor or the new one.

        Everything is written to a staging folder beside the target first; only when it is complete does a
        rename put it in place. A save killed midway leaves the previous predictor as it was.
        """
        directory = Path(directory)
        _recover(directory)
        staging, previous = _siblings(directory)
        shutil.rmtree(staging, ignore_errors=True)  # left by a save that was killed
        staging.mkdir(parents=True)
        self.model.save_pretrained(staging)  # model.safetensors and config.json
        self.tokenizer.save_pretrained(staging)
        (staging / SETTINGS_FILE).write_text(json.dumps(self.settings(), indent=1) + "\n")
        _sync(staging)
        if directory.exists():
            os.replace(directory, previous)
        os.replace(staging, directory)
        shutil.rmtree(previous, ignore_errors=True)
        return directory


def _siblings(directory: Path) -> tuple[Path, Path]:
    """The staging folder a save writes into and where the previous predictor waits during the swap."""
    return (directory.with_name(f".{directory.name}.saving"), directory.with_name(f".{directory.name}.previous"))


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

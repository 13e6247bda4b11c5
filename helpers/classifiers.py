"""Sentiment classifiers trained from scratch: a neural bag of uni+bigrams and a BiLSTM."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from datasets import Dataset
from torch import nn

from helpers import bench, training
from helpers.config import Profile, get_device
from helpers.tokenization import Vocab, clean_text, word_tokenize


def tokenize_reviews(texts: Sequence[str]) -> list[list[str]]:
    """Clean and word-tokenize every review."""
    return [word_tokenize(clean_text(t)) for t in texts]


def with_bigrams(tokens: list[str]) -> list[str]:
    """The tokens followed by every adjacent pair ("not good" becomes a feature of its own)."""
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


def unique(features: list[str]) -> list[str]:
    """Each feature once, in first-seen order: presence matters more than count for sentiment."""
    return list(dict.fromkeys(features))


def head_and_tail(tokens: list[str], max_len: int) -> list[str]:
    """Keep the first and last max_len/2 tokens: reviews often state their verdict at the end."""
    if len(tokens) <= max_len:
        return tokens
    head = max_len // 2
    return tokens[:head] + tokens[len(tokens) - (max_len - head):]


class NBoW(nn.Module):
    """Neural bag of words: average the embeddings of a review's features, then a linear layer."""

    def __init__(self, vocab_size: int, embed_dim: int, num_classes: int = 2, dropout: float = 0.2):
        super().__init__()
        # Sparse gradients: a batch touches a few thousand of the ~10^5 rows, so only those are updated.
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, mode="mean", padding_idx=0, sparse=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(embed_dim, num_classes)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.embedding(ids, offsets)))


def length_mask(lengths: torch.Tensor, steps: int, device: torch.device) -> torch.Tensor:
    """(batch, steps) booleans: True where step t is a real token of that sequence, False on padding."""
    return torch.arange(steps, device=device)[None, :] < lengths.to(device)[:, None]


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of a padded batch (batch, time, features) over its true length; padding stays put."""
    positions = torch.arange(x.size(1), device=x.device)[None, :]
    lengths = lengths.to(x.device)[:, None]
    index = torch.where(length_mask(lengths[:, 0], x.size(1), x.device), lengths - 1 - positions, positions)
    return x.gather(1, index[..., None].expand_as(x))


class BiLSTMClassifier(nn.Module):
    """Embeddings, a bidirectional LSTM, max- and mean-pooling over the real (unpadded) steps, a linear layer.

    The two directions are two nn.LSTMs: the backward one reads each review reversed within its own length, so
    it starts at the last real word, never at padding. That is what pack_padded_sequence achieves, but packed
    sequences run several times slower on CPU, and batches of similar lengths leave little padding to skip.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, num_classes: int = 2, dropout: float = 0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.forward_lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.backward_lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(4 * hidden_dim, num_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embedding(ids))
        backward = reverse_within_length(self.backward_lstm(reverse_within_length(x, lengths))[0], lengths)
        states = torch.cat([self.forward_lstm(x)[0], backward], dim=-1)  # (batch, time, 2*hidden)
        mask = length_mask(lengths, ids.size(1), ids.device)[..., None]
        # Pooling over every step, not just the last, lets a strong word anywhere in a long review count.
        max_pool = states.masked_fill(~mask, float("-inf")).amax(1)
        mean_pool = (states * mask).sum(1) / mask.sum(1)
        return self.out(self.dropout(torch.cat([max_pool, mean_pool], dim=-1)))


def bag_batch(encoded: list[list[int]], labels: list[int]) -> training.Batch:
    """Concatenate variable-length id lists with offsets, as nn.EmbeddingBag expects."""
    lengths = torch.tensor([max(len(e), 1) for e in encoded])
    ids = torch.tensor([i for e in encoded for i in (e or [0])])
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)[:-1]])
    return {"ids": ids, "offsets": offsets}, torch.tensor(labels)


def padded_batch(encoded: list[list[int]], labels: list[int]) -> training.Batch:
    """Pad id lists to the longest in the batch (pad id 0) and keep their true lengths."""
    lengths = torch.tensor([max(len(e), 1) for e in encoded])
    ids = torch.zeros(len(encoded), int(lengths.max()), dtype=torch.long)
    for row, e in enumerate(encoded):
        ids[row, : len(e)] = torch.tensor(e, dtype=torch.long)
    return {"ids": ids, "lengths": lengths}, torch.tensor(labels)


@dataclass
class Batches:
    """Re-iterable batches; with shuffle, each epoch groups reviews of similar length to waste little padding."""

    encoded: list[list[int]]
    labels: list[int]
    batch_size: int
    collate: Callable[[list[list[int]], list[int]], training.Batch]
    shuffle: bool = False
    seed: int = 0
    _epoch: int = field(default=0, init=False)

    def __len__(self) -> int:
        return -(-len(self.encoded) // self.batch_size)

    def _order(self) -> list[list[int]]:
        index = list(range(len(self.encoded)))
        if not self.shuffle:
            return [index[i : i + self.batch_size] for i in range(0, len(index), self.batch_size)]
        rng = random.Random(self.seed + self._epoch)
        self._epoch += 1
        rng.shuffle(index)
        # Sort within chunks of 50 batches by length, then shuffle the batches: random enough, little padding.
        chunk = 50 * self.batch_size
        index = [i for s in range(0, len(index), chunk)
                 for i in sorted(index[s : s + chunk], key=lambda i: len(self.encoded[i]))]
        batches = [index[i : i + self.batch_size] for i in range(0, len(index), self.batch_size)]
        rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[training.Batch]:
        for batch in self._order():
            yield self.collate([self.encoded[i] for i in batch], [self.labels[i] for i in batch])


@dataclass
class TrainedClassifier:
    """A trained model with the text pipeline that feeds it."""

    model: nn.Module
    encode: Callable[[Sequence[str]], list[list[int]]]
    collate: Callable[[list[list[int]], list[int]], training.Batch]
    history: list[dict[str, float]]
    train_seconds: float
    vocab_size: int
    batch_size: int = 256

    def batches(self, texts: Sequence[str], labels: Sequence[int] | None = None) -> Batches:
        """Batches for prediction, in the order of `texts`."""
        return Batches(self.encode(texts), list(labels) if labels is not None else [0] * len(texts),
                       self.batch_size, self.collate)

    def accuracy(self, ds: Dataset) -> float:
        """Accuracy on a dataset with text and label columns."""
        device = next(self.model.parameters()).device
        return training.evaluate(self.model, self.batches(list(ds["text"]), list(ds["label"])), device)["accuracy"]

    def predict_proba(self, texts: Sequence[str]) -> torch.Tensor:
        """P(negative), P(positive) for each text."""
        device = next(self.model.parameters()).device
        return training.predict_proba(self.model, self.batches(list(texts)), device)


def _train(model: nn.Module, encode: Callable[[Sequence[str]], list[list[int]]], collate, vocab_size: int,
           train: Dataset, val: Dataset, profile: Profile, epochs: int, lr: float, weight_decay: float,
           batch_size: int, clip_norm: float | None = None, progress: bool = True) -> TrainedClassifier:
    """Encode both splits, fit with validation-based epoch selection, and wrap the result."""
    start = time.perf_counter()
    train_batches = Batches(encode(list(train["text"])), list(train["label"]), batch_size, collate, shuffle=True)
    val_batches = Batches(encode(list(val["text"])), list(val["label"]), 256, collate)
    history = training.fit(model, train_batches, val_batches, epochs=epochs, lr=lr, weight_decay=weight_decay,
                           clip_norm=clip_norm, device=get_device(), progress=progress)
    return TrainedClassifier(model, encode, collate, history, time.perf_counter() - start, vocab_size)


def train_nbow_bigram(train: Dataset, val: Dataset, profile: Profile, progress: bool = True) -> TrainedClassifier:
    """fastText-style classifier: mean of unigram and bigram embeddings, then linear."""
    features = [unique(with_bigrams(t)) for t in tokenize_reviews(list(train["text"]))]
    # Features seen in fewer than 3 reviews are mostly typos and names; dropping them shrinks the table 5x.
    vocab = Vocab.build(features, min_freq=3 if len(train) > 2_000 else 1)

    def encode(texts: Sequence[str]) -> list[list[int]]:
        return [vocab.encode(unique(with_bigrams(t))) for t in tokenize_reviews(texts)]

    model = NBoW(len(vocab), profile.embed_dim)
    return _train(model, encode, bag_batch, len(vocab), train, val, profile, epochs=profile.epochs + 1,
                  lr=1e-2, weight_decay=0.0, batch_size=2 * profile.batch_size, progress=progress)


def train_bilstm(train: Dataset, val: Dataset, profile: Profile, progress: bool = True) -> TrainedClassifier:
    """A one-layer BiLSTM over the first and last max_len/2 words of each review."""
    vocab = Vocab.build(tokenize_reviews(list(train["text"])), min_freq=2, max_size=profile.vocab_size)

    def encode(texts: Sequence[str]) -> list[list[int]]:
        return [vocab.encode(head_and_tail(t, profile.max_len)) for t in tokenize_reviews(texts)]

    model = BiLSTMClassifier(len(vocab), profile.embed_dim, profile.hidden_dim)
    # One epoch more than the profile's: on full IMDB validation accuracy still rises at epoch 3 (0.884 -> 0.902).
    return _train(model, encode, padded_batch, len(vocab), train, val, profile, epochs=profile.epochs + 1,
                  lr=2e-3, weight_decay=0.0, batch_size=profile.batch_size, clip_norm=5.0, progress=progress)


def _bench(train_fn: Callable[..., TrainedClassifier]) -> Callable[..., dict]:
    """A benchmark from a trainer above: train with validation-based epoch selection, score test once."""

    def run(train: Dataset, val: Dataset, test: Dataset, profile: Profile) -> dict:
        trained = train_fn(train, val, profile)
        best = max(trained.history, key=lambda row: row["val_accuracy"])
        return {"test_accuracy": trained.accuracy(test), "val_accuracy": best["val_accuracy"],
                "train_seconds": trained.train_seconds,
                "params": {"epochs_run": len(trained.history), "best_epoch": best["epoch"],
                           "vocab": trained.vocab_size, "parameters": sum(p.numel() for p in trained.model.parameters())}}

    return run


bench.register("nbow_bigram", "neural bag of uni+bigrams (fastText-style), mean-pooled embeddings, linear")(
    _bench(train_nbow_bigram))
bench.register("bilstm", "1-layer BiLSTM, max+mean pooling, first+last words of each review")(_bench(train_bilstm))

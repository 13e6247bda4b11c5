"""Sentiment classifiers trained from scratch: a neural bag of uni+bigrams, and a BiLSTM whose embeddings
start random or from skip-gram vectors; batches come from PyTorch's DataLoader."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
from datasets import Dataset
from torch import Tensor, nn

from helpers import embeddings, training
from helpers.batching import (Batch, Example, bag_collate, head_and_tail, make_loader, max_pool, mean_pool,
                              pad_collate, padding_mask)
from helpers.checks import check_sizes, check_texts
from helpers.config import OptimizerSettings, Profile, get_device
from helpers.rnn import reverse_within_length
from helpers.tokenization import Vocab, clean_text, word_tokenize

# Where the BiLSTM's embeddings start, and whether they train.
INITIALIZATIONS = ("random", "frozen", "fine-tuned")


def tokenize_reviews(texts: Sequence[str]) -> list[list[str]]:
    """Clean and word-tokenize every review."""
    return [word_tokenize(clean_text(t)) for t in check_texts(texts)]


def with_bigrams(tokens: list[str]) -> list[str]:
    """The tokens followed by every adjacent pair, so "not good" becomes a feature of its own.

    >>> with_bigrams(["not", "good", "!"])
    ['not', 'good', '!', 'not good', 'good !']
    """
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


def unique(features: list[str]) -> list[str]:
    """Each feature once, in first-seen order: presence matters more than count for sentiment.

    >>> unique(["a", "b", "a", "c", "b"])
    ['a', 'b', 'c']
    """
    return list(dict.fromkeys(features))


# ---------------------------------------------------------------- models


class NBoW(nn.Module):
    """Neural bag of words: average the embeddings of a review's features, then a linear layer."""

    def __init__(self, vocab_size: int, embed_dim: int, num_classes: int = 2, dropout: float = 0.2):
        super().__init__()
        check_sizes(vocab_size=vocab_size, embed_dim=embed_dim, num_classes=num_classes)
        # Sparse gradients: a batch touches a few thousand of the ~10^5 rows; only those are updated.
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, mode="mean", padding_idx=0,
                                         sparse=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(embed_dim, num_classes)

    def forward(self, ids: Tensor, offsets: Tensor) -> Tensor:
        """ids (N,): all reviews one after another; offsets (B,): where each starts. -> (B, classes)."""
        return self.out(self.dropout(self.embedding(ids, offsets)))


class BiLSTMClassifier(nn.Module):
    """Embeddings, a bidirectional LSTM, max- and mean-pooling over the real steps, a linear layer.

    The two directions are two nn.LSTMs: the backward one reads each review reversed within its own
    length, so it starts at the last real word, never at padding. That is what pack_padded_sequence
    achieves, but packed sequences run several times slower on CPU, and batches of similar lengths
    leave little padding to skip. `vectors` (vocab_size, embed_dim) start the embeddings from
    pre-trained ones; `freeze` keeps them fixed.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, num_classes: int = 2,
                 dropout: float = 0.5, vectors: Tensor | None = None, freeze: bool = False):
        super().__init__()
        check_sizes(vocab_size=vocab_size, embed_dim=embed_dim, hidden_dim=hidden_dim,
                    num_classes=num_classes)
        if vectors is not None and tuple(vectors.shape) != (vocab_size, embed_dim):
            raise ValueError(f"vectors must be (vocab_size, embed_dim) = ({vocab_size}, {embed_dim}), "
                             f"got {tuple(vectors.shape)}.")
        if vectors is None and freeze:
            raise ValueError("freeze=True keeps pre-trained vectors fixed: pass vectors= too.")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        if vectors is not None:
            self.embedding.weight.data.copy_(vectors)
        self.embedding.weight.requires_grad_(not freeze)
        self.forward_lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.backward_lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(4 * hidden_dim, num_classes)

    def states(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Both directions' hidden states at every step: ids (B, T) -> (B, T, 2H), zero at padding."""
        x = self.dropout(self.embedding(ids))  # (B, T, E)
        forward = self.forward_lstm(x)[0]  # (B, T, H)
        backward = self.backward_lstm(reverse_within_length(x, lengths))[0]  # (B, T, H), reversed
        mask = padding_mask(lengths.to(ids.device), ids.size(1))[..., None]  # (B, T, 1)
        return torch.cat([forward, reverse_within_length(backward, lengths)], dim=-1) * mask

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, T) padded with 0, lengths (B,) -> logits (B, classes)."""
        # Pooling over every step, not just the last, lets a strong word anywhere in a review count.
        states = self.states(ids, lengths)  # (B, T, 2H)
        mask = padding_mask(lengths.to(ids.device), ids.size(1))  # (B, T)
        pooled = torch.cat([max_pool(states, mask), mean_pool(states, mask)], dim=-1)  # (B, 4H)
        return self.out(self.dropout(pooled))


# ---------------------------------------------------------------- training


def _train(model: nn.Module, encode: Callable[[Sequence[str]], list[list[int]]],
           collate: Callable[[list[Example]], Batch], vocab: Vocab, train: Dataset,
           val: Dataset, epochs: int, optim: OptimizerSettings, batch_size: int,
           progress: bool = True, desc: str = "training") -> training.TrainedClassifier:
    """Encode both splits, fit with validation-based epoch selection, and wrap the result."""
    start = time.perf_counter()
    train_batches = make_loader(encode(train["text"]), list(train["label"]), batch_size, collate,
                                shuffle=True)
    val_batches = make_loader(encode(val["text"]), list(val["label"]), batch_size, collate)
    history = training.fit(model, train_batches, val_batches, epochs=epochs, lr=optim.lr,
                           weight_decay=optim.weight_decay, clip_norm=optim.clip_norm, warmup=optim.warmup,
                           device=get_device(), progress=progress, desc=desc)
    seconds = time.perf_counter() - start
    return training.TrainedClassifier(model, encode, collate, history, seconds, vocab, batch_size)


def ngram_features(texts: Sequence[str], max_len: int | None) -> list[list[str]]:
    """Each review's distinct uni- and bigrams, read from its first and last max_len/2 words."""
    return [unique(with_bigrams(head_and_tail(t, max_len))) for t in tokenize_reviews(texts)]


def train_nbow_bigram(train: Dataset, val: Dataset, profile: Profile,
                      progress: bool = True) -> training.TrainedClassifier:
    """fastText-style classifier: the mean of uni- and bigram embeddings, then linear. Sizes from
    the profile: ngram_max_len, ngram_vocab_size, embed_dim, nbow_epochs, nbow_batch_size."""
    # Features seen in fewer than 3 reviews are mostly typos and names; dropping them shrinks the
    # table 5x.
    vocab = Vocab.build(ngram_features(train["text"], profile.ngram_max_len),
                        min_freq=3 if len(train) > 2_000 else 1, max_size=profile.ngram_vocab_size)

    def encode(texts: Sequence[str]) -> list[list[int]]:
        return [vocab.encode(f) for f in ngram_features(texts, profile.ngram_max_len)]

    model = NBoW(len(vocab), profile.embed_dim)
    return _train(model, encode, bag_collate, vocab, train, val, epochs=profile.nbow_epochs,
                  optim=profile.nbow_optim, batch_size=profile.nbow_batch_size, progress=progress,
                  desc="bag of n-grams")


def bilstm_vocab(texts: Sequence[str], profile: Profile) -> Vocab:
    """The BiLSTM's words: seen at least twice in `texts`, the profile's vocab_size most frequent."""
    return Vocab.build(tokenize_reviews(texts), min_freq=2, max_size=profile.vocab_size)


def align_vectors(vectors: Tensor, source: Vocab, target: Vocab, seed: int = 0) -> Tensor:
    """One row per word of `target`: its row of `vectors` (indexed by `source`) where `source` has
    the word, else a random row of the same scale; <pad> gets zeros.

    >>> source, target = Vocab(["good", "bad"]), Vocab(["bad", "film", "good"])
    >>> vectors = torch.tensor([[0.0], [0.0], [1.0], [-1.0]])  # <pad>, <unk>, good, bad
    >>> align_vectors(vectors, source, target)[[0, 2, 4]]  # <pad>, bad, good
    tensor([[ 0.],
            [-1.],
            [ 1.]])
    """
    generator = torch.Generator().manual_seed(seed)
    known = torch.tensor([source.stoi.get(word, -1) for word in target.itos])  # (V,), -1: unknown
    found = vectors[known[known >= 0]].float()  # (V_known, E)
    scale = found.std() if len(found) > 1 else 1.0
    rows = torch.randn(len(target), vectors.size(1), generator=generator) * scale  # (V, E)
    rows[known >= 0] = found
    rows[target.stoi[Vocab.PAD]] = 0.0
    return rows


def pretrain_vectors(texts: Sequence[str], vocab: Vocab, dim: int, epochs: int, seed: int = 0,
                     **sgns_options) -> Tensor:
    """Skip-gram vectors trained on `texts` with helpers.embeddings (chapter 02), one row per word
    of `vocab`. `sgns_options` go to embeddings.train_sgns (window, negatives, threshold, ...)."""
    check_sizes(dim=dim, epochs=epochs)
    corpus = embeddings.build_corpus(check_texts(texts), max_size=len(vocab), min_freq=2)
    torch.manual_seed(seed)
    model = embeddings.SkipGram(len(corpus.vocab), dim)
    embeddings.train_sgns(model, corpus, epochs=epochs, seed=seed, **sgns_options)
    return align_vectors(model.vectors(), corpus.vocab, vocab, seed)


def train_bilstm(train: Dataset, val: Dataset, profile: Profile, init: str = "random",
                 vectors: Tensor | None = None, vocab: Vocab | None = None,
                 epochs: int | None = None, progress: bool = True) -> training.TrainedClassifier:
    """A one-layer BiLSTM over the first and last max_len/2 words of each review, trained for
    `epochs` (profile.bilstm_epochs unless given).

    init: "random" embeddings, or pre-trained `vectors` (rows of `vocab`) kept "frozen" or
    "fine-tuned" (see pretrain_vectors).
    """
    if init not in INITIALIZATIONS:
        raise ValueError(f"init must be one of {', '.join(INITIALIZATIONS)}, got {init!r}.")
    if (init == "random") != (vectors is None) or (vectors is not None and vocab is None):
        raise ValueError(f"init={init!r}: pass vectors= and their vocab= exactly when init is frozen "
                         "or fine-tuned (see pretrain_vectors).")
    vocab = vocab or bilstm_vocab(train["text"], profile)

    def encode(texts: Sequence[str]) -> list[list[int]]:
        return [vocab.encode(head_and_tail(t, profile.max_len)) for t in tokenize_reviews(texts)]

    model = BiLSTMClassifier(len(vocab), profile.embed_dim, profile.hidden_dim, vectors=vectors,
                             freeze=init == "frozen")
    return _train(model, encode, pad_collate, vocab, train, val,
                  epochs=epochs or profile.bilstm_epochs, optim=profile.bilstm_optim,
                  batch_size=profile.batch_size, progress=progress, desc=f"BiLSTM ({init})")


def best_row(history: list[dict[str, float]]) -> dict[str, float]:
    """The epoch with the best validation accuracy (the one training.fit keeps)."""
    return max(history, key=lambda row: row["val_accuracy"])

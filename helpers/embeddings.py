"""Word embeddings from scratch: skip-gram with negative sampling, GloVe, fastText's subwords; the probes
that measure them (word similarity, analogies, neighbours); gensim trained alike, to compare with; and
contextual vectors from a pre-trained Transformer."""

# Shapes: N corpus tokens, V vocabulary, d vector width, B batch, K noise words per pair, P pairs.

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from helpers.tokenization import Vocab, clean_text, word_tokenize
from helpers.training import model_device, to_device

if TYPE_CHECKING:  # transformers and scipy are slow to import: the functions that use them import them
    from scipy import sparse
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# ---------------------------------------------------------------- checks on what callers pass


def _batch(name: str, items: Iterable[Any], what: str = "texts") -> list[Any]:
    """`items` as a non-empty list; a bare string (which would be read one character at a time) is refused."""
    if isinstance(items, (str, bytes)):
        raise TypeError(f"{name} must be a list of {what}, not one string: wrap it in a list, [{items!r}].")
    items = list(items)
    if not items:
        raise ValueError(f"{name} is empty: give at least one of the {what}.")
    return items


def _positive(name: str, value: Any, none_ok: bool = False) -> None:
    """Refuse a size that is not a positive int (None too, unless it means 'no limit')."""
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int{' or None' if none_ok else ''}, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}.")


# ---------------------------------------------------------------- lookup tables


def one_hot_embed(ids: Tensor, weight: Tensor) -> Tensor:
    """What an embedding lookup computes, the slow way: one-hot rows times the weight matrix.

    >>> one_hot_embed(torch.tensor([2, 0]), torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    tensor([[5., 6.],
            [1., 2.]])
    """
    one_hot = F.one_hot(ids, num_classes=weight.shape[0]).to(weight.dtype)  # (..., V)
    return one_hot @ weight  # (..., V) @ (V, d) = (..., d)


# ---------------------------------------------------------------- corpus


@dataclass
class Corpus:
    """A tokenized corpus as flat tensors: reviews concatenated, out-of-vocabulary words dropped."""

    vocab: Vocab
    ids: Tensor  # (N,) token ids, one review after another
    docs: Tensor  # (N,) the review each token comes from, so that windows never span two reviews
    counts: Tensor  # (V,) occurrences of every vocabulary id (0 for <pad> and <unk>)

    def __len__(self) -> int:
        return len(self.ids)

    def head(self, n_tokens: int) -> Corpus:
        """The first `n_tokens` tokens (reviews come shuffled), with the whole corpus's counts."""
        _positive("n_tokens", n_tokens)
        return Corpus(self.vocab, self.ids[:n_tokens], self.docs[:n_tokens], self.counts)

    def sentences(self) -> list[list[str]]:
        """The corpus as one list of words per review, the input gensim and fastText read."""
        lengths = torch.unique_consecutive(self.docs, return_counts=True)[1]
        return [self.vocab.decode(part.tolist()) for part in self.ids.split(lengths.tolist())]


def build_corpus(texts: Iterable[str], max_size: int | None, min_freq: int = 5) -> Corpus:
    """Clean and tokenize texts, keep words seen `min_freq` times (at most `max_size`), encode them."""
    texts = _batch("texts", texts)
    _positive("max_size", max_size, none_ok=True)
    _positive("min_freq", min_freq)
    token_lists = [word_tokenize(clean_text(text)) for text in texts]
    vocab = Vocab.build(token_lists, min_freq=min_freq, max_size=max_size)
    if len(vocab) == 2:
        raise ValueError(f"No word occurs {min_freq} times in these {len(texts)} texts: "
                         "give more text or a lower min_freq.")
    encoded = [torch.tensor(vocab.encode(tokens), dtype=torch.long) for tokens in token_lists]
    ids = torch.cat(encoded)  # (N,)
    lengths = torch.tensor([len(e) for e in encoded])
    docs = torch.repeat_interleave(torch.arange(len(encoded)), lengths)  # (N,)
    # As in word2vec, rare words get no vector and take no slot in anyone's window.
    known = ids != vocab.stoi[Vocab.UNK]
    ids, docs = ids[known], docs[known]
    return Corpus(vocab, ids, docs, torch.bincount(ids, minlength=len(vocab)))


def same_review_starts(docs: Tensor, distance: int) -> Tensor:
    """Positions i whose token i + distance is in the same review: left ends of the pairs `distance` apart.

    >>> same_review_starts(torch.tensor([0, 0, 0, 1, 1]), 1)
    tensor([0, 1, 3])
    """
    return torch.nonzero(docs[:-distance] == docs[distance:]).squeeze(1)


# ---------------------------------------------------------------- skip-gram with negative sampling


def keep_probabilities(counts: Tensor, threshold: float = 1e-4) -> Tensor:
    """Subsampling as word2vec's and fastText's code do it: a word of frequency f is kept with chance
    sqrt(t / f) + t / f (at most 1). The paper's sqrt(t / f) alone drops a little more of the middling words.

    >>> keep_probabilities(torch.tensor([0, 0, 60, 40]), threshold=0.1)  # f = 0.6 and 0.4
    tensor([1.0000, 1.0000, 0.5749, 0.7500], dtype=torch.float64)
    """
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0 (0 turns subsampling off, as in word2vec), "
                         f"got {threshold}.")
    if threshold == 0:
        return torch.ones(len(counts), dtype=torch.double)
    ratio = threshold / (counts.double() / counts.sum()).clamp_min(1e-30)  # (V,) t / f
    return (ratio.sqrt() + ratio).clamp(max=1.0)


def subsample(ids: Tensor, docs: Tensor, keep: Tensor,
              generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Keep each token with its word's keep probability: most "the" and "." go, rare words all stay."""
    kept = torch.rand(len(ids), generator=generator, dtype=torch.double) < keep[ids]  # (N,)
    return ids[kept], docs[kept]


def noise_distribution(counts: Tensor, power: float = 0.75) -> Tensor:
    """The negative-sampling distribution: unigram counts raised to 3/4, normalized.

    >>> noise_distribution(torch.tensor([0, 16, 1]), power=0.5)
    tensor([0.0000, 0.8000, 0.2000], dtype=torch.float64)
    """
    weights = counts.double() ** power
    return weights / weights.sum()


def noise_table(counts: Tensor, size: int = 1_000_000, power: float = 0.75) -> Tensor:
    """word2vec's unigram table: each word fills a share of the `size` slots equal to its noise probability.

    >>> noise_table(torch.tensor([0, 16, 1]), size=10, power=0.5)
    tensor([1, 1, 1, 1, 1, 1, 1, 1, 2, 2])
    """
    _positive("size", size)
    cumulative = noise_distribution(counts, power).cumsum(0)  # (V,)
    slots = (torch.arange(size, dtype=torch.double) + 0.5) / size  # (size,) the middle of each slot
    return torch.searchsorted(cumulative, slots).clamp(max=len(counts) - 1)


def skipgram_pairs(ids: Tensor, docs: Tensor, window: int,
                   generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """(center, context) ids with word2vec's dynamic window: each center draws its reach from 1..window.

    >>> skipgram_pairs(torch.tensor([7, 8, 9]), torch.tensor([0, 0, 1]), window=1)
    (tensor([7, 8]), tensor([8, 7]))
    """
    _positive("window", window)
    reach = torch.randint(1, window + 1, (len(ids),), generator=generator)  # (N,)
    centers, contexts = [], []
    for d in range(1, window + 1):
        left = same_review_starts(docs, d)
        right = left + d
        # A center pairs with the word d away only if its reach gets there: near words are paired more often.
        forward, backward = left[reach[left] >= d], right[reach[right] >= d]
        centers += [ids[forward], ids[backward]]
        contexts += [ids[forward + d], ids[backward - d]]
    return torch.cat(centers), torch.cat(contexts)  # (P,), (P,)


def sgns_loss(center: Tensor, context: Tensor, noise: Tensor) -> Tensor:
    """Mean over the batch of -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c); v_c, u_o (B, d), u_k (B, K, d)."""
    positive = F.logsigmoid((center * context).sum(-1))  # (B,)
    # Broadcast-and-sum, not bmm: on a CPU, bmm over thousands of (K, d) @ (d, 1) products is slower.
    negative = F.logsigmoid(-(noise * center.unsqueeze(1)).sum(-1)).sum(-1)  # (B, K) summed to (B,)
    return -(positive + negative).mean()


def word2vec_init(center: Tensor, context: Tensor) -> None:
    """word2vec's starting point: small random center vectors, all-zero context vectors."""
    with torch.no_grad():
        center.uniform_(-0.5 / center.shape[1], 0.5 / center.shape[1])
        context.zero_()


class SkipGram(nn.Module):
    """Two tables: v (a word as the center) and u (a word as a context); v is the embedding we keep."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        _positive("vocab_size", vocab_size)
        _positive("dim", dim)
        self.center = nn.Embedding(vocab_size, dim, sparse=True)
        self.context = nn.Embedding(vocab_size, dim, sparse=True)
        word2vec_init(self.center.weight, self.context.weight)

    def forward(self, centers: Tensor, contexts: Tensor, noise: Tensor) -> Tensor:
        """The SGNS loss of a batch of (B,) center and context ids and their (B, K) noise ids."""
        # v_c (B, d), u_o (B, d), u_k (B, K, d)
        return sgns_loss(self.center(centers), self.context(contexts), self.context(noise))

    def vectors(self) -> Tensor:
        """(V, d): one vector per vocabulary id."""
        return self.center.weight.detach()


def train_sgns(model: nn.Module, corpus: Corpus, epochs: int, window: int = 5, negatives: int = 5,
               batch_size: int = 4096, lr: float = 0.01, threshold: float = 1e-4, chunk: int = 500_000,
               seed: int = 0, progress: bool = True) -> list[float]:
    """Train a skip-gram model with SparseAdam (a step moves only the rows its batch used); the loss of
    each batch.

    The corpus is read a chunk at a time: subsample the chunk, make its (center, context) pairs, shuffle them,
    and draw K noise words per pair from the unigram^0.75 table.
    """
    for name, size in [("epochs", epochs), ("window", window), ("negatives", negatives),
                       ("batch_size", batch_size), ("chunk", chunk)]:
        _positive(name, size)
    if len(corpus) == 0:
        raise ValueError("The corpus has no tokens to train on.")
    # The draws stay on the CPU, where the seed's stream is; the batches move to the model.
    generator, device = torch.Generator().manual_seed(seed), model_device(model)
    keep, table = keep_probabilities(corpus.counts, threshold), noise_table(corpus.counts)
    optimizer = torch.optim.SparseAdam(list(model.parameters()), lr=lr)
    losses: list[float] = []
    total, done = epochs * len(corpus), 0
    with tqdm(total=total, unit="tok", unit_scale=True, desc=type(model).__name__,
              disable=not progress) as bar:
        for _ in range(epochs):
            for start in range(0, len(corpus), chunk):
                part = slice(start, start + chunk)
                ids, docs = subsample(corpus.ids[part], corpus.docs[part], keep, generator)
                centers, contexts = skipgram_pairs(ids, docs, window, generator)  # (P,), (P,)
                # As in word2vec, the step size decays linearly with the share of the text already read.
                for group in optimizer.param_groups:
                    group["lr"] = lr * max(1 - done / total, 0.05)
                for batch in torch.randperm(len(centers), generator=generator).split(batch_size):
                    draws = torch.randint(len(table), (len(batch), negatives), generator=generator)
                    noise = table[draws]  # (B, K)
                    loss = model(*to_device((centers[batch], contexts[batch], noise), device))
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    losses.append(loss.item())
                done += len(corpus.ids[part])
                bar.update(len(corpus.ids[part]))
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}" if losses else "-")
    return losses


# ---------------------------------------------------------------- GloVe


def cooccurrence_matrix(corpus: Corpus, window: int = 10) -> sparse.csr_matrix:
    """GloVe's X: X[i, j] adds 1/d each time words i and j occur d <= window apart in one review."""
    from scipy import sparse

    _positive("window", window)
    n = len(corpus.vocab)
    counts = sparse.csr_matrix((n, n), dtype=np.float64)
    for d in range(1, window + 1):
        left = same_review_starts(corpus.docs, d)
        rows, cols = corpus.ids[left].numpy(), corpus.ids[left + d].numpy()
        counts += sparse.coo_matrix((np.full(len(rows), 1.0 / d), (rows, cols)), shape=(n, n)).tocsr()
    return (counts + counts.T).tocsr()  # the window looks both ways, so X is symmetric


def glove_weight(x: Tensor, x_max: float = 100.0, alpha: float = 0.75) -> Tensor:
    """f(x) = (x / x_max)^alpha, capped at 1: rare pairs count less, and frequent ones do not dominate.

    >>> glove_weight(torch.tensor([0.0, 5.0, 10.0, 50.0]), x_max=10, alpha=1.0)
    tensor([0.0000, 0.5000, 1.0000, 1.0000])
    """
    return (x / x_max).pow(alpha).clamp(max=1.0)


def glove_loss(w: Tensor, w_context: Tensor, b: Tensor, b_context: Tensor, x: Tensor,
               x_max: float = 100.0, alpha: float = 0.75) -> Tensor:
    """Mean over the batch of f(X_ij) (w_i·w̃_j + b_i + b̃_j - log X_ij)^2; w, w̃ (B, d); b, b̃, x (B,)."""
    error = (w * w_context).sum(-1) + b + b_context - x.log()  # (B,)
    return (glove_weight(x, x_max, alpha) * error.pow(2)).mean()


class GloVe(nn.Module):
    """A word table and a context table, with a bias each; the embedding is w + w̃, as in the paper."""

    def __init__(self, vocab_size: int, dim: int, x_max: float = 100.0, alpha: float = 0.75):
        super().__init__()
        _positive("vocab_size", vocab_size)
        _positive("dim", dim)
        self.x_max, self.alpha = x_max, alpha
        # Dense tables, unlike skip-gram's: a batch of tens of thousands of cells touches most rows anyway.
        self.word, self.context = nn.Embedding(vocab_size, dim), nn.Embedding(vocab_size, dim)
        self.word_bias, self.context_bias = nn.Embedding(vocab_size, 1), nn.Embedding(vocab_size, 1)
        for table in (self.word, self.context):
            nn.init.uniform_(table.weight, -0.5 / dim, 0.5 / dim)
        for bias in (self.word_bias, self.context_bias):
            nn.init.zeros_(bias.weight)

    def forward(self, rows: Tensor, cols: Tensor, x: Tensor) -> Tensor:
        """The GloVe loss of a batch of (B,) non-zero cells X[rows, cols] = x."""
        # w, w̃ (B, d); b, b̃ (B,)
        return glove_loss(self.word(rows), self.context(cols), self.word_bias(rows).squeeze(-1),
                          self.context_bias(cols).squeeze(-1), x, self.x_max, self.alpha)

    def vectors(self) -> Tensor:
        """(V, d): one vector per vocabulary id, w + w̃."""
        return (self.word.weight + self.context.weight).detach()


def train_glove(model: GloVe, cooccurrences: sparse.spmatrix, epochs: int, batch_size: int = 65_536,
                lr: float = 0.2, seed: int = 0, progress: bool = True) -> list[float]:
    """AdaGrad, as in the paper, on shuffled batches of the non-zero cells of X (log 0 is undefined); the
    mean loss of each epoch. With batches this large, a step size above about 0.2 diverges."""
    _positive("epochs", epochs)
    _positive("batch_size", batch_size)
    cells = cooccurrences.tocoo()
    if cells.nnz == 0:
        raise ValueError("The co-occurrence matrix has no non-zero cell to fit.")
    rows, cols = torch.from_numpy(cells.row).long(), torch.from_numpy(cells.col).long()  # (C,), (C,)
    x = torch.from_numpy(cells.data).float()  # (C,)
    generator, device = torch.Generator().manual_seed(seed), model_device(model)
    optimizer = torch.optim.Adagrad(list(model.parameters()), lr=lr)
    losses: list[float] = []
    with tqdm(range(epochs), desc="GloVe", unit="epoch", disable=not progress) as bar:
        for _ in bar:
            total = 0.0
            for batch in torch.randperm(len(x), generator=generator).split(batch_size):
                loss = model(*to_device((rows[batch], cols[batch], x[batch]), device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            losses.append(total / len(x))
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return losses


# ---------------------------------------------------------------- fastText subwords


FNV_OFFSET, FNV_PRIME = 2166136261, 16777619


def fnv1a(text: str) -> int:
    """fastText's 32-bit FNV-1a of the UTF-8 bytes: the same on every run and machine, unlike Python's hash().

    fastText reads each byte as a signed char, so a byte of 0x80 or more is sign-extended (0xE9 is XORed in as
    0xFFFFFFE9). For ASCII text this is the standard FNV-1a; for other scripts it is fastText's own.

    >>> hex(fnv1a("a"))  # the FNV specification's value
    '0xe40c292c'
    >>> hex(fnv1a("é"))  # standard FNV-1a gives 0x1e9dd2c1
    '0x3cfa68c1'
    """
    h = FNV_OFFSET
    for byte in text.encode("utf-8"):
        h = ((h ^ (byte | 0xFFFFFF00 if byte >= 0x80 else byte)) * FNV_PRIME) & 0xFFFFFFFF
    return h


def char_ngrams(word: str, n_min: int = 3, n_max: int = 6) -> list[str]:
    """fastText's subwords: the n-grams (n_min <= n <= n_max characters) of the word wrapped in < and >, in
    fastText's order (by start, then length); a lone < or > is not one.

    >>> char_ngrams("where", 3, 4)
    ['<wh', '<whe', 'whe', 'wher', 'her', 'here', 'ere', 'ere>', 're>']
    """
    _positive("n_min", n_min)
    marked = f"<{word}>"
    return [marked[i:i + n] for i in range(len(marked)) for n in range(n_min, n_max + 1)
            if i + n <= len(marked) and not (n == 1 and i in (0, len(marked) - 1))]


def ngram_buckets(word: str, n_buckets: int, n_min: int = 3, n_max: int = 6) -> list[int]:
    """The hashing trick: n-gram g gets row fnv1a(g) % n_buckets, so no table of n-grams is ever stored.

    >>> ngram_buckets("cat", 1000, 3, 3)
    [747, 31, 106]
    """
    _positive("n_buckets", n_buckets)
    return [fnv1a(gram) % n_buckets for gram in char_ngrams(word, n_min, n_max)]


class SubwordSkipGram(nn.Module):
    """fastText's skip-gram: a center word is the mean of its own row and the rows of its hashed n-grams."""

    def __init__(self, vocab: Vocab, dim: int, n_buckets: int, n_min: int = 3, n_max: int = 6):
        super().__init__()
        _positive("dim", dim)
        _positive("n_buckets", n_buckets)
        self.vocab, self.n_buckets, self.n_min, self.n_max = vocab, n_buckets, n_min, n_max
        # The paper sums the rows; fastText's code (and gensim's) averages them, which keeps a word's
        # vector on the same scale however long it is. We follow the code.
        self.center = nn.EmbeddingBag(len(vocab) + n_buckets, dim, mode="mean", sparse=True)
        self.context = nn.Embedding(len(vocab), dim, sparse=True)
        word2vec_init(self.center.weight, self.context.weight)
        # The rows of every vocabulary word, concatenated once, so that a batch only has to gather them.
        rows = [self.subword_rows(word) for word in vocab.itos]
        self.register_buffer("lengths", torch.tensor([len(r) for r in rows]), persistent=False)  # (V,)
        self.register_buffer("starts", self.lengths.cumsum(0) - self.lengths, persistent=False)  # (V,)
        # (lengths.sum(),): every word's bag of rows, end to end
        self.register_buffer("rows", torch.tensor([i for r in rows for i in r]), persistent=False)

    def subword_rows(self, word: str) -> list[int]:
        """The rows averaged for a word: its own if it is in the vocabulary, then one per n-gram bucket."""
        own = [self.vocab.stoi[word]] if word in self.vocab else []
        buckets = ngram_buckets(word, self.n_buckets, self.n_min, self.n_max)
        return own + [len(self.vocab) + b for b in buckets]

    def embed_centers(self, centers: Tensor) -> Tensor:
        """(B, d) center vectors of (B,) vocabulary ids, one bag of rows per center."""
        lengths = self.lengths[centers]  # (B,)
        offsets = lengths.cumsum(0) - lengths  # (B,)
        # Where each bag's rows sit in self.rows: its word's start plus the row's rank inside the bag.
        # (lengths.sum(),): each row's rank inside its bag
        rank = torch.arange(int(lengths.sum()), device=centers.device) - offsets.repeat_interleave(lengths)
        # (B, d): the mean of each bag
        return self.center(self.rows[self.starts[centers].repeat_interleave(lengths) + rank], offsets)

    def forward(self, centers: Tensor, contexts: Tensor, noise: Tensor) -> Tensor:
        """The SGNS loss, with center vectors built from subwords."""
        # v_c (B, d), u_o (B, d), u_k (B, K, d)
        return sgns_loss(self.embed_centers(centers), self.context(contexts), self.context(noise))

    def embed(self, words: Sequence[str]) -> Tensor:
        """(len(words), d) vectors for any words, seen or not, misspellings included."""
        rows = [self.subword_rows(word) for word in _batch("words", words, "words")]
        if not all(rows):
            empty = [w for w, r in zip(words, rows) if not r]
            raise ValueError(f"{empty} have no subword of {self.n_min} to {self.n_max} characters and are "
                             "not in the vocabulary, so they have no vector.")
        device = self.center.weight.device
        # (len(words),): where each bag starts
        offsets = torch.tensor([0] + [len(r) for r in rows[:-1]], device=device).cumsum(0)
        with torch.no_grad():
            return self.center(torch.tensor([i for r in rows for i in r], device=device), offsets)

    def vectors(self) -> Tensor:
        """(V, d): one vector per vocabulary id, built from its subwords."""
        with torch.no_grad():
            return self.embed_centers(torch.arange(len(self.vocab), device=self.center.weight.device))


# ---------------------------------------------------------------- using the vectors


def _row(vocab: Vocab, word: str) -> int:
    """The vocabulary id of a word that must have a vector."""
    if word not in vocab:
        raise KeyError(f"{word!r} is not in the vocabulary, so it has no vector.")
    return vocab.stoi[word]


def nearest(vectors: Tensor, vocab: Vocab, query: str | Tensor, k: int = 8,
            exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
    """The k words whose vectors have the highest cosine similarity with the query word or vector."""
    _positive("k", k)
    if isinstance(exclude, str):
        raise TypeError(f"exclude must be a list of words, not one string: wrap it in a list, [{exclude!r}].")
    unit = F.normalize(vectors, dim=-1)  # (V, d)
    target = unit[_row(vocab, query)] if isinstance(query, str) else F.normalize(query, dim=-1)  # (d,)
    scores = unit @ target  # (V,)
    skip = {Vocab.PAD, Vocab.UNK, *exclude} | ({query} if isinstance(query, str) else set())
    scores[[vocab.stoi[w] for w in skip if w in vocab]] = -float("inf")
    top = scores.topk(k)
    return [(vocab.itos[i], s) for i, s in zip(top.indices.tolist(), top.values.tolist())]


def analogy(vectors: Tensor, vocab: Vocab, a: str, b: str, c: str, k: int = 3) -> list[tuple[str, float]]:
    """a is to b as c is to ?: the words nearest b - a + c (3CosAdd on unit vectors, a, b, c excluded)."""
    unit = F.normalize(vectors, dim=-1)  # (V, d)
    target = unit[_row(vocab, b)] - unit[_row(vocab, a)] + unit[_row(vocab, c)]  # (d,)
    return nearest(vectors, vocab, target, k, exclude=(a, b, c))


# ---------------------------------------------------------------- probes: how good are the vectors?


def read_word_pairs(path: str | Path) -> list[tuple[str, str, float]]:
    """(word, word, human score) rows of a tab-separated file such as WordSim-353; '#' lines are comments."""
    rows = [line.split("\t") for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return [(a.lower(), b.lower(), float(score)) for a, b, score in rows]


def read_analogies(path: str | Path) -> dict[str, list[tuple[str, str, str, str]]]:
    """Mikolov et al.'s analogy questions ('a b c d' lines under ': section' headers), lowercased."""
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            section = sections.setdefault(line[1:].strip(), [])
        elif line.strip():
            a, b, c, d = line.lower().split()
            section.append((a, b, c, d))
    return sections


def word_similarity(vectors: Tensor, vocab: Vocab,
                    pairs: Iterable[tuple[str, str, float]]) -> tuple[float, int]:
    """Spearman correlation of cosine similarities with human scores, over the pairs whose two words have
    vectors; and the number of such pairs (the correlation is nan for fewer than two)."""
    from scipy import stats

    pairs = _batch("pairs", pairs, "word pairs")
    known = [(a, b, score) for a, b, score in pairs if a in vocab and b in vocab]
    if len(known) < 2:  # a small vocabulary may know none of them: nothing to correlate
        return float("nan"), len(known)
    unit = F.normalize(vectors, dim=-1)  # (V, d)
    left = unit[[vocab.stoi[a] for a, _, _ in known]]  # (P, d)
    right = unit[[vocab.stoi[b] for _, b, _ in known]]  # (P, d)
    cosines = (left * right).sum(-1)  # (P,)
    return float(stats.spearmanr(cosines.numpy(), [s for _, _, s in known]).statistic), len(known)


def analogy_accuracy(vectors: Tensor, vocab: Vocab, questions: Iterable[tuple[str, str, str, str]],
                     batch_size: int = 1024) -> tuple[float, int]:
    """Share of questions a : b :: c : d whose 3CosAdd answer (a, b, c excluded) is d, over the questions
    whose four words have vectors; and the number of such questions (the share is nan for none)."""
    _positive("batch_size", batch_size)
    asked = torch.tensor([[vocab.stoi[w] for w in q] for q in _batch("questions", questions, "analogies")
                          if all(w in vocab for w in q)], dtype=torch.long).reshape(-1, 4)  # (Q, 4)
    if len(asked) == 0:  # a small vocabulary may know none of them
        return float("nan"), 0
    unit = F.normalize(vectors, dim=-1)  # (V, d)
    right = 0
    for part in asked.split(batch_size):
        a, b, c, d = part.T  # each (q,)
        scores = (unit[b] - unit[a] + unit[c]) @ unit.T  # (q, V)
        scores[:, :2] = -float("inf")  # <pad> and <unk> are never answers
        scores.scatter_(1, part[:, :3], -float("inf"))  # nor are the question's own words
        right += int((scores.argmax(1) == d).sum())
    return right / len(asked), len(asked)


def neighbour_overlap(vectors: Tensor, other: Tensor, vocab: Vocab, words: Iterable[str],
                      k: int = 10) -> float:
    """Mean share of the k nearest neighbours that two embeddings of one vocabulary agree on, over `words`."""
    _positive("k", k)
    words = [w for w in _batch("words", words, "words") if w in vocab]
    if not words:
        raise ValueError("None of the words is in the vocabulary.")
    shared = [len({n for n, _ in nearest(vectors, vocab, w, k)} & {n for n, _ in nearest(other, vocab, w, k)})
              for w in words]
    return sum(shared) / (k * len(words))


# ---------------------------------------------------------------- the reference implementations


def _gensim() -> Any:
    """gensim's models, with a clear message where the `reference` extra is not installed."""
    try:
        from gensim import models
    except ImportError as error:
        raise ImportError("The reference implementations need gensim: "
                          "pip install 'pytorch-nlp-course[reference]'.") from error
    return models


def gensim_skipgram(corpus: Corpus, dim: int, epochs: int, window: int = 5, negatives: int = 5,
                    threshold: float = 1e-4, n_buckets: int | None = None, n_min: int = 3, n_max: int = 6,
                    workers: int = 1, seed: int = 0) -> Any:
    """gensim's skip-gram with negative sampling, trained on the same corpus with the same settings as
    `train_sgns` (its fastText, with subwords, when `n_buckets` is given). Read its vectors with `aligned`."""
    for name, size in [("dim", dim), ("epochs", epochs), ("window", window), ("negatives", negatives),
                       ("workers", workers)]:
        _positive(name, size)
    if len(corpus) == 0:
        raise ValueError("The corpus has no tokens to train on.")
    models = _gensim()
    # min_count=1: the corpus already holds only the vocabulary's words; gensim's sample is our threshold t.
    settings = dict(sentences=corpus.sentences(), vector_size=dim, window=window, negative=negatives, sg=1,
                    hs=0, sample=threshold, min_count=1, epochs=epochs, workers=workers, seed=seed)
    if n_buckets is None:
        return models.Word2Vec(**settings)
    _positive("n_buckets", n_buckets)
    return models.FastText(**settings, bucket=n_buckets, min_n=n_min, max_n=n_max)


def aligned(keyed_vectors: Any, vocab: Vocab) -> Tensor:
    """(V, d): gensim KeyedVectors (a model's `.wv`) in our vocabulary's order, zero for words it lacks."""
    vectors = np.zeros((len(vocab), keyed_vectors.vector_size), dtype=np.float32)
    for i, word in enumerate(vocab.itos):
        if word in keyed_vectors.key_to_index:
            vectors[i] = keyed_vectors[word]
    return torch.from_numpy(vectors)


# ---------------------------------------------------------------- static vs contextual


@torch.no_grad()
def word_in_context(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel, sentences: list[str],
                    word: str) -> tuple[Tensor, Tensor]:
    """(static, contextual) vectors of `word` in each sentence, each (S, H): its row of the input embedding
    table, and the model's last hidden state at its position. The word must be one token of the vocabulary."""
    sentences = _batch("sentences", sentences, "sentences")
    (word_id,) = tokenizer.convert_tokens_to_ids([word])
    if word_id == tokenizer.unk_token_id:
        raise ValueError(f"{word!r} is not one token of this model's vocabulary.")
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    at = batch["input_ids"] == word_id  # (S, T)
    if not torch.equal(at.sum(1), torch.ones(len(sentences), dtype=torch.long)):
        raise ValueError(f"Each sentence must contain {word!r} exactly once.")
    static = model.get_input_embeddings()(batch["input_ids"])[at]  # (S, H)
    return static, model(**batch).last_hidden_state[at]

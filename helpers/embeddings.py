"""Word embeddings from scratch: skip-gram with negative sampling, GloVe, fastText's subwords, and contextual
vectors from a pre-trained Transformer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from scipy import sparse
from torch import Tensor, nn
from tqdm.auto import tqdm

from helpers.tokenization import Vocab, clean_text, word_tokenize

if TYPE_CHECKING:  # transformers is slow to import and only the last function needs it
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# ---------------------------------------------------------------- lookup tables


def one_hot_embed(ids: Tensor, weight: Tensor) -> Tensor:
    """What an embedding lookup computes, the slow way: one-hot rows times the weight matrix."""
    return F.one_hot(ids, num_classes=weight.shape[0]).to(weight.dtype) @ weight


# ---------------------------------------------------------------- corpus


@dataclass
class Corpus:
    """A tokenized corpus as flat tensors: reviews concatenated, out-of-vocabulary words dropped."""

    vocab: Vocab
    ids: Tensor  # token ids, one review after another
    docs: Tensor  # the review each token comes from, so that windows never span two reviews
    counts: Tensor  # occurrences of every vocabulary id (0 for <pad> and <unk>)

    def __len__(self) -> int:
        return len(self.ids)

    def head(self, n_tokens: int) -> Corpus:
        """The first `n_tokens` tokens (reviews come shuffled), with the whole corpus's counts."""
        return Corpus(self.vocab, self.ids[:n_tokens], self.docs[:n_tokens], self.counts)


def build_corpus(texts: Iterable[str], max_size: int | None, min_freq: int = 5) -> Corpus:
    """Clean and tokenize texts, keep words seen `min_freq` times (at most `max_size`), encode them."""
    token_lists = [word_tokenize(clean_text(text)) for text in texts]
    vocab = Vocab.build(token_lists, min_freq=min_freq, max_size=max_size)
    encoded = [torch.tensor(vocab.encode(tokens), dtype=torch.long) for tokens in token_lists]
    ids = torch.cat(encoded)
    docs = torch.repeat_interleave(torch.arange(len(encoded)), torch.tensor([len(e) for e in encoded]))
    # As in word2vec, rare words get no vector and take no slot in anyone's window.
    known = ids != vocab.stoi[Vocab.UNK]
    ids, docs = ids[known], docs[known]
    return Corpus(vocab, ids, docs, torch.bincount(ids, minlength=len(vocab)))


def same_review_starts(docs: Tensor, distance: int) -> Tensor:
    """Positions i whose token i + distance is in the same review: left ends of the pairs `distance` apart."""
    return torch.nonzero(docs[:-distance] == docs[distance:]).squeeze(1)


# ---------------------------------------------------------------- skip-gram with negative sampling


def keep_probabilities(counts: Tensor, threshold: float = 1e-4) -> Tensor:
    """Subsampling (Mikolov et al., 2013): keep each occurrence of a word of frequency f with chance sqrt(t / f)."""
    freq = counts.double() / counts.sum()
    return (threshold / freq.clamp_min(1e-30)).sqrt().clamp(max=1.0)


def subsample(ids: Tensor, docs: Tensor, keep: Tensor,
              generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Keep each token with its word's keep probability: most "the" and "." go, rare words all stay."""
    kept = torch.rand(len(ids), generator=generator, dtype=torch.double) < keep[ids]
    return ids[kept], docs[kept]


def noise_distribution(counts: Tensor, power: float = 0.75) -> Tensor:
    """The negative-sampling distribution: unigram counts raised to 3/4, normalized."""
    weights = counts.double() ** power
    return weights / weights.sum()


def noise_table(counts: Tensor, size: int = 1_000_000, power: float = 0.75) -> Tensor:
    """word2vec's unigram table: each word fills a share of the `size` slots equal to its noise probability."""
    cumulative = noise_distribution(counts, power).cumsum(0)
    slots = (torch.arange(size, dtype=torch.double) + 0.5) / size
    return torch.searchsorted(cumulative, slots).clamp(max=len(counts) - 1)


def skipgram_pairs(ids: Tensor, docs: Tensor, window: int,
                   generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """(center, context) ids with word2vec's dynamic window: each center draws its reach from 1..window."""
    reach = torch.randint(1, window + 1, (len(ids),), generator=generator)
    centers, contexts = [], []
    for d in range(1, window + 1):
        left = same_review_starts(docs, d)
        right = left + d
        # A center pairs with the word d away only if its reach gets there: near words are paired more often.
        forward, backward = left[reach[left] >= d], right[reach[right] >= d]
        centers += [ids[forward], ids[backward]]
        contexts += [ids[forward + d], ids[backward - d]]
    return torch.cat(centers), torch.cat(contexts)


def sgns_loss(center: Tensor, context: Tensor, noise: Tensor) -> Tensor:
    """Mean over the batch of -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c); v_c, u_o are (B, d), the u_k (B, K, d)."""
    positive = F.logsigmoid((center * context).sum(-1))
    # Broadcast-and-sum, not bmm: on a CPU, bmm over thousands of (K, d) @ (d, 1) products is several times slower.
    negative = F.logsigmoid(-(noise * center.unsqueeze(1)).sum(-1)).sum(-1)
    return -(positive + negative).mean()


def word2vec_init(center: Tensor, context: Tensor) -> None:
    """word2vec's starting point: small random center vectors, all-zero context vectors."""
    with torch.no_grad():
        center.uniform_(-0.5 / center.shape[1], 0.5 / center.shape[1])
        context.zero_()


class SkipGram(nn.Module):
    """Two tables: v (a word as the center) and u (a word as someone's context); v is the embedding we keep."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.center = nn.Embedding(vocab_size, dim, sparse=True)
        self.context = nn.Embedding(vocab_size, dim, sparse=True)
        word2vec_init(self.center.weight, self.context.weight)

    def forward(self, centers: Tensor, contexts: Tensor, noise: Tensor) -> Tensor:
        """The SGNS loss of a batch of (center, context) ids and their (B, K) noise ids."""
        return sgns_loss(self.center(centers), self.context(contexts), self.context(noise))

    def vectors(self) -> Tensor:
        """One vector per vocabulary id."""
        return self.center.weight.detach()


def train_sgns(model: nn.Module, corpus: Corpus, epochs: int, window: int = 5, negatives: int = 5,
               batch_size: int = 4096, lr: float = 0.01, threshold: float = 1e-4, chunk: int = 500_000,
               seed: int = 0) -> list[float]:
    """Train a skip-gram model with SparseAdam (a step moves only the rows its batch used); the loss per batch.

    The corpus is read a chunk at a time: subsample the chunk, make its (center, context) pairs, shuffle them,
    and draw K noise words per pair from the unigram^0.75 table.
    """
    generator = torch.Generator().manual_seed(seed)
    keep, table = keep_probabilities(corpus.counts, threshold), noise_table(corpus.counts)
    optimizer = torch.optim.SparseAdam(list(model.parameters()), lr=lr)
    losses: list[float] = []
    total = epochs * len(corpus)
    with tqdm(total=total, unit="tok", unit_scale=True, desc=type(model).__name__) as bar:
        for _ in range(epochs):
            for start in range(0, len(corpus), chunk):
                part = slice(start, start + chunk)
                ids, docs = subsample(corpus.ids[part], corpus.docs[part], keep, generator)
                centers, contexts = skipgram_pairs(ids, docs, window, generator)
                # As in word2vec, the step size decays linearly with the share of the text already read.
                for group in optimizer.param_groups:
                    group["lr"] = lr * max(1 - bar.n / total, 0.05)
                for batch in torch.randperm(len(centers), generator=generator).split(batch_size):
                    noise = table[torch.randint(len(table), (len(batch), negatives), generator=generator)]
                    loss = model(centers[batch], contexts[batch], noise)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    losses.append(loss.item())
                bar.update(len(corpus.ids[part]))
    return losses


# ---------------------------------------------------------------- GloVe


def cooccurrence_matrix(corpus: Corpus, window: int = 10) -> sparse.csr_matrix:
    """GloVe's X: X[i, j] adds 1/d each time words i and j occur d <= window apart in one review."""
    n = len(corpus.vocab)
    counts = sparse.csr_matrix((n, n), dtype=np.float64)
    for d in range(1, window + 1):
        left = same_review_starts(corpus.docs, d)
        rows, cols = corpus.ids[left].numpy(), corpus.ids[left + d].numpy()
        counts += sparse.coo_matrix((np.full(len(rows), 1.0 / d), (rows, cols)), shape=(n, n)).tocsr()
    return (counts + counts.T).tocsr()  # the window looks both ways, so X is symmetric


def glove_weight(x: Tensor, x_max: float = 100.0, alpha: float = 0.75) -> Tensor:
    """f(x) = (x / x_max)^alpha, capped at 1: rare pairs count less, and frequent ones do not dominate."""
    return (x / x_max).pow(alpha).clamp(max=1.0)


def glove_loss(w: Tensor, w_context: Tensor, b: Tensor, b_context: Tensor, x: Tensor,
               x_max: float = 100.0, alpha: float = 0.75) -> Tensor:
    """Mean over the batch of f(X_ij) (w_i·w̃_j + b_i + b̃_j - log X_ij)^2."""
    error = (w * w_context).sum(-1) + b + b_context - x.log()
    return (glove_weight(x, x_max, alpha) * error.pow(2)).mean()


class GloVe(nn.Module):
    """A word table and a context table, with a bias each; the embedding is w + w̃, as in the paper."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.word, self.context = (nn.Embedding(vocab_size, dim, sparse=True) for _ in range(2))
        self.word_bias, self.context_bias = (nn.Embedding(vocab_size, 1, sparse=True) for _ in range(2))
        for table in (self.word, self.context):
            nn.init.uniform_(table.weight, -0.5 / dim, 0.5 / dim)
        for bias in (self.word_bias, self.context_bias):
            nn.init.zeros_(bias.weight)

    def forward(self, rows: Tensor, cols: Tensor, x: Tensor) -> Tensor:
        """The GloVe loss of a batch of non-zero cells X[rows, cols] = x."""
        return glove_loss(self.word(rows), self.context(cols), self.word_bias(rows).squeeze(-1),
                          self.context_bias(cols).squeeze(-1), x)

    def vectors(self) -> Tensor:
        """One vector per vocabulary id: w + w̃."""
        return (self.word.weight + self.context.weight).detach()


def train_glove(model: GloVe, cooccurrences: sparse.spmatrix, epochs: int, batch_size: int = 65_536,
                lr: float = 0.2, seed: int = 0) -> list[float]:
    """AdaGrad, as in the paper, over the non-zero cells of X (log 0 is undefined); the mean loss per epoch."""
    cells = cooccurrences.tocoo()
    rows, cols = torch.from_numpy(cells.row).long(), torch.from_numpy(cells.col).long()
    x = torch.from_numpy(cells.data).float()
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adagrad(list(model.parameters()), lr=lr)
    losses = []
    # Sparse gradients are built by PyTorch itself; skipping its invariant checks also silences their warning.
    with torch.sparse.check_sparse_tensor_invariants(enable=False):
        for _ in tqdm(range(epochs), desc="GloVe"):
            total = 0.0
            for batch in torch.randperm(len(x), generator=generator).split(batch_size):
                loss = model(rows[batch], cols[batch], x[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            losses.append(total / len(x))
    return losses


# ---------------------------------------------------------------- fastText subwords


FNV_OFFSET, FNV_PRIME = 2166136261, 16777619


def fnv1a(text: str) -> int:
    """32-bit FNV-1a of the UTF-8 bytes: the same on every run and machine, unlike Python's salted hash()."""
    h = FNV_OFFSET
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * FNV_PRIME) & 0xFFFFFFFF
    return h


def char_ngrams(word: str, n_min: int = 3, n_max: int = 6) -> list[str]:
    """fastText's subwords: every n-gram (n_min <= n <= n_max) of the word wrapped in < and >."""
    marked = f"<{word}>"
    return [marked[i:i + n] for n in range(n_min, n_max + 1) for i in range(len(marked) - n + 1)]


def ngram_buckets(word: str, n_buckets: int, n_min: int = 3, n_max: int = 6) -> list[int]:
    """The hashing trick: n-gram g gets row fnv1a(g) % n_buckets, so no table of n-grams is ever stored."""
    return [fnv1a(gram) % n_buckets for gram in char_ngrams(word, n_min, n_max)]


class SubwordSkipGram(nn.Module):
    """fastText's skip-gram: a center word is the sum of its own row and the rows of its hashed n-grams."""

    def __init__(self, vocab: Vocab, dim: int, n_buckets: int, n_min: int = 3, n_max: int = 6):
        super().__init__()
        self.vocab, self.n_buckets, self.n_min, self.n_max = vocab, n_buckets, n_min, n_max
        self.center = nn.EmbeddingBag(len(vocab) + n_buckets, dim, mode="sum", sparse=True)
        self.context = nn.Embedding(len(vocab), dim, sparse=True)
        word2vec_init(self.center.weight, self.context.weight)
        # The rows of every vocabulary word, concatenated once, so that a batch only has to gather them.
        rows = [self.subword_rows(word) for word in vocab.itos]
        self.register_buffer("lengths", torch.tensor([len(r) for r in rows]), persistent=False)
        self.register_buffer("starts", self.lengths.cumsum(0) - self.lengths, persistent=False)
        self.register_buffer("rows", torch.tensor([i for r in rows for i in r]), persistent=False)

    def subword_rows(self, word: str) -> list[int]:
        """The rows summed for a word: its own if it is in the vocabulary, then one per n-gram bucket."""
        own = [self.vocab.stoi[word]] if word in self.vocab else []
        return own + [len(self.vocab) + b for b in ngram_buckets(word, self.n_buckets, self.n_min, self.n_max)]

    def embed_centers(self, centers: Tensor) -> Tensor:
        """Center vectors of vocabulary ids, one bag of rows per center."""
        lengths = self.lengths[centers]
        offsets = lengths.cumsum(0) - lengths
        # Where each bag's rows sit in self.rows: its word's start plus the row's rank inside the bag.
        rank = torch.arange(int(lengths.sum())) - offsets.repeat_interleave(lengths)
        return self.center(self.rows[self.starts[centers].repeat_interleave(lengths) + rank], offsets)

    def forward(self, centers: Tensor, contexts: Tensor, noise: Tensor) -> Tensor:
        """The SGNS loss, with center vectors built from subwords."""
        return sgns_loss(self.embed_centers(centers), self.context(contexts), self.context(noise))

    def embed(self, words: list[str]) -> Tensor:
        """Vectors for any words, seen or not, misspellings included."""
        rows = [self.subword_rows(word) for word in words]
        offsets = torch.tensor([0] + [len(r) for r in rows[:-1]]).cumsum(0)
        with torch.no_grad():
            return self.center(torch.tensor([i for r in rows for i in r]), offsets)

    def vectors(self) -> Tensor:
        """One vector per vocabulary id, built from its subwords."""
        with torch.no_grad():
            return self.embed_centers(torch.arange(len(self.vocab)))


# ---------------------------------------------------------------- using the vectors


def nearest(vectors: Tensor, vocab: Vocab, query: str | Tensor, k: int = 8,
            exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
    """The k words whose vectors have the highest cosine similarity with the query word or vector."""
    unit = F.normalize(vectors, dim=-1)
    scores = unit @ (unit[vocab.stoi[query]] if isinstance(query, str) else F.normalize(query, dim=-1))
    skip = {Vocab.PAD, Vocab.UNK, *exclude} | ({query} if isinstance(query, str) else set())
    scores[[vocab.stoi[w] for w in skip if w in vocab]] = -float("inf")
    top = scores.topk(k)
    return [(vocab.itos[i], s) for i, s in zip(top.indices.tolist(), top.values.tolist())]


def analogy(vectors: Tensor, vocab: Vocab, a: str, b: str, c: str, k: int = 3) -> list[tuple[str, float]]:
    """a is to b as c is to ?: the words nearest b - a + c (3CosAdd on unit vectors, question words excluded)."""
    unit = F.normalize(vectors, dim=-1)
    target = unit[vocab.stoi[b]] - unit[vocab.stoi[a]] + unit[vocab.stoi[c]]
    return nearest(vectors, vocab, target, k, exclude=(a, b, c))


@torch.no_grad()
def word_in_context(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel, sentences: list[str],
                    word: str) -> tuple[Tensor, Tensor]:
    """(static, contextual) vectors of `word` in each sentence: its row of the input embedding table, and the
    model's last hidden state at its position. The word must be a single token of the model's vocabulary."""
    (word_id,) = tokenizer.convert_tokens_to_ids([word])
    if word_id == tokenizer.unk_token_id:
        raise ValueError(f"{word!r} is not one token of this model's vocabulary.")
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    at = batch["input_ids"] == word_id
    if not torch.equal(at.sum(1), torch.ones(len(sentences), dtype=torch.long)):
        raise ValueError(f"Each sentence must contain {word!r} exactly once.")
    static = model.get_input_embeddings()(batch["input_ids"])[at]
    return static, model(**batch).last_hidden_state[at]

"""Byte-pair encoding from scratch, byte-level like GPT-2 and minbpe: train the merges, encode, decode.

Training merges the most frequent adjacent pair again and again. Ties go to the smaller pair of ids, compared
left id first: a byte's id is its value (0-255), a merged token's id is 256 + the number of merges before it.
Hugging Face's `BpeTrainer` merges the same way but numbers its alphabet differently (bytes sorted by their
printable GPT-2 spelling, so a space, "Ġ", comes after "z"): where counts differ the two learn the same
merges, and where the most frequent count is tied they may pick different pairs.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import TypeVar

import regex
import tokenizers
from tqdm import tqdm  # text bars: they read the same in Jupyter, Colab and committed outputs

from helpers.checks import check_size, check_texts

Pair = tuple[int, int]
T = TypeVar("T")  # merge works on any symbols: byte ids here, strings in WordPiece's trainer

# GPT-2's pre-tokenization: contractions, runs of letters, digits or symbols (each with at most one leading
# space), and whitespace. Merges never cross these chunks, so " movie" is one chunk wherever it occurs.
GPT2_SPLIT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def split_chunks(text: str) -> list[str]:
    """Cut text into GPT-2's chunks; they concatenate back to `text` exactly.

    >>> split_chunks("I've seen it 3 times!!")
    ['I', "'ve", ' seen', ' it', ' 3', ' times', '!!']
    """
    return GPT2_SPLIT.findall(text)


def merge(ids: list[T], pair: tuple[T, T], new_id: T) -> list[T]:
    """Replace each occurrence of `pair` in `ids` (left to right, no overlaps) by `new_id`.

    >>> merge([1, 2, 3, 1, 2], (1, 2), 4)
    [4, 3, 4]
    >>> merge([1, 1, 1], (1, 1), 9)
    [9, 1]
    """
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _pairs(ids: list[int]) -> list[Pair]:
    return list(zip(ids, ids[1:]))


class BPE:
    """A byte-level BPE tokenizer: UTF-8 bytes are tokens 0-255, merge number k makes token 256 + k."""

    def __init__(self, merges: dict[Pair, int]):
        self.merges = merges  # (left, right) -> new id, in the order they were learned
        self.vocab = {i: bytes([i]) for i in range(256)}
        for (left, right), new_id in merges.items():  # a merge only uses tokens made before it
            self.vocab[new_id] = self.vocab[left] + self.vocab[right]
        self._cache: dict[str, list[int]] = {}  # words repeat (Zipf), so each chunk is worked out once

    def __len__(self) -> int:
        return len(self.vocab)

    def _encode_chunk(self, chunk: str) -> list[int]:
        """Apply merges to one chunk, always the earliest-learned pair first, as training did."""
        if chunk not in self._cache:
            ids = list(chunk.encode("utf-8"))
            while len(ids) > 1:
                pair = min(_pairs(ids), key=lambda p: self.merges.get(p, math.inf))
                if pair not in self.merges:
                    break
                ids = merge(ids, pair, self.merges[pair])
            self._cache[chunk] = ids
        return self._cache[chunk]

    def encode(self, text: str) -> list[int]:
        """Token ids for any text: no <unk> is ever needed, every string is a sequence of bytes."""
        return [i for chunk in split_chunks(text) for i in self._encode_chunk(chunk)]

    def decode(self, ids: Iterable[int]) -> str:
        """Text for ids; lossless for whole encodings (a cut through a character shows as �)."""
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

    def tokens(self, text: str) -> list[str]:
        """The pieces of `text` in GPT-2's printable byte alphabet (Ġ is a space), as Hugging Face shows them.

        >>> BPE({}).tokens("a é")
        ['a', 'Ġ', 'Ã', '©']
        """
        return [byte_spelling(self.vocab[i]) for i in self.encode(text)]


def _chunk_counts(texts: Iterable[str]) -> tuple[list[list[int]], list[int]]:
    """Each distinct chunk of `texts` as a list of byte values, and how often it occurs."""
    counts = Counter(chunk for text in check_texts(texts) for chunk in split_chunks(text))
    return [list(chunk.encode("utf-8")) for chunk in counts], list(counts.values())


def train_bpe_naive(texts: Iterable[str], num_merges: int) -> BPE:
    """The textbook merge loop: before every merge, recount the pairs of every word."""
    check_size(num_merges, "num_merges")
    words, freqs = _chunk_counts(texts)
    merges: dict[Pair, int] = {}
    for new_id in range(256, 256 + num_merges):
        counts: Counter[Pair] = Counter()
        for word, freq in zip(words, freqs):
            for pair in _pairs(word):
                counts[pair] += freq
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))  # most frequent; a tie goes to the smaller pair
        merges[pair] = new_id
        words = [merge(word, pair, new_id) for word in words]
    return BPE(merges)


def train_bpe(texts: Iterable[str], num_merges: int, progress: bool = False) -> BPE:
    """The same merges as `train_bpe_naive`, but after each merge recount only the words that contain it."""
    check_size(num_merges, "num_merges")
    words, freqs = _chunk_counts(texts)
    counts: Counter[Pair] = Counter()
    where: defaultdict[Pair, set[int]] = defaultdict(set)  # pair -> the words it occurs in (or once did)
    for i, word in enumerate(words):
        for pair in _pairs(word):
            counts[pair] += freqs[i]
            where[pair].add(i)
    # A heap of (-count, pair) pops the most frequent pair, ties to the smaller one, as in the naive loop.
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)
    merges: dict[Pair, int] = {}
    # One bar update a second at most: notebooks keep every update in their saved output.
    for new_id in tqdm(range(256, 256 + num_merges), desc="BPE merges", disable=not progress, mininterval=1):
        pair = _pop_most_frequent(heap, counts)
        if pair is None:
            break
        merges[pair] = new_id
        born: set[Pair] = set()
        for i in where.pop(pair):
            old, words[i] = words[i], merge(words[i], pair, new_id)
            for old_pair in _pairs(old):
                counts[old_pair] -= freqs[i]
            for new_pair in _pairs(words[i]):
                counts[new_pair] += freqs[i]
                where[new_pair].add(i)
                if new_id in new_pair:
                    born.add(new_pair)
        # Only pairs holding the new token can gain counts, so only they need a (new) heap entry.
        for new_pair in born:
            heapq.heappush(heap, (-counts[new_pair], new_pair))
    return BPE(merges)


def _pop_most_frequent(heap: list[tuple[int, Pair]], counts: Counter[Pair]) -> Pair | None:
    """Pop the pair with the highest count; an entry whose count dropped since its push goes back, fixed."""
    while heap:
        negative_count, pair = heapq.heappop(heap)
        if counts[pair] == -negative_count:
            return pair
        if counts[pair]:
            heapq.heappush(heap, (-counts[pair], pair))
    return None


def _gpt2_byte_alphabet() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte: printable Latin-1 bytes stand for themselves, the others
    for characters past 255."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + k) for k, b in enumerate(others)}}


_BYTE_CHAR = _gpt2_byte_alphabet()


def byte_spelling(token: bytes) -> str:
    """A token's bytes in GPT-2's printable alphabet.

    >>> byte_spelling(b" movie"), byte_spelling("é".encode())
    ('Ġmovie', 'Ã©')
    """
    return "".join(_BYTE_CHAR[b] for b in token)


def to_hf_tokenizer(bpe: BPE) -> tokenizers.Tokenizer:
    """The same merges in Hugging Face's Rust BPE with GPT-2's byte-level pre-tokenizer: same tokens, faster.

    Compare tokens, not ids: two merges can spell the same bytes (a + bc, ab + c), and the Rust vocabulary,
    keyed by spelling, keeps one id for both.
    """
    vocab = {byte_spelling(token): i for i, token in bpe.vocab.items()}
    merges = [(byte_spelling(bpe.vocab[left]), byte_spelling(bpe.vocab[right])) for left, right in bpe.merges]
    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE(vocab, merges))
    # GPT2_SPLIT, then bytes:
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    return tokenizer

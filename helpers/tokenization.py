"""Tokenization: cleaning raw reviews, word and character tokens, vocabularies, and BPE and WordPiece from scratch."""

from __future__ import annotations

import heapq
import html
import itertools
import math
import re
import string
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable

import regex
import tokenizers
from tqdm import tqdm  # text bars: they read the same in Jupyter, Colab and committed outputs

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
# Words (with inner apostrophes: don't, director's), numbers, and single punctuation marks.
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|[^\sa-z0-9]", re.IGNORECASE)


def clean_text(text: str, lowercase: bool = True) -> str:
    """Strip HTML (IMDB's <br />), unescape entities, NFKC-normalize unicode, squeeze spaces, lowercase."""
    text = _BREAK.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    # NFKC folds compatibility forms (ﬁ -> fi, full-width letters); curly quotes still need mapping by hand.
    text = unicodedata.normalize("NFKC", text).translate(str.maketrans("‘’“”–—", "''\"\"--"))
    text = _SPACE.sub(" ", text).strip()
    return text.lower() if lowercase else text


def word_tokenize(text: str) -> list[str]:
    """Split cleaned text into words, numbers and punctuation marks."""
    return _WORD.findall(text)


def char_tokenize(text: str) -> list[str]:
    """Every character is a token (spaces included, so the text can be rebuilt)."""
    return list(text)


class Vocab:
    """A token <-> id table with <pad> at 0 and <unk> at 1 for tokens it has not seen."""

    PAD, UNK = "<pad>", "<unk>"

    def __init__(self, tokens: Iterable[str]):
        self.itos: list[str] = [self.PAD, self.UNK] + [t for t in tokens if t not in (self.PAD, self.UNK)]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Keep tokens seen at least `min_freq` times, most frequent first, at most `max_size` of them."""
        counts = Counter(t for tokens in token_lists for t in tokens)
        kept = [t for t, c in sorted(counts.items(), key=lambda tc: (-tc[1], tc[0])) if c >= min_freq]
        return cls(kept[:max_size])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids for tokens; unknown ones map to <unk>."""
        unk = self.stoi[self.UNK]
        return [self.stoi.get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for ids."""
        return [self.itos[i] for i in ids]


def oov_rate(vocab: Vocab | set[str], token_lists: Iterable[list[str]]) -> float:
    """Share of tokens in `token_lists` that the vocabulary does not know."""
    total = unknown = 0
    for tokens in token_lists:
        total += len(tokens)
        unknown += sum(t not in vocab for t in tokens)
    return unknown / total if total else 0.0


# --- Byte-pair encoding (byte-level, like GPT-2 and minbpe) -------------------------------------------------------

Pair = tuple[int, int]

# GPT-2's pre-tokenization: contractions, runs of letters, digits or symbols (each with at most one leading space),
# and whitespace. Merges never cross these chunks, so " movie" is one chunk wherever it occurs.
GPT2_SPLIT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def split_chunks(text: str) -> list[str]:
    """Cut text into GPT-2's chunks; they concatenate back to `text` exactly."""
    return GPT2_SPLIT.findall(text)


def merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace each occurrence of `pair` in `ids` (left to right, no overlaps) by `new_id`."""
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
        """The pieces of `text` in GPT-2's printable byte alphabet (Ġ is a space), as Hugging Face shows them."""
        return [byte_spelling(self.vocab[i]) for i in self.encode(text)]


def _chunk_counts(texts: Iterable[str]) -> tuple[list[list[int]], list[int]]:
    """Each distinct chunk of `texts` as a list of byte values, and how often it occurs."""
    counts = Counter(chunk for text in texts for chunk in split_chunks(text))
    return [list(chunk.encode("utf-8")) for chunk in counts], list(counts.values())


def train_bpe_naive(texts: Iterable[str], num_merges: int) -> BPE:
    """The textbook merge loop: before every merge, recount the pairs of every word."""
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
    """Learn the same merges as `train_bpe_naive`, but after each merge recount only the words that contain it."""
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
    """Pop the pair with the highest count; an entry whose count has dropped since it was pushed goes back corrected."""
    while heap:
        negative_count, pair = heapq.heappop(heap)
        if counts[pair] == -negative_count:
            return pair
        if counts[pair]:
            heapq.heappush(heap, (-counts[pair], pair))
    return None


def _gpt2_byte_alphabet() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte: printable Latin-1 bytes are themselves, the rest shift past 255."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + k) for k, b in enumerate(others)}}


_BYTE_CHAR = _gpt2_byte_alphabet()


def byte_spelling(token: bytes) -> str:
    """A token's bytes in GPT-2's printable alphabet: b" movie" -> "Ġmovie"."""
    return "".join(_BYTE_CHAR[b] for b in token)


def to_hf_tokenizer(bpe: BPE) -> tokenizers.Tokenizer:
    """The same merges in Hugging Face's Rust BPE with GPT-2's byte-level pre-tokenizer: same tokens, faster.

    Compare tokens, not ids: two merges can spell the same bytes (a + bc, ab + c), and the Rust vocabulary,
    keyed by spelling, keeps one id for both.
    """
    vocab = {byte_spelling(token): i for i, token in bpe.vocab.items()}
    merges = [(byte_spelling(bpe.vocab[left]), byte_spelling(bpe.vocab[right])) for left, right in bpe.merges]
    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE(vocab, merges))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)  # GPT2_SPLIT, then bytes
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    return tokenizer


# --- WordPiece (BERT) ----------------------------------------------------------------------------------------------

# The CJK Unified Ideographs blocks: BERT gives each of these characters its own word.
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_cjk(ch: str) -> bool:
    return any(lo <= ord(ch) <= hi for lo, hi in _CJK)


def _is_punctuation(ch: str) -> bool:
    """BERT's punctuation: every ASCII symbol ($, ^, ` too) and every Unicode P* category."""
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def _is_control(ch: str) -> bool:
    """What BERT deletes: the replacement character and Unicode's C* categories (tab, newline, return excepted)."""
    return ch == "\ufffd" or (ch not in "\t\n\r" and unicodedata.category(ch).startswith("C"))


def bert_normalize(text: str) -> str:
    """BERT's normalizer: drop control characters, space out CJK, strip accents, lowercase."""
    kept = (ch for ch in text if not _is_control(ch))
    text = "".join(" " if ch.isspace() else f" {ch} " if _is_cjk(ch) else ch for ch in kept)
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")
    # Character by character, as the Rust normalizer does: str.lower() would turn a word-final Σ into ς, not σ.
    return "".join(ch.lower() for ch in text)


def bert_pre_tokenize(text: str) -> list[str]:
    """BERT's basic tokenizer: normalize, split on whitespace, then make every punctuation mark its own word."""
    return [piece for word in bert_normalize(text).split() for piece in _split_punctuation(word)]


def _split_punctuation(word: str) -> list[str]:
    """"don't!" -> ["don", "'", "t", "!"]: every punctuation mark becomes a word of its own."""
    pieces: list[str] = []
    for is_punctuation, run in itertools.groupby(word, _is_punctuation):
        pieces += list(run) if is_punctuation else ["".join(run)]
    return pieces


class WordPiece:
    """BERT's tokenizer: basic pre-tokenization, then greedy longest-match-first subwords marked with ##."""

    def __init__(self, vocab: Iterable[str], unk: str = "[UNK]", prefix: str = "##", max_chars: int = 100,
                 special_tokens: Iterable[str] = ()):
        self.vocab, self.unk, self.prefix, self.max_chars = set(vocab), unk, prefix, max_chars
        # Special tokens written in the text ("[CLS]", "[MASK]") stay whole: they are cut out before normalizing.
        longest_first = sorted(special_tokens, key=len, reverse=True)
        self._special = re.compile("(" + "|".join(map(re.escape, longest_first)) + ")") if longest_first else None

    def split_word(self, word: str) -> list[str]:
        """Take the longest vocabulary entry that starts the word, then repeat on the rest (## marks a suffix)."""
        if len(word) > self.max_chars:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in self.vocab:
                    break
            else:  # no prefix of the rest is known: the whole word is unknown, not just the tail
                return [self.unk]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """WordPiece tokens of raw text, as BertTokenizerFast.tokenize gives them."""
        segments = self._special.split(text) if self._special else [text]  # odd positions hold the special tokens
        return [token for k, segment in enumerate(segments)
                for token in ([segment] if k % 2 else self._tokenize_plain(segment))]

    def _tokenize_plain(self, text: str) -> list[str]:
        return [piece for word in bert_pre_tokenize(text) for piece in self.split_word(word)]

"""Tokenization: cleaning raw reviews, word and character tokens, and vocabularies."""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

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

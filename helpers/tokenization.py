"""Tokenization: cleaning raw reviews, word and character tokens, vocabularies.

The subword tokenizers build on these and live one per module: `helpers.bpe` (GPT-2's byte-level BPE),
`helpers.wordpiece` (BERT's WordPiece) and `helpers.unigram` (SentencePiece's Unigram). Every tokenizer there
has the same three methods: `encode` (text -> ids), `decode` (ids -> text) and `tokens` (text -> pieces).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Set

import regex

from helpers.checks import check_size

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# A tag starts with a letter, "/" or "!" and cannot contain "<": each match attempt stops at the next "<", so
# cleaning stays linear on any input (the looser <[^>]+> rescans to the end of the text from every "<" that is
# never closed: quadratic). It also leaves the heart in "i <3 this" alone.
_TAG = re.compile(r"</?[A-Za-z!][^<>]*>")
_SPACE = re.compile(r"\s+")
# NFKC spells "5½" as "51⁄2" and "10²" as "102": a fraction, superscript or other number sign (\p{No}) right
# after a number gets a space first, so the numbers stay apart ("5 1/2").
_GLUED_NUMBER = regex.compile(r"(?<=\p{N})(?=\p{No})")
_TYPOGRAPHY = str.maketrans("‘’“”–—⁄", "''\"\"--/")  # curly quotes, dashes, the fraction slash
_WORD = regex.compile(r"""
    \p{N}+(?:[.,/]\p{N}+)+             # a number with a point, comma or slash inside: 7.5, 1,000, 1/2, 10/10
  | [\p{L}\p{M}\p{N}]+(?:'[\p{L}\p{M}\p{N}]+)*   # letters, marks and digits of any script: don't, naïve, 東京
  | (?=[^\s\p{L}\p{M}\p{N}])\X        # any other character (with its modifiers: 👍🏽) is a token of its own
""", regex.VERBOSE)


def clean_text(text: str, lowercase: bool = True) -> str:
    """Strip HTML (IMDB's <br />), unescape entities, NFKC-normalize, map typography to ASCII, squeeze spaces.

    >>> clean_text("Great<br /><br />film &amp; ﬁne “cast”, 5½ stars")
    'great film & fine "cast", 5 1/2 stars'
    """
    if not isinstance(text, str):
        raise TypeError(f"clean_text takes one text (a str), got {type(text).__name__}.")
    text = _BREAK.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = _GLUED_NUMBER.sub(" ", text)
    # NFKC folds compatibility forms (ﬁ -> fi, full-width letters, ½ -> 1⁄2); quotes and dashes stay.
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    text = _SPACE.sub(" ", text).strip()
    return text.lower() if lowercase else text


def word_tokenize(text: str) -> list[str]:
    """Split cleaned text into words (any script, inner apostrophes kept), numbers and single symbols.

    >>> word_tokenize("amélie wasn't naïve: 5 1/2 stars, 東京!")
    ['amélie', "wasn't", 'naïve', ':', '5', '1/2', 'stars', ',', '東京', '!']
    """
    if not isinstance(text, str):
        raise TypeError(f"word_tokenize takes one text (a str), got {type(text).__name__}: "
                        "call it once per text, e.g. [word_tokenize(t) for t in texts].")
    return _WORD.findall(text)


def char_tokenize(text: str) -> list[str]:
    """Every user-perceived character (a grapheme: a letter with its accents, an emoji) is a token.

    >>> char_tokenize("ok 👍🏽"), len("👍🏽")
    (['o', 'k', ' ', '👍🏽'], 2)
    """
    if not isinstance(text, str):
        raise TypeError(f"char_tokenize takes one text (a str), got {type(text).__name__}.")
    return regex.findall(r"\X", text)


# --- the check for functions that take token lists -----------------------------------------------------

def each_token_list(token_lists: Iterable[list[str]], name: str = "token_lists") -> Iterator[list[str]]:
    """Yield the token lists one at a time (a generator stays lazy); fail clearly on a string or on none."""
    if isinstance(token_lists, str):
        raise TypeError(f"{name} must be a list of token lists, got one string: tokenize it and wrap it in a "
                        f"list, e.g. [word_tokenize({token_lists[:20]!r})].")
    empty = True
    for tokens in token_lists:
        if isinstance(tokens, str):
            raise TypeError(f"{name} must hold lists of tokens, got the string {tokens[:40]!r}: "
                            "tokenize each text first, e.g. [word_tokenize(t) for t in texts].")
        empty = False
        yield tokens
    if empty:
        raise ValueError(f"{name} is empty: give at least one list of tokens.")


# --- vocabularies --------------------------------------------------------------------------------------

class Vocab:
    """A token <-> id table with <pad> at 0 and <unk> at 1 for tokens it has not seen."""

    PAD, UNK = "<pad>", "<unk>"

    def __init__(self, tokens: Iterable[str]):
        if isinstance(tokens, str):
            raise TypeError(f"Vocab takes a list of tokens, got one string: wrap it in a list, "
                            f"e.g. [{tokens!r:.30}].")
        self.itos: list[str] = [self.PAD, self.UNK] + [t for t in tokens if t not in (self.PAD, self.UNK)]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Keep tokens seen `min_freq` times or more, most frequent first (ties alphabetical), `max_size` at
        most."""
        check_size(min_freq, "min_freq")
        if max_size is not None:
            check_size(max_size, "max_size")
        counts = Counter(t for tokens in each_token_list(token_lists) for t in tokens)
        kept = [t for t, c in sorted(counts.items(), key=lambda tc: (-tc[1], tc[0])) if c >= min_freq]
        return cls(kept[:max_size])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids for tokens; unknown ones map to <unk>.

        >>> Vocab(["good", "film"]).encode(["good", "bad", "film"])
        [2, 1, 3]
        """
        if isinstance(tokens, str):
            raise TypeError("Vocab.encode takes a list of tokens, got one string: tokenize it first, "
                            f"e.g. vocab.encode(word_tokenize({tokens[:20]!r})).")
        unk = self.stoi[self.UNK]
        return [self.stoi.get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for ids.

        >>> Vocab(["good", "film"]).decode([2, 1, 3])
        ['good', '<unk>', 'film']
        """
        return [self.itos[i] for i in ids]


def oov_rate(vocab: Vocab | Iterable[str], token_lists: Iterable[list[str]]) -> float:
    """Share of tokens in `token_lists` that the vocabulary does not know.

    >>> oov_rate({"a", "b"}, [["a", "x"], ["b", "b", "y", "a"]])
    0.3333333333333333
    """
    if isinstance(vocab, str):
        raise TypeError("vocab must be a Vocab or a collection of tokens, got one string.")
    known = vocab if isinstance(vocab, (Vocab, Set, Mapping)) else set(vocab)
    total = unknown = 0
    for tokens in each_token_list(token_lists):
        total += len(tokens)
        unknown += sum(t not in known for t in tokens)
    if not total:
        raise ValueError("token_lists holds no tokens: the OOV rate of nothing is undefined.")
    return unknown / total

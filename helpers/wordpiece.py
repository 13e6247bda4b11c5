"""WordPiece from scratch: BERT's pre-tokenization, greedy longest-match-first encoding, likelihood training.

Encoding keeps no merges, only a vocabulary: each word is split greedily, longest known piece first
(`split_word`). Training (`train_wordpiece`) grows that vocabulary from the characters by merging, each time,
the pair with the highest likelihood score count(ab) / (count(a) count(b)): a pair that occurs together more
often than its parts alone would suggest. (Hugging Face's `WordPieceTrainer` does not do this: it trains
BPE, merging the most frequent pair, and only encodes the WordPiece way.)
"""

from __future__ import annotations

import heapq
import itertools
import re
import string
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Mapping

from tqdm import tqdm

from helpers.bpe import merge
from helpers.checks import check_size, check_texts

# The CJK ideograph blocks that BERT puts in words of their own, as Hugging Face's Rust normalizer lists them.
# (Its table starts the sixth block at 0x2B920, where Google's original BERT has 0x2B820: the 256 ideographs
# of CJK Extension E in between are words of their own there, and glued to their neighbours here and in Rust.)
_CJK = re.compile("[\u4E00-\u9FFF\u3400-\u4DBF\U00020000-\U0002A6DF\U0002A700-\U0002B73F\U0002B740-\U0002B81F"
                  "\U0002B920-\U0002CEAF\uF900-\uFAFF\U0002F800-\U0002FA1F]")
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _is_punctuation(ch: str) -> bool:
    """BERT's punctuation: every ASCII symbol ($, ^, ` too) and every Unicode P* category."""
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def _is_control(ch: str) -> bool:
    """What BERT deletes: the replacement character, control and format characters (tab, newline, return
    excepted), private-use characters. Unassigned code points (Cn) stay: they may be characters that
    a newer Unicode assigned, and the Rust tokenizer keeps them too."""
    return ch == "\ufffd" or (ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs"))


def bert_normalize(text: str) -> str:
    """BERT's normalizer: drop control characters, space out CJK, strip accents, lowercase.

    >>> bert_normalize("Héllo\\x00 東京")
    'hello  東  京 '
    """
    text = "".join(" " if ch.isspace() else ch for ch in text if not _is_control(ch))
    text = _CJK.sub(r" \g<0> ", text)
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")
    # Character by character, as the Rust normalizer does: str.lower() would make a word-final Σ ς, not σ.
    return "".join(ch.lower() for ch in text)


def bert_pre_tokenize(text: str) -> list[str]:
    """BERT's basic tokenizer: normalize, split on whitespace, then make every punctuation mark its own word.

    >>> bert_pre_tokenize("Don't stop!")
    ['don', "'", 't', 'stop', '!']
    """
    return [piece for word in bert_normalize(text).split() for piece in _split_punctuation(word)]


def _split_punctuation(word: str) -> list[str]:
    pieces: list[str] = []
    for is_punctuation, run in itertools.groupby(word, _is_punctuation):
        pieces += list(run) if is_punctuation else ["".join(run)]
    return pieces


def split_word(word: str, vocab: Container[str], unk: str = "[UNK]", prefix: str = "##",
               max_chars: int = 100) -> list[str]:
    """Take the longest vocabulary entry that starts the word, then repeat on the rest (marked with ##).

    >>> split_word("unaffable", {"un", "una", "##ff", "##aff", "##able"})
    ['una', '##ff', '##able']
    >>> split_word("unaffablex", {"un", "una", "##ff", "##aff", "##able"})  # one unknown tail: all unknown
    ['[UNK]']
    """
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = word[start:end] if start == 0 else prefix + word[start:end]
            if piece in vocab:
                break
        else:  # no prefix of the rest is known: the whole word is unknown, not just the tail
            return [unk]
        pieces.append(piece)
        start = end
    return pieces


class WordPiece:
    """BERT's tokenizer: basic pre-tokenization, then greedy longest-match-first pieces, ## marking a suffix.

    >>> WordPiece(["[UNK]", "un", "##watch", "##able", "film", "!"]).tokens("UNWATCHABLE film!")
    ['un', '##watch', '##able', 'film', '!']
    """

    def __init__(self, vocab: Mapping[str, int] | Iterable[str], unk: str = "[UNK]", prefix: str = "##",
                 max_chars: int = 100, special_tokens: Iterable[str] = ()):
        if isinstance(vocab, str):
            raise TypeError("vocab must be a list of tokens or a token -> id mapping, got one string.")
        self.vocab: dict[str, int] = (dict(vocab) if isinstance(vocab, Mapping)
                                      else {t: i for i, t in enumerate(vocab)})
        self.vocab.setdefault(unk, len(self.vocab))
        self.inverse = {i: t for t, i in self.vocab.items()}
        self.unk, self.prefix, self.max_chars = unk, prefix, check_size(max_chars, "max_chars")
        # Special tokens written in the text ("[CLS]", "[MASK]") stay whole: cut out before normalizing.
        longest_first = sorted(special_tokens, key=len, reverse=True)
        self._special = (re.compile("(" + "|".join(map(re.escape, longest_first)) + ")") if longest_first
                         else None)

    def __len__(self) -> int:
        return len(self.vocab)

    def tokens(self, text: str) -> list[str]:
        """WordPiece tokens of raw text, as BertTokenizerFast.tokenize gives them."""
        # Odd positions hold the special tokens.
        segments = self._special.split(text) if self._special else [text]
        return [token for k, segment in enumerate(segments)
                for token in ([segment] if k % 2 else self._plain_tokens(segment))]

    def _plain_tokens(self, text: str) -> list[str]:
        return [piece for word in bert_pre_tokenize(text)
                for piece in split_word(word, self.vocab, self.unk, self.prefix, self.max_chars)]

    def encode(self, text: str) -> list[int]:
        """Token ids of raw text (no [CLS]/[SEP]: adding those is the pipeline's job, not the model's)."""
        return [self.vocab[token] for token in self.tokens(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Words joined by spaces, ## pieces glued to the word before them (case and accents are gone).

        >>> WordPiece(["un", "##watch", "##able", "film"]).decode([0, 1, 2, 3])
        'unwatchable film'
        """
        text = " ".join(self.inverse[i] for i in ids)
        return text.replace(" " + self.prefix, "")


def differing_code_points(ours: WordPiece, theirs: Callable[[str], list[str]],
                          code_points: Iterable[int] = range(0x110000)) -> list[int]:
    """The code points c on which `ours` and `theirs` (text -> tokens) cut "a" + c differently.

    The "a" in front makes a punctuation mark split, an accent strip and a control character vanish. The code
    points go 4,096 to a text, and only a text that differs is re-checked one code point at a time.

    >>> wp = WordPiece(["[UNK]", "a", "##b", "##c", "c"])
    >>> differing_code_points(wp, lambda t: wp.tokens(t.replace("c", "b")), range(ord("a"), ord("e")))
    [99]
    """
    every = [c for c in code_points if not 0xD800 <= c <= 0xDFFF]  # surrogates are not characters
    differ = []
    for start in range(0, len(every), 4096):
        chunk = every[start:start + 4096]
        text = " ".join("a" + chr(c) for c in chunk)
        if ours.tokens(text) != theirs(text):
            differ += [c for c in chunk if ours.tokens("a" + chr(c)) != theirs("a" + chr(c))]
    return differ


# --- training ------------------------------------------------------------------------------------------

Pair = tuple[str, str]


def _spell(word: str, prefix: str) -> list[str]:
    """A word as its characters, every one after the first marked as a continuation.

    >>> _spell("hug", "##")
    ['h', '##u', '##g']
    """
    return [word[0]] + [prefix + ch for ch in word[1:]]


def _glue(left: str, right: str, prefix: str) -> str:
    return left + right.removeprefix(prefix)


def train_wordpiece(texts: Iterable[str], vocab_size: int, special_tokens: Iterable[str] = SPECIAL_TOKENS,
                    prefix: str = "##", progress: bool = False) -> WordPiece:
    """Learn a WordPiece vocabulary: start from the characters, then merge the pair with the best score

    count(ab) / (count(a) count(b)) until the vocabulary has `vocab_size` entries (ties: the smaller pair of
    strings). Words come from BERT's pre-tokenization; every character seen stays in the vocabulary.
    """
    check_size(vocab_size, "vocab_size")
    word_counts = Counter(w for text in check_texts(texts) for w in bert_pre_tokenize(text))
    words = [_spell(w, prefix) for w in word_counts]
    freqs = list(word_counts.values())
    specials = list(dict.fromkeys(special_tokens))
    vocab = dict.fromkeys(specials + sorted({s for w in words for s in w} - set(specials)))

    pair_count: Counter[Pair] = Counter()
    token_count: Counter[str] = Counter()
    where: defaultdict[Pair, set[int]] = defaultdict(set)  # pair -> the words it occurs in (or once did)
    pairs_of: defaultdict[str, set[Pair]] = defaultdict(set)  # token -> the pairs it is part of (or once was)
    for i, (word, freq) in enumerate(zip(words, freqs)):
        _count(word, freq, i, pair_count, token_count, where, pairs_of)

    def entry(pair: Pair) -> tuple[float, Pair]:
        return -pair_count[pair] / (token_count[pair[0]] * token_count[pair[1]]), pair

    heap = [entry(pair) for pair in pair_count]
    heapq.heapify(heap)
    bar = tqdm(total=vocab_size, initial=len(vocab), desc="WordPiece vocabulary", disable=not progress,
               mininterval=1)
    while len(vocab) < vocab_size and heap:
        negative_score, pair = heapq.heappop(heap)
        if not pair_count[pair] or entry(pair)[0] != negative_score:  # stale: counts changed since the push
            if pair_count[pair]:
                heapq.heappush(heap, entry(pair))
            continue
        new = _glue(*pair, prefix)
        if new not in vocab:
            vocab[new] = None
            bar.update()
        for i in where.pop(pair):
            _count(words[i], -freqs[i], i, pair_count, token_count, where, pairs_of)
            words[i] = merge(words[i], pair, new)
            _count(words[i], freqs[i], i, pair_count, token_count, where, pairs_of)
        # The parts got rarer, so every pair holding one scores higher now: push those again, and new pairs.
        for touched in pairs_of[pair[0]] | pairs_of[pair[1]] | pairs_of[new]:
            if pair_count[touched]:
                heapq.heappush(heap, entry(touched))
    bar.close()
    return WordPiece(list(vocab), prefix=prefix, special_tokens=specials)


def _count(word: list[str], freq: int, i: int, pair_count: Counter[Pair], token_count: Counter[str],
           where: defaultdict[Pair, set[int]], pairs_of: defaultdict[str, set[Pair]]) -> None:
    """Add (or, with a negative `freq`, remove) one word's tokens and adjacent pairs to the counts."""
    for token in word:
        token_count[token] += freq
    for pair in zip(word, word[1:]):
        pair_count[pair] += freq
        if freq > 0:
            where[pair].add(i)
            pairs_of[pair[0]].add(pair)
            pairs_of[pair[1]].add(pair)


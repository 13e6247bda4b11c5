"""The Unigram tokenizer from scratch: SentencePiece's model (Kudo, 2018), trained and used the way it does.

A Unigram model is a vocabulary of pieces, each with a log-probability; a word's probability is the product of
its pieces', and it is cut into the pieces that make that product largest (`viterbi`). Training runs the
other way round from BPE: start from far too many pieces (every frequent substring), fit their probabilities
by EM, then prune the pieces whose removal costs the corpus the least likelihood, and repeat until the
vocabulary has the size asked for.
"""

from __future__ import annotations

import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from tqdm import tqdm

from helpers.checks import check_size, check_texts

if TYPE_CHECKING:
    import sentencepiece

SPACE = "▁"  # SentencePiece's visible space: it starts every word, so decoding knows where spaces were
UNK = "<unk>"
UNK_PENALTY = 10.0  # an unknown character scores this much below the rarest piece, as in SentencePiece


def pre_tokenize(text: str) -> list[str]:
    """SentencePiece's words: split on whitespace, and mark the start of each word with ▁.

    >>> pre_tokenize("a  great film")
    ['▁a', '▁great', '▁film']
    """
    return [SPACE + word for word in text.split()]


def viterbi(word: str, scores: Mapping[str, float], max_len: int = 16, unk_score: float = -math.inf,
            whole: bool = True) -> list[str]:
    """The cut of `word` into pieces with the highest total score (log-probability); `whole=False` forbids
    keeping the word in one piece. A character that is no piece scores `unk_score`.

    >>> viterbi("▁hugs", {"▁": -3.0, "▁h": -3.0, "▁hug": -4.0, "u": -3.0, "g": -3.0, "s": -2.0, "hugs": -9.0})
    ['▁hug', 's']
    """
    n = len(word)
    best = [0.0] + [-math.inf] * n  # best[j]: the score of the best cut of word[:j]
    start = [0] * (n + 1)  # start[j]: where its last piece starts
    for i in range(n):  # earlier starts first; only a strictly better score replaces (SentencePiece's ties)
        if best[i] == -math.inf:
            continue
        for j in range(i + 1, min(n, i + max_len) + 1):
            score = scores.get(word[i:j])
            if score is None and j == i + 1:
                score = unk_score
            if score is None or (not whole and i == 0 and j == n):
                continue
            if best[i] + score > best[j]:
                best[j], start[j] = best[i] + score, i
    if best[n] == -math.inf:
        return []
    pieces, j = [], n
    while j > 0:
        pieces.append(word[start[j]:j])
        j = start[j]
    return pieces[::-1]


class Unigram:
    """A Unigram tokenizer: pieces with log-probabilities, <unk> at id 0, best-scoring cut of each word."""

    def __init__(self, scores: Mapping[str, float], max_len: int = 16):
        if not isinstance(scores, Mapping):
            raise TypeError(f"scores must map pieces to log-probabilities, got {type(scores).__name__}.")
        if not scores:
            raise ValueError("scores is empty: a Unigram model needs at least one piece.")
        self.scores = {piece: float(score) for piece, score in scores.items() if piece != UNK}
        self.vocab = {UNK: 0} | {piece: i for i, piece in enumerate(self.scores, start=1)}
        self.inverse = {i: piece for piece, i in self.vocab.items()}
        self.max_len = max_len
        self.unk_score = min(self.scores.values()) - UNK_PENALTY
        self._cache: dict[str, list[str]] = {}  # words repeat (Zipf), so each is cut once

    def __len__(self) -> int:
        return len(self.vocab)

    def _cut(self, word: str) -> list[str]:
        if word not in self._cache:
            self._cache[word] = viterbi(word, self.scores, self.max_len, self.unk_score)
        return self._cache[word]

    def tokens(self, text: str) -> list[str]:
        """The pieces of `text`, word by word (an unknown character stays itself here, <unk> in `encode`)."""
        return [piece for word in pre_tokenize(text) for piece in self._cut(word)]

    def encode(self, text: str) -> list[int]:
        """Piece ids of `text`; a character the vocabulary lacks becomes <unk> (id 0)."""
        return [self.vocab.get(piece, 0) for piece in self.tokens(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Text for ids: glue the pieces, turn each ▁ back into a space (whitespace comes back as one space).

        >>> Unigram({"▁un": -2.0, "watch": -3.0, "able": -3.0, "▁film": -2.5}).decode([1, 2, 3, 4])
        'unwatchable film'
        """
        return "".join(self.inverse[i] for i in ids).replace(SPACE, " ").removeprefix(" ")

    def log_likelihood(self, text: str) -> float:
        """The log-probability of `text` summed over every cut of every word (what EM maximizes)."""
        return sum(_forward_backward(word, self.scores, self.max_len, self.unk_score)
                   for word in pre_tokenize(text))


# --- training ------------------------------------------------------------------------------------------

def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top if top == -math.inf else top + math.log(sum([math.exp(v - top) for v in values]))


def _forward_backward(word: str, scores: Mapping[str, float], max_len: int, unk_score: float,
                      expected: defaultdict[str, float] | None = None, freq: int = 1) -> float:
    """log P(word) summed over all its cuts; adds each piece's expected count (times `freq`) to `expected`."""
    n = len(word)
    edges = []  # the lattice: (start, end, piece, score) of every piece that occurs in the word
    for i in range(n):
        for j in range(i + 1, min(n, i + max_len) + 1):
            score = scores.get(word[i:j])
            if score is not None:
                edges.append((i, j, word[i:j], score))
            elif j == i + 1:
                edges.append((i, j, "", unk_score))  # an unknown character: no piece to credit
    ending: list[list[tuple[int, float]]] = [[] for _ in range(n + 1)]
    for i, j, _, score in edges:
        ending[j].append((i, score))
    alpha = [0.0] * (n + 1)  # alpha[j]: log P(word[:j]), all cuts
    for j in range(1, n + 1):
        alpha[j] = _logsumexp([alpha[i] + score for i, score in ending[j]])
    if expected is not None:
        starting: list[list[tuple[int, float]]] = [[] for _ in range(n + 1)]
        for i, j, _, score in edges:
            starting[i].append((j, score))
        beta = [0.0] * (n + 1)  # beta[i]: log P(word[i:]), all cuts
        for i in range(n - 1, -1, -1):
            beta[i] = _logsumexp([score + beta[j] for j, score in starting[i]])
        for i, j, piece, score in edges:
            if piece:  # P(this piece is used here) = alpha * P(piece) * beta / P(word)
                expected[piece] += freq * math.exp(alpha[i] + score + beta[j] - alpha[n])
    return alpha[n]


def _seed_pieces(words: Counter[str], chars: Counter[str], max_len: int, seed_size: int) -> dict[str, float]:
    """Every character, plus the `seed_size` substrings with the highest count x length, as log-probabilities.

    Like SentencePiece's suffix-array seeds: substrings seen at least twice that are followed by more than one
    character (a substring always followed by the same letter adds nothing its extension does not); ▁ only
    at the start.
    """
    counts: Counter[str] = Counter()
    follower: dict[str, str] = {}
    branching: set[str] = set()
    for word, freq in words.items():
        for i in range(len(word)):
            for j in range(i + 2, min(len(word), i + max_len) + 1):
                piece = word[i:j]
                if SPACE in piece[1:]:
                    break
                counts[piece] += freq
                after = word[j] if j < len(word) else SPACE
                if follower.setdefault(piece, after) != after:
                    branching.add(piece)
    frequent = sorted((p for p in branching if counts[p] >= 2), key=lambda p: (-counts[p] * len(p), p))
    kept = frequent[:seed_size]
    seeds = dict(chars) | {p: counts[p] * len(p) for p in kept}
    total = math.log(sum(seeds.values()))
    return {piece: math.log(score) - total for piece, score in seeds.items()}


def _digamma(x: float) -> float:
    """ψ(x), by recurrence up to 7 and then its asymptotic series (as SentencePiece computes it)."""
    result = 0.0
    while x < 7:
        result -= 1 / x
        x += 1
    x -= 0.5
    xx2 = 1 / (x * x)
    xx4 = xx2 * xx2
    return result + math.log(x) + xx2 / 24 - 7 * xx4 / 960 + 31 * xx4 * xx2 / 8064 - 127 * xx4 * xx4 / 30720


def _em_step(scores: dict[str, float], words: Counter[str], max_len: int) -> tuple[dict[str, float], float]:
    """One EM iteration: expected piece counts under the current model, then new log-probabilities.

    The M step is SentencePiece's Bayesian one: ψ(count) - ψ(total) instead of log(count / total), which
    pushes rarely used pieces down further (a sparse prior), and a piece expected less than half a time is
    dropped. Returns the new scores and the mean negative log-likelihood per word.
    """
    expected: defaultdict[str, float] = defaultdict(float)
    unk_score = min(scores.values()) - UNK_PENALTY
    log_likelihood = sum(freq * _forward_backward(word, scores, max_len, unk_score, expected, freq)
                         for word, freq in words.items())
    kept = {piece: count for piece in scores if (count := expected[piece]) >= 0.5}
    total = _digamma(sum(kept.values()))
    return {piece: _digamma(count) - total for piece, count in kept.items()}, -log_likelihood / words.total()


def _prune(scores: dict[str, float], words: Counter[str], max_len: int, keep: int) -> dict[str, float]:
    """Keep the `keep` pieces whose removal would lower the corpus likelihood most (SentencePiece's rule).

    Removing a piece re-spells each of its uses with the best cut of the piece without it (its
    alternative); the loss is how much log-likelihood that costs, weighted by how often the piece is used.
    Pieces that the best cuts never use, or that are themselves best cut into smaller pieces, go first;
    pieces with no alternative (single characters) always stay.
    """
    unk_score = min(scores.values()) - UNK_PENALTY
    used: Counter[str] = Counter()  # how often each piece appears in the best cuts of the corpus
    for word, freq in words.items():
        for piece in viterbi(word, scores, max_len, unk_score):
            used[piece] += freq
    total, n_words = sum(used.values()), words.total()
    kept, losses = {}, {}
    for piece, score in scores.items():
        if not used[piece] or viterbi(piece, scores, max_len, unk_score) != [piece]:
            continue  # unused, or its own best cut is into other pieces: removing it costs nothing
        if len(piece) == 1:
            kept[piece] = score  # a character has no alternative
            continue
        alternative = viterbi(piece, scores, max_len, unk_score, whole=False)
        # With the piece gone, its uses move to the alternative's pieces and the total grows.
        log_total_after = math.log(total + used[piece] * (len(alternative) - 1))
        log_p_after = sum(math.log(used[p] + used[piece]) - log_total_after for p in alternative)
        # Weighted by the share of words that use it (SentencePiece counts a word once per use, too).
        losses[piece] = used[piece] / n_words * (math.log(used[piece] / total) - log_p_after)
    for piece in sorted(losses, key=lambda p: -losses[p])[:max(0, keep - len(kept))]:
        kept[piece] = scores[piece]
    return kept


def train_unigram(texts: Iterable[str], vocab_size: int, max_len: int = 16, seed_size: int = 1_000_000,
                  shrinking_factor: float = 0.75, sub_iterations: int = 2, progress: bool = False) -> Unigram:
    """Learn a Unigram vocabulary of `vocab_size` pieces (<unk> included) with SentencePiece's algorithm.

    Seed with frequent substrings; then repeat: `sub_iterations` EM steps, and prune to `shrinking_factor`
    of the pieces, until at most 10% more pieces than asked for are left. Finally keep every character and
    the best-scoring pieces.
    """
    for size, name in [(vocab_size, "vocab_size"), (max_len, "max_len"), (seed_size, "seed_size"),
                       (sub_iterations, "sub_iterations")]:
        check_size(size, name)
    if not 0 < shrinking_factor < 1:
        raise ValueError(f"shrinking_factor must be between 0 and 1 (the share of pieces a pruning keeps), "
                         f"got {shrinking_factor}.")
    words = Counter(word for text in check_texts(texts) for word in pre_tokenize(text))
    if not words:
        raise ValueError("texts hold no words to learn from (they are all whitespace).")
    chars: Counter[str] = Counter()
    for word, freq in words.items():
        for ch in word:
            chars[ch] += freq
    if vocab_size <= len(chars):
        raise ValueError(f"vocab_size={vocab_size} leaves no room beyond the {len(chars)} characters of the "
                         f"texts and <unk>: ask for more than {len(chars) + 1}.")
    scores = _seed_pieces(words, chars, max_len, seed_size)
    desired = int(vocab_size * 1.1)
    bar = tqdm(desc="Unigram pieces", total=None, disable=not progress, mininterval=1)
    while True:
        for _ in range(sub_iterations):
            scores, loss = _em_step(scores, words, max_len)
        bar.set_postfix(pieces=len(scores), loss=f"{loss:.2f}")
        bar.update()
        if len(scores) <= desired:
            break
        scores = _prune(scores, words, max_len, max(desired, int(shrinking_factor * len(scores))))
    bar.close()
    final = _finalize(scores, chars, vocab_size - 1)
    if len(final) < vocab_size - 1:  # as SentencePiece does, rather than return fewer pieces than asked for
        raise ValueError(f"These texts support only {len(final) + 1} pieces (<unk> included), fewer than "
                         f"vocab_size={vocab_size}: ask for fewer, or give more text.")
    return Unigram(final, max_len)


def _finalize(scores: dict[str, float], chars: Counter[str], size: int) -> dict[str, float]:
    """Every character (one that EM dropped gets a score at the bottom), then the best-scoring pieces up to
    `size`, most probable first."""
    lowest, penalty = min(scores.values()), 0.0
    final = {}
    for ch, _ in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0])):
        if ch in scores:
            final[ch] = scores[ch]
        else:
            final[ch] = lowest + penalty  # SentencePiece's nudge, so that no two get the same score
            penalty += 0.0001
    for piece in sorted(scores, key=lambda p: (-scores[p], p)):
        if len(final) >= size:
            break
        final.setdefault(piece, scores[piece])
    return dict(sorted(final.items(), key=lambda kv: (-kv[1], kv[0])))


def train_sentencepiece(texts: Iterable[str],
                        vocab_size: int) -> tuple[Unigram, sentencepiece.SentencePieceProcessor]:
    """SentencePiece's own Unigram trainer, set up to learn from the same words as `train_unigram`: split on
    whitespace only (not also between scripts or digits), every character kept, no normalization, <unk> the
    only special piece. Returns its pieces and scores in our `Unigram` class, and its own processor.

    Needs the `sentencepiece` package (the course's `reference` extra).
    """
    import sentencepiece  # the reference implementation, imported only when compared with

    check_size(vocab_size, "vocab_size")
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(check_texts(texts)), model_writer=model, model_type="unigram",
        vocab_size=vocab_size, character_coverage=1.0, normalization_rule_name="identity",
        split_by_unicode_script=False, split_by_number=False, max_sentence_length=1 << 20,
        bos_id=-1, eos_id=-1, unk_id=0, num_threads=1, minloglevel=2)
    processor = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
    scores = {processor.id_to_piece(i): processor.get_score(i) for i in range(processor.get_piece_size())
              if not processor.is_unknown(i)}
    return Unigram(scores), processor

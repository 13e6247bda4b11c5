"""Unigram from scratch: its lattice sums against brute force, its training against SentencePiece's."""

import itertools
import math

import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import data
from helpers.tokenization import clean_text
from helpers.unigram import SPACE, Unigram, pre_tokenize, train_sentencepiece, train_unigram, viterbi


def _every_cut(word: str) -> list[list[str]]:
    """All 2^(n-1) ways to cut a word into pieces."""
    cuts = []
    for bars in itertools.product([False, True], repeat=len(word) - 1):
        pieces, start = [], 0
        for i, bar in enumerate(bars, start=1):
            if bar:
                pieces.append(word[start:i])
                start = i
        cuts.append(pieces + [word[start:]])
    return cuts


def _cut_score(pieces: list[str], model: Unigram) -> float:
    """A cut's log-probability; a piece the model lacks makes it impossible (an unknown character not)."""
    return sum(model.scores.get(p, model.unk_score if len(p) == 1 else -math.inf) for p in pieces)


_SCORES = st.dictionaries(st.text(alphabet="ab▁", min_size=1, max_size=4), st.floats(-12, -0.1), min_size=1)


@settings(deadline=None, max_examples=200)
@given(_SCORES, st.text(alphabet="abc▁", min_size=1, max_size=9))
def test_viterbi_finds_the_best_of_every_cut(scores, word):
    model = Unigram(scores)
    best = max(_cut_score(cut, model) for cut in _every_cut(word))
    assert _cut_score(viterbi(word, model.scores, unk_score=model.unk_score), model) == pytest.approx(best)


@settings(deadline=None, max_examples=200)
@given(_SCORES, st.text(alphabet="abc▁", min_size=1, max_size=9))
def test_log_likelihood_sums_every_cut(scores, word):
    """The forward pass adds up the probabilities of all cuts: here, literally all of them."""
    model = Unigram(scores)
    total = math.log(sum(math.exp(_cut_score(cut, model)) for cut in _every_cut(SPACE + word)))
    assert model.log_likelihood(word) == pytest.approx(total)


def test_viterbi_is_not_greedy():
    """Longest match first would take ▁hug and be stuck with a rare 's'; the best cut pays less overall."""
    scores = {"▁hug": -3.0, "▁hu": -4.0, "gs": -2.0, "s": -9.0, "▁": -5.0, "h": -5.0, "u": -5.0, "g": -5.0}
    assert viterbi("▁hugs", scores) == ["▁hu", "gs"]
    assert viterbi("▁hugs", scores, whole=False) == ["▁hu", "gs"]
    assert viterbi("▁hug", scores, whole=False) == ["▁hu", "g"]  # the best cut that is not the piece itself


def test_encode_decode_and_unknown_characters():
    model = Unigram({"▁a": -1.0, "▁film": -2.0, "▁": -3.0, **dict.fromkeys("filma", -4.0)})
    assert model.tokens("a  film") == ["▁a", "▁film"]
    assert model.decode(model.encode("a  film")) == "a film"  # whitespace comes back as single spaces
    assert model.tokens("a fil😀") == ["▁a", "▁", "f", "i", "l", "😀"]
    assert model.encode("a fil😀")[-1] == 0  # the emoji is <unk>
    assert pre_tokenize(" two  words ") == ["▁two", "▁words"]


# --- training against SentencePiece --------------------------------------------------------------------

VOCAB_SIZE = 1_000


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str]]:
    """The course's reviews, cleaned: train to learn from, test held out."""
    sample = data.load_sample()
    return [clean_text(t) for t in sample["train"]["text"]], [clean_text(t) for t in sample["test"]["text"]]


@pytest.fixture(scope="module")
def ours(corpus) -> Unigram:
    return train_unigram(corpus[0], VOCAB_SIZE)


@pytest.fixture(scope="module")
def reference(corpus) -> tuple[Unigram, spm.SentencePieceProcessor]:
    """SentencePiece's Unigram trainer on the same words: its pieces in our class, and its own processor."""
    return train_sentencepiece(corpus[0], VOCAB_SIZE)


@pytest.fixture(scope="module")
def theirs(reference) -> Unigram:
    return reference[0]


def test_our_viterbi_cuts_like_sentencepiece_with_its_vocabulary(corpus, reference):
    theirs, processor = reference
    for text in corpus[1]:
        assert theirs.tokens(text) == processor.encode(text, out_type=str)


@pytest.mark.slow
def test_training_learns_sentencepieces_vocabulary(ours, theirs):
    assert len(ours) == len(theirs) == VOCAB_SIZE
    assert len(ours.vocab.keys() & theirs.vocab.keys()) >= 0.9 * VOCAB_SIZE  # measured: 97%


@pytest.mark.slow
def test_training_cuts_held_out_words_like_sentencepiece(corpus, ours, theirs):
    words = [w for text in corpus[1] for w in pre_tokenize(text)]
    same = sum(ours.tokens(w) == theirs.tokens(w) for w in words) / len(words)
    assert same >= 0.95  # measured: 96.5%


@pytest.mark.slow
def test_training_fits_held_out_text_as_well_as_sentencepiece(corpus, ours, theirs):
    ours_ll, theirs_ll = (sum(model.log_likelihood(t) for t in corpus[1]) for model in (ours, theirs))
    assert ours_ll == pytest.approx(theirs_ll, rel=0.01)  # measured: ours 0.6% higher


@pytest.mark.slow
def test_training_keeps_every_character(corpus, ours):
    assert {ch for text in corpus[0] for ch in SPACE + text.replace(" ", SPACE)} <= ours.vocab.keys()


def test_training_rejects_a_bare_string_and_bad_sizes():
    with pytest.raises(TypeError, match="wrap it in a list"):
        train_unigram("a review", 100)
    with pytest.raises(ValueError, match="empty"):
        train_unigram([], 100)
    with pytest.raises(ValueError, match="positive int"):
        train_unigram(["a review"], -1)
    with pytest.raises(ValueError, match="no room"):
        train_unigram(["abc"], 4)
    with pytest.raises(ValueError, match="support only 15 pieces"):
        train_unigram(["a film a film the film was good"], 20)
    with pytest.raises(ValueError, match="shrinking_factor"):
        train_unigram(["a review"], 100, shrinking_factor=1.0)

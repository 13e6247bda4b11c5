"""Cleaning, words, characters and vocabularies; the clear errors every batch function gives."""

import doctest
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import bpe, data, tokenization, unigram, wordpiece
from helpers.tokenization import Vocab, char_tokenize, clean_text, each_token_list, oov_rate, word_tokenize


# --- cleaning -----------------------------------------------------------------------------------------

def test_clean_text_strips_html_unescapes_and_normalizes():
    assert clean_text("Great<br /><br />film &amp; ﬁne “cast”") == 'great film & fine "cast"'
    assert clean_text("The  US <BR>cut", lowercase=False) == "The US cut"
    assert clean_text("<i>Moss</i> &lt;3 <a href='x'>link</a>") == "moss <3 link"


def test_clean_text_keeps_what_only_looks_like_a_tag():
    """A heart or a comparison is text; the old <[^>]+> deleted everything up to the next ">"."""
    assert clean_text("i <3 this film, 2 < 3 and the plot > the acting") == (
        "i <3 this film, 2 < 3 and the plot > the acting")


def test_clean_text_keeps_a_fraction_apart_from_its_number():
    """NFKC spells ½ as 1⁄2: glued to a 5 that would read 51; with a space it reads 5 1/2."""
    assert clean_text("5½ stars, ¾ of it, 10² fans, m²") == "5 1/2 stars, 3/4 of it, 10 2 fans, m2"


def test_clean_text_rejects_what_is_not_text():
    with pytest.raises(TypeError, match="str"):
        clean_text(None)


def _cpu_seconds(fn, arg, repeats: int = 3) -> float:
    """The fastest of a few runs, in CPU time: what the function costs, not how busy the machine is."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn(arg)
        best = min(best, time.process_time() - start)
    return best


def _megabyte(text: str) -> str:
    return (text * (1_000_000 // len(text) + 1))[:1_000_000]


@pytest.fixture(scope="module")
def seconds_per_megabyte_of_reviews() -> float:
    return _cpu_seconds(clean_text, _megabyte(" ".join(data.load_sample()["train"]["text"])))


@pytest.mark.parametrize("markup", ["<a", "<br", "<", "</", "<!", "&#", "&amp", "<a <br/ &lt;"])
def test_clean_text_is_linear_on_adversarial_markup(markup, seconds_per_megabyte_of_reviews):
    """1 MB of unclosed tags costs about what 1 MB of reviews does (the old tag pattern took about 7 minutes).

    A ratio of two timings on the same machine, not a wall-clock limit: both slow down alike under load.
    """
    ratio = _cpu_seconds(clean_text, _megabyte(markup)) / seconds_per_megabyte_of_reviews
    assert ratio < 10, f"{markup!r} * 1 MB takes {ratio:.1f}x as long as 1 MB of reviews"


# --- words and characters -----------------------------------------------------------------------------

def test_word_tokenize_keeps_contractions_and_splits_punctuation():
    assert word_tokenize("don't stop, it's 2 films!") == ["don't", "stop", ",", "it's", "2", "films", "!"]


def test_word_tokenize_reads_every_script():
    """Accented letters stay inside their words, and 5½ is five and a half, not 51."""
    assert word_tokenize(clean_text("Amélie was naïve; the café was très bon, 5½ stars")) == [
        "amélie", "was", "naïve", ";", "the", "café", "was", "très", "bon", ",", "5", "1/2", "stars"]
    assert word_tokenize("Достоевский и 東京物語, ελληνικά!") == [
        "Достоевский", "и", "東京物語", ",", "ελληνικά", "!"]
    assert word_tokenize("हिन्दी फ़िल्म") == ["हिन्दी", "फ़िल्म"]  # vowel signs are marks, inside the word
    assert word_tokenize("cafe\u0301 ok") == ["cafe\u0301", "ok"]  # a combining accent stays with its letter


def test_word_tokenize_keeps_numbers_whole():
    assert word_tokenize("a 10/10 film, 7.5 out of 10, 1,000 times") == [
        "a", "10/10", "film", ",", "7.5", "out", "of", "10", ",", "1,000", "times"]
    assert word_tokenize("the end.the 80s") == ["the", "end", ".", "the", "80s"]


def test_word_tokenize_gives_each_symbol_its_own_token():
    assert word_tokenize("wow!!! ❤️ 👍🏽 $5") == ["wow", "!", "!", "!", "❤️", "👍🏽", "$", "5"]


@given(st.text())
def test_word_tokenize_drops_only_spaces(text):
    cleaned = clean_text(text)
    assert "".join(word_tokenize(cleaned)) == cleaned.replace(" ", "")


def test_word_tokenize_takes_one_text():
    with pytest.raises(TypeError, match="once per text"):
        word_tokenize(["a", "b"])


def test_char_tokenize_keeps_accents_and_emoji_whole():
    """A character is what a reader sees: e + a combining accent is one, so is an emoji with its skin tone."""
    assert char_tokenize("cafe\u0301 👍🏽!") == ["c", "a", "f", "e\u0301", " ", "👍🏽", "!"]
    assert char_tokenize("ab c") == ["a", "b", " ", "c"]


@given(st.text())
def test_char_tokenize_loses_nothing(text):
    assert "".join(char_tokenize(text)) == text


# --- vocabularies --------------------------------------------------------------------------------------

def test_vocab_keeps_frequent_tokens_and_maps_the_rest_to_unk():
    vocab = Vocab.build([["b", "a", "b"], ["c", "b", "a"]], min_freq=2)
    assert vocab.itos == ["<pad>", "<unk>", "b", "a"]
    assert vocab.encode(["a", "c", "zzz"]) == [3, 1, 1]
    assert vocab.decode([3, 1]) == ["a", "<unk>"]
    assert len(Vocab.build([["b", "a", "b", "c"]], max_size=1)) == 3


def test_vocab_build_takes_a_generator():
    assert Vocab.build(list(w) for w in ["ab", "ba"]).itos == ["<pad>", "<unk>", "a", "b"]


def test_oov_rate_counts_unknown_tokens():
    assert oov_rate({"a", "b"}, [["a", "x"], ["b", "b", "y", "a"]]) == pytest.approx(2 / 6)
    assert oov_rate(Vocab(["a"]), [["a", "b"]]) == pytest.approx(1 / 2)


# --- a string where a list belongs, empty batches, sizes ---------------------------------------------

def test_a_text_where_token_lists_belong_is_a_type_error():
    """Vocab.build(["good movie"]) used to build a vocabulary of characters without a word of complaint."""
    with pytest.raises(TypeError, match="tokenize each text first"):
        Vocab.build(["good movie"])
    with pytest.raises(TypeError, match="wrap it in a list"):
        Vocab.build("good movie")
    with pytest.raises(TypeError, match="wrap it in a list"):
        Vocab("good movie")
    with pytest.raises(TypeError, match="tokenize it first"):
        Vocab(["good"]).encode("good")
    with pytest.raises(TypeError, match="tokenize each text first"):
        oov_rate({"good"}, ["good movie"])


def test_empty_batches_are_value_errors():
    with pytest.raises(ValueError, match="empty"):
        Vocab.build([])
    with pytest.raises(ValueError, match="empty"):
        Vocab.build(iter([]))
    with pytest.raises(ValueError, match="no tokens"):
        oov_rate({"a"}, [[], []])


@pytest.mark.parametrize("size", [0, -1, 2.5, "10", True])
def test_vocab_sizes_must_be_positive_ints(size):
    with pytest.raises((TypeError, ValueError), match="positive int"):
        Vocab.build([["a"]], max_size=size)
    with pytest.raises((TypeError, ValueError), match="positive int"):
        Vocab.build([["a"]], min_freq=size)


def test_each_token_list_keeps_empty_lists():
    assert list(each_token_list([["a"], []])) == [["a"], []]


# --- the worked examples in the docstrings ------------------------------------------------------------

@pytest.mark.parametrize("module", [tokenization, bpe, wordpiece, unigram], ids=lambda m: m.__name__)
def test_docstring_examples_are_true(module):
    result = doctest.testmod(module)
    assert result.attempted and not result.failed

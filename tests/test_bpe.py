"""Byte-level BPE from scratch: merges, lossless round trips, the Rust encoder, and Hugging Face's trainer."""

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models as tok_models, pre_tokenizers, trainers

from helpers import data
from helpers.bpe import BPE, byte_spelling, merge, split_chunks, to_hf_tokenizer, train_bpe, train_bpe_naive


@pytest.fixture(scope="module")
def reviews() -> list[str]:
    """All 450 of the course's own reviews, train and test."""
    sample = data.load_sample()
    return list(sample["train"]["text"]) + list(sample["test"]["text"])


@pytest.fixture(scope="module")
def bpe(reviews) -> BPE:
    return train_bpe(reviews, 300)


@given(st.text())
def test_chunks_concatenate_back_to_the_text(text):
    assert "".join(split_chunks(text)) == text


def test_merge_replaces_pairs_left_to_right_without_overlap():
    assert merge([1, 1, 1, 2, 1, 1], (1, 1), 9) == [9, 1, 2, 9]


@settings(deadline=None)
@given(st.text())
def test_bpe_round_trip_is_lossless(bpe, text):
    assert bpe.decode(bpe.encode(text)) == text


def test_merge_order_by_hand():
    """aaabdaaabac: 'aa' occurs 4 times; 'ab' and 'Za' then tie at 2, the smaller pair wins; then Z + Y."""
    a, b, c, d = b"abcd"
    tiny = train_bpe(["aaabdaaabac"], 3)
    assert list(tiny.merges.items()) == [((a, a), 256), ((a, b), 257), ((256, 257), 258)]
    assert tiny.encode("aaabdaaabac") == [258, d, 258, a, c]
    assert tiny.vocab[258] == b"aaab"
    assert tiny.tokens("aaab") == ["aaab"]


def test_training_stops_when_no_pair_is_left():
    # ab, then " ab"
    assert len(train_bpe(["ab ab"], 50).merges) == len(train_bpe_naive(["ab ab"], 50).merges) == 2


def test_incremental_trainer_matches_naive_on_reviews(reviews):
    texts = reviews[:40]
    assert train_bpe(texts, 120).merges == train_bpe_naive(texts, 120).merges


@settings(deadline=None)
@given(st.lists(st.text(alphabet="ab c.", max_size=16), min_size=1, max_size=8), st.integers(1, 30))
def test_incremental_trainer_matches_naive_on_tie_heavy_corpora(texts, num_merges):
    assert train_bpe(texts, num_merges).merges == train_bpe_naive(texts, num_merges).merges


def test_bpe_matches_hugging_face_bpe_with_the_same_merges(bpe, reviews):
    rust = to_hf_tokenizer(bpe)
    for review in reviews:
        encoding = rust.encode(review)
        assert encoding.tokens == bpe.tokens(review)
        assert rust.decode(encoding.ids) == bpe.decode(bpe.encode(review)) == review


# --- our trainer against Hugging Face's BpeTrainer ---------------------------------------------------

Spelled = tuple[str, str]


def _hf_merges(texts: list[str], num_merges: int) -> tuple[list[Spelled], dict[str, int]]:
    """tokenizers' BpeTrainer on the same chunks (GPT-2's byte-level pre-tokenizer, all 256 bytes): its merges
    and its vocabulary (token -> id; the bytes are numbered in the order of their printable spelling)."""
    tokenizer = Tokenizer(tok_models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=256 + num_merges, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    return [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges], tokenizer.get_vocab()


def _replay(texts: list[str], merges: list[Spelled]) -> list[set[Spelled]]:
    """Apply `merges` one by one to the corpus' chunks; before each, the pairs with the highest count."""
    counts = Counter(chunk for text in texts for chunk in split_chunks(text))
    words = {chunk: [byte_spelling(bytes([b])) for b in chunk.encode()] for chunk in counts}
    most_frequent = []
    for pair in merges:
        pairs: Counter[Spelled] = Counter()
        for chunk, word in words.items():
            for p in zip(word, word[1:]):
                pairs[p] += counts[chunk]
        top = max(pairs.values())
        most_frequent.append({p for p, n in pairs.items() if n == top})
        words = {chunk: merge(word, pair, pair[0] + pair[1]) for chunk, word in words.items()}
    return most_frequent


def test_both_trainers_merge_the_most_frequent_pair_and_differ_only_in_ties(reviews):
    """Ours and Hugging Face's: at every step the most frequent pair, a tie to the smaller pair of ids.
    Only the ids differ: ours number the bytes by value (a space is 32, before "a"), Hugging Face's by
    their printable spelling (a space is "Ġ", U+0120, after "z"). So the two agree merge for merge until
    a tie they break differently."""
    texts, num_merges = reviews[:60], 150
    ours_bpe = train_bpe(texts, num_merges)
    ours = [(byte_spelling(ours_bpe.vocab[a]), byte_spelling(ours_bpe.vocab[b])) for a, b in ours_bpe.merges]
    our_id = {byte_spelling(token): i for i, token in sorted(ours_bpe.vocab.items(), reverse=True)}
    theirs, their_id = _hf_merges(texts, num_merges)
    for merges, ids in [(ours, our_id), (theirs, their_id)]:
        for pair, tied in zip(merges, _replay(texts, merges)):
            assert pair == min(tied, key=lambda p: (ids[p[0]], ids[p[1]]))
    # The same merges up to the first tie they break differently; after it, the same merges in another order.
    first = next(k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b)
    assert {ours[first], theirs[first]} <= _replay(texts, ours[:first + 1])[first]
    assert len(set(ours) & set(theirs)) >= 0.95 * num_merges


def test_training_rejects_a_bare_string_and_bad_sizes():
    """train_bpe("text", 10) used to learn nothing: it trained on the four one-letter texts t, e, x, t."""
    with pytest.raises(TypeError, match="wrap it in a list"):
        train_bpe("text", 10)
    with pytest.raises(TypeError, match="wrap it in a list"):
        train_bpe_naive("text", 10)
    with pytest.raises(ValueError, match="empty"):
        train_bpe([], 10)
    for bad in (0, -5, 2.0):
        with pytest.raises((TypeError, ValueError), match="positive int"):
            train_bpe(["text"], bad)

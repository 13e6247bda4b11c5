"""The from-scratch embeddings against the real libraries: fastText's hashing and subwords, gensim's
subsampling, noise and probes, and the quality of gensim's skip-gram and fastText on a corpus with an obvious
structure."""

import fasttext
import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors, Word2Vec
from test_embeddings import TOPICS, topic_accuracy, topic_pairs, topic_reviews

from helpers import embeddings as E
from helpers.tokenization import Vocab

# Accented Latin, German ß, CJK, emoji (a 4-byte character, and one with a skin-tone modifier), plain ASCII.
WORDS = ["café", "naïve", "straße", "東京", "映画館", "😀", "👍🏽", "movie"]
UNSEEN = ["cafés", "naïveté", "東京都", "😀😀", "moviee"]
BUCKETS = 5_000


@pytest.fixture(scope="module")
def fasttext_model(tmp_path_factory):
    """A tiny fastText skip-gram trained on the words above; only its dictionary and input matrix matter."""
    path = tmp_path_factory.mktemp("fasttext") / "corpus.txt"
    path.write_text(" ".join(WORDS * 5) + "\n", encoding="utf-8")
    return fasttext.train_unsupervised(str(path), model="skipgram", minCount=1, dim=8, epoch=1,
                                       bucket=BUCKETS, minn=3, maxn=6, thread=1, verbose=0)


@pytest.mark.parametrize("word", WORDS + UNSEEN)
def test_ngrams_and_buckets_equal_fasttexts(fasttext_model, word):
    subwords, ids = fasttext_model.get_subwords(word)
    n_words = len(fasttext_model.get_words())
    if word in WORDS:  # a known word comes first, as its own row
        assert subwords[0] == word and ids[0] == fasttext_model.get_words().index(word)
        subwords, ids = subwords[1:], ids[1:]
    assert E.char_ngrams(word) == list(subwords)
    assert E.ngram_buckets(word, BUCKETS) == [int(i) - n_words for i in ids]


def test_fnv1a_sign_extends_bytes_as_fasttext_does(fasttext_model):
    # café's n-grams: those with é hash differently from the standard FNV-1a of the same bytes.
    def standard(text: str) -> int:
        h = E.FNV_OFFSET
        for byte in text.encode("utf-8"):
            h = ((h ^ byte) * E.FNV_PRIME) & 0xFFFFFFFF
        return h

    grams = E.char_ngrams("café")
    moved = [g for g in grams if standard(g) % BUCKETS != E.fnv1a(g) % BUCKETS]
    assert moved == [g for g in grams if "é" in g] and (len(moved), len(grams)) == (7, 10)
    assert all(standard(g) == E.fnv1a(g) for g in grams if g.isascii())


def test_subword_vectors_equal_fasttexts_given_its_weights(fasttext_model):
    # Our vocabulary puts <pad> and <unk> first; fastText's rows follow in its order, then its buckets.
    vocab = Vocab(fasttext_model.get_words())
    model = E.SubwordSkipGram(vocab, dim=8, n_buckets=BUCKETS)
    with torch.no_grad():
        rows = torch.from_numpy(fasttext_model.get_input_matrix())  # (words + buckets, 8)
        model.center.weight.copy_(torch.cat([torch.zeros(2, 8), rows]))
    words = WORDS + UNSEEN
    expected = torch.from_numpy(np.stack([fasttext_model.get_word_vector(w) for w in words]))
    torch.testing.assert_close(model.embed(words), expected)


def test_subsampling_and_noise_equal_gensims():
    reviews = [["the"] * 50 + ["film"] * 20 + ["good"] * 5 + ["rare"]] * 4
    corpus = E.build_corpus([" ".join(r) for r in reviews], max_size=None, min_freq=1)
    model = Word2Vec(vector_size=4, sample=1e-2, min_count=1, negative=5, ns_exponent=0.75)
    model.build_vocab(corpus.sentences())
    words = corpus.vocab.itos[2:]
    gensim_keep = [model.wv.get_vecattr(w, "sample_int") / (2**32 - 1) for w in words]
    ours = E.keep_probabilities(corpus.counts, threshold=1e-2)[2:]
    np.testing.assert_allclose(ours.numpy(), gensim_keep, rtol=1e-6)
    assert ours[0] < 0.4 and ours[-1] == 1.0  # "the" mostly goes, "rare" always stays
    # gensim's cumulative table, in our vocabulary's order, is the cumulative noise distribution.
    cumulative = model.cum_table / model.cum_table[-1]
    gensim_noise = np.diff(cumulative, prepend=0)[[model.wv.key_to_index[w] for w in words]]
    np.testing.assert_allclose(E.noise_distribution(corpus.counts)[2:].numpy(), gensim_noise, atol=1e-6)


def keyed_vectors(vectors: torch.Tensor, vocab: Vocab) -> KeyedVectors:
    """Our vectors (without <pad> and <unk>) as gensim KeyedVectors."""
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(vocab.itos[2:], vectors[2:].numpy())
    return kv


def test_probes_equal_gensims_evaluations(tmp_path):
    generator = torch.Generator().manual_seed(0)
    vocab = Vocab(["man", "woman", "king", "queen", "boy", "girl", "actor", "actress", "film", "movie"])
    vectors = torch.randn(len(vocab), 5, generator=generator)
    kv = keyed_vectors(vectors, vocab)
    questions = tmp_path / "questions.txt"
    questions.write_text(": gender\nman woman king queen\nman woman boy girl\nking queen actor actress\n"
                         "boy girl man woman\nactor actress king zebra\n: other\nfilm movie man woman\n")
    every = [q for qs in E.read_analogies(questions).values() for q in qs]
    gensim_accuracy, sections = kv.evaluate_word_analogies(str(questions))
    ours, asked = E.analogy_accuracy(vectors, vocab, every)
    assert ours == pytest.approx(gensim_accuracy)
    assert asked == len(sections[-1]["correct"] + sections[-1]["incorrect"])
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# word pairs\nman\twoman\t8.3\nking\tqueen\t8.6\nfilm\tmovie\t9.0\nboy\tactor\t3.1\n"
                     "girl\tfilm\t1.2\nzebra\tman\t2.0\n")
    _, spearman, oov_percent = kv.evaluate_word_pairs(str(pairs))
    correlation, n_pairs = E.word_similarity(vectors, vocab, E.read_word_pairs(pairs))
    assert correlation == pytest.approx(spearman.statistic)
    assert n_pairs == 5 and oov_percent == pytest.approx(100 / 6)


@pytest.fixture(scope="module")
def topic_corpus():
    return E.build_corpus(topic_reviews(1500), max_size=None, min_freq=1)


SETTINGS = dict(dim=16, epochs=5, window=3, negatives=5, threshold=1e-2)


@pytest.mark.slow
def test_skipgram_learns_as_well_as_gensims(topic_corpus):
    torch.manual_seed(0)
    ours = E.SkipGram(len(topic_corpus.vocab), SETTINGS["dim"])
    E.train_sgns(ours, topic_corpus, SETTINGS["epochs"], SETTINGS["window"], SETTINGS["negatives"],
                 batch_size=256, lr=0.02, threshold=SETTINGS["threshold"], progress=False)
    reference = E.aligned(E.gensim_skipgram(topic_corpus, **SETTINGS).wv, topic_corpus.vocab)
    compare(ours.vectors(), reference, topic_corpus.vocab)


@pytest.mark.slow
def test_subword_skipgram_learns_as_well_as_gensims_fasttext(topic_corpus):
    torch.manual_seed(0)
    ours = E.SubwordSkipGram(topic_corpus.vocab, SETTINGS["dim"], n_buckets=2_000)
    E.train_sgns(ours, topic_corpus, SETTINGS["epochs"], SETTINGS["window"], SETTINGS["negatives"],
                 batch_size=256, lr=0.02, threshold=SETTINGS["threshold"], progress=False)
    reference = E.aligned(E.gensim_skipgram(topic_corpus, **SETTINGS, n_buckets=2_000).wv, topic_corpus.vocab)
    compare(ours.vectors(), reference, topic_corpus.vocab)


def compare(ours: torch.Tensor, reference: torch.Tensor, vocab: Vocab, tolerance: float = 0.1) -> None:
    """Both models learned the topics, ours within `tolerance` of gensim on every probe."""
    topic_words = [w for ws in TOPICS.values() for w in ws]
    for probe in (topic_accuracy, lambda v, vocab: E.word_similarity(v, vocab, topic_pairs())[0]):
        assert probe(reference, vocab) > 0.6, "gensim did not learn the topics: the test proves nothing"
        assert probe(ours, vocab) >= probe(reference, vocab) - tolerance
    assert E.neighbour_overlap(ours, reference, vocab, topic_words, k=5) > 0.6


def test_aligned_puts_gensim_rows_in_our_order():
    vocab = Vocab(["film", "movie", "plot"])
    kv = KeyedVectors(2)
    kv.add_vectors(["plot", "film"], np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32))
    expected = torch.tensor([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0], [0.0, 0.0], [1.0, 2.0]])
    torch.testing.assert_close(E.aligned(kv, vocab), expected)  # <pad>, <unk> and "movie" have no row


def test_gensim_skipgram_refuses_bad_settings(topic_corpus):
    with pytest.raises(ValueError, match="positive int"):
        E.gensim_skipgram(topic_corpus, dim=0, epochs=1)
    with pytest.raises(ValueError, match="positive int"):
        E.gensim_skipgram(topic_corpus, dim=8, epochs=1, n_buckets=0)

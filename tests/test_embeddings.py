"""Tests for helpers.embeddings: lookups, skip-gram pieces, GloVe, fastText subwords, probes, bad input."""

import doctest
import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import sparse
from torch import nn

from helpers import embeddings as E
from helpers.tokenization import Vocab

TOPICS = {
    "film": ["film", "movie", "plot", "cast", "scene", "script"],
    "food": ["pizza", "pasta", "salad", "soup", "bread", "cheese"],
    "sport": ["goal", "match", "team", "coach", "score", "league"],
    "weather": ["rain", "snow", "wind", "storm", "cloud", "sun"],
}
FILLER = ["the", "a", "and", "of", "is", "it"]


def topic_reviews(n: int, length: int = 12, seed: int = 0) -> list[str]:
    """Reviews that each talk about one topic: 70% of words from it, the rest filler shared by all."""
    rng = random.Random(seed)
    reviews = []
    for _ in range(n):
        words = rng.choice(list(TOPICS.values()))
        reviews.append(" ".join(rng.choice(words) if rng.random() < 0.7 else rng.choice(FILLER)
                                for _ in range(length)))
    return reviews


def topic_accuracy(vectors: torch.Tensor, vocab: Vocab) -> float:
    """Share of topic words whose nearest neighbour is a word of the same topic."""
    topic_of = {w: t for t, ws in TOPICS.items() for w in ws}
    nearest_topics = [topic_of.get(E.nearest(vectors, vocab, w, 1)[0][0]) for w in topic_of]
    return float(np.mean([t == topic_of[w] for t, w in zip(nearest_topics, topic_of)]))


def topic_pairs() -> list[tuple[str, str, float]]:
    """Every two topic words, scored 1 when they share a topic: a word-similarity set for the toy corpus."""
    words = [(w, t) for t, ws in TOPICS.items() for w in ws]
    return [(a, b, float(s == t)) for i, (a, s) in enumerate(words) for b, t in words[i + 1:]]


def toy_corpus(reviews: list[list[str]]) -> E.Corpus:
    """A corpus from pre-tokenized reviews (every word kept)."""
    return E.build_corpus([" ".join(words) for words in reviews], max_size=None, min_freq=1)


def test_docstring_examples_hold():
    assert doctest.testmod(E, raise_on_error=False).failed == 0


def test_embedding_lookup_equals_one_hot_matmul():
    torch.manual_seed(0)
    table = nn.Embedding(11, 4)
    ids = torch.tensor([[3, 0, 10], [3, 7, 7]])
    torch.testing.assert_close(E.one_hot_embed(ids, table.weight), table(ids))


def test_corpus_drops_rare_words_and_keeps_reviews_apart():
    corpus = E.build_corpus(["Good film, good cast.", "A bad film!", "good"], max_size=None, min_freq=2)
    assert corpus.vocab.itos[2:] == ["good", "film"]
    assert corpus.sentences() == [["good", "film", "good"], ["film"], ["good"]]
    assert corpus.docs.tolist() == [0, 0, 0, 1, 2]
    assert corpus.counts.tolist() == [0, 0, 3, 2]
    capped = E.build_corpus(["a a a b b c"], max_size=2, min_freq=1)
    assert capped.vocab.itos[2:] == ["a", "b"] and len(capped) == 5


def test_sgns_loss_matches_hand_computation():
    center = torch.tensor([[1.0, 0.0]])
    context = torch.tensor([[1.0, 1.0]])  # u_o·v_c = 1
    noise = torch.tensor([[[0.0, 2.0], [-1.0, 3.0]]])  # u_k·v_c = 0 and -1
    sigmoid = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    expected = -(math.log(sigmoid(1)) + math.log(sigmoid(0)) + math.log(sigmoid(1)))
    assert E.sgns_loss(center, context, noise).item() == pytest.approx(expected, rel=1e-6)


def test_sgns_loss_equals_binary_cross_entropy():
    torch.manual_seed(0)
    center, context, noise = torch.randn(8, 5), torch.randn(8, 5), torch.randn(8, 3, 5)
    positive = (center * context).sum(-1, keepdim=True)  # (B, 1)
    logits = torch.cat([positive, (noise @ center.unsqueeze(-1)).squeeze(-1)], 1)  # (B, 1 + K)
    labels = torch.zeros_like(logits)
    labels[:, 0] = 1
    bce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none").sum(1).mean()
    torch.testing.assert_close(E.sgns_loss(center, context, noise), bce)


def test_noise_table_follows_unigram_to_the_three_quarters():
    counts = torch.tensor([0, 0, 1000, 300, 50, 10, 1])
    table = E.noise_table(counts, size=100_000)
    draws = table[torch.randint(len(table), (200_000,), generator=torch.Generator().manual_seed(0))]
    observed = torch.bincount(draws, minlength=len(counts)).double() / len(draws)
    expected = counts.double() ** 0.75 / (counts.double() ** 0.75).sum()
    torch.testing.assert_close(observed, expected, atol=4e-3, rtol=0)
    assert observed[6] > 2 * counts[6] / counts.sum()  # the power gives rare words more than their share


def test_subsampling_keeps_rare_words_and_thins_frequent_ones():
    counts = torch.tensor([0, 0, 90_000, 5, 5])
    keep = E.keep_probabilities(counts, threshold=1e-3)
    assert keep[3] == keep[4] == 1.0
    f = 90_000 / 90_010
    assert keep[2] == pytest.approx(math.sqrt(1e-3 / f) + 1e-3 / f)
    ids = torch.tensor([2] * 90_000 + [3] * 5 + [4] * 5)
    kept, docs = E.subsample(ids, torch.zeros_like(ids), keep, torch.Generator().manual_seed(0))
    assert (kept == 3).sum() == 5 and (kept == 4).sum() == 5
    assert (kept == 2).sum().item() == pytest.approx(90_000 * keep[2].item(), rel=0.1)
    assert len(docs) == len(kept)
    assert torch.equal(E.keep_probabilities(counts, threshold=0), torch.ones(5, dtype=torch.double))


def test_skipgram_pairs_stay_inside_the_window_and_the_review():
    corpus = toy_corpus([["a", "b", "c", "d"], ["e", "f"]])
    vocab = corpus.vocab
    centers, contexts = E.skipgram_pairs(corpus.ids, corpus.docs, window=1)
    pairs = {(vocab.itos[c], vocab.itos[o]) for c, o in zip(centers.tolist(), contexts.tolist())}
    # With window 1 every reach is 1: exactly the neighbours, both ways, never across reviews.
    assert pairs == {("a", "b"), ("b", "a"), ("b", "c"), ("c", "b"), ("c", "d"), ("d", "c"), ("e", "f"),
                     ("f", "e")}
    generator = torch.Generator().manual_seed(1)
    centers, contexts = E.skipgram_pairs(corpus.ids, corpus.docs, window=3, generator=generator)
    position = {w: i for i, w in enumerate("abcdef")}
    for c, o in zip(centers.tolist(), contexts.tolist()):
        c, o = vocab.itos[c], vocab.itos[o]
        assert 1 <= abs(position[c] - position[o]) <= 3 and (c in "abcd") == (o in "abcd")


def test_dynamic_window_pairs_near_words_more_often():
    ids = torch.arange(2, 10_002)
    centers, contexts = E.skipgram_pairs(ids, torch.zeros_like(ids), window=4,
                                         generator=torch.Generator().manual_seed(0))
    distance = torch.bincount((centers - contexts).abs(), minlength=5)[1:].double()
    # A word d away is used when the center's reach (uniform on 1..4) is at least d: (5 - d) / 4 of the time.
    expected = torch.tensor([1.0, 0.75, 0.5, 0.25], dtype=torch.double)
    torch.testing.assert_close(distance / distance[0], expected, atol=0.03, rtol=0)


@pytest.fixture(scope="module")
def topic_corpus() -> E.Corpus:
    return E.build_corpus(topic_reviews(1500), max_size=None, min_freq=1)


@pytest.fixture(scope="module")
def topic_skipgram(topic_corpus) -> tuple[E.SkipGram, list[float]]:
    torch.manual_seed(0)
    model = E.SkipGram(len(topic_corpus.vocab), 16)
    losses = E.train_sgns(model, topic_corpus, epochs=3, window=3, negatives=5, batch_size=256, lr=0.02,
                          threshold=1e-2, progress=False)
    return model, losses


@pytest.mark.slow
def test_skipgram_learns_topics(topic_corpus, topic_skipgram):
    model, losses = topic_skipgram
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.5
    assert topic_accuracy(model.vectors(), topic_corpus.vocab) == 1.0


@pytest.mark.slow
def test_training_brings_words_with_shared_contexts_together():
    # "good" and "great" always appear between the same words; "cat" lives elsewhere.
    generator = torch.Generator().manual_seed(0)
    films, pets = ["film", "plot", "cast", "story"], ["sat", "mat", "purred", "slept"]
    reviews = []
    for _ in range(400):
        left, right = (films[i] for i in torch.randint(4, (2,), generator=generator))
        reviews.append([left, ["good", "great"][int(torch.randint(2, (1,), generator=generator))], right])
        left, right = (pets[i] for i in torch.randint(4, (2,), generator=generator))
        reviews.append([left, "cat", right])
    corpus = toy_corpus(reviews)
    torch.manual_seed(0)
    model = E.SkipGram(len(corpus.vocab), 16)
    E.train_sgns(model, corpus, epochs=3, window=1, negatives=3, batch_size=64, lr=0.02, threshold=0,
                 progress=False)
    vectors, stoi = F.normalize(model.vectors(), dim=-1), corpus.vocab.stoi
    cosine = lambda a, b: (vectors[stoi[a]] @ vectors[stoi[b]]).item()  # noqa: E731
    assert cosine("good", "great") > cosine("good", "cat") + 0.3


# ---------------------------------------------------------------- GloVe


def test_cooccurrence_matrix_weights_by_inverse_distance():
    corpus = toy_corpus([["a", "b", "c"], ["a", "c"]])
    X = E.cooccurrence_matrix(corpus, window=2)
    i = corpus.vocab.stoi
    assert X[i["a"], i["b"]] == X[i["b"], i["a"]] == 1.0
    # 2 apart in the first review, neighbours in the second
    assert X[i["a"], i["c"]] == pytest.approx(0.5 + 1.0)
    assert X[i["b"], i["c"]] == 1.0 and X[i["a"], i["a"]] == 0


def test_glove_weighting_function():
    x = torch.tensor([0.0, 1.0, 50.0, 100.0, 1000.0])
    torch.testing.assert_close(E.glove_weight(x), torch.tensor([0.0, 0.01 ** 0.75, 0.5 ** 0.75, 1.0, 1.0]))
    assert E.glove_weight(torch.tensor(5.0), x_max=10, alpha=1.0) == pytest.approx(0.5)


def test_glove_loss_matches_hand_computation():
    w, w_context = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, 0.5]])  # w·w̃ = 1.5
    b, b_context, x = torch.tensor([0.25]), torch.tensor([-0.5]), torch.tensor([math.e])
    expected = (math.e / 100) ** 0.75 * (1.5 + 0.25 - 0.5 - 1) ** 2
    assert E.glove_loss(w, w_context, b, b_context, x).item() == pytest.approx(expected, rel=1e-6)


def test_glove_model_computes_glove_loss_of_its_rows_and_its_vectors_are_w_plus_w_tilde():
    torch.manual_seed(0)
    model = E.GloVe(6, 3, x_max=10.0)  # the rows not set here stay random, so a mixed-up table shows
    with torch.no_grad():
        model.word.weight[[1, 4]] = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        model.context.weight[[1, 2]] = torch.tensor([[0.0, 3.0, 0.0], [2.0, 0.0, 0.0]])
        model.word_bias.weight[[1, 4], 0] = torch.tensor([0.5, 1.0])
        model.context_bias.weight[2, 0] = -0.5
    # cell (1, 2): 1 * 2 + 0.5 - 0.5 = 2 = log e^2, no error; cell (4, 2): 0 + 1 - 0.5, X = 20 > x_max: f = 1
    loss = model(torch.tensor([1, 4]), torch.tensor([2, 2]), torch.tensor([math.e ** 2, 20.0]))
    assert loss.item() == pytest.approx((0.5 - math.log(20)) ** 2 / 2, rel=1e-5)
    torch.testing.assert_close(model.vectors()[1], torch.tensor([1.0, 3.0, 0.0]))  # w_1 + w̃_1
    assert not model.vectors().requires_grad


@pytest.mark.slow
def test_glove_fits_a_matrix_it_can_represent_exactly():
    # log X = A B^T + a + b with rank 3: a GloVe of dimension 3 can drive its loss to zero.
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(20, 3, generator=generator), torch.randn(20, 3, generator=generator)
    log_x = a @ b.T + torch.randn(20, 1, generator=generator) + torch.randn(1, 20, generator=generator) + 2
    X = sparse.csr_matrix(log_x.exp().double().numpy())
    torch.manual_seed(0)
    model = E.GloVe(20, 3, x_max=1.0)
    losses = E.train_glove(model, X, epochs=500, batch_size=400, lr=0.5, progress=False)
    assert losses[-1] < 1e-6 * losses[0]
    fitted = model.word.weight @ model.context.weight.T + model.word_bias.weight + model.context_bias.weight.T
    torch.testing.assert_close(fitted.detach(), log_x, atol=1e-3, rtol=0)


@pytest.mark.slow
def test_glove_learns_topics_as_well_as_skipgram(topic_corpus, topic_skipgram):
    torch.manual_seed(0)
    glove = E.GloVe(len(topic_corpus.vocab), 16, x_max=10.0)
    losses = E.train_glove(glove, E.cooccurrence_matrix(topic_corpus, window=3), epochs=300, batch_size=1024,
                           lr=0.5, progress=False)
    assert losses[-1] < 0.01 * losses[0]
    assert losses[-10] - losses[-1] < 0.05 * losses[-1]  # converged: the last 10 epochs gain under 5%
    assert topic_accuracy(glove.vectors(), topic_corpus.vocab) == 1.0
    correlation, n_pairs = E.word_similarity(glove.vectors(), topic_corpus.vocab, topic_pairs())
    vectors = topic_skipgram[0].vectors()
    skipgram_correlation, _ = E.word_similarity(vectors, topic_corpus.vocab, topic_pairs())
    assert n_pairs == len(topic_pairs()) and correlation > skipgram_correlation - 0.1


# ---------------------------------------------------------------- fastText subwords


def test_char_ngrams_of_where_match_the_fasttext_paper():
    assert E.char_ngrams("where", 3, 3) == ["<wh", "whe", "her", "ere", "re>"]
    grams = E.char_ngrams("where")  # n from 3 to 6 of the 7 characters of <where>
    assert len(grams) == 5 + 4 + 3 + 2 and "<where" in grams and "<where>" not in grams
    assert E.char_ngrams("a", 1, 2) == ["<a", "a", "a>"]  # fastText never makes the lone < or > a subword


def test_char_ngrams_count_characters_not_bytes():
    assert E.char_ngrams("é", 3, 3) == ["<é>"]
    assert E.char_ngrams("東京", 2, 2) == ["<東", "東京", "京>"]


def test_unseen_word_is_the_mean_of_its_ngram_rows():
    vocab = Vocab(["movie", "good"])
    torch.manual_seed(0)
    model = E.SubwordSkipGram(vocab, dim=6, n_buckets=50)
    rows = [len(vocab) + E.fnv1a(gram) % 50 for gram in E.char_ngrams("moviee")]
    torch.testing.assert_close(model.embed(["moviee"])[0], model.center.weight[rows].mean(0).detach())
    # A known word adds its own row to its n-grams'.
    own = model.center.weight[[vocab.stoi["movie"]]]
    grams = model.center.weight[[len(vocab) + E.fnv1a(g) % 50 for g in E.char_ngrams("movie")]]
    torch.testing.assert_close(model.embed(["movie"])[0], torch.cat([own, grams]).mean(0).detach())


def test_subword_batches_gather_the_same_vectors_as_embed():
    vocab = Vocab(["a", "the", "movie", "unbelievable"])
    model = E.SubwordSkipGram(vocab, dim=4, n_buckets=30)
    centers = torch.tensor([5, 2, 4, 5, 3])
    torch.testing.assert_close(model.embed_centers(centers).detach(),
                               model.embed([vocab.itos[i] for i in centers]))


# ---------------------------------------------------------------- using and probing the vectors


def hand_made() -> tuple[torch.Tensor, Vocab]:
    vocab = Vocab(["man", "woman", "actor", "actress", "plot"])
    vectors = torch.zeros(len(vocab), 3)
    for word, v in {"man": [1, 0, 0], "woman": [1, 1, 0], "actor": [1, 0, 1], "actress": [1, 1, 1],
                    "plot": [0, 0, -1]}.items():
        vectors[vocab.stoi[word]] = torch.tensor(v, dtype=torch.float)
    vectors[:2] = 0.01  # <pad> and <unk> must never be answers
    return vectors, vocab


def test_nearest_and_analogy_on_hand_made_vectors():
    vectors, vocab = hand_made()
    assert E.analogy(vectors, vocab, "man", "woman", "actor", k=1)[0][0] == "actress"
    neighbours = [w for w, _ in E.nearest(vectors, vocab, "actor", k=4)]
    assert neighbours[0] == "actress" and neighbours[-1] == "plot" and "actor" not in neighbours


def test_analogy_accuracy_agrees_with_one_analogy_at_a_time():
    vectors, vocab = hand_made()
    questions = [("man", "woman", "actor", "actress"), ("woman", "man", "actress", "actor"),
                 ("man", "actor", "woman", "plot"), ("man", "woman", "actor", "unknown")]
    answers = [E.analogy(vectors, vocab, a, b, c, k=1)[0][0] == d for a, b, c, d in questions[:3]]
    assert E.analogy_accuracy(vectors, vocab, questions, batch_size=2) == (sum(answers) / 3, 3)


def test_word_similarity_is_a_rank_correlation_over_known_pairs():
    vectors, vocab = hand_made()
    pairs = [("man", "woman", 8.0), ("actor", "actress", 9.0), ("man", "plot", 1.0), ("man", "zebra", 5.0)]
    assert E.word_similarity(vectors, vocab, pairs) == (pytest.approx(1.0), 3)
    reversed_scores = [(a, b, -s) for a, b, s in pairs]
    assert E.word_similarity(vectors, vocab, reversed_scores)[0] == pytest.approx(-1.0)


def test_neighbour_overlap():
    vectors, vocab = hand_made()
    assert E.neighbour_overlap(vectors, vectors, vocab, ["man", "plot"], k=2) == 1.0
    flipped = vectors.clone()
    flipped[2:] *= -1  # every cosine keeps its value: the same neighbours
    assert E.neighbour_overlap(vectors, flipped, vocab, ["man"], k=3) == 1.0
    other = vectors.clone()
    other[vocab.stoi["plot"]] = torch.tensor([1.0, 1.0, 0.1])  # now plot, not actress, is nearest to woman
    assert E.nearest(vectors, vocab, "woman", 1)[0][0] == "actress"
    assert E.neighbour_overlap(vectors, other, vocab, ["woman"], k=1) == 0.0
    assert E.neighbour_overlap(vectors, other, vocab, ["woman", "actor"], k=1) == 0.5


def test_read_probe_files(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# a comment\nLove\tsex\t6.77\ntiger\tcat\t7.35\n", encoding="utf-8")
    assert E.read_word_pairs(pairs) == [("love", "sex", 6.77), ("tiger", "cat", 7.35)]
    questions = tmp_path / "questions.txt"
    questions.write_text(": capitals\nAthens Greece Baghdad Iraq\n: gram1\nbad worse good better\n",
                         encoding="utf-8")
    assert E.read_analogies(questions) == {"capitals": [("athens", "greece", "baghdad", "iraq")],
                                           "gram1": [("bad", "worse", "good", "better")]}


# ---------------------------------------------------------------- bad input


def test_a_string_where_a_list_belongs_is_refused():
    vectors, vocab = hand_made()
    model = E.SubwordSkipGram(vocab, dim=4, n_buckets=10)
    calls = [lambda: E.build_corpus("a great film", max_size=None), lambda: model.embed("movie"),
             lambda: E.nearest(vectors, vocab, "man", exclude="woman"),
             lambda: E.word_in_context(None, None, "she sat on the bank", "bank"),
             lambda: E.neighbour_overlap(vectors, vectors, vocab, "man")]
    for call in calls:
        with pytest.raises(TypeError, match="wrap it in a list"):
            call()


def test_empty_batches_are_refused():
    vectors, vocab = hand_made()
    for call in [lambda: E.build_corpus([], max_size=None), lambda: E.word_similarity(vectors, vocab, []),
                 lambda: E.analogy_accuracy(vectors, vocab, []),
                 lambda: E.SubwordSkipGram(vocab, 4, 10).embed([])]:
        with pytest.raises(ValueError, match="empty"):
            call()
    with pytest.raises(ValueError, match="No word occurs 5 times"):
        E.build_corpus(["one review"], max_size=None)
    accuracy, asked = E.analogy_accuracy(vectors, vocab, [("x", "y", "z", "w")])  # none known: no score
    assert math.isnan(accuracy) and asked == 0
    correlation, pairs = E.word_similarity(vectors, vocab, [("man", "woman", 1.0), ("x", "y", 2.0)])
    assert math.isnan(correlation) and pairs == 1


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_sizes_must_be_positive_ints(bad):
    corpus = toy_corpus([["a", "b", "c"]])
    vectors, vocab = hand_made()
    error = ValueError if isinstance(bad, int) and not isinstance(bad, bool) else TypeError
    calls = [lambda: E.build_corpus(["a b"], max_size=bad),
             lambda: E.build_corpus(["a b"], None, min_freq=bad),
             lambda: E.SkipGram(bad, 4), lambda: E.SkipGram(10, bad), lambda: E.GloVe(10, bad),
             lambda: E.SubwordSkipGram(vocab, 4, n_buckets=bad), lambda: E.ngram_buckets("word", bad),
             lambda: E.train_sgns(E.SkipGram(5, 2), corpus, epochs=bad),
             lambda: E.train_sgns(E.SkipGram(5, 2), corpus, epochs=1, window=bad),
             lambda: E.train_sgns(E.SkipGram(5, 2), corpus, epochs=1, batch_size=bad),
             lambda: E.train_glove(E.GloVe(5, 2), E.cooccurrence_matrix(corpus), epochs=bad),
             lambda: E.cooccurrence_matrix(corpus, window=bad),
             lambda: E.nearest(vectors, vocab, "man", k=bad)]
    for call in calls:
        with pytest.raises(error, match="positive int"):
            call()


def test_unknown_words_name_themselves():
    vectors, vocab = hand_made()
    with pytest.raises(KeyError, match="'zebra' is not in the vocabulary"):
        E.nearest(vectors, vocab, "zebra")
    with pytest.raises(KeyError, match="'zebra'"):
        E.analogy(vectors, vocab, "man", "zebra", "actor")


def test_word_in_context_static_rows_repeat_but_hidden_states_differ():
    from helpers.models import load_pretrained

    tokenizer, model = load_pretrained("sentence-transformers/all-MiniLM-L6-v2", verbose=False)
    sentences = ["she sat on the river bank", "he deposited cash at the bank"]
    static, contextual = E.word_in_context(tokenizer, model.eval(), sentences, "bank")
    torch.testing.assert_close(static[0], static[1])
    assert not torch.allclose(contextual[0], contextual[1], atol=1e-3)
    # Padding does not change a sentence's states: the batch equals each sentence on its own.
    _, alone = E.word_in_context(tokenizer, model, sentences[1:], "bank")
    torch.testing.assert_close(contextual[1], alone[0], atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError):
        E.word_in_context(tokenizer, model, ["no such word here"], "bank")

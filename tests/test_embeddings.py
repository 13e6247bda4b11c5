"""Tests for helpers.embeddings: lookups, skip-gram pieces, GloVe, fastText subwords, neighbours, context."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import embeddings as E
from helpers.tokenization import Vocab


def toy_corpus(reviews: list[list[str]]) -> E.Corpus:
    """A corpus from pre-tokenized reviews (every word kept)."""
    return E.build_corpus([" ".join(words) for words in reviews], max_size=None, min_freq=1)


def test_embedding_lookup_equals_one_hot_matmul():
    torch.manual_seed(0)
    table = nn.Embedding(11, 4)
    ids = torch.tensor([[3, 0, 10], [3, 7, 7]])
    torch.testing.assert_close(E.one_hot_embed(ids, table.weight), table(ids))


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
    logits = torch.cat([(center * context).sum(-1, keepdim=True), (noise @ center.unsqueeze(-1)).squeeze(-1)], 1)
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
    assert keep[2] == pytest.approx(math.sqrt(1e-3 / (90_000 / 90_010)))
    ids = torch.tensor([2] * 90_000 + [3] * 5 + [4] * 5)
    kept, docs = E.subsample(ids, torch.zeros_like(ids), keep, torch.Generator().manual_seed(0))
    assert (kept == 3).sum() == 5 and (kept == 4).sum() == 5
    assert (kept == 2).sum().item() == pytest.approx(90_000 * keep[2].item(), rel=0.1)
    assert len(docs) == len(kept)


def test_skipgram_pairs_stay_inside_the_window_and_the_review():
    corpus = toy_corpus([["a", "b", "c", "d"], ["e", "f"]])
    vocab = corpus.vocab
    centers, contexts = E.skipgram_pairs(corpus.ids, corpus.docs, window=1)
    pairs = {(vocab.itos[c], vocab.itos[o]) for c, o in zip(centers.tolist(), contexts.tolist())}
    # With window 1 every reach is 1: exactly the neighbours, both ways, never across reviews.
    assert pairs == {("a", "b"), ("b", "a"), ("b", "c"), ("c", "b"), ("c", "d"), ("d", "c"), ("e", "f"), ("f", "e")}
    centers, contexts = E.skipgram_pairs(corpus.ids, corpus.docs, window=3, generator=torch.Generator().manual_seed(1))
    position = {w: i for i, w in enumerate("abcdef")}
    for c, o in zip(centers.tolist(), contexts.tolist()):
        c, o = vocab.itos[c], vocab.itos[o]
        assert 1 <= abs(position[c] - position[o]) <= 3 and (c in "abcd") == (o in "abcd")


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
    E.train_sgns(model, corpus, epochs=3, window=1, negatives=3, batch_size=64, lr=0.02, threshold=1.0)
    vectors, stoi = F.normalize(model.vectors(), dim=-1), corpus.vocab.stoi
    cosine = lambda a, b: (vectors[stoi[a]] @ vectors[stoi[b]]).item()  # noqa: E731
    assert cosine("good", "great") > cosine("good", "cat") + 0.3


def test_cooccurrence_matrix_weights_by_inverse_distance():
    corpus = toy_corpus([["a", "b", "c"], ["a", "c"]])
    X = E.cooccurrence_matrix(corpus, window=2)
    i = corpus.vocab.stoi
    assert X[i["a"], i["b"]] == X[i["b"], i["a"]] == 1.0
    assert X[i["a"], i["c"]] == pytest.approx(0.5 + 1.0)  # 2 apart in the first review, neighbours in the second
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


def test_char_ngrams_of_where_match_the_fasttext_paper():
    assert E.char_ngrams("where", 3, 3) == ["<wh", "whe", "her", "ere", "re>"]
    grams = E.char_ngrams("where")  # n from 3 to 6 of the 7 characters of <where>
    assert len(grams) == 5 + 4 + 3 + 2 and "<where" in grams and "<where>" not in grams


def test_fnv1a_matches_reference_values_and_buckets_stay_in_range():
    # Reference values from the FNV specification (draft-eastlake-fnv).
    assert E.fnv1a("") == 0x811C9DC5 and E.fnv1a("a") == 0xE40C292C and E.fnv1a("foobar") == 0xBF9CF968
    buckets = E.ngram_buckets("definately", 1000)
    assert buckets == E.ngram_buckets("definately", 1000)
    assert all(0 <= b < 1000 for b in buckets) and len(set(buckets)) > 1


def test_unseen_word_is_the_sum_of_its_ngram_rows():
    vocab = Vocab(["movie", "good"])
    torch.manual_seed(0)
    model = E.SubwordSkipGram(vocab, dim=6, n_buckets=50)
    rows = [len(vocab) + E.fnv1a(gram) % 50 for gram in E.char_ngrams("moviee")]
    torch.testing.assert_close(model.embed(["moviee"])[0], model.center.weight[rows].sum(0).detach())
    # A known word adds its own row to its n-grams'.
    own = model.center.weight[vocab.stoi["movie"]]
    grams = model.center.weight[[len(vocab) + E.fnv1a(g) % 50 for g in E.char_ngrams("movie")]].sum(0)
    torch.testing.assert_close(model.embed(["movie"])[0], (own + grams).detach())


def test_subword_batches_gather_the_same_vectors_as_embed():
    vocab = Vocab(["a", "the", "movie", "unbelievable"])
    model = E.SubwordSkipGram(vocab, dim=4, n_buckets=30)
    centers = torch.tensor([5, 2, 4, 5, 3])
    torch.testing.assert_close(model.embed_centers(centers).detach(), model.embed([vocab.itos[i] for i in centers]))


def test_nearest_and_analogy_on_hand_made_vectors():
    vocab = Vocab(["man", "woman", "actor", "actress", "plot"])
    vectors = torch.zeros(len(vocab), 3)
    for word, v in {"man": [1, 0, 0], "woman": [1, 1, 0], "actor": [1, 0, 1], "actress": [1, 1, 1],
                    "plot": [0, 0, -1]}.items():
        vectors[vocab.stoi[word]] = torch.tensor(v, dtype=torch.float)
    vectors[:2] = 0.01  # <pad> and <unk> must never be answers
    assert E.analogy(vectors, vocab, "man", "woman", "actor", k=1)[0][0] == "actress"
    neighbours = [w for w, _ in E.nearest(vectors, vocab, "actor", k=4)]
    assert neighbours[0] == "actress" and neighbours[-1] == "plot" and "actor" not in neighbours


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

import dataclasses
import doctest

import pytest
import torch
from datasets import Dataset
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from helpers import batching, classifiers, config
from helpers.tokenization import Vocab


def test_bag_batch_averages_each_review_separately():
    inputs, labels = batching.bag_collate([(torch.tensor([2, 3]), 1), (torch.tensor([4]), 0),
                                           (torch.tensor([], dtype=torch.long), 1)])
    model = classifiers.NBoW(vocab_size=5, embed_dim=3).eval()
    pooled = model.embedding(inputs["ids"], inputs["offsets"])
    weight = model.embedding.weight
    torch.testing.assert_close(pooled[0], weight[[2, 3]].mean(0))
    torch.testing.assert_close(pooled[1], weight[4])
    torch.testing.assert_close(pooled[2], torch.zeros(3))  # an empty review bags <pad>, whose row is zero
    assert labels.tolist() == [1, 0, 1]


def bilstm_and_packed_reference(seed: int = 0):
    """A small BiLSTMClassifier and nn.LSTM(bidirectional=True) holding the same weights."""
    torch.manual_seed(seed)
    model = classifiers.BiLSTMClassifier(vocab_size=20, embed_dim=5, hidden_dim=4).eval()
    reference = nn.LSTM(5, 4, batch_first=True, bidirectional=True)
    for name, param in model.forward_lstm.named_parameters():
        getattr(reference, name).data.copy_(param)
        getattr(reference, name + "_reverse").data.copy_(getattr(model.backward_lstm, name))
    return model, reference


def test_bilstm_forward_is_a_packed_bidirectional_lstm_then_max_and_mean_pooling():
    model, reference = bilstm_and_packed_reference()
    reviews = [[3, 4, 5, 6, 7], [8, 9], [10, 11, 12]]
    inputs, _ = batching.pad_collate([(torch.tensor(r), 0) for r in reviews])
    packed = pack_padded_sequence(model.embedding(inputs["ids"]), inputs["lengths"], batch_first=True,
                                  enforce_sorted=False)
    states = pad_packed_sequence(reference(packed)[0], batch_first=True)[0]  # (B, T, 2H), zero at padding
    torch.testing.assert_close(model.states(**inputs), states)
    expected = torch.stack([model.out(torch.cat([s[:n].max(0).values, s[:n].mean(0)]))
                            for s, n in zip(states, inputs["lengths"])])
    torch.testing.assert_close(model(**inputs), expected)


def test_bilstm_output_does_not_depend_on_padding():
    model, _ = bilstm_and_packed_reference()
    short, long = [3, 4, 5], [6, 7, 8, 9, 10, 11, 12]
    alone = model(**batching.pad_collate([(torch.tensor(short), 0)])[0])
    batched = model(**batching.pad_collate([(torch.tensor(long), 0), (torch.tensor(short), 0)])[0])
    torch.testing.assert_close(alone[0], batched[1])


def test_pretrained_vectors_start_the_embedding_and_freeze_keeps_them():
    vectors = torch.randn(20, 5)
    frozen = classifiers.BiLSTMClassifier(20, 5, 4, vectors=vectors, freeze=True)
    tuned = classifiers.BiLSTMClassifier(20, 5, 4, vectors=vectors)
    assert torch.equal(frozen.embedding.weight, vectors) and torch.equal(tuned.embedding.weight, vectors)
    assert not frozen.embedding.weight.requires_grad and tuned.embedding.weight.requires_grad
    with pytest.raises(ValueError, match=r"\(20, 5\)"):
        classifiers.BiLSTMClassifier(20, 6, 4, vectors=vectors)
    with pytest.raises(ValueError, match="vectors="):
        classifiers.BiLSTMClassifier(20, 5, 4, freeze=True)


def test_align_vectors_finds_each_word_and_fills_the_rest_at_the_same_scale():
    source = Vocab(["good", "bad", "film"])
    target = Vocab(["film", "awful", "good"])
    vectors = torch.randn(len(source), 8)
    rows = classifiers.align_vectors(vectors, source, target)
    assert rows.shape == (len(target), 8)
    for word in ("film", "good", Vocab.UNK):
        torch.testing.assert_close(rows[target.stoi[word]], vectors[source.stoi[word]])
    assert torch.equal(rows[target.stoi[Vocab.PAD]], torch.zeros(8))
    assert rows[target.stoi["awful"]].abs().sum() > 0


@pytest.mark.parametrize("make", [lambda: classifiers.NBoW(0, 4), lambda: classifiers.NBoW(10, 2.5),
                                  lambda: classifiers.BiLSTMClassifier(10, 4, -1),
                                  lambda: classifiers.BiLSTMClassifier(10, 4, True)],
                         ids=["vocab 0", "embed 2.5", "hidden -1", "hidden True"])
def test_sizes_must_be_positive_ints(make):
    with pytest.raises((TypeError, ValueError), match="must be a positive int"):
        make()


POSITIVE, NEGATIVE = ["wonderful", "superb", "moving", "brilliant"], ["dreadful", "dull", "tedious", "awful"]


def toy_reviews(seed: int, n: int) -> Dataset:
    """Reviews whose label is which word list they draw from; filler words carry no signal."""
    g = torch.Generator().manual_seed(seed)
    rows = {"text": [], "label": []}
    for i in range(n):
        words = (POSITIVE, NEGATIVE)[i % 2]
        picks = torch.randint(len(words), (2,), generator=g).tolist()
        filler = ["the", "film", "plot", "was", "and", "it"][int(torch.randint(6, (1,), generator=g))]
        rows["text"].append(f"the {filler} was {words[picks[0]]} and {words[picks[1]]}")
        rows["label"].append(1 - i % 2)
    return Dataset.from_dict(rows)


@pytest.fixture(scope="module")
def toy():
    profile = dataclasses.replace(config.get_profile("smoke"), nbow_epochs=8, bilstm_epochs=8, batch_size=8,
                                  nbow_batch_size=8)
    return profile, toy_reviews(0, 160), toy_reviews(1, 40), toy_reviews(2, 40)


@pytest.mark.slow
@pytest.mark.parametrize("train_fn", [classifiers.train_nbow_bigram, classifiers.train_bilstm],
                         ids=["nbow", "bilstm"])
def test_classifiers_learn_a_separable_toy_task_and_generalize(toy, train_fn):
    profile, train, val, test = toy
    config.seed_everything(0)
    trained = train_fn(train, val, profile, progress=False)
    assert trained.accuracy(test) == 1.0  # rows never seen in training or selection
    proba = trained.predict_proba(["superb and moving", "tedious and dull"])
    torch.testing.assert_close(proba.sum(1), torch.ones(2))
    assert proba[0, 1] > 0.5 > proba[1, 1]


@pytest.mark.parametrize("train_fn, epochs, batch",
                         [(classifiers.train_nbow_bigram, "nbow_epochs", "nbow_batch_size"),
                          (classifiers.train_bilstm, "bilstm_epochs", "batch_size")], ids=["nbow", "bilstm"])
def test_trainers_use_the_profile_as_written(toy, train_fn, epochs, batch):
    profile, train, val, _ = toy
    profile = dataclasses.replace(profile, **{epochs: 2, batch: 16}, max_len=4, ngram_max_len=4,
                                  ngram_vocab_size=30)
    trained = train_fn(train, val, profile, progress=False)
    assert len(trained.history) == 2
    assert trained.batch_size == 16
    encoded = trained.encode(["the film was wonderful and superb and moving and brilliant"])
    if train_fn is classifiers.train_nbow_bigram:
        assert len(trained.vocab) <= 30 + 2  # + <pad> and <unk>
        assert len(encoded[0]) <= 4 + 3  # 4 words and their 3 pairs
    else:
        assert len(encoded[0]) == 4


def test_a_string_is_not_a_batch(toy):
    profile, train, val, _ = toy
    trained = classifiers.train_nbow_bigram(train, val, dataclasses.replace(profile, nbow_epochs=1),
                                            progress=False)
    with pytest.raises(TypeError, match="wrap it in a list"):
        trained.predict_proba("what a film")
    with pytest.raises(ValueError, match="empty"):
        trained.predict_proba([])
    assert trained.predict_proba(["what a film"]).shape == (1, 2)


def test_bilstm_init_needs_vectors_exactly_when_pretrained(toy):
    profile, train, val, _ = toy
    with pytest.raises(ValueError, match="init must be one of"):
        classifiers.train_bilstm(train, val, profile, init="glove")
    with pytest.raises(ValueError, match="vectors="):
        classifiers.train_bilstm(train, val, profile, init="frozen")


def test_frozen_embeddings_stay_put_while_fine_tuned_ones_move(toy):
    profile, train, val, _ = toy
    profile = dataclasses.replace(profile, bilstm_epochs=1)
    vocab = classifiers.bilstm_vocab(train["text"], profile)
    vectors = torch.randn(len(vocab), profile.embed_dim)
    vectors[0] = 0.0
    frozen = classifiers.train_bilstm(train, val, profile, "frozen", vectors, vocab, progress=False)
    tuned = classifiers.train_bilstm(train, val, profile, "fine-tuned", vectors, vocab, progress=False)
    assert torch.equal(frozen.model.embedding.weight.detach(), vectors)
    assert not torch.allclose(tuned.model.embedding.weight.detach(), vectors)


def test_pretrain_vectors_gives_similar_words_similar_rows():
    texts = toy_reviews(3, 400)["text"]
    vocab = Vocab.build([t.split() for t in texts], min_freq=2)
    vectors = classifiers.pretrain_vectors(texts, vocab, dim=16, epochs=5, threshold=1.0)  # keep every word
    assert vectors.shape == (len(vocab), 16)
    unit = nn.functional.normalize(vectors, dim=-1)
    same = unit[vocab.stoi["wonderful"]] @ unit[vocab.stoi["superb"]]
    across = unit[vocab.stoi["wonderful"]] @ unit[vocab.stoi["dreadful"]]
    assert same > across


def test_docstring_examples_hold():
    assert doctest.testmod(classifiers).failed == 0

import dataclasses

import torch

from helpers import classifiers, config
from helpers.tokenization import Vocab


def test_bigrams_follow_the_unigrams():
    assert classifiers.with_bigrams(["not", "good", "!"]) == ["not", "good", "!", "not good", "good !"]


def test_head_and_tail_keeps_both_ends():
    tokens = [str(i) for i in range(10)]
    assert classifiers.head_and_tail(tokens, 4) == ["0", "1", "8", "9"]
    assert classifiers.head_and_tail(tokens, 5) == ["0", "1", "7", "8", "9"]
    assert classifiers.head_and_tail(tokens[:3], 4) == tokens[:3]


def test_bag_batch_averages_each_review_separately():
    (inputs, labels) = classifiers.bag_batch([[2, 3], [4], []], [1, 0, 1])
    model = classifiers.NBoW(vocab_size=5, embed_dim=3).eval()
    pooled = model.embedding(inputs["ids"], inputs["offsets"])
    weight = model.embedding.weight
    torch.testing.assert_close(pooled[0], weight[[2, 3]].mean(0))
    torch.testing.assert_close(pooled[1], weight[4])
    assert labels.tolist() == [1, 0, 1]


def test_bilstm_output_does_not_depend_on_padding():
    torch.manual_seed(0)
    model = classifiers.BiLSTMClassifier(vocab_size=20, embed_dim=8, hidden_dim=6).eval()
    short, long = [3, 4, 5], [6, 7, 8, 9, 10, 11, 12]
    alone = model(**classifiers.padded_batch([short], [0])[0])
    batched = model(**classifiers.padded_batch([long, short], [0, 0])[0])
    torch.testing.assert_close(alone[0], batched[1])


def test_reverse_within_length_keeps_padding_in_place():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])[..., None]
    reversed_ = classifiers.reverse_within_length(x, torch.tensor([3, 2]))
    assert reversed_[..., 0].tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]
    torch.testing.assert_close(classifiers.reverse_within_length(reversed_, torch.tensor([3, 2])), x)


def test_bilstm_directions_match_a_packed_bidirectional_lstm():
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    model = classifiers.BiLSTMClassifier(vocab_size=20, embed_dim=5, hidden_dim=4).eval()
    reference = torch.nn.LSTM(5, 4, batch_first=True, bidirectional=True)
    for name, param in model.forward_lstm.named_parameters():
        getattr(reference, name).data.copy_(param)
        getattr(reference, name + "_reverse").data.copy_(getattr(model.backward_lstm, name))
    ids, lengths = classifiers.padded_batch([[3, 4, 5, 6, 7], [8, 9]], [0, 0])[0].values()
    x = model.embedding(ids)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected = pad_packed_sequence(reference(packed)[0], batch_first=True)[0]
    backward = classifiers.reverse_within_length(model.backward_lstm(classifiers.reverse_within_length(x, lengths))[0],
                                                 lengths)
    ours = torch.cat([model.forward_lstm(x)[0], backward], -1)
    mask = (torch.arange(5)[None, :] < lengths[:, None])[..., None]
    torch.testing.assert_close(ours * mask, expected)


def test_batches_cover_every_example_once_and_reshuffle():
    encoded = [[i] * (1 + i % 7) for i in range(50)]
    batches = classifiers.Batches(encoded, list(range(50)), 8, classifiers.padded_batch, shuffle=True)
    epochs = [[label for _, labels in batches for label in labels.tolist()] for _ in range(2)]
    assert len(batches) == 7
    assert sorted(epochs[0]) == list(range(50)) == sorted(epochs[1])
    assert epochs[0] != epochs[1]


def test_classifiers_learn_a_separable_toy_task():
    from datasets import Dataset

    words = {1: "wonderful superb moving", 0: "dreadful dull tedious"}
    texts = [f"the film was {words[i % 2].split()[i % 3]} and {words[i % 2].split()[(i + 1) % 3]}" for i in range(240)]
    ds = Dataset.from_dict({"text": texts, "label": [i % 2 for i in range(240)]})
    profile = dataclasses.replace(config.get_profile("smoke"), epochs=5, batch_size=8)
    config.seed_everything(0)
    for train in (classifiers.train_nbow_bigram, classifiers.train_bilstm):
        trained = train(ds, ds, profile, progress=False)
        assert trained.accuracy(ds) == 1.0, train.__name__
        proba = trained.predict_proba(["superb and moving", "tedious and dull"])
        torch.testing.assert_close(proba.sum(1), torch.ones(2))
        assert proba[0, 1] > 0.5 > proba[1, 1]


def test_vocab_unknowns_map_to_unk():
    vocab = Vocab.build([["a", "b", "a"]])
    assert vocab.encode(["a", "zzz"]) == [vocab.stoi["a"], 1]

import doctest
import math

import pytest
import torch
from torch import nn

from helpers import config
from helpers import language_model as lm
from helpers.tokenization import Vocab


def test_vocab_keeps_the_most_frequent_words_and_eos():
    vocab = lm.build_vocab(["a a a b b c", "a b"], max_size=2)
    assert vocab.itos == [Vocab.PAD, Vocab.UNK, lm.EOS, "a", "b"]


def test_stream_ends_every_review_with_eos():
    vocab = lm.build_vocab(["good film", "bad film"], max_size=10)
    stream = lm.encode_stream(["Good film!", "bad"], vocab)
    assert vocab.decode(stream.tolist()) == ["good", "film", Vocab.UNK, lm.EOS, "bad", lm.EOS]
    with pytest.raises(TypeError, match="wrap it in a list"):
        lm.encode_stream("good film", vocab)
    with pytest.raises(ValueError, match="empty"):
        lm.encode_stream([], vocab)


def test_windows_cover_every_next_token_once():
    rows = lm.batchify(torch.arange(23), 2)  # (2, 11): the last token dropped
    assert rows.tolist() == [list(range(11)), list(range(11, 22))]
    windows = list(lm.bptt_windows(rows, 4))
    assert [x.shape[1] for x, _ in windows] == [4, 4, 2]
    inputs, targets = torch.cat([x for x, _ in windows], 1), torch.cat([y for _, y in windows], 1)
    torch.testing.assert_close(inputs, rows[:, :-1])
    torch.testing.assert_close(targets, rows[:, 1:])
    with pytest.raises(ValueError, match="too short"):
        lm.batchify(torch.arange(5), 4)


def test_carrying_the_state_across_windows_equals_one_long_pass():
    torch.manual_seed(0)
    model = lm.RNNLanguageModel(vocab_size=12, embed_dim=5, hidden_dim=7).eval()
    rows = torch.randint(12, (3, 21))
    whole, _ = model(rows[:, :-1])
    pieces, state = [], None
    for inputs, _ in lm.bptt_windows(rows, 6):
        logits, state = model(inputs, state)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, 1), whole)


def test_detach_cuts_the_graph_but_keeps_the_values():
    h = torch.randn(2, 3, requires_grad=True) * 2
    state = (h, h + 1)
    cut = lm.detach(state)
    assert all(not s.requires_grad for s in cut)
    assert all(torch.equal(a, b) for a, b in zip(cut, state))


def test_truncated_bptt_sends_no_gradient_into_the_previous_window():
    torch.manual_seed(0)
    model = lm.RNNLanguageModel(vocab_size=12, embed_dim=5, hidden_dim=7, dropout=0.0)
    first, second = torch.randint(12, (2, 5)), torch.randint(12, (2, 5))
    embedded = []  # the embedding output of every forward pass, in order
    model.embedding.register_forward_hook(lambda module, inputs, out: embedded.append(out))
    _, state = model(first)
    loss, _ = lm.window_loss(model, second[:, :-1], second[:, 1:], lm.detach(state))
    (grad_first,) = torch.autograd.grad(loss, embedded[0], allow_unused=True)
    assert grad_first is None  # the first window is outside the truncated graph
    _, state = model(first)
    loss, _ = lm.window_loss(model, second[:, :-1], second[:, 1:], state)
    assert torch.autograd.grad(loss, embedded[2])[0].abs().sum() > 0  # without detach it is inside


def test_perplexity_is_exp_of_the_mean_cross_entropy():
    torch.manual_seed(0)
    model = lm.RNNLanguageModel(vocab_size=12, embed_dim=5, hidden_dim=7).eval()
    rows = torch.randint(12, (2, 13))
    logits, _ = model(rows[:, :-1])
    expected = math.exp(nn.functional.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten()).item())
    assert lm.perplexity(model, rows, bptt=5) == pytest.approx(expected, rel=1e-5)
    untrained = lm.perplexity(model, rows, bptt=5)
    assert 1 < untrained < 12 * 2  # about the vocabulary size before training


FAST = config.OptimizerSettings(lr=1e-2, weight_decay=0.01, clip_norm=1.0)  # a tiny pattern learns fast


@pytest.mark.slow
def test_training_learns_a_repeating_pattern():
    torch.manual_seed(0)
    stream = torch.tensor([3, 4, 5, 6, 7] * 200)
    rows = lm.batchify(stream, 4)
    val = lm.batchify(stream[:200], 2)
    model = lm.RNNLanguageModel(vocab_size=8, embed_dim=8, hidden_dim=16, dropout=0.0)
    before = lm.perplexity(model, val, bptt=10)
    history = lm.train_language_model(model, rows, val, epochs=3, bptt=10, optim=FAST, progress=False)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["val_perplexity"] < 1.5 < 8 / 2 < before  # from about uniform to nearly certain


def test_temperature_sharpens_and_flattens():
    logits = torch.tensor([2.0, 1.0, 0.0])
    cold, warm, hot = (lm.next_word_probabilities(logits, t) for t in (0.1, 1.0, 10.0))
    torch.testing.assert_close(warm, logits.softmax(-1))
    assert cold[0] > 0.99 and hot.max() - hot.min() < 0.1
    with pytest.raises(ValueError, match="temperature must be positive"):
        lm.next_word_probabilities(logits, 0.0)


@pytest.mark.slow
def test_sample_continues_a_learned_pattern_and_never_draws_unk():
    torch.manual_seed(0)
    vocab = Vocab([lm.EOS, "one", "two", "three"])
    stream = torch.tensor(vocab.encode(["one", "two", "three"] * 300))
    model = lm.RNNLanguageModel(len(vocab), 8, 16, dropout=0.0)
    lm.train_language_model(model, lm.batchify(stream, 4), lm.batchify(stream[:90], 2), epochs=3, bptt=12,
                            optim=FAST, progress=False)
    words = lm.sample(model, vocab, "one two", max_words=6, temperature=0.5)
    assert words == ["three", "one", "two", "three", "one", "two"]
    assert Vocab.UNK not in lm.sample(model, vocab, "one", max_words=20, temperature=5.0, seed=1)


def test_docstring_examples_hold():
    assert doctest.testmod(lm).failed == 0


def test_training_gives_the_numbers_it_gave_before_the_shared_training_core():
    """Measured with the loop as before `training.optimizer_step` and `mixed_precision` (fp32 on a CPU)."""
    torch.manual_seed(0)
    stream = torch.tensor([3, 4, 5, 6, 7] * 40)
    model = lm.RNNLanguageModel(vocab_size=8, embed_dim=8, hidden_dim=16, dropout=0.1)
    (row,) = lm.train_language_model(model, lm.batchify(stream, 4), lm.batchify(stream[:50], 2), epochs=1,
                                     bptt=10, optim=config.get_profile("smoke").lm_optim, progress=False)
    torch.testing.assert_close([row["train_perplexity"], row["val_perplexity"]],
                               [8.006938795589717, 7.711282953173591])

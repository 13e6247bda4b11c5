import dataclasses
import doctest

import pytest
import torch
from torch import nn

from helpers import attention, batching, decoding, seq2seq, transformer


def test_doctests():
    assert doctest.testmod(transformer).failed == 0


def _mask(lengths, size):
    return batching.padding_mask(torch.tensor(lengths), size)[:, None, None]  # (B, 1, 1, T)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-LN", "pre-LN"])
def test_encoder_layer_equals_nn_transformer_encoder_layer_with_copied_weights(norm_first):
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, norm_first=norm_first)
    mine = transformer.EncoderLayer(16, 4, 32, dropout=0.0, norm_first=norm_first)
    mine.load_state_dict(theirs.state_dict())
    x, mask = torch.randn(2, 6, 16), _mask([6, 3], 6)
    torch.testing.assert_close(mine(x, mask), theirs(x, src_key_padding_mask=~mask[:, 0, 0]))
    # In eval mode without gradients PyTorch takes its fused fast path, which skips padded positions:
    # the real positions still agree.
    mine.eval(), theirs.eval()
    with torch.no_grad():
        ours, fast = mine(x, mask), theirs(x, src_key_padding_mask=~mask[:, 0, 0])
    torch.testing.assert_close(ours[0], fast[0])
    torch.testing.assert_close(ours[1, :3], fast[1, :3])


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-LN", "pre-LN"])
def test_decoder_layer_equals_nn_transformer_decoder_layer_with_copied_weights(norm_first):
    torch.manual_seed(0)
    theirs = nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, batch_first=True, norm_first=norm_first)
    mine = transformer.DecoderLayer(16, 4, 32, dropout=0.0, norm_first=norm_first)
    mine.load_state_dict(theirs.state_dict())
    y, memory, mask = torch.randn(2, 5, 16), torch.randn(2, 6, 16), _mask([6, 2], 6)
    expected = theirs(y, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(5),
                      memory_key_padding_mask=~mask[:, 0, 0])
    torch.testing.assert_close(mine(y, memory, attention.causal_mask(5), mask), expected)


def _model(**kwargs):
    torch.manual_seed(0)
    return transformer.Transformer(len(seq2seq.SOURCE_VOCAB), len(seq2seq.TARGET_VOCAB), d_model=16,
                                   n_heads=2, n_layers=2, d_ff=32, **kwargs).eval()


def test_the_decoder_cannot_see_the_future():
    model = _model()
    batch = seq2seq.make_batch([("forty-two thousand six", "42006")])
    logits = model(batch.src, batch.src_lengths, batch.tgt_in)
    changed = batch.tgt_in.clone()
    changed[0, 3] = seq2seq.TARGET_VOCAB.stoi["9"]
    after = model(batch.src, batch.src_lengths, changed)
    torch.testing.assert_close(after[:, :3], logits[:, :3])  # positions before the change are untouched
    assert not torch.allclose(after[:, 3:], logits[:, 3:])


def test_step_by_step_decoding_equals_the_parallel_forward_pass():
    model = _model()
    batch = seq2seq.make_batch([("forty-two thousand six", "42006"), ("nine", "9")])
    parallel = model(batch.src, batch.src_lengths, batch.tgt_in)
    state = model.start(batch.src, batch.src_lengths)
    for t in range(batch.tgt_in.size(1)):
        logits, state = model.step(batch.tgt_in[:, t], state)
        torch.testing.assert_close(logits, parallel[:, t])


def test_padding_does_not_change_the_output():
    model = _model()
    alone = seq2seq.make_batch([("six", "6")])
    padded = seq2seq.make_batch([("six", "6"), ("six hundred seventy-two thousand one", "672001")])
    length = alone.tgt_in.size(1)
    torch.testing.assert_close(model(alone.src, alone.src_lengths, alone.tgt_in),
                               model(padded.src, padded.src_lengths, padded.tgt_in)[:1, :length])


def test_cross_attention_weighs_only_the_real_source_words_and_leaves_the_model_as_it_was():
    model = _model()
    batch = seq2seq.make_batch([("forty-two thousand six", "42006"), ("nine", "9")])
    before = model(batch.src, batch.src_lengths, batch.tgt_in)
    weights = transformer.cross_attention(model, batch.src, batch.src_lengths, batch.tgt_in)
    assert len(weights) == len(model.decoder_layers)
    for w in weights:  # (B, h, T, S): 2 pairs, T = <bos> + 5 digits, S = 4 words
        assert w.shape == (2, model.decoder_layers[0].multihead_attn.num_heads, 6, 4)
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
        assert torch.equal(w[1, :, :, 1:], torch.zeros(w.shape[1], 6, 3))  # "nine": one word, then padding
    for layer in model.decoder_layers:
        assert not layer.multihead_attn._forward_hooks and not layer.multihead_attn._forward_pre_hooks
    torch.testing.assert_close(model(batch.src, batch.src_lengths, batch.tgt_in), before)


def test_cross_attention_map_has_a_row_per_output_token_and_a_column_per_word():
    model = _model()
    words = "forty-two thousand six"
    digits, weights = seq2seq.cross_attention_map(model, words)
    assert digits == seq2seq.predict(model, [words])[0]
    assert weights[-1].shape[-2:] == (len(digits) + 1, len(seq2seq.source_tokens(words)))


def test_without_positions_reordered_words_get_the_same_output():
    # "one hundred two" and "two hundred one" use the same words: without positions, the encoder's output is
    # the same set of vectors, so every decoder step sees the same thing.
    src = seq2seq.make_batch([("one hundred two", ""), ("two hundred one", "")])
    for positions, same in (("none", True), ("sinusoidal", False)):
        model = _model(positions=positions)
        out = decoding.greedy_decode(model, src.src, src.src_lengths, seq2seq.BOS_ID, seq2seq.EOS_ID, 5)
        state = model.start(src.src, src.src_lengths)
        logits, _ = model.step(src.tgt_in[:, 0], state)
        assert torch.allclose(logits[0], logits[1], atol=1e-5) == same
        if same:
            assert out[0] == out[1]


def test_teacher_forcing_below_one_is_refused():
    model = _model()
    batch = seq2seq.make_batch([("six", "6")])
    with pytest.raises(ValueError, match="teacher forcing is built in"):
        model(batch.src, batch.src_lengths, batch.tgt_in, teacher_forcing=0.5)


def test_post_ln_keeps_activations_normalized_and_pre_ln_lets_the_residual_grow():
    torch.manual_seed(0)
    x = torch.randn(4, 10, 32) * 3
    for norm_first in (False, True):
        layers = [transformer.EncoderLayer(32, 4, 64, dropout=0.0, norm_first=norm_first) for _ in range(6)]
        h = x
        for layer in layers:
            h = layer(h)
        std = h.std(-1).mean().item()
        assert (abs(std - 1) < 0.05) if not norm_first else std > 2


def test_classifier_ignores_padding():
    torch.manual_seed(0)
    model = transformer.TransformerClassifier(50, 16, 2, 2, 32, max_len=12).eval()
    inputs, _ = batching.pad_collate([([5, 6, 7], 0), (list(range(2, 12)), 1)])
    alone, _ = batching.pad_collate([([5, 6, 7], 0)])
    torch.testing.assert_close(model(**inputs)[:1], model(**alone))


def test_pretrained_vectors_start_the_embeddings_at_the_random_start_s_scale():
    vectors = torch.randn(50, 16) * 3.0  # (V, d_model), rows of another scale
    table = transformer.embedding(50, 16, vectors).weight.detach()
    assert torch.equal(table[0], torch.zeros(16)), "<pad> stays zero"
    torch.testing.assert_close(table[1:] / table[1:].std(), vectors[1:] / vectors[1:].std())
    assert table[1:].std().item() == pytest.approx(16**-0.5, rel=1e-4)
    with pytest.raises(ValueError, match=r"\(50, 16\); got \(50, 8\)"):
        transformer.embedding(50, 16, torch.randn(50, 8))


@pytest.mark.slow
def test_classifier_learns_which_words_are_positive():
    from datasets import Dataset

    from helpers import config

    g = torch.Generator().manual_seed(0)
    words = ["great", "superb", "awful", "dull", "the", "movie", "plot", "actor", "was", "a"]

    def review():
        picks = (torch.randint(4, len(words), (8,), generator=g).tolist()
                 + [int(torch.randint(0, 4, (1,), generator=g))])
        return " ".join(words[i] for i in picks), int(picks[-1] < 2)

    rows = [review() for _ in range(600)]
    train = Dataset.from_dict({"text": [t for t, _ in rows[:500]], "label": [y for _, y in rows[:500]]})
    val = Dataset.from_dict({"text": [t for t, _ in rows[500:]], "label": [y for _, y in rows[500:]]})
    profile = dataclasses.replace(config.get_profile("smoke"), transformer_epochs=4, batch_size=32,
                                  max_len=16)
    torch.manual_seed(0)
    trained = transformer.train_classifier(train, val, profile, progress=False)
    assert len(trained.history) == 4 and trained.accuracy(val) > 0.9
    with pytest.raises(ValueError, match="together"):
        transformer.train_classifier(train, val, profile, vectors=torch.zeros(len(trained.vocab), 32))
    # A start from given vectors, with the learning rate warmed up and decayed, learns the same words.
    vectors = trained.model.embedding.weight.detach()  # (V, d_model): vectors that already know them
    torch.manual_seed(0)
    started = transformer.train_classifier(train, val, dataclasses.replace(profile, transformer_epochs=1),
                                           progress=False, vectors=vectors, vocab=trained.vocab, warmup=True)
    assert started.vocab is trained.vocab and started.accuracy(val) > 0.9
    with pytest.raises(TypeError, match="wrap"):
        transformer.encode_reviews("great movie", trained.vocab, 16)

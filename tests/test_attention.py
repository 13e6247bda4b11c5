import doctest
import pathlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import attention, batching


def test_doctests():
    assert doctest.testmod(attention).failed == 0


def _qkv(seed=0, batch=2, heads=3, t=5, s=7, d=8):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, heads, t, d, generator=g), torch.randn(batch, heads, s, d, generator=g),
            torch.randn(batch, heads, s, d, generator=g))


def test_scaled_dot_product_attention_equals_pytorch_with_a_padding_mask():
    q, k, v = _qkv()
    mask = batching.padding_mask(torch.tensor([7, 3]), 7)[:, None, None]  # (B, 1, 1, S)
    out, weights = attention.scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert weights[1, :, :, 3:].abs().max() == 0, "padded keys get no weight"
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5))


def test_scaled_dot_product_attention_equals_pytorch_with_a_causal_mask():
    x = _qkv(1, s=6, t=6)[0]
    causal = attention.causal_mask(6)
    out, weights = attention.scaled_dot_product_attention(x, x, x, causal)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(x, x, x, is_causal=True))
    assert torch.equal(weights > 0, causal.expand_as(weights)), "no position looks ahead"
    both = causal & batching.padding_mask(torch.tensor([6, 4]), 6)[:, None, None]
    torch.testing.assert_close(attention.scaled_dot_product_attention(x, x, x, both)[0],
                               F.scaled_dot_product_attention(x, x, x, attn_mask=both))


def test_scaling_keeps_scores_at_unit_variance():
    q, k, v = _qkv(2, batch=64, heads=4, t=32, s=32, d=256)
    assert 12 < (q @ k.transpose(-2, -1)).std() < 20  # about sqrt(256) = 16 before scaling
    _, weights = attention.scaled_dot_product_attention(q, k, v)
    seen = weights.log()  # the scores the softmax saw, less each row's log-sum-exp
    assert 0.8 < (seen - seen.mean(-1, keepdim=True)).std() < 1.2


@pytest.mark.parametrize("need_weights", [True, False])
def test_multi_head_attention_equals_nn_multiheadattention_with_copied_weights(need_weights):
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(16, 4, batch_first=True)
    mine = attention.MultiHeadAttention(16, 4)
    mine.load_state_dict(theirs.state_dict())
    query, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    mask = batching.padding_mask(torch.tensor([7, 2]), 7)[:, None, None]  # (B, 1, 1, S)
    # PyTorch's key_padding_mask marks what to ignore (True = padding); ours marks what may be seen.
    expected, expected_weights = theirs(query, memory, memory, key_padding_mask=~mask[:, 0, 0])
    out, weights = mine(query, memory, memory, mask, need_weights=need_weights)
    torch.testing.assert_close(out, expected)
    if need_weights:
        torch.testing.assert_close(weights.mean(1), expected_weights)  # PyTorch averages over heads
    else:
        assert weights is None


def test_multi_head_attention_rejects_heads_that_do_not_divide_the_width():
    with pytest.raises(ValueError, match="divisible"):
        attention.MultiHeadAttention(10, 4)


def test_self_attention_without_positions_cannot_tell_order():
    torch.manual_seed(0)
    mha = attention.MultiHeadAttention(8, 2)
    x = torch.randn(1, 5, 8)
    order = torch.tensor([3, 0, 4, 1, 2])
    shuffled = mha(x[:, order], x[:, order], x[:, order])[0]
    torch.testing.assert_close(shuffled, mha(x, x, x)[0][:, order])  # permuted in, permuted out
    pe = attention.PositionalEncoding("sinusoidal", 5, 8)
    with_positions = mha(pe(x[:, order]), pe(x[:, order]), pe(x[:, order]))[0]
    assert not torch.allclose(with_positions, mha(pe(x), pe(x), pe(x))[0][:, order], atol=1e-3)


def test_sinusoidal_positions_are_distinct_and_bounded():
    table = attention.sinusoidal_positions(128, 32)
    assert table.shape == (128, 32) and table.abs().max() <= 1
    distances = torch.cdist(table, table) + torch.eye(128) * 10
    assert distances.min() > 0.1
    # Same offset, same dot product wherever it starts: attention can learn relative positions.
    torch.testing.assert_close(table[10] @ table[13], table[50] @ table[53])


def test_positional_encoding_kinds_and_lengths():
    x = torch.zeros(2, 4, 6)
    assert torch.equal(attention.PositionalEncoding("none", 8, 6)(x), x)
    learned = attention.PositionalEncoding("learned", 8, 6)
    assert learned(x).requires_grad and sum(p.numel() for p in learned.parameters()) == 48
    with pytest.raises(ValueError, match="longer"):
        learned(torch.zeros(1, 9, 6))
    with pytest.raises(ValueError, match="sinusoidal, learned or none"):
        attention.PositionalEncoding("rotary", 8, 6)


RNN_ATTENTION = {"Bahdanau": lambda: attention.AdditiveAttention(4, 10, 8),
                 "Luong": lambda: attention.MultiplicativeAttention(4, 10)}


def _padded_keys(seed=0):
    """Keys (B=3, S=6, 10) for sources of 6, 2 and 4 real positions, and the mask that says which are real."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([6, 2, 4])
    return torch.randn(3, 6, 10, generator=g), batching.padding_mask(lengths, 6), lengths


@pytest.mark.parametrize("name", RNN_ATTENTION)
def test_rnn_attention_shapes_and_weights_over_real_positions(name):
    torch.manual_seed(0)
    module = RNN_ATTENTION[name]()
    keys, mask, _ = _padded_keys()
    context, weights = module(torch.randn(3, 4), module.project_keys(keys), keys, mask)
    assert context.shape == (3, 10) and weights.shape == (3, 6)
    assert torch.equal(weights[~mask], torch.zeros(int((~mask).sum())))  # padding: exactly 0
    assert (weights[mask] > 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))
    torch.testing.assert_close(context, (weights[:, :, None] * keys).sum(1))


@pytest.mark.parametrize("name", RNN_ATTENTION)
def test_rnn_attention_ignores_what_the_padding_holds(name):
    torch.manual_seed(0)
    module = RNN_ATTENTION[name]()
    keys, mask, lengths = _padded_keys()
    query = torch.randn(3, 4)
    context, weights = module(query, module.project_keys(keys), keys, mask)
    noisy = torch.where(mask[:, :, None], keys, 100 * torch.randn_like(keys))  # new padding values
    torch.testing.assert_close(module(query, module.project_keys(noisy), noisy, mask), (context, weights))
    for i, n in enumerate(lengths.tolist()):  # each source alone, unpadded, gets the same context and weights
        alone = keys[i : i + 1, :n]
        own_context, own_weights = module(query[i : i + 1], module.project_keys(alone), alone)
        torch.testing.assert_close(own_context[0], context[i])
        torch.testing.assert_close(own_weights[0], weights[i, :n])


def test_peak_bytes_counts_what_is_alive_at_once_not_the_total():
    mib = 2**20 // 4  # floats in one MiB

    def one_after_another():
        for _ in range(3):
            torch.ones(mib)

    def three_at_once():
        return [torch.ones(mib) for _ in range(3)]

    assert attention.peak_bytes(one_after_another) == pytest.approx(2**20, rel=0.01)
    assert attention.peak_bytes(three_at_once) == pytest.approx(3 * 2**20, rel=0.01)


def test_attention_cost_needs_no_linux_proc(monkeypatch):
    # macOS and Windows have no /proc: the measurement must not depend on it.
    exists = pathlib.Path.exists
    monkeypatch.setattr(pathlib.Path, "exists",
                        lambda path, *args, **kwargs: not str(path).startswith("/proc")
                        and exists(path, *args, **kwargs))
    cost = attention.attention_cost(64, "from scratch", repeats=1)
    assert cost["peak_bytes"] >= 4 * 64 * 64 * 4 and cost["seconds"] > 0  # the (4, 64, 64) float32 scores


@pytest.mark.slow
def test_attention_cost_sees_the_score_matrix_only_where_it_is_stored():
    # 4 heads x 1024 x 1024 float32 scores are 16 MiB; the fused kernel keeps no such matrix.
    scratch = attention.attention_cost(1024, "from scratch", repeats=1)
    fused = attention.attention_cost(1024, "PyTorch SDPA", repeats=1)
    assert scratch["peak_bytes"] >= 16 * 2**20 > 2 * fused["peak_bytes"]
    assert scratch["seconds"] > 0 and fused["seconds"] > 0 and scratch["n"] == 1024
    with pytest.raises(ValueError, match="Unknown implementation"):
        attention.attention_cost(8, "flash")

import math

import pytest
import torch

from helpers import transformer_xl as xl


def test_rel_shift_reindexes_distances_to_key_positions():
    T, M = 5, 3
    K = M + T
    x = torch.randn(2, T, K)
    shifted = xl.rel_shift(x)
    for i in range(T):
        for j in range(M + i + 1):  # keys a query may see: distance M + i - j >= 0
            distance = M + i - j
            assert shifted[:, i, j].equal(x[:, i, K - 1 - distance])


def test_attention_is_the_relative_score_formula():
    torch.manual_seed(0)
    attention = xl.RelativeSelfAttention(16, n_heads=2)
    torch.nn.init.normal_(attention.content_bias)
    torch.nn.init.normal_(attention.position_bias)
    B, T, M = 2, 4, 3
    h, memory = torch.randn(B, T, 16), torch.randn(B, M, 16)
    q = attention.heads(attention.query(h))  # (B, H, T, Dh)
    k, v = map(attention.heads, attention.key_value(torch.cat([memory, h], 1)).chunk(2, -1))
    distance = M + torch.arange(T)[:, None] - torch.arange(M + T)[None, :]  # (T, K)
    r = attention.heads(attention.distance(xl.sinusoid(torch.arange(M + T), 16)))  # (H, K, Dh) by distance
    r = r[:, distance.clamp(min=0)]  # (H, T, K, Dh)
    scores = ((q + attention.content_bias) @ k.transpose(-1, -2)
              + torch.einsum("bhid,hijd->bhij", q + attention.position_bias, r)) / math.sqrt(8)
    weights = scores.masked_fill(distance < 0, float("-inf")).softmax(-1)
    expected = attention.out((weights @ v).transpose(1, 2).flatten(-2))
    torch.testing.assert_close(attention(h, memory), expected)


def test_a_token_never_sees_later_tokens_of_its_segment():
    torch.manual_seed(1)
    model = xl.TransformerXL(10, d_model=16, n_heads=2, n_layers=2, mem_len=4).eval()
    tokens = torch.randint(10, (1, 6))
    changed = tokens.clone()
    changed[0, 4] = (changed[0, 4] + 1) % 10
    with torch.no_grad():
        before, after = model(tokens)[0], model(changed)[0]
    torch.testing.assert_close(before[:, :4], after[:, :4])
    assert not torch.allclose(before[:, 4:], after[:, 4:])


def test_memory_is_a_cache_with_no_gradient_into_the_past():
    torch.manual_seed(2)
    model = xl.TransformerXL(10, d_model=16, n_heads=2, n_layers=2, mem_len=3)
    first = torch.tensor([[7, 8, 9, 7]])  # tokens 7-9 only in the first segment
    second = torch.tensor([[1, 2, 3, 4]])
    _, memory = model(first)
    assert [m.shape for m in memory] == [(1, 3, 16)] * 2 and not any(m.requires_grad for m in memory)
    logits, _ = model(second, memory)
    logits.sum().backward()
    assert model.embed.weight.grad[[7, 8, 9]].abs().sum() == 0, "gradient reached the cached segment"
    assert model.embed.weight.grad[[1, 2, 3, 4]].abs().sum() > 0


def test_update_memory_keeps_the_last_states_and_none_when_mem_len_is_zero():
    memory, h = torch.zeros(1, 2, 1), torch.arange(1.0, 4.0).view(1, 3, 1)
    assert xl.update_memory(memory, h, 2).flatten().tolist() == [2.0, 3.0]
    assert xl.update_memory(memory, h, 0).shape == (1, 0, 1)


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_context_reaches_one_memory_further_per_layer(n_layers):
    torch.manual_seed(3)
    seg_len = mem_len = 4
    model = xl.TransformerXL(12, d_model=16, n_heads=2, n_layers=n_layers, mem_len=mem_len)
    segments = torch.randint(12, (1, 5, seg_len))  # 20 tokens, more than 3 layers can reach
    changes = xl.context_reach(model, segments)
    reach = int((changes > 1e-6).nonzero().max())
    assert reach == seg_len - 1 + n_layers * mem_len


def test_without_memory_a_segment_sees_only_itself():
    model = xl.TransformerXL(12, d_model=16, n_heads=2, n_layers=3, mem_len=0)
    changes = xl.context_reach(model, torch.randint(12, (1, 3, 4)))
    assert (changes[4:] == 0).all() and (changes[:4] > 0).all()


def test_periodic_streams_repeat_with_their_period():
    stream = xl.periodic_streams(3, 50, period=7, vocab_size=5, generator=torch.Generator().manual_seed(0))
    assert stream.shape == (3, 50) and stream[:, 7:].equal(stream[:, :-7])


def test_segment_mask_reaches_back_one_memory():
    mask = xl.segment_mask(8, seg_len=4, mem_len=2)
    assert mask[4].tolist() == [False, False, True, True, True, False, False, False]
    assert not mask.triu(1).any(), "causal"


def test_training_lowers_the_loss():
    torch.manual_seed(4)
    model = xl.TransformerXL(8, d_model=16, n_heads=2, n_layers=1, mem_len=8)
    losses = xl.train_periodic(model, steps=15, batch_size=8, n_segments=2, seg_len=8, period=6,
                               progress=False)
    assert losses[-1] < losses[0] - 0.2

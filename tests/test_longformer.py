import pytest
import torch
from transformers import LongformerConfig
from transformers.models.longformer.modeling_longformer import LongformerSelfAttention

from helpers import attention, long_attention, longformer


@pytest.mark.parametrize(("seq_len", "window", "global_tokens"), [
    (37, 8, []),        # not a multiple of the half window: padded blocks must not leak in
    (40, 8, [0, 5]),    # global tokens inside the band are counted once
    (16, 4, [3]),
    (64, 16, [0, 63]),
    (5, 20, [])])       # a window wider than the text is full attention
def test_sliding_window_equals_full_attention_under_its_mask(seq_len, window, global_tokens):
    torch.manual_seed(seq_len)
    q, k, v = torch.randn(3, 2, 3, seq_len, 8).unbind(0)
    mine = longformer.sliding_window_attention(q, k, v, window, global_tokens)
    mask = longformer.sliding_window_mask(seq_len, window, global_tokens)
    torch.testing.assert_close(mine, long_attention.full_attention(q, k, v, mask))


def test_wide_window_is_full_attention():
    q, k, v = torch.randn(3, 1, 1, 12, 4).unbind(0)
    torch.testing.assert_close(longformer.sliding_window_attention(q, k, v, 24),
                               long_attention.full_attention(q, k, v))


@pytest.mark.parametrize("global_tokens", [[], [0], [0, 9, 31]])
def test_layer_equals_transformers_longformer_self_attention(global_tokens):
    torch.manual_seed(0)
    config = LongformerConfig(hidden_size=32, num_attention_heads=4, attention_window=[8],
                              attention_probs_dropout_prob=0.0)
    theirs = LongformerSelfAttention(config, layer_id=0).eval()
    mine = longformer.SlidingWindowSelfAttention(32, 4, window=8)
    mine.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 32, 32)
    mask = torch.zeros(2, 32)  # transformers' convention: 0 local, positive global, negative padding
    mask[:, global_tokens] = 10_000.0
    with torch.no_grad():
        expected = theirs(x, attention_mask=mask, is_index_masked=mask < 0, is_index_global_attn=mask > 0,
                          is_global_attn=bool(global_tokens))[0]
        torch.testing.assert_close(mine(x, global_tokens), expected)


def test_memory_grows_with_length_times_window_not_length_squared():
    def peak(seq_len):
        q, k, v = torch.randn(3, 1, 1, seq_len, 16).unbind(0)
        with torch.no_grad():
            return attention.peak_bytes(lambda: longformer.sliding_window_attention(q, k, v, 64, [0]))

    assert peak(4096) < 2.2 * peak(2048), "twice the length, about twice the memory (T^2 would be 4x)"
    assert peak(4096) < 4096 * 4096 * 4 / 4, "a (T, T) float matrix would take 64 MiB"


def test_band_blocks_are_views_of_neighbouring_blocks():
    x = torch.arange(6.0).view(6, 1)
    blocks = longformer.band_blocks(x, 2).squeeze(-1)  # 3 query blocks, each sees 6 key slots
    assert blocks.tolist() == [[0, 0, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5], [2, 3, 4, 5, 0, 0]]


@pytest.mark.parametrize("window", [0, 3, -2])
def test_window_must_be_positive_and_even(window):
    q = torch.randn(1, 1, 8, 4)
    with pytest.raises(ValueError, match="positive even"):
        longformer.sliding_window_attention(q, q, q, window)
    with pytest.raises(ValueError, match="positive even"):
        longformer.sliding_window_mask(8, window)


def test_heads_must_divide_the_width():
    with pytest.raises(ValueError, match="multiple of n_heads"):
        longformer.SlidingWindowSelfAttention(30, 4, 8)

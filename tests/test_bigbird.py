import pytest
import torch
from transformers import BigBirdConfig
from transformers.models.big_bird.modeling_big_bird import BigBirdBlockSparseAttention, BigBirdModel

from helpers import attention, bigbird, long_attention


@pytest.mark.parametrize(("n_blocks", "block", "n_random", "n_heads"), [
    (12, 8, 2, 2), (8, 16, 1, 1), (20, 4, 3, 3), (11, 8, 2, 2)])
def test_block_sparse_attention_equals_transformers_bigbird(monkeypatch, n_blocks, block, n_random, n_heads):
    """transformers' BigBirdBlockSparseAttention, given its random blocks, computes the same attention."""
    seq_len, batch, head_dim = n_blocks * block, 2, 8
    config = BigBirdConfig(hidden_size=n_heads * head_dim, num_attention_heads=n_heads, block_size=block,
                           num_random_blocks=n_random)
    theirs = BigBirdBlockSparseAttention(config, seed=0).train()  # in eval mode it draws no random blocks
    drawn, gather = [], BigBirdBlockSparseAttention.torch_gather_b2  # it gathers keys by the random blocks
    monkeypatch.setattr(BigBirdBlockSparseAttention, "torch_gather_b2",
                        staticmethod(lambda params, indices:
                                     drawn.append(indices) or gather(params, indices)))
    torch.manual_seed(n_blocks + n_random)
    q, k, v = torch.randn(3, batch, n_heads, seq_len, head_dim).unbind(0)
    blocked, band, from_mask, to_mask = BigBirdModel.create_masks_for_block_sparse_attn(
        torch.ones(batch, seq_len), block)  # no padding
    out, probs = theirs.bigbird_block_sparse_attention(
        q, k, v, band, from_mask, to_mask, blocked, blocked, n_heads, n_random, head_dim, block, block, batch,
        seq_len, seq_len, seed=0, plan_from_length=None, plan_num_rand_blocks=None)  # (B, T, H, D)
    index, valid = bigbird.bigbird_layout(n_blocks, n_random, n_heads)
    index[:, :, 5:] = drawn[0][0]  # their random blocks (H, n_blocks - 2, r), the same for every batch row
    torch.testing.assert_close(bigbird.bigbird_attention(q, k, v, block, (index, valid)), out.transpose(1, 2))
    assert torch.equal(probs[0] > 0, bigbird.bigbird_mask((index, valid), block)), "the same pattern"


@pytest.mark.parametrize(("n_blocks", "n_random", "n_heads"), [(3, 2, 1), (4, 1, 2), (5, 9, 2)])
def test_with_every_block_taken_block_sparse_is_full_attention(n_blocks, n_random, n_heads):
    """Too few blocks to leave any out: the repeats and empty random slots must count nothing."""
    torch.manual_seed(n_blocks)
    q, k, v = torch.randn(3, 2, n_heads, n_blocks * 8, 8).unbind(0)
    layout = bigbird.bigbird_layout(n_blocks, n_random, n_heads)
    torch.testing.assert_close(bigbird.bigbird_attention(q, k, v, 8, layout),
                               long_attention.full_attention(q, k, v))


def test_layout_counts_each_block_once_and_draws_random_blocks_outside_the_window():
    n_blocks, n_random, n_heads = 12, 3, 4
    index, valid = bigbird.bigbird_layout(n_blocks, n_random, n_heads, torch.Generator().manual_seed(0))
    assert index.shape == valid.shape == (n_heads, n_blocks - 2, 5 + n_random)
    for h in range(n_heads):
        for row, query_block in enumerate(range(1, n_blocks - 1)):
            blocks = index[h, row][valid[h, row]].tolist()
            assert len(blocks) == len(set(blocks)) == 2 + 3 + n_random - (query_block in (1, n_blocks - 2))
            window = {query_block - 1, query_block, query_block + 1, 0, n_blocks - 1}
            assert not set(index[h, row, 5:].tolist()) & window


def test_heads_draw_their_own_random_blocks():
    index, _ = bigbird.bigbird_layout(32, 3, n_heads=2, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(index[0, :, 5:], index[1, :, 5:])


def test_global_blocks_see_and_are_seen_by_everything():
    mask = bigbird.bigbird_mask(bigbird.bigbird_layout(6, 1), block_size=4)[0]  # (24, 24)
    assert mask[:4].all() and mask[-4:].all() and mask[:, :4].all() and mask[:, -4:].all()
    assert not mask.all(), "middle blocks do not see everything"


def test_memory_grows_with_length_not_length_squared():
    def peak(seq_len):
        q, k, v = torch.randn(3, 1, 1, seq_len, 16).unbind(0)
        layout = bigbird.bigbird_layout(seq_len // 32, 3)
        with torch.no_grad():
            return attention.peak_bytes(lambda: bigbird.bigbird_attention(q, k, v, 32, layout))

    assert peak(4096) < 2.2 * peak(2048), "twice the length, about twice the memory (T^2 would be 4x)"
    assert peak(4096) < 4096 * 4096 * 4 / 4, "a (T, T) float matrix would take 64 MiB"


def test_bad_inputs_are_clear_errors():
    q = torch.randn(1, 1, 30, 4)
    with pytest.raises(ValueError, match="multiple of block_size"):
        bigbird.bigbird_attention(q, q, q, 8, bigbird.bigbird_layout(3, 1))
    q = torch.randn(1, 2, 32, 4)
    with pytest.raises(ValueError, match="layout is for 1 heads"):
        bigbird.bigbird_attention(q, q, q, 8, bigbird.bigbird_layout(4, 1))
    with pytest.raises(ValueError, match="at least 3 blocks"):
        bigbird.bigbird_layout(2, 1)

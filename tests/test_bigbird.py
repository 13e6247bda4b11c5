import pytest
import torch

from helpers import attention, bigbird, long_attention


@pytest.mark.parametrize(("seq_len", "block", "n_random", "n_heads"), [
    (64, 8, 2, 2), (48, 16, 1, 1), (128, 8, 3, 3), (24, 8, 2, 1), (40, 8, 9, 2)])
def test_block_sparse_equals_full_attention_under_its_mask(seq_len, block, n_random, n_heads):
    torch.manual_seed(seq_len + n_random)
    q, k, v = torch.randn(3, 2, n_heads, seq_len, 8).unbind(0)
    layout = bigbird.bigbird_layout(seq_len // block, n_random, n_heads)
    mine = bigbird.bigbird_attention(q, k, v, block, layout)
    expected = long_attention.full_attention(q, k, v, bigbird.bigbird_mask(layout, block))
    torch.testing.assert_close(mine, expected)


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

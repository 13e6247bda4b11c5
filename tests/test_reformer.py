import math

import pytest
import torch
from transformers import ReformerConfig
from transformers.models.reformer.modeling_reformer import LSHSelfAttention

from helpers import reformer

H, D = 2, 8


def _heads(x):
    return x.unflatten(-1, (H, D)).transpose(1, 2)  # (B, T, H D) -> (B, H, T, D)


@pytest.mark.parametrize(("n_rounds", "n_buckets", "chunk"), [(1, 4, 8), (3, 8, 8), (2, 16, 4)])
def test_equals_transformers_lsh_self_attention(n_rounds, n_buckets, chunk):
    torch.manual_seed(0)
    config = ReformerConfig(hidden_size=H * D, num_attention_heads=H, attention_head_size=D,
                            num_buckets=n_buckets, num_hashes=n_rounds, lsh_attn_chunk_length=chunk,
                            lsh_num_chunks_before=1, lsh_num_chunks_after=0, hash_seed=7, is_decoder=False,
                            attn_layers=["lsh"],
                            lsh_attention_probs_dropout_prob=0.0)
    theirs = LSHSelfAttention(config).eval()
    x = torch.randn(2, 64, H * D)
    with torch.no_grad():
        expected = theirs(x).hidden_states
        torch.manual_seed(7)  # transformers draws its rotations right after seeding with hash_seed
        rotations = torch.randn(H, D, n_rounds, n_buckets // 2)
        qk, v = _heads(theirs.query_key(x)), _heads(theirs.value(x))
        mine = reformer.lsh_attention(qk, v, n_buckets, n_rounds, chunk, rotations=rotations)
    torch.testing.assert_close(mine.transpose(1, 2).flatten(-2), expected)


def _shared_qk_scores(qk):
    keys = torch.nn.functional.normalize(qk, dim=-1)
    scores = qk @ keys.transpose(-1, -2)
    return scores.masked_fill(torch.eye(qk.size(-2), dtype=torch.bool), reformer.SELF_SCORE)


def test_one_chunk_is_full_shared_qk_attention():
    torch.manual_seed(1)
    qk, v = torch.randn(2, 1, H, 16, D).unbind(0)
    mine = reformer.lsh_attention(qk, v, n_buckets=4, n_rounds=2, chunk_size=16)
    torch.testing.assert_close(mine, _shared_qk_scores(qk).softmax(-1) @ v, atol=1e-5, rtol=1e-4)


def test_rounds_add_up_like_attention_over_every_candidate_they_found():
    torch.manual_seed(2)
    qk, v = torch.randn(2, 1, H, 32, D).unbind(0)
    rotations = reformer.random_rotations(H, D, 3, 8)
    counts = reformer.lsh_key_counts(reformer.hash_buckets(qk, rotations), chunk_size=4)
    expected = (_shared_qk_scores(qk) + counts.float().log()).softmax(-1) @ v
    mine = reformer.lsh_attention(qk, v, 8, 3, 4, rotations=rotations)
    torch.testing.assert_close(mine, expected, atol=1e-5, rtol=1e-4)
    assert (counts.sum(-1) == 3 * 2 * 4).all(), "each round offers a chunk and the one before: 8 slots"


def test_repeating_a_hash_round_changes_nothing():
    torch.manual_seed(3)
    qk, v = torch.randn(2, 1, H, 32, D).unbind(0)
    once = reformer.random_rotations(H, D, 1, 8)
    twice = once.repeat(1, 1, 2, 1)
    torch.testing.assert_close(reformer.lsh_attention(qk, v, 8, 2, 8, rotations=twice),
                               reformer.lsh_attention(qk, v, 8, 1, 8, rotations=once))


def test_nearby_directions_share_a_bucket_and_opposite_ones_do_not():
    torch.manual_seed(4)
    x = torch.randn(1, 1, 1, 16)
    rotations = reformer.random_rotations(1, 16, 4, 8)
    buckets = reformer.hash_buckets(torch.cat([x, 3 * x + 1e-4, -x], dim=2), rotations)[0, 0]  # (rounds, 3)
    assert (buckets[:, 0] == buckets[:, 1]).all() and (buckets[:, 0] != buckets[:, 2]).all()
    assert buckets.min() >= 0 and buckets.max() < 8


def test_sort_groups_by_round_then_bucket_then_position():
    buckets = torch.tensor([[[[2, 0, 2, 1], [0, 0, 1, 0]]]])  # two rounds of four tokens
    assert reformer.sort_by_bucket(buckets).tolist() == [[[1, 3, 0, 2, 4, 5, 7, 6]]]


def test_more_rounds_find_more_true_neighbours():
    torch.manual_seed(5)
    recall = reformer.bucket_recall(torch.randn(512, 32), n_buckets=16, n_rounds=8,
                                    generator=torch.Generator().manual_seed(0))
    assert recall.shape == (8,) and 0 < recall[0] < 0.6 and recall[-1] > recall[0] + 0.2
    twins = torch.randn(256, 32).repeat(2, 1)  # every vector has an exact twin: always the same bucket
    assert reformer.bucket_recall(twins, 16, 1)[0] == 1.0


def test_bad_sizes_are_clear_errors():
    qk = torch.randn(1, 1, 30, 4)
    with pytest.raises(ValueError, match="multiple of chunk_size"):
        reformer.lsh_attention(qk, qk, 4, 1, chunk_size=8)
    with pytest.raises(ValueError, match="even number"):
        reformer.random_rotations(1, 4, 1, n_buckets=5)


def test_hashing_sends_no_gradient_but_attention_does():
    qk = torch.randn(1, 1, 16, 4, requires_grad=True)
    out = reformer.lsh_attention(qk, qk, 4, 2, 8)
    out.sum().backward()
    assert qk.grad is not None and math.isfinite(qk.grad.abs().sum().item())

import doctest

import pytest
import torch
import torch.nn.functional as F

from helpers import bench, bigbird, long_attention, longformer, reformer, transformer_xl


@pytest.mark.parametrize("module", [long_attention, longformer, reformer, bigbird, transformer_xl],
                         ids=lambda m: m.__name__)
def test_worked_examples_in_docstrings_hold(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_full_attention_equals_sdpa_with_and_without_a_mask():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 3, 10, 8).unbind(0)
    mask = torch.rand(10, 10) > 0.3
    mask.fill_diagonal_(True)
    torch.testing.assert_close(long_attention.full_attention(q, k, v),
                               F.scaled_dot_product_attention(q, k, v))
    torch.testing.assert_close(long_attention.full_attention(q, k, v, mask),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


@pytest.mark.parametrize("pattern", list(long_attention.PATTERNS))
def test_every_pattern_maps_queries_to_outputs_of_the_same_shape(pattern):
    q, k, v = torch.randn(3, 1, 1, 512, 16).unbind(0)
    out = long_attention.PATTERNS[pattern](q, k, v, 64)
    assert out.shape == q.shape and torch.isfinite(out).all()


def test_measure_reports_the_rows_fields_and_a_quadratic_baseline():
    rows = {p: long_attention.measure(p, 2048, window=64, repeats=1) for p in ("full", "sliding_window")}
    assert set(rows["full"]) == {"pattern", "seq_len", "window", "keys_per_query", "seconds", "peak_bytes"}
    assert rows["full"]["peak_bytes"] >= 2 * 2048 * 2048 * 4, "scores and probabilities, (T, T) each"
    assert rows["sliding_window"]["peak_bytes"] < rows["full"]["peak_bytes"] / 4
    with pytest.raises(ValueError, match="Unknown pattern"):
        long_attention.measure("dense", 64)


def test_the_benchmark_is_registered_with_its_table():
    benchmark = bench.REGISTRY["long_attention"]
    assert not benchmark.imdb and benchmark.key == ("pattern", "seq_len")
    assert {"pattern", "seq_len", "window", "seconds", "peak_bytes"} <= set(benchmark.columns)


def test_pattern_masks_are_four_square_pictures_in_which_every_token_sees_itself():
    masks = long_attention.pattern_masks(64, window=16)
    assert len(masks) == 4
    for name, mask in masks.items():
        assert mask.shape == (64, 64) and mask.dtype == torch.bool, name
        assert mask.diagonal().all(), name
        assert 0 < mask.float().mean() < 1, name

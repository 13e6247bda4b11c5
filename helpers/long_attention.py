"""Attention for long documents: the n x n baseline, the efficient patterns behind one signature, their
pictures, and their measured time and peak memory (the `long_attention` benchmark)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from helpers import bigbird, config, longformer, reformer, transformer_xl
from helpers.attention import median_seconds, peak_bytes, scaled_dot_product_attention

BENCH_WINDOW, BENCH_DIM = 256, 64
N_RANDOM_BLOCKS, LSH_ROUNDS = 3, 2  # BigBird's random blocks per query block; Reformer's hash rounds


def full_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """softmax(q k^T / sqrt(D)) v with the whole (T, T) score matrix in memory: the O(T^2) baseline,
    chapter 05's scaled dot-product attention without its weights, in the patterns' signature.

    q, k, v: (..., T, D) -> (..., T, D); mask (broadcastable to (..., T, T)) is True where attention is
    allowed.
    """
    return scaled_dot_product_attention(q, k, v, mask)[0]  # (..., T, D)


def _lsh(q: Tensor, k: Tensor, v: Tensor, window: int) -> Tensor:
    """Reformer with chunks of window/2 (a chunk and the one before: `window` keys per round); shared QK."""
    chunk = window // 2
    return reformer.lsh_attention(q, v, n_buckets=max(2, 2 * (q.size(-2) // chunk)), n_rounds=LSH_ROUNDS,
                                  chunk_size=chunk)


def _bigbird(q: Tensor, k: Tensor, v: Tensor, window: int) -> Tensor:
    """BigBird with blocks of window/4: a 3-block window, 2 global and N_RANDOM_BLOCKS random blocks."""
    block = window // 4
    layout = bigbird.bigbird_layout(q.size(-2) // block, N_RANDOM_BLOCKS, n_heads=q.size(1))
    return bigbird.bigbird_attention(q, k, v, block, layout)


# Every pattern as fn(q, k, v, window) on (B, H, T, D) tensors; `window` sets the size of each sparse pattern.
PATTERNS: dict[str, Callable[[Tensor, Tensor, Tensor, int], Tensor]] = {
    "full": lambda q, k, v, window: full_attention(q, k, v),
    "full_sdpa": lambda q, k, v, window: F.scaled_dot_product_attention(q, k, v),
    "sliding_window": lambda q, k, v, window: longformer.sliding_window_attention(q, k, v, window, [0]),
    "lsh": _lsh,
    "bigbird": _bigbird,
}


def keys_per_query(pattern: str, seq_len: int, window: int) -> int:
    """How many keys an ordinary (non-global) query scores under each pattern.

    >>> [keys_per_query(p, 4096, 256) for p in PATTERNS]
    [4096, 4096, 258, 512, 512]
    """
    return {"full": seq_len, "full_sdpa": seq_len, "sliding_window": window + 2,  # band, itself, [CLS]
            "lsh": LSH_ROUNDS * window, "bigbird": (5 + N_RANDOM_BLOCKS) * (window // 4)}[pattern]


def measure(pattern: str, seq_len: int, window: int = BENCH_WINDOW, dim: int = BENCH_DIM, seed: int = 0,
            repeats: int = 3) -> dict:
    """Time and peak memory of one attention call (batch 1, one head, forward only)."""
    if pattern not in PATTERNS:
        raise ValueError(f"Unknown pattern {pattern!r}: choose one of {', '.join(PATTERNS)}.")
    generator = torch.Generator().manual_seed(seed)
    q, k, v = torch.randn(3, 1, 1, seq_len, dim, generator=generator).to(config.get_device())
    torch.manual_seed(seed)  # the random rotations and random blocks

    def call() -> Tensor:
        return PATTERNS[pattern](q, k, v, window)

    with torch.no_grad():
        peak = peak_bytes(call)
        seconds = median_seconds(call, repeats)
    return {"pattern": pattern, "seq_len": seq_len, "window": window,
            "keys_per_query": keys_per_query(pattern, seq_len, window), "seconds": seconds,
            "peak_bytes": peak}


def sweep(seq_lens: Sequence[int], patterns: Sequence[str] = tuple(PATTERNS), window: int = BENCH_WINDOW,
          seed: int = 0, progress: bool = True) -> list[dict]:
    """`measure` for every pattern at every length: one row each."""
    jobs = [(p, n) for n in seq_lens for p in patterns]
    rows = []
    with tqdm(jobs, desc="attention sweep", leave=True, disable=not progress) as bar:
        for pattern, n in bar:
            bar.set_postfix(pattern=pattern, seq_len=n)
            rows.append(measure(pattern, n, window, seed=seed))
    return rows


def pattern_masks(seq_len: int = 64, window: int = 16, seed: int = 0) -> dict[str, Tensor]:
    """(T, T) pictures of the four long-document patterns: True where query i attends to key j."""
    generator = torch.Generator().manual_seed(seed)
    segment = window
    x = torch.randn(1, 1, seq_len, 8, generator=generator)
    rotations = reformer.random_rotations(1, 8, 1, max(2, 2 * seq_len // window), generator=generator)
    lsh_counts = reformer.lsh_key_counts(reformer.hash_buckets(x, rotations), window // 2)[0, 0]  # (T, T)
    layout = bigbird.bigbird_layout(seq_len // (window // 4), 1, generator=generator)
    return {
        "Transformer-XL": transformer_xl.segment_mask(seq_len, segment, mem_len=segment),
        "Longformer": longformer.sliding_window_mask(seq_len, window, global_tokens=[0]),
        "Reformer (one hash round)": lsh_counts > 0,
        "BigBird": bigbird.bigbird_mask(layout, window // 4)[0],
    }

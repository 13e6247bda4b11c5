"""BigBird's block-sparse attention from scratch: global + sliding window + random blocks.

The sequence is cut into blocks of `block_size` tokens. The first and last blocks are global: they attend to
everything and everything attends to them. Every other query block attends to its own block and its two
neighbours (the window) and to `n_random` blocks drawn at random for each head (Zaheer et al., 2020). Each
query block therefore scores (2 + 3 + n_random) key blocks, whatever the sequence length: O(T) memory.
"""

# Shapes: B batch, H heads, T tokens, D per-head width, b the block size, M = n_blocks - 2 middle
# (non-global) query blocks, r random blocks, K = 5 + r key blocks per middle query block.

from __future__ import annotations

import math

import torch
from torch import Tensor

Layout = tuple[Tensor, Tensor]  # key-block indices (H, n_blocks - 2, 5 + r) and whether each one counts


def bigbird_layout(n_blocks: int, n_random: int, n_heads: int = 1,
                   generator: torch.Generator | None = None) -> Layout:
    """Which key blocks each middle query block (1 .. n_blocks - 2) attends to, per head.

    Columns: the two global blocks, the window (i - 1, i, i + 1), then `n_random` random blocks chosen
    among the rest. `valid` is False for a repeat (block 0 is both global and block 1's left neighbour)
    or for a random slot with nothing left to draw.

    >>> index, valid = bigbird_layout(4, n_random=1)  # 4 blocks: every block is taken, none left to draw
    >>> index[0]                                      # query blocks 1 and 2: global, window, random
    tensor([[0, 3, 0, 1, 2, 0],
            [0, 3, 1, 2, 3, 0]])
    >>> valid[0].int()
    tensor([[1, 1, 0, 1, 1, 0],
            [1, 1, 1, 1, 0, 0]], dtype=torch.int32)
    """
    if n_blocks < 3:
        raise ValueError(f"BigBird needs at least 3 blocks (two global, one in between), got {n_blocks}.")
    middle = torch.arange(1, n_blocks - 1)  # (M,) query blocks that are not global
    fixed = torch.stack([torch.zeros_like(middle), torch.full_like(middle, n_blocks - 1),
                         middle - 1, middle, middle + 1], dim=-1)  # (M, 5)
    # Random blocks: the n_random lowest of uniform noise over the blocks not attended yet (2.0 marks the
    # taken ones, and spare columns keep topk defined when fewer than n_random blocks are left).
    noise = torch.rand(n_heads, len(middle), n_blocks, generator=generator)  # (H, M, n_blocks)
    taken = torch.zeros(len(middle), n_blocks, dtype=torch.bool).scatter_(1, fixed, True)  # (M, n_blocks)
    spare = torch.full((n_heads, len(middle), n_random), 2.0)  # (H, M, r)
    # values and indices (H, M, r)
    lowest = torch.cat([noise.masked_fill(taken, 2.0), spare], dim=-1).topk(n_random, dim=-1, largest=False)
    drawn = lowest.values < 2.0  # (H, M, r)
    random = lowest.indices.masked_fill(~drawn, 0)  # an empty slot points at block 0 and does not count
    index = torch.cat([fixed.expand(n_heads, -1, -1), random], dim=-1)  # (H, M, 5 + r)
    fixed_valid = torch.ones_like(fixed, dtype=torch.bool)  # (M, 5)
    fixed_valid[:, 2] = middle - 1 > 0  # block 0 is already there as a global block
    fixed_valid[:, 4] = middle + 1 < n_blocks - 1  # so is the last block
    valid = torch.cat([fixed_valid.expand(n_heads, -1, -1), drawn], dim=-1)  # (H, M, 5 + r)
    return index, valid


def bigbird_mask(layout: Layout, block_size: int) -> Tensor:
    """The (H, T, T) boolean pattern of a layout: True where query i may attend to key j; for tests and
    pictures only."""
    index, valid = layout
    n_heads, n_middle, _ = index.shape
    n_blocks = n_middle + 2
    # (H, M, n_blocks): how often each key block is listed
    hits = torch.zeros(n_heads, n_middle, n_blocks, dtype=torch.long).scatter_add_(-1, index, valid.long())
    everything = torch.ones(n_heads, 1, n_blocks, dtype=torch.bool)  # a global query block's row
    blocks = torch.cat([everything, hits > 0, everything], dim=1)  # (H, query block, key block)
    return blocks.repeat_interleave(block_size, 1).repeat_interleave(block_size, 2)  # (H, T, T)


def bigbird_attention(q: Tensor, k: Tensor, v: Tensor, block_size: int, layout: Layout) -> Tensor:
    """Block-sparse attention: q, k, v (B, H, T, D) -> (B, H, T, D), T a multiple of block_size.

    Equal to full attention under `bigbird_mask(layout, block_size)`.
    """
    B, H, T, D = q.shape
    if T % block_size:
        raise ValueError(f"Sequence length ({T}) must be a multiple of block_size ({block_size}): pad it.")
    n_blocks = T // block_size
    index, valid = (t.to(q.device) for t in layout)
    if index.shape[:2] != (H, n_blocks - 2):
        raise ValueError(f"The layout is for {index.shape[0]} heads and {index.shape[1] + 2} blocks; "
                         f"the input has {H} heads and {n_blocks} blocks of {block_size}.")
    q = q / math.sqrt(D)
    q_blocks = q.unflatten(2, (n_blocks, block_size))[:, :, 1:-1]  # (B, H, M, b, D): middle query blocks
    heads = torch.arange(H, device=q.device)[:, None, None]  # (H, 1, 1), broadcast against index (H, M, K)

    def gathered(x: Tensor) -> Tensor:  # (B, H, T, D) -> (B, H, M, K b, D): each middle block's key blocks
        return x.unflatten(2, (n_blocks, block_size))[:, heads, index].flatten(3, 4)

    scores = q_blocks @ gathered(k).transpose(-1, -2)  # (B, H, M, b, K b)
    counts = valid.repeat_interleave(block_size, dim=-1)  # (H, M, K b)
    scores.masked_fill_(~counts[:, :, None, :], float("-inf"))  # in place: no second copy
    middle = scores.softmax(dim=-1) @ gathered(v)  # (B, H, M, b, D)

    ends = torch.cat([q[:, :, :block_size], q[:, :, -block_size:]], dim=2)  # (B, H, 2b, D): global queries
    ends = (ends @ k.transpose(-1, -2)).softmax(dim=-1) @ v  # (B, H, 2b, D)
    # (B, H, T, D)
    return torch.cat([ends[:, :, :block_size], middle.flatten(2, 3), ends[:, :, block_size:]], dim=2)

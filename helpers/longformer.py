"""Longformer's attention from scratch: a sliding window plus a few global tokens, in O(n * w) memory.

Every token attends to the `window // 2` tokens on each side of it; a global token (the [CLS] of a
classifier) attends to every token and every token attends to it (Beltagy et al., 2020). The band is computed
block by block: queries in blocks of w/2, each block scoring only its own and its two neighbouring key blocks,
so no (T, T) matrix is ever built.
"""

# Shapes: B batch, H heads, T tokens, D (Dh) per-head width, w the window, half = w/2 the block size,
# n blocks, G global tokens.

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sliding_window_mask(seq_len: int, window: int, global_tokens: Sequence[int] = ()) -> Tensor:
    """The (T, T) boolean pattern: True where query i may attend to key j; for tests and pictures only.

    >>> sliding_window_mask(5, 2, global_tokens=[0]).int()
    tensor([[1, 1, 1, 1, 1],
            [1, 1, 1, 0, 0],
            [1, 1, 1, 1, 0],
            [1, 0, 1, 1, 1],
            [1, 0, 0, 1, 1]], dtype=torch.int32)
    """
    _check_window(window)
    position = torch.arange(seq_len)
    mask = (position[:, None] - position[None, :]).abs() <= window // 2  # (T, T)
    g = torch.as_tensor(list(global_tokens), dtype=torch.long)
    mask[g, :] = True
    mask[:, g] = True
    return mask


def _check_window(window: int) -> None:
    if window <= 0 or window % 2:
        raise ValueError(f"window must be a positive even number (w/2 tokens on each side), got {window}.")


def band_blocks(x: Tensor, block: int) -> Tensor:
    """Key blocks n-1, n, n+1 side by side for every query block n (zeros beyond the ends).

    x: (..., n_blocks * block, D) -> (..., n_blocks, 3 * block, D)

    >>> band_blocks(torch.arange(4.).view(4, 1), 2).squeeze(-1)
    tensor([[0., 0., 0., 1., 2., 3.],
            [0., 1., 2., 3., 0., 0.]])
    """
    padded = F.pad(x, (0, 0, block, block))  # (..., (n_blocks + 2) * block, D)
    windows = padded.unfold(-2, 3 * block, block)  # (..., n_blocks, D, 3 * block): a view, no copy
    return windows.transpose(-1, -2)  # (..., n_blocks, 3 * block, D)


def sliding_window_attention(q: Tensor, k: Tensor, v: Tensor, window: int,
                             global_tokens: Sequence[int] = ()) -> Tensor:
    """Attention restricted to |i - j| <= window/2, plus global tokens; equal to full attention under
    `sliding_window_mask`, in O(T * window) memory.

    q, k, v: (..., T, D) -> (..., T, D). Global tokens' own rows attend to everything (full rows).
    """
    _check_window(window)
    *lead, T, D = q.shape
    half = window // 2
    n_blocks = math.ceil(T / half)
    pad = n_blocks * half - T
    g = torch.as_tensor(list(global_tokens), dtype=torch.long, device=q.device)  # (G,)
    q = q / math.sqrt(D)

    # The band: query block n against key blocks n-1, n, n+1; keep |i - j| <= half, real and non-global j.
    q_blocks = F.pad(q, (0, 0, 0, pad)).unflatten(-2, (n_blocks, half))  # (..., n, half, D)
    k_band = band_blocks(F.pad(k, (0, 0, 0, pad)), half)  # (..., n, 3 half, D)
    v_band = band_blocks(F.pad(v, (0, 0, 0, pad)), half)  # (..., n, 3 half, D)
    scores = q_blocks @ k_band.transpose(-1, -2)  # (..., n, half, 3 half)
    a = torch.arange(half, device=q.device)  # (half,): a query's offset in its block
    c = torch.arange(3 * half, device=q.device)  # (3 half,): a key's offset in the band
    in_band = (c[None, :] >= a[:, None]) & (c[None, :] <= a[:, None] + 2 * half)  # (half, 3 half)
    key_position = (torch.arange(n_blocks, device=q.device)[:, None] - 1) * half + c  # (n, 3 half)
    real_key = (key_position >= 0) & (key_position < T) & ~torch.isin(key_position, g)  # (n, 3 half)
    scores.masked_fill_(~(in_band & real_key[:, None, :]), float("-inf"))  # in place: no second copy

    if len(g):  # every query also sees the global keys, in extra columns
        global_scores = q_blocks @ k[..., g, :].unsqueeze(-3).transpose(-1, -2)  # (..., n, half, G)
        scores = torch.cat([scores, global_scores], dim=-1)  # (..., n, half, 3 half + G)
    probs = scores.softmax(dim=-1)
    out = probs[..., : 3 * half] @ v_band  # (..., n, half, D)
    if len(g):
        out = out + probs[..., 3 * half:] @ v[..., g, :].unsqueeze(-3)  # (..., n, half, G) @ (..., 1, G, D)
    out = out.flatten(-3, -2)[..., :T, :]  # (..., T, D)

    if len(g):  # global tokens' rows: full attention, O(G * T)
        out[..., g, :] = (q[..., g, :] @ k.transpose(-1, -2)).softmax(dim=-1) @ v  # (..., G, D)
    return out


class SlidingWindowSelfAttention(nn.Module):
    """Longformer's self-attention layer: local rows from query/key/value, global rows from their own
    query_global/key_global/value_global projections. Parameter names match transformers'
    `LongformerSelfAttention`, so its state dict loads as is."""

    def __init__(self, d_model: int, n_heads: int, window: int):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads}).")
        _check_window(window)
        self.n_heads, self.window = n_heads, window
        for name in ("query", "key", "value", "query_global", "key_global", "value_global"):
            setattr(self, name, nn.Linear(d_model, d_model))

    def heads(self, x: Tensor) -> Tensor:
        """(B, T, d_model) -> (B, heads, T, d_head)."""
        return x.unflatten(-1, (self.n_heads, -1)).transpose(1, 2)

    def forward(self, x: Tensor, global_tokens: Sequence[int] = ()) -> Tensor:
        """x: (B, T, d_model) -> (B, T, d_model)."""
        q, k, v = (self.heads(layer(x)) for layer in (self.query, self.key, self.value))  # (B, H, T, Dh)
        out = sliding_window_attention(q, k, v, self.window, global_tokens)  # (B, H, T, Dh)
        if len(global_tokens):
            g = list(global_tokens)
            qg = self.heads(self.query_global(x[:, g]))  # (B, H, G, Dh)
            kg, vg = self.heads(self.key_global(x)), self.heads(self.value_global(x))  # (B, H, T, Dh)
            scores = qg @ kg.transpose(-1, -2) / math.sqrt(qg.size(-1))  # (B, H, G, T)
            out[:, :, g] = scores.softmax(dim=-1) @ vg  # (B, H, G, Dh)
        return out.transpose(1, 2).flatten(-2)  # (B, T, d_model)

"""Attention from scratch: Bahdanau's additive and Luong's multiplicative scores for RNN decoders, scaled
dot-product and multi-head attention for the Transformer, the causal mask, and what attention costs."""

# Shapes: B batch, T query positions, S key (source) positions, E model width, h heads, d = E/h per head,
# A the additive score's hidden width, D_q and D_v the query and value widths.

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over the last axis, with weight 0 where mask is False (padding, or the future).

    >>> masked_softmax(torch.zeros(1, 3), torch.tensor([[True, True, False]])).tolist()
    [[0.5, 0.5, 0.0]]
    """
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1)


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2015): score(q, k_j) = v^T tanh(W_q q + W_k k_j), a one-hidden-layer network."""

    def __init__(self, query_dim: int, key_dim: int, hidden_dim: int):
        super().__init__()
        self.query = nn.Linear(query_dim, hidden_dim, bias=False)
        self.key = nn.Linear(key_dim, hidden_dim)
        self.v = nn.Linear(hidden_dim, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """W_k k_j for every source position; it does not change while decoding, so it is computed once."""
        return self.key(keys)  # (B, S, A)

    def forward(self, query: Tensor, projected_keys: Tensor, values: Tensor,
                mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The context (B, D_v) for query (B, D_q), and the attention weights (B, S)."""
        scores = self.v(torch.tanh(self.query(query)[:, None] + projected_keys)).squeeze(-1)  # (B, S)
        weights = masked_softmax(scores, mask)
        return (weights[:, :, None] * values).sum(1), weights  # (B, D_v), (B, S)


class MultiplicativeAttention(nn.Module):
    """Luong et al. (2015), 'general': score(q, k_j) = q^T W k_j, a dot product after one linear map."""

    def __init__(self, query_dim: int, key_dim: int):
        super().__init__()
        self.key = nn.Linear(key_dim, query_dim, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """W k_j for every source position, computed once per source."""
        return self.key(keys)  # (B, S, D_q)

    def forward(self, query: Tensor, projected_keys: Tensor, values: Tensor,
                mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The context (B, D_v) for query (B, D_q), and the attention weights (B, S)."""
        scores = (projected_keys @ query[:, :, None]).squeeze(-1)  # (B, S)
        weights = masked_softmax(scores, mask)
        return (weights[:, :, None] * values).sum(1), weights  # (B, D_v), (B, S)


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
                                 dropout: float = 0.0) -> tuple[Tensor, Tensor]:
    """softmax(Q K^T / sqrt(d_k)) V and the weights; `mask` (broadcast to (..., T_q, T_k)) is True where a
    query may look, the convention of F.scaled_dot_product_attention's boolean attn_mask."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., T_q, T_k)
    weights = masked_softmax(scores, mask)
    if dropout:
        weights = nn.functional.dropout(weights, dropout)
    return weights @ v, weights  # (..., T_q, d_v), (..., T_q, T_k)


def causal_mask(size: int, device: torch.device | None = None) -> Tensor:
    """(T, T): position t may look at positions 0..t only, never at the tokens it has to predict.

    >>> causal_mask(3).int().tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    """
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


class MultiHeadAttention(nn.Module):
    """h heads of scaled dot-product attention, each on its own d_model/h-dimensional projections of Q, K, V.

    Parameters are laid out like nn.MultiheadAttention's (in_proj_weight stacks W_q, W_k, W_v; out_proj), so
    its state_dict loads here. Inputs are batch first. need_weights=False hands the attention itself to
    F.scaled_dot_product_attention (fused, and on long inputs far lighter on memory); the result is the same.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} must be divisible by num_heads {num_heads}.")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        nn.init.xavier_uniform_(self.in_proj_weight)  # nn.MultiheadAttention's initialization
        nn.init.zeros_(self.out_proj.bias)

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, T, E) -> (B, h, T, E/h): each head sees its own slice of the projected features."""
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None,
                need_weights: bool = True) -> tuple[Tensor, Tensor | None]:
        """Attend from query (B, T, E) over key and value (B, S, E); weights (B, h, T, S) when asked for."""
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)  # (E, E) each
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)  # (E,) each
        q = self.split_heads(nn.functional.linear(query, w_q, b_q))  # (B, h, T, d)
        k = self.split_heads(nn.functional.linear(key, w_k, b_k))  # (B, h, S, d)
        v = self.split_heads(nn.functional.linear(value, w_v, b_v))  # (B, h, S, d)
        dropout = self.dropout if self.training else 0.0
        if need_weights:
            out, weights = scaled_dot_product_attention(q, k, v, mask, dropout)  # (B, h, T, d), (B, h, T, S)
        else:
            out, weights = nn.functional.scaled_dot_product_attention(q, k, v, mask, dropout), None
        return self.out_proj(out.transpose(1, 2).flatten(2)), weights  # heads side by side: (B, T, E)


def sinusoidal_positions(max_len: int, dim: int) -> Tensor:
    """(max_len, dim): sin and cos of position * 10000^(-2i/dim), the encoding of 'Attention is all you need'.

    Each pair of features turns at its own speed, from one turn every 2*pi positions to one every 10000*2*pi:
    every position gets a distinct pattern, and a fixed offset is the same rotation wherever it starts.
    >>> [round(x, 3) for x in sinusoidal_positions(2, 4)[1].tolist()]  # sin(1), cos(1), sin(0.01), cos(0.01)
    [0.841, 0.54, 0.01, 1.0]
    """
    position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (T, 1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32)
                          * (-math.log(10000.0) / dim))  # (dim/2,)
    encoding = torch.zeros(max_len, dim)  # (T, dim)
    encoding[:, 0::2] = torch.sin(position * frequency)  # (T, dim/2): the even features
    encoding[:, 1::2] = torch.cos(position * frequency)
    return encoding


class PositionalEncoding(nn.Module):
    """Adds a position vector to each token embedding: fixed sinusoids, learned vectors, or none at all."""

    def __init__(self, kind: str, max_len: int, dim: int):
        super().__init__()
        if kind not in ("sinusoidal", "learned", "none"):
            raise ValueError(f"Unknown positional encoding {kind!r}: choose sinusoidal, learned or none.")
        self.kind, self.max_len = kind, max_len
        if kind == "learned":
            self.learned = nn.Embedding(max_len, dim)
            nn.init.normal_(self.learned.weight, std=0.02)
        else:
            fixed = sinusoidal_positions(max_len, dim) if kind == "sinusoidal" else torch.zeros(max_len, dim)
            self.register_buffer("fixed", fixed, persistent=False)

    def vectors(self) -> Tensor:
        """The (max_len, dim) position vectors."""
        return self.learned.weight if self.kind == "learned" else self.fixed

    def forward(self, x: Tensor) -> Tensor:
        if x.size(1) > self.max_len:
            raise ValueError(f"A sequence of {x.size(1)} positions is longer than the {self.max_len} "
                             f"this encoding was built for: build it with a larger max_len.")
        return x + self.vectors()[: x.size(1)]  # (B, T, dim)


IMPLEMENTATIONS = ("from scratch", "PyTorch SDPA")


def peak_bytes(fn: Callable[[], object]) -> int:
    """Peak tensor memory allocated while fn() runs, in bytes, from the profiler's allocation events.

    Memory held before the call (the inputs) does not count; what fn allocates and still holds does.
    """
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    # Kineto, the profiler's engine, writes two "USDT ... profiler_start/stop" trace markers straight to the
    # process's stderr on every run (Jupyter shows them under the cell); level 6 keeps them quiet. It is read
    # once, when the profiler first starts, and a level the user set is left alone.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    cpu = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=cpu, profile_memory=True) as prof:
        fn()
    # The raw allocator records, one per malloc (+bytes) or free (-bytes), in the order they happened.
    records = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                     if e.name() == "[memory]")
    current = peak = 0
    for _, nbytes in records:
        current += nbytes
        peak = max(peak, current)
    return peak


def median_seconds(fn: Callable[[], object], repeats: int = 3) -> float:
    """Median wall-clock seconds of `repeats` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def attention_cost(n: int, implementation: str, dim: int = 64, heads: int = 4, repeats: int = 3) -> dict:
    """Time and peak memory of one self-attention call over n positions (one sequence, `heads` heads
    of `dim`), on the GPU when there is one: the median of `repeats` calls, and peak_bytes of one more."""
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"Unknown implementation {implementation!r}: choose one of {IMPLEMENTATIONS}.")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, heads, n, dim, device=device) for _ in range(3))  # (B, h, n, d)
    run = {"from scratch": lambda: scaled_dot_product_attention(q, k, v)[0],
           "PyTorch SDPA": lambda: nn.functional.scaled_dot_product_attention(q, k, v)}[implementation]
    seconds = median_seconds(run, repeats)  # after a warm-up call, so one-off setup is not measured
    return {"n": n, "implementation": implementation, "seconds": seconds, "peak_bytes": peak_bytes(run)}

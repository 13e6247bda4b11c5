"""Reformer's LSH attention from scratch: hash, sort, attend within chunks, combine several hash rounds.

Vectors that point the same way tend to land in the same bucket of an angular locality-sensitive hash
(a random rotation, then the argmax over [xR, -xR]). Sorting the tokens by bucket brings likely neighbours
together; cutting the sorted order into chunks and letting each chunk attend to itself and the chunk before
costs O(T * chunk) instead of O(T^2). Queries and keys are shared (keys are the queries scaled to unit
length), and a token attends to itself only when nothing else is available (Kitaev et al., 2020). This is
the computation of transformers' `LSHSelfAttention`, which the tests check it against.
"""

# Shapes: B batch, H heads, T tokens, D per-head width, R (rounds) hash rounds, chunk the chunk size,
# n_chunks = R T / chunk.

from __future__ import annotations

import math

import torch
from torch import Tensor

SELF_SCORE = -1e5  # a token's score with itself: used only when it has no other key (transformers' value)


def random_rotations(n_heads: int, dim: int, n_rounds: int, n_buckets: int,
                     generator: torch.Generator | None = None) -> Tensor:
    """One random projection per head and hash round: (heads, dim, rounds, n_buckets / 2)."""
    if n_buckets < 2 or n_buckets % 2:
        raise ValueError(f"n_buckets must be an even number of at least 2, got {n_buckets}.")
    return torch.randn(n_heads, dim, n_rounds, n_buckets // 2, generator=generator)


def hash_buckets(x: Tensor, rotations: Tensor) -> Tensor:
    """Angular LSH: bucket = argmax([xR, -xR]) for each round (Andoni et al., 2015).

    x: (B, H, T, D), rotations: (H, D, rounds, n_buckets / 2) -> buckets (B, H, rounds, T)

    >>> rotations = torch.eye(2).view(1, 2, 1, 2)          # one head, one round, 4 buckets
    >>> hash_buckets(torch.tensor([[[[1., .1], [.1, 1.], [-1., 0.], [0., -1.]]]]), rotations)
    tensor([[[[0, 1, 2, 3]]]])
    """
    rotated = torch.einsum("bhtd,hdrk->bhrtk", x, rotations)  # (B, H, rounds, T, n_buckets / 2)
    return torch.cat([rotated, -rotated], dim=-1).argmax(dim=-1)  # (B, H, rounds, T)


def sort_by_bucket(buckets: Tensor) -> Tensor:
    """The order that groups tokens by (round, bucket, position), as indices into rounds * T.

    buckets: (B, H, rounds, T) -> (B, H, rounds * T)

    >>> sort_by_bucket(torch.tensor([[[[1, 0, 1, 0]]]]))
    tensor([[[1, 3, 0, 2]]])
    """
    *_, n_rounds, T = buckets.shape
    n_buckets = int(buckets.max()) + 1
    round_offset = torch.arange(n_rounds, device=buckets.device)[:, None] * n_buckets  # (rounds, 1)
    key = (buckets + round_offset) * T + torch.arange(T, device=buckets.device)  # (B, H, rounds, T): unique
    return key.flatten(-2).argsort(dim=-1)  # (B, H, rounds * T)


def with_previous_chunk(x: Tensor) -> Tensor:
    """Each chunk with the one before it (the first wraps round): (B, H, n, c, *) -> (B, H, n, 2c, *)."""
    return torch.cat([x.roll(1, dims=2), x], dim=3)


def lsh_attention(qk: Tensor, v: Tensor, n_buckets: int, n_rounds: int, chunk_size: int,
                  rotations: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
    """Shared-QK LSH attention. qk, v: (B, H, T, D) -> (B, H, T, D); T must be a multiple of chunk_size.

    Each round sorts the tokens by bucket and attends within chunks of the sorted order (and to the chunk
    before); the rounds are then averaged, weighted by how much probability mass each round found.
    """
    B, H, T, D = qk.shape
    if T % chunk_size:
        raise ValueError(f"Sequence length ({T}) must be a multiple of chunk_size ({chunk_size}): pad it.")
    if rotations is None:
        rotations = random_rotations(H, D, n_rounds, n_buckets, generator).to(qk)  # (H, D, R, n_buckets / 2)
    order = sort_by_bucket(hash_buckets(qk.detach(), rotations))  # (B, H, R T)
    position = order % T  # (B, H, R T): the token at each sorted slot
    n_chunks = n_rounds * T // chunk_size

    def sorted_chunks(x: Tensor) -> Tensor:  # (B, H, T, D) -> (B, H, n_chunks, chunk, D)
        return x.gather(2, position[..., None].expand(-1, -1, -1, D)).unflatten(2, (n_chunks, chunk_size))

    q = sorted_chunks(qk)  # (B, H, n_chunks, chunk, D)
    # Keys: the queries at unit length (transformers' RMS norm divided by sqrt(D), eps included).
    unit = qk * torch.rsqrt(qk.pow(2).mean(-1, keepdim=True) + 1e-6) / math.sqrt(D)  # (B, H, T, D)
    k = with_previous_chunk(sorted_chunks(unit))  # (B, H, n_chunks, 2 chunk, D)
    values = with_previous_chunk(sorted_chunks(v))  # (B, H, n_chunks, 2 chunk, D)
    scores = q @ k.transpose(-1, -2)  # (B, H, n_chunks, chunk, 2 chunk)
    query_position = position.unflatten(2, (n_chunks, chunk_size))  # (B, H, n_chunks, chunk)
    key_position = with_previous_chunk(query_position)  # (B, H, n_chunks, 2 chunk)
    scores = scores.masked_fill(query_position[..., None] == key_position[..., None, :], SELF_SCORE)
    log_mass = scores.logsumexp(dim=-1, keepdim=True)  # (B, H, n_chunks, chunk, 1)
    out = (scores - log_mass).exp() @ values  # (B, H, n_chunks, chunk, D)

    # Undo the sort, then combine rounds: round r gets weight exp(log_mass_r) / sum over rounds.
    undo = order.argsort(dim=-1)  # (B, H, R T)
    out = out.flatten(2, 3).gather(2, undo[..., None].expand(-1, -1, -1, D)).unflatten(2, (n_rounds, T))
    log_mass = log_mass.flatten(2).gather(2, undo).unflatten(2, (n_rounds, T))  # (B, H, R, T)
    return (out * log_mass.softmax(dim=2)[..., None]).sum(dim=2)  # (B, H, T, D)


def lsh_key_counts(buckets: Tensor, chunk_size: int) -> Tensor:
    """How many times key j is among query i's candidates, over all rounds: (B, H, T, T).

    A query's candidates are the slots of its sorted chunk and of the chunk before; the first chunk of a
    round looks back at the last chunk of the round before, as in transformers. LSH attention equals full
    attention with scores s_ij + log(count_ij); for tests and pictures only.
    """
    *lead, n_rounds, T = buckets.shape
    order = sort_by_bucket(buckets)  # (B, H, R T)
    # (B, H, R T): where each (round, token) slot lands in the sorted order
    rank = torch.empty_like(order).scatter_(-1, order, torch.arange(order.size(-1)).expand_as(order))
    chunk = (rank // chunk_size).unflatten(-1, (n_rounds, T))  # (B, H, R, T): sorted chunk of each slot
    n_chunks = n_rounds * T // chunk_size
    query = chunk[..., :, :, None, None]  # (B, H, R, T, 1, 1): a query's chunk in round r
    key = chunk[..., None, None, :, :]  # (B, H, 1, 1, R, T): where key j sits in every round
    hits = (query == key) | ((query - 1) % n_chunks == key)  # (B, H, R, T, R, T)
    return hits.sum(dim=(-4, -2))  # (B, H, T, T)


def bucket_recall(x: Tensor, n_buckets: int, n_rounds: int, k: int = 1,
                  generator: torch.Generator | None = None) -> Tensor:
    """Share of each vector's k nearest neighbours (by angle) that share its bucket in at least one of the
    first r rounds, for r = 1 .. n_rounds. x: (T, D) -> (n_rounds,)."""
    unit = torch.nn.functional.normalize(x, dim=-1)
    similarity = (unit @ unit.T).fill_diagonal_(-2.0)  # (T, T): never your own neighbour
    neighbours = similarity.topk(k, dim=-1).indices  # (T, k)
    # (1, D, rounds, n_buckets / 2)
    rotations = random_rotations(1, x.size(-1), n_rounds, n_buckets, generator).to(x)
    buckets = hash_buckets(unit[None, None], rotations)[0, 0]  # (rounds, T)
    shared = buckets[:, neighbours] == buckets[:, :, None]  # (rounds, T, k)
    return shared.cummax(dim=0).values.float().mean(dim=(1, 2))  # (rounds,)

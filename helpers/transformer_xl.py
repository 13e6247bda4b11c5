"""Transformer-XL from scratch: segment-level recurrence and relative positional encoding (Dai et al., 2019).

A long text is read one segment at a time. Each layer keeps the hidden states it saw in the previous segment
as a memory, and the next segment's queries attend to [memory; segment]. The memory is a cache, not part of
the graph: no gradient flows into the past, so training costs one segment at a time while the context grows
by one memory length per layer. Because cached states are reused at new offsets, attention scores depend on
the distance i - j between query and key (sinusoids of the distance, two learned biases u and v), never on
absolute positions. transformers 5 no longer ships Transfo-XL; this is the model in a few dozen lines.
"""

# Shapes: B batch, T segment length, M memory length, K = M + T keys, H heads, Dh = d_model / H per head
# (d is d_model), V vocabulary, S segments; P positions in `sinusoid`, the period in `periodic_streams`.

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm


def sinusoid(positions: Tensor, dim: int) -> Tensor:
    """Sinusoidal embeddings of (relative) positions: (P,) -> (P, dim), sines then cosines.

    >>> sinusoid(torch.tensor([0., 1.]), 4)
    tensor([[0.0000, 0.0000, 1.0000, 1.0000],
            [0.8415, 0.0100, 0.5403, 0.9999]])
    """
    frequencies = 1.0 / 10_000 ** (torch.arange(0, dim, 2, dtype=torch.float) / dim)  # (dim / 2,)
    angles = positions.float()[:, None] * frequencies  # (P, dim / 2)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def rel_shift(x: Tensor) -> Tensor:
    """Re-index scores from distance order to key order.

    x[..., i, m] scores query i against distance K - 1 - m (so m = K - 1 is distance 0); the result
    y[..., i, j] = x[..., i, j + T - 1 - i] scores query i (at key position K - T + i) against key j.
    Entries with j > K - T + i (the future) are left-over values that the causal mask removes.

    >>> rel_shift(torch.arange(6.).view(2, 3))  # T = 2 queries, K = 3 keys (one of them memory)
    tensor([[1., 2., 0.],
            [3., 4., 5.]])
    """
    *lead, T, K = x.shape
    padded = torch.cat([x.new_zeros(*lead, T, 1), x], dim=-1)  # (..., T, K + 1)
    # view as (..., K + 1, T), drop the first row, read (..., K, T) as (..., T, K)
    return padded.view(*lead, K + 1, T)[..., 1:, :].reshape(*lead, T, K)


class RelativeSelfAttention(nn.Module):
    """Multi-head attention of a segment over [memory; segment] with relative positions:

    score(i, j) = (q_i + u) . k_j  +  (q_i + v) . W_R r_{i - j}, scaled by 1 / sqrt(d_head), causal.
    """

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads}).")
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.query = nn.Linear(d_model, d_model, bias=False)
        self.key_value = nn.Linear(d_model, 2 * d_model, bias=False)
        self.distance = nn.Linear(d_model, d_model, bias=False)  # W_R: projects the sinusoid of a distance
        self.content_bias = nn.Parameter(torch.zeros(n_heads, 1, self.d_head))  # u: "is this key relevant?"
        self.position_bias = nn.Parameter(torch.zeros(n_heads, 1, self.d_head))  # v: "is this far useful?"
        self.out = nn.Linear(d_model, d_model, bias=False)

    def heads(self, x: Tensor) -> Tensor:
        """(..., L, d_model) -> (..., heads, L, d_head)."""
        return x.unflatten(-1, (self.n_heads, self.d_head)).transpose(-3, -2)

    def forward(self, h: Tensor, memory: Tensor) -> Tensor:
        """h: (B, T, d_model), memory: (B, M, d_model) -> (B, T, d_model)."""
        T, M = h.size(1), memory.size(1)
        K = M + T
        q = self.heads(self.query(h))  # (B, H, T, Dh)
        context = torch.cat([memory, h], dim=1)  # (B, K, d_model)
        k, v = map(self.heads, self.key_value(context).chunk(2, dim=-1))  # (B, H, K, Dh) each
        distances = torch.arange(K - 1, -1, -1, device=h.device)  # K - 1, ..., 1, 0
        r = self.heads(self.distance(sinusoid(distances, h.size(-1)).to(h)))  # (H, K, Dh)
        content = (q + self.content_bias) @ k.transpose(-1, -2)  # (B, H, T, K)
        position = rel_shift((q + self.position_bias) @ r.transpose(-1, -2))  # (B, H, T, K)
        scores = (content + position) / math.sqrt(self.d_head)  # (B, H, T, K)
        # (T, K): key j lies after query i, which sits at key position M + i
        future = torch.arange(K, device=h.device)[None, :] > M + torch.arange(T, device=h.device)[:, None]
        weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)  # (B, H, T, K)
        return self.out((weights @ v).transpose(1, 2).flatten(-2))  # (B, T, d_model)


class XLLayer(nn.Module):
    """Relative self-attention and a feed-forward block, each with a residual connection and LayerNorm."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.attention = RelativeSelfAttention(d_model, n_heads)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: Tensor, memory: Tensor) -> Tensor:
        h = self.norm1(h + self.dropout(self.attention(h, memory)))  # (B, T, d_model)
        return self.norm2(h + self.dropout(self.feed_forward(h)))


def update_memory(memory: Tensor, h: Tensor, mem_len: int) -> Tensor:
    """The last `mem_len` states of [memory; h], cut from the graph: the next segment reads them, gradients
    stop there.

    >>> update_memory(torch.zeros(1, 2, 1), torch.ones(1, 3, 1, requires_grad=True), 4).flatten().tolist()
    [0.0, 1.0, 1.0, 1.0]
    """
    context = torch.cat([memory, h], dim=1)  # (B, M + T, d)
    # (B, min(mem_len, M + T), d)
    return context[:, context.size(1) - min(mem_len, context.size(1)):].detach()


def segment_mask(seq_len: int, seg_len: int, mem_len: int) -> Tensor:
    """(T, T) pattern of one layer reading a text segment by segment: each token sees the earlier tokens of
    its segment and the last `mem_len` tokens before the segment; for pictures.

    >>> segment_mask(4, 2, 1).int()
    tensor([[1, 0, 0, 0],
            [1, 1, 0, 0],
            [0, 1, 1, 0],
            [0, 1, 1, 1]], dtype=torch.int32)
    """
    i, j = torch.arange(seq_len)[:, None], torch.arange(seq_len)[None, :]  # (T, 1), (1, T)
    segment_start = i // seg_len * seg_len
    return (j <= i) & (j >= segment_start - mem_len)


class TransformerXL(nn.Module):
    """A Transformer-XL language model: tokens (B, T) and the last segment's memory -> logits (B, T, V) and
    the new memory."""

    def __init__(self, vocab_size: int, d_model: int = 64, n_heads: int = 4, n_layers: int = 2,
                 d_ff: int = 128, mem_len: int = 16, dropout: float = 0.0):
        super().__init__()
        self.d_model, self.mem_len = d_model, mem_len
        self.embed = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList(XLLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_layers))
        self.head = nn.Linear(d_model, vocab_size)

    def empty_memory(self, batch_size: int) -> list[Tensor]:
        """No past yet: one (B, 0, d_model) memory per layer."""
        return [self.embed.weight.new_zeros(batch_size, 0, self.d_model) for _ in self.layers]

    def forward(self, tokens: Tensor, memory: list[Tensor] | None = None) -> tuple[Tensor, list[Tensor]]:
        h = self.embed(tokens)  # (B, T, d): entries of size about 1 (nn.Embedding draws N(0, 1))
        memory = self.empty_memory(tokens.size(0)) if memory is None else memory
        new_memory = []
        for layer, past in zip(self.layers, memory):
            new_memory.append(update_memory(past, h, self.mem_len))  # what this layer saw: its input states
            h = layer(h, past)
        return self.head(h), new_memory  # (B, T, V), and one (B, min(mem_len, M + T), d) per layer

    def read(self, segments: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Read segments (B, S, T) in order, carrying the memory; the last segment's logits and memory."""
        memory = None
        for s in range(segments.size(1)):
            logits, memory = self(segments[:, s], memory)  # logits (B, T, V)
        return logits, memory


def context_reach(model: TransformerXL, segments: Tensor) -> Tensor:
    """How much the last position's logits move when one earlier token is replaced, by distance back.

    segments: (1, S, T) token ids -> (S * T,): entry d is the change caused by the token d positions back.
    Nonzero entries show how far back the model can see at all through its memories.
    """
    model.eval()
    stream = segments.flatten()  # (S * T,)
    with torch.no_grad():
        reference = model.read(segments)[0][0, -1]  # (V,)
        changes = torch.zeros(len(stream))
        for d in range(len(stream)):
            edited = stream.clone()
            p = len(stream) - 1 - d
            edited[p] = (edited[p] + 1) % model.embed.num_embeddings
            logits = model.read(edited.view_as(segments))[0][0, -1]  # (V,)
            changes[d] = (logits - reference).abs().max()
    return changes


def periodic_streams(batch_size: int, length: int, period: int, vocab_size: int,
                     generator: torch.Generator | None = None) -> Tensor:
    """Token streams (B, length) that repeat a random pattern of `period` tokens.

    Every token from position `period` on equals the one `period` back: predictable only by a model that
    can see that far, e.g. across a segment boundary through its memory.
    """
    pattern = torch.randint(vocab_size, (batch_size, period), generator=generator)  # (B, P)
    return pattern.repeat(1, math.ceil(length / period))[:, :length]


def _inputs_and_targets(stream: Tensor, n_segments: int) -> tuple[Tensor, Tensor]:
    """Next-token pairs cut into segments: (B, S T + 1) -> inputs and targets (B, S, T)."""
    return stream[:, :-1].unflatten(1, (n_segments, -1)), stream[:, 1:].unflatten(1, (n_segments, -1))


def train_periodic(model: TransformerXL, steps: int, batch_size: int = 32, n_segments: int = 4,
                   seg_len: int = 8, period: int = 12, lr: float = 1e-3, seed: int = 0,
                   progress: bool = True) -> list[float]:
    """Train next-token prediction on periodic streams, segment by segment with the memory carried; the
    mean loss of each step."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    bar = tqdm(range(steps), desc=f"Transformer-XL, memory {model.mem_len}", leave=True, disable=not progress)
    for _ in bar:
        stream = periodic_streams(batch_size, n_segments * seg_len + 1, period, model.embed.num_embeddings,
                                  generator)
        inputs, targets = _inputs_and_targets(stream, n_segments)  # (B, S, T) each
        memory, total = None, 0.0
        for s in range(n_segments):
            logits, memory = model(inputs[:, s], memory)  # logits (B, T, V)
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets[:, s].flatten())
            optimizer.zero_grad()
            loss.backward()  # this segment only: the memory it read is a constant
            optimizer.step()
            total += loss.item()
        losses.append(total / n_segments)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    return losses


def periodic_accuracy(model: TransformerXL, n_streams: int = 256, n_segments: int = 4, seg_len: int = 8,
                      period: int = 12, seed: int = 1) -> float:
    """Next-token accuracy on the predictable targets (those at least `period` into the stream)."""
    generator = torch.Generator().manual_seed(seed)
    vocab_size = model.embed.num_embeddings
    stream = periodic_streams(n_streams, n_segments * seg_len + 1, period, vocab_size, generator)
    inputs, targets = _inputs_and_targets(stream, n_segments)  # (B, S, T) each
    predictable = (torch.arange(1, n_segments * seg_len + 1) >= period).view(n_segments, seg_len)  # (S, T)
    model.eval()
    memory, correct = None, 0
    with torch.no_grad():
        for s in range(n_segments):
            logits, memory = model(inputs[:, s], memory)
            correct += int((logits.argmax(-1) == targets[:, s])[:, predictable[s]].sum())
    return correct / (int(predictable.sum()) * n_streams)

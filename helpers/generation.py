"""Decoding a causal language model: greedy, beam search, and sampling with temperature, top-k and top-p.

Each strategy turns the model's next-token logits into a choice, one token at a time. They are asserted equal
to transformers' `generate` and its logits processors (`TopKLogitsWarper`, `TopPLogitsWarper`) in the tests.
No key/value cache: every step re-reads the whole prefix, which is simple and fast enough for a tiny model.
"""

# Shapes: B batch, T tokens so far, V vocabulary, b beams alive.

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from helpers.training import model_device


@torch.no_grad()
def next_token_logits(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """(B, V) logits for the token after each prefix in `ids` (B, T)."""
    return model(input_ids=ids).logits[:, -1]


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row (and any tied with the k-th); the rest become -inf.

    >>> top_k_filter(torch.tensor([[1.0, 3.0, 2.0, 0.0]]), 2).tolist()
    [[-inf, 3.0, 2.0, -inf]]
    """
    kth = logits.topk(min(k, logits.size(-1)), dim=-1).values[..., -1:]  # (B, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the fewest top tokens whose probabilities sum to at least p (the nucleus); -inf elsewhere.

    A token stays when the tokens more probable than it hold less than p of the mass, so the top one
    always stays.

    >>> probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    >>> top_p_filter(probs.log(), 0.7).softmax(-1).tolist()  # 0.5 + 0.3 >= 0.7: two tokens, renormalized
    [[0.625, 0.375, 0.0, 0.0]]
    """
    sorted_logits, order = logits.sort(dim=-1, descending=True)  # (B, V)
    probs = sorted_logits.softmax(-1)
    mass_before = probs.cumsum(-1) - probs  # (B, V): probability of the tokens ranked above each one
    drop = mass_before >= p  # (B, V), in sorted order; scatter puts it back in vocabulary order
    return logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


@torch.no_grad()
def greedy(model: nn.Module, ids: torch.Tensor, steps: int) -> torch.Tensor:
    """Append the single most probable token `steps` times: (B, T + steps), on the model's device."""
    ids = ids.to(model_device(model))
    for _ in range(steps):
        ids = torch.cat([ids, next_token_logits(model, ids).argmax(-1, keepdim=True)], dim=1)  # (B, T + 1)
    return ids


@torch.no_grad()
def sample(model: nn.Module, ids: torch.Tensor, steps: int, temperature: float = 1.0,
           top_k: int | None = None, top_p: float | None = None,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw each next token from the model's distribution, reshaped: divided by `temperature`, then cut to the
    top k, then to the nucleus p (transformers' order). (B, T + steps), on the model's device.

    The draws are made where `generator` lives (the model's device without one), so a seeded CPU generator
    serves a model on any device and makes the same draws there."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive (use greedy for the limit 0), got {temperature}.")
    ids = ids.to(model_device(model))
    draw = generator.device if generator is not None else ids.device
    for _ in range(steps):
        logits = next_token_logits(model, ids) / temperature  # (B, V)
        if top_k is not None:
            logits = top_k_filter(logits, top_k)
        if top_p is not None:
            logits = top_p_filter(logits, top_p)
        choice = torch.multinomial(logits.softmax(-1).to(draw), 1, generator=generator)  # (B, 1)
        ids = torch.cat([ids, choice.to(ids.device)], dim=1)  # (B, T + 1)
    return ids


@torch.no_grad()
def beam_search(model: nn.Module, ids: torch.Tensor, steps: int, beams: int) -> tuple[torch.Tensor, float]:
    """Keep the `beams` most probable continuations each step; the best after `steps` and its log-probability.

    `ids` is one prompt (1, T). Every beam has the same length here (no end token), so the sum of
    log-probabilities ranks them without any length penalty.
    """
    if ids.size(0) != 1:
        raise ValueError(f"beam_search decodes one prompt at a time, got a batch of {ids.size(0)}.")
    ids = ids.to(model_device(model))
    scores = torch.zeros(1, device=ids.device)  # (b,): log-probability of each beam so far
    for _ in range(steps):
        log_probs = next_token_logits(model, ids).log_softmax(-1)  # (b, V)
        vocab = log_probs.size(-1)
        best = (scores[:, None] + log_probs).flatten().topk(beams)  # over every (beam, next token) pair
        ids = torch.cat([ids[best.indices // vocab], (best.indices % vocab)[:, None]], dim=1)  # (beams, T+1)
        scores = best.values  # (beams,)
    return ids[:1], scores[0].item()


def distinct_n(sequences: Sequence[Sequence[int]], n: int) -> float:
    """Distinct n-grams over all n-grams in the sequences: 1.0 never repeats itself, near 0 loops.

    >>> distinct_n([[1, 2, 1, 2, 1]], 2)  # (1,2) (2,1) (1,2) (2,1): 2 distinct of 4
    0.5
    """
    grams = [tuple(s[i:i + n]) for s in sequences for i in range(len(s) - n + 1)]
    return len(set(grams)) / max(len(grams), 1)


@torch.no_grad()
def mean_log_prob(model: nn.Module, ids: torch.Tensor, prompt_len: int) -> float:
    """Mean log-probability per generated token (after the prompt) by the model itself, at temperature 1."""
    ids = ids.to(model_device(model))
    log_probs = model(input_ids=ids).logits[:, :-1].log_softmax(-1)  # (B, T-1, V): predicting tokens 1..T-1
    picked = log_probs.gather(-1, ids[:, 1:, None])[..., 0]  # (B, T-1)
    return picked[:, prompt_len - 1:].mean().item()

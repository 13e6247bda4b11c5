"""Decoding from scratch: greedy, beam search with length normalization, and exhaustive search to check it.

A model to decode is anything with `start(src, src_lengths) -> state` and
`step(tokens, state) -> (logits, state)`, the state being a dict of batch-first tensors: beam search then
follows a hypothesis by selecting its rows.
The RNN encoder-decoders of chapter 04 and the Transformer of chapter 05 both have these two methods.
"""

# Shapes: B batch, S source positions, P forced-prefix length, K prefixes alive in the beam, V target
# vocabulary.

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from helpers.training import model_device

State = dict[str, Tensor]


def select(state: State, rows: Tensor) -> State:
    """The state of the hypotheses in `rows` (a row may be chosen twice: a prefix with two children)."""
    return {k: v.index_select(0, rows) for k, v in state.items()}


def normalized_score(log_prob: float, length: int, alpha: float) -> float:
    """log P(y) / length**alpha: alpha = 0 is the raw log-probability, alpha = 1 the per-token average.

    Every extra token multiplies P(y) by a number below 1, so without normalization search prefers
    short outputs.
    >>> normalized_score(-2.0, 4, 0.0), normalized_score(-2.0, 4, 1.0)
    (-2.0, -0.5)
    """
    return log_prob / length**alpha


@torch.no_grad()
def greedy_decode(model: nn.Module, src: Tensor, src_lengths: Tensor, bos: int, eos: int, max_len: int,
                  prefix: Tensor | None = None) -> list[list[int]]:
    """The most probable next token at every step, for a whole batch at once; outputs without <eos>.

    With `prefix` (B, P), the decoder is first made to read those tokens, whatever it would have chosen
    (they start each output), and continues greedily from there. Inputs move to the model's device.
    """
    src, src_lengths = src.to(model_device(model)), src_lengths.to(model_device(model))
    prefix = prefix.to(src.device) if prefix is not None else None
    state = model.start(src, src_lengths)
    tokens = torch.full((src.size(0),), bos, dtype=torch.long, device=src.device)  # (B,): <bos> in every row
    forced = prefix.unbind(1) if prefix is not None else ()  # P tensors (B,), one per step
    steps, done = [], torch.zeros_like(tokens, dtype=torch.bool)
    for t in range(max_len):
        logits, state = model.step(tokens, state)  # logits (B, V)
        tokens = forced[t] if t < len(forced) else logits.argmax(-1)  # (B,)
        steps.append(tokens)
        done |= tokens == eos
        if done.all():  # stop when every sequence has ended, not at max_len
            break
    rows = torch.stack(steps, dim=1).tolist()  # (B, steps taken)
    return [row[: row.index(eos)] if eos in row else row for row in rows]


@dataclass(order=True)
class Hypothesis:
    """A finished output, ordered by its normalized score."""

    score: float
    tokens: list[int] = field(compare=False)
    log_prob: float = field(compare=False)


@torch.no_grad()
def beam_search(model: nn.Module, src: Tensor, src_length: Tensor, bos: int, eos: int, max_len: int,
                beam_size: int = 5, alpha: float = 0.0) -> list[Hypothesis]:
    """Keep the `beam_size` most probable prefixes at each step; return the finished ones, best first.

    One source at a time (src (S,), src_length ()). A prefix that emits <eos> leaves the beam as a finished
    hypothesis, so the beam shrinks; the search stops when no prefix is left or at max_len, where the prefixes
    still alive finish as they are. Finished hypotheses are compared by
    normalized_score(log P, length, alpha), length counting <eos>. beam_size = 1 is greedy search.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}.")
    src, src_length = src.to(model_device(model)), src_length.to(model_device(model))
    state = model.start(src[None], src_length.reshape(1))  # a batch of one source: (1, S)
    # log_probs (K,), K = 1 at first
    prefixes, log_probs, finished = [[]], torch.zeros(1, device=src.device), []
    tokens = torch.full((1,), bos, dtype=torch.long, device=src.device)
    for t in range(max_len):
        logits, state = model.step(tokens, state)  # logits (K, V)
        candidates = log_probs[:, None] + logits.log_softmax(-1)  # (K, V): each prefix times each next token
        # over all K * V (prefix, token) pairs
        top = candidates.flatten().topk(min(beam_size, candidates.numel()))
        rows, keep = [], []
        for log_prob, index in zip(top.values.tolist(), top.indices.tolist()):
            row, token = divmod(index, candidates.size(1))
            tokens_so_far = prefixes[row] + [token]
            if token == eos or t == max_len - 1:
                output = tokens_so_far[:-1] if token == eos else tokens_so_far
                finished.append(Hypothesis(normalized_score(log_prob, len(tokens_so_far), alpha),
                                           output, log_prob))
            else:
                rows.append(row)
                keep.append((tokens_so_far, log_prob))
        if not keep:
            break
        index = torch.tensor(rows, device=src.device)  # (K,): the old row each kept prefix extends
        state = select(state, index)
        prefixes = [p for p, _ in keep]
        log_probs = torch.tensor([lp for _, lp in keep], device=src.device)  # (K,) for the new K
        tokens = torch.tensor([p[-1] for p in prefixes], device=src.device)  # (K,): each prefix's last token
    return sorted(finished, reverse=True)


@torch.no_grad()
def exhaustive_search(model: nn.Module, src: Tensor, src_length: Tensor, bos: int, eos: int, max_len: int,
                      alpha: float = 0.0) -> Hypothesis:
    """Score every output up to max_len tokens and return the best: V**max_len of them, tiny V only."""
    src, src_length = src.to(model_device(model)), src_length.to(model_device(model))
    start = model.start(src[None], src_length.reshape(1))
    vocab_size = model.step(torch.tensor([bos], device=src.device), start)[0].size(-1)
    best = None
    for length in range(1, max_len + 1):
        for output in itertools.product(range(vocab_size), repeat=length):
            if eos in output[:-1] or (length < max_len and output[-1] != eos):
                continue  # <eos> ends an output; only outputs cut at max_len may lack it
            state, log_prob = start, 0.0
            for previous, token in zip((bos, *output), output):
                # logits (1, V)
                logits, state = model.step(torch.tensor([previous], device=src.device), state)
                log_prob += logits.log_softmax(-1)[0, token].item()
            tokens = list(output[:-1] if output[-1] == eos else output)
            candidate = Hypothesis(normalized_score(log_prob, length, alpha), tokens, log_prob)
            best = candidate if best is None or candidate > best else best
    return best


class TableDecoder(nn.Module):
    """A toy model to decode: the next token's probabilities depend only on the previous token (a table).

    It ignores the source, which makes it a clear place to see greedy search miss the most probable output.
    """

    def __init__(self, probabilities: Tensor):
        super().__init__()
        if probabilities.dim() != 2 or probabilities.size(0) != probabilities.size(1):
            raise ValueError(f"Give a square (V, V) table of P(next | previous), "
                             f"got {tuple(probabilities.shape)}.")
        self.register_buffer("log_table", probabilities.log())

    def start(self, src: Tensor, src_lengths: Tensor) -> State:
        # (B, 0): no content, only rows for select
        return {"batch": torch.zeros(src.size(0), 0, device=src.device)}

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        return self.log_table[tokens], state  # (B, V)

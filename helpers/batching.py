"""From encoded reviews to batches and back: truncation, padding and its mask, length-bucketed sampling,
the collate functions and the DataLoader, pooling over the real tokens, and predicting in length order.

Every chapter that trains on IMDB batches its reviews with these: the from-scratch models of 03 and 05 read
{"ids", "lengths"} (`pad_collate`), the pre-trained ones of 06-08 {"input_ids", "attention_mask"}
(`pad_batch`). Pooling lives here too: it is padding's other half, reading the real steps of a padded batch.
"""

# Shapes: B batch, T (or steps) time steps of the padded batch, D feature width.

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Sampler

from helpers.checks import check_size, check_sizes

# What a loader yields: (model.forward's keyword inputs, labels (B,)).
Batch = tuple[dict[str, Tensor], Tensor]

T = TypeVar("T")
Example = tuple[Tensor, int]  # one review's ids and its label
RNGS = ("torch", "python")  # the random streams LengthBucketSampler can draw from


# ---------------------------------------------------------------- truncation


def head_and_tail(items: Sequence[T], n: int | None, head: int | None = None) -> list[T]:
    """At most n items: the first `head` (default n // 2) and the last n - head; all of them when n is
    None. Reviews often state their verdict at the start or the end.

    >>> head_and_tail(list("abcdefgh"), 4)
    ['a', 'b', 'g', 'h']
    >>> head_and_tail([1, 2, 3, 4, 5, 6, 7, 8], 4, head=1), head_and_tail([1, 2, 3], 4)
    ([1, 6, 7, 8], [1, 2, 3])
    """
    if n is None or len(items) <= check_size(n, "n"):
        return list(items)
    head = n // 2 if head is None else head
    if not 0 <= head <= n:
        raise ValueError(f"head must be between 0 and n={n}, got {head}.")
    return list(items[:head]) + list(items[len(items) - (n - head):])


# ---------------------------------------------------------------- padding, its mask, pooling


def padding_mask(lengths: Tensor, steps: int) -> Tensor:
    """(B, steps) booleans: True where step t is a real token of that sequence, False on padding.

    >>> padding_mask(torch.tensor([3, 1]), 4)
    tensor([[ True,  True,  True, False],
            [ True, False, False, False]])
    """
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]  # (B, steps)


def pad_ids(sequences: Sequence[Sequence[int] | Tensor], pad_id: int = 0) -> tuple[Tensor, Tensor]:
    """Id sequences padded with pad_id to the longest (B, T), and their true lengths (B,).

    >>> ids, lengths = pad_ids([[2, 3], [4]])
    >>> ids.tolist(), lengths.tolist()
    ([[2, 3], [4, 0]], [2, 1])
    """
    if not len(sequences):
        raise ValueError("A batch needs at least one sequence.")
    ids = [torch.as_tensor(s, dtype=torch.long) for s in sequences]
    lengths = torch.tensor([len(s) for s in ids])  # (B,)
    return pad_sequence(ids, batch_first=True, padding_value=pad_id), lengths  # (B, T), (B,)


def mean_pool(x: Tensor, mask: Tensor) -> Tensor:
    """The mean of x (B, T, D) over the steps where mask (B, T) is true (or 1): (B, D).

    >>> states = torch.tensor([[[1.0], [3.0], [-9.0]], [[2.0], [-9.0], [-9.0]]])  # (2, 3, 1), -9: padding
    >>> mean_pool(states, padding_mask(torch.tensor([2, 1]), 3))
    tensor([[2.],
            [2.]])
    """
    weights = mask[..., None].to(x.dtype)  # (B, T, 1)
    return (x * weights).sum(1) / weights.sum(1).clamp(min=1)  # (B, D); an empty row gives 0, not NaN


def max_pool(x: Tensor, mask: Tensor) -> Tensor:
    """The element-wise max of x (B, T, D) over the steps where mask (B, T) is true (or 1): (B, D).

    >>> states = torch.tensor([[[1.0], [3.0], [-9.0]], [[2.0], [-9.0], [-9.0]]])  # (2, 3, 1), -9: padding
    >>> max_pool(states, padding_mask(torch.tensor([2, 1]), 3))
    tensor([[3.],
            [2.]])
    """
    return x.masked_fill(~mask[..., None].bool(), float("-inf")).amax(1)  # (B, D)


# ---------------------------------------------------------------- collate functions


def pad_collate(examples: list[Example]) -> Batch:
    """(ids, label) examples -> ({"ids" (B, T) padded with 0, "lengths" (B,)}, labels (B,)).

    >>> inputs, labels = pad_collate([(torch.tensor([2, 3]), 1), (torch.tensor([4]), 0)])
    >>> inputs["ids"].tolist(), inputs["lengths"].tolist(), labels.tolist()
    ([[2, 3], [4, 0]], [2, 1], [1, 0])
    """
    ids, lengths = pad_ids([e if len(e) else [0] for e, _ in examples])  # an empty review reads one <pad>
    return {"ids": ids, "lengths": lengths}, torch.tensor([label for _, label in examples])


def bag_collate(examples: list[Example]) -> Batch:
    """Concatenate the reviews' ids with offsets, as nn.EmbeddingBag expects; an empty review
    bags one <pad>.

    >>> inputs, labels = bag_collate([(torch.tensor([2, 3]), 1), (torch.tensor([4]), 0)])
    >>> inputs["ids"].tolist(), inputs["offsets"].tolist(), labels.tolist()
    ([2, 3, 4], [0, 2], [1, 0])
    """
    ids = [e if len(e) else e.new_zeros(1) for e, _ in examples]
    lengths = torch.tensor([len(e) for e in ids])
    offsets = lengths.cumsum(0) - lengths  # (B,): where each review starts
    labels = torch.tensor([label for _, label in examples])
    return {"ids": torch.cat(ids), "offsets": offsets}, labels


def pad_batch(sequences: Sequence[Sequence[int]], labels: Sequence[int], pad_id: int = 0) -> Batch:
    """Pad id lists to the longest in the batch, as Hugging Face encoders read them: the attention mask is
    1 on real tokens, 0 on padding.

    >>> inputs, labels = pad_batch([[101, 7, 102], [101, 102]], [1, 0])
    >>> inputs["input_ids"].tolist(), inputs["attention_mask"].tolist(), labels.tolist()
    ([[101, 7, 102], [101, 102, 0]], [[1, 1, 1], [1, 1, 0]], [1, 0])
    """
    input_ids, lengths = pad_ids(sequences, pad_id)  # (B, T), (B,)
    attention_mask = padding_mask(lengths, input_ids.size(1)).long()  # (B, T)
    return {"input_ids": input_ids, "attention_mask": attention_mask}, torch.tensor(labels, dtype=torch.long)


def collate_padded(pad_id: int) -> Callable[[list[Example]], Batch]:
    """A DataLoader collate function: (ids, label) examples -> pad_batch's inputs and labels."""
    return lambda examples: pad_batch([ids.tolist() for ids, _ in examples], [y for _, y in examples], pad_id)


# ---------------------------------------------------------------- sampling and the DataLoader


class LengthBucketSampler(Sampler[list[int]]):
    """Batches of indices whose sequences have similar lengths, in a new random order every epoch.

    Shuffle, sort by length within chunks of `bucket` batches, cut into batches, shuffle the batches:
    as random as plain shuffling at the scale of an epoch, with little padding inside each batch.
    shuffle=False keeps the sort and the order of the chunks and batches (to evaluate).

    `rng` picks the random stream: "torch", one torch.Generator for all epochs (chapters 03, 06-08), or
    "python", a random.Random(seed + epoch) each epoch (chapter 05). They draw different orders, equally
    random; each chapter keeps the one its measured results were made with.
    """

    def __init__(self, lengths: Sequence[int] | Tensor, batch_size: int, bucket: int = 50, seed: int = 0,
                 shuffle: bool = True, rng: str = "torch"):
        check_sizes(batch_size=batch_size, bucket=bucket)
        if rng not in RNGS:
            raise ValueError(f"Unknown rng {rng!r}: choose one of {', '.join(RNGS)}.")
        self.lengths, self.batch_size, self.bucket = torch.as_tensor(lengths).tolist(), batch_size, bucket
        self.seed, self.shuffle, self.rng, self.epoch = seed, shuffle, rng, 0
        self.generator = torch.Generator().manual_seed(seed)  # one stream: every epoch differs

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def permutations(self) -> Callable[[int], list[int]]:
        """This epoch's source of orders: n -> a permutation of range(n) (the identity without shuffle)."""
        if not self.shuffle:
            return lambda n: list(range(n))
        if self.rng == "torch":
            return lambda n: torch.randperm(n, generator=self.generator).tolist()
        stream = random.Random(self.seed + self.epoch)

        def permutation(n: int) -> list[int]:
            order = list(range(n))
            stream.shuffle(order)  # shuffling any list of length n moves its items the same way
            return order

        return permutation

    def __iter__(self) -> Iterator[list[int]]:
        permutation = self.permutations()
        self.epoch += self.shuffle
        order, chunk = permutation(len(self.lengths)), self.bucket * self.batch_size
        order = [i for start in range(0, len(order), chunk)  # sorted() is stable: ties keep the shuffle
                 for i in sorted(order[start:start + chunk], key=self.lengths.__getitem__)]
        batches = [order[start:start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        for b in permutation(len(batches)):
            yield batches[b]


def make_loader(encoded: Sequence[Sequence[int]], labels: Sequence[int], batch_size: int,
                collate: Callable[[list[Example]], Batch] = pad_collate, shuffle: bool = False,
                seed: int = 0) -> DataLoader:
    """A DataLoader over (ids, label) pairs: length-bucketed random batches to train (shuffle),
    batches in input order otherwise."""
    check_sizes(batch_size=batch_size)
    if len(encoded) != len(labels):
        raise ValueError(f"{len(encoded)} encoded texts but {len(labels)} labels: "
                         "give one label per text.")
    examples = [(torch.tensor(e, dtype=torch.long), int(y)) for e, y in zip(encoded, labels)]
    if shuffle:
        sampler = LengthBucketSampler([len(e) for e in encoded], batch_size, seed=seed)
        return DataLoader(examples, batch_sampler=sampler, collate_fn=collate)
    return DataLoader(examples, batch_size=batch_size, collate_fn=collate)


def in_length_order(predict: Callable[[list[int]], Tensor], lengths: Sequence[int]) -> Tensor:
    """predict(order) on the indices sorted by length (similar lengths share a batch: little padding),
    its rows put back in the input's order.

    >>> in_length_order(lambda order: torch.tensor(order) * 10, [3, 1, 2])  # predict sees [1, 2, 0]
    tensor([ 0, 10, 20])
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)  # stable: equal lengths keep their order
    return predict(order)[torch.argsort(torch.tensor(order))]

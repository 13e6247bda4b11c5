import doctest

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from helpers import batching, finetune


def test_docstring_examples_are_true():
    result = doctest.testmod(batching)
    assert result.attempted and not result.failed


# --- head_and_tail: one truncation for word lists (03), word ids (05) and WordPiece ids (06-08)


def test_head_and_tail_keeps_both_ends_of_any_list():
    assert batching.head_and_tail(list(range(10)), 4) == [0, 1, 8, 9]
    assert batching.head_and_tail(list(range(10)), 5) == [0, 1, 7, 8, 9]  # the odd one goes to the tail
    assert batching.head_and_tail(["a", "b"], 4) == ["a", "b"]
    assert batching.head_and_tail(list("abcdef"), None) == list("abcdef")
    assert batching.head_and_tail(list(range(10)), 4, head=0) == [6, 7, 8, 9]
    assert batching.head_and_tail(list(range(10)), 4, head=4) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="head must be between 0 and n=4"):
        batching.head_and_tail(list(range(10)), 4, head=5)
    with pytest.raises(ValueError, match="n must be a positive int"):
        batching.head_and_tail([1, 2], 0)


def test_finetune_truncate_is_head_and_tail_with_its_own_default_head():
    ids = list(range(100))
    assert finetune.truncate(ids, 10, "head+tail") == batching.head_and_tail(ids, 10, head=3)  # ceil(10 / 4)
    assert finetune.truncate(ids, 10, "head") == batching.head_and_tail(ids, 10, head=10)
    assert finetune.truncate(ids, 10, "tail") == batching.head_and_tail(ids, 10, head=0)


# --- padding, its mask and pooling


def test_padding_mask_marks_the_real_steps():
    mask = batching.padding_mask(torch.tensor([2, 0, 3]), 3)  # (B, T)
    assert mask.tolist() == [[True, True, False], [False, False, False], [True, True, True]]


def test_padding_mask_is_the_attention_mask_of_pad_batch_and_the_one_chapter_05_broadcast():
    lengths = torch.tensor([3, 1, 2])
    inputs, _ = batching.pad_batch([[7, 8, 9], [7], [7, 8]], [0, 0, 0])
    assert torch.equal(batching.padding_mask(lengths, 3).long(), inputs["attention_mask"])
    # Chapter 05 once built its (B, 1, 1, T) mask from scratch; it is the (B, T) mask broadcast.
    old = (torch.arange(3)[None, :] < lengths[:, None])[:, None, None, :]
    assert torch.equal(batching.padding_mask(lengths, 3)[:, None, None], old)


def test_pooling_ignores_padding():
    states = torch.tensor([[[1.0, -1.0], [3.0, 5.0], [99.0, 99.0]]])  # (1, 3, 2); the last step is padding
    mask = batching.padding_mask(torch.tensor([2]), 3)
    assert batching.max_pool(states, mask).tolist() == [[3.0, 5.0]]
    assert batching.mean_pool(states, mask).tolist() == [[2.0, 2.0]]
    assert batching.mean_pool(states, mask.long()).tolist() == [[2.0, 2.0]]  # a 0/1 attention mask


def test_mean_pool_equals_the_three_poolings_it_replaced():
    x = torch.randn(3, 5, 4)  # (B, T, D)
    lengths = torch.tensor([5, 2, 3])
    mask = batching.padding_mask(lengths, 5)  # (B, T)
    real = mask[..., None]  # (B, T, 1): how 03's BiLSTM and 05's encoder pooled
    torch.testing.assert_close(batching.mean_pool(x, mask), (x * real).sum(1) / real.sum(1), rtol=0, atol=0)
    torch.testing.assert_close(batching.max_pool(x, mask), x.masked_fill(~real, float("-inf")).amax(1),
                               rtol=0, atol=0)
    weights = mask.long()[..., None].float()  # 06's pooling over the attention mask
    torch.testing.assert_close(batching.mean_pool(x, mask.long()),
                               (x * weights).sum(1) / weights.sum(1).clamp(min=1), rtol=0, atol=0)


# --- collate functions


def test_pad_collate_pads_with_zero_and_keeps_lengths():
    inputs, labels = batching.pad_collate([(torch.tensor([5, 6, 7]), 0), (torch.tensor([8]), 1)])
    assert inputs["ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert inputs["lengths"].tolist() == [3, 1] and labels.tolist() == [0, 1]


def test_pad_collate_takes_lists_as_chapter_05_s_collate_did():
    examples = [([5, 6, 7], 0), (list(range(2, 12)), 1)]
    inputs, labels = batching.pad_collate(examples)
    old_ids = pad_sequence([torch.tensor(x) for x, _ in examples], batch_first=True, padding_value=0)
    assert torch.equal(inputs["ids"], old_ids) and inputs["ids"].dtype == torch.long
    assert inputs["lengths"].tolist() == [3, 10] and labels.tolist() == [0, 1]


def test_pad_collate_reads_an_empty_review_as_one_pad():
    inputs, _ = batching.pad_collate([(torch.tensor([], dtype=torch.long), 1), (torch.tensor([4, 5]), 0)])
    assert inputs["ids"].tolist() == [[0, 0], [4, 5]] and inputs["lengths"].tolist() == [1, 2]


def test_pad_batch_pads_with_the_tokenizer_s_pad_id():
    inputs, labels = batching.pad_batch([[101, 7, 102], [101, 102]], [1, 0], pad_id=3)
    assert inputs["input_ids"].tolist() == [[101, 7, 102], [101, 102, 3]]
    assert inputs["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]] and labels.tolist() == [1, 0]
    assert inputs["input_ids"].dtype == inputs["attention_mask"].dtype == labels.dtype == torch.long
    with pytest.raises(ValueError, match="at least one sequence"):
        batching.pad_batch([], [])
    collate = batching.collate_padded(3)
    assert torch.equal(collate([(torch.tensor([101, 7, 102]), 1),
                                (torch.tensor([101, 102]), 0)])[0]["input_ids"],
                       inputs["input_ids"])


# --- the sampler


LENGTHS = [(i * 37) % 11 for i in range(101)]


def test_length_bucket_sampler_covers_every_example_once_and_reshuffles():
    lengths = [1 + i % 7 for i in range(50)]
    for rng in batching.RNGS:
        sampler = batching.LengthBucketSampler(lengths, batch_size=8, bucket=2, rng=rng)
        epochs = [list(sampler) for _ in range(2)]
        assert len(sampler) == 7 == len(epochs[0])
        assert sorted(i for batch in epochs[0] for i in batch) == list(range(50))
        assert sorted(i for batch in epochs[1] for i in batch) == list(range(50))
        assert epochs[0] != epochs[1]


def test_length_bucketing_wastes_less_padding_than_plain_shuffling():
    lengths = torch.randint(1, 500, (2_000,), generator=torch.Generator().manual_seed(0)).tolist()

    def padding(batches):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)

    shuffled = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0)).split(32)
    for rng in batching.RNGS:
        bucketed = list(batching.LengthBucketSampler(lengths, batch_size=32, rng=rng))
        assert padding(bucketed) < padding([b.tolist() for b in shuffled]) / 5


# Recorded from the two samplers this one replaced, over two epochs each: classifiers.LengthBucketSampler(
# LENGTHS, batch_size=4, bucket=3, seed=1) (chapter 03) and transformer.LengthBuckets(LENGTHS, 2,
# shuffle=True, seed=3) (chapter 05). The batches, flattened; every batch is full but one, at the
# index given.
TORCH_EPOCHS = [
    73, 21, 93, 74, 9, 76, 35, 71, 55, 47, 50, 23, 46, 60, 8, 96, 66, 77, 39, 83, 56, 10, 57, 85,
    100, 92, 7, 79, 81, 37, 38, 5, 13, 27, 16, 52, 68, 49, 41, 19, 30, 22, 34, 4, 87, 94, 15, 18,
    43, 98, 32, 90, 2, 99, 33, 36, 61, 11, 0, 3, 86, 88, 69, 14, 6, 58, 91, 25, 72, 78, 59, 40, 29,
    70, 84, 51, 62, 44, 80, 28, 67, 42, 97, 1, 45, 17, 31, 64, 26, 12, 48, 95, 24, 54, 65, 82, 63,
    75, 53, 20, 89, 72, 31, 98, 76, 55, 44, 6, 45, 1, 59, 73, 7, 9, 100, 40, 18, 29, 32, 43, 13, 15,
    2, 82, 52, 88, 80, 39, 83, 25, 50, 56, 4, 62, 35, 38, 96, 92, 84, 65, 41, 22, 69, 91, 28, 36,
    75, 34, 67, 46, 79, 8, 85, 0, 11, 66, 77, 87, 60, 19, 30, 99, 61, 23, 57, 94, 42, 64, 53, 68,
    90, 71, 49, 97, 78, 89, 26, 33, 14, 20, 37, 24, 5, 93, 16, 12, 70, 48, 51, 63, 3, 58, 47, 17,
    10, 21, 27, 74, 86, 81, 95, 54,
]
PYTHON_EPOCHS = [
    75, 12, 48, 59, 54, 98, 25, 14, 3, 91, 83, 94, 87, 10, 1, 4, 51, 29, 8, 74, 21, 32, 93, 38, 62,
    7, 24, 82, 84, 40, 66, 88, 18, 73, 97, 31, 42, 64, 67, 23, 46, 79, 92, 70, 6, 72, 63, 96, 17,
    39, 44, 55, 89, 78, 71, 27, 80, 47, 5, 49, 69, 61, 37, 26, 28, 50, 30, 58, 36, 33, 77, 0, 11,
    100, 45, 52, 41, 9, 53, 95, 65, 20, 86, 76, 43, 56, 34, 35, 90, 60, 16, 81, 15, 22, 99, 85, 19,
    13, 2, 57, 68, 61, 50, 49, 93, 80, 91, 75, 97, 21, 98, 82, 5, 32, 54, 33, 22, 30, 8, 19, 95, 29,
    70, 92, 20, 86, 53, 31, 48, 59, 15, 26, 34, 4, 74, 41, 35, 46, 63, 52, 77, 44, 51, 87, 6, 72,
    60, 16, 1, 89, 18, 7, 36, 47, 76, 10, 65, 43, 42, 9, 40, 62, 39, 28, 57, 90, 66, 11, 81, 37, 3,
    83, 24, 79, 13, 71, 68, 2, 27, 38, 56, 67, 96, 85, 25, 69, 45, 100, 55, 88, 99, 0, 84, 73, 64,
    23, 94, 17, 78, 12, 14, 58,
]


def _flat(epochs):
    return [i for batches in epochs for batch in batches for i in batch]


def _short(epochs):
    return [[len(batch) for batch in batches].index(1) for batches in epochs]


def test_the_torch_stream_draws_what_chapter_03_s_sampler_drew():
    sampler = batching.LengthBucketSampler(LENGTHS, batch_size=4, bucket=3, seed=1)
    epochs = [list(sampler), list(sampler)]
    assert _flat(epochs) == TORCH_EPOCHS and _short(epochs) == [10, 22]


def test_the_python_stream_draws_what_chapter_05_s_sampler_drew():
    sampler = batching.LengthBucketSampler(LENGTHS, 2, seed=3, rng="python")
    epochs = [list(sampler), list(sampler)]
    assert _flat(epochs) == PYTHON_EPOCHS and _short(epochs) == [33, 8]
    ordered = list(batching.LengthBucketSampler(LENGTHS, 2, shuffle=False, rng="python"))
    assert ordered[:5] == [[0, 11], [22, 33], [44, 55], [66, 77], [88, 99]]  # as LengthBuckets(shuffle=False)
    assert ordered == list(batching.LengthBucketSampler(LENGTHS, 2, shuffle=False))  # no stream is drawn


def test_the_sampler_checks_its_settings():
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        batching.LengthBucketSampler(LENGTHS, 0)
    with pytest.raises(ValueError, match="Unknown rng 'numpy'"):
        batching.LengthBucketSampler(LENGTHS, 2, rng="numpy")


# --- the loader and prediction in length order


def test_make_loader_keeps_input_order_without_shuffle():
    encoded = [[i] * (1 + i % 3) for i in range(10)]
    loader = batching.make_loader(encoded, list(range(10)), batch_size=4)
    assert [y for _, labels in loader for y in labels.tolist()] == list(range(10))
    with pytest.raises(ValueError, match="one label per text"):
        batching.make_loader(encoded, [0], batch_size=4)


def test_make_loader_shuffles_with_the_seeded_sampler():
    encoded = [[i] * (1 + i % 5) for i in range(40)]
    loader = batching.make_loader(encoded, list(range(40)), batch_size=4, shuffle=True, seed=2)
    sampler = batching.LengthBucketSampler([len(e) for e in encoded], 4, seed=2)
    assert [labels.tolist() for _, labels in loader] == list(sampler)


def test_in_length_order_predicts_shortest_first_and_returns_the_input_order():
    texts = ["a long review", "ok", "fine film", "no"]
    seen = []

    def predict(order):
        seen.append(order)
        return torch.tensor([[float(len(texts[i]))] for i in order])  # (N, 1)

    out = batching.in_length_order(predict, [len(t) for t in texts])
    assert seen == [[1, 3, 2, 0]]  # ties ("ok", "no") keep their order
    assert out[:, 0].tolist() == [13.0, 2.0, 9.0, 2.0]

"""Long reviews in practice: how long IMDB reviews are in WordPiece tokens, what truncation keeps, and two
ways to read a whole review with a fine-tuned encoder of 512 positions.

    chunk_and_pool_proba   cut the review into overlapping windows, classify each, average their logits
    to_longformer          the same weights as a Longformer: sliding-window attention, a global [CLS],
                           the 512 learned positions reused cyclically, so one pass reads thousands of tokens

Both take a `finetune.FineTuned` classifier and give back probabilities or another `FineTuned`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from datasets import Dataset
from torch import nn
from transformers import BertModel, LongformerConfig, LongformerModel
from transformers.modeling_outputs import BaseModelOutput

from helpers import finetune, training
from helpers.batching import collate_padded, in_length_order, make_loader


def wordpiece_lengths(tokenizer, texts: Sequence[str]) -> np.ndarray:
    """Number of WordPiece tokens of each text, [CLS] and [SEP] included (what a BERT would have to read)."""
    return np.array([len(ids) + 2 for ids in finetune.encode(tokenizer, texts)])


def longer_than(ds: Dataset, tokenizer, max_len: int, n: int | None = None, seed: int = 0) -> Dataset:
    """The reviews of `ds` that a model of `max_len` tokens cannot read whole ([CLS] and [SEP] included):
    all of them, or `n` drawn at random (reviews are tokenized only until n are found)."""
    order = np.random.default_rng(seed).permutation(len(ds))
    picked: list[int] = []
    for start in range(0, len(ds), 1_000):
        block = order[start:start + 1_000]
        picked += block[wordpiece_lengths(tokenizer, ds.select(block)["text"]) > max_len].tolist()
        if n is not None and len(picked) >= n:
            break
    return ds.select(sorted(picked[:n]))


def with_truncation(classifier: finetune.FineTuned, strategy: str) -> finetune.FineTuned:
    """The same fine-tuned model reading its inputs truncated by another strategy (head, tail, head+tail)."""
    return dataclasses.replace(classifier, config=dataclasses.replace(classifier.config, truncation=strategy))


def chunk_and_pool_proba(classifier: finetune.FineTuned, texts: Sequence[str],
                         overlap: int = 64) -> torch.Tensor:
    """Class probabilities from every window of each review: (len(texts), num_labels).

    Each review is cut into windows of the classifier's max_len (`finetune.chunk_review`, `overlap` ids
    shared by neighbours), every window is classified, and the windows' logits are averaged. The head is
    linear, so this equals classifying the mean of the windows' pooled vectors: Sun et al.'s (2019)
    hierarchical mean pooling, here with no extra training.
    """
    t, max_len = classifier.tokenizer, classifier.config.max_len
    windows, owner = [], []
    for i, ids in enumerate(finetune.encode(t, texts)):
        chunks = finetune.chunk_review(ids, max_len, overlap, t.cls_token_id, t.sep_token_id)
        windows += chunks
        owner += [i] * len(chunks)
    device = next(classifier.model.parameters()).device

    def predict(order: list[int]) -> torch.Tensor:
        batches = make_loader([windows[i] for i in order], [0] * len(windows),
                              classifier.config.eval_batch_size, collate_padded(t.pad_token_id))
        return training.predict_proba(classifier.model, batches, device)  # (windows, C), shortest first

    log_proba = in_length_order(predict, [len(w) for w in windows]).log()  # (windows, C), in window order
    # Mean of log-probabilities = mean of logits minus a constant per window: the same softmax.
    owner_index = torch.tensor(owner)
    summed = torch.zeros(len(texts), log_proba.size(1)).index_add_(0, owner_index, log_proba)
    counts = torch.bincount(owner_index, minlength=len(texts)).unsqueeze(1)  # (N, 1)
    return (summed / counts).softmax(dim=-1)


def chunk_and_pool_accuracy(classifier: finetune.FineTuned, ds: Dataset, overlap: int = 64) -> float:
    """Accuracy of `chunk_and_pool_proba` on a dataset with `text` and `label` columns."""
    proba = chunk_and_pool_proba(classifier, list(ds["text"]), overlap)
    return (proba.argmax(-1) == torch.tensor(ds["label"])).float().mean().item()


class LongEncoder(nn.Module):
    """A Longformer called like a BERT encoder: [CLS] attends globally, inputs are padded to whole windows,
    and positions beyond the learned ones reuse them cyclically (0, 1, ..., 511, 0, 1, ...)."""

    def __init__(self, longformer: LongformerModel):
        super().__init__()
        self.longformer, self.config = longformer, longformer.config

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> BaseModelOutput:
        T = input_ids.size(1)
        pad = -T % self.config.attention_window[0]  # whole windows: padded here, not with a warning inside
        input_ids = F.pad(input_ids, (0, pad), value=self.config.pad_token_id)  # (B, T + pad)
        attention_mask = F.pad(attention_mask, (0, pad))
        global_attention = torch.zeros_like(attention_mask)
        global_attention[:, 0] = 1  # [CLS] sees every token and every token sees it: a path across windows
        positions = torch.arange(T + pad, device=input_ids.device) % self.config.max_position_embeddings
        out = self.longformer(input_ids=input_ids, attention_mask=attention_mask,
                              global_attention_mask=global_attention,
                              position_ids=positions.expand_as(input_ids))
        return BaseModelOutput(last_hidden_state=out.last_hidden_state[:, :T])  # (B, T, H)


def longformer_from_bert(bert: BertModel, window: int) -> LongformerModel:
    """A Longformer with a BERT encoder's weights: the same layers, a sliding window of `window` tokens
    (window / 2 on each side) and global projections copied from the local ones, as Beltagy et al. (2020)
    initialized Longformer from RoBERTa."""
    c = bert.config
    config = LongformerConfig(
        vocab_size=c.vocab_size, hidden_size=c.hidden_size, num_hidden_layers=c.num_hidden_layers,
        num_attention_heads=c.num_attention_heads, intermediate_size=c.intermediate_size,
        hidden_act=c.hidden_act, max_position_embeddings=c.max_position_embeddings,
        type_vocab_size=c.type_vocab_size, layer_norm_eps=c.layer_norm_eps, pad_token_id=c.pad_token_id,
        attention_window=window, hidden_dropout_prob=c.hidden_dropout_prob,
        attention_probs_dropout_prob=c.attention_probs_dropout_prob)
    longformer = LongformerModel(config, add_pooling_layer=False)
    state = {k: v for k, v in bert.state_dict().items() if not k.startswith("pooler.")}
    for key in list(state):
        for part in ("query", "key", "value"):
            if f"attention.self.{part}." in key:
                state[key.replace(f".{part}.", f".{part}_global.")] = state[key]
    longformer.load_state_dict(state, strict=True)
    return longformer.to(next(bert.parameters()).device).eval()


def to_longformer(classifier: finetune.FineTuned, max_len: int, window: int = 512) -> finetune.FineTuned:
    """The fine-tuned classifier rebuilt on a Longformer: same weights, same head, reading up to `max_len`
    tokens per review (longer ones are cut by the classifier's truncation strategy)."""
    if not isinstance(classifier.model.encoder, BertModel):
        kind = type(classifier.model.encoder).__name__
        raise TypeError(f"to_longformer converts a BERT encoder, got {kind}.")
    head = classifier.model.head
    encoder = LongEncoder(longformer_from_bert(classifier.model.encoder, window))
    model = finetune.SentimentClassifier(encoder, head.out_features, classifier.config.pooling)
    model.head.load_state_dict(head.state_dict())
    model.to(next(classifier.model.parameters()).device).eval()
    # Batches of about as many tokens as before: a batch of 64 reviews at 2,048 tokens would take gigabytes.
    batch_size = max(1, classifier.config.eval_batch_size * classifier.config.max_len // max_len)
    config = dataclasses.replace(classifier.config, max_len=max_len, eval_batch_size=batch_size)
    return dataclasses.replace(classifier, model=model, config=config)

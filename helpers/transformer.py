"""The Transformer from scratch: encoder and decoder layers (post-LN and pre-LN), the encoder-decoder for
chapter 04's numbers task, and an encoder-only classifier for IMDB."""

# Shapes: B batch, S source positions, T target (or review) positions, d_model model width, d_ff
# feed-forward width, V target vocabulary.

from __future__ import annotations

import functools
import math
import time

import torch
from datasets import Dataset
from torch import Tensor, nn
from torch.utils.data import DataLoader

from helpers import training
from helpers.attention import MultiHeadAttention, PositionalEncoding, causal_mask
from helpers.batching import (LengthBucketSampler, head_and_tail, max_pool, mean_pool, pad_collate,
                              padding_mask)
from helpers.checks import check_texts
from helpers.config import Profile, get_device
from helpers.tokenization import Vocab, clean_text, word_tokenize

State = dict[str, Tensor]


def embedding(vocab_size: int, d_model: int, vectors: Tensor | None = None) -> nn.Embedding:
    """Token embeddings initialized with std 1/sqrt(d_model): times sqrt(d_model) they have unit size, like
    the position vectors added to them. (nn.Embedding's default std of 1 would make them sqrt(d_model) times
    larger, and drown the positions.) Pre-trained `vectors` (vocab_size, d_model) are scaled to that std."""
    table = nn.Embedding(vocab_size, d_model, padding_idx=0)
    nn.init.normal_(table.weight, std=d_model**-0.5)
    with torch.no_grad():
        if vectors is not None:
            if vectors.shape != table.weight.shape:
                raise ValueError(f"vectors must have one row of d_model={d_model} numbers per word, "
                                 f"({vocab_size}, {d_model}); got {tuple(vectors.shape)}.")
            table.weight.copy_(vectors * (d_model**-0.5 / vectors[1:].std()))  # row 0 is <pad>
        table.weight[0].zero_()
    return table


class EncoderLayer(nn.Module):
    """Self-attention, then a position-wise feed-forward network; each adds its output back to its input
    (a residual connection) and is normalized with LayerNorm: after the sum (post-LN, the 2017 paper) or on
    the branch's input (pre-LN, norm_first=True). Attribute names are nn.TransformerEncoderLayer's, so a
    state_dict loads from one to the other."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = False,
                 attention_dropout: float | None = None):
        super().__init__()
        self.norm_first = norm_first
        # PyTorch uses one rate for both
        attention_dropout = dropout if attention_dropout is None else attention_dropout
        self.self_attn = MultiHeadAttention(d_model, n_heads, attention_dropout)
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout, self.dropout1, self.dropout2 = (nn.Dropout(dropout), nn.Dropout(dropout),
                                                      nn.Dropout(dropout))

    def attend(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return self.dropout1(self.self_attn(x, x, x, mask, need_weights=False)[0])  # (B, T, d_model)

    def feed_forward(self, x: Tensor) -> Tensor:
        """The same two-layer network at every position: d_model -> d_ff -> d_model."""
        # (B, T, d_model), via (B, T, d_ff)
        return self.dropout2(self.linear2(self.dropout(torch.relu(self.linear1(x)))))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x (B, T, d_model) -> (B, T, d_model); mask is True where a query may look."""
        if self.norm_first:  # x + f(LN(x)): the residual path from input to output is never normalized
            x = x + self.attend(self.norm1(x), mask)
            return x + self.feed_forward(self.norm2(x))
        x = self.norm1(x + self.attend(x, mask))  # LN(x + f(x))
        return self.norm2(x + self.feed_forward(x))


class DecoderLayer(nn.Module):
    """Masked self-attention over the output so far, cross-attention over the encoder's output, then the
    feed-forward network; names as in nn.TransformerDecoderLayer."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = False,
                 attention_dropout: float | None = None):
        super().__init__()
        self.norm_first = norm_first
        attention_dropout = dropout if attention_dropout is None else attention_dropout
        self.self_attn = MultiHeadAttention(d_model, n_heads, attention_dropout)
        self.multihead_attn = MultiHeadAttention(d_model, n_heads, attention_dropout)
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model), nn.LayerNorm(d_model),
                                              nn.LayerNorm(d_model))
        self.dropout = nn.Dropout(dropout)
        self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout), nn.Dropout(dropout),
                                                       nn.Dropout(dropout))

    def attend(self, x: Tensor, mask: Tensor) -> Tensor:
        return self.dropout1(self.self_attn(x, x, x, mask, need_weights=False)[0])  # (B, T, d_model)

    def cross_attend(self, x: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        """Queries from the decoder, keys and values from the encoder: where the source is read."""
        # (B, T, d_model): one read of the source per target position
        return self.dropout2(self.multihead_attn(x, memory, memory, memory_mask, need_weights=False)[0])

    def feed_forward(self, x: Tensor) -> Tensor:
        # (B, T, d_model), via (B, T, d_ff)
        return self.dropout3(self.linear2(self.dropout(torch.relu(self.linear1(x)))))

    def forward(self, x: Tensor, memory: Tensor, mask: Tensor, memory_mask: Tensor) -> Tensor:
        """x (B, T, d_model) attends to itself under `mask` (causal) and to memory (B, S, d_model)."""
        if self.norm_first:
            x = x + self.attend(self.norm1(x), mask)
            x = x + self.cross_attend(self.norm2(x), memory, memory_mask)
            return x + self.feed_forward(self.norm3(x))
        x = self.norm1(x + self.attend(x, mask))
        x = self.norm2(x + self.cross_attend(x, memory, memory_mask))
        return self.norm3(x + self.feed_forward(x))


class Transformer(nn.Module):
    """Encoder-decoder Transformer with the decoding interface of helpers.decoding (start, step)."""

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 64, n_heads: int = 4, n_layers: int = 2,
                 d_ff: int = 256, dropout: float = 0.1, max_len: int = 64, norm_first: bool = True,
                 positions: str = "sinusoidal"):
        super().__init__()
        self.scale = math.sqrt(d_model)
        self.src_embed, self.tgt_embed = embedding(src_vocab, d_model), embedding(tgt_vocab, d_model)
        self.positions = PositionalEncoding(positions, max_len, d_model)
        self.dropout = nn.Dropout(dropout)
        # No dropout on attention weights: PyTorch's fused CPU attention kernel has none, and asking for it
        # falls back to a kernel that stores all n x n weights (2.7x slower per IMDB training step, measured).
        self.encoder_layers = nn.ModuleList(EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first, 0.0)
                                            for _ in range(n_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first, 0.0)
                                            for _ in range(n_layers))
        # Pre-LN stacks add un-normalized branches all the way up, so one last LayerNorm closes each stack.
        self.encoder_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.decoder_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.out = nn.Linear(d_model, tgt_vocab)

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, Tensor]:
        """The encoder's output (B, S, d_model) and padding mask (B, 1, 1, S) every decoder layer reuses."""
        mask = padding_mask(src_lengths.to(src.device), src.size(1))[:, None, None]  # (B, 1, 1, S)
        x = self.dropout(self.positions(self.src_embed(src) * self.scale))  # (B, S, d_model)
        for layer in self.encoder_layers:
            x = layer(x, mask)
        return self.encoder_norm(x), mask

    def decode(self, tgt_in: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        """Logits (B, T, V) for every target position at once; the causal mask hides the future."""
        mask = causal_mask(tgt_in.size(1), tgt_in.device)  # (T, T), broadcast over batch and heads
        x = self.dropout(self.positions(self.tgt_embed(tgt_in) * self.scale))  # (B, T, d_model)
        for layer in self.decoder_layers:
            x = layer(x, memory, mask, memory_mask)
        return self.out(self.decoder_norm(x))  # (B, T, V)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor,
                teacher_forcing: float = 1.0) -> Tensor:
        """Logits (B, T, V), every position in parallel: the decoder always reads the true previous tokens."""
        if teacher_forcing != 1.0:
            raise ValueError("The Transformer trains all positions in one pass on the true previous tokens: "
                             "teacher forcing is built in, so the ratio must be 1.")
        return self.decode(tgt_in, *self.encode(src, src_lengths))

    def start(self, src: Tensor, src_lengths: Tensor) -> State:
        memory, mask = self.encode(src, src_lengths)
        # prefix (B, 0): nothing decoded yet
        return {"memory": memory, "mask": mask, "prefix": src.new_zeros(src.size(0), 0)}

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """Logits for the token after `tokens`; the prefix is decoded again (no cache: outputs are short)."""
        prefix = torch.cat([state["prefix"], tokens[:, None]], dim=1)  # (B, t)
        # (B, V): logits at the last position only
        return self.decode(prefix, state["memory"], state["mask"])[:, -1], {**state, "prefix": prefix}


@torch.no_grad()
def cross_attention(model: Transformer, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> list[Tensor]:
    """Each decoder layer's cross-attention weights (B, h, T, S): where each output position reads the source.

    The layers ask their attention for no weights (the fused kernel is faster), so hooks ask for them during
    one teacher-forced pass and are removed after it.
    """
    device = training.model_device(model)
    weights, hooks = [], []
    for layer in model.decoder_layers:
        hooks.append(layer.multihead_attn.register_forward_pre_hook(
            lambda module, args, kwargs: (args, {**kwargs, "need_weights": True}), with_kwargs=True))
        hooks.append(layer.multihead_attn.register_forward_hook(
            lambda module, args, output: weights.append(output[1])))  # output: (out, weights (B, h, T, S))
    try:
        model.eval()
        model(src.to(device), src_lengths.to(device), tgt_in.to(device))
    finally:
        for hook in hooks:
            hook.remove()
    return [w.cpu() for w in weights]


class TransformerClassifier(nn.Module):
    """Encoder-only: word embeddings plus learned positions, pre-LN encoder layers, mean- and max-pooling
    over the real tokens, a linear layer. The embeddings start random, or from pre-trained `vectors`."""

    def __init__(self, vocab_size: int, d_model: int, n_heads: int, n_layers: int, d_ff: int, max_len: int,
                 dropout: float = 0.1, num_classes: int = 2, vectors: Tensor | None = None):
        super().__init__()
        self.scale = math.sqrt(d_model)
        self.embedding = embedding(vocab_size, d_model, vectors)
        self.positions = PositionalEncoding("learned", max_len, d_model)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(EncoderLayer(d_model, n_heads, d_ff, dropout, True, attention_dropout=0.0)
                                    for _ in range(n_layers))  # no attention dropout: see Transformer
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(2 * d_model, num_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Logits (B, classes) for padded word ids (B, T)."""
        real = padding_mask(lengths.to(ids.device), ids.size(1))  # (B, T)
        mask = real[:, None, None]  # (B, 1, 1, T): every head and query ignores padded keys
        x = self.dropout(self.positions(self.embedding(ids) * self.scale))  # (B, T, d_model)
        for layer in self.layers:
            x = layer(x, mask)
        x = self.norm(x)  # (B, T, d_model)
        pooled = torch.cat([mean_pool(x, real), max_pool(x, real)], dim=-1)  # (B, 2 d_model)
        return self.out(self.dropout(pooled))


def encode_reviews(texts: list[str], vocab: Vocab, max_len: int) -> list[list[int]]:
    """Clean, word-tokenize and look up each review, keeping its first and last max_len/2 words."""
    tokens = [word_tokenize(clean_text(t)) for t in check_texts(texts)]
    return [head_and_tail(vocab.encode(t), max_len) or [1] for t in tokens]


def train_classifier(train: Dataset, val: Dataset, profile: Profile, progress: bool = True,
                     vectors: Tensor | None = None, vocab: Vocab | None = None,
                     warmup: bool = False) -> training.TrainedClassifier:
    """Build the vocabulary on train, fit the encoder classifier, keep the epoch best on validation.

    By default the embeddings start random and the learning rate is constant. Pre-trained `vectors` (one row
    per word of `vocab`, e.g. `classifiers.pretrain_vectors`) start the embeddings instead; with `warmup` the
    learning rate warms up over the fraction `profile.transformer_optim.warmup` of the steps and then decays
    to 0 (see `training.fit`).
    """
    if (vectors is None) != (vocab is None):
        raise ValueError("Pass vectors= and the vocab= whose words they belong to together, or neither.")
    start = time.perf_counter()
    tokens = [word_tokenize(clean_text(t)) for t in train["text"]]
    if vocab is None:
        vocab = Vocab.build(tokens, min_freq=2, max_size=profile.vocab_size)
    encoded = [head_and_tail(vocab.encode(t), profile.max_len) or [1] for t in tokens]
    # Python's random stream: the order this chapter's measured results were made with (see the sampler).
    sampler = LengthBucketSampler([len(e) for e in encoded], profile.batch_size, rng="python")
    train_batches = DataLoader(list(zip(encoded, train["label"])), batch_sampler=sampler,
                               collate_fn=pad_collate)
    val_encoded = encode_reviews(list(val["text"]), vocab, profile.max_len)
    sampler = LengthBucketSampler([len(e) for e in val_encoded], 128, shuffle=False)
    val_batches = DataLoader(list(zip(val_encoded, val["label"])), batch_sampler=sampler,
                             collate_fn=pad_collate)
    model = TransformerClassifier(len(vocab), profile.transformer_dim, profile.transformer_heads,
                                  profile.transformer_layers, 4 * profile.transformer_dim, profile.max_len,
                                  vectors=vectors)
    optim = profile.transformer_optim
    history = training.fit(model, train_batches, val_batches, epochs=profile.transformer_epochs, lr=optim.lr,
                           weight_decay=optim.weight_decay, clip_norm=optim.clip_norm, device=get_device(),
                           progress=progress, warmup=optim.warmup if warmup else None)
    encode = functools.partial(encode_reviews, vocab=vocab, max_len=profile.max_len)
    return training.TrainedClassifier(model, encode, pad_collate, history, time.perf_counter() - start, vocab,
                                      batch_size=128)

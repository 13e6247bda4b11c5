"""A recurrent language model: predict the next word of a review, measure perplexity on held-out
reviews, train with truncated back-propagation through time, sample new text with a temperature."""

# Shapes: B rows read in parallel (the batch), N tokens per row, T steps (t: one window's), E embedding
# width, H hidden width, V vocabulary.

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

from helpers import training
from helpers.checks import check_sizes
from helpers.config import OptimizerSettings, get_device
from helpers.rnn import State
from helpers.tokenization import Vocab, clean_text, word_tokenize

EOS = "<eos>"  # ends every review, so the model learns where reviews stop and the next one starts


def build_vocab(texts: Sequence[str], max_size: int) -> Vocab:
    """The `max_size` most frequent words of `texts`, plus <eos>; the rest read as <unk>."""
    check_sizes(max_size=max_size)
    counted = Vocab.build([word_tokenize(clean_text(t)) for t in texts], max_size=max_size)
    return Vocab([EOS, *counted.itos[2:]])


def encode_stream(texts: Sequence[str], vocab: Vocab) -> Tensor:
    """All reviews as one long stream of ids, each review followed by <eos>.

    >>> encode_stream(["Great film.", "Dull"], Vocab([EOS, "great", "film", "."]))
    tensor([3, 4, 5, 2, 1, 2])
    """
    if isinstance(texts, str):
        raise TypeError("Expected a list of texts, got one string: wrap it in a list.")
    ids = [i for t in texts for i in vocab.encode([*word_tokenize(clean_text(t)), EOS])]
    if not ids:
        raise ValueError("No texts to encode: the list is empty.")
    return torch.tensor(ids, dtype=torch.long)  # (B * N + remainder,): one stream, before batchify


def batchify(stream: Tensor, batch_size: int) -> Tensor:
    """Cut one stream into `batch_size` rows read in parallel (B, N); the remainder is dropped.

    >>> batchify(torch.arange(10), 3)
    tensor([[0, 1, 2],
            [3, 4, 5],
            [6, 7, 8]])
    """
    check_sizes(batch_size=batch_size)
    n = len(stream) // batch_size
    if n < 2:
        raise ValueError(f"A stream of {len(stream)} tokens is too short for {batch_size} rows "
                         "of at least 2.")
    return stream[: n * batch_size].view(batch_size, n)  # (B, N)


def bptt_windows(rows: Tensor, bptt: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Consecutive windows of at most `bptt` steps: inputs (B, t) and targets, shifted by one.

    >>> [(x.tolist(), y.tolist()) for x, y in bptt_windows(torch.tensor([[0, 1, 2, 3, 4]]), 2)]
    [([[0, 1]], [[1, 2]]), ([[2, 3]], [[3, 4]])]
    """
    check_sizes(bptt=bptt)
    for start in range(0, rows.size(1) - 1, bptt):
        end = min(start + bptt, rows.size(1) - 1)
        yield rows[:, start:end], rows[:, start + 1 : end + 1]  # (B, t), (B, t)


def detach(state: State) -> State:
    """The same state, cut from the graph of the windows before it: truncated back-propagation
    through time."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class RNNLanguageModel(nn.Module):
    """Embeddings, an LSTM, and a linear layer from each step's hidden state to next-word scores."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, num_layers: int = 1,
                 dropout: float = 0.2):
        super().__init__()
        check_sizes(vocab_size=vocab_size, embed_dim=embed_dim, hidden_dim=hidden_dim,
                    num_layers=num_layers)
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_dim, vocab_size)

    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """ids (B, T) -> next-word logits (B, T, V), and the state after the last step."""
        x = self.dropout(self.embedding(ids))  # (B, T, E)
        h, state = self.lstm(x, state)  # (B, T, H)
        return self.out(self.dropout(h)), state  # (B, T, V)


def window_loss(model: RNNLanguageModel, inputs: Tensor, targets: Tensor,
                state: State | None) -> tuple[Tensor, State]:
    """Mean cross-entropy of the next-word predictions over a window, and the state at its end."""
    logits, state = model(inputs, state)  # (B, t, V)
    # (B*t, V) logits against (B*t,) targets
    return nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten()), state


@torch.no_grad()
def perplexity(model: RNNLanguageModel, rows: Tensor, bptt: int) -> float:
    """exp(mean negative log-likelihood per token) over `rows` (B, N), the state carried across
    windows: how many words the model hesitates between, on average (uniform over V words: V)."""
    model.eval()
    device = next(model.parameters()).device
    total, count, state = 0.0, 0, None
    for inputs, targets in bptt_windows(rows.to(device), bptt):
        loss, state = window_loss(model, inputs, targets, state)
        total, count = total + loss.item() * targets.numel(), count + targets.numel()
    return math.exp(total / count)


def train_language_model(model: RNNLanguageModel, train_rows: Tensor, val_rows: Tensor,
                         epochs: int, bptt: int, optim: OptimizerSettings,
                         progress: bool = True) -> list[dict[str, float]]:
    """Truncated BPTT: read `train_rows` (B, N) window by window, carrying the state forward but
    cutting the gradient at each window's start; after each epoch, the validation perplexity. AdamW at the
    constant rate `optim.lr` (e.g. `profile.lm_optim`)."""
    check_sizes(epochs=epochs, bptt=bptt)
    if optim.warmup is not None:
        raise ValueError(f"The language model trains at a constant rate: warmup=None, not {optim.warmup!r}.")
    device = get_device()
    model.to(device)
    train_rows = train_rows.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
    autocast, scaler = training.mixed_precision("auto", device)
    per_epoch = math.ceil((train_rows.size(1) - 1) / bptt)
    history = []
    with training.progress_bar(epochs * per_epoch, "language model", "window", progress) as bar:
        for epoch in range(1, epochs + 1):
            model.train()
            start, total, count, state = time.perf_counter(), 0.0, 0, None
            for inputs, targets in bptt_windows(train_rows, bptt):
                state = None if state is None else detach(state)  # keep the memory, not the graph
                with autocast():
                    loss, state = window_loss(model, inputs, targets, state)
                training.optimizer_step(optimizer, scaler, loss, model.parameters(), optim.clip_norm)
                total, count = total + loss.item() * targets.numel(), count + targets.numel()
                bar.update()
            history.append({"epoch": epoch, "train_perplexity": math.exp(total / count),
                            "val_perplexity": perplexity(model, val_rows, bptt),
                            "seconds": time.perf_counter() - start})
            bar.set_postfix(val_perplexity=f"{history[-1]['val_perplexity']:.0f}")
    return history


def next_word_probabilities(logits: Tensor, temperature: float) -> Tensor:
    """softmax(logits / temperature): below 1 sharpens towards the likeliest word, above 1 flattens.

    >>> next_word_probabilities(torch.tensor([2.0, 1.0, 0.0]), 1.0).round(decimals=2)
    tensor([0.6700, 0.2400, 0.0900])
    >>> next_word_probabilities(torch.tensor([2.0, 1.0, 0.0]), 0.5).round(decimals=2)
    tensor([0.8700, 0.1200, 0.0200])
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r} (a small one, e.g. "
                         "0.1, makes nearly greedy choices).")
    return (logits / temperature).softmax(-1)


@torch.no_grad()
def sample(model: RNNLanguageModel, vocab: Vocab, prompt: str, max_words: int = 30,
           temperature: float = 1.0, seed: int = 0) -> list[str]:
    """Continue `prompt` word by word, each drawn from the model's distribution at `temperature`,
    until <eos> or `max_words`. <unk> is never drawn, so the sample reads as text."""
    check_sizes(max_words=max_words)
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    context = [EOS, *word_tokenize(clean_text(prompt))]  # as if a new review started with the prompt
    ids = torch.tensor([vocab.encode(context)], device=device)  # (1, t)
    logits, state = model(ids)  # the prompt in one pass; then one word at a time
    words = []
    for _ in range(max_words):
        scores = logits[0, -1].clone()  # (V,)
        scores[vocab.stoi[Vocab.UNK]] = scores[vocab.stoi[Vocab.PAD]] = -math.inf
        probabilities = next_word_probabilities(scores, temperature)  # (V,)
        word = torch.multinomial(probabilities, 1, generator=generator)  # (1,)
        if word.item() == vocab.stoi[EOS]:
            break
        words.append(vocab.itos[word.item()])
        logits, state = model(word[None], state)  # (1, 1, V)
    return words

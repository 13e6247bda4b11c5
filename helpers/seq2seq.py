"""Sequence to sequence: a generated task (numbers in words to digits), GRU encoder-decoders with and
without attention, teacher forcing, training and exact-match evaluation."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from helpers.attention import AdditiveAttention, MultiplicativeAttention
from helpers.batching import padding_mask
from helpers.config import Profile, get_device
from helpers.decoding import greedy_decode
from helpers.tokenization import Vocab
from helpers.training import (BestWeights, mixed_precision, model_device, optimizer_step, progress_bar,
                              to_device, warmup_then_decay)
from helpers.transformer import Transformer, cross_attention

State = dict[str, Tensor]  # everything a decoder carries from step to step, batch first

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
BOS, EOS = "<bos>", "<eos>"


def _below_thousand(n: int) -> list[str]:
    """Words for 1 <= n < 1000."""
    words = []
    if n >= 100:
        words += [ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(TENS[n // 10] + (f"-{ONES[n % 10]}" if n % 10 else ""))
    elif n:
        words.append(ONES[n])
    return words


def number_to_words(n: int) -> str:
    """The one spelling of n the task uses: American, hyphenated tens, no 'and'.

    >>> number_to_words(342506)
    'three hundred forty-two thousand five hundred six'
    >>> number_to_words(7_000_019)
    'seven million nineteen'
    >>> len(source_tokens(number_to_words(999_999_999_999)))  # the longest input: 19 words
    19
    """
    if not isinstance(n, int) or not 0 <= n < 10**12:
        raise ValueError(f"number_to_words spells whole numbers from 0 to 10**12 - 1, got {n!r}.")
    if n == 0:
        return "zero"
    words = []
    for scale, name in SCALES:
        if n >= scale:
            words += _below_thousand(n // scale) + [name]
            n %= scale
    return " ".join(words + _below_thousand(n))


def make_number_task(n_train: int, n_val: int, n_test: int, max_digits: int = 12,
                     seed: int = 0) -> dict[str, list[tuple[str, str]]]:
    """(words, digits) pairs of distinct numbers, split so no validation or test number is seen in training.

    The number of digits is drawn uniformly from 1 to max_digits, so with 12 digits inputs range from one word
    ('six') to nineteen. The same seed always gives the same splits.
    """
    total = n_train + n_val + n_test
    if min(n_train, n_val, n_test) < 1:
        raise ValueError(f"Every split needs at least one pair, got {n_train}, {n_val}, {n_test}.")
    if total > 10**max_digits // 2:
        raise ValueError(f"{total:,} distinct numbers of at most {max_digits} digits is too many: "
                         f"ask for fewer pairs or more digits.")
    rng, seen, numbers = random.Random(seed), set(), []
    while len(numbers) < total:
        digits = rng.randint(1, max_digits)
        n = rng.randrange(10 ** (digits - 1) if digits > 1 else 0, 10**digits)
        if n not in seen:  # distinct numbers: a test target never appears in training
            seen.add(n)
            numbers.append(n)
    pairs = [(number_to_words(n), str(n)) for n in numbers]
    return {"train": pairs[:n_train], "val": pairs[n_train:n_train + n_val], "test": pairs[n_train + n_val:]}


def source_tokens(words: str) -> list[str]:
    """The model reads number words, a hyphen splitting tens from units.

    >>> source_tokens("forty-two thousand six")
    ['forty', 'two', 'thousand', 'six']
    """
    return words.replace("-", " ").split()


SOURCE_VOCAB = Vocab([*ONES, *TENS[2:], "hundred", *(name for _, name in reversed(SCALES))])
TARGET_VOCAB = Vocab([BOS, EOS, *"0123456789"])
PAD_ID, BOS_ID, EOS_ID = 0, TARGET_VOCAB.stoi[BOS], TARGET_VOCAB.stoi[EOS]


@dataclass
class Batch:
    """Padded source words and target digits: the decoder's input starts with <bos>, its output with <eos>."""

    src: torch.Tensor  # (B, S) source ids, 0 after each sequence's end
    src_lengths: torch.Tensor  # (B,)
    tgt_in: torch.Tensor  # (B, T) <bos> d1 ... dn, padded
    tgt_out: torch.Tensor  # (B, T) d1 ... dn <eos>, padded

    def to(self, device: torch.device) -> Batch:
        return Batch(*(t.to(device) for t in (self.src, self.src_lengths, self.tgt_in, self.tgt_out)))


def make_batch(pairs: list[tuple[str, str]]) -> Batch:
    """Encode (words, digits) pairs (source words, target digits) and pad them.

    >>> batch = make_batch([("twenty-one", "21"), ("six", "6")])
    >>> batch.src.tolist(), batch.tgt_in.tolist(), batch.tgt_out.tolist()
    ([[22, 3], [8, 0]], [[2, 6, 5], [2, 10, 0]], [[6, 5, 3], [10, 3, 0]])
    """
    pad = torch.nn.utils.rnn.pad_sequence
    src = [torch.tensor(SOURCE_VOCAB.encode(source_tokens(s))) for s, _ in pairs]
    tgt = [TARGET_VOCAB.encode(list(t)) for _, t in pairs]
    tgt_in = pad([torch.tensor([BOS_ID, *t]) for t in tgt], batch_first=True, padding_value=PAD_ID)
    tgt_out = pad([torch.tensor([*t, EOS_ID]) for t in tgt], batch_first=True, padding_value=PAD_ID)
    return Batch(pad(src, batch_first=True, padding_value=PAD_ID), torch.tensor([len(s) for s in src]),
                 tgt_in, tgt_out)


def decode_digits(ids: list[int]) -> str:
    """Target ids back to a string of digits, stopping at <eos>."""
    out = []
    for i in ids:
        if i == EOS_ID:
            break
        out.append(TARGET_VOCAB.itos[i])
    return "".join(out)


class Encoder(nn.Module):
    """Word embeddings and a bidirectional GRU; packing keeps padding out of the backward direction."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.rnn = nn.GRU(embed_dim, hidden_dim, batch_first=True, bidirectional=True)

    def forward(self, src: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Every position's state (B, S, 2H) and summary (B, 2H): last forward and first backward state."""
        packed = pack_padded_sequence(self.embedding(src), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        outputs, h_n = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.size(1))
        return outputs, torch.cat([h_n[0], h_n[1]], dim=-1)


class Decoder(nn.Module):
    """A GRU cell that reads the previous token and a context vector; subclasses say where context comes from.

    Every decoder has the same shapes: the cell reads [embedding; context], the output layer [state; context].
    Only the context differs, so the comparison is between attention and no attention, not between sizes.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, memory_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.init = nn.Linear(memory_dim, hidden_dim)
        self.cell = nn.GRUCell(embed_dim + memory_dim, hidden_dim)
        self.out = nn.Linear(hidden_dim + memory_dim, vocab_size)

    def start(self, memory: Tensor, summary: Tensor, mask: Tensor) -> State:
        """The decoding state before the first token: h_0 = tanh(W summary)."""
        return {"hidden": torch.tanh(self.init(summary)), "context": summary}

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        raise NotImplementedError


class PlainDecoder(Decoder):
    """No attention (Cho et al., 2014): the same fixed summary of the source is the context at every step."""

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        context = state["context"]  # (B, 2H): all the decoder ever sees of the source
        hidden = self.cell(torch.cat([self.embedding(tokens), context], -1), state["hidden"])
        return self.out(torch.cat([hidden, context], -1)), {**state, "hidden": hidden}


class BahdanauDecoder(Decoder):
    """Additive attention, queried with the previous state, before the cell reads the step's input."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, memory_dim: int):
        super().__init__(vocab_size, embed_dim, hidden_dim, memory_dim)
        self.attention = AdditiveAttention(hidden_dim, memory_dim, hidden_dim)

    def start(self, memory: Tensor, summary: Tensor, mask: Tensor) -> State:
        return {**super().start(memory, summary, mask), "memory": memory, "mask": mask,
                "keys": self.attention.project_keys(memory),
                "weights": mask.float() / mask.sum(-1, keepdim=True)}

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        context, weights = self.attention(state["hidden"], state["keys"], state["memory"], state["mask"])
        hidden = self.cell(torch.cat([self.embedding(tokens), context], -1), state["hidden"])
        return (self.out(torch.cat([hidden, context], -1)),
                {**state, "hidden": hidden, "context": context, "weights": weights})


class LuongDecoder(BahdanauDecoder):
    """Multiplicative attention queried by the new state; the cell reads the prior context (input feeding)."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, memory_dim: int):
        Decoder.__init__(self, vocab_size, embed_dim, hidden_dim, memory_dim)
        self.attention = MultiplicativeAttention(hidden_dim, memory_dim)

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        hidden = self.cell(torch.cat([self.embedding(tokens), state["context"]], -1), state["hidden"])
        context, weights = self.attention(hidden, state["keys"], state["memory"], state["mask"])
        return (self.out(torch.cat([hidden, context], -1)),
                {**state, "hidden": hidden, "context": context, "weights": weights})


DECODERS = {"gru": PlainDecoder, "bahdanau": BahdanauDecoder, "luong": LuongDecoder}


class Seq2Seq(nn.Module):
    """An encoder and a decoder; start() and step() are what greedy and beam search call."""

    def __init__(self, encoder: Encoder, decoder: Decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def start(self, src: Tensor, src_lengths: Tensor) -> State:
        """Read the source once; the state holds what every later step needs, batch first."""
        memory, summary = self.encoder(src, src_lengths)
        mask = padding_mask(src_lengths.to(src.device), src.size(1))  # (B, S): True at real words
        return self.decoder.start(memory, summary, mask)

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """Logits (B, V) for the next token after `tokens` (B,), and the new state."""
        return self.decoder.step(tokens, state)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor,
                teacher_forcing: float = 1.0) -> Tensor:
        """Logits (B, T, V) for every target position.

        With teacher_forcing = 1 the decoder reads the true previous token at every step; below 1, each
        example at each step reads its own previous prediction instead with probability 1 - teacher_forcing.
        """
        state, tokens, logits = self.start(src, src_lengths), tgt_in[:, 0], []
        for t in range(tgt_in.size(1)):
            step_logits, state = self.step(tokens, state)
            logits.append(step_logits)
            if t + 1 < tgt_in.size(1):
                tokens = tgt_in[:, t + 1]
                if teacher_forcing < 1.0:
                    own = step_logits.argmax(-1)
                    use_truth = torch.rand(tokens.shape, device=tokens.device) < teacher_forcing
                    tokens = torch.where(use_truth, tokens, own)
        return torch.stack(logits, dim=1)


def make_model(kind: str, embed_dim: int, hidden_dim: int) -> Seq2Seq:
    """A bidirectional GRU encoder and a `kind` decoder: 'gru' (no attention), 'bahdanau' or 'luong'."""
    if kind not in DECODERS:
        raise ValueError(f"Unknown decoder {kind!r}: choose one of {', '.join(DECODERS)}.")
    encoder = Encoder(len(SOURCE_VOCAB), embed_dim, hidden_dim)
    return Seq2Seq(encoder, DECODERS[kind](len(TARGET_VOCAB), embed_dim, hidden_dim, 2 * hidden_dim))


MAX_OUTPUT = 14  # decoding stops here at the latest: 12 digits, <eos>, and one spare step


def batches(pairs: list[tuple[str, str]], batch_size: int,
            generator: torch.Generator | None = None) -> Iterator[Batch]:
    """Batches in order, or shuffled with `generator` (seeded: the same order on every run)."""
    order = torch.randperm(len(pairs), generator=generator).tolist() if generator else range(len(pairs))
    order = list(order)
    for i in range(0, len(order), batch_size):
        yield make_batch([pairs[j] for j in order[i:i + batch_size]])


def sequence_loss(logits: Tensor, tgt_out: Tensor) -> Tensor:
    """Mean cross-entropy over the real target tokens (padding excluded)."""
    return nn.functional.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD_ID)


@torch.no_grad()
def predict(model: nn.Module, sources: list[str], batch_size: int = 256) -> list[str]:
    """Greedy outputs (digit strings) for a list of sources in words."""
    if isinstance(sources, str):
        raise TypeError("predict takes a list of sources: wrap the single one in a list.")
    model.eval()
    device = next(model.parameters()).device
    outputs = []
    for batch in batches([(s, "") for s in sources], batch_size):
        ids = greedy_decode(model, batch.src.to(device), batch.src_lengths.to(device),
                            BOS_ID, EOS_ID, MAX_OUTPUT)
        outputs += [decode_digits(row) for row in ids]
    return outputs


def exact_match(model: nn.Module, pairs: list[tuple[str, str]]) -> float:
    """Share of pairs whose greedy output is exactly the target: one wrong digit and the number is wrong."""
    predictions = predict(model, [s for s, _ in pairs])
    return sum(p == t for p, (_, t) in zip(predictions, pairs)) / len(pairs)


@torch.no_grad()
def attention_map(model: Seq2Seq, words: str) -> tuple[str, Tensor]:
    """The greedy output for one source and the attention weights (T, S) behind each token, <eos> included."""
    if not isinstance(model.decoder, BahdanauDecoder):
        raise ValueError(f"A {type(model.decoder).__name__} has no attention weights to show: use a model "
                         "made with make_model('bahdanau') or make_model('luong').")
    model.eval()
    device = next(model.parameters()).device
    batch = make_batch([(words, "")]).to(device)
    state, token, ids, rows = model.start(batch.src, batch.src_lengths), batch.tgt_in[:, 0], [], []
    for _ in range(MAX_OUTPUT):
        logits, state = model.step(token, state)
        token = logits.argmax(-1)
        rows.append(state["weights"][0])
        if token.item() == EOS_ID:
            break
        ids.append(token.item())
    return decode_digits(ids), torch.stack(rows).cpu()


def cross_attention_map(model: Transformer, words: str) -> tuple[str, list[Tensor]]:
    """The Transformer's greedy output for one source and each decoder layer's cross-attention (1, h, T, S)
    behind each output token, <eos> included: row t is the position that predicts token t."""
    digits = predict(model, [words])[0]
    batch = make_batch([(words, digits)])
    return digits, cross_attention(model, batch.src, batch.src_lengths, batch.tgt_in)


@torch.no_grad()
def after_a_mistake(model: nn.Module, pairs: list[tuple[str, str]], position: int = 1,
                    seed: int = 0) -> dict[str, float]:
    """Exposure bias, measured: make the decoder read one wrong digit and see whether it finishes the number.

    The decoder is fed the true digits before `position`, then a wrong digit in its place, then continues
    greedily; an output counts as recovered when every digit after `position` is right. The same with the
    true digit at `position` is the baseline. Only targets longer than position + 1 digits are used.
    """
    pairs = [(s, t) for s, t in pairs if len(t) > position + 1]
    if not pairs:
        raise ValueError(f"No target has more than {position + 1} digits: choose a smaller position.")
    model.eval()
    device = next(model.parameters()).device
    rng = random.Random(seed)
    batch = make_batch(pairs).to(device)
    true_prefix = batch.tgt_out[:, : position + 1]  # (B, position + 1) digits, no <eos> yet: targets are long
    zero = TARGET_VOCAB.stoi["0"]
    shift = torch.tensor([rng.randint(1, 9) for _ in pairs], device=device)  # any digit but the true one
    wrong = (true_prefix[:, position] - zero + shift) % 10 + zero  # (B,)
    wrong_prefix = torch.cat([true_prefix[:, :position], wrong[:, None]], dim=1)
    rates = {}
    for name, prefix in (("after the true digit", true_prefix), ("after a wrong digit", wrong_prefix)):
        outputs = greedy_decode(model, batch.src, batch.src_lengths, BOS_ID, EOS_ID, MAX_OUTPUT,
                                prefix=prefix)
        rates[name] = sum(decode_digits(o)[position + 1:] == t[position + 1:]
                          for o, (_, t) in zip(outputs, pairs)) / len(pairs)
    return rates


def linear_schedule(start: float, end: float, epochs: int) -> Callable[[int], float]:
    """A teacher-forcing ratio that moves linearly from `start` at epoch 0 to `end` at the last epoch.

    >>> [round(linear_schedule(1.0, 0.5, 3)(e), 2) for e in range(3)]
    [1.0, 0.75, 0.5]
    """
    return lambda epoch: start + (end - start) * epoch / max(epochs - 1, 1)


def train(model: nn.Module, train_pairs: list[tuple[str, str]], val_pairs: list[tuple[str, str]], epochs: int,
          batch_size: int = 64, lr: float = 2e-3, teacher_forcing: float | Callable[[int], float] = 1.0,
          warmup_steps: int = 0, clip_norm: float = 1.0, weight_decay: float = 0.01, seed: int = 0,
          desc: str | None = None, progress: bool = True) -> list[dict[str, float]]:
    """AdamW on cross-entropy, the learning rate warmed up (optionally) then decayed linearly to 0; one
    progress bar for the whole run; keep the epoch with the best validation exact match.

    Returns one row per epoch: mean training loss, validation exact match, teacher-forcing ratio, seconds.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}.")
    model.to(get_device())
    generator = torch.Generator().manual_seed(seed)
    per_epoch = -(-len(train_pairs) // batch_size)
    update = _updater(model, lr, warmup_then_decay(warmup_steps, epochs * per_epoch), clip_norm, weight_decay)
    history, best = [], BestWeights(model)
    with progress_bar(epochs * per_epoch, desc, progress=progress) as bar:
        for epoch in range(epochs):
            ratio = teacher_forcing(epoch) if callable(teacher_forcing) else teacher_forcing
            model.train()
            start, loss_sum = time.perf_counter(), 0.0
            for step, batch in enumerate(batches(train_pairs, batch_size, generator), start=1):
                loss_sum += update(batch, ratio)
                bar.update()
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / step:.3f}", refresh=False)
            seconds = time.perf_counter() - start
            val = exact_match(model, val_pairs)
            history.append({"epoch": epoch + 1, "loss": loss_sum / per_epoch, "val_exact_match": val,
                            "teacher_forcing": ratio, "seconds": seconds})
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / per_epoch:.3f}", val_exact=f"{val:.3f}")
            best.update(val)
    best.restore()
    return history


def _updater(model: nn.Module, lr: float, schedule: Callable[[int], float], clip_norm: float,
             weight_decay: float = 0.01) -> Callable[[Batch, float], float]:
    """update(batch, teacher_forcing) -> loss: one AdamW step on one batch, the learning rate multiplied by
    schedule(update), in the device's precision."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    device = model_device(model)
    autocast, scaler = mixed_precision("auto", device)

    def update(batch: Batch, teacher_forcing: float) -> float:
        batch = to_device(batch, device)
        with autocast():
            logits = model(batch.src, batch.src_lengths, batch.tgt_in, teacher_forcing=teacher_forcing)
        loss = sequence_loss(logits.float(), batch.tgt_out)
        optimizer_step(optimizer, scaler, loss, model.parameters(), clip_norm, [scheduler])
        return loss.item()

    return update


def loss_curve(model: nn.Module, pairs: list[tuple[str, str]], steps: int, lr: float, warmup_steps: int = 0,
               batch_size: int = 64, seed: int = 0, desc: str | None = None,
               progress: bool = True) -> list[float]:
    """The training loss at every one of `steps` updates (warmup, then a constant learning rate): how a run
    starts, which is where unstable set-ups fail."""
    model.to(get_device())
    model.train()
    update = _updater(model, lr, lambda step: min(1.0, (step + 1) / max(warmup_steps, 1)), clip_norm=1.0)
    generator, losses = torch.Generator().manual_seed(seed), []
    with progress_bar(steps, desc, progress=progress) as bar:
        while len(losses) < steps:
            for batch in itertools.islice(batches(pairs, batch_size, generator), steps - len(losses)):
                losses.append(update(batch, 1.0))
                bar.update()
                bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
    return losses


def score(model: nn.Module, pairs: list[tuple[str, str]]) -> list[dict]:
    """One row per pair: source, target, greedy prediction, source length in words, whether it is exact."""
    predictions = predict(model, [s for s, _ in pairs])
    return [{"source": s, "target": t, "prediction": p, "words": len(source_tokens(s)), "correct": p == t}
            for (s, t), p in zip(pairs, predictions)]


def long_input_accuracy(rows: list[dict]) -> float:
    """Exact match on the longest quarter of the inputs (by words; ties broken by order)."""
    longest = sorted(rows, key=lambda row: row["words"])[-max(len(rows) // 4, 1):]
    return sum(row["correct"] for row in longest) / len(longest)


# Every model of chapters 04 and 05 trains with the profile's seq2seq_optim (the Transformer: with
# seq2seq_transformer_optim, whose warmup counts updates), so notebooks and the benchmark agree.
# None of the models uses dropout: on 8,000 pairs it slowed the Transformer down (validation exact match
# 0.84 instead of 0.98 after 5 epochs, measured) and the task has no noise to overfit.


def build(kind: str, profile: Profile) -> nn.Module:
    """A model for the numbers task sized by the profile: a GRU encoder-decoder ('gru', 'bahdanau', 'luong')
    or chapter 05's Transformer ('transformer')."""
    if kind == "transformer":
        return Transformer(len(SOURCE_VOCAB), len(TARGET_VOCAB), d_model=profile.transformer_dim,
                           n_heads=profile.transformer_heads, n_layers=profile.transformer_layers,
                           d_ff=4 * profile.transformer_dim, dropout=0.0,
                           max_len=32)  # inputs: 19 words at most
    return make_model(kind, profile.seq2seq_hidden // 2, profile.seq2seq_hidden)


def fit(kind: str, task: dict[str, list[tuple[str, str]]], profile: Profile,
        teacher_forcing: float | Callable[[int], float] = 1.0, seed: int = 0, desc: str | None = None,
        progress: bool = True) -> tuple[nn.Module, list[dict[str, float]]]:
    """Build a model of this kind and train it on the task with the course's settings; (model, history)."""
    torch.manual_seed(seed)
    model = build(kind, profile)
    optim = profile.seq2seq_transformer_optim if kind == "transformer" else profile.seq2seq_optim
    if isinstance(optim.warmup, float):
        raise ValueError(f"seq2seq warmup counts updates (an int), got {optim.warmup!r} in the profile.")
    history = train(model, task["train"], task["val"], profile.seq2seq_epochs, lr=optim.lr,
                    teacher_forcing=teacher_forcing, warmup_steps=optim.warmup or 0,
                    clip_norm=optim.clip_norm, weight_decay=optim.weight_decay, seed=seed, desc=desc or kind,
                    progress=progress)
    return model, history


def make_task(profile: Profile, seed: int = 0) -> dict[str, list[tuple[str, str]]]:
    """The task at the profile's size: validation and test a quarter of training each, up to 12 digits."""
    n = profile.seq2seq_train
    return make_number_task(n, n // 4, n // 4, max_digits=12, seed=seed)

"""Pre-training objectives made concrete: BERT's masking, sentence-pair tasks, and tiny masked and causal LMs.

    mask_tokens        BERT's corruption: 15% of ordinary tokens chosen: 80% [MASK], 10% random, 10% kept
    sentence_pairs     next-sentence prediction (BERT) and sentence-order prediction (ALBERT) examples
    lm_tokenizer       a WordPiece vocabulary learned from the corpus, BERT's rules, a size of our choosing
    lm_blocks          reviews joined by [SEP] and cut into equal blocks: the pre-training stream
    tiny_bert / tiny_gpt   small masked and causal Transformers from transformers' configs
    train_lm           one loop for both objectives: AdamW, warmup then decay, one progress bar
"""

# Shapes: B batch, T tokens per sequence (a block), N blocks, H hidden width, V vocabulary.

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import torch
from torch import nn
from transformers import (AutoTokenizer, BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel,
                          get_scheduler)

from helpers import config as course_config
from helpers import models, training

IGNORE = -100  # the label cross-entropy skips: positions that were not chosen for prediction


# --- Masked language modeling ---------------------------------------------------------------------


def mask_tokens(input_ids: torch.Tensor, special_tokens_mask: torch.Tensor, mask_token_id: int,
                vocab_size: int, mlm_probability: float = 0.15, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption of a batch: (corrupted inputs, labels).

    Each ordinary token is chosen with probability `mlm_probability` (special tokens never are). A chosen
    token becomes [MASK] 80% of the time, a random token 10%, and stays itself 10%, so the model cannot tell
    from the input which tokens it will be asked about. Labels hold the original id at chosen positions,
    -100 elsewhere.

    >>> ids = torch.tensor([[101, 7, 8, 9, 102]])
    >>> special = torch.tensor([[True, False, False, False, True]])
    >>> inputs, labels = mask_tokens(ids, special, 103, 30, mlm_probability=1.0,
    ...                              generator=torch.Generator().manual_seed(0))
    >>> labels.tolist()  # every ordinary token chosen, the special ones never
    [[-100, 7, 8, 9, -100]]
    """
    shape, device = input_ids.shape, input_ids.device
    # Drawn where the generator lives, then moved to the ids: a seed gives the same masks on every device.
    draw = generator.device if generator is not None else device
    chosen = torch.rand(shape, generator=generator, device=draw).to(device) < mlm_probability  # (B, T)
    chosen &= ~special_tokens_mask.to(device).bool()
    action = torch.rand(shape, generator=generator, device=draw).to(device)  # decides a chosen token's fate
    to_mask = chosen & (action < 0.8)
    to_random = chosen & (action >= 0.8) & (action < 0.9)
    random_ids = torch.randint(vocab_size, shape, generator=generator, device=draw).to(device)  # (B, T)
    inputs = torch.where(to_mask, mask_token_id, torch.where(to_random, random_ids, input_ids))  # (B, T)
    labels = torch.where(chosen, input_ids, IGNORE)  # (B, T): the original id where chosen, -100 elsewhere
    return inputs, labels


def masking_statistics(original: torch.Tensor, corrupted: torch.Tensor, labels: torch.Tensor,
                       special_tokens_mask: torch.Tensor, mask_token_id: int) -> dict[str, float]:
    """What a corruption did: the share of ordinary tokens chosen, and how the chosen ones were changed.

    "random" counts chosen tokens replaced by another token; a random draw that hits the original token
    (1 in the vocabulary size) counts as "unchanged".
    """
    special = special_tokens_mask.bool()
    chosen = labels != IGNORE
    n = chosen.sum().item()
    return {
        "chosen (of ordinary tokens)": chosen[~special].float().mean().item(),
        "[MASK] (of chosen)": (corrupted == mask_token_id)[chosen].sum().item() / n,
        "random (of chosen)":
            ((corrupted != original) & (corrupted != mask_token_id))[chosen].sum().item() / n,
        "unchanged (of chosen)": (corrupted == original)[chosen].sum().item() / n,
        "special tokens chosen": chosen[special].sum().item(),
        "tokens changed but not chosen": (corrupted != original)[~chosen].sum().item(),
    }


def special_tokens_mask(tokenizer, input_ids: torch.Tensor) -> torch.Tensor:
    """(B, T) booleans: True at [CLS], [SEP], [PAD] and the other special tokens."""
    return torch.isin(input_ids, torch.tensor(tokenizer.all_special_ids, device=input_ids.device))


def mlm_loss(model: BertForMaskedLM, inputs: torch.Tensor, labels: torch.Tensor,
             attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy on the chosen positions only; the output layer runs on those 15%, not on every token.

    Equal to `model(input_ids=inputs, labels=labels).loss`, which scores every position and then ignores 85%.
    """
    hidden = model.bert(input_ids=inputs, attention_mask=attention_mask).last_hidden_state  # (B, T, H)
    chosen = labels != IGNORE  # (B, T)
    logits = model.cls(hidden[chosen])  # (n_chosen, V)
    return nn.functional.cross_entropy(logits, labels[chosen])


# --- Sentence-pair tasks --------------------------------------------------------------------------


def split_sentences(text: str) -> list[str]:
    """Sentences of a review: HTML line breaks removed, split after . ! or ? followed by a space.

    >>> split_sentences("Great film.<br /><br />The cast shines! Would I watch it again? Yes.")
    ['Great film.', 'The cast shines!', 'Would I watch it again?', 'Yes.']
    """
    text = re.sub(r"<br\s*/?>", " ", text)
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def sentence_pairs(documents: Sequence[Sequence[str]], n: int, task: str = "nsp", seed: int = 0
                   ) -> list[tuple[str, str, int]]:
    """`n` labelled sentence pairs (a, b, label), half of each label, from documents split into sentences.

    "nsp" (BERT): label 1 when b follows a in the same document, 0 when b is a sentence of another document.
    "sop" (ALBERT): label 1 for two consecutive sentences in order, 0 for the same two swapped.
    """
    if task not in ("nsp", "sop"):
        raise ValueError(f"Unknown task {task!r}: choose 'nsp' (next sentence) or 'sop' (sentence order).")
    usable = [d for d in documents if len(d) >= 2]
    if len(usable) < 2:
        raise ValueError("Need at least two documents with two or more sentences each.")
    rng = random.Random(seed)
    pairs = []
    for k in range(n):
        doc = rng.randrange(len(usable))
        i = rng.randrange(len(usable[doc]) - 1)
        a, b = usable[doc][i], usable[doc][i + 1]
        if k % 2:
            pairs.append((a, b, 1))
        elif task == "sop":
            pairs.append((b, a, 0))
        else:
            other = rng.randrange(len(usable) - 1)
            other += other >= doc  # any document but this one
            pairs.append((a, rng.choice(usable[other]), 0))
    return pairs


def word_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the two sentences' lower-cased word sets: a topic signal that ignores order.

    >>> word_overlap("The acting is superb.", "Superb acting, poor plot.")
    0.3333333333333333
    """
    words_a, words_b = (set(re.findall(r"\w+", s.lower())) for s in (a, b))
    return len(words_a & words_b) / max(len(words_a | words_b), 1)


# --- Tiny language models -------------------------------------------------------------------------


def lm_tokenizer(texts: Sequence[str], vocab_size: int, base: str = models.OFFLINE_MODEL):
    """A WordPiece tokenizer with BERT's normalization and special tokens, vocabulary learned from `texts`."""
    source, _ = models.resolve_checkpoint(base)
    return AutoTokenizer.from_pretrained(source).train_new_from_iterator(texts, vocab_size=vocab_size,
                                                                         show_progress=False)


def lm_blocks(ids: Sequence[Sequence[int]], block_size: int, sep_id: int, cls_id: int | None = None
              ) -> torch.Tensor:
    """(N, block_size) ids: documents joined with [SEP] after each, cut into full blocks (the rest dropped).

    With `cls_id`, each block starts with [CLS] and holds block_size - 1 ids of the stream,
    as BERT's inputs do.

    >>> lm_blocks([[5, 6, 7], [8, 9]], block_size=3, sep_id=102).tolist()
    [[5, 6, 7], [102, 8, 9]]
    >>> lm_blocks([[5, 6, 7], [8, 9]], block_size=3, sep_id=102, cls_id=101).tolist()
    [[101, 5, 6], [101, 7, 102], [101, 8, 9]]
    """
    stream = [i for doc in ids for i in (*doc, sep_id)]
    width = block_size - (cls_id is not None)
    n = len(stream) // width
    if n == 0:
        raise ValueError(f"The documents hold {len(stream)} tokens, fewer than one block of {width}.")
    blocks = torch.tensor(stream[: n * width]).view(n, width)  # (N, width)
    return blocks if cls_id is None else torch.cat([torch.full((n, 1), cls_id), blocks], dim=1)


def tiny_bert(vocab_size: int, max_len: int, hidden: int = 128, layers: int = 2, heads: int = 2,
              seed: int = 0) -> BertForMaskedLM:
    """A BERT-shaped masked LM, small enough to pre-train on a CPU in minutes."""
    torch.manual_seed(seed)
    return BertForMaskedLM(BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                                      num_attention_heads=heads, intermediate_size=4 * hidden,
                                      max_position_embeddings=max_len))


def tiny_gpt(vocab_size: int, max_len: int, hidden: int = 128, layers: int = 2, heads: int = 2,
             seed: int = 0) -> GPT2LMHeadModel:
    """A GPT-2-shaped causal LM as big as `tiny_bert`: the same blocks, but each token sees only its past."""
    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_embd=hidden, n_layer=layers, n_head=heads,
                                      n_positions=max_len, bos_token_id=None, eos_token_id=None))


def lm_loss(model: nn.Module, objective: str, batch: torch.Tensor, tokenizer=None,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """The pre-training loss on a batch: "mlm" (mask, then predict the chosen) or "causal" (next token)."""
    if objective == "causal":
        logits = model(input_ids=batch).logits[:, :-1]  # (B, T-1, V): the prediction made at each position...
        return nn.functional.cross_entropy(logits.flatten(0, 1),
                                           batch[:, 1:].flatten())  # ...is the next token
    if objective == "mlm":
        special = special_tokens_mask(tokenizer, batch)  # (B, T)
        inputs, labels = mask_tokens(batch, special, tokenizer.mask_token_id, len(tokenizer),  # (B, T) each
                                     generator=generator)
        return mlm_loss(model, inputs, labels)
    raise ValueError(f"Unknown objective {objective!r}: choose 'mlm' or 'causal'.")


def train_lm(model: nn.Module, objective: str, blocks: torch.Tensor, steps: int,
             optim: course_config.OptimizerSettings, batch_size: int = 32, tokenizer=None, seed: int = 0,
             progress: bool = True) -> list[float]:
    """Pre-train on `steps` random batches of blocks (AdamW, warmup over the fraction `optim.warmup` of the
    steps, linear decay; e.g. `profile.tiny_lm_optim`); the losses."""
    if not isinstance(optim.warmup, float):
        raise ValueError(f"train_lm warms up over a fraction of its steps (a float), got {optim.warmup!r}.")
    device = course_config.get_device()
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
    scheduler = get_scheduler("linear", optimizer, num_warmup_steps=max(1, int(optim.warmup * steps)),
                              num_training_steps=steps)
    autocast, scaler = training.mixed_precision("auto", device)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    with training.progress_bar(steps, f"pre-training ({objective})", "step", progress) as bar:
        for _ in range(steps):
            batch = blocks[torch.randint(len(blocks), (batch_size,), generator=generator)]  # (B, T)
            with autocast():
                loss = lm_loss(model, objective, batch.to(device), tokenizer, generator)
            training.optimizer_step(optimizer, scaler, loss, model.parameters(), optim.clip_norm, [scheduler])
            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.2f}")
    model.eval()
    return losses


@torch.no_grad()
def masked_accuracy(model: BertForMaskedLM, blocks: torch.Tensor, tokenizer, seed: int = 1,
                    batch_size: int = 64) -> float:
    """Top-1 accuracy of the masked LM on the tokens BERT's corruption chooses in held-out blocks."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    correct = total = 0
    for start in range(0, len(blocks), batch_size):
        batch = blocks[start:start + batch_size]
        inputs, labels = mask_tokens(batch, special_tokens_mask(tokenizer, batch), tokenizer.mask_token_id,
                                     len(tokenizer), generator=generator)
        hidden = model.bert(input_ids=inputs.to(device)).last_hidden_state  # (B, T, H)
        chosen = labels != IGNORE
        predicted = model.cls(hidden[chosen.to(device)]).argmax(-1).cpu()
        correct += (predicted == labels[chosen]).sum().item()
        total += chosen.sum().item()
    return correct / total


@torch.no_grad()
def fill_mask(model: BertForMaskedLM, tokenizer, text: str, k: int = 5) -> list[list[tuple[str, float]]]:
    """For each [MASK] in `text`, the k most probable tokens and their probabilities."""
    if tokenizer.mask_token not in text:
        raise ValueError(f"Put at least one {tokenizer.mask_token} in the text to fill.")
    model.eval()
    inputs = tokenizer(text, return_tensors="pt").to(next(model.parameters()).device)
    logits = model(**inputs).logits[0]  # (T, V)
    where = (inputs["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()
    top = logits[where].softmax(-1).topk(k)
    return [[(tokenizer.convert_ids_to_tokens(int(i)), p.item()) for p, i in zip(ps, ids)]
            for ps, ids in zip(top.values, top.indices)]

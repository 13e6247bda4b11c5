"""Fine-tuning a pre-trained encoder for sentiment: truncation, a pooled classifier, one plain PyTorch loop.

The pieces, in the order a review meets them:

    encode        texts -> WordPiece ids, no special tokens, no length limit
    truncate_review / chunk_review
                  ids -> [CLS] + at most max_len - 2 ids + [SEP] (head, tail or head+tail),
                  or overlapping windows
    batching.pad_batch
                  id lists -> {"input_ids", "attention_mask"} padded to the longest in the batch
    SentimentClassifier
                  encoder -> one vector per review ([CLS] or mean of tokens) -> dropout -> linear -> logits
    fit           the training loop: AdamW, warmup then decay, clipping, frozen or full, one progress bar
    FineTuned     the trained model with its tokenizer and settings: predict_proba, accuracy, save; `load`

`train_classifier` strings them together for a train/validation split and caches the result on disk.

Every switch lives in `FinetuneConfig`. A new technique adds a field there, off by default, and a few lines
where it acts: per-layer learning rates in `parameter_groups`, mixed precision around the forward pass in
`fit`, gradient accumulation around its optimizer step, early stopping after its validation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from datasets import Dataset, DatasetDict
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import (AutoConfig, AutoModel, AutoTokenizer, DataCollatorWithPadding, EvalPrediction,
                          PrinterCallback, Trainer, TrainerCallback, TrainingArguments, get_scheduler)
from transformers.modeling_outputs import SequenceClassifierOutput

from helpers import config as course_config
from helpers import data, models, storage, training
from helpers.batching import Batch, collate_padded, head_and_tail, in_length_order, make_loader, mean_pool
from helpers.checks import check_texts

TRUNCATIONS = ("head", "tail", "head+tail")
POOLINGS = ("cls", "mean")
SCHEDULES = ("linear", "cosine", "constant_with_warmup")
CACHE_VARIABLE = "COURSE_CACHE"


# --- From text to model inputs --------------------------------------------------------------------


def encode(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """WordPiece ids of each text, without [CLS]/[SEP] and without any length limit.

    `verbose=False` because a review longer than the model's 512 positions is expected here: it is
    truncated or chunked afterwards, by the strategy the caller picks.
    """
    return tokenizer(check_texts(texts), add_special_tokens=False, verbose=False)["input_ids"]


def truncate(ids: list[int], n: int, strategy: str = "head+tail", head: int | None = None) -> list[int]:
    """At most `n` ids: the first n ("head"), the last n ("tail"), or a few first and the rest last.

    "head+tail" keeps `head` ids from the start (default: a quarter of n, rounded up) and the rest from the
    end, as Sun et al. (2019) found best on IMDB: 128 + 382 of BERT's 510.

    >>> truncate([1, 2, 3, 4, 5, 6, 7, 8], 4, "head")
    [1, 2, 3, 4]
    >>> truncate([1, 2, 3, 4, 5, 6, 7, 8], 4, "tail")
    [5, 6, 7, 8]
    >>> truncate([1, 2, 3, 4, 5, 6, 7, 8], 4, "head+tail")
    [1, 6, 7, 8]
    >>> truncate([1, 2, 3], 4, "head+tail")  # short enough: unchanged
    [1, 2, 3]
    """
    if strategy not in TRUNCATIONS:
        raise ValueError(f"Unknown truncation {strategy!r}: choose one of {', '.join(TRUNCATIONS)}.")
    heads = {"head": n, "tail": 0, "head+tail": -(-n // 4) if head is None else head}  # ids kept at the start
    return head_and_tail(ids, n, heads[strategy])


def truncate_review(ids: list[int], max_len: int, strategy: str, cls_id: int, sep_id: int) -> list[int]:
    """[CLS] + the review's ids cut to max_len - 2 by `strategy` + [SEP]: exactly what the encoder reads.

    >>> truncate_review([1, 2, 3, 4, 5, 6, 7, 8], 6, "head+tail", cls_id=101, sep_id=102)
    [101, 1, 6, 7, 8, 102]
    """
    if max_len < 3:
        raise ValueError(f"max_len must leave room for [CLS], [SEP] and one token: got {max_len}.")
    return [cls_id, *truncate(ids, max_len - 2, strategy), sep_id]


def chunk_review(ids: list[int], max_len: int, overlap: int, cls_id: int, sep_id: int) -> list[list[int]]:
    """Cover a whole review with windows of max_len tokens ([CLS] + max_len - 2 ids + [SEP]).

    Consecutive windows share `overlap` ids, so a phrase cut by one window's edge is whole in the next;
    the last window may be shorter. The same windows as the tokenizer's `return_overflowing_tokens=True,
    stride=overlap`. A classifier then pools the windows' predictions (chunk-and-pool).

    >>> chunk_review([1, 2, 3, 4, 5, 6, 7], max_len=5, overlap=1, cls_id=101, sep_id=102)
    [[101, 1, 2, 3, 102], [101, 3, 4, 5, 102], [101, 5, 6, 7, 102]]
    """
    width = max_len - 2
    if width < 1 or not 0 <= overlap < width:
        raise ValueError(f"Need max_len >= 3 and 0 <= overlap < max_len - 2, got max_len={max_len}, "
                         f"overlap={overlap}.")
    windows, start = [], 0
    while True:
        windows.append([cls_id, *ids[start:start + width], sep_id])
        if start + width >= len(ids):
            return windows
        start += width - overlap


# --- The model ------------------------------------------------------------------------------------


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """One vector per sequence: the first token's ([CLS]) or the mean over the real (unpadded) tokens.

    >>> hidden = torch.tensor([[[1.0], [3.0], [9.0]]])  # (B=1, T=3, H=1); the last token is padding
    >>> (pool(hidden, torch.tensor([[1, 1, 0]]), "cls").tolist(),
    ...  pool(hidden, torch.tensor([[1, 1, 0]]), "mean").tolist())
    ([[1.0]], [[2.0]])
    """
    if pooling == "cls":
        return hidden[:, 0]  # (B, H)
    if pooling == "mean":
        return mean_pool(hidden, attention_mask)  # (B, H)
    raise ValueError(f"Unknown pooling {pooling!r}: choose one of {', '.join(POOLINGS)}.")


class SentimentClassifier(nn.Module):
    """A pre-trained encoder, one pooled vector per review, dropout and a linear layer to the class logits.

    BERT's own `BertForSequenceClassification` reads [CLS] through the pooler (a dense + tanh layer trained
    for next-sentence prediction); here the head reads the encoder's last hidden states directly, so [CLS]
    and mean pooling differ in nothing but the pooling. The encoder's pooler, unused, is dropped.
    """

    def __init__(self, encoder: nn.Module, num_labels: int = 2, pooling: str = "cls", dropout: float = 0.1):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {pooling!r}: choose one of {', '.join(POOLINGS)}.")
        if getattr(encoder, "pooler", None) is not None:
            encoder.pooler = None  # BERT-style encoders skip a missing pooler; it would only cost compute
        self.encoder, self.pooling = encoder, pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids,
                              attention_mask=attention_mask).last_hidden_state  # (B, T, H)
        return self.head(self.dropout(pool(hidden, attention_mask, self.pooling)))  # (B, num_labels)


# --- The settings and the loop --------------------------------------------------------------------


@dataclass(frozen=True)
class FinetuneConfig:
    """Every switch of a fine-tuning run. A new technique adds a field (default: off), a branch in `fit`."""

    lr: float = 5e-5  # peak learning rate, reached at the end of warmup
    epochs: int = 1
    batch_size: int = 16
    max_len: int = 256  # tokens per review, [CLS] and [SEP] included
    truncation: str = "head+tail"  # which max_len - 2 WordPiece ids of a long review are kept (TRUNCATIONS)
    pooling: str = "cls"  # "cls": the first token's vector; "mean": the mean over real tokens
    freeze_encoder: bool = False  # True: train only the head on fixed features
    warmup: float = 0.1  # fraction of the optimizer steps over which the learning rate rises from 0
    schedule: str = "linear"  # after warmup: "linear" decay to 0, "cosine", or "constant_with_warmup"
    weight_decay: float = 0.01  # AdamW's, on weight matrices only (not biases and LayerNorm)
    clip_norm: float | None = 1.0  # clip the gradient's global norm; None: no clipping
    dropout: float = 0.1  # before the head
    seed: int = 0  # head initialization, batch order, dropout
    eval_batch_size: int = 64
    # 08: the switches of the ablation table (each off by default)
    precision: str = "fp32"  # "bf16" (CPU or GPU), "fp16" (GPU, loss scaling): autocast; "auto": the device's
    accumulation: int = 1  # batches whose gradients add up before one step: batches this many times larger
    patience: int | None = None  # early stopping after this many epochs without a better validation accuracy
    layer_decay: float | None = None  # layer-wise LR decay: each layer learns at this factor of the one above
    adversarial: float | None = None  # FGM: also learn from word embeddings pushed this far up the gradient

    def __post_init__(self):
        problems = []
        if self.precision not in training.PRECISIONS:
            problems.append(f"precision must be one of {training.PRECISIONS}, got {self.precision!r}")
        if self.truncation not in TRUNCATIONS:
            problems.append(f"truncation must be one of {TRUNCATIONS}, got {self.truncation!r}")
        if self.pooling not in POOLINGS:
            problems.append(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        for name in ("lr", "epochs", "batch_size", "eval_batch_size", "accumulation"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_len < 3:
            problems.append(f"max_len must be at least 3 ([CLS], a token, [SEP]), got {self.max_len}")
        if not 0 <= self.warmup < 1:
            problems.append(f"warmup is a fraction of the steps, 0 <= warmup < 1, got {self.warmup}")
        if self.adversarial is not None and not self.adversarial > 0:
            problems.append(f"adversarial is the FGM step size, positive (or None), got {self.adversarial}")
        if self.layer_decay is not None and not 0 < self.layer_decay <= 1:
            problems.append(f"layer_decay is a factor, 0 < layer_decay <= 1 (or None), "
                            f"got {self.layer_decay}")
        if self.patience is not None and self.patience < 1:
            problems.append(f"patience is a number of epochs, at least 1 (or None), got {self.patience}")
        if self.clip_norm is not None and not self.clip_norm > 0:
            problems.append(f"clip_norm must be positive or None, got {self.clip_norm}")
        if problems:
            raise ValueError("Invalid FinetuneConfig: " + "; ".join(problems) + ".")

    def key(self) -> str:
        """12 hex digits that change with any setting (for caching a trained model)."""
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class History:
    """What `fit` measured: one row per epoch (losses, accuracies, seconds) and one per optimizer step."""

    epochs: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)

    @property
    def best(self) -> dict:
        """The epoch with the highest validation accuracy (the one `fit` keeps)."""
        return max(self.epochs, key=lambda row: row["val_accuracy"])


def warmup_steps(config: FinetuneConfig, total_steps: int) -> int:
    """Optimizer steps of warmup: the fraction `config.warmup` of all steps, rounded up (as the Trainer does).

    >>> warmup_steps(FinetuneConfig(warmup=0.1), 25)
    3
    """
    return math.ceil(config.warmup * total_steps)


def set_trainable(model: SentimentClassifier, freeze_encoder: bool) -> None:
    """Freeze or unfreeze the encoder; the head always trains."""
    for p in model.encoder.parameters():
        p.requires_grad_(not freeze_encoder)


def layer_depth(name: str, n_layers: int) -> int:
    """How many layers below the head a parameter sits: 0 for head and pooler, n_layers + 1 for embeddings.

    >>> [layer_depth(n, 6) for n in ("head.weight", "encoder.encoder.layer.5.output.dense.weight",
    ...                                "encoder.encoder.layer.0.attention.self.query.bias",
    ...                                "encoder.embeddings.word_embeddings.weight")]
    [0, 1, 6, 7]
    """
    if "embeddings" in name:
        return n_layers + 1
    match = re.search(r"\.layer\.(\d+)\.", name)
    return n_layers - int(match.group(1)) if match else 0


def parameter_groups(model: nn.Module, config: FinetuneConfig) -> list[dict]:
    """AdamW groups: weight decay on weight matrices; none on biases and LayerNorm (BERT's recipe).

    With `layer_decay`, parameters `d` layers below the head learn at lr * layer_decay ** d (Howard and
    Ruder's discriminative fine-tuning; ELECTRA's layer-wise decay): the general features low in the encoder
    move least.
    Only trainable parameters are listed, so a frozen encoder costs the optimizer nothing. The head's group
    comes first, so the first group's rate is the schedule's peak rate.
    """
    n_layers = getattr(getattr(model, "encoder", None), "config", None)
    n_layers = getattr(n_layers, "num_hidden_layers", 0)
    groups: dict[tuple[int, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            depth = layer_depth(name, n_layers) if config.layer_decay is not None else 0
            groups.setdefault((depth, p.ndim >= 2), []).append(p)
    decay = config.layer_decay or 1.0
    return [{"params": params, "weight_decay": config.weight_decay if decays else 0.0,
             "lr": config.lr * decay ** depth}
            for (depth, decays), params in sorted(groups.items(),
                                                  key=lambda item: (item[0][0], not item[0][1]))]


def step_seconds(model: SentimentClassifier, inputs: dict[str, torch.Tensor], labels: torch.Tensor,
                 precision: str = "fp32", device: torch.device | None = None, repeats: int = 2) -> float:
    """Seconds of one training step's forward and backward pass at `precision`: the fastest of `repeats`.

    The first repeat also pays one-time costs (kernel choice, CUDA start-up), hence the minimum. The
    gradients are dropped afterwards, so the model is as it was.
    """
    device = device or course_config.get_device()
    model.to(device).train()
    autocast, _ = training.mixed_precision(precision, device)
    inputs, labels = training.to_device(inputs, device), labels.to(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with autocast():
            logits = model(**inputs)  # (B, num_labels)
        nn.functional.cross_entropy(logits.float(), labels).backward()
        if device.type == "cuda":
            torch.cuda.synchronize()  # CUDA runs asynchronously: wait for the work before reading the clock
        times.append(time.perf_counter() - start)
    model.zero_grad(set_to_none=True)
    return min(times)


@contextlib.contextmanager
def fgm_perturbation(model: SentimentClassifier, epsilon: float):
    """Inside: the word embeddings moved by epsilon * g / ||g||, g their gradient so far; restored on leaving.

    FGM (Miyato et al., 2017): the step that raises the loss fastest for its size; training on the perturbed
    input as well teaches the model not to hinge on tiny changes of a word's vector.
    """
    weight = model.encoder.get_input_embeddings().weight
    grad = weight.grad
    norm = grad.norm() if grad is not None else torch.tensor(0.0)
    delta = epsilon * grad / norm if norm > 0 and torch.isfinite(norm) else None
    with torch.no_grad():
        if delta is not None:
            weight.add_(delta)
    try:
        yield
    finally:
        with torch.no_grad():
            if delta is not None:
                weight.sub_(delta)


@training.oom_advice("batch_size (raise accumulation to keep the step's size) or max_len")
def fit(model: SentimentClassifier, train_batches: Collection[Batch], val_batches: Iterable[Batch],
        config: FinetuneConfig, device: torch.device | None = None, progress: bool = True) -> History:
    """Fine-tune `model` with AdamW, warmup then decay, clipping; validate after each epoch, keep the best.

    `train_batches` is re-iterable with a length (e.g. a DataLoader from `batching.make_loader`), one pass
    per epoch. The learning rate follows transformers' `get_scheduler(config.schedule)` step by step. One
    progress bar for the whole run.
    """
    device = device or course_config.get_device()
    torch.manual_seed(config.seed)  # dropout
    model.to(device)
    set_trainable(model, config.freeze_encoder)
    optimizer = torch.optim.AdamW(parameter_groups(model, config), lr=config.lr)
    steps_per_epoch = -(-len(train_batches) // config.accumulation)
    total = config.epochs * steps_per_epoch
    scheduler = get_scheduler(config.schedule, optimizer, num_warmup_steps=warmup_steps(config, total),
                              num_training_steps=total)
    trainable = [p for p in model.parameters() if p.requires_grad]
    autocast, scaler = training.mixed_precision(config.precision, device)
    history, best, since_best = History(), training.BestWeights(model), 0
    bar = training.progress_bar(total, "fine-tuning", "step", progress)
    for epoch in range(1, config.epochs + 1):
        model.train()
        if config.freeze_encoder:
            model.encoder.eval()  # fixed features: no dropout noise inside a frozen encoder
        start, loss_sum, correct, count = time.perf_counter(), 0.0, 0, 0
        optimizer.zero_grad()
        for i, (inputs, labels) in enumerate(train_batches, start=1):
            inputs, labels = training.to_device((inputs, labels), device)
            with autocast():
                logits = model(**inputs)  # (B, num_labels)
            loss = nn.functional.cross_entropy(logits.float(), labels)
            # Each batch adds 1/accumulation of its mean-loss gradient: k batches make one step on their mean.
            scaler.scale(loss / config.accumulation).backward()
            if config.adversarial is not None:
                with fgm_perturbation(model, config.adversarial), autocast():
                    adversarial_logits = model(**inputs)  # (B, num_labels)
                adversarial_loss = nn.functional.cross_entropy(adversarial_logits.float(), labels)
                scaler.scale(adversarial_loss / config.accumulation).backward()
            loss_sum += loss.item() * len(labels)
            correct += (logits.argmax(-1) == labels).sum().item()
            count += len(labels)
            if i % config.accumulation and i < len(train_batches):
                continue  # keep adding gradients; the epoch's last batches step even if fewer than k
            lr = scheduler.get_last_lr()[0]  # the rate this step uses
            training.optimizer_step(optimizer, scaler, parameters=trainable, clip_norm=config.clip_norm,
                                    schedules=[scheduler])
            optimizer.zero_grad()
            history.steps.append({"step": len(history.steps) + 1, "loss": loss.item(), "lr": lr})
            bar.update()
            bar.set_postfix(epoch=epoch, loss=f"{loss_sum / count:.3f}", lr=f"{lr:.1e}")
        val = training.evaluate(model, val_batches, device)
        history.epochs.append({"epoch": epoch, "train_loss": loss_sum / count,
                               "train_accuracy": correct / count, "val_loss": val["loss"],
                               "val_accuracy": val["accuracy"], "seconds": time.perf_counter() - start})
        bar.set_postfix(epoch=epoch, loss=f"{loss_sum / count:.3f}", val_acc=f"{val['accuracy']:.3f}")
        if best.update(val["accuracy"], last=epoch == config.epochs):
            since_best = 0
        else:
            since_best += 1
            if config.patience is not None and since_best >= config.patience:
                break  # early stopping: validation stopped improving; the best epoch's weights return below
    bar.close()
    best.restore()
    return history


# --- A trained classifier: predict, score, save, load ---------------------------------------------


@dataclass
class FineTuned:
    """A fine-tuned classifier with the tokenizer and settings that feed it."""

    model: SentimentClassifier
    tokenizer: object
    config: FinetuneConfig
    history: History
    train_seconds: float
    model_name: str

    def inputs(self, texts: Sequence[str]) -> list[list[int]]:
        """Model-ready ids for each text: tokenized, truncated by the config, [CLS]/[SEP] added."""
        t = self.tokenizer
        return [truncate_review(ids, self.config.max_len, self.config.truncation,
                                t.cls_token_id, t.sep_token_id)
                for ids in encode(t, texts)]

    def batches(self, texts: Sequence[str], labels: Sequence[int] | None = None,
                train: bool = False) -> DataLoader:
        """Batches of `eval_batch_size` in the order of `texts` (pass labels to score them); with
        `train=True`, shuffled batches of `batch_size` that group reviews of similar length, a new order
        each epoch."""
        labels = list(labels) if labels is not None else [0] * len(texts)
        size = self.config.batch_size if train else self.config.eval_batch_size
        return make_loader(self.inputs(texts), labels, size, collate_padded(self.tokenizer.pad_token_id),
                           shuffle=train, seed=self.config.seed)

    def predict_proba(self, texts: Sequence[str]) -> torch.Tensor:
        """(len(texts), num_labels) class probabilities, in batches, in the order of `texts`."""
        texts, device = check_texts(texts), next(self.model.parameters()).device
        return in_length_order(lambda order: training.predict_proba(
            self.model, self.batches([texts[i] for i in order]), device), [len(t) for t in texts])

    def accuracy(self, ds: Dataset) -> float:
        """Accuracy on a dataset with `text` and `label` columns."""
        proba = self.predict_proba(list(ds["text"]))
        return (proba.argmax(-1) == torch.tensor(ds["label"])).float().mean().item()

    def write(self, folder: Path) -> None:
        """Write the model, tokenizer, settings and history into the existing folder `folder`.

        finetune.json also records what `load` checks the other files against: the encoder's model type and
        the tokenizer's vocabulary size (the manifest `save_folder` adds holds every file's checksum).
        """
        save_model(self.model, str(folder / "model.safetensors"))
        self.model.encoder.config.save_pretrained(folder / "encoder")
        self.tokenizer.save_pretrained(folder / "tokenizer")
        meta = {"config": dataclasses.asdict(self.config), "model_name": self.model_name,
                "num_labels": self.model.head.out_features, "train_seconds": self.train_seconds,
                "history": dataclasses.asdict(self.history),
                "model_type": self.model.encoder.config.model_type, "tokenizer_size": len(self.tokenizer)}
        (folder / "finetune.json").write_text(json.dumps(meta, indent=1))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the classifier to the folder `path`, all or nothing (`save_folder`)."""
        return save_folder(path, self.write, writer="helpers.finetune.FineTuned.save")


# What `save` wrote before folders carried a manifest (predictor.json: `SentimentPredictor.save`'s settings).
OLD_LAYOUT = frozenset({"finetune.json", "model.safetensors", "encoder", "tokenizer", "predictor.json"})


def saved_before_manifests(folder: Path) -> bool:
    """Whether `folder` looks saved by the course before it wrote manifests: those names and nothing else."""
    names = {p.name for p in folder.iterdir()}
    return "finetune.json" in names and names <= OLD_LAYOUT


def check_save_path(path: str | os.PathLike) -> Path:
    """`path` made absolute if `save_folder` may write there; else `storage.RefusedPath`. Writes nothing."""
    return storage.check_target(path, legacy=saved_before_manifests)


def save_folder(path: str | os.PathLike, write: Callable[[Path], None],
                writer: str = "helpers.finetune.save_folder") -> Path:
    """Fill a new folder with `write(folder)` and swap it in at `path`: a kill at any moment leaves the old
    folder or the new one (`storage.replace_folder`). Only a folder the course saved is replaced."""
    return storage.replace_folder(path, write, writer, legacy=saved_before_manifests)


def load(path: str | os.PathLike) -> FineTuned:
    """A classifier written by `FineTuned.save`, on the course's device, after checking it is undamaged.

    Only local files are read and no code from the folder is run. A folder saved before the course wrote
    checksums loads with a warning; anything damaged is refused with an error naming the file.
    """
    folder = storage.readable_folder(path)
    if not (folder / "finetune.json").is_file():
        raise FileNotFoundError(f"{folder} holds no saved classifier (no finetune.json); save one with "
                                ".save().")
    if storage.verify_folder(folder) is None:
        warnings.warn(f"{folder} was saved before the course recorded checksums, so it cannot be checked for "
                      "damage: save it again (.save) to add them.", stacklevel=2)
    meta = storage.read_json(folder / "finetune.json")
    try:
        config, history = FinetuneConfig(**meta["config"]), History(**meta["history"])
        num_labels, train_seconds, model_name = meta["num_labels"], meta["train_seconds"], meta["model_name"]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{folder / 'finetune.json'} is damaged ({error!r}). Save the classifier "
                         "again.") from None
    encoder_config = _encoder_config(folder / "encoder", meta.get("model_type"))
    tokenizer = _tokenizer(folder / "tokenizer", meta.get("tokenizer_size"))
    model = SentimentClassifier(AutoModel.from_config(encoder_config, trust_remote_code=False), num_labels,
                                config.pooling, config.dropout)
    _load_weights(model, folder / "model.safetensors")
    model.to(course_config.get_device()).eval()
    return FineTuned(model, tokenizer, config, history, train_seconds, model_name)


def _refuse_code(file: Path) -> None:
    """Refuse a config asking transformers to run Python code shipped in the folder (its `auto_map`)."""
    if "auto_map" in storage.read_json(file):
        raise ValueError(f"{file} asks to run code shipped with the model (auto_map); the course never runs "
                         "code from a saved folder. Save the classifier again with the course's code.")


def _encoder_config(folder: Path, model_type: str | None):
    """The encoder's config from `folder` alone (no download, no custom code), of the type saved."""
    file = folder / "config.json"
    if not file.is_file():
        raise FileNotFoundError(f"{file} is missing: the saved classifier is incomplete. Save it again.")
    _refuse_code(file)
    try:
        encoder_config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{file} cannot be read as an encoder's config ({error}). Save the classifier "
                         "again.") from None
    if model_type is not None and encoder_config.model_type != model_type:
        raise ValueError(f"{file} describes a {encoder_config.model_type!r} encoder, but a {model_type!r} "
                         "one was saved: the file was changed. Save the classifier again.")
    return encoder_config


def _tokenizer(folder: Path, size: int | None):
    """The tokenizer from `folder` alone, with the vocabulary size it was saved with."""
    file = folder / "tokenizer.json"
    if not file.is_file():  # without it, transformers builds a tokenizer of 5 special tokens and says nothing
        raise FileNotFoundError(f"{file} is missing: the saved classifier is incomplete. Save it again.")
    if (folder / "tokenizer_config.json").is_file():
        _refuse_code(folder / "tokenizer_config.json")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{folder} cannot be read as a tokenizer ({error}). Save the classifier "
                         "again.") from None
    if size is not None and len(tokenizer) != size:
        raise ValueError(f"{file} gives a vocabulary of {len(tokenizer):,} tokens, but one of {size:,} was "
                         "saved: the file was changed. Save the classifier again.")
    return tokenizer


def _load_weights(model: nn.Module, file: Path) -> None:
    """Load `file` into `model`; refuse a damaged file, missing or extra weights, and NaN or infinite ones."""
    if not file.is_file():
        raise FileNotFoundError(f"{file} is missing: the saved classifier is incomplete. Save it again.")
    try:
        load_model(model, str(file))
    except (SafetensorError, RuntimeError, OSError) as error:
        raise ValueError(f"{file} is damaged or belongs to another model ({error}). Save the classifier "
                         "again.") from None
    broken = [name for name, w in model.state_dict().items()
              if w.is_floating_point() and not w.isfinite().all()]
    if broken:
        raise ValueError(f"{file} holds NaN or infinite weights ({', '.join(broken[:3])}): training diverged "
                         "or the file is damaged. Retrain with a lower learning rate, or save it again.")


# --- From a train/validation split to a trained (or cached) classifier ----------------------------


def build_classifier(model_name: str, config: FinetuneConfig, num_labels: int = 2, pretrained: bool = True,
                     verbose: bool = True) -> tuple[object, SentimentClassifier]:
    """(tokenizer, SentimentClassifier) on `model_name`'s encoder: pre-trained, or its shape from scratch."""
    tokenizer, encoder = models.load_pretrained(model_name, verbose=verbose)
    if not pretrained:
        torch.manual_seed(config.seed)
        encoder = AutoModel.from_config(encoder.config)  # same architecture, random weights
    torch.manual_seed(config.seed)  # the head's initialization
    return tokenizer, SentimentClassifier(encoder, num_labels, config.pooling, config.dropout)


def default_cache_dir() -> Path:
    """Where trained classifiers are kept: $COURSE_CACHE, else ~/.cache/pytorch-nlp-course."""
    return Path(os.environ.get(CACHE_VARIABLE) or "~/.cache/pytorch-nlp-course").expanduser() / "finetuned"


def cache_key(model_name: str, config: FinetuneConfig, train: Dataset, val: Dataset,
              pretrained: bool = True) -> str:
    """12 hex digits naming one training run: the checkpoint actually loaded, the settings and the data."""
    source = models.resolve_checkpoint(model_name)[1]
    fingerprint = data.fingerprint(DatasetDict({"train": train, "validation": val}))
    text = json.dumps([source, pretrained, config.key(), fingerprint])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def train_classifier(train: Dataset, val: Dataset, config: FinetuneConfig, model_name: str | None = None,
                     pretrained: bool = True, cache_dir: str | os.PathLike | None = None,
                     progress: bool = True) -> FineTuned:
    """Fine-tune `model_name` (default: the profile's) on `train`, validating on `val`.

    With `cache_dir`, a run with the same checkpoint, settings and data is loaded from there instead of
    retrained (and a new run is saved there), so later chapters can reuse it; the results are the same.
    """
    model_name = model_name or course_config.get_profile().model_name
    folder = None
    if cache_dir is not None:
        folder = Path(cache_dir).expanduser() / cache_key(model_name, config, train, val, pretrained)
        if (storage.readable_folder(folder) / "finetune.json").is_file():
            if progress:
                print(f"Loaded the fine-tuned classifier from the cache ({folder.name}).")
            return load(folder)
    tokenizer, model = build_classifier(model_name, config, pretrained=pretrained, verbose=progress)
    start = time.perf_counter()
    framed = FineTuned(model, tokenizer, config, History(), 0.0, model_name)
    train_batches = framed.batches(list(train["text"]), list(train["label"]), train=True)
    val_batches = framed.batches(list(val["text"]), list(val["label"]))
    framed.history = fit(model, train_batches, val_batches, config, progress=progress)
    framed.train_seconds = time.perf_counter() - start
    model.eval()
    if folder is not None:
        framed.save(folder)
    return framed


# --- The same run with the Hugging Face Trainer ---------------------------------------------------


class WithLoss(nn.Module):
    """The contract the `Trainer` expects: called with `labels`, a model returns its loss with its logits."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                labels: torch.Tensor | None = None) -> SequenceClassifierOutput:
        logits = self.model(input_ids, attention_mask)  # (B, num_labels)
        loss = None if labels is None else nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


class TrainerProgress(TrainerCallback):
    """One progress bar for a Trainer run, with the latest loss; nothing printed between its redraws."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar = tqdm(total=state.max_steps, desc="Trainer", unit="step", leave=True)

    def on_step_end(self, args, state, control, **kwargs):
        self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        shown = {k: f"{v:.3g}" for k, v in (logs or {}).items() if k in ("loss", "eval_accuracy")}
        if shown:
            self.bar.set_postfix(shown)

    def on_train_end(self, args, state, control, **kwargs):
        self.bar.close()


def trainer_dataset(classifier: FineTuned, reviews: Dataset) -> Dataset:
    """Reviews as the Trainer reads them: token ids exactly as `classifier` makes them, and their labels."""
    return Dataset.from_dict({"input_ids": classifier.inputs(list(reviews["text"])),
                              "label": list(reviews["label"])})


def accuracy(prediction: EvalPrediction) -> dict[str, float]:
    """The Trainer's `compute_metrics`: the share of reviews whose highest logit is their label's.

    >>> import numpy as np
    >>> accuracy(EvalPrediction(predictions=np.array([[0.2, 0.8], [0.9, 0.1]]), label_ids=np.array([1, 1])))
    {'accuracy': 0.5}
    """
    return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}


def training_arguments(config: FinetuneConfig, output_dir: str | os.PathLike, logging_steps: int = 50,
                       **overrides) -> TrainingArguments:
    """`FinetuneConfig` in the Trainer's words: the same optimizer, schedule, clipping, batches and seed.

    `overrides` are TrainingArguments fields set over these (`train_sentiment` adds what torchrun needs).
    """
    precision = training.resolve_precision(config.precision, course_config.get_device())
    arguments = dict(
        output_dir=str(output_dir), learning_rate=config.lr, num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.eval_batch_size,
        warmup_steps=config.warmup, lr_scheduler_type=config.schedule, weight_decay=config.weight_decay,
        max_grad_norm=config.clip_norm or 0.0, seed=config.seed,
        gradient_accumulation_steps=config.accumulation, bf16=precision == "bf16", fp16=precision == "fp16",
        use_cpu=course_config.get_device().type == "cpu",  # without it, bf16 on a CPU is refused
        train_sampling_strategy="group_by_length",  # similar lengths together, as batching.make_loader
        eval_strategy="epoch", save_strategy="no", logging_strategy="steps", logging_steps=logging_steps,
        report_to="none", disable_tqdm=True,  # TrainerProgress draws the one bar
        dataloader_pin_memory=torch.cuda.is_available(),  # pinned memory only helps copies to a GPU
    )
    return TrainingArguments(**arguments | overrides)


def trainer_fit(model: SentimentClassifier, tokenizer, train: Dataset, val: Dataset, config: FinetuneConfig,
                logging_steps: int = 50, progress: bool = True) -> History:
    """Fine-tune `model` in place with the Hugging Face `Trainer`, on the same settings as `fit`.

    The reviews are truncated as `fit` gets them; `DataCollatorWithPadding` pads each batch. Returns the
    Trainer's log as a `History`: loss and learning rate every `logging_steps` steps, accuracy every epoch.
    """
    framed = FineTuned(model, tokenizer, config, History(), 0.0, "")
    with tempfile.TemporaryDirectory() as output_dir:  # save_strategy="no": nothing is kept there
        trainer = Trainer(model=WithLoss(model), args=training_arguments(config, output_dir, logging_steps),
                          train_dataset=trainer_dataset(framed, train),
                          eval_dataset=trainer_dataset(framed, val),
                          data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=accuracy)
        trainer.remove_callback(PrinterCallback)
        if progress:
            trainer.add_callback(TrainerProgress)
        trainer.train()
    return trainer_history(trainer.state.log_history)


def trainer_history(log: list[dict]) -> History:
    """A Trainer's `state.log_history` as a `History`: the rows of training steps and of evaluations.

    >>> trainer_history([{"step": 1, "loss": 0.7, "learning_rate": 1e-4, "epoch": 0.5},
    ...                  {"epoch": 1.0, "eval_loss": 0.6, "eval_accuracy": 0.7, "eval_runtime": 2.0}]).best
    {'epoch': 1, 'val_loss': 0.6, 'val_accuracy': 0.7, 'seconds': 2.0}
    """
    return History(
        epochs=[{"epoch": round(row["epoch"]), "val_loss": row["eval_loss"],
                 "val_accuracy": row["eval_accuracy"], "seconds": row["eval_runtime"]}
                for row in log if "eval_accuracy" in row],
        steps=[{"step": row["step"], "loss": row["loss"], "lr": row["learning_rate"]}
               for row in log if "loss" in row])

"""The training core every loop of the course shares, and the classifiers' loop `fit` built on it.

    model_device / to_device   where a model lives, and a batch moved there (the device rule)
    choose_precision / mixed_precision
                               fp32, bf16 or fp16 autocast for a device, and the gradient scaler fp16 needs
    optimizer_step             zero the gradients, backward through the scaler, clip, step, schedule
    BestWeights                remember the weights of the best validation score; put them back at the end
    progress_bar               one tqdm bar per run, kept when it closes (summaries are printed after it)
    oom_advice                 a GPU out-of-memory error again, saying which settings of the profile to lower
    fit                        train a classifier, validate after each epoch, keep the best epoch
    TrainedClassifier          what training a classifier returns: the model and the text pipeline feeding it
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from helpers import config
from helpers.batching import Batch, Example, make_loader
from helpers.checks import check_texts

if TYPE_CHECKING:  # types only: the infrastructure imports no chapter's code
    from datasets import Dataset

    from helpers.tokenization import Vocab

HISTORY_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


# --- Device -------------------------------------------------------------------------------------------------


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer, for a model with none): where its inputs belong.

    >>> model_device(nn.Linear(2, 2).to("meta"))
    device(type='meta')
    """
    tensor = next(model.parameters(), None)
    tensor = next(model.buffers(), None) if tensor is None else tensor
    return torch.device("cpu") if tensor is None else tensor.device


def to_device(batch: Any, device: torch.device) -> Any:
    """`batch` with every tensor moved to `device`: a tensor, or one inside a dict, list or (named) tuple.

    >>> to_device({"ids": torch.tensor([1, 2]), "n": 2}, torch.device("meta"))["ids"].device
    device(type='meta')
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a NamedTuple keeps its type and field names
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


# --- Precision ----------------------------------------------------------------------------------------------


def choose_precision(device: torch.device, capability: tuple[int, int] | None = None) -> str:
    """The autocast precision to train in on `device`: bf16 on a CUDA GPU of compute capability 8.0 or more
    (Ampere on), fp16 with loss scaling below it (a T4 has no bf16 units: it would emulate it, slowly), fp32
    elsewhere. `capability` defaults to the GPU's own.

    >>> choose_precision(torch.device("cpu")), choose_precision(torch.device("cuda"), capability=(7, 5))
    ('fp32', 'fp16')
    >>> choose_precision(torch.device("cuda"), capability=(8, 0))
    'bf16'
    """
    if device.type != "cuda":
        return "fp32"
    capability = capability or torch.cuda.get_device_capability(device)
    return "bf16" if tuple(capability) >= (8, 0) else "fp16"


def resolve_precision(precision: str, device: torch.device) -> str:
    """`precision` checked for `device`; "auto" becomes `choose_precision(device)`.

    >>> resolve_precision("auto", torch.device("cpu")), resolve_precision("bf16", torch.device("cpu"))
    ('fp32', 'bf16')
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    precision = choose_precision(device) if precision == "auto" else precision
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("fp16 training needs a CUDA GPU; on a CPU use precision='bf16' or 'fp32'.")
    return precision


def mixed_precision(precision: str, device: torch.device
                    ) -> tuple[Callable[[], contextlib.AbstractContextManager], torch.amp.GradScaler]:
    """(autocast context factory, gradient scaler) for training at `precision` ("auto": `choose_precision`'s).

    bf16 has fp32's range, so it needs no loss scaling; fp16 underflows small gradients to zero without it,
    which is why PyTorch's GradScaler multiplies the loss before backward and divides the gradients after.
    fp32 gets no-ops: the same arithmetic as a loop without them.
    """
    precision = resolve_precision(precision, device)
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    autocast = lambda: torch.autocast(device.type, dtype=dtype, enabled=precision != "fp32")  # noqa: E731
    return autocast, torch.amp.GradScaler(device.type, enabled=precision == "fp16")


# --- One optimizer step, the best epoch, the progress bar ---------------------------------------------------


def optimizer_step(optimizers: torch.optim.Optimizer | Sequence[torch.optim.Optimizer],
                   scaler: torch.amp.GradScaler, loss: torch.Tensor | None = None,
                   parameters: Iterable[nn.Parameter] | None = None, clip_norm: float | None = None,
                   schedules: Sequence[torch.optim.lr_scheduler.LRScheduler] = ()) -> None:
    """One update: zero the gradients and backward `loss` through the scaler (without `loss`, the caller has
    already added up its gradients), clip the true gradient of `parameters` to `clip_norm`, step every
    optimizer, then every learning-rate schedule."""
    optimizers = [optimizers] if isinstance(optimizers, torch.optim.Optimizer) else list(optimizers)
    if loss is not None:
        for optimizer in optimizers:
            optimizer.zero_grad()
        scaler.scale(loss).backward()
    if clip_norm is not None:
        for optimizer in optimizers:
            scaler.unscale_(optimizer)  # clip the true gradient, not the scaled one
        if parameters is None:
            parameters = [p for o in optimizers for group in o.param_groups for p in group["params"]]
        nn.utils.clip_grad_norm_(parameters, clip_norm)
    for optimizer in optimizers:
        scaler.step(optimizer)
    scaler.update()
    for schedule in schedules:
        schedule.step()


class BestWeights:
    """Remember the model's weights at its best validation score so far; `restore` puts them back.

    >>> model = nn.Linear(1, 1, bias=False)
    >>> best = BestWeights(model)
    >>> for score in (0.5, 0.9, 0.7):
    ...     _ = best.update(score)
    ...     _ = model.weight.data.add_(1.0)
    >>> best.restore().score, model.weight.item() - best.state["weight"].item()
    (0.9, 0.0)
    """

    def __init__(self, model: nn.Module):
        self.model, self.score, self.state = model, None, None

    def update(self, score: float, last: bool = False) -> bool:
        """Keep a copy of the weights if `score` beats every earlier one; whether it did. With `last` (no
        update follows), the weights in place are the best ones and need no copy."""
        if self.score is not None and not score > self.score:
            return False
        self.score = score
        self.state = None if last else {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        return True

    def restore(self) -> BestWeights:
        """Load the best weights into the model (if the best were the last, they are already there)."""
        if self.state is not None:
            self.model.load_state_dict(self.state)
        return self


def progress_bar(total: int | None, desc: str | None, unit: str = "it", progress: bool = True) -> tqdm:
    """The course's one bar per run: kept when it closes, metrics in `set_postfix`, summaries after it."""
    return tqdm(total=total, desc=desc, unit=unit, leave=True, disable=not progress)



def oom_message(lower: str, profile: str) -> str:
    """What to do when training runs out of GPU memory: the settings to `lower`, in the profile in use.

    >>> print(oom_message("batch_size or max_len", "full"))  # doctest: +ELLIPSIS
    The GPU ran out of memory while training in the 'full' profile. Lower batch_size or max_len: ...
    """
    return (f"The GPU ran out of memory while training in the {profile!r} profile. Lower {lower}: in the "
            f"profile or config you pass (e.g. dataclasses.replace(profile, batch_size=16)), or choose a "
            f"smaller profile (COURSE_PROFILE=cpu); then restart the kernel, which frees the memory this run "
            f"still holds.")


@contextlib.contextmanager
def oom_advice(lower: str) -> Iterator[None]:
    """Re-raise `torch.OutOfMemoryError` with `oom_message` before PyTorch's own; also a decorator."""
    try:
        yield
    except torch.OutOfMemoryError as error:
        raise torch.OutOfMemoryError(f"{oom_message(lower, config.get_profile().name)}\n\n{error}") from error

@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[Batch],
             device: torch.device | None = None) -> dict[str, float]:
    """Mean cross-entropy loss and accuracy of `model` over `batches` (on `device`, default the model's)."""
    model.eval()
    device = device or model_device(model)
    loss_sum, correct, count = 0.0, 0, 0
    for inputs, labels in batches:
        labels = labels.to(device)
        logits = model(**to_device(inputs, device))  # (B, classes)
        loss_sum += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(-1) == labels).sum().item()
        count += len(labels)
    if count == 0:
        raise ValueError("No examples to evaluate: the batches are empty.")
    return {"loss": loss_sum / count, "accuracy": correct / count}


@torch.no_grad()
def predict_proba(model: nn.Module, batches: Iterable[Batch],
                  device: torch.device | None = None) -> torch.Tensor:
    """Class probabilities (N, classes) for every example in `batches`, in order (on the CPU)."""
    model.eval()
    device = device or model_device(model)
    probabilities = [model(**to_device(inputs, device)).softmax(-1).cpu() for inputs, _ in batches]
    if not probabilities:
        raise ValueError("No examples to predict: the batches are empty.")
    return torch.cat(probabilities)


def make_optimizers(model: nn.Module, lr: float,
                    weight_decay: float) -> list[torch.optim.Optimizer]:
    """AdamW for dense weights; SparseAdam for sparse embedding tables, which then update only the
    rows a batch used. Frozen parameters (requires_grad False) are left out."""
    sparse = [p for m in model.modules()
              if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse
              for p in m.parameters() if p.requires_grad]
    dense = [p for p in model.parameters() if p.requires_grad and not any(p is s for s in sparse)]
    optimizers: list[torch.optim.Optimizer] = [
        torch.optim.AdamW(dense, lr=lr, weight_decay=weight_decay)]
    if sparse:
        optimizers.append(torch.optim.SparseAdam(sparse, lr=lr))
    return optimizers


def warmup_then_decay(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """The learning-rate factor at each update: linear warmup from 0 to 1, then linear decay to 0 at the end.

    >>> [round(warmup_then_decay(2, 6)(step), 2) for step in range(6)]
    [0.5, 1.0, 1.0, 0.75, 0.5, 0.25]
    """
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return (total_steps - step) / max(total_steps - warmup_steps, 1)

    return factor


def format_history(history: list[dict[str, float]]) -> str:
    """The per-epoch rows as a small text table, printed after the progress bar has closed.

    >>> print(format_history([{"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.75,
    ...                        "val_loss": 0.4, "val_accuracy": 0.8, "seconds": 12.3}]))
    epoch  train_loss  train_accuracy  val_loss  val_accuracy  seconds
        1       0.500           0.750     0.400         0.800       12
    """
    header = "  ".join(HISTORY_COLUMNS)
    lines = [header]
    for row in history:
        cells = [f"{row[c]:.0f}" if c in ("epoch", "seconds") else f"{row[c]:.3f}"
                 for c in HISTORY_COLUMNS]
        lines.append("  ".join(cell.rjust(len(c)) for cell, c in zip(cells, HISTORY_COLUMNS)))
    return "\n".join(lines)


@oom_advice("batch_size or max_len (and the vocabulary or model sizes)")
def fit(
    model: nn.Module,
    train_batches: Iterable[Batch],
    val_batches: Iterable[Batch],
    epochs: int,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    clip_norm: float | None = None,
    device: torch.device | None = None,
    progress: bool = True,
    desc: str = "training",
    warmup: float | None = None,
    precision: str = "auto",
) -> list[dict[str, float]]:
    """Train with AdamW; after each epoch measure validation accuracy; restore the best epoch at the end.

    The model moves to `device` (default: `config.get_device()`), each batch to the model. The learning rate
    is constant, or with `warmup` (a fraction of all steps) it rises over those first steps and then decays
    linearly to 0 at the last one (`warmup_then_decay`). The forward pass runs in `mixed_precision(precision)`
    (auto: fp32 on a CPU). One progress bar for the whole run (the last epoch's metrics beside it); with
    `progress`, the history is printed as a table once the bar has closed. Returns one row per epoch (train
    loss/accuracy, validation loss/accuracy, seconds) for plotting.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}.")
    device = device or config.get_device()
    model.to(device)
    optimizers = make_optimizers(model, lr, weight_decay)
    autocast, scaler = mixed_precision(precision, device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    history, best = [], BestWeights(model)
    per_epoch = len(train_batches) if hasattr(train_batches, "__len__") else None
    schedules = []
    if warmup is not None:
        if not 0 <= warmup < 1 or per_epoch is None:
            raise ValueError(f"warmup is a fraction of the steps, 0 <= warmup < 1, and needs training "
                             f"batches with a length (a DataLoader); got warmup={warmup!r}.")
        total = epochs * per_epoch
        factor = warmup_then_decay(max(1, int(warmup * total)), total)
        schedules = [torch.optim.lr_scheduler.LambdaLR(optimizer, factor) for optimizer in optimizers]
    with progress_bar(per_epoch and epochs * per_epoch, desc, "batch", progress) as bar:
        for epoch in range(1, epochs + 1):
            model.train()
            start, loss_sum, correct, count = time.perf_counter(), 0.0, 0, 0
            for inputs, labels in train_batches:
                inputs, labels = to_device((inputs, labels), device)
                with autocast():
                    logits = model(**inputs)  # (B, classes)
                loss = nn.functional.cross_entropy(logits.float(), labels)
                optimizer_step(optimizers, scaler, loss, trainable, clip_norm, schedules)
                loss_sum += loss.item() * len(labels)
                correct += (logits.argmax(-1) == labels).sum().item()
                count += len(labels)
                bar.update()
            if count == 0:
                raise ValueError("No training examples: the training batches are empty.")
            val = evaluate(model, val_batches, device)
            history.append({"epoch": epoch, "train_loss": loss_sum / count,
                            "train_accuracy": correct / count, "val_loss": val["loss"],
                            "val_accuracy": val["accuracy"], "seconds": time.perf_counter() - start})
            bar.set_postfix(epoch=epoch, train_loss=f"{loss_sum / count:.3f}",
                            val_acc=f"{val['accuracy']:.3f}")
            best.update(val["accuracy"])
    best.restore()
    if progress:
        print(format_history(history))
    return history


# --- A trained classifier -----------------------------------------------------------------------------------


@dataclass
class TrainedClassifier:
    """A trained model with the text pipeline that feeds it (chapter 03's classifiers and chapter 05's)."""

    model: nn.Module
    encode: Callable[[Sequence[str]], list[list[int]]]
    collate: Callable[[list[Example]], Batch]
    history: list[dict[str, float]]
    train_seconds: float
    vocab: Vocab
    batch_size: int

    def loader(self, texts: Sequence[str], labels: Sequence[int] | None = None) -> DataLoader:
        """Batches of `texts` in their order (labels 0 when none are given, for prediction)."""
        texts = check_texts(texts)
        return make_loader(self.encode(texts), [0] * len(texts) if labels is None else labels,
                           self.batch_size, self.collate)

    def accuracy(self, ds: Dataset) -> float:
        """Accuracy on a dataset with text and label columns."""
        return evaluate(self.model, self.loader(ds["text"], list(ds["label"])))["accuracy"]

    def predict_proba(self, texts: Sequence[str]) -> torch.Tensor:
        """P(negative), P(positive) for each text: (len(texts), 2)."""
        return predict_proba(self.model, self.loader(texts))

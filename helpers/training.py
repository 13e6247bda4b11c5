"""One training loop for every classifier in the course: train, validate, keep the best epoch."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable

import torch
from torch import nn
from tqdm.auto import tqdm

Batch = tuple[dict[str, torch.Tensor], torch.Tensor]  # (model.forward's keyword inputs, labels (B,))
HISTORY_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


def to_device(inputs: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Move every tensor of a batch's inputs to `device`."""
    return {k: v.to(device) for k, v in inputs.items()}


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[Batch], device: torch.device) -> dict[str, float]:
    """Mean cross-entropy loss and accuracy of `model` over `batches`."""
    model.eval()
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
def predict_proba(model: nn.Module, batches: Iterable[Batch], device: torch.device) -> torch.Tensor:
    """Class probabilities (N, classes) for every example in `batches`, in order."""
    model.eval()
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
) -> list[dict[str, float]]:
    """Train with AdamW; after each epoch measure validation accuracy; restore the best epoch at the end.

    The learning rate is constant, or with `warmup` (a fraction of all steps) it rises over those first steps
    and then decays linearly to 0 at the last one (`warmup_then_decay`). One progress bar for the whole run
    (the last epoch's metrics beside it); with `progress`, the history is printed as a table once the bar has
    closed. Returns one row per epoch (train loss/accuracy, validation loss/accuracy, seconds) for plotting.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}.")
    device = device or next(model.parameters()).device
    model.to(device)
    optimizers = make_optimizers(model, lr, weight_decay)
    history, best, best_state = [], -1.0, None
    per_epoch = len(train_batches) if hasattr(train_batches, "__len__") else None
    schedules = []
    if warmup is not None:
        if not 0 <= warmup < 1 or per_epoch is None:
            raise ValueError(f"warmup is a fraction of the steps, 0 <= warmup < 1, and needs training batches "
                             f"with a length (a DataLoader); got warmup={warmup!r}.")
        total = epochs * per_epoch
        factor = warmup_then_decay(max(1, int(warmup * total)), total)
        schedules = [torch.optim.lr_scheduler.LambdaLR(optimizer, factor) for optimizer in optimizers]
    with tqdm(total=per_epoch and epochs * per_epoch, desc=desc, unit="batch", leave=True,
              disable=not progress) as bar:
        for epoch in range(1, epochs + 1):
            model.train()
            start, loss_sum, correct, count = time.perf_counter(), 0.0, 0, 0
            for inputs, labels in train_batches:
                labels = labels.to(device)
                logits = model(**to_device(inputs, device))  # (B, classes)
                loss = nn.functional.cross_entropy(logits, labels)
                for optimizer in optimizers:
                    optimizer.zero_grad()
                loss.backward()
                if clip_norm is not None:
                    trainable = [p for p in model.parameters() if p.requires_grad]
                    nn.utils.clip_grad_norm_(trainable, clip_norm)
                for optimizer in optimizers:
                    optimizer.step()
                for schedule in schedules:
                    schedule.step()
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
            if val["accuracy"] > best:
                best, best_state = val["accuracy"], copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    if progress:
        print(format_history(history))
    return history

"""One training loop for every classifier in the course: train, validate, keep the best epoch."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable

import torch
from torch import nn
from tqdm.auto import tqdm

Batch = tuple[dict[str, torch.Tensor], torch.Tensor]


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
        logits = model(**to_device(inputs, device))
        loss_sum += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(-1) == labels).sum().item()
        count += len(labels)
    return {"loss": loss_sum / count, "accuracy": correct / count}


@torch.no_grad()
def predict_proba(model: nn.Module, batches: Iterable[Batch], device: torch.device) -> torch.Tensor:
    """Class probabilities for every example in `batches`, in order."""
    model.eval()
    return torch.cat([model(**to_device(inputs, device)).softmax(-1).cpu() for inputs, _ in batches])


def make_optimizers(model: nn.Module, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
    """AdamW for dense weights; SparseAdam for sparse embedding tables, which then update only the rows a batch used."""
    sparse = [p for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse
              for p in m.parameters()]
    dense = [p for p in model.parameters() if not any(p is s for s in sparse)]
    optimizers: list[torch.optim.Optimizer] = [torch.optim.AdamW(dense, lr=lr, weight_decay=weight_decay)]
    if sparse:
        optimizers.append(torch.optim.SparseAdam(sparse, lr=lr))
    return optimizers


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
) -> list[dict[str, float]]:
    """Train with AdamW; after each epoch measure validation accuracy and restore the best epoch at the end.

    Returns one row per epoch (train loss/accuracy, validation loss/accuracy, seconds) for plotting.
    """
    device = device or next(model.parameters()).device
    model.to(device)
    optimizers = make_optimizers(model, lr, weight_decay)
    history, best, best_state = [], -1.0, None
    for epoch in range(1, epochs + 1):
        model.train()
        start, loss_sum, correct, count = time.perf_counter(), 0.0, 0, 0
        for inputs, labels in tqdm(train_batches, desc=f"epoch {epoch}/{epochs}", leave=False, disable=not progress):
            labels = labels.to(device)
            logits = model(**to_device(inputs, device))
            loss = nn.functional.cross_entropy(logits, labels)
            for optimizer in optimizers:
                optimizer.zero_grad()
            loss.backward()
            if clip_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
            for optimizer in optimizers:
                optimizer.step()
            loss_sum += loss.item() * len(labels)
            correct += (logits.argmax(-1) == labels).sum().item()
            count += len(labels)
        val = evaluate(model, val_batches, device)
        row = {"epoch": epoch, "train_loss": loss_sum / count, "train_accuracy": correct / count,
               "val_loss": val["loss"], "val_accuracy": val["accuracy"], "seconds": time.perf_counter() - start}
        history.append(row)
        if progress:
            print(f"epoch {epoch}: train loss {row['train_loss']:.3f} acc {row['train_accuracy']:.3f} | "
                  f"val loss {row['val_loss']:.3f} acc {row['val_accuracy']:.3f} | {row['seconds']:.0f} s")
        if val["accuracy"] > best:
            best, best_state = val["accuracy"], copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    return history

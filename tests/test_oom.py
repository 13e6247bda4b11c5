"""Out of GPU memory while training: the error says which settings to lower and in which profile.

A CPU cannot run out of GPU memory, so the model's forward raises the error PyTorch raises on CUDA.
"""

import pytest
import torch
from torch import nn

from helpers import finetune, training
from tests.tiny import tiny_encoder


class Bag(nn.Module):
    """A classifier of summed embeddings whose forward can be made to run out of memory."""

    def __init__(self):
        super().__init__()
        self.embedding, self.out = nn.EmbeddingBag(10, 4), nn.Linear(4, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.embedding(ids))  # (B, 2)


def out_of_memory(*args, **kwargs):
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_fit_says_what_to_lower_when_the_gpu_runs_out_of_memory(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    model = Bag()
    monkeypatch.setattr(model, "forward", out_of_memory)
    batches = [({"ids": torch.tensor([[1, 2], [3, 4]])}, torch.tensor([0, 1]))]
    with pytest.raises(torch.OutOfMemoryError) as caught:
        training.fit(model, batches, batches, epochs=1, device=torch.device("cpu"), progress=False)
    message = str(caught.value)
    assert "'full' profile" in message and "batch_size" in message and "max_len" in message
    assert message.endswith("Tried to allocate 2.00 GiB")  # PyTorch's own report is kept


def test_finetune_fit_names_accumulation_when_the_gpu_runs_out_of_memory(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    model = finetune.SentimentClassifier(tiny_encoder()[1])
    monkeypatch.setattr(model, "forward", out_of_memory)
    batches = [({"input_ids": torch.tensor([[1, 2]]), "attention_mask": torch.ones(1, 2)}, torch.tensor([1]))]
    config = finetune.FinetuneConfig(epochs=1, batch_size=1)
    advice = r"'smoke' profile\. Lower batch_size \(raise accumulation"
    with pytest.raises(torch.OutOfMemoryError, match=advice):
        finetune.fit(model, batches, batches, config, device=torch.device("cpu"), progress=False)


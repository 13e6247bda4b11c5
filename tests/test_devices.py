"""The device rule: a helper that runs a model moves what it is given to the model's device.

Without a GPU, the model goes on the `meta` device: a CPU tensor meeting a meta tensor raises ("Tensor on
device cpu is not on the expected device meta!"), so any input, mask or draw left on the CPU shows up. A meta
tensor has no values, so a run that mixes nothing gets as far as the first value it must read.
"""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from helpers import decoding, generation, pretraining

META = torch.device("meta")


class TinyLM(nn.Module):
    """A causal LM's interface (input_ids -> .logits) in two layers."""

    def __init__(self, vocab_size: int = 11):
        super().__init__()
        self.embedding, self.out = nn.Embedding(vocab_size, 4), nn.Linear(4, vocab_size)

    def forward(self, input_ids: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(logits=self.out(self.embedding(input_ids)))  # (B, T, V)


def runs_until_a_value_is_read(call) -> None:
    """`call` mixes no devices: it fails only where it reads a value out of a meta tensor, if anywhere."""
    try:
        call()
    except (RuntimeError, NotImplementedError) as error:
        message = str(error)
        assert "device" not in message, f"devices mixed: {message}"
        assert "meta" in message, message


def test_the_check_catches_a_cpu_tensor_meeting_a_meta_one():
    with pytest.raises(AssertionError, match="devices mixed"):
        runs_until_a_value_is_read(lambda: torch.zeros(2, device=META) + torch.zeros(2))


def test_mask_tokens_draws_its_masks_for_the_device_of_the_ids():
    ids = torch.zeros(2, 6, dtype=torch.long, device=META)
    special = torch.zeros(2, 6, dtype=torch.bool, device=META)
    inputs, labels = pretraining.mask_tokens(ids, special, 103, 30,
                                             generator=torch.Generator().manual_seed(0))
    assert inputs.device == labels.device == META


def test_generation_moves_a_cpu_prompt_to_the_model():
    model, prompt = TinyLM().to(META), torch.tensor([[1, 2, 3]])
    assert generation.greedy(model, prompt, steps=2).device == META
    assert generation.sample(model, prompt, steps=2, top_k=3).device == META


def test_sampling_with_a_cpu_generator_mixes_no_devices():
    model, prompt = TinyLM().to(META), torch.tensor([[1, 2, 3]])
    runs_until_a_value_is_read(lambda: generation.sample(model, prompt, 2, generator=torch.Generator()))


def test_beam_search_keeps_its_scores_on_the_model_device():
    model, prompt = TinyLM().to(META), torch.tensor([[1, 2, 3]])
    runs_until_a_value_is_read(lambda: generation.beam_search(model, prompt, steps=2, beams=2))


def test_decoding_moves_a_cpu_source_to_the_model():
    model = decoding.TableDecoder(torch.full((4, 4), 0.25)).to(META)
    src, lengths = torch.tensor([[1, 2]]), torch.tensor([2])
    runs_until_a_value_is_read(lambda: decoding.greedy_decode(model, src, lengths, 0, 3, max_len=3))
    runs_until_a_value_is_read(lambda: decoding.beam_search(model, src[0], lengths[0], 0, 3, max_len=3))

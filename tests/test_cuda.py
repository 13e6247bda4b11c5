"""The helpers end to end on a CUDA GPU: what crashed there once (devices mixed) runs, and gives what it gives
on the CPU. Marked `cuda`: skipped without a GPU; tools/gpu_check.py runs them on one.
"""

import pytest
import torch

from helpers import decoding, generation, pretraining, training
from tests.test_decoding import _src, _trap_table
from tests.test_devices import TinyLM
from tests.test_training import Linear, _batches

pytestmark = pytest.mark.cuda
CUDA = torch.device("cuda")


def test_fit_trains_in_the_gpus_precision_and_learns():
    torch.manual_seed(0)
    model, train, val = Linear(), _batches(256, 0), _batches(128, 1)  # batches start on the CPU
    history = training.fit(model, train, val, epochs=4, lr=0.05, device=CUDA, progress=False,
                           precision="auto")
    assert training.model_device(model).type == "cuda"
    assert max(row["val_accuracy"] for row in history) > 0.9


def test_mask_tokens_on_cuda_ids_makes_the_cpu_generators_masks():
    ids = torch.randint(5, 30, (4, 16))
    special = torch.zeros(4, 16, dtype=torch.bool)
    on_cpu = pretraining.mask_tokens(ids, special, 103, 30, generator=torch.Generator().manual_seed(0))
    on_gpu = pretraining.mask_tokens(ids.to(CUDA), special.to(CUDA), 103, 30,
                                     generator=torch.Generator().manual_seed(0))
    assert all(t.device.type == "cuda" for t in on_gpu)
    assert all(torch.equal(a, b.cpu()) for a, b in zip(on_cpu, on_gpu))


def test_sampling_a_cuda_model_with_a_cpu_generator_makes_the_cpus_draws():
    torch.manual_seed(0)
    model, prompt = TinyLM(), torch.tensor([[1, 2, 3]])
    on_cpu = generation.sample(model, prompt, 5, top_k=3, generator=torch.Generator().manual_seed(0))
    on_gpu = generation.sample(model.to(CUDA), prompt, 5, top_k=3, generator=torch.Generator().manual_seed(0))
    assert on_gpu.device.type == "cuda" and torch.equal(on_cpu, on_gpu.cpu())


def test_beam_search_on_a_cuda_model_finds_the_most_probable_output():
    model = decoding.TableDecoder(_trap_table()).to(CUDA)
    src, length = _src()  # on the CPU: beam search moves them
    best = decoding.beam_search(model, src, length, bos=0, eos=1, max_len=4, beam_size=2)[0]
    assert best.tokens == [3]
    assert best.log_prob == pytest.approx(torch.tensor(0.4 * 0.9).log().item(), abs=0.01)

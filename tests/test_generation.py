import pytest
import torch
from transformers import TopKLogitsWarper, TopPLogitsWarper

from helpers import generation, pretraining


@pytest.fixture(scope="module")
def model():
    return pretraining.tiny_gpt(300, 64, hidden=32, layers=1, seed=0).eval()


@pytest.fixture
def prompt():
    return torch.randint(300, (1, 5), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("k", [1, 5, 40, 300])
def test_top_k_filter_equals_transformers_warper(k):
    logits = 3 * torch.randn(16, 300, generator=torch.Generator().manual_seed(k))
    assert torch.equal(generation.top_k_filter(logits, k), TopKLogitsWarper(k)(None, logits))


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 0.999])
def test_top_p_filter_equals_transformers_warper(p):
    logits = 3 * torch.randn(16, 300, generator=torch.Generator().manual_seed(int(p * 1000)))
    mine = generation.top_p_filter(logits, p)
    assert torch.equal(mine, TopPLogitsWarper(p)(None, logits))
    kept = mine.isfinite()
    assert (logits.softmax(-1) * kept).sum(-1).min() >= p, "the nucleus holds at least p of the mass"
    assert kept.sum(-1).min() >= 1


@pytest.mark.slow
def test_greedy_and_beam_search_equal_generate(model, prompt):
    assert torch.equal(generation.greedy(model, prompt, 12),
                       model.generate(prompt, do_sample=False, max_new_tokens=12, pad_token_id=0))
    best, score = generation.beam_search(model, prompt, 12, beams=4)
    assert torch.equal(best, model.generate(prompt, do_sample=False, num_beams=4, max_new_tokens=12,
                                            pad_token_id=0))
    assert score == pytest.approx(generation.mean_log_prob(model, best, prompt.size(1)) * 12, rel=1e-4)
    assert score >= generation.mean_log_prob(model, generation.greedy(model, prompt, 12), prompt.size(1)) * 12


@pytest.mark.slow
@pytest.mark.parametrize("settings", [{"temperature": 0.7}, {"top_k": 20}, {"top_p": 0.8},
                                      {"temperature": 1.5, "top_k": 50, "top_p": 0.9}])
def test_sampling_draws_what_generate_draws_with_the_same_seed(model, prompt, settings):
    theirs = {"top_k": 0, **settings}  # generate keeps the 50 best tokens unless top_k says otherwise
    torch.manual_seed(1)
    mine = generation.sample(model, prompt.repeat(4, 1), 10, **settings)
    torch.manual_seed(1)
    assert torch.equal(mine, model.generate(prompt.repeat(4, 1), do_sample=True, max_new_tokens=10,
                                            pad_token_id=0, **theirs))


def test_low_temperature_approaches_greedy(model, prompt):
    cold = generation.sample(model, prompt, 12, temperature=1e-4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(cold, generation.greedy(model, prompt, 12))
    with pytest.raises(ValueError, match="temperature"):
        generation.sample(model, prompt, 1, temperature=0)


def test_beam_search_takes_one_prompt(model):
    with pytest.raises(ValueError, match="one prompt"):
        generation.beam_search(model, torch.zeros(2, 3, dtype=torch.long), 2, beams=2)

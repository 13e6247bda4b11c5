"""Chapter 08's switches in chapter 06's loop: mixed precision, accumulation, early stopping, LLRD, FGM."""

import dataclasses
import types

import pytest
import torch

from helpers import finetune, training
from tiny import tiny_finetuned

TEXTS = ["a great film", "an awful plot", "superb acting", "boring and dreadful", "wonderful music",
         "awful ending", "a superb story", "a boring film"] * 2
LABELS = [1, 0, 1, 0, 1, 0, 1, 0] * 2
BASE = finetune.FinetuneConfig(lr=1e-3, epochs=1, batch_size=16, max_len=16, warmup=0.0, dropout=0.0)


def _run(config: finetune.FinetuneConfig, batch_size: int | None = None, seed: int = 0):
    """Fine-tune the tiny classifier on the 16 texts with `config`; the model and its history."""
    classifier = tiny_finetuned(max_len=config.max_len, seed=seed)
    classifier.config = dataclasses.replace(config, eval_batch_size=batch_size or config.batch_size)
    batches = classifier.batches(TEXTS, LABELS)  # fixed order: runs differ only by their switches
    history = finetune.fit(classifier.model, batches, batches, config, device=torch.device("cpu"),
                           progress=False)
    return classifier.model, history


def test_bf16_runs_the_forward_pass_in_bfloat16():
    classifier = tiny_finetuned()
    model, dtypes = classifier.model, []
    model.head.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    batches = classifier.batches(TEXTS, LABELS)
    history = finetune.fit(model, batches, batches, dataclasses.replace(BASE, precision="bf16"),
                           device=torch.device("cpu"), progress=False)
    assert torch.bfloat16 in dtypes and all(torch.isfinite(torch.tensor(r["loss"])) for r in history.steps)
    assert all(p.dtype == torch.float32 for p in model.parameters()), "the weights stay in fp32"


def test_fp16_on_a_cpu_says_what_to_use_instead():
    with pytest.raises(ValueError, match="precision='bf16'"):
        training.mixed_precision("fp16", torch.device("cpu"))
    with pytest.raises(ValueError, match="precision must be one of"):
        finetune.FinetuneConfig(precision="fp8")


@pytest.mark.slow
def test_two_accumulated_half_batches_make_the_step_of_one_full_batch():
    full, full_history = _run(BASE)
    accumulated, history = _run(dataclasses.replace(BASE, batch_size=8, accumulation=2))
    assert len(full_history.steps) == len(history.steps) == 1
    for (name, a), b in zip(full.named_parameters(), accumulated.parameters()):
        # Summing two half-batch gradients rounds differently from one full batch: about 1e-6 on some CPUs.
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=name)
    halves, _ = _run(dataclasses.replace(BASE, batch_size=8))  # without accumulation: two smaller steps
    assert not torch.allclose(halves.head.weight, full.head.weight, atol=1e-4)  # they differ by about 5e-4


@pytest.mark.slow
def test_early_stopping_ends_the_run_once_validation_stops_improving():
    frozen = dataclasses.replace(BASE, lr=1e-12, epochs=5)  # nothing moves: validation never improves
    _, history = _run(dataclasses.replace(frozen, patience=2))
    assert [row["epoch"] for row in history.epochs] == [1, 2, 3]
    _, history = _run(frozen)
    assert len(history.epochs) == 5, "without patience every epoch runs"
    with pytest.raises(ValueError, match="patience"):
        finetune.FinetuneConfig(patience=0)


def test_layer_wise_decay_gives_lower_layers_smaller_rates():
    model = tiny_finetuned().model  # 2 layers: head 0, layer 1 -> depth 1, layer 0 -> depth 2, embeddings 3
    config = dataclasses.replace(BASE, layer_decay=0.5)
    rate = {id(p): g["lr"] for g in finetune.parameter_groups(model, config) for p in g["params"]}
    named = dict(model.named_parameters())
    assert rate[id(named["head.weight"])] == config.lr
    assert rate[id(named["encoder.encoder.layer.1.output.dense.weight"])] == config.lr * 0.5
    assert rate[id(named["encoder.encoder.layer.0.output.dense.weight"])] == config.lr * 0.25
    assert rate[id(named["encoder.embeddings.word_embeddings.weight"])] == config.lr * 0.125
    assert len(rate) == sum(p.requires_grad for p in model.parameters()), "every parameter once"
    plain = finetune.parameter_groups(model, BASE)
    assert ({g["lr"] for g in plain} == {BASE.lr}
            and len(plain) == 2), "off by default: chapter 06's two groups"


@pytest.mark.slow
def test_fgm_trains_on_a_perturbed_copy_and_puts_the_embeddings_back():
    classifier = tiny_finetuned()
    model = classifier.model
    calls = []
    model.head.register_forward_hook(lambda module, args, out: calls.append(1))
    embeddings = model.encoder.get_input_embeddings().weight
    before = embeddings.detach().clone()
    batches = classifier.batches(TEXTS, LABELS)
    config = dataclasses.replace(BASE, lr=1e-12, adversarial=1.0, epochs=1)  # a huge push, a negligible step
    finetune.fit(model, batches, batches, config, device=torch.device("cpu"), progress=False)
    assert len(calls) == 2 * len(batches) + len(batches), ("clean and perturbed forward passes, "
                                                           "then validation")
    torch.testing.assert_close(embeddings.detach(), before, atol=1e-6, rtol=0)


def test_fgm_moves_the_used_rows_by_epsilon():
    model = tiny_finetuned().model
    weight = model.encoder.get_input_embeddings().weight
    weight.grad = torch.zeros_like(weight)
    weight.grad[[5, 7]] = torch.tensor(3.0)
    before = weight.detach().clone()
    with finetune.fgm_perturbation(model, 0.5):
        moved = (weight.detach() - before).norm(dim=-1)
    assert (moved[[5, 7]].pow(2).sum().sqrt().item() == pytest.approx(0.5)
            and moved.sum() == moved[[5, 7]].sum())
    torch.testing.assert_close(weight.detach(), before)


def test_step_seconds_times_a_step_at_each_precision_and_leaves_the_model_as_it_was(monkeypatch):
    classifier = tiny_finetuned()
    model = classifier.model
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    inputs, labels = next(iter(classifier.batches(TEXTS, LABELS)))
    dtypes, backwards, passes_at_readings = [], [], []
    model.head.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    model.head.weight.register_hook(backwards.append)
    readings = iter([0.0, 5.0, 10.0, 13.0] * 2)  # a clock this test controls: 5 s then 3 s, per precision

    def clock() -> float:
        passes_at_readings.append((len(dtypes), len(backwards)))
        return next(readings)

    monkeypatch.setattr(finetune, "time", types.SimpleNamespace(perf_counter=clock))
    seconds = {p: finetune.step_seconds(model, inputs, labels, p, torch.device("cpu"))
               for p in ("fp32", "bf16")}
    assert seconds == {"fp32": 3.0, "bf16": 3.0}, "the fastest repeat"
    spans = [((0, 0), (1, 1)), ((1, 1), (2, 2)), ((2, 2), (3, 3)), ((3, 3), (4, 4))]  # (forwards, backwards)
    assert passes_at_readings == [end for span in spans for end in span], "each span: one step, nothing else"
    assert dtypes == [torch.float32] * 2 + [torch.bfloat16] * 2, "two repeats at each precision"
    assert all(p.grad is None for p in model.parameters()), "no gradient left behind"
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.detach(), before[name], msg=name)


def test_fit_gives_the_numbers_it_gave_before_the_shared_training_core():
    """Measured with the loop as before `training.optimizer_step`, `BestWeights` and `mixed_precision`."""
    model, history = _run(dataclasses.replace(BASE, epochs=2, batch_size=8, warmup=0.25, adversarial=0.5))
    torch.testing.assert_close([row["loss"] for row in history.steps],
                               [0.7383807301521301, 0.7383807897567749,
                                0.695002019405365, 0.6941283941268921])
    torch.testing.assert_close(model.head.bias.tolist(), [0.0980454608798027, -0.023312289267778397])

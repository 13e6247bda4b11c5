import doctest

import pytest
import torch
from torch import nn

from helpers import training


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 2)

    def forward(self, x):
        return self.layer(x)


def _batches(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return [({"x": x[i : i + 16]}, y[i : i + 16]) for i in range(0, n, 16)]


def test_fit_learns_and_keeps_the_best_validation_epoch():
    torch.manual_seed(0)
    model, train, val = Linear(), _batches(256, 0), _batches(128, 1)
    history = training.fit(model, train, val, epochs=4, lr=0.05, progress=False)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    best = max(row["val_accuracy"] for row in history)
    assert best > 0.9
    assert training.evaluate(model, val, torch.device("cpu"))["accuracy"] == best


def test_warmup_raises_then_decays_the_learning_rate_step_by_step(monkeypatch):
    seen, make = [], training.make_optimizers

    def recording(model, lr, weight_decay):
        optimizers = make(model, lr, weight_decay)
        optimizers[0].register_step_pre_hook(lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"]))
        return optimizers

    monkeypatch.setattr(training, "make_optimizers", recording)
    train = _batches(160, 0)  # 10 batches, 2 epochs: 20 steps, the first 4 of them warmup
    training.fit(Linear(), train, _batches(32, 1), epochs=2, lr=0.1, progress=False, warmup=0.2)
    expected = [0.1 * training.warmup_then_decay(4, 20)(step) for step in range(20)]
    assert seen == pytest.approx(expected)
    assert seen[3] == pytest.approx(0.1) and seen[-1] < seen[10] < seen[3] and seen[0] < seen[3]
    with pytest.raises(ValueError, match="warmup"):
        training.fit(Linear(), train, _batches(32, 1), epochs=1, progress=False, warmup=1.5)
    with pytest.raises(ValueError, match="length"):
        training.fit(Linear(), iter(train), _batches(32, 1), epochs=1, progress=False, warmup=0.1)


def test_fit_shows_one_bar_then_the_history(capsys):
    torch.manual_seed(0)
    history = training.fit(Linear(), _batches(64, 0), _batches(32, 1), epochs=3, lr=0.05, desc="toy")
    out, err = capsys.readouterr()
    assert out == training.format_history(history) + "\n"  # nothing printed between redraws of the bar
    assert err.strip().count("\n") == 0 and err.count("toy") >= 1  # one bar, redrawn in place, left behind
    assert "12/12" in err.rsplit("\r", 1)[-1]  # its last state: 3 epochs of 4 batches


def test_fit_rejects_bad_epochs_and_empty_batches():
    with pytest.raises(ValueError, match="positive int"):
        training.fit(Linear(), _batches(16, 0), _batches(16, 1), epochs=0, progress=False)
    with pytest.raises(ValueError, match="empty"):
        training.fit(Linear(), [], _batches(16, 1), epochs=1, progress=False)
    with pytest.raises(ValueError, match="empty"):
        training.evaluate(Linear(), [], torch.device("cpu"))
    with pytest.raises(ValueError, match="empty"):
        training.predict_proba(Linear(), [], torch.device("cpu"))


def test_frozen_parameters_are_left_out_of_the_optimizers():
    model = nn.Sequential(nn.Embedding(10, 3), nn.Linear(3, 2))
    model[0].weight.requires_grad_(False)
    (optimizer,) = training.make_optimizers(model, lr=1e-3, weight_decay=0.0)
    optimized = [p for group in optimizer.param_groups for p in group["params"]]
    assert not any(p is model[0].weight for p in optimized) and len(optimized) == 2


def test_sparse_embeddings_get_sparse_adam():
    model = nn.Sequential(nn.EmbeddingBag(10, 3, sparse=True), nn.Linear(3, 2))
    dense, sparse = training.make_optimizers(model, lr=1e-3, weight_decay=0.0)
    assert isinstance(sparse, torch.optim.SparseAdam)
    assert sparse.param_groups[0]["params"] == [model[0].weight]
    assert isinstance(dense, torch.optim.AdamW)


def test_clipping_bounds_the_gradient_the_optimizer_sees(monkeypatch):
    norms = []
    step = torch.optim.AdamW.step

    def spy(self, *args, **kwargs):
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    huge = [({"x": torch.full((4, 2), 1e6)}, torch.tensor([0, 1, 0, 1]))]
    training.fit(Linear(), huge, huge, epochs=1, clip_norm=0.5, progress=False)
    training.fit(Linear(), huge, huge, epochs=1, clip_norm=None, progress=False)
    assert norms[0] <= 0.5 + 1e-6 < 1e3 < norms[1]


def test_predict_proba_keeps_order_and_sums_to_one():
    model, val = Linear(), _batches(40, 2)
    proba = training.predict_proba(model, val, torch.device("cpu"))
    assert proba.shape == (40, 2)
    torch.testing.assert_close(proba.sum(1), torch.ones(40))
    expected = torch.cat([model(**inputs).softmax(-1) for inputs, _ in val])
    torch.testing.assert_close(proba, expected.detach())


def test_docstring_examples_hold():
    assert doctest.testmod(training).failed == 0


def test_fit_gives_the_numbers_it_gave_before_the_shared_training_core():
    """Measured with the loop as it was before `optimizer_step`, `BestWeights` and `mixed_precision`: on a CPU
    the shared pieces draw nothing and add no arithmetic, so the committed notebooks' numbers still hold."""
    torch.manual_seed(0)
    model = Linear()
    history = training.fit(model, _batches(64, 0), _batches(32, 1), epochs=2, lr=0.05, clip_norm=1.0,
                           warmup=0.25, progress=False)
    torch.testing.assert_close([row["train_loss"] for row in history],
                               [1.1877667605876923, 0.9267391413450241])
    torch.testing.assert_close(model.layer.weight.flatten().tolist(),
                               [-0.2509588897228241, 0.13326209783554077,
                                -0.3363158106803894, -0.27432671189308167])


@pytest.mark.parametrize("device, capability, expected", [
    ("cpu", None, "fp32"), ("mps", None, "fp32"),
    ("cuda", (7, 5), "fp16"),  # T4: no bf16 units
    ("cuda", (8, 0), "bf16"), ("cuda", (9, 0), "bf16"),
])
def test_choose_precision_takes_bf16_from_ampere_on_and_fp16_below(device, capability, expected):
    assert training.choose_precision(torch.device(device), capability) == expected


def test_mixed_precision_on_a_cpu_is_fp32_unless_asked_for_bf16():
    cpu = torch.device("cpu")
    for precision, dtype in (("auto", torch.float32), ("fp32", torch.float32), ("bf16", torch.bfloat16)):
        autocast, scaler = training.mixed_precision(precision, cpu)
        with autocast():
            assert nn.Linear(2, 2)(torch.ones(1, 2)).dtype == dtype
        assert not scaler.is_enabled()  # only fp16 scales the loss
    with pytest.raises(ValueError, match="precision must be one of"):
        training.mixed_precision("fp8", cpu)


def test_best_weights_restores_the_best_scoring_copy():
    model = nn.Linear(1, 1, bias=False)
    best = training.BestWeights(model)
    weights = []
    for score in (0.25, 0.75, 0.5):
        with torch.no_grad():
            model.weight.fill_(score)
        weights.append(best.update(score))
    assert weights == [True, True, False] and best.restore().score == 0.75 and model.weight.item() == 0.75
    assert best.update(1.0, last=True) and best.state is None  # the last weights are in place: no copy
    assert best.restore().model.weight.item() == 0.75


def test_optimizer_step_zeroes_old_gradients_clips_steps_and_schedules():
    model = Linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 ** step)
    _, scaler = training.mixed_precision("fp32", torch.device("cpu"))
    for p in model.parameters():
        p.grad = torch.full_like(p, 1e6)  # stale: must not reach the step
    before = [p.detach().clone() for p in model.parameters()]
    loss = model(torch.ones(1, 2)).sum() * 100
    training.optimizer_step(optimizer, scaler, loss, model.parameters(), clip_norm=1.0, schedules=[schedule])
    moved = torch.linalg.vector_norm(torch.cat([(b - p).flatten()
                                                for b, p in zip(before, model.parameters())]))
    assert moved.item() == pytest.approx(1.0, rel=1e-4)  # lr 1 times a gradient clipped to norm 1
    assert optimizer.param_groups[0]["lr"] == 0.5

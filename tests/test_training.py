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

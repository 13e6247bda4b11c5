"""The from-scratch RNN, LSTM and GRU match PyTorch's, forward and backward, padded or not; BPTT and
clipping."""

import doctest
import math

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from helpers import batching, rnn

PAIRS = [(rnn.RNNCell, nn.RNN), (rnn.LSTMCell, nn.LSTM), (rnn.GRUCell, nn.GRU)]
IDS = ["rnn", "lstm", "gru"]


def random_pair(cell_cls: type[rnn.Cell], torch_cls: type[nn.RNNBase], seed: int):
    """A PyTorch layer with random sizes and weights, the from-scratch cell holding the same weights, and
    inputs."""
    g = torch.Generator().manual_seed(seed)
    batch, steps, features, hidden = (int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in
                                      ((1, 6), (1, 12), (1, 7), (1, 9)))
    torch.manual_seed(seed)
    layer = torch_cls(features, hidden, batch_first=True)
    cell = rnn.copy_weights(layer, cell_cls(features, hidden))
    return layer, cell, torch.randn(batch, steps, features, generator=g)


def random_state(cell: rnn.Cell, batch: int) -> rnn.State:
    """A random initial state of the cell's kind: h, or (h, c) for the LSTM."""
    state = cell.initial_state(batch)
    return tuple(torch.randn_like(s) for s in state) if isinstance(state, tuple) else torch.randn_like(state)


def as_layer_state(state: rnn.State) -> rnn.State:
    """(batch, hidden) -> (layers=1, batch, hidden), the shape nn.RNN/LSTM/GRU use for states."""
    return tuple(s.unsqueeze(0) for s in state) if isinstance(state, tuple) else state.unsqueeze(0)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "given-state"])
@pytest.mark.parametrize("cell_cls,torch_cls", PAIRS, ids=IDS)
def test_forward_matches_pytorch(cell_cls, torch_cls, with_state, seed):
    layer, cell, x = random_pair(cell_cls, torch_cls, seed)
    state = random_state(cell, x.size(0)) if with_state else None
    out, final = rnn.unroll(cell, x, state)
    expected_out, expected_final = layer(x, as_layer_state(state) if with_state else None)
    torch.testing.assert_close(out, expected_out)
    torch.testing.assert_close(as_layer_state(final), expected_final)


@pytest.mark.parametrize("cell_cls,torch_cls", PAIRS, ids=IDS)
def test_backward_matches_pytorch(cell_cls, torch_cls):
    layer, cell, x = random_pair(cell_cls, torch_cls, seed=7)
    target = torch.randn(x.shape[:2] + (cell.hidden_size,))
    for out in (rnn.unroll(cell, x)[0], layer(x)[0]):
        nn.functional.mse_loss(out, target).backward()
    for name, param in cell.named_parameters():
        torch.testing.assert_close(param.grad, getattr(layer, f"{name}_l0").grad)


def test_copy_weights_moves_every_tensor():
    layer = nn.LSTM(3, 5, batch_first=True)
    cell = rnn.copy_weights(layer, rnn.LSTMCell(3, 5))
    for name, param in cell.named_parameters():
        assert torch.equal(param, getattr(layer, f"{name}_l0"))


@pytest.mark.parametrize("cell_cls,torch_cls", PAIRS, ids=IDS)
def test_lengths_match_packed_sequences(cell_cls, torch_cls):
    layer, cell, _ = random_pair(cell_cls, torch_cls, seed=3)
    lengths = torch.tensor([6, 2, 4, 1])
    x = torch.randn(len(lengths), int(lengths.max()), cell.input_size)
    x[torch.arange(x.size(1)) >= lengths[:, None]] = 99.0  # garbage padding must not leak into anything
    out, final = rnn.unroll(cell, x, lengths=lengths)
    packed_out, packed_final = layer(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    expected_out, _ = pad_packed_sequence(packed_out, batch_first=True)
    torch.testing.assert_close(out, expected_out)
    torch.testing.assert_close(as_layer_state(final), packed_final)


def test_packed_state_equals_running_the_sequence_alone():
    layer, cell, _ = random_pair(rnn.LSTMCell, nn.LSTM, seed=5)
    lengths = torch.tensor([5, 2])
    x = torch.randn(2, 5, cell.input_size)
    _, (h, c) = rnn.unroll(cell, x, lengths=lengths)
    _, (h_alone, c_alone) = rnn.unroll(cell, x[1:, :2])
    torch.testing.assert_close(h[1:], h_alone)
    torch.testing.assert_close(c[1:], c_alone)
    _, (h_padded, _) = rnn.unroll(cell, x)  # without lengths, padding steps overwrite the short row's state
    assert not torch.allclose(h_padded[1:], h_alone)


def test_set_spectral_radius():
    w = torch.randn(16, 16)
    rnn.set_spectral_radius(w, 0.7)
    assert torch.linalg.eigvals(w).abs().max().item() == pytest.approx(0.7, rel=1e-5)


def linear_regime_norms(radius: float, steps: int = 30) -> torch.Tensor:
    """Input-gradient norms per step for a tanh RNN kept near h = 0, where tanh has slope 1."""
    torch.manual_seed(0)
    cell = rnn.RNNCell(4, 24)
    nn.init.zeros_(cell.bias_ih)
    nn.init.zeros_(cell.bias_hh)
    rnn.set_spectral_radius(cell.weight_hh, radius)
    return rnn.input_grad_norms(cell, 1e-6 * torch.randn(8, steps, 4))


def test_gradients_vanish_for_small_spectral_radius():
    norms = linear_regime_norms(0.5)
    assert norms.shape == (30,)
    assert norms[0] < 1e-6 * norms[-1]  # roughly 0.5 ** 29 ~ 2e-9
    assert (norms[:-5] < norms[5:]).all()  # steadily smaller the further back


def test_gradients_explode_for_large_spectral_radius():
    norms = linear_regime_norms(1.5)
    assert norms[0] > 1e3 * norms[-1]  # roughly 1.5 ** 29 ~ 1e5
    assert (norms[:-5] > norms[5:]).all()


def test_input_grad_norms_is_autograd_of_the_last_state():
    cell, x = rnn.GRUCell(3, 4), torch.randn(2, 5, 3, requires_grad=True)
    rnn.unroll(cell, x)[1].sum().backward()
    torch.testing.assert_close(rnn.input_grad_norms(cell, x), x.grad.norm(dim=-1).mean(0))


def model_with_grads(scale: float) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))
    model(torch.randn(4, 6)).pow(2).sum().mul(scale).backward()
    return model


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e6])
def test_clip_grad_norm_matches_pytorch_and_bounds_the_norm(scale):
    mine, theirs = model_with_grads(scale), model_with_grads(scale)
    before = rnn.grad_norm(mine.parameters())
    torch.testing.assert_close(rnn.clip_grad_norm(mine.parameters(), 1.0),
                               nn.utils.clip_grad_norm_(theirs.parameters(), 1.0))
    for p, q in zip(mine.parameters(), theirs.parameters()):
        torch.testing.assert_close(p.grad, q.grad)
    after = rnn.grad_norm(mine.parameters())
    assert after <= 1.0 + 1e-5
    if before <= 1.0:
        torch.testing.assert_close(after, before)  # small gradients are left alone


def test_clipping_keeps_direction():
    model = model_with_grads(1e6)
    direction = torch.cat([p.grad.flatten() for p in model.parameters()])
    rnn.clip_grad_norm(model.parameters(), 0.5)
    clipped = torch.cat([p.grad.flatten() for p in model.parameters()])
    torch.testing.assert_close(clipped, direction * 0.5 / direction.norm(), rtol=1e-4, atol=1e-8)


@pytest.mark.slow
def test_clipped_training_stays_finite_and_learns():
    rows = rnn.train_remember_first(clip_norm=1.0, iterations=60)
    losses = [r["loss"] for r in rows]
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-10:]) < sum(losses[:10])


def test_copy_weights_picks_layer_and_direction():
    layer = nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    cell = rnn.copy_weights(layer, rnn.GRUCell(8, 4), layer=1, reverse=True)
    torch.testing.assert_close(cell.weight_hh, layer.weight_hh_l1_reverse)


@pytest.mark.parametrize("make", [lambda: rnn.LSTMCell(3, 4), lambda: nn.LSTM(3, 4, num_layers=2)],
                         ids=["scratch", "pytorch"])
def test_set_forget_bias_opens_only_the_forget_gate(make):
    lstm = make()
    before = {name: p.detach().clone() for name, p in lstm.named_parameters()}
    rnn.set_forget_bias(lstm, 2.0)
    after = dict(lstm.named_parameters())
    forget, others = slice(4, 8), [*range(4), *range(8, 16)]
    for name in after:
        if name.startswith("bias_ih"):
            total = after[name] + after[name.replace("bias_ih", "bias_hh")]
            torch.testing.assert_close(total[forget], torch.full((4,), 2.0))
        if name.startswith("bias"):
            torch.testing.assert_close(after[name][others], before[name][others])
        else:
            assert torch.equal(after[name], before[name])


def test_docstring_examples_hold():
    assert doctest.testmod(rnn).failed == 0


def test_reverse_within_length_keeps_padding_in_place_and_undoes_itself():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])[..., None]  # (B, T, 1)
    reversed_ = rnn.reverse_within_length(x, torch.tensor([3, 2]))
    assert reversed_[..., 0].tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]
    torch.testing.assert_close(rnn.reverse_within_length(reversed_, torch.tensor([3, 2])), x)


def test_reverse_within_length_runs_a_backward_lstm_like_a_packed_one():
    torch.manual_seed(0)
    reference = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    backward = nn.LSTM(3, 4, batch_first=True)
    for name, param in backward.named_parameters():
        param.data.copy_(getattr(reference, name + "_reverse"))
    lengths = torch.tensor([5, 2, 4])
    x = torch.randn(3, 5, 3)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected = pad_packed_sequence(reference(packed)[0], batch_first=True)[0][..., 4:]  # backward half
    ours = rnn.reverse_within_length(backward(rnn.reverse_within_length(x, lengths))[0], lengths)
    torch.testing.assert_close(ours * batching.padding_mask(lengths, 5)[..., None], expected)


@pytest.mark.parametrize("sizes", [(0, 4), (3, -2), (3, 2.0), (True, 4)])
def test_cells_reject_sizes_that_are_not_positive_ints(sizes):
    with pytest.raises((TypeError, ValueError), match="must be a positive int"):
        rnn.LSTMCell(*sizes)

"""Recurrent networks from scratch: RNN, LSTM and GRU cells in PyTorch's weight layout, the loop over
time over padded batches, gradients through time, and gradient clipping."""

# Shapes: B batch, T time steps, H hidden size, input the input size.

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from helpers.batching import padding_mask
from helpers.checks import check_sizes

State = Tensor | tuple[Tensor, Tensor]  # h, or (h, c) for the LSTM


class Cell(nn.Module):
    """One recurrent step; weights stacked like PyTorch's: `n_blocks` blocks of `hidden_size` rows."""

    n_blocks = 1

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        check_sizes(input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        rows = self.n_blocks * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(rows))
        self.bias_hh = nn.Parameter(torch.empty(rows))
        bound = 1 / math.sqrt(hidden_size)  # PyTorch's default: U(-1/sqrt(H), 1/sqrt(H)) for all
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def initial_state(self, batch_size: int) -> State:
        """All zeros, as nn.RNN/nn.GRU start when no state is given."""
        return self.weight_ih.new_zeros(batch_size, self.hidden_size)  # (B, H)

    def input_part(self, x: Tensor) -> Tensor:
        """W_ih x + b_ih, every block at once: (B, input) -> (B, blocks * H)."""
        return x @ self.weight_ih.T + self.bias_ih

    def hidden_part(self, h: Tensor) -> Tensor:
        """W_hh h + b_hh, every block at once: (B, H) -> (B, blocks * H)."""
        return h @ self.weight_hh.T + self.bias_hh


class RNNCell(Cell):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        return torch.tanh(self.input_part(x) + self.hidden_part(h))  # (B, H)


class LSTMCell(Cell):
    """Gates i, f, o and candidate g (PyTorch's order i, f, g, o); the cell state c is the long-term
    path."""

    n_blocks = 4

    def initial_state(self, batch_size: int) -> tuple[Tensor, Tensor]:
        h = super().initial_state(batch_size)
        return h, torch.zeros_like(h)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = state  # (B, H) each
        i, f, g, o = (self.input_part(x) + self.hidden_part(h)).chunk(4, dim=-1)  # (B, H) each
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g  # forget some old memory, write some new: no matrix multiply on this path
        return o * torch.tanh(c), c  # (B, H) each


class GRUCell(Cell):
    """Reset gate r, update gate z, candidate n (PyTorch's order r, z, n); one state h that z
    interpolates."""

    n_blocks = 3

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        x_r, x_z, x_n = self.input_part(x).chunk(3, dim=-1)  # (B, H) each
        h_r, h_z, h_n = self.hidden_part(h).chunk(3, dim=-1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)  # r gates W_hn h + b_hn, bias included: PyTorch's (cuDNN's) variant
        return (1 - z) * n + z * h  # (B, H)


def hidden(state: State) -> Tensor:
    """The hidden state h, the part of the state a layer outputs."""
    return state[0] if isinstance(state, tuple) else state


def _select(keep: Tensor, new: State, old: State) -> State:
    """`new` where `keep` is True, else `old`, for a plain or an (h, c) state."""
    if isinstance(new, tuple):
        return tuple(torch.where(keep, n, o) for n, o in zip(new, old))
    return torch.where(keep, new, old)


def reverse_within_length(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence of a padded batch (B, T, ...) over its own length; padding stays put.

    >>> reverse_within_length(torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]]), torch.tensor([3, 2]))
    tensor([[3, 2, 1, 0],
            [5, 4, 0, 0]])
    """
    lengths = lengths.to(x.device)
    positions = torch.arange(x.size(1), device=x.device).expand(x.size(0), -1)  # (B, T)
    # (B, T): where step t reads from
    index = torch.where(padding_mask(lengths, x.size(1)), lengths[:, None] - 1 - positions, positions)
    index = index.view(*index.shape, *(1,) * (x.dim() - 2)).expand_as(x)  # (B, T, ...) like x
    return x.gather(1, index)


def unroll(cell: Cell, x: Tensor, state: State | None = None,
           lengths: Tensor | None = None) -> tuple[Tensor, State]:
    """Run `cell` over x (B, T, input): every step's h (B, T, H) and the final state.

    With `lengths`, each sequence stops at its own last real step: padding never touches its state,
    and its outputs there are zero, which is what pack_padded_sequence gives nn.RNN/LSTM/GRU.
    """
    state = cell.initial_state(x.size(0)) if state is None else state
    mask = None if lengths is None else padding_mask(lengths.to(x.device), x.size(1))  # (B, T)
    outputs = []
    for t in range(x.size(1)):
        new = cell(x[:, t], state)  # (B, H), or an (h, c) pair of them
        if mask is not None:
            real = mask[:, t, None]  # (B, 1): is step t inside this sequence?
            new = _select(real, new, state)
            outputs.append(hidden(new) * real)
        else:
            outputs.append(hidden(new))
        state = new
    return torch.stack(outputs, dim=1), state  # (B, T, H)


def copy_weights(source: nn.RNNBase, cell: Cell, layer: int = 0, reverse: bool = False) -> Cell:
    """Load one layer (and direction) of an nn.RNN, nn.LSTM or nn.GRU into a from-scratch cell."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    cell.load_state_dict({name.removesuffix(suffix): w for name, w in source.state_dict().items()
                          if name.endswith(suffix)})
    return cell


def set_forget_bias(lstm: LSTMCell | nn.LSTM, value: float) -> None:
    """Set the forget gate's total bias (b_if + b_hf) to `value` in every layer, so f starts near
    sigmoid(value)."""
    rows = slice(lstm.hidden_size, 2 * lstm.hidden_size)  # the f block of the stacked i, f, g, o
    with torch.no_grad():
        for name, bias in lstm.named_parameters():
            if name.startswith(("bias_ih", "bias_hh")):
                bias[rows] = value if name.startswith("bias_ih") else 0.0


def set_spectral_radius(weight: Tensor, radius: float) -> Tensor:
    """Rescale a square matrix in place so its largest |eigenvalue| is `radius`."""
    with torch.no_grad():
        return weight.mul_(radius / torch.linalg.eigvals(weight).abs().max())


def input_grad_norms(cell: Cell, x: Tensor,
                     loss_fn: Callable[[Tensor], Tensor] = torch.sum) -> Tensor:
    """||dL/dx_t|| for every step t, with L = loss_fn(last hidden state): how far back a signal
    still reaches."""
    x = x.detach().requires_grad_()
    _, state = unroll(cell, x)
    (grad,) = torch.autograd.grad(loss_fn(hidden(state)), x)  # (B, T, input)
    return grad.norm(dim=-1).mean(dim=0)  # (T,): averaged over the batch


def grad_norm(parameters: Iterable[nn.Parameter]) -> Tensor:
    """The L2 norm of all gradients together, as if they were one long vector."""
    norms = [p.grad.norm() for p in parameters if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms))


def clip_grad_norm(parameters: Iterable[nn.Parameter], max_norm: float) -> Tensor:
    """Scale all gradients down together so their joint norm is at most `max_norm`; return the
    norm before."""
    parameters = [p for p in parameters if p.grad is not None]
    total = grad_norm(parameters)
    scale = (max_norm / (total + 1e-6)).clamp(max=1.0)  # same epsilon as nn.utils.clip_grad_norm_
    for p in parameters:
        p.grad.mul_(scale)  # one factor for all: the step keeps its direction, only its length shrinks
    return total


class LastStateRegressor(nn.Module):
    """A recurrent cell read out by a linear layer on its final hidden state."""

    def __init__(self, cell: Cell):
        super().__init__()
        self.cell, self.head = cell, nn.Linear(cell.hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(hidden(unroll(self.cell, x)[1])).squeeze(-1)  # (B,)


def remember_first_batch(batch_size: int, steps: int,
                         generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Random sequences (B, steps, 1) whose target is their first number: memory across every step."""
    x = torch.randn(batch_size, steps, 1, generator=generator)  # (B, T, 1)
    return x, x[:, 0, 0]  # targets (B,)


def train_remember_first(clip_norm: float | None, radius: float = 1.5, lr: float = 0.1,
                         steps: int = 20, hidden_size: int = 32, iterations: int = 200,
                         seed: int = 0) -> list[dict[str, float]]:
    """Plain SGD on remember-the-first-number with a tanh RNN; one row (loss, gradient norm) per
    update."""
    torch.manual_seed(seed)
    model = LastStateRegressor(RNNCell(1, hidden_size))
    set_spectral_radius(model.cell.weight_hh, radius)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    generator, rows = torch.Generator().manual_seed(seed), []
    for iteration in range(iterations):
        x, y = remember_first_batch(64, steps, generator)
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        if clip_norm is None:
            norm = grad_norm(model.parameters())
        else:
            norm = clip_grad_norm(model.parameters(), clip_norm)
        optimizer.step()
        rows.append({"iteration": iteration, "loss": loss.item(), "grad_norm": norm.item()})
    return rows

"""Recurrent layers: `nn.RNN`, `nn.LSTM`, `nn.GRU` and their one-step cells.

Everything is a composition of registry ops (linear, sigmoid, tanh, chunk, stack, cat), unrolled
over time in Python, so autograd and tracing (fixed sequence length) need nothing special.
Parameter names, shapes, gate orders and the initialization U(-1/sqrt(hidden), 1/sqrt(hidden))
are PyTorch's, so state dicts move between the two unchanged.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from ... import creation
from ...methods.indexing import cat, stack
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ------------------------------------------------------------------------------- one time step

def _rnn_step(act: str):
    def step(gi: Any, h: Any, w_hh: Any, b_hh: Any) -> Any:
        pre = gi + F.linear(h, w_hh, b_hh)
        return pre.tanh() if act == "tanh" else pre.relu()
    return step


def _lstm_step(gi: Any, state: tuple, w_hh: Any, b_hh: Any, w_hr: Any = None) -> tuple:
    """Gates i, f, g, o (PyTorch's order); c' = f c + i g, h' = o tanh(c') (then W_hr h' with
    projections)."""
    h, c = state
    i, f, g, o = (gi + F.linear(h, w_hh, b_hh)).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    return (h if w_hr is None else F.linear(h, w_hr)), c


def _gru_step(gi: Any, h: Any, w_hh: Any, b_hh: Any) -> Any:
    """Gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); h' = (1 - z) n + z h."""
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r, z = (i_r + h_r).sigmoid(), (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (h - n)


def _step_fn(mode: str):
    if mode == "LSTM":
        return _lstm_step
    if mode == "GRU":
        return _gru_step
    return _rnn_step("tanh" if mode == "RNN_TANH" else "relu")


def _mode_of(nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


# ----------------------------------------------------------------------------- sequence layers

class RNNBase(Module):
    """Stacked (optionally bidirectional) recurrent layers over a (L, N, H_in) sequence."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self._check_args(hidden_size, num_layers, dropout, proj_size)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.proj_size = proj_size
        gate_size, out_size = _GATES[mode] * hidden_size, proj_size or hidden_size
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else out_size * self._dirs
            for suffix in ("", "_reverse")[:self._dirs]:
                shapes = [("weight_ih", (gate_size, layer_in)), ("weight_hh", (gate_size,
                          out_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for kind, shape in shapes:
                    name = f"{kind}_l{layer}{suffix}"
                    self.register_parameter(name, Parameter(creation.empty(
                        *shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()

    def flatten_parameters(self) -> None:
        """Does nothing, as in PyTorch on the CPU: it packs the weights into one cuDNN buffer
        on CUDA, and dualgraph's recurrent layers read the parameters as they are."""
        return None

    @staticmethod
    def _check_args(hidden_size: int, num_layers: int, dropout: float, proj_size: int) -> None:
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", UserWarning)
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")

    @property
    def _dirs(self) -> int:
        return 2 if self.bidirectional else 1

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _weights(self, layer: int, suffix: str) -> tuple:
        get = lambda kind: getattr(self, f"{kind}_l{layer}{suffix}", None)  # noqa: E731
        return (get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"),
                get("weight_hr"))

    def forward(self, input: Any, hx: Any = None) -> tuple:
        batched = input.dim() == 3
        if input.dim() not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                             f"{input.dim()}D tensor instead")
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")
        hx = self._initial_state(input, hx, batched)
        output, h_n = self._run_layers(input, hx)
        if not batched:
            output = output.squeeze(1)
            h_n = tuple(h.squeeze(1) for h in h_n)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (h_n if self.mode == "LSTM" else h_n[0])

    def _initial_state(self, input: Any, hx: Any, batched: bool) -> tuple:
        """hx as a tuple of (layers*dirs, N, H) tensors (h, or h and c for the LSTM)."""
        shape = (self.num_layers * self._dirs, input.shape[1], self.hidden_size)
        h_shape = shape[:2] + (self.proj_size or self.hidden_size,)
        if hx is None:
            return (input.new_zeros(h_shape), input.new_zeros(shape)) if self.mode == "LSTM" \
                else (input.new_zeros(shape),)
        states = tuple(hx) if self.mode == "LSTM" else (hx,)
        if not batched:
            states = tuple(s.unsqueeze(1) for s in states)
        names = ("hidden[0]", "hidden[1]") if self.mode == "LSTM" else ("hidden",)
        for name, s, want in zip(names, states, (h_shape, shape)):
            if tuple(s.shape) != want:
                raise RuntimeError(f"Expected {name} size {want}, got {list(s.shape)}")
        return states

    def _run_layers(self, x: Any, hx: tuple) -> tuple:
        finals: list[list] = [[] for _ in hx]
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:self._dirs]):
                state = tuple(s[layer * self._dirs + d] for s in hx)
                out, last = self._run_direction(x, state, self._weights(layer, suffix), d == 1)
                outs.append(out)
                for acc, s in zip(finals, last):
                    acc.append(s)
            x = outs[0] if len(outs) == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, tuple(stack(acc, 0) for acc in finals)

    def _run_direction(self, x: Any, state: tuple, weights: tuple, reverse: bool) -> tuple:
        """One layer, one direction: project all inputs at once, then step through time."""
        w_ih, w_hh, b_ih, b_hh, w_hr = weights
        gis = F.linear(x, w_ih, b_ih).unbind(0)
        step = _step_fn(self.mode)
        lstm = self.mode == "LSTM"
        state = state if lstm else state[0]
        extra = (w_hr,) if w_hr is not None else ()
        outs = []
        for gi in (reversed(gis) if reverse else gis):
            state = step(gi, state, w_hh, b_hh, *extra)
            outs.append(state[0] if lstm else state)
        if reverse:
            outs.reverse()
        return stack(outs, 0), (state if lstm else (state,))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act tanh or relu."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        self.nonlinearity = nonlinearity
        super().__init__(_mode_of(nonlinearity), input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, 0, device, dtype)


class LSTM(RNNBase):
    """Long short-term memory; forward returns (output, (h_n, c_n))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n as PyTorch orders them)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)


# -------------------------------------------------------------------------------------- cells

class RNNCellBase(Module):
    """One time step: weight_ih (G*H, H_in), weight_hh (G*H, H), biases (G*H,)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.mode, self.input_size, self.hidden_size, self.bias = mode, input_size, \
            hidden_size, bias
        gate_size = _GATES[mode] * hidden_size
        kw = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(creation.empty(gate_size, input_size, **kw))
        self.weight_hh = Parameter(creation.empty(gate_size, hidden_size, **kw))
        if bias:
            self.bias_ih = Parameter(creation.empty(gate_size, **kw))
            self.bias_hh = Parameter(creation.empty(gate_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def forward(self, input: Any, hx: Any = None) -> Any:
        if input.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got "
                             f"{input.dim()}D instead")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        lstm = self.mode == "LSTM"
        if hx is None:
            zeros = x.new_zeros((x.shape[0], self.hidden_size))
            hx = (zeros, zeros) if lstm else zeros
        elif not batched:
            hx = tuple(h.unsqueeze(0) for h in hx) if lstm else hx.unsqueeze(0)
        gi = F.linear(x, self.weight_ih, self.bias_ih)
        out = _step_fn(self.mode)(gi, tuple(hx) if lstm else hx, self.weight_hh, self.bias_hh)
        if batched:
            return out
        return tuple(o.squeeze(0) for o in out) if lstm else out.squeeze(0)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        return s if nonlinearity == "tanh" else s + f", nonlinearity={nonlinearity}"


class RNNCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        self.nonlinearity = nonlinearity
        super().__init__(_mode_of(nonlinearity), input_size, hidden_size, bias, device, dtype)


class LSTMCell(RNNCellBase):
    """Returns (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)


class GRUCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

"""`nn.Conv1d`, `nn.Conv2d` and `nn.ConvTranspose2d`, initialized and printed as PyTorch's."""

from __future__ import annotations

from typing import Any

from ... import creation
from .. import init
from ..functional_layers import conv1d, conv2d, conv_transpose2d, transposed_out_size
from ..module import Module
from ..parameter import Parameter


def _ntuple(v: Any, n: int) -> tuple:
    return tuple(int(x) for x in v) if isinstance(v, (tuple, list)) else (int(v),) * n


class _ConvNd(Module):
    """Shared parameters and repr; weight kaiming_uniform_(a=sqrt(5)), bias U(+-1/sqrt(fan_in)),
    fan_in being weight.shape[1] * kh * kw (so C_out/groups * kh * kw when transposed)."""

    _dims = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        n = self._dims
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode != "zeros":
            raise ValueError(f"padding_mode={padding_mode!r} is not supported; "
                             "padding_mode='zeros' is")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride = _ntuple(kernel_size, n), _ntuple(stride, n)
        self.dilation, self.padding_mode = _ntuple(dilation, n), padding_mode
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _ntuple(padding, n)
        self.output_padding, self.transposed = (0,) * n, self._transposed
        # A transposed conv's weight maps its output channels to its input ones, as conv2d's.
        io = ((in_channels, out_channels // groups) if self._transposed
              else (out_channels, in_channels // groups))
        shape = io + self.kernel_size
        self.weight = Parameter(creation.empty(*shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_layer_init_(self.weight, self.bias)

    def extra_repr(self) -> str:
        n = self._dims
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) inputs."""

    _dims = 2

    def forward(self, input: Any) -> Any:
        return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) inputs."""

    _dims = 1

    def forward(self, input: Any) -> Any:
        return conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution over (N, C, H, W) inputs: the adjoint of Conv2d (its weight is
    (in_channels, out_channels/groups, kh, kw))."""

    _dims = 2
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f"{type(self).__name__}")
        if isinstance(padding, str):
            raise ValueError(f"padding={padding!r} is not supported for {type(self).__name__}; "
                             "give the padding as integers")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self.output_padding = _ntuple(output_padding, 2)

    def _output_padding(self, input: Any, output_size: Any) -> tuple:
        """The output padding that yields `output_size` (PyTorch's rule and messages)."""
        if output_size is None:
            return self.output_padding
        size = [int(v) for v in output_size]
        batched = input.dim() == 4
        if len(size) == input.dim():
            size = size[2:] if batched else size[1:]
        if len(size) != 2:
            raise ValueError(f"ConvTranspose2D: for {input.dim()}D input, output_size must have "
                             f"2 or {input.dim()} elements (got {len(output_size)})")
        hw = tuple(input.shape[-2:])
        lo = [transposed_out_size(hw[i], self.kernel_size[i], self.stride[i], self.padding[i],
                                  self.dilation[i]) for i in range(2)]
        hi = [lo[i] + self.stride[i] - 1 for i in range(2)]
        if any(not lo[i] <= size[i] <= hi[i] for i in range(2)):
            raise ValueError(f"requested an output size of {size}, but valid sizes range from "
                             f"{lo} to {hi} (for an input of {input.shape[-2:]!r})")
        return tuple(size[i] - lo[i] for i in range(2))

    def forward(self, input: Any, output_size: Any = None) -> Any:
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                self._output_padding(input, output_size), self.groups,
                                self.dilation)

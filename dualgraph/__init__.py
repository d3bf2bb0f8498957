"""dualgraph: a PyTorch-style deep-learning framework with two modes over one IR.

Ops run immediately (eager, with autograd) or are captured into static graphs. Every op is
defined once in `dualgraph.ir` and every call goes through `dualgraph.dispatch.bind`.

    >>> import dualgraph as dg
    >>> x = dg.ones(3, 4, requires_grad=True)
    >>> z = dg.mean((x + 2).pow(3))
    >>> z.backward(); x.grad[0, 0].item()
    2.25
"""

from __future__ import annotations

from . import eager as _eager  # noqa: F401  (installs the eager entries of every op)
from . import (accelerator, amp, autograd, cpu, cuda, dispatch, ir, jit, linalg, methods, nn,
               optim, passes, profiler, serialization, utils, viz)
from .amp import autocast, get_autocast_dtype, is_autocast_enabled
from ._tensor_str import set_printoptions
from .autograd import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,
                       no_grad, set_grad_enabled)
from .runtime.settings import (are_deterministic_algorithms_enabled,
                                get_deterministic_debug_mode, get_float32_matmul_precision,
                                get_num_interop_threads, get_num_threads,
                                is_deterministic_algorithms_warn_only_enabled,
                                set_deterministic_debug_mode, set_float32_matmul_precision,
                                set_num_interop_threads, set_num_threads,
                                use_deterministic_algorithms)
from .creation import (Generator, arange, as_tensor, empty, empty_like, from_numpy, full,
                       full_like, get_default_device, initial_seed, manual_seed, ones, ones_like,
                       rand, rand_like, randn, randn_like, seed, set_default_device, tensor,
                       zeros, zeros_like)
from .ir.types import (Device as device, DType as dtype, bfloat16, bool_, float16, float32,
                       float64, get_default_dtype, int8, int16, int32, int64, set_default_dtype,
                       uint8)
from .ops import (abs, add, allclose, clone, cos, div, divide, eq, equal, exp, ge, greater,
                  greater_equal, gt, is_tensor, le, less, less_equal, log, lt, matmul, mean, mm,
                  mul, multiply, ne, neg, negative, not_equal, numel, permute, pow, reciprocal,
                  relu, reshape, sigmoid, sign, sin, sqrt, squeeze, sub, subtract, sum, t, tanh,
                  transpose, true_divide, unsqueeze)
from .errors import DualgraphError, ScriptError, SerializationError, TraceError
from .jit import script
from .compiling import OptimizedModule, compile  # noqa: A001  (torch.compile's name)
from .saving import load, save
from .size import Size
from .tensor import Tensor

__version__ = "0.1.0"

globals().update(methods.public())  # each op family's functions (dualgraph/methods/)
globals().update(methods.inplace.namespace(Tensor, globals()))  # dg.sin_(x) is x.sin_()

# PyTorch's dtype aliases; assigned last because they shadow Python builtins in this module.
half, float, double = float16, float32, float64
short, int, long = int16, int32, int64
bool = bool_


def __getattr__(name: str):
    """Names PyTorch has and dualgraph lacks fail with an error that says so; `dg.onnx` and
    `dg.distributed` are imported on first use (their dependencies are optional extras), and
    `dg.aot` (the C code generator) too, so importing dualgraph stays quick."""
    if name in ("onnx", "distributed", "aot"):
        import importlib
        return importlib.import_module(f"dualgraph.{name}")
    raise AttributeError(f"module 'dualgraph' has no attribute {name!r} (dualgraph does not "
                         f"implement torch.{name})")

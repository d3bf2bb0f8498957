"""`dg.autocast` / `dg.amp.autocast`: regions in which listed ops run in a lower precision.

Entering an enabled region pushes an `AutocastInterpreter` on the thread's dispatch stack. It
reads one table (ir/autocast.py, keyed by device type and op name): for an op listed there it
casts the eligible floating inputs with `to_dtype` — bound through the interpreter below, so
eager autograd records `ToCopyBackward0` and a tracer records `to_dtype` nodes — and hands the
call down; every other op passes unchanged and promotes as usual. As in PyTorch, in-place ops
and calls with an explicit `dtype=` are not eligible, float64 tensors are never cast, and a
float32 leaf that requires grad is cast once per region (the cast cache).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import warnings
from typing import Any, Callable, Sequence

from .. import dispatch
from ..dispatch import Interpreter
from ..ir.autocast import DEFAULT_DTYPE, FP32, LOWER, POLICIES, PROMOTE, SUPPORTED_DTYPES
from ..ir.registry import OpDef, get
from ..ir.types import DType, dtype_from_name, float32, float64, promote_types
from ..tensor import Tensor

_TO_DTYPE = get("to_dtype")


class _State(threading.local):
    """Per thread: the settings of every region open now, innermost last, and the cast cache
    (float32 leaves that require grad, cast once while any enabled region is open)."""

    def __init__(self) -> None:
        self.regions: list = []  # (device type, enabled, dtype, cache enabled)
        self.cache: dict = {}
        self.dtypes: dict = {}  # device type -> dtype set by set_autocast_dtype


_state = _State()


def _innermost(device_type: str) -> tuple | None:
    for region in reversed(_state.regions):
        if region[0] == device_type:
            return region
    return None


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether an enabled autocast region for `device_type` is open on this thread (without
    an argument: CUDA's, as PyTorch's legacy form answers)."""
    region = _innermost(_device_type(device_type or "cuda"))
    return bool(region and region[1])


def get_autocast_dtype(device_type: str) -> DType:
    """The dtype an autocast region for `device_type` casts to when none is given:
    bfloat16 on the CPU, float16 on CUDA (or what the innermost open region uses)."""
    device_type = _device_type(device_type)
    region = _innermost(device_type)
    if region is not None:
        return region[2]
    return _state.dtypes.get(device_type) or dtype_from_name(DEFAULT_DTYPE[device_type])


def is_autocast_cache_enabled() -> bool:
    """Whether the innermost open region caches its casts of leaf weights (True outside)."""
    return _state.regions[-1][3] if _state.regions else True


def state_key() -> tuple:
    """The autocast settings in force now, as a hashable key: ((device type, dtype name), ...)
    for each device type with an enabled region. Captured graphs record it (jit/)."""
    seen: dict = {}
    for device_type, enabled, dtype, _ in _state.regions:
        seen[device_type] = dtype.name if enabled else None
    return tuple(sorted((k, v) for k, v in seen.items() if v is not None))


def check_captured(key: tuple, name: str) -> None:
    """Refuse to run a graph inside an autocast region other than the one it was captured in:
    its casts were fixed when it was captured, so the region could not apply. Outside any
    region it runs with the casts it recorded, as a PyTorch trace does."""
    now = state_key() if _state.regions else ()
    if not now or now == (key or ()):
        return
    def says(k: tuple) -> str:
        return ", ".join(f"{d} autocast to {t}" for d, t in k) or "no autocast"
    raise RuntimeError(f"{name}: this graph was captured with {says(key or ())} and is called "
                       f"with {says(state_key())}; a captured graph keeps the casts it was "
                       "captured with. Capture it (dg.jit.trace) inside the same autocast "
                       "region, or call it outside the region")


def _device_type(device_type: Any) -> str:
    if not isinstance(device_type, str):
        raise TypeError(f"autocast(): expected device_type to be a str like 'cpu' or 'cuda', "
                        f"got {type(device_type).__name__}")
    if device_type not in POLICIES:
        raise RuntimeError(f"User specified an unsupported autocast device_type "
                           f"'{device_type}'; dualgraph supports 'cpu' and 'cuda'")
    return device_type


class AutocastInterpreter(Interpreter):
    """Casts the inputs of listed ops as the innermost open region says, then hands the call to
    the first interpreter below that is not an autocast interpreter."""

    def _below(self) -> Interpreter:
        stack = dispatch.active()
        i = stack.index(self) - 1
        while isinstance(stack[i], AutocastInterpreter):
            i -= 1
        return stack[i]

    @property
    def outside(self) -> Any:  # a training-step tracer below still sees outside state
        return self._below().outside

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._below(), name)

    def process(self, op: OpDef, inputs: Sequence, attrs: dict) -> Any:
        below = self._below()
        device = next((x._device for x in inputs if isinstance(x, Tensor)), None)
        if device is not None:
            policy = POLICIES[device.type].get(op.name)
            region = _innermost(device.type)
            if policy is not None and region is not None and region[1] and \
                    attrs.get("dtype") is None:
                inputs = _cast_inputs(policy, inputs, region, below)
        return below.process(op, inputs, attrs)

    def process_inplace(self, op: OpDef, inputs: Sequence, attrs: dict) -> Any:
        return self._below().process_inplace(op, inputs, attrs)  # in-place ops never autocast


def _eligible(x: Any) -> bool:
    return isinstance(x, Tensor) and x._dtype.is_floating_point and x._dtype is not float64


def _cast_inputs(policy: str, inputs: Sequence, region: tuple, below: Interpreter) -> list:
    if policy == LOWER:
        target = region[2]
    elif policy == FP32:
        target = float32
    else:  # PROMOTE: the widest floating dtype among the inputs
        floats = [x._dtype for x in inputs
                  if isinstance(x, Tensor) and x._dtype.is_floating_point]
        if len(set(floats)) < 2:
            return list(inputs)
        target = functools.reduce(promote_types, floats)
    out = []
    for x in inputs:
        if policy == PROMOTE:
            cast = isinstance(x, Tensor) and x._dtype.is_floating_point
        else:
            cast = _eligible(x)
        out.append(_cast(x, target, policy == LOWER and region[3], below)
                   if cast and x._dtype is not target else x)
    return out


def _cast(x: Tensor, dtype: DType, cache: bool, below: Interpreter) -> Tensor:
    """`x.to(dtype)` through the interpreter below; a float32 leaf weight is cast once per
    region, as PyTorch's cast cache does. An entry serves only casts handed to the same
    interpreter (a tracer's cast is a value of its own graph) and the weight's same version."""
    cache = cache and x._dtype is float32 and x._requires_grad and x._grad_fn is None and \
        x._view is None
    if cache:
        hit = _state.cache.get(id(x))
        if hit is not None and hit[0] is x and hit[1] is below and \
                hit[2] == x._version_counter().value and hit[3]._dtype is dtype:
            return hit[3]
    y = below.process(_TO_DTYPE, [x], {"dtype": dtype})
    if cache:
        _state.cache[id(x)] = (x, below, x._version_counter().value, y)
    return y


class autocast:
    """`with dg.autocast("cpu"):` or `@dg.autocast("cpu")`: inside, the ops of PyTorch's
    autocast lists run in `dtype` (bfloat16 on the CPU, float16 on CUDA) or in float32.

    >>> with dg.autocast("cpu"):
    ...     y = dg.ones(2, 3) @ dg.ones(3, 4)
    >>> y.dtype
    torch.bfloat16
    """

    def __init__(self, device_type: str, dtype: DType | None = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        self.device = _device_type(device_type)
        if dtype is not None and not isinstance(dtype, DType):
            raise TypeError(f"autocast(): expected dtype to be a dtype, got {dtype!r}")
        if not isinstance(enabled, bool):
            raise ValueError(f"Expected `enabled` to be bool, got {type(enabled).__name__}")
        self.fast_dtype = get_autocast_dtype(self.device) if dtype is None else dtype
        self._enabled = enabled
        self._cache_enabled = cache_enabled
        if enabled and self.fast_dtype.name not in SUPPORTED_DTYPES[self.device]:
            names = ", ".join(f"torch.{n}" for n in SUPPORTED_DTYPES[self.device])
            warnings.warn(f"In {self.device.upper()} autocast, but the target dtype is not "
                          f"supported. Disabling autocast.\n{self.device.upper()} Autocast "
                          f"only supports dtype of {names} currently.", UserWarning,
                          stacklevel=2)
            self._enabled = False
        if self._enabled and self.device == "cuda" and not _cuda_available():
            warnings.warn("User provided device_type of 'cuda', but CUDA is not available. "
                          "Disabling", UserWarning, stacklevel=2)
            self._enabled = False
        if self._enabled:
            self.fast_dtype.np  # noqa: B018 - bfloat16 needs ml_dtypes: say so now, not later
        self._entered: list = []

    def __enter__(self) -> "autocast":
        cache = is_autocast_cache_enabled() if self._cache_enabled is None else \
            self._cache_enabled
        _state.regions.append((self.device, self._enabled, self.fast_dtype, cache))
        pushed = None
        if self._enabled:
            pushed = dispatch.interpreting(AutocastInterpreter())
            pushed.__enter__()
        self._entered.append(pushed)
        return self

    def __exit__(self, *exc: Any) -> None:
        ctx = self._entered.pop()
        if ctx is not None:
            ctx.__exit__(*exc)
        _state.regions.pop()
        if not any(r[1] for r in _state.regions):
            _state.cache.clear()  # the outermost enabled region closed, as PyTorch clears

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def decorated(*args: Any, **kwargs: Any) -> Any:
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return fn(*args, **kwargs)
        return decorated


def reenter() -> Any:
    """The regions open now, entered again on top of the stack: a tracer pushed inside an
    autocast region (dg.jit.trace under `with dg.autocast(...)`) then records the casts."""
    stack = contextlib.ExitStack()
    if any(region[1] for region in _state.regions):
        for device_type, enabled, dtype, _ in list(_state.regions):
            stack.enter_context(autocast(device_type, dtype, enabled, cache_enabled=False))
    return stack


def _cuda_available() -> bool:
    from ..cuda import is_available
    return is_available()

"""The eager interpreter's per-op entries: run the kernel now, record autograd only when needed.

For every registered op, `make_entries` precomputes what the hot path needs — the result dtype for
each homogeneous input dtype, the kernel per device — so an eager call is: unwrap the inputs, look
up the dtype, call the kernel, wrap the array. The meta function (shapes) is never run on success;
when a kernel fails, it runs to explain the failure in the op's terms.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .autograd import graph
from .autograd.grad_mode import state as grad_state
from .runtime import backend_for
from .runtime.kernels.common import quiet
from .ir.meta import SCALAR_TYPE_NAMES
from .ir.registry import VIEW, OpDef, OpError, on_register
from .ir.types import ALL_DTYPES, BOOL, CPU, FLOAT, INT, Device, DType, TensorType
from .tensor import Tensor, VersionCounter, ViewInfo, _wrap, check_inference_write

_SCALAR_CATEGORY = {bool: BOOL, int: INT, float: FLOAT}

_SCALAR_TYPE_NAME = SCALAR_TYPE_NAMES  # PyTorch's names: "result type Float can't ..."


def can_cast(src: DType, dst: DType) -> bool:
    """PyTorch's `can_cast`: no float to integer and nothing but bool to bool."""
    if src.is_floating_point and not dst.is_floating_point:
        return False
    return not (dst.category == BOOL and src.category != BOOL)


def _scalar(x: Any) -> Any:
    """Python scalars pass; NumPy scalars become Python ones (weak, as PyTorch treats them)."""
    if isinstance(x, np.generic):
        return x.item()
    if x.__class__ not in _SCALAR_CATEGORY and not isinstance(x, (bool, int, float)):
        raise TypeError(f"expected a Tensor or a Python number, got {type(x).__name__}")
    return x


def _fast_dtype_table(op: OpDef) -> dict:
    """{input dtype: (result, compute)} for calls whose tensors share one dtype and no attrs."""
    table = {}
    attrs = op.full_attrs({})
    for d in ALL_DTYPES:
        if d.compute is not d:
            continue  # a storage-only dtype (bfloat16) always casts: the general path
        try:
            table[d] = op.dtype_rule([TensorType(d, (1,))] * len(op.inputs), attrs)
        except Exception:
            pass  # that dtype is refused: the slow path raises the rule's own error
    return table


def _explain(op: OpDef, inputs: Sequence, attrs: dict, exc: Exception) -> Exception:
    """A kernel failed: let the meta function say why, in terms of the op and its arguments."""
    try:
        op.meta([TensorType(x._dtype, x._data.shape, x._device) if isinstance(x, Tensor) else x
                 for x in inputs], attrs)
    except (RuntimeError, IndexError, TypeError, ValueError) as meta_exc:
        return meta_exc
    if isinstance(exc, (RuntimeError, IndexError, AssertionError, ImportError)):  # its own words
        return exc
    return RuntimeError(f"{op.name}(): {type(exc).__name__}: {exc}")


def _fast_results(op: OpDef) -> dict:
    """{dtype: result dtype} for the calls the fast path takes: all tensors of one dtype, scalars
    of no higher category, no attributes, and no cast needed before the kernel. Ops of several
    outputs always take the general path."""
    if op.num_outputs > 1:
        return {}
    return {d: rc[0] for d, rc in _fast_dtype_table(op).items() if rc[1] is d}


def make_entries(op: OpDef) -> tuple[Callable, Callable]:
    """Build the eager `run(inputs, attrs)` and `run_inplace(inputs, attrs)` of one op."""
    fast = _fast_results(op)
    kernels: dict[Device, tuple] = {}
    is_view = op.kind == VIEW
    moves = op.moves_device
    # variadic ops (`cat`) take any number of inputs: never the fixed-arity fast path
    n_inputs = -1 if any(n.startswith("*") for n in op.inputs) else len(op.inputs)
    multi = op.num_outputs > 1
    attrs_free = getattr(op.dtype_rule, "ignores_attrs", False)

    def kernel_for(device: Device) -> tuple:
        entry = kernels.get(device)
        if entry is None:
            b = backend_for(device)
            entry = kernels[device] = (b.kernel(op.name), b.array_type, b.xp,
                                       b.plain.get(op.name) or b.kernel(op.name))
        return entry

    cpu_kernel, cpu_array, cpu_xp, cpu_plain = kernel_for(CPU)

    def compute(inputs: Sequence, attrs: dict) -> tuple:
        """Run the kernel: returns (array, result dtype, device, requires_grad)."""
        # Fast path: one tensor, or two of one dtype and device, or a tensor and a Python scalar
        # of no higher category; no attributes. Everything else takes the general path.
        if (not attrs or attrs_free) and not moves and inputs:
            x = inputs[0]
            if n_inputs == 1:
                if isinstance(x, Tensor):
                    result = fast.get(x._dtype)
                    if result is not None:
                        return _finish(x._device, result, (x._data,), x._requires_grad, inputs,
                                       attrs)
            elif n_inputs == 2 and isinstance(x, Tensor):
                y = inputs[1]
                if isinstance(y, Tensor):
                    if y._dtype is x._dtype and y._device is x._device:
                        result = fast.get(x._dtype)
                        if result is not None:
                            return _finish(x._device, result, (x._data, y._data),
                                           x._requires_grad or y._requires_grad, inputs, attrs)
                elif y.__class__ in _SCALAR_CATEGORY and \
                        _SCALAR_CATEGORY[y.__class__] <= x._dtype.category:
                    result = fast.get(x._dtype)
                    if result is not None:
                        return _finish(x._device, result, (x._data, y), x._requires_grad,
                                       inputs, attrs)
        return general(inputs, attrs)

    def _finish(device: Device, result: DType, raws: tuple, requires: bool,
                inputs: Sequence, attrs: dict) -> tuple:
        if device is CPU:
            kernel, array_type, xp = cpu_plain, cpu_array, cpu_xp
            if attrs:
                kernel = cpu_kernel
        else:
            full, array_type, xp, kernel = kernel_for(device)
            if attrs:
                kernel = full
        try:
            out = kernel(*raws, **attrs) if attrs else kernel(*raws)
        except RuntimeWarning:  # `python -W error`: NumPy's FP warning raised; PyTorch is silent
            out = _rerun_quietly(op, kernel, raws, attrs)
        except Exception as exc:
            raise _explain(op, inputs, attrs, exc) from None
        if out.__class__ is not array_type:
            out = xp.asarray(out)
        if out.dtype is not result.np and out.dtype != result.np:
            out = out.astype(result.np)
        return out, result, device, requires

    def general(inputs: Sequence, attrs: dict) -> tuple:
        device = None
        requires = False
        raws = []
        for x in inputs:
            if isinstance(x, Tensor):
                if device is None:
                    device = x._device
                elif x._device is not device:
                    raise OpError(f"{op.name}(): Expected all tensors to be on the same "
                                  f"device, but found at least two devices, {device} and "
                                  f"{x._device}!")
                if x._requires_grad:
                    requires = True
                raws.append(x._data)
            else:
                raws.append(_scalar(x))
        if device is None:
            if op.inputs and "device" not in op.attrs:
                raise TypeError(f"{op.name}(): expected at least one Tensor argument")
            device = Device(attrs.get("device") or "cpu")  # a source op, or scalar_tensor
        operands = [x if isinstance(x, Tensor) else r for x, r in zip(inputs, raws)]
        result, comp = op.dtype_rule(operands, op.full_attrs(attrs))
        cnp = comp.np
        for i, r in enumerate(raws):
            if isinstance(inputs[i], Tensor) and r.dtype is not cnp and r.dtype != cnp and \
                    i not in op.index_inputs:
                raws[i] = r.astype(cnp)
        kernel, array_type, xp, plain = kernel_for(device)
        try:
            out = kernel(*raws, **attrs) if attrs else plain(*raws)
        except RuntimeWarning:  # see _finish
            out = _rerun_quietly(op, kernel if attrs else plain, raws, attrs)
        except Exception as exc:
            raise _explain(op, inputs, attrs, exc) from None
        if multi:
            out = tuple(xp.asarray(o, dtype=r.np) for o, r in zip(out, result))
            return out, result, device, requires
        if out.__class__ is not array_type:
            out = xp.asarray(out)
        rnp = result.np
        if out.dtype is not rnp and out.dtype != rnp:
            out = out.astype(rnp)
        if moves:
            device = Device(attrs["device"]).placement()
        return out, result, device, requires

    def run(inputs: Sequence, attrs: dict) -> Any:
        out, result, device, requires = compute(inputs, attrs)
        if multi:
            outs = tuple(_wrap(o, r, device) for o, r in zip(out, result))
            if is_view:
                _link_multi_view(inputs[0], outs)
            if requires and grad_state.enabled:
                graph.record(op, inputs, attrs, outs)
            return outs
        t = _wrap(out, result, device)
        if is_view:
            src = inputs[0]
            base_array = out.base  # a view's base is the input array, or the input's own base
            if base_array is not None and (base_array is src._data
                                           or base_array is src._data.base):
                view = src._view
                base, chain = (src, ()) if view is None else (view.base, view.chain)
                # a view of a split/unbind output stays unwritable under grad (chain None)
                chain = None if chain is None else chain + ((op, attrs, src._data.shape),)
                t._view = ViewInfo(base, chain, grad_state.enabled)
                t._version = base._version_counter()
                src._version = t._version
                t._view.fn_version = t._version.value
        if requires and grad_state.enabled:
            graph.record(op, inputs, attrs, t)
        return t

    def run_inplace(inputs: Sequence, attrs: dict) -> Tensor:
        self = inputs[0]
        if not isinstance(self, Tensor):
            raise TypeError(f"{op.name}_(): expected a Tensor to write into, got "
                            f"{type(self).__name__}")
        v = self._version
        if v is not None and v.__class__ is not VersionCounter:
            check_inference_write(self)
        if is_view:
            return inplace_view(inputs, attrs)
        recording = grad_state.enabled and any(
            isinstance(x, Tensor) and x._requires_grad for x in inputs)
        if not recording and not attrs and ufunc_inplace(inputs):
            return self
        if recording:
            graph.check_inplace_allowed(self, op)
        out, result, device, _ = compute(inputs, attrs)
        dst = self._data
        if out.shape != dst.shape:
            raise RuntimeError(f"{op.name}_(): output with shape {list(dst.shape)} doesn't match "
                               f"the broadcast shape {list(out.shape)}")
        if not can_cast(result, self._dtype):
            raise RuntimeError(f"{op.name}_(): result type {_SCALAR_TYPE_NAME[result.name]} can't "
                               f"be cast to the desired output type "
                               f"{_SCALAR_TYPE_NAME[self._dtype.name]}")
        old = graph.snapshot_for_inplace(op, self) if recording else None
        xp = kernel_for(device)[2]
        try:
            xp.copyto(dst, out, casting="unsafe")
        except ValueError:
            raise RuntimeError(
                f"{op.name}_(): unsupported operation: more than one element of the written-to "
                "tensor refers to a single memory location. Please clone() the tensor before "
                "performing the operation.") from None
        self._version_counter().value += 1
        if recording:
            graph.record_inplace(op, inputs, attrs, self, old)
        return self

    def inplace_view(inputs: Sequence, attrs: dict) -> Tensor:
        """`x.t_()`, `x.unsqueeze_(0)`: x itself becomes the view (same storage, new shape);
        its version bumps and, under grad, its history is the view's node, named as PyTorch
        names the in-place form (`TransposeBackward1`)."""
        self = inputs[0]
        recording = grad_state.enabled and self._requires_grad
        if recording:
            graph.check_inplace_allowed(self, op)
        out = run(inputs, attrs)
        self._data = out._data
        counter = self._version_counter()
        counter.value += 1
        if self._view is not None:
            self._view = out._view  # the same base, the chain one op longer
        node = out._grad_fn
        if recording and node is not None:
            name = node.name()
            if name[-1:].isdigit():
                node.__class__ = graph.node_class(name[:-1] + str(int(name[-1]) + 1))
            self._grad_fn, self._output_nr, self._requires_grad = node, 0, True
            if self._view is not None:
                self._view.fn_version = counter.value
        return self

    raw_plain = getattr(cpu_plain, "__wrapped__", cpu_plain)  # a quiet kernel's own ufunc
    cpu_ufunc = raw_plain if isinstance(raw_plain, np.ufunc) else None
    quiet_ufunc = quiet(cpu_ufunc) if cpu_ufunc is not None and cpu_plain is not raw_plain \
        else None

    def ufunc_inplace(inputs: Sequence) -> bool:
        """`x.add_(y)` without autograd on the CPU: let the ufunc write into x (`out=`), when no
        cast is needed. Returns False to take the checked general path instead."""
        self = inputs[0]
        if cpu_ufunc is None or self._device is not CPU:
            return False
        other = inputs[1] if len(inputs) == 2 else None
        if other is None:
            raws = (self._data,)
        elif isinstance(other, Tensor):
            if other._dtype is not self._dtype or other._device is not CPU:
                return False
            raws = (self._data, other._data)
        elif other.__class__ in _SCALAR_CATEGORY and \
                _SCALAR_CATEGORY[other.__class__] <= self._dtype.category:
            raws = (self._data, other)
        else:
            return False
        if fast.get(self._dtype) is not self._dtype or not self._data.flags.writeable:
            return False
        try:
            if quiet_ufunc is not None:
                quiet_ufunc(*raws, out=self._data)
            else:
                cpu_ufunc(*raws, out=self._data)
        except RuntimeWarning:
            pass  # `-W error` made NumPy's FP warning an exception after the write: PyTorch's silence
        except (ValueError, TypeError, OverflowError):
            return False  # not broadcastable, or a scalar out of range: the general path explains
        self._version_counter().value += 1
        return True

    return run, run_inplace


def _rerun_quietly(op: OpDef, kernel: Callable, raws: Sequence, attrs: dict) -> Any:
    """A kernel's NumPy floating-point warning became an exception (`python -W error`, a
    warnings filter): run it again without NumPy's warnings, since PyTorch returns inf/NaN
    silently. Only on that failure path, so the kernels left bare (add, sub, mul) cost nothing
    more on success. A random op is not run twice (it would draw twice): its warning stands."""
    if op.random:
        raise
    return quiet(kernel)(*raws, **attrs)


def _link_multi_view(src: Tensor, outs: tuple) -> None:
    """Outputs of `split`/`unbind` share the input's storage and version counter; like PyTorch,
    they may not be written in place under grad (`chain=None` marks them)."""
    view = src._view
    base = src if view is None else view.base
    counter = base._version_counter()
    src._version = counter
    for t in outs:
        if t._data.base is not None:
            t._view = ViewInfo(base, None, grad_state.enabled)
            t._version = counter
            t._view.fn_version = counter.value


def _install(op: OpDef) -> None:
    if op.control or op.region or op.graph_only:
        op.eager = op.eager_inplace = _graph_only(op)
        return
    op.eager, op.eager_inplace = make_entries(op)


def _graph_only(op: OpDef) -> Callable:
    def refuse(inputs: Sequence, attrs: dict) -> Any:
        what = "a control-flow op" if op.control else (
            "a fused kernel" if op.region else "a graph-only op")
        raise TypeError(f"{op.name} is {what}: it exists only inside graphs (write Python "
                        "control flow and lists in eager code)")
    return refuse


on_register(_install)

"""`dg.autograd.Function`: a custom op written as a forward and a backward, as PyTorch has it.

    >>> class Exp(Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         y = x.exp()
    ...         ctx.save_for_backward(y)
    ...         return y
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         y, = ctx.saved_tensors
    ...         return grad * y
    >>> Exp.apply(x)          # grad_fn=<ExpBackward>

The `ctx` a forward sees *is* the backward node of its outputs (an instance of
`Exp._backward_cls`, named `ExpBackward`), so attributes set on it are read back in `backward` and
on `y.grad_fn`, as in PyTorch. `forward` runs with grad mode off; the engine runs `backward`
with grad mode as `create_graph` says, so a backward written with dualgraph ops differentiates
again. Saved tensors keep their version, so an in-place change before backward raises.

Under `dg.jit.trace` / `dg.jit.script` an interpreter that defines `python_function(cls, args,
kwargs)` (the tracer) takes the call instead: the graph gets one `python_function` node whose
kernel runs `forward` and whose gradient runs `backward` (see `dualgraph/jit/pyfunction.py`).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any, Callable, Sequence

from ..runtime import backend_for
from ..dispatch import current
from ..tensor import Tensor, _wrap, inference_state
from .grad_mode import state as grad_state
from .graph import NO_EDGE, Node, _seq, gradient_edge, save_input, save_output, unpack_any

_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors "
          "after they have already been freed). Saved intermediate values of the graph are freed "
          "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
          "backward through the graph a second time or if you need to access saved tensors after "
          "calling backward.")


class FunctionCtx:
    """What `forward` (or `setup_context`) may tell autograd through `ctx`."""

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep tensors (or None) for `backward`, read back as `ctx.saved_tensors`; an in-place
        change to one of them before backward raises there."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} "
                                f"is of type {type(t).__name__}")
        self.to_save = tensors

    def mark_dirty(self, *args: Tensor) -> None:
        """Declare inputs that `forward` changed in place (they must also be returned)."""
        self.dirty_tensors = args

    def mark_non_differentiable(self, *args: Tensor) -> None:
        """Declare outputs that get no gradient (indices, masks): they do not require grad, and
        `backward` still receives a (zero) gradient for each."""
        self.non_differentiable = args

    def set_materialize_grads(self, value: bool) -> None:
        """Whether `backward` gets zeros (True, the default) or None for outputs that received
        no gradient."""
        self.materialize_grads = bool(value)


class BackwardCFunction(Node, FunctionCtx):
    """The node of a custom Function's outputs, and the `ctx` its methods see (PyTorch's name).

    Subclassed once per Function as `<Name>Backward`; no `__slots__`, so `ctx.anything = ...`
    works, as in PyTorch."""

    _forward_cls: type

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{__name__}.{self.name()} object at {hex(id(self))}>"

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to `save_for_backward`, checked against in-place changes."""
        saved = self._saved
        if saved is None:
            raise RuntimeError(_FREED)
        return tuple(None if s is None else unpack_any(s, self) for s in saved)

    def apply(self, *args: Any) -> Any:
        """From the engine (one list of output gradients): the gradient per input edge. Called by
        a user with gradients, as PyTorch's `ctx.apply`: `backward`'s own result."""
        if len(args) == 1 and isinstance(args[0], list):
            return self._run(args[0])
        return self._forward_cls.backward(self, *args)

    def _run(self, grads: list) -> list:
        metas = self._out_meta
        grads = list(grads) + [None] * (len(metas) - len(grads))
        if self.materialize_grads:
            grads = [g if g is not None else
                     _wrap(backend_for(device).xp.zeros(shape, dtype.np), dtype, device)
                     for g, (shape, dtype, device) in zip(grads, metas)]
        return self._validate(self._forward_cls.backward(self, *grads))

    def _validate(self, result: Any) -> list:
        """PyTorch's checks of what backward returned: one gradient (or None) per forward input,
        None for non-tensors, shapes the input broadcasts to (summed back), the input's dtype."""
        name = self.name()
        is_tensor = self._is_tensor
        n = len(is_tensor)
        result = result if isinstance(result, tuple) else (result,)
        if len(result) != n:
            if len(result) > n and all(r is None for r in result[n:]):
                result = result[:n]
            else:
                raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                                   f"(expected {n}, got {len(result)})")
        out = []
        for i, g in enumerate(result):
            if not is_tensor[i]:
                if g is not None:
                    raise RuntimeError(f"function {name} returned a gradient different than None "
                                       f"at position {i + 1}, but the corresponding forward "
                                       "input was not a Variable")
                out.append(None)
                continue
            if g is None:
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
            shape, dtype, device = self._in_meta[i]
            if g._device is not device:
                raise RuntimeError(f"Function {name} returned an invalid gradient at index {i} - "
                                   f"expected device {device} but got {g._device}")
            got = tuple(g.shape)
            if got != shape:
                if not _expandable(shape, got):
                    raise RuntimeError(f"Function {name} returned an invalid gradient at index "
                                       f"{i} - got {list(got)} but expected shape compatible "
                                       f"with {list(shape)}")
                g = g.sum_to_size(*shape)
            if g._dtype is not dtype:
                g = g.to(dtype)
            out.append(g)
        return out

    def release(self) -> None:
        self._saved = None


def _expandable(shape: tuple, target: tuple) -> bool:
    """Whether `shape` broadcasts to `target` (a gradient of that shape sums back to it)."""
    if len(shape) > len(target):
        return False
    return all(s == t or s == 1 for s, t in zip(reversed(shape), reversed(target)))


class Function:
    """Base of custom autograd functions: subclass it, write `forward` and `backward` as static
    methods, and call `YourFunction.apply(*args)`. See the module docstring."""

    _backward_cls: type = BackwardCFunction
    generate_vmap_rule = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._backward_cls = type(f"{cls.__name__}Backward", (BackwardCFunction,),
                                 {"_forward_cls": cls, "__module__": __name__})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn(f"{self.__class__} should not be instantiated. Methods on autograd "
                      "functions are all static, so you should invoke them on the class itself. "
                      "Instantiating an autograd function will raise an error in a future "
                      "version of PyTorch.", DeprecationWarning, stacklevel=2)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use "
            "new-style autograd function with static forward method. (Example: "
            "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        """`forward(ctx, *args)`, or `forward(*args)` with a `setup_context`."""
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        """Optional: fill `ctx` from the inputs and output of a `forward` that takes no ctx."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        """One gradient per forward input (None where there is none)."""
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run `forward` and, when an input needs a gradient, make `<Name>Backward` the
        grad_fn of its tensor outputs. Only positional arguments are the node's inputs."""
        if has_setup_context(cls):
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, bound.kwargs
        hook = getattr(current(), "python_function", None)
        if hook is not None:  # a tracer: the call becomes a graph node
            return hook(cls, args, kwargs)
        return apply_eager(cls, args, kwargs)


def has_setup_context(cls: type) -> bool:
    return cls.setup_context is not Function.setup_context


def new_ctx(cls: type, needs: tuple) -> BackwardCFunction:
    """A fresh ctx / node of `cls`, with nothing saved and no edges yet."""
    ctx = cls._backward_cls()
    ctx._next, ctx._seq, ctx._pre_hooks, ctx._post_hooks = (), next(_seq), None, None
    ctx.needs_input_grad = needs
    ctx.materialize_grads = True
    ctx.to_save = ctx.dirty_tensors = ctx.non_differentiable = ()
    ctx._saved = ()
    return ctx


def run_forward(cls: type, ctx: Any, args: tuple, kwargs: dict) -> Any:
    """`forward` (and `setup_context`) with grad mode off, as PyTorch runs them."""
    prev = grad_state.enabled
    grad_state.enabled = False
    try:
        if has_setup_context(cls):
            out = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, out)
        else:
            out = cls.forward(ctx, *args, **kwargs)
    finally:
        grad_state.enabled = prev
    return out


def apply_eager(cls: type, args: tuple, kwargs: dict) -> Any:
    """`cls.apply` in eager mode."""
    is_tensor = tuple(isinstance(a, Tensor) for a in args)
    recording = grad_state.enabled and not inference_state.enabled
    needs = tuple(t and a._requires_grad for a, t in zip(args, is_tensor))  # PyTorch: whatever
    requires = recording and any(needs)  # the grad mode, as `ctx.needs_input_grad` shows
    ctx = new_ctx(cls, needs)
    if requires:  # edges before forward: a dirty input's history is rewritten below
        ctx._next = tuple(gradient_edge(a) if n else NO_EDGE for a, n in zip(args, needs))
    out = run_forward(cls, ctx, args, kwargs)
    is_tuple = isinstance(out, tuple)
    outs = out if is_tuple else (out,)
    inputs = {id(a): a for a, t in zip(args, is_tensor) if t}
    dirty = {id(t) for t in ctx.dirty_tensors}
    for t in ctx.dirty_tensors:
        if id(t) not in inputs:
            raise RuntimeError("mark_dirty(): only inputs of forward can be marked dirty")
        if not any(o is t for o in outs):
            raise RuntimeError("Some elements marked as dirty during the forward method were not "
                               "returned as output. The inputs that are modified inplace must "
                               "all be outputs of the Function.")
    nondiff = {id(t) for t in ctx.non_differentiable}
    final, tensor_outs, originals = [], [], []
    for o in outs:
        if not isinstance(o, Tensor):
            final.append(o)
            continue
        originals.append(o)
        if id(o) in dirty:
            if requires:
                if o._grad_fn is None and o._requires_grad:
                    raise RuntimeError("a leaf Variable that requires grad has been used in an "
                                       "in-place operation.")
                if o._view is not None:
                    raise RuntimeError(f"{cls.__name__}.apply(): an input marked dirty is a view; "
                                       "dualgraph cannot rewire its base's history: clone it "
                                       "before the call")
            o._version_counter().value += 1
        elif id(o) in inputs:  # returned unchanged: a new tensor sharing it (PyTorch's view_as)
            o = o.detach()
        if requires and id(originals[-1]) not in nondiff and o._dtype.is_floating_point:
            o._grad_fn, o._output_nr, o._requires_grad = ctx, len(tensor_outs), True
        tensor_outs.append(o)
        final.append(o)
    if requires:
        ctx._is_tensor = is_tensor
        ctx._in_meta = tuple((tuple(a.shape), a._dtype, a._device) if t else None
                             for a, t in zip(args, is_tensor))
        ctx._out_meta = tuple((tuple(o.shape), o._dtype, o._device) for o in tensor_outs)
        ctx._saved = _save(ctx, tensor_outs, originals)
    if not is_tuple:
        return final[0]
    return tuple(final)


def _save(ctx: Any, tensor_outs: list, originals: list) -> tuple:
    """What `save_for_backward` got, as version-checked records; a saved output is kept as a
    `SavedOutput` (data and version, re-made with grad_fn=ctx) so ctx and output form no cycle."""
    saved = []
    for t in ctx.to_save:
        if t is None:
            saved.append(None)
            continue
        nr = next((k for k, o in enumerate(originals) if o is t), None)
        if nr is not None and tensor_outs[nr]._grad_fn is ctx:
            saved.append(save_output(tensor_outs[nr], nr))
        else:
            saved.append(save_input(t))
    ctx.to_save = ()
    return tuple(saved)


# -------------------------------------------------------------------------- once_differentiable

class _DelayedError(Node):
    """Stands for the backward of a `once_differentiable` backward: differentiating it raises."""

    __slots__ = ("_msg",)

    def name(self) -> str:
        return "Error"  # PyTorch's name: grad_fn=<Error>

    def apply(self, grads: list) -> Sequence:
        raise RuntimeError(self._msg)


def once_differentiable(fn: Callable) -> Callable:
    """Mark a `backward` that is not itself differentiable: it runs without recording, and a
    double backward through it raises instead of giving wrong (zero) gradients."""

    @functools.wraps(fn)
    def wrapper(ctx: Any, *args: Any) -> Any:
        prev = grad_state.enabled
        grad_state.enabled = False
        try:
            outputs = fn(ctx, *args)
        finally:
            grad_state.enabled = prev
        if not prev:
            return outputs
        requiring = [a for a in args if isinstance(a, Tensor) and a._requires_grad]
        if not requiring:
            return outputs
        node = object.__new__(_DelayedError)
        node._msg = ("trying to differentiate twice a function that was marked with "
                     "@once_differentiable")
        node._next = tuple(gradient_edge(a) for a in requiring)
        node._seq, node._pre_hooks, node._post_hooks = next(_seq), None, None
        single = not isinstance(outputs, tuple)
        marked = []
        for o in (outputs,) if single else outputs:
            if isinstance(o, Tensor) and o._dtype.is_floating_point:
                o = o.detach()
                o._grad_fn, o._output_nr, o._requires_grad = node, 0, True
            marked.append(o)
        return marked[0] if single else tuple(marked)

    return wrapper


class InplaceFunction(Function):
    """PyTorch's kept-for-compatibility base of functions with an `inplace` flag."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace


__all__ = ["Function", "FunctionCtx", "BackwardCFunction", "InplaceFunction",
           "once_differentiable"]

"""`dg.utils.checkpoint`: activation checkpointing, PyTorch's `torch.utils.checkpoint`.

    >>> y = checkpoint(block, x, use_reentrant=False)   # block's activations are not kept

`checkpoint(fn, *args)` runs `fn` keeping none of the tensors its ops save for backward; the
backward recomputes the segment to get them back, trading one more forward of the segment for
its activations' memory. Two variants, as in PyTorch:

- `use_reentrant=False` (recommended): the forward is recorded as usual, but under
  `saved_tensors_hooks` whose pack keeps only an index. The first unpack in a backward reruns
  `fn` on the same inputs, under hooks that collect what each op saves in the same order, and
  hands each tensor to the node that asked. Gradients reach every tensor `fn` used (inputs,
  parameters), whether the inputs require grad or not; `autograd.grad` and double backward work.
- `use_reentrant=True` (PyTorch's default when `use_reentrant` is not passed, with a warning):
  `fn` runs under `no_grad` inside a custom Function that saves only the inputs; its backward
  reruns `fn` with grad mode on and runs a backward of its own through it (hence "reentrant"),
  so parameters get `.grad` directly. Only inputs that require grad let gradients through, and
  `autograd.grad` / `backward(inputs=)` are refused, as in PyTorch.

`preserve_rng_state=True` restores dualgraph's random stream (one generator serves the CPU and
the GPU) to where the forward found it, so dropout draws the same mask when recomputed.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

from .. import creation
from ..autograd.engine import backward as run_backward
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, state as grad_state
from ..autograd.saved_hooks import saved_tensors_hooks
from ..tensor import Tensor

_EXPLICIT = ("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
             "use_reentrant=False is recommended, but if you need to preserve the current default "
             "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
             "differences between the two variants.")
_CHECKS = ("default", "none")


class CheckpointError(RuntimeError):
    """The recomputation did not reproduce the forward (PyTorch's CheckpointError)."""


def checkpoint(function: Callable, *args: Any, use_reentrant: bool | None = None,
               preserve_rng_state: bool = True, determinism_check: str = "default",
               **kwargs: Any) -> Any:
    """`function(*args, **kwargs)` without keeping its activations for backward; the backward
    recomputes them. `determinism_check="default"` compares the recomputed tensors' shapes,
    dtypes and devices with the forward's ("none": no check; non-reentrant only)."""
    if use_reentrant is None:
        warnings.warn(_EXPLICIT, UserWarning, stacklevel=2)
        use_reentrant = True
    if not callable(function):
        raise TypeError(f"checkpoint(): function must be callable, got {type(function).__name__}")
    if determinism_check not in _CHECKS:
        raise ValueError(f"determinism_check should be one of {', '.join(_CHECKS)}, but got "
                         f"{determinism_check!r}")
    if use_reentrant:
        if determinism_check != "default":
            raise ValueError("Passing `determinism_check` is only supported when "
                             "use_reentrant=False.")
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if grad_state.enabled and not any(isinstance(a, Tensor) and a.requires_grad
                                          for a in args):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                          UserWarning, stacklevel=2)
        return CheckpointFunction.apply(function, bool(preserve_rng_state), *args)
    return _checkpoint_without_reentrant(function, bool(preserve_rng_state),
                                         determinism_check == "default", args, kwargs)


def checkpoint_sequential(functions: Any, segments: int, input: Any,
                          use_reentrant: bool | None = None, *,
                          preserve_rng_state: bool = True) -> Any:
    """Run `functions` (a list of callables or an `nn.Sequential`) in order on `input`, in
    `segments` chunks each checkpointed but the last (its activations are needed at once)."""
    if use_reentrant is None:
        warnings.warn(_EXPLICIT, UserWarning, stacklevel=2)
        use_reentrant = True
    children = getattr(functions, "children", None)
    fns = list(children()) if callable(children) else list(functions)
    if isinstance(segments, bool) or not isinstance(segments, int) or \
            not 1 <= segments <= max(len(fns), 1):
        raise ValueError(f"checkpoint_sequential(): segments must be an int from 1 to the number "
                         f"of functions ({len(fns)}), got {segments!r}")
    size = len(fns) // segments
    start = 0
    for _ in range(segments - 1):
        input = checkpoint(_Run(fns[start:start + size]), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve_rng_state)
        start += size
    return _Run(fns[start:])(input)


class _Run:
    """A chunk of `checkpoint_sequential`: its functions applied in order."""

    def __init__(self, fns: list) -> None:
        self.fns = fns

    def __call__(self, x: Any) -> Any:
        for fn in self.fns:
            x = fn(x)
        return x


# ------------------------------------------------------------------------------ random state

def _rng_state(preserve: bool) -> dict | None:
    return creation.get_rng_state() if preserve else None


class _ForkedRng:
    """Run a recomputation from the forward's random state, then put the stream back."""

    def __init__(self, state: dict | None) -> None:
        self.state = state

    def __enter__(self) -> None:
        if self.state is not None:
            self._now = creation.get_rng_state()
            creation.set_rng_state(self.state)

    def __exit__(self, *exc: Any) -> None:
        if self.state is not None:
            creation.set_rng_state(self._now)


# ------------------------------------------------------------------------------ non-reentrant

class _Frame:
    """One non-reentrant checkpoint call: the function and its inputs (all it keeps), the
    metadata of each tensor the forward saved, and, per backward, the recomputed tensors not
    handed out yet."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict, rng: dict | None,
                 check: bool) -> None:
        self.fn, self.args, self.kwargs, self.rng, self.check = fn, args, kwargs, rng, check
        self.metas: list = []
        self.task: Any = object()  # the backward the cache below belongs to
        self.cache: dict = {}
        self.unpacked: set = set()

    def pack(self, t: Tensor) -> int:
        self.metas.append((tuple(t._data.shape), t._dtype, t._device))
        return len(self.metas) - 1

    def unpack(self, index: int) -> Tensor:
        task = grad_state.task
        if task != self.task:  # the first unpack of this backward: recompute the segment
            self.recompute(task)
        if index in self.unpacked:
            raise CheckpointError(
                "torch.utils.checkpoint: Unpack is being triggered for a tensor that was already "
                "unpacked once. If you are calling ctx.saved_tensors in backward, make sure to do "
                "so only once.")
        self.unpacked.add(index)
        return self.cache.pop(index)

    def recompute(self, task: Any) -> None:
        found: list = []

        def keep(t: Tensor) -> None:
            if len(found) >= len(self.metas):
                raise CheckpointError("torch.utils.checkpoint: trying to save more tensors during "
                                      "recomputation than during the original forward pass.")
            found.append(t.detach())

        def refuse(_: Any) -> Tensor:
            raise CheckpointError("torch.utils.checkpoint: the recomputation unpacked a tensor "
                                  "it saved; the checkpointed function must not run backward")

        with _ForkedRng(self.rng), enable_grad(), saved_tensors_hooks(keep, refuse):
            self.fn(*self.args, **self.kwargs)
        if len(found) < len(self.metas):
            raise CheckpointError(
                f"torch.utils.checkpoint: the recomputation saved {len(found)} tensors for "
                f"backward but the forward saved {len(self.metas)}; the function must run the "
                "same ops when it is called again on the same inputs")
        if self.check:
            self._compare(found)
        self.task, self.cache, self.unpacked = task, dict(enumerate(found)), set()

    def _compare(self, found: list) -> None:
        bad = []
        for i, (t, (shape, dtype, device)) in enumerate(zip(found, self.metas)):
            got = (tuple(t._data.shape), t._dtype, t._device)
            if got != (shape, dtype, device):
                bad.append(f"tensor at position {i}:\n"
                           f"saved metadata: {{'shape': {list(shape)}, 'dtype': {dtype}, "
                           f"'device': {device}}}\n"
                           f"recomputed metadata: {{'shape': {list(got[0])}, 'dtype': {got[1]}, "
                           f"'device': {got[2]}}}")
        if bad:
            raise CheckpointError("torch.utils.checkpoint: Recomputed values for the following "
                                  "tensors have different metadata than during the forward "
                                  "pass.\n" + "\n".join(bad))


def _checkpoint_without_reentrant(fn: Callable, preserve: bool, check: bool, args: tuple,
                                  kwargs: dict) -> Any:
    frame = _Frame(fn, args, kwargs, _rng_state(preserve), check)
    with saved_tensors_hooks(frame.pack, frame.unpack):
        return fn(*args, **kwargs)


# ---------------------------------------------------------------------------------- reentrant

class CheckpointFunction(Function):
    """The reentrant variant: forward under no_grad saving the inputs; backward recomputes with
    grad mode on and backpropagates through the recomputation."""

    @staticmethod
    def forward(ctx: Any, run_function: Callable, preserve_rng_state: bool, *args: Any) -> Any:
        ctx.run_function = run_function
        ctx.rng = _rng_state(preserve_rng_state)
        ctx.tensor_at = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.others = [None if isinstance(a, Tensor) else a for a in args]
        ctx.save_for_backward(*(args[i] for i in ctx.tensor_at))
        return run_function(*args)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> tuple:
        if grad_state.capturing:
            raise RuntimeError(
                "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or "
                "passing an `inputs` parameter to .backward(). To resolve this error, you can "
                "either set use_reentrant=False, or call .backward() without passing the "
                "`inputs` argument.")
        inputs = list(ctx.others)
        for i, t in zip(ctx.tensor_at, ctx.saved_tensors):
            d = t.detach()
            d.requires_grad_(t.requires_grad)
            inputs[i] = d
        with _ForkedRng(ctx.rng), enable_grad():
            outputs = ctx.run_function(*inputs)
        outs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not "
                               "necessary")
        run_backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(x.grad if isinstance(x, Tensor) else None for x in inputs)


__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction"]

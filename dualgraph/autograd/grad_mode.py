"""Grad mode: whether eager ops record autograd history, per thread (`no_grad`, `enable_grad`),
and inference mode (`inference_mode`), which also marks the tensors it makes."""

from __future__ import annotations

import functools
import inspect
import threading
from typing import Any, Callable, Sequence

from ..dispatch import Interpreter, interpreting
from ..ir.registry import OpDef
from ..tensor import InferenceVersion, Tensor, inference_state


class _GradState(threading.local):
    def __init__(self) -> None:
        self.enabled = True
        self.saved_hooks = None  # (pack, unpack) of the innermost saved_tensors_hooks
        self.task = None  # the id of the backward running on this thread (engine.run_engine)
        self.capturing = False  # whether that backward is `grad()` or has `inputs=`


state = _GradState()


def is_grad_enabled() -> bool:
    """Whether ops called now on this thread record history for autograd."""
    return state.enabled


class _GradModeContext:
    """Base of the grad-mode switches: usable as a context manager and as a decorator."""

    target: bool

    def __enter__(self) -> None:
        self._prev = state.enabled
        state.enabled = self.target

    def __exit__(self, *exc: Any) -> None:
        state.enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Disable history recording: for inference, and for updating weights in place."""

    target = False


class enable_grad(_GradModeContext):
    """Enable history recording, also inside a `no_grad` block."""

    target = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode on or off: immediately when called, and as a context manager."""

    def __init__(self, mode: bool) -> None:
        self._prev = state.enabled
        self.target = bool(mode)
        state.enabled = self.target

    def __enter__(self) -> None:
        """Nothing to do: the switch already happened when the object was made."""

    def __exit__(self, *exc: Any) -> None:
        state.enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        state.enabled = self._prev  # used as a decorator: undo the immediate switch
        mode = self.target

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


# ------------------------------------------------------------------------------ inference mode

class _InferenceInterpreter(Interpreter):
    """On the stack while inference mode is on: ops run below it with recording off (even under
    `enable_grad`, as in PyTorch), and the tensors they make are marked as inference tensors.
    Normal eager calls never meet it, so they pay nothing for the feature."""

    def process(self, op: OpDef, inputs: Sequence, attrs: dict) -> Any:
        if not inference_state.enabled:  # `inference_mode(False)` inside: a normal call
            return self.process_below(op, inputs, attrs)
        prev = state.enabled
        state.enabled = False
        try:
            out = self.process_below(op, inputs, attrs)
        finally:
            state.enabled = prev
        _mark(out)
        return out

    def process_inplace(self, op: OpDef, inputs: Sequence, attrs: dict) -> Any:
        if not inference_state.enabled:
            return self.process_below(op, inputs, attrs, inplace=True)
        prev = state.enabled
        state.enabled = False
        try:
            return self.process_below(op, inputs, attrs, inplace=True)
        finally:
            state.enabled = prev


def _mark(out: Any) -> None:
    """A new tensor (no version counter yet: not a view of a normal tensor) becomes an inference
    tensor; a view shares its base's counter and so its kind."""
    if out.__class__ is tuple:
        for o in out:
            _mark(o)
    elif out.__class__ is Tensor and out._version is None:
        out._version = InferenceVersion()


def is_inference_mode_enabled() -> bool:
    """Whether inference mode is on on this thread."""
    return inference_state.enabled


class inference_mode:
    """Like `no_grad`, and more: tensors made inside are *inference tensors* (`is_inference()`),
    which autograd refuses to save or to let be changed in place outside inference mode, and
    `enable_grad` inside does not turn recording back on. `inference_mode(False)` turns it off
    (grad mode on) inside an enclosing one. A context manager and a decorator (with or without
    parentheses), as PyTorch's."""

    def __new__(cls, mode: Any = True) -> Any:
        if mode is None or isinstance(mode, bool):
            return super().__new__(cls)
        if callable(mode):  # `@inference_mode` without parentheses
            return cls()(mode)
        raise TypeError(f"inference_mode(): argument 'mode' must be bool, not "
                        f"{type(mode).__name__}")

    def __init__(self, mode: bool = True) -> None:
        self.mode = True if mode is None else mode
        self._saved: list = []

    def __enter__(self) -> None:
        pushed = None
        if self.mode:
            pushed = interpreting(_InferenceInterpreter())
            pushed.__enter__()
        self._saved.append((state.enabled, inference_state.enabled, pushed))
        state.enabled = not self.mode
        inference_state.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        grad, inference, pushed = self._saved.pop()
        state.enabled, inference_state.enabled = grad, inference
        if pushed is not None:
            pushed.__exit__(None, None, None)

    def clone(self) -> "inference_mode":
        return self.__class__(self.mode)

    def __call__(self, fn: Callable) -> Callable:
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(self, fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper


def _wrap_generator(ctx: Any, fn: Callable) -> Callable:
    """A generator function whose every step runs inside the context (PyTorch does the same)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        gen = fn(*args, **kwargs)
        try:
            with ctx.clone():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with ctx.clone():
                        gen.close()
                    raise
                except BaseException as exc:
                    with ctx.clone():
                        response = gen.throw(exc)
                else:
                    with ctx.clone():
                        response = gen.send(request)
        except StopIteration as stop:
            return stop.value
    return wrapper

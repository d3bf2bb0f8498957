"""Grad mode: whether eager ops record autograd history, per thread (`no_grad`, `enable_grad`)."""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable


class _GradState(threading.local):
    def __init__(self) -> None:
        self.enabled = True


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

"""The `Optimizer` base class: parameter groups, per-parameter state and its (de)serialization.

Subclasses implement `step`; every `step` defined in a subclass is wrapped so that it runs under
`no_grad` (updates are never recorded by autograd) and marks the optimizer as stepped (schedulers
warn when they step before it, as PyTorch's do).
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Callable, Iterable

from .. import recording

__all__ = ["Optimizer", "required"]


class _Required:
    """Marks a hyper-parameter that has no default (PyTorch's `required` sentinel)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


def _is_tensor(x: Any) -> bool:
    from ..tensor import Tensor
    return isinstance(x, Tensor)


def _type_name(x: Any) -> str:
    if _is_tensor(x):
        from ..creation import legacy_type_name
        return legacy_type_name(x)
    return type(x).__name__


def _wrap_step(step: Callable) -> Callable:
    """`step` under no_grad, counting calls so schedulers can check the order of calls."""
    @functools.wraps(step)
    def wrapper(self: "Optimizer", *args: Any, **kwargs: Any) -> Any:
        from ..autograd import no_grad
        from ..dispatch import current
        outside = current().outside
        if outside is not None:  # a training step being traced: the tracer runs the step
            return outside.optimizer_step(self, lambda: _run_step(self, step, args, kwargs))
        self._opt_called = True
        self._step_count = getattr(self, "_step_count", 0) + 1
        rec = recording.current()  # None unless a profiler is recording
        if rec is not None:
            index = rec.begin(f"Optimizer.step#{type(self).__name__}.step", "cpu_op")
            try:
                with no_grad():
                    return step(self, *args, **kwargs)
            finally:
                rec.end(index)
        with no_grad():
            return step(self, *args, **kwargs)
    wrapper._dg_wrapped = True  # type: ignore[attr-defined]
    return wrapper


def _run_step(optimizer: "Optimizer", step: Callable, args: tuple, kwargs: dict) -> Any:
    """The step itself under no_grad, without the call counting (what a traced step records;
    the compiled step counts its calls itself)."""
    from ..autograd import no_grad
    with no_grad():
        return step(optimizer, *args, **kwargs)


def count_step(optimizer: "Optimizer") -> None:
    """Mark one more step taken (schedulers read it): what every call of `step` does."""
    optimizer._opt_called = True
    optimizer._step_count = getattr(optimizer, "_step_count", 0) + 1


class Optimizer:
    """Base class of all optimizers: holds `param_groups` (dicts of params and options), the
    per-parameter `state`, and the `defaults` that fill options a group leaves out."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_dg_wrapped", False):
            cls.step = _wrap_step(step)  # type: ignore[method-assign]

    def __init__(self, params: Iterable, defaults: dict) -> None:
        self.defaults = defaults
        self.state: dict = {}  # keyed by the parameter tensors (hashed by identity)
        self.param_groups: list = []
        self._opt_called = False
        self._step_count = 0
        if _is_tensor(params):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_type_name(params)}")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # groups -----------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (the rest come from `defaults`)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if _is_tensor(params):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        group["params"] = params = list(params)
        for p in params:
            if not _is_tensor(p):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{_type_name(p)}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            import warnings
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see github.com/pytorch/pytorch/"
                          "issues/40967 for more information", stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def _params(self) -> list:
        return [p for g in self.param_groups for p in g["params"]]

    # gradients and steps ----------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: drop them (the default) or fill them with zeros."""
        rec = recording.current()  # None unless a profiler is recording
        if rec is None:
            self._zero_grad(set_to_none)
            return
        index = rec.begin(f"Optimizer.zero_grad#{type(self).__name__}.zero_grad", "cpu_op")
        try:
            self._zero_grad(set_to_none)
        finally:
            rec.end(index)

    def _zero_grad(self, set_to_none: bool) -> None:
        for p in self._params():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    g = g.detach()
                    p.grad = g
                else:
                    g.requires_grad_(False)
                g.zero_()

    @_wrap_step
    def step(self, closure: Callable | None = None) -> Any:
        """One update of every parameter that has a gradient; returns the closure's loss.
        Optimizers define `_update(p, group)`; those that need more (LBFGS) override `step`."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group)
        return loss

    def _update(self, p: Any, group: dict) -> None:
        """The update rule for one parameter."""
        raise TypeError(f"{type(self).__name__} defines no update rule: give it _update(p, "
                        "group) or a step() of its own")

    @staticmethod
    def _closure_loss(closure: Callable | None) -> Any:
        """Re-evaluate the loss with autograd on (step itself runs under no_grad)."""
        if closure is None:
            return None
        from ..autograd import enable_grad
        with enable_grad():
            return closure()

    # serialization ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """{'state': {param index: state}, 'param_groups': [options + 'params': indices]}, as
        PyTorch's: parameters are named by their position across groups."""
        index: dict = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            for p in g["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in g["params"]]
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self._state_items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def _state_items(self) -> list:
        """(param, state) pairs in parameter order (state is keyed by identity)."""
        return [(p, self.state[p]) for p in self._params() if p in self.state]

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by `state_dict` onto this optimizer's parameters
        (state tensors are copied and cast to their parameter's dtype and device)."""
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(s["params"]) != len(g["params"]) for s, g in zip(saved, self.param_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        by_index = {i: p for s, g in zip(saved, self.param_groups)
                    for i, p in zip(s["params"], g["params"])}
        self.state = {}
        for i, s in state_dict["state"].items():
            if i in by_index:
                p = by_index[i]
                self.state[p] = {k: _cast_state(k, v, p) for k, v in s.items()}
        groups = []
        for s, g in zip(saved, self.param_groups):
            new = copy.deepcopy({k: v for k, v in s.items() if k != "params"})
            new["params"] = g["params"]
            groups.append(new)
        self.param_groups = groups

    # state access -----------------------------------------------------------------------------
    def _state(self, p: Any) -> dict:
        """The state dict of parameter `p` (created empty on first use)."""
        return self.state.setdefault(p, {})

    def __getstate__(self) -> dict:
        return self.__dict__

    def __repr__(self) -> str:
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _cast_state(name: str, value: Any, p: Any) -> Any:
    """A loaded state value for parameter `p`: tensors copied to p's device (and dtype, for
    floating state other than the step count); containers converted recursively."""
    if _is_tensor(value):
        v = value.detach().clone()
        if name != "step" and v.dtype.is_floating_point and p.dtype.is_floating_point:
            v = v.to(dtype=p.dtype)
        return v.to(device=p.device)
    if isinstance(value, dict):
        return {k: _cast_state(k, v, p) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(name, v, p) for v in value)
    return copy.deepcopy(value)

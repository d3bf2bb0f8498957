"""`dg.jit.freeze`: a compiled module whose parameters and buffers are baked in as constants,
as `torch.jit.freeze` makes them.

The captured graph's state inputs become constants holding copies of the values at freeze time,
constant folding computes what they alone determine, and batch norm (and any other per-channel
add/sub/mul/div by constants) after a convolution or linear layer folds into that layer's weight
and bias (`dualgraph.passes.freeze`). The result is a `FrozenFunction`: it takes only the user's
inputs, never reads the module again, and saves and loads as any compiled function does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .function import GraphFunction
from .script import ScriptFunction, ScriptModule
from .trace import TracedFunction


class FrozenFunction(GraphFunction):
    """What `dg.jit.freeze` returns: a compiled function of the user's inputs alone, whose
    graph holds the module's parameters and buffers as constants (`graph_before_passes` is the
    frozen program, which `.save()` writes; `.explain()` shows the freezing stages first)."""

    def __init__(self, graph: Any, freeze_runs: list, nodes_captured: int, out_tree: Any,
                 name: str, opt_level: int) -> None:
        self._freeze_runs = list(freeze_runs)
        self._nodes_captured = nodes_captured
        super().__init__(graph, (), out_tree, name=name, opt_level=opt_level)

    def explain(self) -> Any:
        """The freezing stages (freeze, fold, dce, fold_bn, dce) followed by the passes of the
        object's opt_level, from the captured graph's node count to the final one."""
        from dualgraph.passes.manager import PassReport  # late: passes import jit
        report = self._report
        return PassReport(report.level, self._freeze_runs + report.runs,
                          self._nodes_captured, report.nodes_after)


def freeze(mod: Any, optimize_numerics: bool = True) -> FrozenFunction:
    """Freeze a scripted or traced module in eval mode: its parameters and buffers become
    constants, constant folding and simplification run, and batch norm after a convolution or
    linear layer folds into that layer's weight and bias (`optimize_numerics=False` skips this
    folding, which changes results by rounding only). Returns a `FrozenFunction` that takes the
    module's inputs and gives its outputs within floating-point tolerance.

    The frozen function holds copies of the values at freeze time: later changes to the
    module's parameters or buffers (an optimizer step, `load_state_dict`, `p.data.mul_()`) do
    not affect it, as with `torch.jit.freeze`; freeze again to see them. A scripted module is
    frozen in its last compiled specialization (before any call, its generic graph), the
    graph `dg.jit.save` would write. Raises TypeError for anything but a scripted module, a
    traced module or a loaded function, and RuntimeError for a module in training mode.

    >>> frozen = dg.jit.freeze(dg.jit.script(model.eval()))  # doctest: +SKIP
    >>> frozen(x)                                              # doctest: +SKIP
    """
    from dualgraph.passes.freeze import freeze_graph  # late: passes import jit
    if not isinstance(optimize_numerics, bool):
        raise TypeError(f"jit.freeze(): optimize_numerics must be a bool, got "
                        f"{type(optimize_numerics).__name__}")
    source = _compiled_of(mod)
    graph = source.graph_before_passes
    names = list(graph.meta.get("params", ()))
    state = {}
    for name, t in zip(names, source._state_tensors()):
        if t._device.type != "cpu":
            raise RuntimeError(f"jit.freeze(): the state tensor '{name}' is on {t._device}; "
                               "frozen constants live on the CPU: freeze the module on the CPU")
        state[name] = np.array(t._host(), copy=True)  # a copy: later changes are not seen
    frozen, runs = freeze_graph(graph, state, fold_layers=optimize_numerics)
    return FrozenFunction(frozen, runs, sum(1 for _ in graph.all_nodes()), source._out_tree,
                          source._name, source.opt_level)


def _compiled_of(mod: Any) -> GraphFunction:
    """The compiled function to freeze, after the checks torch.jit.freeze makes."""
    if isinstance(mod, ScriptModule):
        _check_eval(mod.original)
        return mod.compiled
    if isinstance(mod, TracedFunction):
        owner = getattr(mod._fn, "__self__", None)
        if owner is None and not mod._owners:
            raise TypeError("jit.freeze() expects a scripted or traced module; this traced "
                            "function has no parameters or buffers to freeze")
        if owner is not None:
            _check_eval(owner)
        return mod
    if isinstance(mod, GraphFunction):  # a loaded (or already frozen) function
        return mod
    if isinstance(mod, ScriptFunction):
        raise TypeError("jit.freeze() expects a scripted or traced module, got a scripted "
                        "function; script the module instead: dg.jit.freeze(dg.jit.script(m))")
    raise TypeError(f"jit.freeze() expects a scripted or traced module, got "
                    f"{type(mod).__name__}; use dg.jit.script(module) or dg.jit.trace(module, "
                    "example_inputs) first")


def _check_eval(module: Any) -> None:
    """PyTorch's refusal of a module in training mode (its submodules' modes are in the graph:
    a training batch norm updates its buffers, which `inline_state` refuses)."""
    if getattr(module, "training", False):
        raise RuntimeError("Freezing is currently only implemented for modules in eval mode. "
                           "Please call .eval() on your module before freezing.")

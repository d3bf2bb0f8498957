"""The backward engine: walks the graph from the outputs, calling each node once all of its
gradient has arrived (dependency counting, newest node first, as PyTorch's engine orders them).

`backward` accumulates into leaves' `.grad`; `grad` returns the gradients of chosen inputs and
touches no `.grad`. With `create_graph=True` the VJP rules run with grad mode on, so the gradients
have history of their own and can be differentiated again.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

from .. import dispatch, recording
from ..runtime import backend_for
from ..tensor import Tensor, _wrap
from .grad_mode import state as grad_state
from .graph import NO_EDGE, AccumulateGrad, Node, gradient_edge

_tasks = itertools.count()


def _as_tuple(x: Any) -> tuple:
    if x is None:
        return ()
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _root_grads(outputs: tuple, grads: tuple, create_graph: bool) -> list:
    if grads and len(grads) != len(outputs):
        raise RuntimeError(f"got {len(grads)} gradients for {len(outputs)} outputs")
    out = []
    for i, t in enumerate(outputs):
        g = grads[i] if grads else None
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have "
                               "a grad_fn")
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs "
                                   f"(the output has shape {list(t.shape)}); pass gradient= with "
                                   "the output's shape")
            g = _wrap(backend_for(t._device).xp.ones(t._data.shape, t._dtype.np), t._dtype,
                      t._device)
        elif not isinstance(g, Tensor):
            raise TypeError(f"gradients must be Tensors or None, got {type(g).__name__}")
        elif tuple(g.shape) != tuple(t.shape):
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{list(g.shape)} and output[{i}] has a shape of {list(t.shape)}.")
        out.append(g)
    return out


def _dependencies(roots: list) -> dict:
    deps: dict = {}
    seen = set()
    stack = [n for n in roots if n is not None]
    for n in stack:
        seen.add(n)
    while stack:
        node = stack.pop()
        for child, _ in node._next:
            if child is None:
                continue
            deps[child] = deps.get(child, 0) + 1
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return deps


def _needed(roots: list, targets: set) -> set:
    """The nodes that must run for gradients to reach the capture targets: those with a child
    from which a target is reachable. Nothing else runs under `grad`."""
    needed: set = set()
    memo: dict = {}
    order = []
    stack = [(n, False) for n in roots if n is not None]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in memo:
            continue
        memo[node] = False
        stack.append((node, True))
        for child, _ in node._next:
            if child is not None and child not in memo:
                stack.append((child, False))
    run = set()
    for node in order:  # children before parents
        if any(c in needed for c, _ in node._next if c is not None):
            run.add(node)
            needed.add(node)
        elif node in targets:
            needed.add(node)
    return run


def run_engine(outputs: tuple, grads: list, retain_graph: bool, create_graph: bool,
               capture: list | None = None, accumulate: bool = True) -> list:
    """Propagate `grads` back from `outputs`. If `capture` lists tensors, return their gradients."""
    roots = [gradient_edge(t) for t in outputs]
    deps = _dependencies([n for n, _ in roots])
    buffers: dict = {}
    for (node, nr), g in zip(roots, grads):
        _add(buffers, node, nr, g)

    targets: dict = {}
    captured: list = []
    if capture is not None:
        captured = [None] * len(capture)
        for i, t in enumerate(capture):
            edge = gradient_edge(t)
            if edge is NO_EDGE:
                raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not "
                                   "require grad")
            targets.setdefault(edge, []).append(i)
        needed = _needed([n for n, _ in roots], {n for n, _ in targets})
    ready = [(-n._seq, id(n), n) for n in {n for n, _ in roots if n is not None}
             if deps.get(n, 0) == 0]
    heapq.heapify(ready)

    prev = grad_state.enabled, grad_state.task, grad_state.capturing
    grad_state.enabled = create_graph
    # each backward has an id (checkpoint recomputes once per backward) and says whether it
    # captures gradients (reentrant checkpoint cannot serve grad() or inputs=)
    grad_state.task, grad_state.capturing = next(_tasks), capture is not None
    rec = recording.current()  # one check per backward call; None unless profiling
    try:
        while ready:
            node = heapq.heappop(ready)[2]
            inputs = buffers.pop(node, None) or [None]
            if node._pre_hooks:
                inputs = _run_pre_hooks(node, inputs)
            skip = False
            if capture is not None:
                for nr, g in enumerate(inputs):
                    for slot in targets.get((node, nr), ()):
                        captured[slot] = g
                skip = node not in needed or isinstance(node, AccumulateGrad)
            if skip or not any(g is not None for g in inputs):
                results = [None] * len(node._next)
            else:
                results = list(node.apply(inputs) if rec is None else
                               _profiled_apply(rec, node, inputs))
                if node._post_hooks:
                    for hook in list(node._post_hooks):
                        new = hook(tuple(results), tuple(inputs))
                        if new is not None:
                            results = list(new)
                if not retain_graph:
                    node.release()
            for (child, nr), g in zip(node._next, results):
                if child is None:
                    continue
                if g is not None:
                    _add(buffers, child, nr, g)
                left = deps[child] - 1
                deps[child] = left
                if left == 0:
                    heapq.heappush(ready, (-child._seq, id(child), child))
    finally:
        grad_state.enabled, grad_state.task, grad_state.capturing = prev
    return captured


def _profiled_apply(rec: recording.Recorder, node: Node, inputs: list) -> Any:
    """`node.apply` reported to the profiler as a range named as PyTorch names the node."""
    index = rec.begin(node.name(), "autograd")
    try:
        return node.apply(inputs)
    finally:
        rec.end(index)


def _add(buffers: dict, node: Node | None, nr: int, g: Tensor) -> None:
    if node is None:
        return
    buf = buffers.get(node)
    if buf is None:
        buf = buffers[node] = [None] * max(1, nr + 1)
    elif len(buf) <= nr:
        buf.extend([None] * (nr + 1 - len(buf)))
    buf[nr] = g if buf[nr] is None else buf[nr] + g


def _run_pre_hooks(node: Node, grads: list) -> list:
    hooks = node._pre_hooks
    if not hooks:
        return grads
    grads = list(grads)
    for nr, fns in hooks.items():
        if nr == -1:
            continue
        if nr < len(grads) and grads[nr] is not None:
            user = [f for f in fns if not getattr(f, "_retain_grad", False)]
            for fn in user + [f for f in fns if getattr(f, "_retain_grad", False)]:
                new = fn(grads[nr])
                if new is not None:
                    grads[nr] = new
    for fn in hooks.get(-1, ()):
        new = fn(tuple(grads))
        if new is not None:
            grads = list(new)
    return grads


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any = None) -> None:
    """Accumulate the gradients of `tensors` into the `.grad` of the leaves they depend on.

    `grad_tensors` gives d(loss)/d(tensor) for non-scalar outputs; `retain_graph` keeps saved
    tensors for another backward (defaults to `create_graph`); `inputs` limits accumulation to
    those leaves.
    """
    outputs = _as_tuple(tensors)
    outside = dispatch.current().outside
    if outside is not None:  # inside a training step being traced: the tracer differentiates
        outside.backward(outputs, _as_tuple(grad_tensors), retain_graph, create_graph,
                         None if inputs is None else _as_tuple(inputs))
        return
    grads = _root_grads(outputs, _as_tuple(grad_tensors) if grad_tensors is not None else (),
                        create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        run_engine(outputs, grads, retain, create_graph)
        return
    from .graph import accumulate
    chosen = _as_tuple(inputs)
    found = run_engine(outputs, grads, retain, create_graph, capture=list(chosen))
    prev = grad_state.enabled
    grad_state.enabled = create_graph
    try:
        for t, g in zip(chosen, found):
            if g is not None:
                accumulate(t, g)
    finally:
        grad_state.enabled = prev


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         materialize_grads: bool = False) -> tuple:
    """The gradients of `outputs` with respect to `inputs`, returned rather than accumulated."""
    outs = _as_tuple(outputs)
    ins = _as_tuple(inputs)
    outside = dispatch.current().outside
    if outside is not None:  # inside a training step being traced
        return outside.grad(outs, _as_tuple(grad_outputs), ins, retain_graph, create_graph,
                            allow_unused, materialize_grads)
    grads = _root_grads(outs, _as_tuple(grad_outputs) if grad_outputs is not None else (),
                        create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    found = run_engine(outs, grads, retain, create_graph, capture=list(ins))
    result = []
    for i, (t, g) in enumerate(zip(ins, found)):
        if g is None:
            if materialize_grads:
                from ..creation import zeros_like
                g = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError(f"One of the differentiated Tensors (input {i}) appears to not "
                                   "have been used in the graph. Set allow_unused=True if this is "
                                   "the desired behavior.")
        result.append(g)
    return tuple(result)


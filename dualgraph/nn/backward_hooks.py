"""Module full backward hooks (`register_full_backward_hook`, `register_full_backward_pre_hook`).

As PyTorch's `BackwardHook` does, a module call with such hooks routes its positional tensor
inputs, and then its tensor outputs, through one identity node each: the tensors are flattened,
concatenated and split back (`cat` then `split`), so a single backward node receives the
gradients of all of them at once. A pre-hook on the outputs' `split` node sees grad_output (and
may replace it); a post-hook on the inputs' `cat` node sees grad_input, with the grad_output
saved earlier, and may replace it. Only the module's own contribution flows through these nodes,
so grad_input is the gradient through this call, not the inputs' total gradient.
"""

from __future__ import annotations

from typing import Any, Callable

from ..methods.indexing import cat
from ..tensor import Tensor


def _hub(tensors: list) -> tuple[list, Any]:
    """Identity copies of `tensors` that share one backward node; returns (copies, the node
    whose grad_outputs are the copies' gradients, i.e. the split node)."""
    common = tensors[0].dtype
    for t in tensors[1:]:
        if t.dtype != common:
            from ..ir.types import promote_types
            common = promote_types(common, t.dtype)
    flat = [t.reshape(-1) if t.dtype == common else t.reshape(-1).to(common) for t in tensors]
    pieces = cat(flat).split([t.numel() for t in tensors])
    out = []
    for t, piece in zip(tensors, pieces):
        piece = piece.reshape(tuple(t.shape))
        out.append(piece if piece.dtype == t.dtype else piece.to(t.dtype))
    return out, pieces[0].grad_fn


def wrap_inputs(module: Any, args: tuple, state: dict) -> tuple:
    """Route the positional tensor inputs that require grad through one node whose post-hook
    calls the module's full backward hooks with (grad_input, grad_output)."""
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    state["n_inputs"] = len(args)
    state["positions"] = positions
    if not positions:
        return args
    originals = [args[i] for i in positions]
    copies, split_node = _hub(originals)
    cat_node = split_node.next_functions[0][0]
    shapes = [tuple(t.shape) for t in originals]

    def post(results: tuple, grad_outputs: tuple) -> Any:
        grads = [None if g is None else g.reshape(s) for g, s in zip(results, shapes)]
        new = _call_hooks(module, grads, state)
        if new is None:
            return None
        return tuple(None if g is None else g.reshape(-1) for g in new)

    cat_node.register_hook(post)
    args = list(args)
    for i, c in zip(positions, copies):
        args[i] = c
    return tuple(args)


def _call_hooks(module: Any, grads: list, state: dict) -> list | None:
    """Call each full backward hook with grad_input (one entry per positional arg, None where
    it is not a tensor that requires grad); a returned tuple replaces grad_input."""
    grad_input: list = [None] * state["n_inputs"]
    for i, g in zip(state["positions"], grads):
        grad_input[i] = g
    replaced = False
    for hook in list(module._backward_hooks.values()):
        result = hook(module, tuple(grad_input), state.get("grad_output", ()))
        if result is None:
            continue
        result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        if len(result) != len(grad_input):
            raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got "
                               f"{len(result)}, but expected {len(grad_input)}")
        grad_input, replaced = list(result), True
    if not replaced:
        return None
    return [grad_input[i] for i in state["positions"]]


def _hooks_without_input_grads(module: Any, state: dict) -> None:
    """No input needs a gradient: PyTorch calls the full backward hooks when the output
    gradients arrive, with grad_input all None, warns, and refuses a replacement."""
    import warnings
    warnings.warn("Full backward hook is firing when gradients are computed with respect to "
                  "module outputs since no inputs require gradients. See https://docs.pytorch."
                  "org/docs/main/generated/torch.nn.Module.html#torch.nn.Module.register_full_"
                  "backward_hook for more details.", stacklevel=2)
    grad_input = (None,) * state["n_inputs"]
    for hook in list(module._backward_hooks.values()):
        result = hook(module, grad_input, state["grad_output"])
        if result is not None and not (isinstance(result, tuple)
                                       and all(g is None for g in result)):
            raise RuntimeError("Backward hook for Modules where no input requires gradient "
                               "should always return None or None for all gradients.")


def wrap_outputs(module: Any, output: Any, state: dict) -> Any:
    """Route the module's tensor outputs through one node whose pre-hook runs the backward
    pre-hooks on grad_output (and saves it for the full backward hooks)."""
    single = isinstance(output, Tensor)
    items = [output] if single else list(output) if isinstance(output, (tuple, list)) else []
    positions = [i for i, t in enumerate(items) if isinstance(t, Tensor) and t.requires_grad]
    if not positions:
        return output
    copies, split_node = _hub([items[i] for i in positions])
    shapes = [tuple(items[i].shape) for i in positions]

    n_outputs = len(items)

    def pre(grads: tuple) -> Any:
        grads = list(grads) + [None] * (len(positions) - len(grads))
        packed: list = [None] * n_outputs  # one entry per top-level output, as PyTorch's
        for i, g, s in zip(positions, grads, shapes):
            packed[i] = None if g is None else g.reshape(s)
        grad_output = tuple(packed)
        changed = False
        for hook in list(module._backward_pre_hooks.values()):
            result = hook(module, grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_output):
                    raise RuntimeError("Backward pre hook returned an invalid number of "
                                       f"grad_output, got {len(result)}, but expected "
                                       f"{len(grad_output)}")
                grad_output, changed = result, True
        state["grad_output"] = grad_output
        if not state["positions"] and module._backward_hooks:
            _hooks_without_input_grads(module, state)
        if not changed:
            return None
        return tuple(None if grad_output[i] is None else grad_output[i].reshape(-1)
                     for i in positions)

    split_node.register_prehook(pre)
    for i, c in zip(positions, copies):
        items[i] = c
    if single:
        return items[0]
    if hasattr(output, "_fields"):  # a namedtuple
        return type(output)(*items)
    return type(output)(items)


def register(store: dict, hook: Callable, prepend: bool) -> Any:
    """Add `hook` to `store` (first when `prepend`) and return its RemovableHandle."""
    from .module import RemovableHandle
    handle = RemovableHandle(store)
    store[handle.id] = hook
    if prepend:
        store.move_to_end(handle.id, last=False)
    return handle

"""L-BFGS, as PyTorch documents and runs it: a limited-memory quasi-Newton method whose `step`
re-evaluates the loss through a closure, optionally with a strong-Wolfe line search.

The algorithm works on one flat vector of all parameters, held as a host NumPy array in the
parameters' dtype (scalars stay NumPy scalars of that dtype, so rounding follows PyTorch's
float32 arithmetic); parameters are only ever changed in place through the tensor API
(`add_`, `copy_`), so version counters and views stay right.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from .optimizer import Optimizer
from .sgd import check_nonnegative

__all__ = ["LBFGS"]

# Keys of the (global) state kept on the first parameter, as PyTorch keeps them.
_VECTOR_KEYS = ("d", "prev_flat_grad")
_LIST_KEYS = ("old_dirs", "old_stps")


def _cubic_min(x1: Any, f1: Any, g1: Any, x2: Any, f2: Any, g2: Any,
               bounds: tuple | None = None) -> Any:
    """Minimizer of the cubic through (x1, f1, f1') and (x2, f2, f2'), clamped to `bounds`
    (default: the interval between the points); the midpoint when the cubic has no minimum."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 ** 2 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = np.sqrt(disc)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


class _Point:
    """One trial of the line search: step t, loss f, flat gradient g and slope g.d."""

    __slots__ = ("t", "f", "g", "gtd")

    def __init__(self, t: Any, f: Any, g: np.ndarray, gtd: Any) -> None:
        self.t, self.f, self.g, self.gtd = t, f, g, gtd


def _strong_wolfe(evaluate: Callable, t: Any, d: np.ndarray, f: float, g: np.ndarray,
                  gtd: Any, c1: float = 1e-4, c2: float = 0.9,
                  tolerance_change: float = 1e-9, max_ls: int = 25) -> tuple:
    """Line search along d for a step satisfying the strong Wolfe conditions: first bracket
    an interval (growing the step by cubic extrapolation), then zoom into it by cubic
    interpolation. `evaluate(t)` returns (loss, flat grad) at x + t*d. Returns
    (loss, grad, t, number of evaluations)."""
    d_norm = np.abs(d).max()
    origin = _Point(0, f, g.copy(), gtd)

    def trial(step: Any) -> _Point:
        f_new, g_new = evaluate(step)
        return _Point(step, f_new, g_new, g_new.dot(d))

    new, evals, ls_iter = trial(t), 1, 0
    prev, bracket, done = origin, None, False
    while ls_iter < max_ls:
        if new.f > f + c1 * new.t * gtd or (ls_iter > 1 and new.f >= prev.f):
            bracket = [prev, new]
            break
        if abs(new.gtd) <= -c2 * gtd:
            bracket, done = [new], True
            break
        if new.gtd >= 0:
            bracket = [prev, new]
            break
        # still descending: extrapolate to a longer step, between 1.01x and 10x
        step = _cubic_min(prev.t, prev.f, prev.gtd, new.t, new.f, new.gtd,
                          bounds=(new.t + 0.01 * (new.t - prev.t), new.t * 10))
        prev = new
        new = trial(step)
        evals += 1
        ls_iter += 1
    if bracket is None:  # evaluations ran out while still descending
        bracket = [origin, new]
    if done:
        best = bracket[0]
        return best.f, best.g, best.t, evals
    return _zoom(trial, bracket, f, gtd, d_norm, c1, c2, tolerance_change, ls_iter, max_ls,
                 evals)


def _zoom(trial: Callable, bracket: list, f: float, gtd: Any, d_norm: Any, c1: float,
          c2: float, tolerance_change: float, ls_iter: int, max_ls: int, evals: int) -> tuple:
    """Shrink a bracket [a, b] holding a strong-Wolfe point until one is found (or the bracket
    becomes tiny / evaluations run out); returns the lowest point's (f, g, t, evals)."""
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    insufficient = False
    while ls_iter < max_ls:
        a, b = bracket[0], bracket[1]
        if abs(b.t - a.t) * d_norm < tolerance_change:
            break
        t = _cubic_min(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
        top, bottom = max(a.t, b.t), min(a.t, b.t)
        margin = 0.1 * (top - bottom)
        # a trial too close to an end makes slow progress: push it 10% inside the bracket
        if min(top - t, t - bottom) < margin:
            if insufficient or t >= top or t <= bottom:
                t = top - margin if abs(t - top) < abs(t - bottom) else bottom + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        new = trial(t)
        evals += 1
        ls_iter += 1
        if new.f > f + c1 * t * gtd or new.f >= bracket[low].f:
            bracket[high] = new
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
            continue
        if abs(new.gtd) <= -c2 * gtd:
            bracket[low] = new
            break
        if new.gtd * (bracket[high].t - bracket[low].t) >= 0:
            bracket[high] = bracket[low]
        bracket[low] = new
    best = bracket[low]
    return best.f, best.g, best.t, evals


class LBFGS(Optimizer):
    """L-BFGS (one parameter group only): each `step(closure)` runs up to `max_iter`
    iterations of the two-loop recursion over the last `history_size` curvature pairs, moving
    by `lr` (the very first move scaled by min(1, 1/|g|_1)) or by a strong-Wolfe line search."""

    def __init__(self, params: Iterable, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if _is_tensor(lr) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        check_nonnegative("learning rate", lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")

    # flat views of the parameters -------------------------------------------------------------
    def _plist(self) -> list:
        return self.param_groups[0]["params"]

    def _dtype(self) -> np.dtype:
        """The dtype of the flat vectors: the parameters' (promoted), looked up once."""
        dtype = getattr(self, "_flat_dtype", None)
        if dtype is None:
            dtype = self._flat_dtype = np.result_type(
                *[np.asarray(p.detach().reshape(-1)[:1]).dtype for p in self._plist()])
        return dtype

    def _flat_grad(self) -> np.ndarray:
        """All gradients as one host vector (zeros for parameters without a gradient)."""
        dtype = self._dtype()
        parts = [np.zeros(p.numel(), dtype) if p.grad is None
                 else np.asarray(p.grad.detach()).reshape(-1).astype(dtype, copy=False)
                 for p in self._plist()]
        return np.concatenate(parts)

    def _move(self, t: Any, d: np.ndarray) -> None:
        """x += t*d, in place on each parameter."""
        from ..creation import tensor
        offset = 0
        for p in self._plist():
            n = p.numel()
            step = tensor(d[offset:offset + n].reshape(tuple(p.shape)), dtype=p.dtype,
                          device=p.device)
            p.add_(step, alpha=float(t))
            offset += n

    def _evaluate(self, closure: Callable) -> float:
        from ..autograd import enable_grad
        with enable_grad():
            return float(closure())

    def _directional_evaluate(self, closure: Callable, t: Any, d: np.ndarray) -> tuple:
        """(loss, flat grad) at x + t*d, leaving the parameters at x afterwards."""
        saved = [p.detach().clone() for p in self._plist()]
        self._move(t, d)
        loss = self._evaluate(closure)
        grad = self._flat_grad()
        for p, x in zip(self._plist(), saved):
            p.copy_(x)
        return loss, grad

    # the step ---------------------------------------------------------------------------------
    def step(self, closure: Callable) -> Any:  # type: ignore[override]
        """Run up to `max_iter` L-BFGS iterations; `closure` clears the gradients, computes the
        loss, back-propagates and returns the loss. Returns the loss of the first evaluation."""
        from ..autograd import enable_grad
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search_fn = group["history_size"], group["line_search_fn"]

        state = self._state(self._plist()[0])  # global state, kept on the first parameter
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if np.abs(flat_grad).max() <= tol_grad:
            return orig_loss

        mem = self._load_memory(state)
        d, t, prev_grad, prev_loss = mem["d"], mem["t"], mem["prev_flat_grad"], mem["prev_loss"]
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                mem.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
            else:
                self._remember(mem, flat_grad - prev_grad, d * t, history_size)
                d = self._direction(mem, state, flat_grad, history_size)
            prev_grad = flat_grad.copy()
            prev_loss = loss
            # first ever step: scale by 1/|g|_1 since the curvature is still unknown
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tol_change:  # not a descent direction (any more)
                break
            ls_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                loss, flat_grad, t, ls_evals = _strong_wolfe(
                    lambda s: self._directional_evaluate(closure, s, d), t, d, loss,
                    flat_grad, gtd, max_ls=max_eval - evals)
                self._move(t, d)
                opt_cond = np.abs(flat_grad).max() <= tol_grad
            else:
                self._move(t, d)
                opt_cond = False
                if n_iter != max_iter:  # the last iteration's loss would go unused
                    loss = self._evaluate(closure)
                    flat_grad = self._flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            if n_iter == max_iter or evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tol_change or abs(loss - prev_loss) < tol_change:
                break  # no more progress
        mem.update(d=d, t=t, prev_flat_grad=prev_grad, prev_loss=prev_loss)
        self._save_memory(state, mem)
        return orig_loss

    @staticmethod
    def _remember(mem: dict, y: np.ndarray, s: np.ndarray, history_size: int) -> None:
        """Add the curvature pair (y, s) when y.s > 1e-10 (else the update would not stay
        positive definite), dropping the oldest beyond `history_size`; rescale H0."""
        ys = y.dot(s)
        if not ys > 1e-10:
            return
        if len(mem["old_dirs"]) == history_size:
            for key in ("old_dirs", "old_stps", "ro"):
                mem[key].pop(0)
        mem["old_dirs"].append(y)
        mem["old_stps"].append(s)
        mem["ro"].append(1.0 / ys)
        mem["H_diag"] = ys / y.dot(y)

    @staticmethod
    def _direction(mem: dict, state: dict, g: np.ndarray, history_size: int) -> np.ndarray:
        """-H g by the two-loop recursion (newest pair first, then oldest first)."""
        ys, ss, ro = mem["old_dirs"], mem["old_stps"], mem["ro"]
        al = state.get("al")
        if al is None:
            al = state["al"] = [None] * history_size
        q = -g
        for i in reversed(range(len(ys))):
            al[i] = ss[i].dot(q) * ro[i]
            q = q + (-al[i]) * ys[i]
        r = q * mem["H_diag"]
        for i in range(len(ys)):
            beta = ys[i].dot(r) * ro[i]
            r = r + (al[i] - beta) * ss[i]
        for i, a in enumerate(al):  # keep the saved state plain Python numbers
            if a is not None:
                al[i] = float(a)
        return r

    # state ------------------------------------------------------------------------------------
    def _load_memory(self, state: dict) -> dict:
        """The state's history as host arrays (and NumPy scalars) of the parameters' dtype."""
        dtype = self._dtype()

        def arr(x: Any) -> Any:
            return None if x is None else np.array(np.asarray(x), dtype=dtype)

        def num(x: Any) -> Any:
            return None if x is None else dtype.type(x)

        mem = {k: arr(state.get(k)) for k in _VECTOR_KEYS}
        mem.update({k: [arr(v) for v in state.get(k, [])] for k in _LIST_KEYS})
        mem["ro"] = [num(v) for v in state.get("ro", [])]
        mem["H_diag"] = num(state.get("H_diag"))
        mem["t"] = num(state.get("t"))
        mem["prev_loss"] = state.get("prev_loss")
        return mem

    def _save_memory(self, state: dict, mem: dict) -> None:
        """Store the history in the state as tensors on the parameters' device (scalars as
        Python numbers), so state_dict/load_state_dict carry it like any optimizer state."""
        from ..creation import tensor
        p0 = self._plist()[0]

        def ten(x: np.ndarray) -> Any:
            return tensor(x, device=p0.device)

        for k in _VECTOR_KEYS:
            state[k] = None if mem[k] is None else ten(mem[k])
        for k in _LIST_KEYS:
            state[k] = [ten(v) for v in mem[k]]
        state["ro"] = [float(v) for v in mem["ro"]]
        state["H_diag"] = None if mem["H_diag"] is None else float(mem["H_diag"])
        state["t"] = None if mem["t"] is None else float(mem["t"])
        state["prev_loss"] = mem["prev_loss"]


def _is_tensor(x: Any) -> bool:
    from ..tensor import Tensor
    return isinstance(x, Tensor)

"""dg.optim.LBFGS: fixed-step iterations against an independent NumPy L-BFGS (two-loop
recursion), convergence on Rosenbrock (with and without strong-Wolfe line search) and on least
squares (vs the closed form), PyTorch's errors, and state_dict round trips."""

import numpy as np
import pytest

import dualgraph as torch
from dualgraph.optim import LBFGS

RNG = np.random.default_rng(3)
M = RNG.standard_normal((5, 5))
Q = M @ M.T + 5 * np.eye(5)  # symmetric positive definite
C = RNG.standard_normal(5)
X0 = RNG.standard_normal(5)


def quad_value_grad(x):
    return 0.5 * x @ Q @ x - C @ x, Q @ x - C


def ref_lbfgs(x, steps, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
              tolerance_change=1e-9, history_size=100):
    """L-BFGS without line search, written from the algorithm's description: per step one
    evaluation, then up to max_iter moves x += t*d with d = -H g by the two-loop recursion over
    the last history_size pairs (s, y) with y.s > 1e-10, H0 = y.s/y.y; the first move ever is
    scaled by min(1, 1/|g|_1). Returns x and the losses step() returned."""
    max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
    x = x.copy()
    pairs, h0, total_iters = [], 1.0, 0
    d = t = g_prev = None
    losses = []
    for _ in range(steps):
        f, g = quad_value_grad(x)
        losses.append(f)
        evals = 1
        if np.abs(g).max() <= tolerance_grad:
            continue
        for n in range(1, max_iter + 1):
            total_iters += 1
            if total_iters > 1:
                y, s = g - g_prev, d * t
                if y @ s > 1e-10:
                    pairs = (pairs + [(s, y)])[-history_size:]
                    h0 = (y @ s) / (y @ y)
                q, alphas = g.copy(), []
                for s_i, y_i in reversed(pairs):
                    a = (s_i @ q) / (y_i @ s_i)
                    alphas.append(a)
                    q = q - a * y_i
                r = h0 * q
                for (s_i, y_i), a in zip(pairs, reversed(alphas)):
                    b = (y_i @ r) / (y_i @ s_i)
                    r = r + (a - b) * s_i
                d = -r
            else:
                d = -g
            g_prev, f_prev = g, f
            t = min(1.0, 1.0 / np.abs(g).sum()) * lr if total_iters == 1 else lr
            if g @ d > -tolerance_change:
                break
            x = x + t * d
            if n != max_iter:
                f, g = quad_value_grad(x)
                evals += 1
            if n == max_iter or evals >= max_eval or np.abs(g).max() <= tolerance_grad:
                break
            if np.abs(d * t).max() <= tolerance_change or abs(f - f_prev) < tolerance_change:
                break
    return x, losses


def quad_closure(x, opt):
    q, c = torch.tensor(Q), torch.tensor(C)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x @ (q @ x)) - c @ x
        loss.backward()
        return loss
    return closure


def run_quad(steps, **kw):
    x = torch.tensor(X0, requires_grad=True)
    opt = LBFGS([x], **kw)
    closure = quad_closure(x, opt)
    losses = [float(opt.step(closure)) for _ in range(steps)]
    return np.array(x.detach().tolist()), losses, opt


@pytest.mark.parametrize("kw", [dict(lr=0.1, max_iter=4), dict(lr=0.2, max_iter=3, history_size=2),
                                dict(lr=0.05, max_iter=6, max_eval=4)])
def test_fixed_step_matches_numpy_two_loop(kw):
    got, losses, _ = run_quad(3, **kw)
    want, want_losses = ref_lbfgs(X0, 3, **kw)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-10)


def test_state_counts_and_contents():
    _, _, opt = run_quad(2, lr=0.1, max_iter=4, history_size=2)
    state = opt.state[opt.param_groups[0]["params"][0]]
    assert state["n_iter"] == 8 and state["func_evals"] == 2 * 4
    assert len(state["old_dirs"]) == len(state["old_stps"]) == len(state["ro"]) == 2
    assert tuple(state["d"].shape) == (5,) and state["d"].dtype == torch.float64
    assert state["t"] == 0.1


def rosenbrock_run(line_search_fn, steps, dtype=torch.float64, **kw):
    xy = torch.tensor([-1.5, 2.0], dtype=dtype, requires_grad=True)
    opt = LBFGS([xy], line_search_fn=line_search_fn, **kw)

    def closure():
        opt.zero_grad()
        loss = (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2
        loss.backward()
        return loss
    for _ in range(steps):
        opt.step(closure)
    return np.array(xy.detach().tolist()), opt


def test_strong_wolfe_converges_on_rosenbrock():
    xy, opt = rosenbrock_run("strong_wolfe", 5)  # stops at a loss change below 1e-9
    np.testing.assert_allclose(xy, [1.0, 1.0], atol=1e-5)
    xy, _ = rosenbrock_run("strong_wolfe", 5, tolerance_change=1e-20, tolerance_grad=1e-12)
    np.testing.assert_allclose(xy, [1.0, 1.0], atol=1e-9)
    xy32, _ = rosenbrock_run("strong_wolfe", 5, dtype=torch.float32)
    np.testing.assert_allclose(xy32, [1.0, 1.0], atol=1e-3)


def test_fixed_step_converges_on_rosenbrock():
    xy, _ = rosenbrock_run(None, 40, lr=0.5, history_size=10)
    np.testing.assert_allclose(xy, [1.0, 1.0], atol=1e-4)


def test_least_squares_matches_closed_form():
    a = RNG.standard_normal((30, 3))
    b = RNG.standard_normal(30)
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(1, dtype=torch.float64, requires_grad=True)  # two parameters, flattened
    opt = LBFGS([w, bias], line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                tolerance_change=1e-15)
    at, bt = torch.tensor(a), torch.tensor(b)

    def closure():
        opt.zero_grad()
        loss = ((at @ w + bias - bt) ** 2).mean()
        loss.backward()
        return loss
    for _ in range(3):
        opt.step(closure)
    want, *_ = np.linalg.lstsq(np.hstack([a, np.ones((30, 1))]), b, rcond=None)
    np.testing.assert_allclose(w.detach().tolist() + bias.detach().tolist(), want, atol=1e-7)


def test_params_updated_in_place():
    x = torch.tensor(X0, requires_grad=True)
    opt = LBFGS([x], lr=0.1, max_iter=3)
    version = x._version_counter().value
    alias = x.detach()
    opt.step(quad_closure(x, opt))
    np.testing.assert_array_equal(alias.tolist(), x.detach().tolist())  # same storage
    assert x._version_counter().value > version


def test_optimal_start_returns_without_moving():
    x = torch.tensor(np.linalg.solve(Q, C), requires_grad=True)
    opt = LBFGS([x])
    before = x.detach().tolist()
    loss = opt.step(quad_closure(x, opt))
    assert x.detach().tolist() == before
    assert opt.state[x] == {"func_evals": 1, "n_iter": 0}
    assert isinstance(loss, torch.Tensor)


def test_errors_as_pytorch():
    x, y = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"^LBFGS doesn't support per-parameter options "
                                         r"\(parameter groups\)$"):
        LBFGS([{"params": [x]}, {"params": [y]}])
    with pytest.raises(ValueError, match="^Invalid learning rate: -1$"):
        LBFGS([x], lr=-1)
    with pytest.raises(TypeError, match=r"missing 1 required positional argument: 'closure'"):
        LBFGS([x]).step()
    opt = LBFGS([x], line_search_fn="wolfe")

    def closure():
        opt.zero_grad()
        loss = ((x - 1) ** 2).sum()
        loss.backward()
        return loss
    with pytest.raises(RuntimeError, match="^only 'strong_wolfe' is supported$"):
        opt.step(closure)


def test_defaults_and_repr():
    opt = LBFGS([torch.zeros(2, requires_grad=True)], max_iter=8)
    assert opt.defaults == {"lr": 1, "max_iter": 8, "max_eval": 10, "tolerance_grad": 1e-7,
                            "tolerance_change": 1e-9, "history_size": 100,
                            "line_search_fn": None}
    assert repr(opt).splitlines()[0] == "LBFGS ("


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_state_dict_round_trip(line_search_fn):
    kw = dict(lr=0.1, max_iter=3, history_size=3, line_search_fn=line_search_fn)
    x = torch.tensor(X0, requires_grad=True)
    opt = LBFGS([x], **kw)
    closure = quad_closure(x, opt)
    for _ in range(2):
        opt.step(closure)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0] and sd["param_groups"][0]["params"] == [0]
    assert {"d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss",
            "func_evals", "n_iter"} <= set(sd["state"][0])
    x2 = torch.tensor(x.detach().tolist(), dtype=torch.float64, requires_grad=True)
    opt2 = LBFGS([x2], lr=0.7)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.1
    closure2 = quad_closure(x2, opt2)
    for _ in range(2):
        opt.step(closure)
        opt2.step(closure2)
    assert x2.detach().tolist() == x.detach().tolist()


def test_matches_torch_numbers():
    real = pytest.importorskip("torch")

    def run(lib, line_search_fn, dtype):
        xy = lib.tensor([-1.5, 2.0, 0.5], dtype=dtype, requires_grad=True)
        opt = lib.optim.LBFGS([xy], lr=0.5, max_iter=6, history_size=4,
                              line_search_fn=line_search_fn)

        def closure():
            opt.zero_grad()
            loss = ((1 - xy[:-1]) ** 2 + 100 * (xy[1:] - xy[:-1] ** 2) ** 2).sum()
            loss.backward()
            return loss
        losses = [opt.step(closure).item() for _ in range(4)]
        evals = opt.state[xy]["func_evals"]
        return np.array(xy.detach().tolist()), losses, evals

    for ls in (None, "strong_wolfe"):
        want = run(real, ls, real.float64)
        got = run(torch, ls, torch.float64)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-9)
        assert got[2] == want[2]
        want32, got32 = run(real, ls, real.float32), run(torch, ls, torch.float32)
        np.testing.assert_allclose(got32[0], want32[0], rtol=1e-4, atol=1e-5)

"""The benchmark cases of `benchmarks/run.py`: for each case and column, a function that builds
the inputs and returns the callable to time (or None where the column does not apply).

Columns: `numpy` (written by hand, where it makes sense), `dg-eager`, `dg-O0` and `dg-O3`
(`dg.jit.trace` at that opt_level), `torch` (eager), `torch-compile` and `jax-jit` (when
installed). dualgraph and PyTorch share one definition per case: dualgraph mirrors PyTorch's API,
so the same code runs with `lib` bound to either. Training steps are compiled whole: forward,
loss, backward and optimizer update (`dg.jit.trace` of the step function; `torch.compile` of it,
which breaks the graph at `backward()` as PyTorch does).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

COLUMNS = ("numpy", "dg-eager", "dg-O0", "dg-O3", "dg-C", "torch", "torch-compile", "jax-jit")


def _library(column: str) -> Any:
    if column.startswith("dg"):
        import dualgraph
        return dualgraph
    if column.startswith("torch"):
        import torch
        return torch
    return None


def _compile(column: str, fn: Callable, inputs: tuple) -> Callable:
    """The column's way of compiling `fn` for these example inputs."""
    if column in ("dg-O0", "dg-O3"):
        import dualgraph as dg
        return dg.jit.trace(fn, inputs, opt_level=int(column[-1]))
    if column == "dg-C":  # the O3 graph as a C library (dg.aot), called through ctypes
        import tempfile

        import dualgraph as dg
        traced = dg.jit.trace(fn, inputs, opt_level=3)
        out_dir = tempfile.mkdtemp(prefix="dg-bench-c-")
        lib = dg.aot.compile(traced, out_dir, "bench").library()
        call = lib.prepared("bench", *[t.numpy() for t in inputs])
        return lambda *args: call()
    if column == "torch-compile":
        import torch
        return torch.compile(fn)
    return fn


def _arrays(rng: np.random.Generator, *shapes: tuple) -> list:
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def _tensors(lib: Any, arrays: list) -> tuple:
    return tuple(lib.from_numpy(a.copy()) for a in arrays)


# --------------------------------------------------------------------------- elementwise cases

def _pointwise(np_fn: Callable, lib_fn: Callable, jax_fn: Callable, quick: bool):
    n = (1 << 16) if quick else (1 << 22)

    def build(column: str) -> Callable | None:
        rng = np.random.default_rng(0)
        arrays = _arrays(rng, (n,), (n,))
        if column == "numpy":
            return lambda: np_fn(*arrays)
        if column == "jax-jit":
            import jax
            f = jax.jit(jax_fn)
            xs = [jax.numpy.asarray(a) for a in arrays]
            return lambda: f(*xs).block_until_ready()
        lib = _library(column)
        xs = _tensors(lib, arrays)
        f = _compile(column, lambda x, y: lib_fn(lib, x, y), xs)
        return lambda: f(*xs)
    return build


def _chain_np(x, y):
    return (x * 2 + y) * (x - y) * 0.5 + 1


def _chain_lib(lib, x, y):
    return (x * 2 + y) * (x - y) * 0.5 + 1


def _gelu_tanh_np(x, y):
    return 0.5 * x * (1 + np.tanh(np.float32(math.sqrt(2 / math.pi)) * (x + 0.044715 * x * x * x)))


def _silu_np(x, y):
    return x / (1 + np.exp(-x))


def _jax_chain(x, y):
    return (x * 2 + y) * (x - y) * 0.5 + 1


def _jax_gelu(approximate: bool) -> Callable:
    def f(x, y):
        import jax
        return jax.nn.gelu(x, approximate=approximate)
    return f


def _jax_silu(x, y):
    import jax
    return jax.nn.silu(x)


# ------------------------------------------------------------------------ row-wise reductions

def _rowwise(kind: str, quick: bool):
    rows, cols = (256, 1024) if quick else (4096, 1024)

    def np_fn(x):
        if kind == "layer_norm":
            mu = x.mean(axis=-1, keepdims=True)
            var = x.var(axis=-1, keepdims=True)
            return (x - mu) / np.sqrt(var + 1e-5)
        shifted = x - x.max(axis=-1, keepdims=True)
        if kind == "log_softmax":
            return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        e = np.exp(shifted)
        return e / e.sum(axis=-1, keepdims=True)

    def lib_fn(lib, x):
        F = lib.nn.functional
        if kind == "layer_norm":
            return F.layer_norm(x, (cols,))
        return getattr(lib, kind)(x, dim=-1)

    def jax_fn(x):
        import jax
        if kind == "layer_norm":
            mu = x.mean(axis=-1, keepdims=True)
            return (x - mu) / jax.numpy.sqrt(x.var(axis=-1, keepdims=True) + 1e-5)
        return getattr(jax.nn, kind)(x, axis=-1)

    def build(column: str) -> Callable | None:
        (a,) = _arrays(np.random.default_rng(0), (rows, cols))
        if column == "numpy":
            return lambda: np_fn(a)
        if column == "jax-jit":
            import jax
            f, xa = jax.jit(jax_fn), jax.numpy.asarray(a)
            return lambda: f(xa).block_until_ready()
        lib = _library(column)
        xs = _tensors(lib, [a])
        f = _compile(column, lambda x: lib_fn(lib, x), xs)
        return lambda: f(*xs)
    return build


def _cross_entropy(quick: bool):
    rows, classes = (256, 1000) if quick else (4096, 1000)

    def build(column: str) -> Callable | None:
        rng = np.random.default_rng(0)
        (logits,) = _arrays(rng, (rows, classes))
        target = rng.integers(0, classes, size=rows)
        if column == "numpy":
            def np_ce():
                shifted = logits - logits.max(axis=1, keepdims=True)
                logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
                return -logp[np.arange(rows), target].mean()
            return np_ce
        if column == "jax-jit":
            import jax
            import jax.numpy as jnp

            def jce(x, t):
                logp = jax.nn.log_softmax(x, axis=1)
                return -jnp.take_along_axis(logp, t[:, None], axis=1).mean()
            f = jax.jit(jce)
            xa, ta = jnp.asarray(logits), jnp.asarray(target)
            return lambda: f(xa, ta).block_until_ready()
        lib = _library(column)
        x, t = lib.from_numpy(logits.copy()), lib.from_numpy(target.copy())
        f = _compile(column, lambda a, b: lib.nn.functional.cross_entropy(a, b), (x, t))
        return lambda: f(x, t)
    return build


# -------------------------------------------------------------------------------------- models

def _mlp(lib: Any) -> Any:
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 10))


def _cnn(lib: Any) -> Any:
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


class _Block:
    """A pre-norm transformer block (attention + MLP) written with the shared API, so the
    reshapes a GPT writes (`view(B, T, H, D)`, `transpose(1, 2).contiguous().view(B, T, C)`)
    are what is measured."""

    @staticmethod
    def make(lib: Any, width: int, heads: int) -> Any:
        nn = lib.nn
        F = nn.functional

        class Block(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
                self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
                self.fc, self.out = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

            def forward(self, x: Any) -> Any:
                b, t, c = x.shape
                q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
                q = q.view(b, t, heads, c // heads).transpose(1, 2)
                k = k.view(b, t, heads, c // heads).transpose(1, 2)
                v = v.view(b, t, heads, c // heads).transpose(1, 2)
                att = F.softmax((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // heads)), dim=-1)
                y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
                x = x + self.proj(y)
                return x + self.out(F.gelu(self.fc(self.ln2(x))))

        return Block()


def _net(lib: Any) -> Any:
    """The tutorials' Net (seed 004): flatten, Linear(784, 128), ReLU, Linear(128, 10)."""
    nn = lib.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def _model_case(kind: str, train: bool, quick: bool):
    def build(column: str) -> Callable | None:
        if column in ("numpy", "jax-jit"):
            return None
        lib = _library(column)
        lib.manual_seed(0)
        rng = np.random.default_rng(0)
        momentum = 0.0
        if kind == "mlp":
            model, shape, classes = _mlp(lib), (64 if quick else 256, 784), 10
        elif kind == "net":
            model, shape, classes, momentum = _net(lib), (64, 1, 28, 28), 10, 0.9
        elif kind.startswith("net-b"):  # inference at a batch size
            model, shape, classes = _net(lib), (int(kind[5:]), 1, 28, 28), 10
        elif kind.startswith("cnn-b"):
            model, shape, classes = _cnn(lib), (int(kind[5:]), 1, 28, 28), 10
        elif kind == "cnn":
            model, shape, classes = _cnn(lib), (16 if quick else 64, 1, 28, 28), 10
        elif kind == "transformer":
            width = 64 if quick else 256
            model = _Block.make(lib, width, 4)
            shape, classes = (2 if quick else 8, 32 if quick else 128, width), None
        else:  # gru
            model = lib.nn.GRU(32, 64)
            shape, classes = (8 if quick else 32, 16, 32), None
        x = lib.from_numpy(rng.standard_normal(shape).astype(np.float32))
        if column == "dg-C" and train:
            return None  # dg.aot compiles inference graphs
        if not train:
            forward = _compile(column, model, (x,))
            if column == "dg-C":  # C code: no autograd to switch off, the call alone is timed
                return lambda: forward(x)

            def infer():
                with lib.no_grad():
                    return forward(x)
            return infer
        opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=momentum)
        y = (lib.from_numpy(rng.integers(0, classes, size=shape[0])) if classes
             else lib.from_numpy(np.zeros(1, np.float32)))

        def step(x: Any, y: Any) -> Any:
            out = model(x)
            if isinstance(out, tuple):
                out = out[0]
            loss = (lib.nn.functional.cross_entropy(out, y) if classes is not None
                    else (out * out).mean())
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        whole = _compile(column, step, (x, y))  # dg: the whole step is one traced graph
        return lambda: whole(x, y)
    return build


def cases(quick: bool) -> dict:
    """Case name -> build(column) -> callable or None."""
    return {
        "elementwise chain, 4M": _pointwise(_chain_np, _chain_lib, _jax_chain, quick),
        "GELU (erf), 4M": _pointwise(
            lambda x, y: _erf_gelu_np(x),
            lambda lib, x, y: lib.nn.functional.gelu(x), _jax_gelu(False), quick),
        "GELU (tanh), 4M": _pointwise(
            _gelu_tanh_np,
            lambda lib, x, y: lib.nn.functional.gelu(x, approximate="tanh"), _jax_gelu(True),
            quick),
        "SiLU, 4M": _pointwise(_silu_np, lambda lib, x, y: lib.nn.functional.silu(x),
                               _jax_silu, quick),
        "softmax 4096x1024": _rowwise("softmax", quick),
        "log_softmax 4096x1024": _rowwise("log_softmax", quick),
        "layer norm 4096x1024": _rowwise("layer_norm", quick),
        "cross entropy 4096x1000": _cross_entropy(quick),
        "MLP inference 784-512-512-10, b256": _model_case("mlp", False, quick),
        "tutorials' Net inference, b1": _model_case("net-b1", False, quick),
        "tutorials' Net inference, b64": _model_case("net-b64", False, quick),
        "CNN inference 28x28, b1": _model_case("cnn-b1", False, quick),
        "CNN inference 28x28, b64": _model_case("cnn-b64", False, quick),
        "tutorials' Net step (SGD momentum), b64": _model_case("net", True, quick),
        "MLP training step, b256": _model_case("mlp", True, quick),
        "CNN training step 28x28, b64": _model_case("cnn", True, quick),
        "transformer block fwd, 8x128x256": _model_case("transformer", False, quick),
        "transformer block train, 8x128x256": _model_case("transformer", True, quick),
        "GRU over 32 steps, train": _model_case("gru", True, quick),
    }


def _erf_gelu_np(x):
    """GELU's exact (erf) form by hand. NumPy has no erf, so this uses Abramowitz and Stegun's
    7.1.26 approximation (absolute error below 1.5e-7), as a NumPy user would write it."""
    z = np.abs(x) * np.float32(1 / math.sqrt(2))
    t = 1 / (1 + np.float32(0.3275911) * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                       + t * 1.061405429))))
    erf = np.sign(x) * (1 - poly * np.exp(-z * z))
    return 0.5 * x * (1 + erf)

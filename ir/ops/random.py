"""Creation ops: tensors made from attributes (`full`, `eye`, `arange`, `linspace`, `logspace`),
random draws (`rand`, `randn`, `randint`, `randperm`), random ops over a tensor (`normal`,
`bernoulli`, `multinomial`) and the fillers behind the in-place `x.uniform_()`, `x.random_()`,
`x.exponential_()`, `x.fill_()` and `x.zero_()`.

Ops with no tensor inputs take their size from the `size` attribute, whose entries may be
symbols (`B`) inside graphs; their output lives on `attrs["device"]`. Random ops are marked
`random=True`: a graph keeps them as nodes that draw from the generator when the graph runs, and
no pass may fold them. A filler's input only lends its shape and dtype (the runtime writes the
result back for the `_` forms); its gradient is zero, as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import meta
from ..registry import OpDef, OpError, Sample, register
from ..types import FRESH, INT, DType, bool_, float64, get_default_dtype, int64, scalar_dtype

# PyTorch's names of dtypes in kernel messages ("not implemented for 'Long'") and of their C
# types in range messages ("from is out of bounds for unsigned char").
SCALAR_NAME = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char",
               "int16": "Short", "int32": "Int", "int64": "Long", "uint8": "Byte", "bool": "Bool"}
C_NAME = {"int8": "signed char", "int16": "short", "int32": "int", "int64": "long",
          "uint8": "unsigned char", "bool": "bool"}
SOURCE_ATTRS = {"dtype": None, "device": None}
RANDOM_ATTRS = {"dtype": None, "device": None, "generator": None}


def _num(x: Any) -> str:
    """A number as PyTorch prints it in messages: `2` for 2.0, `0.5` for 0.5."""
    return f"{x:g}" if isinstance(x, float) else str(x)


def check_size(op_name: str, size: Any) -> tuple:
    """A size attribute: a tuple of non-negative ints or symbols."""
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"{op_name}(): argument 'size' must be tuple of ints, not "
                        f"{type(size).__name__}")
    for d in size:
        if isinstance(d, str):
            continue
        if isinstance(d, bool) or not isinstance(d, int):
            raise TypeError(f"{op_name}(): argument 'size' must be tuple of ints, but found "
                            f"element of type {type(d).__name__}")
        if d < 0:
            raise OpError(f"{op_name}(): Trying to create tensor with negative dimension {d}: "
                          f"{list(size)}")
    return tuple(size)


def _size_shape(op_name: str):
    return lambda operands, attrs: check_size(op_name, attrs["size"])


def _floating(op_name: str, kernel: str):
    """Random floats: the dtype attribute (default dtype when None) must be a float."""
    def rule(operands, attrs):
        d = attrs["dtype"] or get_default_dtype()
        if not d.is_floating_point:
            raise NotImplementedError(f'{op_name}(): "{kernel}" not implemented for '
                                      f"'{SCALAR_NAME[d.name]}'")
        return d, d
    return rule


def _self_floating(op_name: str, kernel: str):
    """A filler that needs a floating point tensor to write (`uniform_`, `exponential_`)."""
    def rule(operands, attrs):
        d = operands[0].dtype
        if not d.is_floating_point:
            raise NotImplementedError(f'{op_name}(): "{kernel}" not implemented for '
                                      f"'{SCALAR_NAME[d.name]}'")
        return d, d
    return rule


def _zeros(ctx, g, i):
    """A zero gradient for input i (PyTorch gives zeros, not None, through random ops)."""
    return ctx.bind("zero", (g,), {}) if ctx.needs_input_grad[i] else None


def _rand_samples(rng):
    # Random values cannot equal a reference; empty sizes still check shape, dtype and modes.
    # tests/test_creation.py checks the draws themselves (range, moments, seeding).
    return [Sample((), {"size": (2, 0)}), Sample((), {"size": (0,), "dtype": float64})]


def _empty_ref(size, dtype=None, **_):
    return np.zeros(size, (dtype or get_default_dtype()).np)


# ------------------------------------------------------------------------ deterministic sources

def _full_dtype(operands, attrs):
    d = attrs["dtype"] or scalar_dtype(attrs["fill_value"] if attrs["fill_value"] is not None
                                       else 0.0)
    value = attrs["fill_value"]
    if d.category == INT and isinstance(value, int) and not isinstance(value, bool):
        info = np.iinfo(d.np)
        if not info.min <= value <= info.max:
            raise OpError(f"full(): value cannot be converted to type {d.np.name}_t without "
                          "overflow")
    return d, d


def _full_ref(size, fill_value, dtype=None, **_):
    d = dtype or scalar_dtype(fill_value)
    out = np.zeros(size, d.np)
    out[...] = fill_value
    return out


FULL = register(OpDef(
    name="full", inputs=(), attrs={"size": (), "fill_value": 0, **SOURCE_ATTRS},
    dtype_rule=_full_dtype, shape_rule=_size_shape("full"),
    samples=lambda rng: [Sample((), {"size": (2, 3), "fill_value": 1.5}),
                         Sample((), {"size": (4,), "fill_value": 7}),
                         Sample((), {"size": (), "fill_value": True}),
                         Sample((), {"size": (2, 2), "fill_value": 2.5, "dtype": int64})],
    ref=_full_ref, doc="A tensor of `size` filled with `fill_value` (uninitialized if None)."))


def _eye_shape(operands, attrs):
    n, m = attrs["n"], attrs["m"]
    for v, name in ((n, "n"), (m, "m")):
        if isinstance(v, int) and v < 0:
            raise OpError(f"eye(): {name} must be greater or equal to 0, got {v}")
    return (n, n if m is None else m)


def _eye_ref(n, m=None, dtype=None, **_):
    m = n if m is None else m
    out = np.zeros((n, m), (dtype or get_default_dtype()).np)
    for i in range(min(n, m)):
        out[i, i] = 1
    return out


EYE = register(OpDef(
    name="eye", inputs=(), attrs={"n": 1, "m": None, **SOURCE_ATTRS},
    dtype_rule=meta.default_float, shape_rule=_eye_shape,
    samples=lambda rng: [Sample((), {"n": 3}), Sample((), {"n": 2, "m": 4, "dtype": int64}),
                         Sample((), {"n": 3, "m": 1})],
    ref=_eye_ref, doc="Ones on the diagonal of an n x m matrix."))


def arange_length(start: Any, end: Any, step: Any, dtype: DType) -> int:
    """How many values `arange` makes, as PyTorch counts them: bounds truncated to integers for
    an integer dtype, then ceil((end - start) / step) in double precision."""
    if dtype is bool_:
        raise NotImplementedError("arange(): \"arange_cpu\" not implemented for 'Bool'")
    if not dtype.is_floating_point:
        start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise OpError("arange(): step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise OpError(f"arange(): unsupported range: {_num(start)} -> {_num(end)}")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise OpError("arange(): upper bound and lower bound inconsistent with step sign")
    return math.ceil((end - start) / step)


def _arange_shape(operands, attrs):
    start, end, step = attrs["start"], attrs["end"], attrs["step"]
    if any(isinstance(v, str) for v in (start, end, step)):
        return (end,) if start == 0 and step == 1 else (FRESH,)
    return (arange_length(start, end, step, attrs["dtype"] or int64),)


def _arange_ref(start, end, step, dtype=None, **_):
    d = dtype or int64
    if not d.is_floating_point:
        start, end, step = int(start), int(end), int(step)
    values = []
    while (step > 0 and start + len(values) * step < end) or \
            (step < 0 and start + len(values) * step > end):
        values.append(start + len(values) * step)
    return np.array(values, dtype=np.float64).astype(d.np)


ARANGE = register(OpDef(
    name="arange", inputs=(), attrs={"start": 0, "end": 0, "step": 1, **SOURCE_ATTRS},
    dtype_rule=lambda operands, attrs: (attrs["dtype"] or int64,) * 2, shape_rule=_arange_shape,
    samples=lambda rng: [Sample((), {"start": 0, "end": 5, "step": 1}),
                         Sample((), {"start": 1.0, "end": 2.5, "step": 0.5, "dtype": float64}),
                         Sample((), {"start": 5, "end": 0, "step": -2}),
                         Sample((), {"start": 1, "end": 10, "step": 1.5, "dtype": int64})],
    ref=_arange_ref, doc="Values from start to end (exclusive) by step."))


def _steps_dtype(op_name: str):
    def rule(operands, attrs):
        steps = attrs["steps"]
        if isinstance(steps, int) and steps < 0:
            raise OpError(f"{op_name}(): number of steps must be non-negative")
        return meta.default_float(operands, attrs)
    return rule


def _linspace_ref(start, end, steps, dtype=None, **_):
    return np.linspace(start, end, steps).astype((dtype or get_default_dtype()).np)


LINSPACE = register(OpDef(
    name="linspace", inputs=(), attrs={"start": 0.0, "end": 1.0, "steps": 100, **SOURCE_ATTRS},
    dtype_rule=_steps_dtype("linspace"), shape_rule=lambda operands, attrs: (attrs["steps"],),
    samples=lambda rng: [Sample((), {"start": 0, "end": 10, "steps": 5, "dtype": float64}),
                         Sample((), {"start": 0, "end": 10, "steps": 5, "dtype": int64}),
                         Sample((), {"start": 1.0, "end": -1.0, "steps": 7, "dtype": float64}),
                         Sample((), {"start": 2.0, "end": 3.0, "steps": 1, "dtype": float64}),
                         Sample((), {"start": 2.0, "end": 3.0, "steps": 0})],
    ref=_linspace_ref, doc="`steps` evenly spaced values from start to end, both included."))


def _logspace_ref(start, end, steps, base=10.0, dtype=None, **_):
    return (base ** np.linspace(start, end, steps)).astype((dtype or get_default_dtype()).np)


LOGSPACE = register(OpDef(
    name="logspace", inputs=(), attrs={"start": 0.0, "end": 1.0, "steps": 100, "base": 10.0,
                                       **SOURCE_ATTRS},
    dtype_rule=_steps_dtype("logspace"), shape_rule=lambda operands, attrs: (attrs["steps"],),
    samples=lambda rng: [Sample((), {"start": -2, "end": 2, "steps": 5, "dtype": float64}),
                         Sample((), {"start": 0.1, "end": 1.0, "steps": 3, "base": 2.0,
                                     "dtype": float64}),
                         Sample((), {"start": 0, "end": 3, "steps": 4, "dtype": int64})],
    ref=_logspace_ref, doc="`steps` values base ** e, e evenly spaced from start to end."))


# ------------------------------------------------------------------------------ random sources

RAND = register(OpDef(
    name="rand", inputs=(), attrs={"size": (), **RANDOM_ATTRS}, random=True,
    dtype_rule=_floating("rand", "check_uniform_bounds"), shape_rule=_size_shape("rand"),
    samples=_rand_samples, ref=_empty_ref, doc="Uniform samples from [0, 1)."))

RANDN = register(OpDef(
    name="randn", inputs=(), attrs={"size": (), **RANDOM_ATTRS}, random=True,
    dtype_rule=_floating("randn", "normal_kernel_cpu"), shape_rule=_size_shape("randn"),
    samples=_rand_samples, ref=_empty_ref, doc="Standard normal samples."))


def _randint_dtype(operands, attrs):
    low, high = attrs["low"], attrs["high"]
    if not isinstance(low, str) and not isinstance(high, str) and low >= high:
        raise OpError(f"randint(): random_ expects 'from' to be less than 'to', but got "
                      f"from={low} >= to={high}")
    d = attrs["dtype"] or int64
    return d, d


RANDINT = register(OpDef(
    name="randint", inputs=(), attrs={"low": 0, "high": 1, "size": (), **RANDOM_ATTRS},
    random=True, dtype_rule=_randint_dtype, shape_rule=_size_shape("randint"),
    samples=lambda rng: [Sample((), {"low": 3, "high": 4, "size": (2, 3)}),
                         Sample((), {"low": -2, "high": -1, "size": (3,), "dtype": float64})],
    ref=lambda low, high, size, dtype=None, **_: np.full(size, low, (dtype or int64).np),
    doc="Integers drawn uniformly from [low, high)."))


def _randperm_shape(operands, attrs):
    n = attrs["n"]
    if isinstance(n, int) and n < 0:
        raise OpError(f"randperm(): Trying to create tensor with negative dimension {n}: [{n}]")
    return (n,)


RANDPERM = register(OpDef(
    name="randperm", inputs=(), attrs={"n": 0, **RANDOM_ATTRS}, random=True,
    dtype_rule=lambda operands, attrs: (attrs["dtype"] or int64,) * 2,
    shape_rule=_randperm_shape,
    samples=lambda rng: [Sample((), {"n": 1}), Sample((), {"n": 0, "dtype": float64})],
    ref=lambda n, dtype=None, **_: np.arange(n).astype((dtype or int64).np),
    doc="A random permutation of 0 .. n-1."))


# --------------------------------------------------------------------- random ops over tensors

def _normal_dtype(operands, attrs):
    # Rules run by eager code too (shape rules only in graphs), so the std check lives here.
    std = operands[2]
    if not meta.is_tensor(std) and std < 0:
        raise OpError(f"normal(): normal expects std >= 0.0, but found std {_num(std)}")
    d = meta.result_type(meta.tensors(operands))  # a float mean does not make ints float
    if not d.is_floating_point:
        raise NotImplementedError(f"normal(): \"normal_kernel_cpu\" not implemented for "
                                  f"'{SCALAR_NAME[d.name]}'")
    return d, d


def _normal_shape(operands, attrs):
    # mean and std first, so a mismatch names their sizes (self is often mean itself)
    shapes = [tuple(t.shape) for t in meta.tensors(operands[1:])] + [tuple(operands[0].shape)]
    return meta.broadcast_shapes("normal", *shapes)


def _normal_vjp(ctx, g):
    # PyTorch's rule: the mean passes the gradient through, self and the std get zeros.
    return _zeros(ctx, g, 0), g, _zeros(ctx, g, 2)


def _normal_name(inputs, attrs):
    mean, std = (hasattr(x, "shape") for x in inputs[1:])
    return f"NormalBackward{(1 if mean else 0) + (2 if std else 0)}"


def _normal_samples(rng):
    x = rng.uniform(-1, 1, size=(2, 3))
    return [Sample((x, 1.5, 0.0)), Sample((x, x, 0.0)),
            Sample((x[0], -0.5, np.zeros((2, 1))), grad=False, note="tensor std"),
            Sample((x, x, np.zeros(3)), grad=False, note="both tensors")]


NORMAL = register(OpDef(
    name="normal", inputs=("self", "mean", "std"), attrs={"generator": None}, random=True,
    dtype_rule=_normal_dtype, shape_rule=_normal_shape, vjp=_normal_vjp, grad_name=_normal_name,
    samples=_normal_samples,
    ref=lambda x, mean, std, **_: np.broadcast_to(
        np.asarray(mean, dtype=np.result_type(x, mean, std)) + 0 * np.asarray(std),
        np.broadcast_shapes(np.shape(x), np.shape(mean), np.shape(std))),
    doc="Samples of N(mean, std) in the broadcast shape of self, mean and std; self only lends "
        "its shape and dtype (`x.normal_(m, s)`; `dg.normal(mean_t, std_t)` passes mean as self)."))


def _bernoulli_dtype(operands, attrs):
    x, p = operands
    if meta.is_tensor(p):
        if not p.dtype.is_floating_point:
            raise NotImplementedError(f"bernoulli(): \"bernoulli_tensor_cpu_p_\" not implemented "
                                      f"for '{SCALAR_NAME[p.dtype.name]}'")
    elif not 0 <= p <= 1:
        raise OpError(f"bernoulli(): bernoulli_ expects p to be in [0, 1], but got p={_num(p)}")
    return x.dtype, x.dtype


def _bernoulli_name(inputs, attrs):
    if inputs[1] is inputs[0]:
        return "BernoulliBackward0"
    return "BernoulliBackward1" if hasattr(inputs[1], "shape") else "BernoulliBackward2"


def _bernoulli_samples(rng):
    p = rng.integers(0, 2, size=(2, 3)).astype(np.float64)
    return [Sample((p, p), grad=False, note="p is self"), Sample((p, 1.0)),
            Sample((p, 0.0)), Sample((p, p[0]), grad=False, note="p tensor")]


BERNOULLI = register(OpDef(
    name="bernoulli", inputs=("self", "p"), attrs={"generator": None}, random=True,
    index_inputs=(1,),  # p keeps its float values even when self is an integer tensor
    dtype_rule=_bernoulli_dtype, shape_rule=meta.broadcast_rule("bernoulli"),
    vjp=lambda ctx, g: (_zeros(ctx, g, 0), _zeros(ctx, g, 1)), grad_name=_bernoulli_name,
    samples=_bernoulli_samples,
    ref=lambda x, p, **_: np.broadcast_to(np.asarray(p, dtype=np.float64), np.shape(x)
                                          ).astype(x.dtype),
    doc="1 with probability p, else 0, in self's shape and dtype (`torch.bernoulli(p)` passes "
        "the probabilities as both self and p)."))


def _multinomial_dtype(operands, attrs):
    x, n = operands[0], attrs["num_samples"]
    if len(x.shape) not in (1, 2):
        raise OpError("multinomial(): prob_dist must be 1 or 2 dim")
    if not x.dtype.is_floating_point:
        raise OpError(f"multinomial(): multinomial only supports floating-point dtypes for "
                      f"input, got: {SCALAR_NAME[x.dtype.name]}")
    if isinstance(n, int) and n <= 0:
        raise OpError("multinomial(): cannot sample n_sample <= 0 samples")
    if not attrs["replacement"] and isinstance(n, int) and isinstance(x.shape[-1], int) \
            and n > x.shape[-1]:
        raise OpError("multinomial(): cannot sample n_sample > prob_dist.size(-1) samples "
                      "without replacement")
    return int64, x.dtype


def _multinomial_ref(x, num_samples, replacement=False, **_):
    return np.repeat(np.argmax(x, axis=-1)[..., None], num_samples, axis=-1)


MULTINOMIAL = register(OpDef(
    name="multinomial", inputs=("input",),
    attrs={"num_samples": 1, "replacement": False, "generator": None}, random=True,
    dtype_rule=_multinomial_dtype,
    shape_rule=lambda operands, attrs: tuple(operands[0].shape[:-1]) + (attrs["num_samples"],),
    samples=lambda rng: [Sample((np.eye(3)[[2, 0]],), {"num_samples": 1}),
                         Sample((np.eye(4)[1],), {"num_samples": 3, "replacement": True})],
    ref=_multinomial_ref, doc="Indices drawn from the rows of input, taken as weights."))


# ---------------------------------------------------------------- fillers (the `x.op_()` forms)

def _uniform_dtype(operands, attrs):
    low, high = attrs["low"], attrs["high"]
    if low > high:
        raise OpError(f"uniform_(): uniform_ expects to return a [from, to) range, but found "
                      f"from={_num(low)} > to={_num(high)}")
    return _self_floating("uniform_", "check_uniform_bounds")(operands, attrs)


def _zero_grad(ctx, g):
    return (_zeros(ctx, g, 0),)


UNIFORM = register(OpDef(
    name="uniform", inputs=("self",), attrs={"low": 0.0, "high": 1.0, "generator": None},
    random=True, dtype_rule=_uniform_dtype, shape_rule=meta.first_shape, vjp=_zero_grad,
    samples=lambda rng: [Sample((rng.normal(size=(2, 3)),), {"low": 0.5, "high": 0.5})],
    ref=lambda x, low=0.0, high=1.0, **_: np.full_like(x, low),
    doc="Uniform samples from [low, high) in self's shape and dtype (`x.uniform_()`)."))


def random_bounds(d: DType, low: Any, high: Any) -> tuple:
    """[low, high] inclusive for `random_`: high=None means the dtype's largest value (for
    floats, the largest integer it holds exactly)."""
    if high is not None:
        if low >= high:
            raise OpError(f"random_(): random_ expects 'from' to be less than 'to', but got "
                          f"from={low} >= to={high}")
        top = high - 1
    elif d.is_floating_point:
        top = 2 ** (np.finfo(d.np).nmant + 1)
    else:
        top = int(np.iinfo(d.np).max) if d is not bool_ else 1
    if not d.is_floating_point:
        lo_ok, hi_ok = (0, 1) if d is bool_ else (np.iinfo(d.np).min, np.iinfo(d.np).max)
        if not lo_ok <= low <= hi_ok:
            raise OpError(f"random_(): from is out of bounds for {C_NAME[d.name]}")
        if not lo_ok <= top <= hi_ok:
            raise OpError(f"random_(): to - 1 is out of bounds for {C_NAME[d.name]}")
    return low, top


def _random_dtype(operands, attrs):
    d = operands[0].dtype
    random_bounds(d, attrs["low"], attrs["high"])
    return d, d


def _random_name(inputs, attrs):
    if attrs.get("high") is None:
        return "RandomBackward2"
    return "RandomBackward1" if attrs.get("low", 0) == 0 else "RandomBackward0"


RANDOM = register(OpDef(
    name="random", inputs=("self",), attrs={"low": 0, "high": None, "generator": None},
    random=True, dtype_rule=_random_dtype, shape_rule=meta.first_shape, vjp=_zero_grad,
    grad_name=_random_name,
    samples=lambda rng: [Sample((rng.integers(0, 9, size=(2, 3)),), {"low": 3, "high": 4},
                                grad=False, note="int"),
                         Sample((rng.normal(size=(3,)),), {"low": -2, "high": -1})],
    ref=lambda x, low=0, high=None, **_: np.full_like(x, low),
    doc="Integers drawn uniformly from [low, high) in self's shape and dtype (`x.random_()`)."))


def _exponential_dtype(operands, attrs):
    d = operands[0].dtype
    if not d.is_floating_point:
        raise OpError(f"exponential_(): Exponential distribution is a continuous probability "
                      f"distribution. dtype must be a floating point but you specified "
                      f"{SCALAR_NAME[d.name]}")
    if not attrs["lambd"] > 0:
        raise OpError(f"exponential_(): exponential_ expects lambda > 0.0, but found "
                      f"lambda={_num(attrs['lambd'])}")
    return d, d


EXPONENTIAL = register(OpDef(
    name="exponential", inputs=("self",), attrs={"lambd": 1.0, "generator": None}, random=True,
    dtype_rule=_exponential_dtype, shape_rule=meta.first_shape, vjp=_zero_grad,
    samples=lambda rng: [Sample((rng.normal(size=(2, 3)),), {"lambd": math.inf})],
    ref=lambda x, lambd=1.0, **_: np.zeros_like(x),
    doc="Exponential samples of rate lambd in self's shape and dtype (`x.exponential_()`)."))


def _fill_shape(operands, attrs):
    value = operands[1]
    if meta.is_tensor(value) and len(value.shape):
        raise OpError(f"fill_(): fill_ only supports 0-dimension value tensor but got tensor "
                      f"with {len(value.shape)} dimensions.")
    return tuple(operands[0].shape)


FILL = register(OpDef(
    name="fill", inputs=("self", "value"), dtype_rule=meta.keep_first, shape_rule=_fill_shape,
    vjp=lambda ctx, g: (_zeros(ctx, g, 0), g),
    grad_name=lambda inputs, attrs: "FillBackward3" if hasattr(inputs[1], "shape")
    else "FillBackward2",
    samples=lambda rng: [Sample((rng.normal(size=(2, 3)), 2.5)),
                         Sample((rng.normal(size=(3,)), np.array(1.25)), note="tensor value"),
                         Sample((rng.integers(0, 5, size=(2, 2)), 7.9), grad=False, note="int")],
    ref=lambda x, value: np.broadcast_to(np.asarray(value).astype(x.dtype), x.shape),
    doc="self's shape and dtype, every element `value` (`x.fill_(v)`)."))

ZERO = register(OpDef(
    name="zero", inputs=("self",), dtype_rule=meta.keep_first, shape_rule=meta.first_shape,
    vjp=_zero_grad, samples=lambda rng: [Sample((rng.normal(size=(2, 3)),))],
    ref=lambda x: x * 0, doc="Zeros in self's shape and dtype (`x.zero_()`)."))

"""Selection and logic: `where`, logical and bitwise ops, and the NaN/inf tests
(`isnan`, `isinf`, `isfinite`, `isposinf`, `isneginf`, `nan_to_num`). Shared dtype helpers come
from `math.py`."""

from __future__ import annotations

import math
import numpy as np

from .. import meta
from ..registry import ELEMENTWISE, OpDef, OpError, Sample, get, register
from ..types import BOOL, INT, bool_, result_type, uint8
from .math import _TYPE_NAME, _binary, _only, _test_dtype, _to_bool, _where


# ------------------------------------------------------------------------------------- where


def _where_dtype(operands, attrs):
    cond = operands[0]
    if not meta.is_tensor(cond) or cond.dtype not in (bool_, uint8):
        got = f"dtype {_TYPE_NAME[cond.dtype.name]}" if meta.is_tensor(cond) else \
            type(cond).__name__
        raise OpError(f"where(): expected condition to be a boolean tensor, but got a tensor "
                      f"with {got}")
    d = result_type(operands[1:])
    return d, d


def _where_ref(cond, x, y):
    c, xb, yb = np.broadcast_arrays(np.asarray(cond), np.asarray(x), np.asarray(y))
    out = np.array(yb, dtype=np.result_type(np.asarray(x), np.asarray(y)))
    out[c] = xb[c]
    return out


def _where_samples(rng):
    c = rng.uniform(size=(3, 4)) > 0.5
    u = lambda *s: rng.uniform(-2, 2, size=s)
    return [Sample((c, u(3, 4), u(3, 4))), Sample((c, u(4), u(3, 1)), note="broadcast"),
            Sample((c, u(3, 4), 0.0), note="python scalar"),
            Sample((c[:, :1], 1.5, u(4)), note="scalar first"),
            Sample((c, rng.integers(-5, 5, size=(3, 4)), 7), grad=False, note="int")]


WHERE = register(OpDef(
    name="where", inputs=("condition", "input", "other"), kind=ELEMENTWISE,
    dtype_rule=_where_dtype, shape_rule=meta.broadcast_rule("where"), index_inputs=(0,),
    vjp=lambda ctx, g: (None,
                        _where(ctx, ctx.inputs[0], g, 0.0) if ctx.needs_input_grad[1] else None,
                        _where(ctx, ctx.inputs[0], 0.0, g) if ctx.needs_input_grad[2] else None),
    save_inputs=(0,), samples=_where_samples, ref=_where_ref,
    template="({1} if {0} else {2})"))

# --------------------------------------------------------------------------- logical / bitwise


def _truthy_samples(rng):
    f = lambda *s: rng.choice([0.0, 1.5, -2.0, 0.25], size=s)
    i = lambda *s: rng.integers(-1, 2, size=s)
    return [Sample((f(3, 4), f(3, 4))), Sample((i(2, 3), f(3)), note="int and float"),
            Sample((i(4) != 0, i(4) != 0), note="bool"), Sample((f(4), 1), note="python scalar")]


for _name, _fn in (("logical_and", np.logical_and), ("logical_or", np.logical_or),
                   ("logical_xor", np.logical_xor)):
    _binary(_name, _to_bool, None, (lambda fn: lambda x, y: fn(np.asarray(x) != 0,
                                                                np.asarray(y) != 0))(_fn),
            _truthy_samples)

register(OpDef(
    name="logical_not", inputs=("input",), kind=ELEMENTWISE, dtype_rule=_to_bool,
    shape_rule=meta.first_shape, inplace_variant=True, template="(not {0})",
    samples=lambda rng: [Sample((rng.choice([0.0, 1.5, -2.0], size=(3, 4)),)),
                         Sample((rng.integers(-1, 2, size=(4,)),), note="int"),
                         Sample((np.array([True, False]),), note="bool")],
    ref=lambda x: np.asarray(x) == 0))


def _bitwise_samples(rng):
    i = lambda *s, dtype=np.int64: rng.integers(-20, 20, size=s).astype(dtype)
    return [Sample((i(3, 4), i(3, 4))), Sample((i(2, 3, dtype=np.int8), i(3)), note="int8, int64"),
            Sample((i(4) > 0, i(4) > 0), note="bool"), Sample((i(4), 6), note="python scalar"),
            Sample((i(4, dtype=np.uint8), i(4, dtype=np.int16)), note="uint8, int16")]


def _elementwise_ref(fn):
    """A reference computed one element at a time with Python's own operators."""
    def ref(*args):
        arrays = np.broadcast_arrays(*[np.asarray(a) for a in args])
        dtype = np.result_type(*args)
        out = np.empty(arrays[0].shape, dtype=dtype)
        for i in np.ndindex(out.shape):
            out[i] = np.asarray(fn(*(a[i].item() for a in arrays))).astype(dtype)
        return out
    return ref


for _name, _fn in (("bitwise_and", lambda a, b: a & b), ("bitwise_or", lambda a, b: a | b),
                   ("bitwise_xor", lambda a, b: a ^ b)):
    _binary(_name, _only(meta.promote, _name, f"{_name}_cpu", (BOOL, INT)), None,
            _elementwise_ref(_fn), _bitwise_samples)

register(OpDef(
    name="bitwise_not", inputs=("input",), kind=ELEMENTWISE,
    dtype_rule=_only(meta.keep_first, "bitwise_not", "bitwise_not_cpu", (BOOL, INT)),
    shape_rule=meta.first_shape, inplace_variant=True,
    samples=lambda rng: [Sample((rng.integers(-20, 20, size=(3, 4)),)),
                         Sample((rng.integers(0, 255, size=(4,)).astype(np.uint8),), note="uint8"),
                         Sample((np.array([True, False]),), note="bool")],
    ref=_elementwise_ref(lambda a: (not a) if isinstance(a, bool) else ~a)))

# --------------------------------------------------------------------------- NaN and inf tests


def _special_samples(rng):
    special = np.array([np.nan, np.inf, -np.inf, 1.0, -0.0, 2.5])
    return [Sample((special,)), Sample((special.reshape(2, 3),)),
            Sample((rng.integers(-5, 5, size=(4,)),), note="int"),
            Sample((np.array([True, False]),), note="bool")]


def _float_test(fn, default: bool):
    return lambda x: fn(x) if np.asarray(x).dtype.kind == "f" else \
        np.full(np.shape(x), default)


for _name, _fn, _default in (("isnan", lambda x: x != x, False),
                             ("isinf", lambda x: np.abs(x) == np.inf, False),
                             ("isfinite", lambda x: (x == x) & (np.abs(x) != np.inf), True),
                             ("isposinf", lambda x: x == np.inf, False),
                             ("isneginf", lambda x: x == -np.inf, False)):
    register(OpDef(name=_name, inputs=("input",), kind=ELEMENTWISE, dtype_rule=_test_dtype,
                   shape_rule=meta.first_shape, samples=_special_samples,
                   ref=_float_test(_fn, _default)))


def _nan_to_num_ref(x, nan=0.0, posinf=None, neginf=None):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        return x.copy()
    info = np.finfo(x.dtype)
    out = x.copy()
    for i in np.ndindex(x.shape):
        v = float(x[i])
        if v != v:
            out[i] = nan
        elif v == math.inf:
            out[i] = info.max if posinf is None else posinf
        elif v == -math.inf:
            out[i] = info.min if neginf is None else neginf
    return out


NAN_TO_NUM = register(OpDef(
    name="nan_to_num", inputs=("input",), attrs={"nan": 0.0, "posinf": None, "neginf": None},
    kind=ELEMENTWISE, dtype_rule=meta.keep_first, shape_rule=meta.first_shape,
    inplace_variant=True, vjp=lambda ctx, g: (g * ctx.inputs[0].isfinite(),), save_inputs=(0,),
    grad_name="NanToNumBackward0", ref=_nan_to_num_ref,
    samples=lambda rng: [
        Sample((rng.uniform(-2, 2, size=(3, 4)),)),
        Sample((np.array([np.nan, np.inf, -np.inf, 1.0]),), grad=False, note="special"),
        Sample((np.array([np.nan, np.inf, -np.inf, 1.0]),),
               {"nan": 0.5, "posinf": 9.0, "neginf": -9.0}, grad=False, note="replacements"),
        Sample((rng.integers(-5, 5, size=(4,)),), grad=False, note="int")]))


# ------------------------------------------------ scalar templates (fusion) of the ops above

for _name, _text in (("logical_and", "(({0} != 0) and ({1} != 0))"),
                     ("logical_or", "(({0} != 0) or ({1} != 0))"),
                     ("logical_xor", "(({0} != 0) != ({1} != 0))"),
                     ("bitwise_and", "({0} & {1})"), ("bitwise_or", "({0} | {1})"),
                     ("bitwise_xor", "({0} ^ {1})")):
    get(_name).template = _text
get("bitwise_not").template = lambda attrs, compute: "(not {0})" if compute is bool_ \
    else "(~{0})"


def _test_template(text: str, default: str):
    """A NaN/inf test of a float; integers and bools are never NaN or infinite."""
    return lambda attrs, compute: text if compute is not None and compute.is_floating_point \
        else default


for _name, _text, _default in (("isnan", "isnan({0})", "False"), ("isinf", "isinf({0})", "False"),
                               ("isfinite", "isfinite({0})", "True"),
                               ("isposinf", "({0} == np.inf)", "False"),
                               ("isneginf", "({0} == -np.inf)", "False")):
    get(_name).template = _test_template(_text, _default)


def _nan_to_num_template(attrs, compute):
    if compute is None or not compute.is_floating_point:
        return None  # the kernel copies integers
    info = np.finfo(compute.np)
    pos = float(info.max) if attrs["posinf"] is None else "{posinf}"
    neg = float(info.min) if attrs["neginf"] is None else "{neginf}"
    return (f"({{nan}} if isnan({{0}}) else ({pos} if {{0}} == np.inf else "
            f"({neg} if {{0}} == -np.inf else {{0}})))")


NAN_TO_NUM.template = _nan_to_num_template

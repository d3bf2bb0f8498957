"""THE export table: one entry per registry op, `EXPORT[op name] = entry(emitter, node) -> the
ONNX names of the node's outputs`. An op missing here is refused by name at export
(`REFUSED` says why for the ops that cannot be expressed in ONNX); tests/test_onnx_table.py lists
the registry ops without an entry, so a new op is noticed. docs/ONNX.md is generated from it.
"""

from __future__ import annotations

import math

from . import export_control as ctl
from . import export_nn as nn
from . import export_shapes as sh
from .lowering import (atan2, bitwise, c, clamp, clamp_like_logit, compare, composite, div,
                       elementwise, gelu, minmax, rounding, select,
                       is_special, isfinite, logical, nan_to_num, negative, reduction,
                       remainder, scaled, softplus, trunc, where)

E = elementwise  # one ONNX op over the inputs at the op's compute dtype
F = composite  # a composition at the compute dtype


def _k(em, v, d):
    return c(em, v, d)


EXPORT = {
    # ----------------------------------------------------------------- arithmetic
    "add": F(lambda em, a, b, compute, alpha: em.emit("Add", [a, scaled(em, b, alpha, compute)])),
    "sub": F(lambda em, a, b, compute, alpha: em.emit("Sub", [a, scaled(em, b, alpha, compute)])),
    "mul": E("Mul"),
    "div": F(div),
    "pow": E("Pow"),
    "neg": E("Neg"),
    "reciprocal": E("Reciprocal"),
    "square": F(lambda em, x, compute: em.emit("Mul", [x, x])),
    "fmod": E("Mod", fmod=1),
    "remainder": F(remainder),
    "maximum": F(minmax("Max", "Or")),
    "minimum": F(minmax("Min", "And")),
    "fmax": F(minmax("Max", "Or", nan_loses=True)),
    "fmin": F(minmax("Min", "And", nan_loses=True)),
    "clamp": F(clamp),
    "clamp_tensor": F(lambda em, x, lo, hi, compute: em.emit("Min", [em.emit("Max", [x, lo]),
                                                                    hi])),
    "clamp_min": E("Max"),
    "clamp_max": E("Min"),
    "lerp": F(lambda em, a, b, w, compute: em.emit("Add", [a, em.emit(
        "Mul", [w, em.emit("Sub", [b, a])])])),
    "addcmul": F(lambda em, a, t1, t2, compute, value: em.emit("Add", [a, scaled(
        em, em.emit("Mul", [t1, t2]), value, compute)])),
    "addcdiv": F(lambda em, a, t1, t2, compute, value: em.emit("Add", [a, scaled(
        em, em.emit("Div", [t1, t2]), value, compute)])),
    "abs": E("Abs"),
    "sign": E("Sign"),
    "ceil": F(rounding("Ceil")),
    "floor": F(rounding("Floor")),
    "trunc": F(rounding("Trunc")),
    "frac": F(lambda em, x, compute: em.emit("Sub", [x, trunc(em, x, compute)])),
    "round": F(rounding("Round")),
    "atan2": F(atan2),
    "hypot": F(lambda em, a, b, compute: em.emit("Sqrt", [em.emit("Add", [
        em.emit("Mul", [a, a]), em.emit("Mul", [b, b])])])),
    "copysign": F(lambda em, a, b, compute: where(em, negative(em, b, compute), em.emit(
        "Neg", [em.emit("Abs", [a])]), em.emit("Abs", [a]))),
    "ldexp": F(lambda em, a, b, compute: em.emit("Mul", [a, em.emit("Pow", [
        _k(em, 2.0, compute), b])])),
    # ------------------------------------------------------------------- unary math
    "exp": E("Exp"),
    "log": E("Log"),
    "sqrt": E("Sqrt"),
    "rsqrt": F(lambda em, x, compute: em.emit("Reciprocal", [em.emit("Sqrt", [x])])),
    "log1p": F(lambda em, x, compute: em.emit("Log", [em.emit("Add", [x, _k(em, 1, compute)])])),
    "expm1": F(lambda em, x, compute: em.emit("Sub", [em.emit("Exp", [x]), _k(em, 1, compute)])),
    "log2": F(lambda em, x, compute: em.emit("Div", [em.emit("Log", [x]),
                                                     _k(em, math.log(2), compute)])),
    "log10": F(lambda em, x, compute: em.emit("Div", [em.emit("Log", [x]),
                                                      _k(em, math.log(10), compute)])),
    "exp2": F(lambda em, x, compute: em.emit("Pow", [_k(em, 2.0, compute), x])),
    "sin": E("Sin"), "cos": E("Cos"), "tan": E("Tan"),
    "asin": E("Asin"), "acos": E("Acos"), "atan": E("Atan"),
    "sinh": E("Sinh"), "cosh": E("Cosh"), "tanh": E("Tanh"),
    "asinh": E("Asinh"), "acosh": E("Acosh"), "atanh": E("Atanh"),
    "erf": E("Erf"),
    "erfc": F(lambda em, x, compute: em.emit("Sub", [_k(em, 1, compute), em.emit("Erf", [x])])),
    "deg2rad": F(lambda em, x, compute: scaled(em, x, math.pi / 180, compute)),
    "rad2deg": F(lambda em, x, compute: scaled(em, x, 180 / math.pi, compute)),
    "sinc": F(lambda em, x, compute: where(
        em, em.emit("Equal", [x, _k(em, 0, compute)]), _k(em, 1, compute),
        em.emit("Div", [em.emit("Sin", [scaled(em, x, math.pi, compute)]),
                        scaled(em, x, math.pi, compute)]))),
    "logit": F(lambda em, x, compute, eps: (lambda y: em.emit("Log", [em.emit("Div", [
        y, em.emit("Sub", [_k(em, 1, compute), y])])]))(
        x if eps is None else clamp_like_logit(em, x, eps, 1 - eps, compute))),
    "xlogy": F(lambda em, x, y, compute: where(
        em, em.emit("IsNaN", [y]), y, where(em, em.emit("Equal", [x, _k(em, 0, compute)]),
                                            _k(em, 0, compute),
                                            em.emit("Mul", [x, em.emit("Log", [y])])))),
    "nan_to_num": F(nan_to_num),
    # ------------------------------------------------------------------ activations
    "relu": F(lambda em, x, compute: em.emit("Relu", [x]) if compute.is_floating_point
              else em.emit("Max", [x, _k(em, 0, compute)])),
    "sigmoid": E("Sigmoid"),
    "gelu": F(gelu),
    "silu": F(lambda em, x, compute: em.emit("Mul", [x, em.emit("Sigmoid", [x])])),
    "softplus": F(softplus),
    "leaky_relu": F(lambda em, x, compute, negative_slope: em.emit(
        "LeakyRelu", [x], alpha=float(negative_slope))),
    "elu": F(lambda em, x, compute, alpha: em.emit("Elu", [x], alpha=float(alpha))),
    "log_sigmoid": F(lambda em, x, compute: em.emit("Neg", [em.emit("Softplus", [
        em.emit("Neg", [x])])])),
    "softmax": nn.softmax("Softmax"),
    "log_softmax": nn.softmax("LogSoftmax"),
    "layer_norm": nn.layer_norm,
    "rms_norm": nn.rms_norm,
    # -------------------------------------------------------------- comparison, logic
    "eq": compare("Equal"), "ne": compare("Equal", negate=True),
    "lt": compare("Less"), "le": compare("LessOrEqual"), "gt": compare("Greater"),
    "ge": compare("GreaterOrEqual"),
    "where": select,
    "logical_and": logical("And"), "logical_or": logical("Or"), "logical_xor": logical("Xor"),
    "logical_not": logical("Not"),
    "bitwise_and": bitwise("BitwiseAnd", "And"), "bitwise_or": bitwise("BitwiseOr", "Or"),
    "bitwise_xor": bitwise("BitwiseXor", "Xor"), "bitwise_not": bitwise("BitwiseNot", "Not"),
    "isnan": is_special("IsNaN"),
    "isinf": is_special("IsInf"),
    "isposinf": is_special("IsInf", detect_negative=0),
    "isneginf": is_special("IsInf", detect_positive=0),
    "isfinite": isfinite,
    # ------------------------------------------------------------------- reductions
    "sum": reduction("ReduceSum"),
    "mean": reduction("ReduceMean"),
    "prod": reduction("ReduceProd"),
    "amax": reduction("ReduceMax"),
    "amin": reduction("ReduceMin"),
    "max_all": reduction("ReduceMax", lambda a: None),
    "min_all": reduction("ReduceMin", lambda a: None),
    "max": nn.with_index("ReduceMax", "ArgMax"),
    "min": nn.with_index("ReduceMin", "ArgMin"),
    "argmax": nn.arg_reduce("ArgMax"),
    "argmin": nn.arg_reduce("ArgMin"),
    "all": nn.logical_reduce(True),
    "any": nn.logical_reduce(False),
    "var": nn.var, "std": nn.var,
    "var_mean": nn.var_mean, "std_mean": nn.var_mean,
    "logsumexp": nn.logsumexp,
    "cumsum": nn.cumsum,
    "linalg_vector_norm": nn.vector_norm,
    "dist": nn.dist,
    "mse_loss": nn.mse_loss,
    "nll_loss": nn.nll_loss,
    "binary_cross_entropy_with_logits": nn.bce_with_logits,
    "embedding": nn.embedding,
    # ----------------------------------------------------------------- linear algebra
    "matmul": E("MatMul"),
    "addmm": nn.addmm,
    "einsum": nn.einsum,
    "vdot": nn.vdot,
    "trace": nn.trace,
    "triu": nn.trilu(True),
    "tril": nn.trilu(False),
    "linalg_det": E("Det"),
    "linalg_cross": nn.cross,
    # -------------------------------------------------------------- sorting, selection
    "sort": nn.sort, "topk": nn.topk, "kthvalue": nn.kthvalue,
    "median": nn.median, "median_all": nn.median_all,
    # ------------------------------------------------------------------------ layers
    "conv2d": nn.conv2d,
    "max_pool2d_with_indices": nn.max_pool2d,
    # ------------------------------------------------------------------ shapes, views
    "view": sh.reshape, "reshape": sh.reshape, "squeeze": sh.reshape, "unsqueeze": sh.reshape,
    "unsafe_view": sh.reshape,
    "transpose": sh.transpose, "permute": sh.transpose, "t": sh.transpose,
    "expand": sh.expand,
    "getitem": sh.getitem,
    "sum_to_size": sh.sum_to_size,
    "cat": sh.cat, "stack": sh.stack,
    "split": sh.split, "unbind": sh.split,
    "flip": sh.flip, "roll": sh.roll, "repeat": sh.repeat,
    "clone": sh.identity, "contiguous": sh.identity, "detach": sh.identity,
    "to_device": sh.identity,
    "to_dtype": sh.cast,
    "copy": sh.copy, "fill": sh.fill, "zero": sh.zero,
    # ------------------------------------------------------------------------ indexing
    "index_select": sh.index_select,
    "gather": sh.gather_like("GatherElements"),
    "scatter": sh.scatter(None),
    "scatter_add": sh.scatter("add"),
    "take": sh.take,
    "index": sh.index,
    "masked_fill": sh.masked_fill,
    "masked_select": sh.masked_select,
    "nonzero": sh.nonzero,
    # ------------------------------------------------------------------------ creation
    "constant": sh.constant,
    "full": sh.full,
    "arange": sh.folded, "eye": sh.folded, "linspace": sh.folded, "logspace": sh.folded,
    "scalar_tensor": sh.scalar_tensor,
    "sym_size": sh.sym_size,
    # ---------------------------------------------------------------------- random draws
    "rand": nn.random_fresh("RandomUniform"),
    "randn": nn.random_fresh("RandomNormal"),
    "randint": nn.randint,
    "uniform": nn.uniform,
    "normal": nn.normal,
    "bernoulli": nn.bernoulli,
    "exponential": nn.exponential,
    "multinomial": nn.multinomial,
    # ---------------------------------------------------------------------- control flow
    "if": ctl.if_,
    "loop": ctl.loop,
    "fused": ctl.fused,
}

# Ops with no entry, and why (what export says when a graph holds one).
REFUSED = {
    "python_function": "calls Python code of this process (a custom autograd.Function)",
    "python_function_backward": "calls Python code of this process",
    "assert": "ONNX has no op that stops a model with an error",
    "list_new": "ONNX sequences are not exported", "list_append": "ONNX sequences are not "
    "exported", "list_get": "ONNX sequences are not exported",
    "check_target": "a loss's argument check has no ONNX op",
    "check_probability": "a loss's argument check has no ONNX op",
    "binary_cross_entropy": "its check of the probabilities has no ONNX op",
    "randperm": "ONNX has no random permutation",
    "random": "ONNX has no op drawing integers of a dtype's full range",
    "cumprod": "ONNX has no cumulative product",
    "gcd": "ONNX has no gcd", "lcm": "ONNX has no lcm",
    "linalg_inv": "ONNX has no matrix inverse", "linalg_solve": "ONNX has no linear solve",
    "linalg_slogdet": "ONNX has no slogdet", "linalg_svd": "ONNX has no SVD",
    "diagonal": "not mapped yet",
    "diagonal_backward": "a backward op", "diag_embed": "not mapped yet",
    "getitem_backward": "a backward op", "gelu_backward": "a backward op",
    "nll_loss_backward": "a backward op", "embedding_backward": "a backward op",
    "conv2d_input_grad": "a backward op", "conv2d_weight_grad": "a backward op",
    "mode": "not mapped yet",
    "unique": "not mapped yet", "index_put": "not mapped yet", "setitem": "not mapped yet",
    "index_add": "not mapped yet", "index_copy": "not mapped yet",
    "index_fill": "not mapped yet", "put": "not mapped yet", "masked_scatter": "not mapped yet",
}


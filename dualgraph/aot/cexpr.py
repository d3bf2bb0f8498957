"""C expressions: the ops' scalar templates, symbolic sizes and literals, written as C.

An op's scalar template (`OpDef.template`, e.g. `"max({0}, 0)"`) is a Python expression over one
element of each operand; the Numba kernels compile it as Python. Here the same text is parsed
(Python's `ast`, never `eval`) and written as C through a whitelist: arithmetic with Python's
meanings kept (`//` and `%` floor, `**` pow, `max` keeps its first operand on ties), conditional
expressions, comparisons, and the functions of runtime/scalar_math.py mapped onto C's <math.h>
(the float variant, `expf`, where the compute dtype is float32) or onto helpers of
dg_runtime.h. A name outside the whitelist is refused, so no text from a file reaches the C
source except as a number or a checked identifier.
"""

from __future__ import annotations

import ast
import math
import re
from fractions import Fraction
from typing import Any

from ..ir.symbolic import SymExpr
from ..ir.types import DType

C_TYPES = {"float32": "float", "float64": "double", "int64": "int64_t", "int32": "int32_t",
           "int16": "int16_t", "int8": "int8_t", "uint8": "uint8_t", "bool": "uint8_t"}

# <math.h> functions that take and return a floating value: float variant with an `f` suffix
_LIBM = {"exp", "log", "sqrt", "tanh", "erf", "erfc", "sin", "cos", "tan", "asin", "acos",
         "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "log1p", "expm1", "log2", "log10",
         "exp2", "floor", "ceil", "trunc", "fmod", "atan2", "hypot", "copysign", "fmax", "fmin"}
_LIBM_ALIASES = {"round": "rint", "abs": "fabs", "pow": "pow"}
# helpers of dg_runtime.h: name -> C name stem (suffixed _f32, _f64 or _i64 by operand type)
_HELPERS = {"maximum": "dg_maximum", "minimum": "dg_minimum", "max": "dg_pymax",
            "min": "dg_pymin", "sign": "dg_sign", "rsqrt": "dg_rsqrt", "square": "dg_square",
            "frac": "dg_frac", "gcd": "dg_gcd", "isnan": "dg_isnan", "isinf": "dg_isinf",
            "isfinite": "dg_isfinite"}
_INT_ONLY = {"gcd"}
_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if "
    "inline int long register restrict return short signed sizeof static struct switch typedef "
    "union unsigned void volatile while _Bool _Complex _Imaginary _Alignas _Alignof _Atomic "
    "_Generic _Noreturn _Static_assert _Thread_local NULL main".split())
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}\Z")
# names the generated code uses for its own locals (a size symbol may not take one)
_INTERNAL = re.compile(r"[a-z][0-9]*|ws|in|out|rc|off|acc|best|where|need|check|total|scratch|"
                       r"grown|data|word|head|dg.*")


class Unlowerable(Exception):
    """A node that has no C lowering here; the message says why (compile() names the node)."""


def c_type(dtype: DType) -> str:
    try:
        return C_TYPES[dtype.name]
    except KeyError:
        raise Unlowerable(f"C has no {dtype.name} type here") from None


def suffix(dtype: DType) -> str:
    """The helper suffix for values of `dtype`: _f32, _f64, or _i64 for every integer."""
    if dtype.name == "float32":
        return "_f32"
    if dtype.name == "float64":
        return "_f64"
    return "_i64"


def identifier(name: str, what: str) -> str:
    """`name` when it is a safe C identifier: letters and digits only, not a keyword and not
    one of the generated code's own names; otherwise a ValueError naming `what`."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name) or name in _C_KEYWORDS \
            or _INTERNAL.fullmatch(name):
        raise ValueError(f"{what} {name!r:.80} cannot be a C identifier: expected letters and "
                         f"digits, starting with a letter, not a C keyword and not one of the "
                         f"generated code's names (t0, i0, ws, dg_...)")
    return name


def literal(value: Any, dtype: DType | None) -> str:
    """A Python number as a C literal of `dtype` (a float32 `1.5f`, an int64 `3LL`)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) or (dtype is not None and dtype.is_floating_point):
        v = float(value)
        if math.isnan(v):
            text = "NAN"
        elif math.isinf(v):
            text = "INFINITY" if v > 0 else "(-INFINITY)"
        else:
            text = repr(v)
            if "e" not in text and "." not in text:
                text += ".0"
        if dtype is not None and dtype.name == "float32" and math.isfinite(v):
            return f"{text}f" if v >= 0 else f"({text}f)"
        if dtype is not None and not dtype.is_floating_point:
            return f"(({c_type(dtype)}){text})"
        return text if v >= 0 or not math.isfinite(v) else f"({text})"
    if isinstance(value, int):
        if not -(1 << 63) <= value < (1 << 63):
            raise Unlowerable(f"integer {value} does not fit in int64")
        if value == -(1 << 63):
            return "INT64_MIN"
        return f"{value}LL" if value >= 0 else f"({value}LL)"
    raise Unlowerable(f"value {value!r:.40} has no C literal")


def size_expr(d: Any) -> str:
    """A dimension or other integer polynomial of the symbols (`48*B + 1`) as C over the int64
    size arguments; exact division by the common denominator where coefficients are fractions."""
    if isinstance(d, bool) or not isinstance(d, (int, str)):
        raise Unlowerable(f"size {d!r:.40} is not an integer or a symbolic size")
    if isinstance(d, int):
        return literal(d, None)
    expr = SymExpr(d)
    if not isinstance(expr, str):
        return literal(int(expr), None)
    poly = expr.poly
    den = 1
    for c in poly.values():
        den = den * Fraction(c).denominator // math.gcd(den, Fraction(c).denominator)
    terms = []
    for mono, c in sorted(poly.items(), key=lambda kv: (-len(kv[0]), kv[0])):
        c = Fraction(c) * den
        factors = [identifier(s, "size symbol") for s in mono]
        if c != 1 or not factors:
            factors.insert(0, literal(int(c), None))
        terms.append("*".join(factors))
    text = " + ".join(terms) if terms else "0LL"
    return f"(({text}) / {den}LL)" if den != 1 else f"({text})"


class _Writer:
    """Writes one template's AST as C; operands are already C expressions of the compute type."""

    def __init__(self, compute: DType | None, operands: dict) -> None:
        self.compute = compute
        self.operands = operands  # placeholder name -> C expression
        self.floating = compute is not None and compute.is_floating_point
        self.ctype = c_type(compute) if compute is not None else "double"

    def write(self, node: ast.AST) -> str:
        method = getattr(self, "w_" + type(node).__name__, None)
        if method is None:
            raise Unlowerable(f"template syntax {type(node).__name__} has no C form")
        return method(node)

    def w_Expression(self, node: ast.Expression) -> str:
        return self.write(node.body)

    def w_Name(self, node: ast.Name) -> str:
        if node.id in self.operands:
            return self.operands[node.id]
        if node.id in ("True", "False"):
            return "1" if node.id == "True" else "0"
        raise Unlowerable(f"the template names {node.id!r}, which C kernels do not have")

    def w_Constant(self, node: ast.Constant) -> str:
        if isinstance(node.value, (bool, int, float)):
            if self.compute is not None and self.compute.name != "bool" \
                    and not isinstance(node.value, bool):
                return literal(node.value, self.compute)
            return literal(node.value, None)
        raise Unlowerable(f"template constant {node.value!r:.40} has no C form")

    def w_Attribute(self, node: ast.Attribute) -> str:
        if isinstance(node.value, ast.Name) and node.value.id == "np" \
                and node.attr in ("inf", "nan"):
            return "INFINITY" if node.attr == "inf" else "NAN"
        raise Unlowerable("the template reads an attribute C kernels do not have")

    def w_UnaryOp(self, node: ast.UnaryOp) -> str:
        inner = self.write(node.operand)
        if isinstance(node.op, ast.USub):
            return f"(-{inner})"
        if isinstance(node.op, ast.UAdd):
            return inner
        if isinstance(node.op, ast.Not):
            return f"(!{inner})"
        if isinstance(node.op, ast.Invert):
            return f"(~{inner})"
        raise Unlowerable("unknown unary operator")

    def w_BinOp(self, node: ast.BinOp) -> str:
        a, b = self.write(node.left), self.write(node.right)
        op = node.op
        simple = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.BitAnd: "&", ast.BitOr: "|",
                  ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}
        for kind, sign in simple.items():
            if isinstance(op, kind):
                return f"({a} {sign} {b})"
        kind = suffix(self.compute) if self.compute is not None else "_f64"
        if isinstance(op, ast.Div):
            return f"({a} / {b})" if self.floating else f"((double){a} / (double){b})"
        if isinstance(op, ast.FloorDiv):
            return f"dg_floordiv{kind}({a}, {b})"
        if isinstance(op, ast.Mod):
            return f"dg_mod{kind}({a}, {b})"
        if isinstance(op, ast.Pow):
            if self.floating:
                return f"pow{'f' if kind == '_f32' else ''}({a}, {b})"
            return f"dg_ipow({a}, {b})"
        raise Unlowerable("unknown binary operator")

    def w_BoolOp(self, node: ast.BoolOp) -> str:
        sign = " && " if isinstance(node.op, ast.And) else " || "
        return "(" + sign.join(self.write(v) for v in node.values) + ")"

    def w_Compare(self, node: ast.Compare) -> str:
        signs = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
                 ast.NotEq: "!="}
        parts, left = [], self.write(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.write(right_node)
            sign = next((s for k, s in signs.items() if isinstance(op, k)), None)
            if sign is None:
                raise Unlowerable("comparison operator has no C form")
            parts.append(f"({left} {sign} {right})")
            left = right
        return "(" + " && ".join(parts) + ")"

    def w_IfExp(self, node: ast.IfExp) -> str:
        return (f"({self.write(node.test)} ? {self.write(node.body)} : "
                f"{self.write(node.orelse)})")

    def w_Call(self, node: ast.Call) -> str:
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise Unlowerable("the template calls something other than a plain function")
        name = node.func.id
        args = [self.write(a) for a in node.args]
        kind = suffix(self.compute) if self.compute is not None else "_f64"
        if name in _HELPERS:
            if name in _INT_ONLY and self.floating:
                raise Unlowerable(f"{name} on floating values has no C helper")
            return f"{_HELPERS[name]}{kind}({', '.join(args)})"
        if name == "abs" and not self.floating:
            return f"dg_abs_i64({args[0]})"
        if name == "pow" and not self.floating:
            return f"dg_ipow({', '.join(args)})"
        c_name = _LIBM_ALIASES.get(name, name if name in _LIBM else None)
        if c_name is None:
            raise Unlowerable(f"the template calls {name!r}, which C kernels do not have")
        if not self.floating:  # libm on integer operands: in double, as NumPy's ufuncs do
            args = [f"(double)({a})" for a in args]
            return f"{c_name}({', '.join(args)})"
        return f"{c_name}{'f' if kind == '_f32' else ''}({', '.join(args)})"


def template_c(text: str, operands: list, attrs: dict, compute: DType | None) -> str:
    """The C expression of a scalar template: `operands` are C expressions already of the
    compute type, attributes are written in as literals of it."""
    names = {f"dg_op{i}": c for i, c in enumerate(operands)}
    fields = {}
    for k, v in attrs.items():
        if isinstance(v, (bool, int, float)) or v is None:
            fields[k] = repr(v)
        elif isinstance(v, str):
            fields[k] = repr(v)
        else:
            fields[k] = "dg_unusable"
    try:
        formatted = text.format(*names, **fields)
    except (IndexError, KeyError) as exc:
        raise Unlowerable(f"template {text!r} does not format: {exc}") from None
    tree = ast.parse(formatted, mode="eval")
    return _Writer(compute, names).write(tree)

"""Symbolic sizes: exact integer polynomials over symbol names (`B`, `B*T`, `48*B`, `B + 1`).

A dimension in the IR is an int, or a symbolic size. A symbolic size is a `SymExpr`: a `str`
whose text is the expression's canonical printed form, with the polynomial behind it. Being a
`str` keeps every older reading of "a symbolic dim is a string" right (a plain symbol `"B"` and
`SymExpr("B")` are equal and hash alike), and the text and file forms carry it as its text.
Canonical means: terms ordered by degree (highest first) then by name, symbols in a term sorted,
a coefficient of 1 left out, so equal polynomials print — and compare — equal.

Arithmetic (`+ - *`, exact `//`) works on SymExprs and ints and gives an int when the result
is a constant. Shape rules call `dim(d)` first, which turns any str dim into a SymExpr (parsing
it) and leaves ints alone. Parsing reads a whitelist over Python's `ast` (names, integers,
`+ - * // **`, parentheses), never `eval`, with bounds on length, degree and term count.
"""

from __future__ import annotations

import ast
import re
from fractions import Fraction
from functools import lru_cache
from typing import Any, Iterable, Mapping

SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CHARS = re.compile(r"[A-Za-z0-9_ +\-*/()]*\Z")
MAX_TEXT = 512  # characters of an expression's text
MAX_DEGREE = 8  # of any term
MAX_TERMS = 64  # of a polynomial

Poly = dict  # {monomial: coefficient}; a monomial is a sorted tuple of symbol names


class SymbolicError(ValueError):
    """An expression is malformed, too large, or a division is not exact."""


class SymExpr(str):
    """A symbolic size: an integer polynomial of symbols, printed canonically (its str value)."""

    __slots__ = ()

    def __new__(cls, text: str) -> Any:
        """Parse `text`; a constant expression gives its int (as `dim` does)."""
        return _from_poly(_parse(str(text)), cls)

    # ---------------------------------------------------------------- the polynomial
    @property
    def poly(self) -> Poly:
        return _parse(str(self))

    @property
    def symbols(self) -> tuple:
        """The symbol names it uses, sorted."""
        return tuple(sorted({s for m in self.poly for s in m}))

    @property
    def is_symbol(self) -> bool:
        """A single symbol (`B`), as opposed to a compound expression (`B*T`, `B + 1`)."""
        return bool(SYMBOL.match(self))

    def evaluate(self, sizes: Mapping[str, int]) -> int:
        """Its value when the symbols take `sizes`; a KeyError names a missing symbol."""
        return evaluate(self, sizes)

    # ---------------------------------------------------------------- arithmetic
    def __add__(self, other: Any) -> Any:
        return add(self, other) if _dimlike(other) else NotImplemented

    def __radd__(self, other: Any) -> Any:
        return add(other, self) if _dimlike(other) else NotImplemented

    def __sub__(self, other: Any) -> Any:
        return sub(self, other) if _dimlike(other) else NotImplemented

    def __rsub__(self, other: Any) -> Any:
        return sub(other, self) if _dimlike(other) else NotImplemented

    def __mul__(self, other: Any) -> Any:
        return mul(self, other) if _dimlike(other) else NotImplemented

    def __rmul__(self, other: Any) -> Any:
        return mul(other, self) if _dimlike(other) else NotImplemented

    def __neg__(self) -> Any:
        return mul(self, -1)

    def __floordiv__(self, other: Any) -> Any:
        if not _dimlike(other):
            return NotImplemented
        q = exact_div(self, other)
        if q is None:
            raise SymbolicError(f"{self} is not known to be divisible by {other}")
        return q

    def __rfloordiv__(self, other: Any) -> Any:
        if not _dimlike(other):
            return NotImplemented
        q = exact_div(other, self)
        if q is None:
            raise SymbolicError(f"{other} is not known to be divisible by {self}")
        return q

    __mod__ = __rmod__ = None  # a str would format; sizes have no remainder here

    def __repr__(self) -> str:
        return str.__repr__(str(self))

    def __reduce__(self):
        return (SymExpr, (str(self),))


def _dimlike(x: Any) -> bool:
    return isinstance(x, str) or (isinstance(x, int) and not isinstance(x, bool))


# ------------------------------------------------------------------------ polynomial algebra

def _poly(d: Any) -> Poly:
    if isinstance(d, bool):
        raise TypeError(f"a size must be an int or a symbolic size, got {d!r}")
    if isinstance(d, int):
        return {(): d} if d else {}
    if isinstance(d, str):
        return _parse(str(d))
    raise TypeError(f"a size must be an int or a symbolic size, got {type(d).__name__} {d!r}")


def _clean(p: Poly) -> Poly:
    out = {m: c for m, c in p.items() if c}
    if len(out) > MAX_TERMS:
        raise SymbolicError(f"a symbolic size has more than {MAX_TERMS} terms")
    for m in out:
        if len(m) > MAX_DEGREE:
            raise SymbolicError(f"a symbolic size has a term of degree above {MAX_DEGREE}")
    return out


def _padd(a: Poly, b: Poly, sign: int = 1) -> Poly:
    out = dict(a)
    for m, c in b.items():
        out[m] = out.get(m, 0) + sign * c
    return _clean(out)


def _pmul(a: Poly, b: Poly) -> Poly:
    out: Poly = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            if len(ma) + len(mb) > MAX_DEGREE:
                raise SymbolicError(f"a symbolic size has a term of degree above {MAX_DEGREE}")
            m = tuple(sorted(ma + mb))
            out[m] = out.get(m, 0) + ca * cb
        if len(out) > 4 * MAX_TERMS:
            raise SymbolicError(f"a symbolic size has more than {MAX_TERMS} terms")
    return _clean(out)


def _order(m: tuple) -> tuple:
    return (-len(m), m)


def _lead(p: Poly) -> tuple:
    return min(p, key=_order)


def _mono_div(a: tuple, b: tuple) -> tuple | None:
    rest = list(a)
    for s in b:
        if s not in rest:
            return None
        rest.remove(s)
    return tuple(rest)


def _pdiv(a: Poly, b: Poly) -> Poly | None:
    """The exact quotient a / b with integer coefficients, or None. Division by one polynomial
    with a graded order: the remainder is zero exactly when b divides a."""
    if not b:
        return None
    rem = {m: Fraction(c) for m, c in a.items()}
    quot: dict = {}
    lb = _lead(b)
    for _ in range(4 * MAX_TERMS):
        if not rem:
            break
        lr = _lead(rem)
        m = _mono_div(lr, lb)
        if m is None:
            return None
        c = rem[lr] / b[lb]
        quot[m] = quot.get(m, 0) + c
        for mb, cb in b.items():
            k = tuple(sorted(m + mb))
            rem[k] = rem.get(k, 0) - c * cb
            if not rem[k]:
                del rem[k]
    else:
        return None
    if rem or any(c.denominator != 1 for c in quot.values()):
        return None
    return _clean({m: int(c) for m, c in quot.items()})


def _from_poly(p: Poly, cls: type = None) -> Any:
    """The canonical dim of a polynomial: an int for a constant, else a SymExpr."""
    p = _clean(p)
    if not p:
        return 0
    if list(p) == [()]:
        return p[()]
    return str.__new__(cls or SymExpr, _format(p))


def _format(p: Poly) -> str:
    text = ""
    for m in sorted(p, key=_order):
        c = p[m]
        sign = "-" if c < 0 else "+"
        c = abs(c)
        factors = []
        for s in sorted(set(m)):
            n = m.count(s)
            factors.append(s if n == 1 else f"{s}**{n}")
        body = "*".join(([str(c)] if c != 1 or not factors else []) + factors)
        if not text:
            text = ("-" if sign == "-" else "") + body
        else:
            text += f" {sign} {body}"
    return text


# ------------------------------------------------------------------------------ parsing

@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> tuple:
    return tuple(_parse_text(text).items())


def _parse(text: str) -> Poly:
    return dict(_parse_cached(text))


def _parse_text(text: str) -> Poly:
    if SYMBOL.match(text):
        return {(text,): 1}
    if len(text) > MAX_TEXT:
        raise SymbolicError(f"a symbolic size is longer than {MAX_TEXT} characters")
    if not _CHARS.match(text):
        raise SymbolicError(f"{text[:60]!r} is not a symbolic size (symbols, integers, spaces, "
                            "+ - * // ** and parentheses only)")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise SymbolicError(f"{text!r} is not a symbolic size (symbols, integers, + - * // "
                            "**)") from None
    return _walk(tree.body, text)


def _walk(node: ast.AST, text: str) -> Poly:
    if isinstance(node, ast.Name):
        if not SYMBOL.match(node.id):
            raise SymbolicError(f"symbol {node.id!r} in {text!r} is not an ASCII identifier")
        return {(node.id,): 1}
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return _poly(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        p = _walk(node.operand, text)
        return _pmul(p, {(): -1}) if isinstance(node.op, ast.USub) else p
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            n = node.right
            if not (isinstance(n, ast.Constant) and type(n.value) is int
                    and 0 <= n.value <= MAX_DEGREE):
                raise SymbolicError(f"{text!r}: an exponent must be an integer in "
                                    f"[0, {MAX_DEGREE}]")
            base, out = _walk(node.left, text), {(): 1}
            for _ in range(n.value):
                out = _pmul(out, base)
            return out
        a, b = _walk(node.left, text), _walk(node.right, text)
        if isinstance(node.op, ast.Add):
            return _padd(a, b)
        if isinstance(node.op, ast.Sub):
            return _padd(a, b, -1)
        if isinstance(node.op, ast.Mult):
            return _pmul(a, b)
        if isinstance(node.op, ast.FloorDiv):
            q = _pdiv(a, b)
            if q is None:
                raise SymbolicError(f"{text!r}: the division is not exact")
            return q
    raise SymbolicError(f"{text!r} is not a symbolic size (symbols, integers, + - * // **)")


# ------------------------------------------------------------------------------ the API

def dim(d: Any) -> Any:
    """The one normalization of a size: an int stays, any str (a symbol, an expression's
    text) becomes a SymExpr, an object with `.expr` (a tracer's SymDim) gives its expression."""
    if isinstance(d, SymExpr):
        return d
    if isinstance(d, str):
        return _from_poly(_parse(d))
    if isinstance(d, int) and not isinstance(d, bool):
        return d
    expr = getattr(d, "expr", None)
    if expr is not None:
        return dim(expr)
    raise TypeError(f"a size must be an int or a symbolic size, got {type(d).__name__} {d!r}")


def is_symbolic(d: Any) -> bool:
    """Whether a dim is a symbolic size (a symbol or an expression), not an int."""
    return isinstance(d, str)


def parse_dim(text: str) -> Any:
    """A dim from its printed form: `'8'` -> 8, `'B'`, `'48*B'`, `'B*T + 1'` -> SymExpr."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return dim(text)


def add(a: Any, b: Any) -> Any:
    return _from_poly(_padd(_poly(a), _poly(b)))


def sub(a: Any, b: Any) -> Any:
    return _from_poly(_padd(_poly(a), _poly(b), -1))


def mul(a: Any, b: Any) -> Any:
    return _from_poly(_pmul(_poly(a), _poly(b)))


def prod(dims: Iterable) -> Any:
    """The product of sizes: an int when all are ints, else a SymExpr (`48*B`)."""
    out: Poly = {(): 1}
    for d in dims:
        out = _pmul(out, _poly(d))
    return _from_poly(out)


def exact_div(a: Any, b: Any) -> Any:
    """a / b when b divides a for every value of the symbols (`48*B / 8 = 6*B`), else None."""
    q = _pdiv(_poly(a), _poly(b))
    return None if q is None else _from_poly(q)


def symbols_of(d: Any) -> tuple:
    """The symbol names a dim uses (none for an int)."""
    return dim(d).symbols if isinstance(d, str) else ()


def evaluate(d: Any, sizes: Mapping[str, int]) -> int:
    """The int a dim takes when the symbols have `sizes`."""
    if not isinstance(d, str):
        return d
    total = 0
    for m, c in _poly(d).items():
        for s in m:
            c *= sizes[s]
        total += c
    return total


def to_source(d: Any, names: Mapping[str, str]) -> str:
    """Python source computing the dim from variables: `names` maps symbol -> variable."""
    if not isinstance(d, str):
        return repr(d)
    p = _poly(d)
    if len(p) == 1 and list(p.values()) == [1] and len(next(iter(p))) == 1:
        return names[next(iter(p))[0]]
    terms = []
    for m in sorted(p, key=_order):
        factors = [str(p[m])] if p[m] != 1 or not m else []
        terms.append("*".join(factors + [names[s] for s in m]))
    return "(" + " + ".join(terms) + ")"


def solve(d: Any, size: int, known: Mapping[str, int]) -> tuple | None:
    """(symbol, value) when `d == size` fixes its one unknown symbol, which `d` uses linearly
    (`6*B == 12` gives B = 2); None when it cannot be solved that way. A ValueError says that
    no non-negative integer value fits."""
    p = _poly(d)
    unknown = sorted({s for m in p for s in m if s not in known})
    if len(unknown) != 1:
        return None
    u = unknown[0]
    coef = rest = 0
    for m, c in p.items():
        n = m.count(u)
        if n > 1:
            return None
        for s in m:
            if s != u:
                c *= known[s]
        if n:
            coef += c
        else:
            rest += c
    if coef == 0:
        return None
    value, r = divmod(size - rest, coef)
    if r or value < 0:
        raise ValueError(f"no size {u} makes {d} equal {size}")
    return u, value


def solve_source(d: Any, var: str, names: Mapping[str, str]) -> tuple | None:
    """(symbol, source) computing d's one unknown symbol from `var` (the size d takes), the
    other symbols being the variables in `names`; None when `d` is not linear in one unknown."""
    p = _poly(d)
    unknown = sorted({s for m in p for s in m if s not in names})
    if len(unknown) != 1 or any(m.count(unknown[0]) > 1 for m in p):
        return None
    u = unknown[0]
    coef = _from_poly({tuple(s for s in m if s != u): c for m, c in p.items() if u in m})
    rest = _from_poly({m: c for m, c in p.items() if u not in m})
    if coef == 0:
        return None
    return u, f"({var} - {to_source(rest, names)}) // {to_source(coef, names)}"

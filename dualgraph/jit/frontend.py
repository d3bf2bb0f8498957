"""Script's frontend: a Python function's `ast`, evaluated symbolically into the IR.

Expressions are evaluated for real, with `TracerTensor`s standing for tensors: calling a
dualgraph op, a tensor method, a library layer (`nn.Linear`) or an operator runs ordinary Python
that ends in `bind`, so the tracer records it — one funnel, nothing re-implemented here. What
tracing cannot do is what this module adds: a condition on a tensor compiles *both* branches
into an `if` node, and `for`/`while` compile their body once into a `loop` node, so control flow
that depends on data stays in the graph. Conditions on Python values (`self.training`, `if h is
None`) are decided now, at compile time. User functions called from a scripted one are compiled
the same way, inline.

State while compiling a function is an environment: names -> values (TracerTensors, Python
values, or `Undefined`), plus four flags — `$ret` (returned), `$brk` (broke), `$cont`
(continued), each False, True or a bool TracerTensor — and `$val`, the return value. After a
statement that may have exited at run time, the rest of the statement list is compiled inside an
`if` on "not exited"; branches merge names, flags and in-place changes of tensors into the `if`
node's outputs; loops carry the names their body rebinds and the tensors it changes in place.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import operator
import os
import sysconfig
import textwrap
from typing import Any, Callable

from ..ir.graph import Block, Node, Value
from ..ir.registry import OpError, get
from ..ir.symbolic import SymbolicError
from ..ir.types import TensorType, bool_, float64, int64
from ..size import SymDim
from ..tensor import Tensor
from .blocks import BlockTracer
from .scan import (ScannedList, call_with_scanned, refuse_scanned, scan_type, scanned_in,
                   trip_size)
from .tracer import ScriptError, TraceError, TracerTensor

IF, LOOP = get("if"), get("loop")
SCALAR_TENSOR, SYM_SIZE, ASSERT = get("scalar_tensor"), get("sym_size"), get("assert")
LOGICAL_OR, LOGICAL_NOT = get("logical_or"), get("logical_not")
FLAGS = ("$ret", "$brk", "$cont")
MAX_TRIP = 2 ** 63 - 1  # `while`: the condition alone ends the loop
MAX_UNROLL = 1024
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY_DIRS = tuple({os.path.abspath(p) for p in (
    _PACKAGE_DIR, os.path.join(os.path.dirname(_PACKAGE_DIR), "ir"),
    sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
    sysconfig.get_paths()["platlib"]) if p})

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow, ast.MatMult: operator.matmul, ast.BitAnd: operator.and_,
           ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.LShift: operator.lshift,
           ast.RShift: operator.rshift}
_IOPS = {ast.Add: operator.iadd, ast.Sub: operator.isub, ast.Mult: operator.imul,
         ast.Div: operator.itruediv, ast.FloorDiv: operator.ifloordiv, ast.Mod: operator.imod,
         ast.Pow: operator.ipow, ast.MatMult: operator.imatmul, ast.BitAnd: operator.iand,
         ast.BitOr: operator.ior, ast.BitXor: operator.ixor}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_,
           ast.IsNot: operator.is_not, ast.In: lambda a, b: a in b,
           ast.NotIn: lambda a, b: a not in b}
_ORDER = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)  # comparisons sizes take part in
_UNOPS = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}
_SCALARS = (bool, int, float)
# What user code may raise while compiling: reported as a ScriptError at the user's line.
_USER_ERRORS = (TraceError, OpError, TypeError, ValueError, IndexError, RuntimeError,
                AttributeError, KeyError, AssertionError)

# What to write instead, for the constructs outside the subset.
_UNSUPPORTED = {
    ast.Lambda: ("a lambda", "define a function with `def` at module level and call it"),
    ast.GeneratorExp: ("a generator expression",
                       "build a list with a list comprehension or a loop"),
    ast.SetComp: ("a set comprehension", "use a list"),
    ast.DictComp: ("a dict comprehension", "build the dict with a loop"),
    ast.Try: ("a try block", "check the condition with `if` or `assert` instead of catching"),
    ast.With: ("a with block", "call the function outside the scripted code, or remove the "
                               "context manager"),
    ast.Global: ("a global statement", "pass the value as an argument"),
    ast.Nonlocal: ("a nonlocal statement", "pass the value as an argument and return it"),
    ast.FunctionDef: ("a nested function definition",
                      "define the function at module level; scripted code can call it"),
    ast.AsyncFunctionDef: ("an async function", "use a plain function"),
    ast.ClassDef: ("a class definition", "define the class outside the scripted function"),
    ast.Import: ("an import", "import at module level"),
    ast.ImportFrom: ("an import", "import at module level"),
    ast.Yield: ("yield", "return a list or a tuple"),
    ast.YieldFrom: ("yield from", "return a list or a tuple"),
    ast.Await: ("await", "use plain calls"),
    ast.NamedExpr: ("an assignment expression (:=)", "assign in a statement of its own"),
    ast.Raise: ("raise", "use `assert condition, message`, which becomes a runtime check"),
}
_ALLOWED_BUILTINS = {"range", "len", "int", "float", "bool", "min", "max", "abs", "enumerate",
                     "zip", "isinstance", "list", "tuple", "dict", "print", "sum", "round",
                     "reversed", "str", "type", "getattr", "hasattr", "None", "True", "False",
                     "ValueError", "RuntimeError", "TypeError", "AssertionError", "all", "any"}


class Undefined:
    """A name that has no value on every path here: reading it is a ScriptError saying why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class Source:
    """A function's parsed source and where it lives, for error messages."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        try:
            lines, first = inspect.getsourcelines(fn)
        except (OSError, TypeError):
            raise ScriptError(f"cannot script {getattr(fn, '__qualname__', fn)!r}: its Python "
                              "source is not available (defined in a REPL, exec, or C)\n"
                              "Hint: define the function in a file") from None
        self.file = inspect.getsourcefile(fn) or "<unknown>"
        self.first = first
        text = "".join(lines)
        dedented = textwrap.dedent(text)
        self.indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
        self.lines = dedented.splitlines()
        tree = ast.parse(dedented)
        defn = tree.body[0]
        if not isinstance(defn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            raise ScriptError(f"{self.file}:{first}: cannot script {fn!r}: expected a function "
                              "defined with def")
        self.tree = defn

    def where(self, node: ast.AST) -> str:
        return f"{self.file}:{self.first + getattr(node, 'lineno', 1) - 1}"

    def error(self, node: ast.AST, what: str, hint: str = "") -> ScriptError:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        end = getattr(node, "end_col_offset", None)
        width = max(1, (end - col) if end is not None and getattr(node, "end_lineno", line) ==
                    line else 1)
        pad = " " * self.indent
        caret = " " * (self.indent + col) + "^" * width
        msg = (f"{self.file}:{self.first + line - 1}:{col + self.indent + 1}: {what}\n"
               f"    {pad}{text}\n    {caret}")
        if hint:
            msg += f"\nHint: {hint}"
        return ScriptError(msg)


_SOURCES: dict = {}


def source_of(fn: Callable) -> Source:
    """Parsed once per function (script compiles once per input signature)."""
    code = getattr(fn, "__code__", None)
    key = code if code is not None else fn
    src = _SOURCES.get(key)
    if src is None:
        src = _SOURCES[key] = Source(fn)
    return src


def is_library(fn: Any, sourceless: bool = True) -> bool:
    """Library code (dualgraph itself, the standard library, installed packages) is called as it
    is — its tensor ops are traced; user code is compiled by this frontend, control flow kept.
    Code without a file (exec, a REPL) counts as library when called from scripted code, and
    as user code (which then fails for want of source) when scripted itself: `sourceless`."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return True
    path = os.path.abspath(code.co_filename)
    return path.startswith(_LIBRARY_DIRS) or (sourceless and code.co_filename.startswith("<"))


def _assigned_names(stmts: list) -> list:
    """Names a statement list may rebind (assignment targets, loop variables), in order."""
    found: dict = {}
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                found[node.id] = None
    return list(found)


def _loaded_names(stmts: list) -> set:
    return {n.id for s in stmts for n in ast.walk(s)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _is_tensor(x: Any) -> bool:
    return isinstance(x, TracerTensor)


class _Unroll(Exception):
    """A `range` loop's body needs Python values per iteration: compile it unrolled."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class FunctionCompiler:
    """Compiles one function's body (inline) with a shared tracer."""

    def __init__(self, tracer: BlockTracer, fn: Callable, depth: int = 0) -> None:
        self.tracer = tracer
        self.fn = fn
        self.src = source_of(fn)
        self.depth = depth
        self.globals = getattr(fn, "__globals__", {})
        code = fn.__code__
        self.closure = {}
        for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                self.closure[name] = cell.cell_contents
            except ValueError:
                pass

    # ---------------------------------------------------------------------------- entry
    def run(self, args: tuple, kwargs: dict) -> Any:
        """Compile the body with the arguments bound; returns the value it returns."""
        try:
            bound = inspect.signature(self.fn).bind(*args, **kwargs)
        except TypeError as exc:
            raise ScriptError(f"{self.src.where(self.src.tree)}: calling "
                              f"{self.fn.__qualname__}(): {exc}") from None
        bound.apply_defaults()
        env: dict = dict(bound.arguments)
        env.update({"$ret": False, "$brk": False, "$cont": False})
        self.stmts(self.src.tree.body, env)
        ret = env["$ret"]
        if ret is False:
            return None
        if ret is not True:
            raise self.src.error(self.src.tree, f"{self.fn.__qualname__}() may reach its end "
                                 "without a return on some path",
                                 "return a value on every path (add a return at the end)")
        if self.depth == 0:
            refuse_scanned(env["$val"])  # a graph output must be a tensor, not a scanned list
        return env["$val"]

    # ----------------------------------------------------------------------- statements
    def stmts(self, stmts: list, env: dict) -> None:
        for k, stmt in enumerate(stmts):
            exited = self.exited(env)
            if exited is True:
                return
            if exited is not False:
                self.guarded(stmts[k:], env, exited, stmt)
                return
            if isinstance(stmt, ast.If) and k + 1 < len(stmts) and (
                    _ends_in_exit(stmt.body) or _ends_in_exit(stmt.orelse)):
                self.tracer.location = self.src.where(stmt)
                try:
                    test = self.expr(stmt.test, env)
                except ScriptError:
                    raise
                except _USER_ERRORS as exc:
                    raise self.wrap_error(stmt.test, exc) from None
                if _is_tensor(test):
                    # `if c: return a` then more: the rest belongs to the arm that falls through
                    rest = stmts[k + 1:]
                    then = stmt.body if _ends_in_exit(stmt.body) else stmt.body + rest
                    orelse = stmt.orelse if _ends_in_exit(stmt.orelse) else stmt.orelse + rest
                    self.branch(test, lambda e: self.stmts(then, e),
                                lambda e: self.stmts(orelse, e), env, stmt.test)
                    return
                self.stmts((stmt.body if test else stmt.orelse) + stmts[k + 1:], env)
                return
            self.stmt(stmt, env)

    def exited(self, env: dict) -> Any:
        """Whether control has left the statement list: False, True, or a bool tensor."""
        flags = [env[f] for f in FLAGS]
        if any(f is True for f in flags):
            return True
        live = [f for f in flags if f is not False]
        if not live:
            return False
        out = live[0]
        for f in live[1:]:
            out = self.tracer.wrap(self.tracer._emit(LOGICAL_OR, [self.value(out),
                                                                  self.value(f)], {}))
        return out

    def guarded(self, rest: list, env: dict, exited: Any, at: ast.AST) -> None:
        """The statements after a possible exit run only if it did not happen."""
        live = [f for f in FLAGS if env[f] is not False]

        def then(e: dict) -> None:
            if len(live) == 1:
                e[live[0]] = True  # the only flag that can be set: it is

        def orelse(e: dict) -> None:
            for f in live:
                e[f] = False
            self.stmts(rest, e)

        self.branch(exited, then, orelse, env, at)

    def handler(self, node: ast.AST, prefix: str, what: str, hint: str = "") -> Callable:
        """The method compiling this kind of node, or a ScriptError naming what to write."""
        kind = type(node)
        if kind in _UNSUPPORTED:
            construct, instead = _UNSUPPORTED[kind]
            raise self.src.error(node, f"{construct} is not supported in scripted code", instead)
        method = getattr(self, prefix + kind.__name__, None)
        if method is None:
            raise self.src.error(node, f"the {what} {kind.__name__} is not supported in "
                                 "scripted code", hint)
        return method

    def stmt(self, node: ast.stmt, env: dict) -> None:
        self.tracer.location = self.src.where(node)
        handler = self.handler(node, "s_", "statement",
                               "rewrite it with assignments, if, for, while")
        try:
            handler(node, env)
        except ScriptError:
            raise
        except _Unroll:
            raise
        except _USER_ERRORS as exc:
            raise self.wrap_error(node, exc) from None

    def wrap_error(self, node: ast.AST, exc: Exception) -> ScriptError:
        text = str(exc)
        hint = ""
        if isinstance(exc, TraceError):
            text, _, hint = text.rpartition("\nHint: ")
            text = text.split("\n")[-1]
            if "Python bool" in text or "Python number" in text or "as an index" in text:
                hint = ("only tensor conditions may depend on data; a Python value (an int, a "
                        "list index, a module in a list) must be known when compiling")
        return self.src.error(node, f"{type(exc).__name__}: {text}", hint)

    def s_Expr(self, node: ast.Expr, env: dict) -> None:
        if isinstance(node.value, ast.Constant):  # a docstring
            return
        self.expr(node.value, env)

    def s_Pass(self, node: ast.Pass, env: dict) -> None:
        pass

    def s_Assign(self, node: ast.Assign, env: dict) -> None:
        value = self.expr(node.value, env)
        for target in node.targets:
            self.assign(target, value, env)

    def s_AnnAssign(self, node: ast.AnnAssign, env: dict) -> None:
        if node.value is not None:
            self.assign(node.target, self.expr(node.value, env), env)

    def s_AugAssign(self, node: ast.AugAssign, env: dict) -> None:
        op = _IOPS.get(type(node.op))
        if op is None:
            raise self.src.error(node, "this augmented assignment is not supported")
        target = node.target
        rhs = self.expr(node.value, env)
        if isinstance(target, ast.Name):
            env[target.id] = self.adopt(self.sized(op, self.name(target, env), rhs))
        elif isinstance(target, ast.Attribute):
            obj = self.expr(target.value, env)
            setattr(obj, target.attr, op(getattr(obj, target.attr), rhs))
        elif isinstance(target, ast.Subscript):
            obj = self.expr(target.value, env)
            index = self.index(target.slice, env)
            obj[index] = op(obj[index], rhs)
        else:
            raise self.src.error(target, "cannot assign to this target")

    def adopt(self, value: Any) -> Any:
        """A tensor made outside the graph (`torch.tensor(-1)` runs eagerly) becomes a graph
        constant, so names only ever hold graph tensors."""
        if isinstance(value, Tensor) and not _is_tensor(value):
            return self.tracer.wrap(self.tracer.constant(value))
        if isinstance(value, (list, tuple)) and any(
                isinstance(v, Tensor) and not _is_tensor(v) for v in value):
            return type(value)(self.adopt(v) for v in value)
        return value

    def assign(self, target: ast.AST, value: Any, env: dict) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = self.adopt(value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = self.unpack(target, value)
            for t, v in zip(target.elts, items):
                self.assign(t, v, env)
        elif isinstance(target, ast.Attribute):
            setattr(self.expr(target.value, env), target.attr, value)
        elif isinstance(target, ast.Subscript):
            obj = self.expr(target.value, env)
            obj[self.index(target.slice, env)] = value
        elif isinstance(target, ast.Starred):
            raise self.src.error(target, "starred assignment is not supported",
                                 "unpack into a fixed number of names")
        else:
            raise self.src.error(target, "cannot assign to this target")

    def unpack(self, target: ast.AST, value: Any) -> list:
        if _is_tensor(value):
            n = value.shape[0] if value.dim() else None
            if not isinstance(n, int):
                raise self.src.error(target, "unpacking a tensor needs a known first dimension")
            items = list(value.unbind(0))
        else:
            try:
                items = list(value)
            except TypeError:
                raise self.src.error(target, f"cannot unpack a {type(value).__name__}") from None
        if len(items) != len(target.elts):
            raise self.src.error(target, f"cannot unpack {len(items)} values into "
                                 f"{len(target.elts)} names")
        return items

    def s_Delete(self, node: ast.Delete, env: dict) -> None:
        for target in node.targets:
            if not isinstance(target, ast.Name):
                raise self.src.error(target, "only names can be deleted in scripted code")
            env[target.id] = Undefined(f"'{target.id}' was deleted at line "
                                       f"{self.src.first + node.lineno - 1}")

    def s_Return(self, node: ast.Return, env: dict) -> None:
        env["$val"] = None if node.value is None else self.adopt(self.expr(node.value, env))
        env["$ret"] = True

    def s_Break(self, node: ast.Break, env: dict) -> None:
        env["$brk"] = True

    def s_Continue(self, node: ast.Continue, env: dict) -> None:
        env["$cont"] = True

    def s_Assert(self, node: ast.Assert, env: dict) -> None:
        test = self.expr(node.test, env)
        message = "" if node.msg is None else self.expr(node.msg, env)
        if not isinstance(message, str):
            raise self.src.error(node.msg, "an assert message must be a string known when "
                                 "compiling", "write a string or an f-string of Python values")
        where = f"{self.src.where(node)}: {message or 'assertion failed'}"
        if _is_tensor(test):
            self.tracer._emit(ASSERT, [self.value(self.as_condition(test, node))],
                              {"message": where})
        elif not test:
            self.tracer._emit(ASSERT, [False], {"message": where})

    def s_If(self, node: ast.If, env: dict) -> None:
        test = self.expr(node.test, env)
        if not _is_tensor(test):
            self.stmts(node.body if test else node.orelse, env)
            return
        self.branch(self.as_condition(test, node.test), lambda e: self.stmts(node.body, e),
                    lambda e: self.stmts(node.orelse, e), env, node)

    # --------------------------------------------------------------------------- branches
    def branch(self, cond: Any, then: Callable, orelse: Callable, env: dict,
               at: ast.AST) -> None:
        """Compile both arms into an `if` node; names, flags and tensors changed in place that
        differ between the arms become its outputs."""
        tr = self.tracer
        cond = self.as_condition(cond, at)
        cond_value = self.value(cond)
        location = tr.location
        cells = self.cells(env)
        before = {id(t): (t, tr.current(t)) for t in cells}
        lists = {id(x): (x, list(x)) for x in _lists_in(env)}
        arms = []
        for name, body in (("then", then), ("else", orelse)):
            block = Block(name)
            arm_env = dict(env)
            with tr.into(block):
                body(arm_env)
            changed = {k: (t, tr.current(t)) for k, (t, v) in before.items()
                       if tr.current(t) is not v}
            for t, v in before.values():
                t._value, t._tview = v, None
            contents = {k: list(x) for k, (x, items) in lists.items()}
            for x, items in lists.values():
                x[:] = items
            arms.append((block, arm_env, changed, contents))
        tr.location = location
        (tb, te, tc, tl), (eb, ee, ec, el) = arms
        exits = [te["$ret"] is True, ee["$ret"] is True]  # after a break, names still matter
        outs: list = []  # (setter, then value, else value)
        for key in dict.fromkeys(list(te) + list(ee)):
            a, b = te.get(key, Undefined("")), ee.get(key, Undefined(""))
            if a is b:
                env[key] = a
                continue
            if key in FLAGS:
                if isinstance(a, bool) and isinstance(b, bool):  # set in one arm: the condition
                    flag = self.bool_tensor(cond, at)
                    env[key] = flag if a else self.tracer.wrap(self.tracer._emit(
                        LOGICAL_NOT, [self.value(flag)], {}))
                    continue
                outs.append((key, a, b))
                continue
            relevant = [not exits[0], not exits[1]]
            if key == "$val":
                relevant = [te["$ret"] is not False, ee["$ret"] is not False]
            if not any(relevant):
                env[key] = Undefined(f"'{key}' has no value after the if at line "
                                     f"{self.src.first + at.lineno - 1}")
                continue
            if not relevant[0] or not relevant[1]:
                if isinstance(a if relevant[0] else b, Undefined):
                    env[key] = a if relevant[0] else b
                    continue
                outs.append((key, a if relevant[0] else _MISSING, b if relevant[1] else _MISSING))
                continue
            if isinstance(a, Undefined) or isinstance(b, Undefined):
                env[key] = Undefined(f"'{key}' is assigned in only one branch of the if at "
                                     f"line {self.src.first + at.lineno - 1}; assign it in "
                                     "both branches, or before the if")
                continue
            if _same_python_value(a, b):
                env[key] = a
                continue
            outs.append((key, a, b))
        for k in dict.fromkeys(list(tc) + list(ec)):
            t = (tc.get(k) or ec.get(k))[0]
            outs.append((t, tr.wrap(tc.get(k, before[k])[1]), tr.wrap(ec.get(k, before[k])[1])))
        for k, (x, items) in lists.items():
            a_items, b_items = tl[k], el[k]
            if len(a_items) != len(b_items):
                raise self.src.error(at, f"a Python list gets {len(a_items)} items on one path "
                                     f"of this if and {len(b_items)} on the other",
                                     "append the same number of items in both branches")
            x[:] = a_items
            for i, (a, b) in enumerate(zip(a_items, b_items)):
                if a is not b:
                    outs.append(((x, i), a, b))
        self.emit_if(cond_value, tb, eb, outs, env, at)

    def emit_if(self, cond_value: Any, tb: Block, eb: Block, outs: list, env: dict,
                at: ast.AST) -> None:
        tr = self.tracer
        pairs = []
        for key, a, b in outs:
            what = key if isinstance(key, str) else "a list item" if isinstance(
                key, tuple) else "a tensor changed in place"
            a, b = self.unify(a, b, tb, eb, what, at)
            pairs.append((key, a, b))
        with tr.into(tb):
            tb.outputs = [self.yield_value(a) for _, a, _ in pairs]
        with tr.into(eb):
            eb.outputs = [self.yield_value(b) for _, _, b in pairs]
        if not pairs and not _has_effects([tb, eb]):
            return  # nothing flows out and nothing happens: no node
        types = [y.type if isinstance(y, Value) else type(y) for y in tb.outputs]
        node = tr.append(Node(IF, [cond_value], {}, types, [tb, eb]))
        for (key, _, _), out in zip(pairs, node.outputs):
            if isinstance(key, str):
                env[key] = tr.wrap(out)
            elif isinstance(key, tuple):  # an item of a Python list
                key[0][key[1]] = tr.wrap(out)
            else:
                key._value, key._tview, key._tstamp = out, None, tr._stamp

    def unify(self, a: Any, b: Any, tb: Block, eb: Block, what: str, at: ast.AST) -> tuple:
        """Make two arms' values one type: a missing one (its arm exited) is filled, Python
        scalars meeting tensors or each other become 0-d tensors; anything else must agree."""
        tr = self.tracer
        if a is _MISSING or b is _MISSING:  # that arm returned: any value of the type does
            known = b if a is _MISSING else a
            known = self.tensorize(known, tb if a is not _MISSING else eb, None, what, at)
            with tr.into(tb if a is _MISSING else eb):
                filler = tr.filler(tr.current(known).type)
            return (filler, known) if a is _MISSING else (known, filler)
        if what in FLAGS:
            return (self.tensorize(a, tb, bool_, what, at), self.tensorize(b, eb, bool_, what,
                                                                           at))
        if _is_tensor(a) != _is_tensor(b) and isinstance(b if _is_tensor(a) else a, _SCALARS):
            # `total = 0.0` on one path, a tensor on the other: the number becomes that tensor
            typ = tr.current(a if _is_tensor(a) else b).type
            with tr.into(eb if _is_tensor(a) else tb):
                filled = tr.filler(typ, b if _is_tensor(a) else a)
            return (a, filled) if _is_tensor(a) else (filled, b)
        if _is_tensor(a) != _is_tensor(b) or (not _is_tensor(a) and not (
                isinstance(a, _SCALARS) and isinstance(b, _SCALARS)
                and type(a) is type(b))):
            raise self.src.error(at, f"'{what}' has a different type in each branch of this if "
                                 f"({_describe(a)} and {_describe(b)})",
                                 "give it the same type on both paths (e.g. a tensor in both)")
        a = self.tensorize(a, tb, None, what, at)
        b = self.tensorize(b, eb, None, what, at)
        ta, tb_ = tr.current(a).type, tr.current(b).type
        if ta != tb_:
            raise _sizes_differ(self.src.error(
                at, f"'{what}' has a different type in each branch of this if "
                f"({_describe(a)} and {_describe(b)})",
                "make both branches give the same dtype and shape"), ta, tb_)
        return a, b

    def tensorize(self, x: Any, block: Block | None, dtype: Any, what: str,
                  at: ast.AST) -> Any:
        """A Python scalar as a 0-d tensor emitted into `block` (the current one if None)."""
        if _is_tensor(x):
            return x
        if not isinstance(x, _SCALARS):
            raise self.src.error(at, f"'{what}' holds a {type(x).__name__}, which cannot change "
                                 "with a tensor condition or a loop",
                                 "compute it before the if or loop, or make it a tensor")
        d = dtype or (bool_ if isinstance(x, bool) else int64 if isinstance(x, int) else
                      float64)
        tr = self.tracer
        if block is None:
            return tr.filler(TensorType(d, ()), x)
        with tr.into(block):
            return tr.filler(TensorType(d, ()), x)

    def yield_value(self, x: Any) -> Any:
        return self.tracer.current(x) if _is_tensor(x) else x

    def cells(self, env: dict) -> list:
        """Every tensor reachable now whose value may change in place: the environment's (in
        lists, tuples, dicts) and the module state's."""
        found: dict = {}

        def visit(x: Any, depth: int) -> None:
            if _is_tensor(x):
                found[id(x)] = x
            elif isinstance(x, (list, tuple)) and depth < 4:
                for y in x:
                    visit(y, depth + 1)
            elif isinstance(x, dict) and depth < 4:
                for y in x.values():
                    visit(y, depth + 1)

        for v in env.values():
            visit(v, 0)
        for t in getattr(self.tracer, "state", ()):
            found[id(t)] = t
        return list(found.values())

    # ------------------------------------------------------------------------------ loops
    def s_For(self, node: ast.For, env: dict) -> None:
        if node.orelse:
            raise self.src.error(node, "for ... else is not supported",
                                 "use a flag variable set before break")
        it = node.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" \
                and self.lookup(it.func, env) is range:
            args = [self.expr(a, env) for a in it.args]
            if it.keywords or not 1 <= len(args) <= 3:
                raise self.src.error(it, "range() takes one to three positional arguments")
            start, stop, step = (0, args[0], 1) if len(args) == 1 else (
                args[0], args[1], args[2] if len(args) == 3 else 1)
            self.range_loop(node, env, start, stop, step)
            return
        parts = self.sequence(it, env)
        if isinstance(parts, tuple):
            if _tensor_sequence(parts) and any(  # a length known only at run time: a loop
                    x.dim() and isinstance(x.shape[0], SymDim) for x in _leaves(parts)):
                self.sequence_loop(node, env, parts)
                return
            iterable = _python_sequence(parts)
        else:
            iterable = parts
        if _is_tensor(iterable):
            self.tensor_loop(node, env, iterable)
            return
        if isinstance(iterable, SymDim):
            raise self.src.error(it, "cannot iterate over a size")
        try:
            items = list(iterable)
        except TypeError:
            raise self.src.error(it, f"cannot iterate over a {type(iterable).__name__}") from None
        self.unrolled(node, env, items)

    def unrolled(self, node: ast.For, env: dict, items: list) -> None:
        """A loop over a Python sequence (a list of tensors, a ModuleList, zip, enumerate) is
        compiled once per item: its length is known now."""
        if len(items) > MAX_UNROLL:
            raise self.src.error(node.iter, f"a loop over {len(items)} Python items is too long "
                                 "to unroll", "loop over range(...) or a tensor instead")
        self._unroll(node, env, items, 0)
        env["$brk"] = False

    def _unroll(self, node: ast.For, env: dict, items: list, k: int) -> None:
        for j in range(k, len(items)):
            exited = self.exited({**env, "$cont": False})
            if exited is True:
                return
            if exited is not False:
                live = [f for f in ("$ret", "$brk") if env[f] is not False]

                def orelse(e: dict, j: int = j) -> None:
                    for f in live:
                        e[f] = False
                    self._unroll(node, e, items, j)

                def then(e: dict) -> None:
                    if len(live) == 1:
                        e[live[0]] = True

                env["$cont"] = False
                self.branch(exited, then, orelse, env, node)
                return
            self.tracer.location = self.src.where(node)
            self.assign(node.target, items[j], env)
            self.stmts(node.body, env)
            env["$cont"] = False

    def range_loop(self, node: ast.For, env: dict, start: Any, stop: Any, step: Any) -> None:
        for x in (start, stop, step):
            if not (_is_tensor(x) or isinstance(x, (int, SymDim))) or isinstance(x, bool) or (
                    _is_tensor(x) and x.dtype.is_floating_point):  # as eager's __index__
                raise self.src.error(node.iter, f"range() needs ints or integer tensors, got "
                                     f"{_describe(x)}")
        start, stop, step = (self.size_tensor(x) for x in (start, stop, step))
        if not _is_tensor(step) and step == 0:
            raise self.src.error(node.iter, "range() arg 3 must not be zero")
        if _is_tensor(step) and not (isinstance(start, int) and isinstance(stop, int)):
            raise self.src.error(node.iter, "range() with a tensor step is not supported",
                                 "use a while loop")
        if all(isinstance(x, int) for x in (start, stop, step)):
            trip: Any = len(range(start, stop, step))
        elif isinstance(step, int) and step == 1:  # a negative count runs no iteration
            trip = stop if isinstance(start, int) and start == 0 else stop - start
        else:
            diff = stop - start
            trip = ((diff + (step - 1 if step > 0 else step + 1)) // step).clamp(min=0)
        target_used = isinstance(node.target, ast.Name) and \
            node.target.id in _loaded_names(node.body)

        def iteration(count: Value, e: dict) -> None:
            if not target_used:
                if isinstance(node.target, ast.Name):
                    e[node.target.id] = Undefined(f"'{node.target.id}' is the loop's counter")
                return
            i = self.tracer.wrap(self.tracer._emit(SCALAR_TENSOR, [count], {}))
            if not (isinstance(step, int) and step == 1):
                i = i * step
            if not (isinstance(start, int) and start == 0):
                i = i + start
            self.assign(node.target, i, e)

        try:
            self.loop(node, env, trip, True, iteration, node.body, None,
                      unroll_ok=isinstance(trip, int))
        except _Unroll:
            if trip > MAX_UNROLL:
                raise
            self.unrolled(node, env, list(range(start, stop, step)))

    def size_tensor(self, x: Any) -> Any:
        """A symbolic size (`x.size(0)` of a dynamic dim, or `2 * x.size(0)`) as an int64 tensor
        read at run time."""
        if not isinstance(x, SymDim):
            return x
        for v in self.tracer.graph.inputs:
            if isinstance(v.type, TensorType) and x.name in v.type.shape:
                dim = v.type.shape.index(x.name)
                return self.tracer.wrap(self.tracer._emit(SYM_SIZE, [v], {"dim": dim}))
        return x.tensor()  # an expression (`2*B`): computed from the bound sizes at run time

    def tensor_loop(self, node: ast.For, env: dict, t: TracerTensor) -> None:
        """`for row in t`: the trip count is t's first dimension."""
        if t.dim() == 0:
            raise self.src.error(node.iter, "iteration over a 0-d tensor")
        trip = self.size_tensor(t.shape[0])
        tracer = self.tracer

        def iteration(count: Value, e: dict) -> None:
            i = tracer.wrap(tracer._emit(SCALAR_TENSOR, [count], {}))
            self.assign(node.target, t[i], e)

        self.loop(node, env, trip, True, iteration, node.body, None, unroll_ok=False)

    def sequence(self, it: ast.expr, env: dict) -> Any:
        """The value of a for loop's iterable; `zip(...)` and `enumerate(...)` (nested too) as
        ("zip", [parts]) or ("enumerate", part, start) with their arguments evaluated, so that
        a zip over tensors of symbolic length can become a loop instead of a Python list."""
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and \
                not any(isinstance(a, ast.Starred) for a in it.args):
            fn = self.lookup(it.func, env)
            if fn is zip and not it.keywords:
                return ("zip", [self.sequence(a, env) for a in it.args])
            if fn is enumerate and len(it.args) == 1 and \
                    all(k.arg == "start" for k in it.keywords):
                start = self.expr(it.keywords[0].value, env) if it.keywords else 0
                if len(it.args) == 1 and isinstance(start, int) and not isinstance(start, bool):
                    return ("enumerate", self.sequence(it.args[0], env), start)
                return enumerate(_python_sequence(self.sequence(it.args[0], env)), start)
        return self.expr(it, env)

    def sequence_loop(self, node: ast.For, env: dict, parts: tuple) -> None:
        """`for i, (a, b) in enumerate(zip(xs, ys))` over tensors (of symbolic length too): one
        loop whose trip count is the shortest length, computed at run time; items are rows."""
        if any(x.dim() == 0 for x in _leaves(parts)):
            raise self.src.error(node.iter, "iteration over a 0-d tensor")
        tracer = self.tracer
        trip = self.size_tensor(_length(parts, self.size_tensor))

        def iteration(count: Value, e: dict) -> None:
            i = tracer.wrap(tracer._emit(SCALAR_TENSOR, [count], {}))
            self.assign(node.target, _item(parts, i), e)

        self.loop(node, env, trip, True, iteration, node.body, None, unroll_ok=False)

    def s_While(self, node: ast.While, env: dict) -> None:
        if node.orelse:
            raise self.src.error(node, "while ... else is not supported",
                                 "use a flag variable set before break")
        test = self.expr(node.test, env)
        if not _is_tensor(test) and not test:
            return
        cond = True if not _is_tensor(test) else self.as_condition(test, node.test)
        self.loop(node, env, MAX_TRIP, cond, None, node.body, node.test, unroll_ok=False)

    def loop(self, node: ast.AST, env: dict, trip: Any, cond: Any, iteration: Callable | None,
             body: list, test: ast.AST | None, unroll_ok: bool) -> None:
        """Compile `body` into one `loop` node. The body is compiled, then checked: names it
        rebinds and tensors it changes in place become carried values; Python scalars it changes
        become 0-d tensors; the body is compiled again until nothing new turns up."""
        tr = self.tracer
        candidates = [n for n in _assigned_names(body) if n in env]
        carry = [n for n in candidates if _is_tensor(env[n])]
        carry_cells: list = []
        for n in FLAGS[:1] + ("$val",):
            if _is_tensor(env.get(n)):
                carry.append(n)
        for attempt in range(8):
            snapshot = dict(env)
            cells = self.cells(env)
            before = {id(t): (t, tr.current(t)) for t in cells}
            lists = {id(x): (x, list(x)) for x in env.values() if isinstance(x, list)}
            block = Block("body")
            count = Value(int)
            block.inputs = [count]
            entries = []
            for n in carry:
                entries.append(tr.current(env[n]))
                v = Value(entries[-1].type)
                block.inputs.append(v)
                env[n] = tr.wrap(v)
            for t in carry_cells:
                entries.append(tr.current(t))
                v = Value(entries[-1].type)
                block.inputs.append(v)
                t._value, t._tview, t._tstamp = v, None, tr._stamp
            env["$brk"] = env["$cont"] = False

            def restore() -> None:
                for t, v in before.values():
                    t._value, t._tview = v, None
                for x, items in lists.values():
                    x[:] = items
                env.clear()
                env.update(snapshot)

            try:
                with tr.into(block):
                    if iteration is not None:
                        iteration(count, env)
                    self.stmts(body, env)
                    go = self.continue_condition(env, test)
                    end_values = [env[n] for n in carry]
                    end_cells = [tr.current(t) for t in carry_cells]
                retry = False
                # names: Python values that changed become tensors; new returns are carried
                for n in candidates + ["$ret", "$val"]:
                    if n in carry or n not in env:
                        continue
                    new, old = env[n], snapshot.get(n)
                    if n == "$val" and env["$ret"] is False:
                        continue
                    if new is old or (not _is_tensor(new) and _same_python_value(new, old)):
                        continue
                    if isinstance(old, Undefined) or old is None and n == "$val":
                        if n == "$val":
                            snapshot[n] = self.tensorize_like(new, node)
                            carry.append(n)
                            retry = True
                        continue
                    if unroll_ok and not isinstance(old, _SCALARS) and not _is_tensor(old):
                        raise _Unroll(f"'{n}' is a Python {type(old).__name__} changed by the loop")
                    if _is_tensor(new) and isinstance(old, _SCALARS):  # 0.0, then a tensor
                        snapshot[n] = tr.filler(tr.current(new).type, old)
                    else:
                        snapshot[n] = self.tensorize(old, None, None, n, node)
                    carry.append(n)
                    retry = True
                for t, v in before.values():
                    if tr.current(t) is not v and t not in carry_cells and not any(
                            t is env.get(n) for n in carry):
                        carry_cells.append(t)
                        retry = True
                rescanned = {id(v.source) for v in env.values() if isinstance(v, ScannedList)}
                scans = []  # (the list, the one tensor the body appends to it): scan outputs
                for x, items in lists.values():
                    if len(x) != len(items) or any(a is not b for a, b in zip(x, items)) or \
                            id(x) in rescanned:
                        if unroll_ok:
                            raise _Unroll("a Python list changed in the loop")
                        if not items and len(x) == 1 and _is_tensor(x[0]) and \
                                id(x) not in rescanned:
                            scans.append((x, x[0]))
                            continue
                        raise self.list_changed(node)
                for (n, end), v in zip(list(zip(carry, end_values)), block.inputs[1:]):
                    if not _is_tensor(end):
                        raise self.src.error(node, f"'{n}' is a tensor before the loop but a "
                                             f"{type(end).__name__} after its body",
                                             "keep it a tensor in every iteration")
                    if tr.current(end).type != v.type:
                        raise _sizes_differ(self.src.error(
                            node, f"'{n}' changes type in the loop: "
                            f"{_fmt_type(v.type)} before an iteration, "
                            f"{_fmt_type(tr.current(end).type)} after it",
                            "keep its dtype and shape the same in every "
                            "iteration (preallocate, then write into it)"),
                            v.type, tr.current(end).type)
            except BaseException:
                restore()
                raise
            changed_snapshot = dict(snapshot)
            restore()
            env.update(changed_snapshot)
            if retry:
                continue
            with tr.into(block):
                block.outputs = [self.value(go)] + [tr.current(e) for e in end_values] + \
                    end_cells + [tr.current(item) for _, item in scans]
            trip_value, cond_value = self.trip_value(trip), self.value(cond)
            iterations = trip_size(trip_value) if cond_value is True and \
                block.outputs[0] is True else None  # else known when the loop ends
            scan_types = [scan_type(tr.graph, y.type, iterations)
                          for y in block.outputs[len(block.inputs):]]
            node_ir = tr.append(Node(LOOP, [trip_value, cond_value, *entries], {},
                                     [v.type for v in block.inputs[1:]] + scan_types, [block]))
            outs = iter(node_ir.outputs)
            for n in carry:
                env[n] = tr.wrap(next(outs))
            for t in carry_cells:
                t._value, t._tview, t._tstamp = next(outs), None, tr._stamp
            for x, _ in scans:
                stacked = ScannedList(tr.wrap(next(outs)), x, self.list_changed(node))
                for n in [n for n, v in env.items() if v is x]:
                    env[n] = stacked
            for n in _assigned_names(body):
                if n not in carry and n not in snapshot or isinstance(env.get(n), Undefined):
                    env[n] = Undefined(f"'{n}' is assigned only inside the loop at line "
                                       f"{self.src.first + node.lineno - 1}; define it before "
                                       "the loop to use it after")
            env["$brk"] = env["$cont"] = False
            return
        raise self.src.error(node, "the loop's carried values did not settle")

    def list_changed(self, node: ast.AST) -> ScriptError:
        """The error for a Python list changed in a loop of run-time trip count (raised at once,
        or when a list turned scan output is used other than by stacking)."""
        return self.src.error(node, "a Python list is changed inside a loop whose trip count is "
                              "known only at run time",
                              "loop over range(n) with an int n (it is unrolled), or write into "
                              "a preallocated tensor; a list that is empty before the loop, gets "
                              "one tensor appended per iteration and is used after it only as "
                              "dg.stack(outs) becomes the loop's scan output")

    def tensorize_like(self, x: Any, at: ast.AST) -> Any:
        if not _is_tensor(x):
            return self.tensorize(x, None, None, "the return value", at)
        return self.tracer.filler(self.tracer.current(x).type)

    def continue_condition(self, env: dict, test: ast.AST | None) -> Any:
        """What the body yields as the next condition: not broke/returned, and the while test."""
        stop = [env[f] for f in ("$ret", "$brk") if env[f] is not False]
        if any(s is True for s in stop):
            return False
        if not stop:
            return True if test is None else self.loop_test(test, env)
        exited = self.exited({"$ret": env["$ret"], "$brk": env["$brk"], "$cont": False})
        if test is None:
            return self.tracer.wrap(self.tracer._emit(LOGICAL_NOT, [self.value(exited)], {}))
        box = {**env, "$tmp": None, "$ret": False, "$brk": False, "$cont": False}
        self.branch(exited, lambda e: e.__setitem__("$tmp", False),
                    lambda e: e.__setitem__("$tmp", self.loop_test(test, e)), box, test)
        return box["$tmp"]

    def loop_test(self, test: ast.AST, env: dict) -> Any:
        value = self.expr(test, env)
        return self.as_condition(value, test) if _is_tensor(value) else bool(value)

    def trip_value(self, trip: Any) -> Any:
        if isinstance(trip, int):
            return trip
        return self.value(trip.to(int64) if trip.dtype is not int64 else trip)

    # ------------------------------------------------------------------------ expressions
    def value(self, x: Any) -> Any:
        """A node operand: a tensor's graph value, or a Python scalar literal."""
        if _is_tensor(x):
            return self.tracer.value_of(x)
        if isinstance(x, _SCALARS):
            return x
        raise ScriptError(f"internal: cannot use a {type(x).__name__} as a node input")

    def as_condition(self, t: Any, at: ast.AST) -> Any:
        if not _is_tensor(t):
            return bool(t)
        if t.dim() != 0:
            if any(isinstance(d, str) or d != 1 for d in self.tracer.current(t).type.shape):
                raise self.src.error(at, f"a condition must be a single value, got a tensor of "
                                     f"shape {list(t.shape)} (Boolean value of Tensor with more "
                                     "than one value is ambiguous)",
                                     "reduce it first: .any(), .all(), .sum() > 0")
            t = t.reshape(())
        return t

    def expr(self, node: ast.expr, env: dict) -> Any:
        return self.handler(node, "e_", "expression")(node, env)

    def e_Constant(self, node: ast.Constant, env: dict) -> Any:
        return node.value

    def e_Name(self, node: ast.Name, env: dict) -> Any:
        return self.name(node, env)

    def name(self, node: ast.Name, env: dict) -> Any:
        value = self.lookup(node, env)
        if isinstance(value, Undefined):
            raise self.src.error(node, value.reason or f"'{node.id}' is not defined here",
                                 "assign it on every path before this line")
        return value

    def lookup(self, node: ast.Name, env: dict) -> Any:
        name = node.id
        if name in env:
            return env[name]
        if name in self.closure:
            return self.closure[name]
        if name in self.globals:
            return self.globals[name]
        if name in _ALLOWED_BUILTINS and hasattr(builtins, name):
            return getattr(builtins, name)
        if hasattr(builtins, name):
            raise self.src.error(node, f"the builtin {name}() is not supported in scripted "
                                 "code")
        raise self.src.error(node, f"unknown name '{name}'",
                             "define it or import it at module level, or pass it as an "
                             "argument")

    def e_Attribute(self, node: ast.Attribute, env: dict) -> Any:
        obj = self.expr(node.value, env)
        try:
            return getattr(obj, node.attr)
        except AttributeError:
            raise self.src.error(node, f"'{type(obj).__name__}' object has no attribute "
                                 f"'{node.attr}'") from None

    def e_Tuple(self, node: ast.Tuple, env: dict) -> Any:
        return tuple(self.elements(node.elts, env))

    def e_List(self, node: ast.List, env: dict) -> Any:
        return self.elements(node.elts, env)

    def elements(self, elts: list, env: dict) -> list:
        out = []
        for e in elts:
            if isinstance(e, ast.Starred):
                out.extend(self.expr(e.value, env))
            else:
                out.append(self.expr(e, env))
        return out

    def e_Dict(self, node: ast.Dict, env: dict) -> Any:
        if any(k is None for k in node.keys):
            raise self.src.error(node, "** in a dict display is not supported")
        return {self.expr(k, env): self.expr(v, env) for k, v in zip(node.keys, node.values)}

    def e_JoinedStr(self, node: ast.JoinedStr, env: dict) -> Any:
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(str(v.value))
                continue
            x = self.expr(v.value, env)
            if _is_tensor(x):
                raise self.src.error(v, "an f-string cannot show a tensor's value in compiled "
                                     "code", "format Python values only")
            spec = "" if v.format_spec is None else self.expr(v.format_spec, env)
            parts.append(format(x, spec))
        return "".join(parts)

    def e_Subscript(self, node: ast.Subscript, env: dict) -> Any:
        obj = self.expr(node.value, env)
        index = self.index(node.slice, env)
        if not _is_tensor(obj) and _is_tensor(index) and isinstance(obj, (list, tuple)):
            raise self.src.error(node.slice, "a Python list cannot be indexed by a tensor (the "
                                 "index is known only at run time)",
                                 "iterate over the list with for, or stack it into a tensor")
        return obj[index]

    def index(self, node: ast.expr, env: dict) -> Any:
        if isinstance(node, ast.Slice):
            return slice(*(None if p is None else self.expr(p, env)
                           for p in (node.lower, node.upper, node.step)))
        if isinstance(node, ast.Tuple):
            return tuple(self.index(e, env) for e in node.elts)
        return self.expr(node, env)

    def e_BinOp(self, node: ast.BinOp, env: dict) -> Any:
        return self.sized(_BINOPS[type(node.op)], self.expr(node.left, env),
                          self.expr(node.right, env))

    def sized(self, fn: Callable, a: Any, b: Any) -> Any:
        """`fn(a, b)`, where a symbolic size (SymDim) meets an int, a size or a tensor: size
        arithmetic where it is exact and decided (`s0 - 1`, `s0 + 1 > s0`), else the same
        operation on the sizes as int64 tensors computed at run time (`i % s0`, `i < s0`)."""
        if not (isinstance(a, SymDim) or isinstance(b, SymDim)):
            return fn(a, b)
        if _is_tensor(a) or _is_tensor(b):
            return fn(self.size_tensor(a), self.size_tensor(b))
        try:
            return fn(a, b)  # size arithmetic, where it is exact and decided
        except (TraceError, ScriptError, TypeError, SymbolicError):
            # not a polynomial, or not decided for every value of the sizes: at run time
            return fn(self.size_tensor(a), self.size_tensor(b))

    def e_UnaryOp(self, node: ast.UnaryOp, env: dict) -> Any:
        x = self.expr(node.operand, env)
        if isinstance(node.op, ast.Not):
            if _is_tensor(x):
                return self.tracer.wrap(self.tracer._emit(
                    LOGICAL_NOT, [self.value(self.as_condition(x, node.operand))], {}))
            return not x
        return _UNOPS[type(node.op)](x)

    def e_Compare(self, node: ast.Compare, env: dict) -> Any:
        left = self.expr(node.left, env)
        result: Any = None
        for op, right_node in zip(node.ops, node.comparators):
            right = self.expr(right_node, env)
            step = self.sized(_CMPOPS[type(op)], left, right) if type(op) in _ORDER \
                else _CMPOPS[type(op)](left, right)
            result = step if result is None else self.logical(result, step, "and", node)
            left = right
        return result

    def logical(self, a: Any, b: Any, kind: str, at: ast.AST) -> Any:
        if not _is_tensor(a):
            return (b if a else a) if kind == "and" else (a if a else b)
        b = self.tensorize(b, None, bool_, "an operand of " + kind, at)
        a, b = self.as_condition(a, at), self.as_condition(b, at)
        if a.dtype is not bool_ or b.dtype is not bool_:
            a, b = a.to(bool_), b.to(bool_)
        return a.logical_and(b) if kind == "and" else a.logical_or(b)

    def e_BoolOp(self, node: ast.BoolOp, env: dict) -> Any:
        kind = "and" if isinstance(node.op, ast.And) else "or"
        result = self.expr(node.values[0], env)
        for right_node in node.values[1:]:
            if not _is_tensor(result):
                if (kind == "and") != bool(result):
                    return result  # short-circuit, decided now
                result = self.expr(right_node, env)
                continue
            box = {**env, "$tmp": None}
            left = result
            cond = self.as_condition(left, node)
            go_on = (lambda e, r=right_node: e.__setitem__("$tmp", self.bool_tensor(
                self.expr(r, e), r)))
            stay = (lambda e: e.__setitem__("$tmp", self.bool_tensor(left, node)))
            if kind == "and":
                self.branch(cond, go_on, stay, box, node)
            else:
                self.branch(cond, stay, go_on, box, node)
            result = box["$tmp"]
        return result

    def bool_tensor(self, x: Any, at: ast.AST) -> Any:
        if not _is_tensor(x):
            return self.tensorize(bool(x), None, bool_, "a condition", at)
        x = self.as_condition(x, at)
        return x if x.dtype is bool_ else x.to(bool_)

    def e_IfExp(self, node: ast.IfExp, env: dict) -> Any:
        test = self.expr(node.test, env)
        if not _is_tensor(test):
            return self.expr(node.body if test else node.orelse, env)
        box = {**env, "$tmp": None}
        self.branch(test, lambda e: e.__setitem__("$tmp", self.expr(node.body, e)),
                    lambda e: e.__setitem__("$tmp", self.expr(node.orelse, e)), box, node)
        return box["$tmp"]

    def e_ListComp(self, node: ast.ListComp, env: dict) -> Any:
        if len(node.generators) != 1 or node.generators[0].is_async:
            raise self.src.error(node, "only list comprehensions with one `for` are supported",
                                 "nest loops with for statements")
        gen = node.generators[0]
        iterable = self.expr(gen.iter, env)
        if _is_tensor(iterable) or isinstance(iterable, SymDim):
            raise self.src.error(gen.iter, "a list comprehension over a tensor would need its "
                                 "length at run time", "use a for loop over range(...)")
        out = []
        for item in list(iterable):
            scope = dict(env)
            self.assign(gen.target, item, scope)
            keep = True
            for cond in gen.ifs:
                c = self.expr(cond, scope)
                if _is_tensor(c):
                    raise self.src.error(cond, "a list comprehension cannot filter on a tensor",
                                         "filter Python values only")
                keep = keep and bool(c)
            if keep:
                out.append(self.expr(node.elt, scope))
        return out

    def e_Starred(self, node: ast.Starred, env: dict) -> Any:
        raise self.src.error(node, "a starred expression is allowed only in calls and lists")

    def e_Slice(self, node: ast.Slice, env: dict) -> Any:
        return self.index(node, env)

    def e_Call(self, node: ast.Call, env: dict) -> Any:
        fn = self.expr(node.func, env)
        args = self.elements(node.args, env)
        kwargs: dict = {}
        for kw in node.keywords:
            if kw.arg is None:
                kwargs.update(self.expr(kw.value, env))
            else:
                kwargs[kw.arg] = self.expr(kw.value, env)
        return self.call(fn, args, kwargs, node)

    def call(self, fn: Any, args: list, kwargs: dict, at: ast.AST) -> Any:
        from .script import ScriptFunction  # late: script imports this module
        location = self.tracer.location
        if isinstance(fn, ScriptFunction):
            fn = fn._fn
        if fn in (int, float, bool) and len(args) == 1 and _is_tensor(args[0]):
            return args[0].to({int: int64, float: float64, bool: bool_}[fn])
        if fn is len and len(args) == 1 and _is_tensor(args[0]):
            return args[0].shape[0] if args[0].dim() else len(args[0])
        if fn is print:
            return None  # printing happens when compiling only in eager code; graphs are silent
        target = self.user_code(fn)
        if target is None and (scanned_in(args) or scanned_in(kwargs.values())):
            return call_with_scanned(fn, args, kwargs)
        try:
            if target is not None:
                function, bound_self = target
                if self.depth > 64:
                    raise self.src.error(at, "scripted calls nest too deeply (recursion is not "
                                         "supported)", "write the recursion as a loop")
                inner = FunctionCompiler(self.tracer, function, self.depth + 1)
                call_args = ([bound_self] if bound_self is not None else []) + list(args)
                path = self.tracer.module_paths.get(id(fn)) if bound_self is fn else None
                if path is None:
                    return inner.run(tuple(call_args), kwargs)
                with self.tracer.in_module(path):  # a submodule's forward, compiled inline
                    return inner.run(tuple(call_args), kwargs)
            return fn(*args, **kwargs)
        finally:
            self.tracer.location = location

    def user_code(self, fn: Any) -> tuple | None:
        """(function, self or None) when `fn` is user Python to compile inline, else None."""
        if inspect.isfunction(fn):
            return None if is_library(fn) else (fn, None)
        if inspect.ismethod(fn) and inspect.isfunction(fn.__func__):
            return None if is_library(fn.__func__) else (fn.__func__, fn.__self__)
        forward = getattr(type(fn), "forward", None)
        if callable(fn) and not inspect.isclass(fn) and inspect.isfunction(forward) and \
                hasattr(fn, "_modules") and not is_library(forward):
            return forward, fn  # a user-defined nn.Module: compile its forward
        return None


_MISSING = object()  # the value of a name in an arm that returned


def _leaves(parts: Any) -> list:
    """The sequences a zip/enumerate structure (see `FunctionCompiler.sequence`) reads."""
    if isinstance(parts, tuple) and parts[0] == "zip":
        return [x for p in parts[1] for x in _leaves(p)]
    if isinstance(parts, tuple) and parts[0] == "enumerate":
        return _leaves(parts[1])
    return [parts]


def _tensor_sequence(parts: tuple) -> bool:
    """Whether every sequence zipped is a tensor (its rows are items: a loop, not a list)."""
    leaves = _leaves(parts)
    return bool(leaves) and all(_is_tensor(x) for x in leaves)


def _python_sequence(parts: Any) -> Any:
    """The Python iterator a zip/enumerate structure stands for."""
    if isinstance(parts, tuple) and parts[0] == "zip":
        return zip(*(_python_sequence(p) for p in parts[1]))
    if isinstance(parts, tuple) and parts[0] == "enumerate":
        return enumerate(_python_sequence(parts[1]), parts[2])
    return parts


def _length(parts: Any, as_tensor: Callable) -> Any:
    """The number of items: a tensor's first size, the shortest of a zip's (a size when all
    are the same, else their minimum as an int64 tensor computed at run time)."""
    if isinstance(parts, tuple) and parts[0] == "zip":
        sizes = [_length(p, as_tensor) for p in parts[1]]
        if all(isinstance(n, int) for n in sizes):
            return min(sizes)
        if all(isinstance(n, SymDim) for n in sizes) and len({n.expr for n in sizes}) == 1:
            return sizes[0]
        tensors = [as_tensor(n) for n in sizes if not isinstance(n, int)]
        out = tensors[0]
        for t in tensors[1:]:
            out = out.minimum(t)
        ints = [n for n in sizes if isinstance(n, int)]
        return out.clamp(max=min(ints)) if ints else out
    if isinstance(parts, tuple) and parts[0] == "enumerate":
        return _length(parts[1], as_tensor)
    return parts.shape[0]


def _item(parts: Any, i: Any) -> Any:
    """Item `i` (a 0-d int64 tensor) of a zip/enumerate structure over tensors."""
    if isinstance(parts, tuple) and parts[0] == "zip":
        return tuple(_item(p, i) for p in parts[1])
    if isinstance(parts, tuple) and parts[0] == "enumerate":
        return (i + parts[2] if parts[2] else i, _item(parts[1], i))
    return parts[i]


def _lists_in(env: dict) -> list:
    found: dict = {}
    for v in env.values():
        if isinstance(v, list):
            found[id(v)] = v
    return list(found.values())


def _ends_in_exit(stmts: list) -> bool:
    """Whether a statement list always leaves by return, break or continue (syntactically)."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (ast.Return, ast.Break, ast.Continue)):
        return True
    if isinstance(last, ast.If):
        return _ends_in_exit(last.body) and _ends_in_exit(last.orelse)
    return False


def _has_effects(blocks: list) -> bool:
    from ..ir.graph import walk
    return any(n.op.effect for b in blocks for n in walk(b.nodes))


def _same_python_value(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if _is_tensor(a) or _is_tensor(b) or type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


def _describe(x: Any) -> str:
    if _is_tensor(x):
        return f"a tensor {_fmt_type(x._tracer.current(x).type)}"
    return f"a {type(x).__name__} ({x!r})" if isinstance(x, _SCALARS) else \
        f"a {type(x).__name__}"


def _sizes_differ(err: ScriptError, a: Any, b: Any) -> ScriptError:
    """Attach to a type-mismatch error the symbol equations that would remove it (a symbol
    against a size or another symbol, same dtype and rank), as `err.equate`: what the generic
    graph search (script.generic_graph) unifies; empty when the types differ otherwise."""
    equate: dict = {}
    if getattr(a, "dtype", None) is getattr(b, "dtype", 0) and len(a.shape) == len(b.shape):
        for x, y in zip(a.shape, b.shape):
            if x == y:
                continue
            if isinstance(x, str) and isinstance(y, str):
                first, second = sorted((x, y), key=lambda q: (len(q), q))
                equate[second] = first
            elif isinstance(x, str) or isinstance(y, str):
                equate[x if isinstance(x, str) else y] = y if isinstance(x, str) else x
            else:
                equate = {}
                break
    err.equate = equate
    return err


def _fmt_type(t: Any) -> str:
    from ..ir.text import format_type
    return format_type(t)


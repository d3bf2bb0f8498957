"""The text form of graphs: printed and parsed back, so tests and bug reports can state graphs.

    graph(%x: f32[B, 784], %w: f32[784, 10], %b: f32[10]) {
      %0 = matmul(%x, %w) : f32[B, 10]
      %1 = add(%0, %b) : f32[B, 10]
      %2 = sum(%1) {dim=1, keepdim=False, dtype=None} : f32[B]
      return (%2)
    }

Types: a short dtype name, then dims in brackets (ints, symbols or expressions of symbols:
`f32[B*T, 8]`, `f32[B + 1]`; see ir/symbolic.py), `@cuda:0` for GPU values. An expression in
an attribute prints as its text in quotes (`shape=('B*T', 8)`) and parses back to a SymExpr.
Inputs that are Python scalars print as literals. Attributes print as Python literals, plus
`slice(...)`, `...`, dtype names and `device('cuda:0')`; the parser evaluates them with a small
whitelist over Python's `ast` — never `eval`. Small constants print their data inline; large ones
refer by name (`value='@c0'`) to `graph.tensors`. A node that a submodule emitted ends in
its module path as a comment, as PyTorch's traced graphs print their `scope:`
(`%3 = addmm(%b, %0, %2) : f32[B, 10]  # module: fc1`); the parser reads it back into
`node.meta["module"]`. print(parse(print(g))) == print(g).
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

import numpy as np

from .graph import MODULE, Block, Graph, Node, Value
from .registry import get
from .symbolic import SymbolicError, SymExpr, parse_dim
from .types import ALL_DTYPES, Device, DType, ListType, TensorType, TupleType

SHORT = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64", "int8": "i8", "int16": "i16",
         "int32": "i32", "int64": "i64", "uint8": "u8", "bool": "bool"}
_BY_SHORT = {v: d for d in ALL_DTYPES for k, v in SHORT.items() if k == d.name}
_DTYPE_NAMES = {d.name: d for d in ALL_DTYPES}
INLINE_LIMIT = 16  # constants with at most this many elements print their values
MODULE_NOTE = "  # module: "  # how a node's module path ends its line
# a path the comment can carry: dot-separated names of word characters and hyphens (attribute
# names, list indices, ModuleDict keys such as `block-1`); others are not printed
_MODULE_PATH = re.compile(r"[\w\-]+(?:\.[\w\-]+)*")
_MODULE_NOTE = re.compile(r"\s+#\s*module:\s*(" + _MODULE_PATH.pattern + r")\s*$")


class ParseError(ValueError):
    """The text is not a graph; the message gives the line and what was expected."""


# -------------------------------------------------------------------------------------- print

def format_type(t: Any) -> str:
    if isinstance(t, TensorType):
        dims = ", ".join(str(d) for d in t.shape)
        dev = "" if t.device.type == "cpu" else f"@{t.device}"
        return f"{SHORT[t.dtype.name]}[{dims}]{dev}"
    if isinstance(t, type):
        return t.__name__
    if isinstance(t, TupleType):
        inner = ", ".join(format_type(e) for e in t.elements)
        return f"tuple[{inner}]"
    if isinstance(t, ListType):
        return f"list[{format_type(t.element)}]"
    raise TypeError(f"cannot print type {t!r}")


def format_attr(v: Any) -> str:
    if isinstance(v, DType):
        return v.name
    if isinstance(v, (TensorType, ListType)):
        return format_type(v)
    if isinstance(v, Device):
        return f"device('{v}')"
    if v is Ellipsis:
        return "..."
    if isinstance(v, slice):
        return f"slice({format_attr(v.start)}, {format_attr(v.stop)}, {format_attr(v.step)})"
    if isinstance(v, tuple):
        inner = ", ".join(format_attr(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, list):
        return "[" + ", ".join(format_attr(x) for x in v) + "]"
    if isinstance(v, np.ndarray):
        return format_attr(v.tolist())
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, (bool, int, float, str)) or v is None:
        return repr(v)
    raise TypeError(f"attribute value {v!r} has no text form")


def _names(graph: Graph) -> dict:
    """Inputs keep their names; every other value is numbered in printing order: a node's
    outputs, then its blocks' inputs and nodes."""
    names: dict = {}
    for v in graph.inputs:
        names[v] = v.name
    counter = [0]

    def number(nodes: list) -> None:
        for node in nodes:
            for v in node.outputs:
                names[v] = str(counter[0])
                counter[0] += 1
            for block in node.blocks:
                for v in block.inputs:
                    names[v] = str(counter[0])
                    counter[0] += 1
                number(block.nodes)

    number(graph.nodes)
    return names


def _ref(x: Any, names: dict) -> str:
    if isinstance(x, Value):
        return "%" + names.get(x, x.name or "?")
    return format_attr(x)


def format_node(node: Node, names: dict) -> str:
    outs = ", ".join("%" + names.get(v, v.name or "?") for v in node.outputs)
    args = ", ".join(_ref(x, names) for x in node.inputs)
    attrs = dict(node.attrs)
    if node.op.name == "constant" and isinstance(attrs.get("value"), np.ndarray):
        value, name = attrs["value"], node.meta.get("tensor")
        attrs["value"] = value if value.size <= INLINE_LIMIT or name is None else "@" + name
    text = f"{outs} = {node.op.name}({args})"
    if attrs:
        text += " {" + ", ".join(f"{k}={format_attr(v)}" for k, v in attrs.items()) + "}"
    return text + " : " + ", ".join(format_type(v.type) for v in node.outputs)


def print_graph(graph: Graph) -> str:
    names = _names(graph)
    head = ", ".join(f"%{v.name}: {format_type(v.type)}" for v in graph.inputs)
    lines = [f"graph({head}) {{"]
    _print_nodes(graph.nodes, names, "  ", lines)
    lines.append("  return (" + ", ".join(_ref(v, names) for v in graph.outputs) + ")")
    lines.append("}")
    return "\n".join(lines)


def module_note(node: Node) -> str:
    """The comment that ends a node's line: its module path, or '' (none, or not printable)."""
    path = node.meta.get(MODULE)
    if isinstance(path, str) and _MODULE_PATH.fullmatch(path):
        return MODULE_NOTE + path
    return ""


def _print_nodes(nodes: list, names: dict, indent: str, lines: list) -> None:
    for node in nodes:
        text = indent + format_node(node, names)
        if not node.blocks:
            lines.append(text + module_note(node))
            continue
        lines.append(text + " {" + module_note(node))
        for block in node.blocks:
            params = ", ".join(f"%{names[v]}: {format_type(v.type)}" for v in block.inputs)
            lines.append(f"{indent}  {block.name}({params}) {{")
            _print_nodes(block.nodes, names, indent + "    ", lines)
            yields = ", ".join(_ref(v, names) for v in block.outputs)
            lines.append(f"{indent}    yield ({yields})")
            lines.append(f"{indent}  }}")
        lines.append(indent + "}")


# -------------------------------------------------------------------------------------- parse

_TYPE = re.compile(r"^(\w+)\[([^\]]*)\](?:@(\S+))?$")


def parse_type(text: str) -> Any:
    text = text.strip()
    if text in ("int", "float", "bool"):
        return {"int": int, "float": float, "bool": bool}[text]
    if text.startswith("tuple[") and text.endswith("]"):
        return TupleType(parse_type(p) for p in _split(text[len("tuple["):-1]))
    if text.startswith("list[") and text.endswith("]"):
        return ListType(parse_type(text[len("list["):-1]))
    m = _TYPE.match(text)
    if not m or m.group(1) not in _BY_SHORT:
        raise ParseError(f"expected a type like f32[B, 3], got {text!r}")
    dims = []
    for d in (p.strip() for p in m.group(2).split(",") if p.strip()):
        try:
            dims.append(parse_dim(d))
        except SymbolicError as exc:
            raise ParseError(f"in type {text!r}: {exc}") from None
    return TensorType(_BY_SHORT[m.group(1)], dims, Device(m.group(3) or "cpu"))


def _split(text: str) -> list:
    """Split on commas outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def _literal(node: ast.AST) -> Any:
    """Evaluate an attribute expression from the whitelist: literals, tuples, lists, negation,
    dtype names, slice(...), device(...)."""
    if isinstance(node, ast.Constant):
        return symbolic_attr(node.value)
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e) for e in node.elts)
    if isinstance(node, ast.List):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _literal(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Name) and node.id in _DTYPE_NAMES:
        return _DTYPE_NAMES[node.id]
    if isinstance(node, ast.Name) and node.id in ("inf", "nan"):
        return math.inf if node.id == "inf" else math.nan
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        args = [_literal(a) for a in node.args]
        if node.func.id == "slice" and len(args) == 3:
            return slice(*args)
        if node.func.id == "device" and len(args) == 1:
            return Device(args[0])
    raise ParseError(f"unsupported attribute expression: {ast.unparse(node)}")


def symbolic_attr(v: Any) -> Any:
    """A string attribute that is the text of a compound size expression (`'B*T'`) as its
    SymExpr, in canonical form; anything else as it is."""
    if isinstance(v, str) and not isinstance(v, SymExpr) and any(c in v for c in "+-*/") \
            and len(v) <= 512:
        try:
            e = SymExpr(v)
        except (SymbolicError, RecursionError, MemoryError):
            return v
        return e if isinstance(e, SymExpr) else v  # '3-1' stays a string, never 2
    return v


def parse_value_literal(text: str) -> Any:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ParseError(f"not a literal: {text!r}") from None
    return _literal(tree.body)


_NODE = re.compile(r"^(%[\w.]+(?:\s*,\s*%[\w.]+)*)\s*=\s*(\w+)\((.*?)\)\s*(\{.*\})?\s*:\s*(.+)$")


def parse_graph(text: str, tensors: dict | None = None) -> Graph:
    """Build a Graph from its text form; `tensors` supplies the data of `@name` constants."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("graph(") or not lines[0].endswith("{"):
        raise ParseError("line 1: expected 'graph(%name: type, ...) {'")
    graph = Graph()
    env: dict = {}
    header = lines[0][len("graph("):lines[0].rindex(")")]
    for part in _split(header):
        name, _, typ = part.partition(":")
        name = name.strip().lstrip("%")
        env[name] = graph.add_input(parse_type(typ), name)
    parser = _Parser(lines, graph, tensors or {})
    end, graph.outputs = parser.body(1, env, graph.nodes, "return")
    if end >= len(lines) or lines[end] != "}":
        raise ParseError("missing closing '}'")
    return graph


class _Parser:
    """Recursive descent over lines: a body is nodes up to `return` (a graph) or `yield` (a
    block); a node line ending in '{' owns blocks, each `name(%params) { body }`."""

    def __init__(self, lines: list, graph: Graph, tensors: dict) -> None:
        self.lines, self.graph, self.tensors = lines, graph, tensors

    def line(self, i: int) -> str:
        if i >= len(self.lines):
            raise ParseError("missing closing '}'")
        return self.lines[i]

    def body(self, i: int, env: dict, nodes: list, keyword: str) -> tuple:
        while True:
            line = self.line(i)
            if line.startswith(keyword):
                inner = line[len(keyword):].strip()
                if not (inner.startswith("(") and inner.endswith(")")):
                    raise ParseError(f"line {i + 1}: expected '{keyword} (%a, ...)'")
                return i + 1, [_operand(p, env, i + 1) for p in _split(inner[1:-1])]
            if line == "}":
                raise ParseError(f"line {i + 1}: expected '{keyword} (...)' before '}}'")
            note = _MODULE_NOTE.search(line)
            if note:
                line = line[:note.start()]
            opens = line.endswith("{")
            node, names = _parse_node(line[:-1].rstrip() if opens else line, env, i + 1,
                                      self.graph, self.tensors)
            if note:
                node.meta[MODULE] = note.group(1)
            i += 1
            if opens:
                i = self.blocks(i, env, node)
            for name, v in zip(names, node.outputs):  # defined after the node's own blocks
                v.name = name
                env[name] = v
            nodes.append(node)

    def blocks(self, i: int, env: dict, node: Node) -> int:
        while self.line(i) != "}":
            m = re.match(r"^(\w+)\((.*)\)\s*\{$", self.line(i))
            if not m:
                raise ParseError(f"line {i + 1}: expected a block 'name(%param: type, ...) {{'")
            block = Block(m.group(1))
            inner = dict(env)
            for part in _split(m.group(2)):
                name, _, typ = part.partition(":")
                v = Value(parse_type(typ), name.strip().lstrip("%"))
                block.inputs.append(v)
                inner[v.name] = v
            i, block.outputs = self.body(i + 1, inner, block.nodes, "yield")
            if self.line(i) != "}":
                raise ParseError(f"line {i + 1}: expected '}}' closing block {block.name}")
            node.blocks.append(block)
            i += 1
        return i + 1


def _operand(text: str, env: dict, lineno: int) -> Any:
    if text.startswith("%"):
        name = text[1:]
        if name not in env:
            raise ParseError(f"line {lineno}: %{name} is not defined")
        return env[name]
    return parse_value_literal(text)


def _parse_node(line: str, env: dict, lineno: int, graph: Graph, tensors: dict) -> tuple:
    m = _NODE.match(line)
    if not m:
        raise ParseError(f"line {lineno}: expected '%out = op(args) {{attrs}} : type', got "
                         f"{line!r}")
    outs, opname, args, attr_text, types = m.groups()
    try:
        op = get(opname)
    except KeyError:
        raise ParseError(f"line {lineno}: unknown op {opname!r}") from None
    inputs = [_operand(a, env, lineno) for a in _split(args)]
    attrs = {}
    if attr_text:
        for item in _split(attr_text[1:-1]):
            key, _, value = item.partition("=")
            attrs[key.strip()] = parse_value_literal(value)
    out_types = [parse_type(t) for t in _split(types)]
    try:
        attrs = op.full_attrs(attrs)
    except TypeError as exc:
        raise ParseError(f"line {lineno}: {exc}") from None
    node = Node(op, inputs, attrs, out_types)
    if opname == "constant":
        _attach_constant(node, out_types[0], tensors, lineno)
        if "tensor" in node.meta:
            graph.tensors[node.meta["tensor"]] = node.attrs["value"]
    return node, [o.strip().lstrip("%") for o in outs.split(",")]


def _attach_constant(node: Node, typ: TensorType, tensors: dict, lineno: int) -> None:
    value = node.attrs.get("value")
    if isinstance(value, str) and value.startswith("@"):
        name = value[1:]
        if name not in tensors:
            raise ParseError(f"line {lineno}: constant @{name} has no data")
        node.attrs["value"] = np.asarray(tensors[name])
        node.meta["tensor"] = name
    else:
        node.attrs["value"] = np.asarray(value, dtype=typ.dtype.np).reshape(typ.shape)

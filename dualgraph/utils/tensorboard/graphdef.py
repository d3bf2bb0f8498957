"""A dualgraph Graph as a TensorFlow GraphDef, the form TensorBoard's graph tab draws.

Node names carry the scopes TensorBoard folds into boxes: the module path (`fc1/matmul`, from
`scopes.py`; `layers.0.attn` becomes `layers/0/attn`), and for a node with blocks (a fused
group, `if`, `loop`) a scope of its own holding the node and its blocks' nodes
(`fused/relu`, `loop/body/add`). Graph inputs are `input/<name>`, parameters and buffers are
scoped by their qualified name (`fc1/weight`), outputs are `output/<i>`. Every node carries its
outputs' shapes (`_output_shapes`, -1 for a symbolic size), its dtype, its type as the text IR
prints it, its non-default attributes, its literal operands and its source line.
"""

from __future__ import annotations

from tensorboard.compat.proto import types_pb2
from tensorboard.compat.proto.attr_value_pb2 import AttrValue
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.versions_pb2 import VersionDef

from dualgraph.ir.graph import Block, Graph, Node, Value
from dualgraph.ir.text import format_attr, format_type
from dualgraph.ir.types import TensorType
from dualgraph.viz import node_attrs

from .scopes import MODULE_KEY, module_of
from .summaries import shape_proto

GRAPHDEF_PRODUCER = 22  # the GraphDef version PyTorch's writer also declares

DTYPES = {
    "float16": types_pb2.DT_HALF, "bfloat16": types_pb2.DT_BFLOAT16,
    "float32": types_pb2.DT_FLOAT, "float64": types_pb2.DT_DOUBLE,
    "int8": types_pb2.DT_INT8, "int16": types_pb2.DT_INT16, "int32": types_pb2.DT_INT32,
    "int64": types_pb2.DT_INT64, "uint8": types_pb2.DT_UINT8, "bool": types_pb2.DT_BOOL,
    "complex64": types_pb2.DT_COMPLEX64, "complex128": types_pb2.DT_COMPLEX128,
}
SCALAR_DTYPES = {int: types_pb2.DT_INT64, float: types_pb2.DT_DOUBLE, bool: types_pb2.DT_BOOL}


def _scope(path: str) -> str:
    return "/".join(p for p in path.split(".") if p)


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


class _Builder:
    """Emits NodeDefs with unique names; remembers which NodeDef output each Value is."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.names: set = set()
        self.where: dict = {}  # Value -> "name" or "name:k"

    def unique(self, name: str) -> str:
        if name not in self.names:
            self.names.add(name)
            return name
        k = 1
        while f"{name}_{k}" in self.names:
            k += 1
        self.names.add(f"{name}_{k}")
        return f"{name}_{k}"

    def emit(self, name: str, op: str, inputs: list, types: list, attrs: dict) -> str:
        name = self.unique(name)
        node = NodeDef(name=name, op=op, input=inputs)
        _type_attrs(node, types)
        for key, text in attrs.items():
            node.attr[key].CopyFrom(AttrValue(s=text.encode("utf-8")))
        self.nodes.append(node)
        return name

    def define(self, values: list, name: str) -> None:
        for i, v in enumerate(values):
            self.where[v] = name if i == 0 else f"{name}:{i}"

    def ref(self, v: Value) -> str:
        return self.where[v]


def _type_attrs(node: NodeDef, types: list) -> None:
    """`_output_shapes` (one shape per output), `dtype` (the first output's) and `type` (every
    output's type as the text IR prints it)."""
    shapes = []
    for t in types:
        shapes.append(shape_proto(t.shape) if isinstance(t, TensorType) else shape_proto(()))
    if types:
        node.attr["_output_shapes"].list.shape.extend(shapes)
        first = types[0]
        dtype = DTYPES.get(first.dtype.name) if isinstance(first, TensorType) else \
            SCALAR_DTYPES.get(first)
        if dtype is not None:
            node.attr["dtype"].type = dtype
        node.attr["type"].s = ", ".join(format_type(t) for t in types).encode("utf-8")


def _literal(x: object) -> str:
    try:
        return format_attr(x)
    except TypeError:
        return repr(x)


def _node_attrs(node: Node) -> dict:
    """Non-default attributes (as the picture of `dualgraph.viz` labels them), literal operands
    under their input names, the source line and the module path; all as strings."""
    attrs = {}
    for text in node_attrs(node):
        key, _, value = text.partition("=")
        attrs[key] = value
    names = node.op.inputs
    for i, x in enumerate(node.inputs):
        if not isinstance(x, Value):
            attrs[names[i] if i < len(names) and not names[i].startswith("*")
                  else f"arg{i}"] = _literal(x)
    if node.meta.get("source"):
        attrs["source"] = str(node.meta["source"])
    if node.meta.get(MODULE_KEY):
        attrs["module"] = str(node.meta[MODULE_KEY])
    return attrs


def _emit_nodes(b: _Builder, nodes: list, scope: str | None) -> None:
    """Emit `nodes`; with `scope` None each node is scoped by its module path, otherwise all of
    them sit in `scope` (inside a block)."""
    for node in nodes:
        where = _scope(module_of(node)) if scope is None else scope
        if node.blocks:
            _emit_control(b, node, where)
            continue
        inputs = [b.ref(x) for x in node.inputs if isinstance(x, Value)]
        name = b.emit(_join(where, node.op.name), node.op.name, inputs,
                      [v.type for v in node.outputs], _node_attrs(node))
        b.define(node.outputs, name)


def _block_sources(node: Node, block: Block) -> list:
    """The outer value each block input starts from (None where there is none): a fused body's
    inputs are the node's inputs; a loop body's are the count (none) and the carried values."""
    outer = [x if isinstance(x, Value) else None for x in node.inputs]
    if len(block.inputs) == len(outer):
        return outer
    carried = outer[2:] if node.op.name == "loop" else []
    return ([None] * (len(block.inputs) - len(carried)) + carried)[:len(block.inputs)]


def _emit_control(b: _Builder, node: Node, where: str) -> None:
    """A node with blocks: a scope `<op>` holding each block's nodes (`then/`, `else/`,
    `body/`), the block's inputs and yields, and the node itself, fed by its operands and by
    the yields (so the picture stays acyclic: a loop's body feeds the loop node)."""
    group = b.unique(_join(where, node.op.name))
    yields = []
    for block in node.blocks:
        inner = _join(group, block.name)
        for v, source in zip(block.inputs, _block_sources(node, block)):
            name = b.emit(f"{inner}/input", "BlockInput",
                          [b.ref(source)] if source is not None else [], [v.type], {})
            b.define([v], name)
        _emit_nodes(b, block.nodes, inner)
        refs = [b.ref(y) for y in block.outputs if isinstance(y, Value)]
        yields.append(b.emit(f"{inner}/yield", "Yield", refs,
                             [y.type for y in block.outputs if isinstance(y, Value)], {}))
    inputs = [b.ref(x) for x in node.inputs if isinstance(x, Value)] + yields
    name = b.emit(f"{group}/{node.op.name}", node.op.name, inputs,
                  [v.type for v in node.outputs], _node_attrs(node))
    b.define(node.outputs, name)


def graph_def(graph: Graph) -> GraphDef:
    """The GraphDef of `graph`: inputs, parameters, every node (blocks' nodes included, in
    their scopes) and the outputs."""
    b = _Builder()
    n_user = graph.meta.get("user_inputs", len(graph.inputs))
    params = list(graph.meta.get("params") or ())
    for i, v in enumerate(graph.inputs):
        if i < n_user or i - n_user >= len(params):
            name = b.emit(f"input/{v.name or i}", "Input", [], [v.type], {})
        else:
            qual = params[i - n_user]
            name = b.emit(_scope(qual), "Parameter", [], [v.type], {"name": qual})
        b.define([v], name)
    _emit_nodes(b, graph.nodes, None)
    for j, v in enumerate(graph.outputs):
        b.emit(f"output/{j}", "Output", [b.ref(v)], [v.type], {})
    return GraphDef(node=b.nodes, versions=VersionDef(producer=GRAPHDEF_PRODUCER))

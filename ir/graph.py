"""The static graph: typed SSA values, nodes in topological order, and graphs.

A `Graph` has input `Value`s, an ordered list of `Node`s and output `Value`s. A node applies an
`OpDef` to inputs that are Values or Python scalar literals, with attributes, and defines output
Values whose types come from the op's meta function. Passes treat graphs as values: users are
computed on demand (`uses()`), never stored. The text form (`text.py`) prints and parses back.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from .registry import OpDef
from .types import FRESH, TensorType


class Value:
    """An SSA value: defined once (by a graph input or a node output), typed."""

    __slots__ = ("type", "name", "node", "index")

    def __init__(self, type: Any, name: str | None = None, node: "Node | None" = None,
                 index: int = 0) -> None:
        self.type = type
        self.name = name
        self.node = node  # the defining node, None for graph inputs
        self.index = index

    def __repr__(self) -> str:
        return f"%{self.name}" if self.name is not None else f"<Value {self.type}>"


class Block:
    """A nested region of a control-flow node (`if`'s then/else, `loop`'s body): its own inputs
    (a loop's iteration count and carried values), nodes in order, and the values it yields. Its
    nodes may use any value defined before the node that owns the block, in enclosing scopes."""

    __slots__ = ("name", "inputs", "nodes", "outputs")

    def __init__(self, name: str, inputs: Sequence[Value] = (), nodes: Sequence["Node"] = (),
                 outputs: Sequence = ()) -> None:
        self.name = name
        self.inputs = list(inputs)
        self.nodes = list(nodes)
        self.outputs = list(outputs)


class Node:
    """One op application. `inputs` are Values or Python scalars; `attrs` are complete (defaults
    filled in); `blocks` are the nested regions of control-flow ops; `meta` holds free
    annotations: the source location (`source`), the path of the submodule that emitted it
    (`module`, see `module_of`), a constant's tensor name (`tensor`)."""

    __slots__ = ("op", "inputs", "attrs", "outputs", "blocks", "meta")

    def __init__(self, op: OpDef, inputs: Sequence, attrs: dict, output_types: Sequence,
                 blocks: Sequence[Block] = ()) -> None:
        self.op = op
        self.inputs = list(inputs)
        self.attrs = dict(attrs)
        self.outputs = [Value(t, None, self, i) for i, t in enumerate(output_types)]
        self.blocks = list(blocks)
        self.meta: dict = {}

    @property
    def output(self) -> Value:
        return self.outputs[0]

    def input_values(self) -> list:
        return [x for x in self.inputs if isinstance(x, Value)]

    def __repr__(self) -> str:
        from .text import format_node
        return format_node(self, {})


def walk(nodes: Sequence[Node]) -> Iterator[Node]:
    for node in nodes:
        yield node
        for block in node.blocks:
            yield from walk(block.nodes)


_SCALAR_EXAMPLES = {int: 0, float: 0.0, bool: False}


def operand_type(x: Any) -> Any:
    """What a meta function is given for a node input: a Value's type (a scalar-typed Value as
    an example value of its type, so promotion sees a weak scalar), or a literal as it is."""
    if isinstance(x, Value):
        return _SCALAR_EXAMPLES.get(x.type, x.type)
    return x


MODULE = "module"  # node.meta key: the dotted path of the submodule whose forward emitted it


def common_module(paths: Sequence[str]) -> str:
    """The longest dotted prefix the paths share (`layers.0` of `layers.0.attn`, `layers.0.mlp`);
    '' when one of them is the top level or they share nothing."""
    parts = [p.split(".") if p else [] for p in paths]
    common: list = []
    for level in zip(*parts):
        if any(x != level[0] for x in level):
            break
        common.append(level[0])
    return ".".join(common) if parts else ""


def module_of(node: "Node") -> str:
    """The module path recorded for `node` ('' for the top level); a node with blocks and no
    path of its own (an `if`, a `loop`) takes the longest path its inner nodes share."""
    path = node.meta.get(MODULE)
    if isinstance(path, str):
        return path
    inner = [module_of(n) for block in node.blocks for n in block.nodes]
    return common_module(inner) if inner else ""


class Graph:
    """Inputs, nodes in execution order, outputs. `tensors` holds the data of large constants
    (referenced by name from `constant` nodes); `meta` is free-form (e.g. parameter names)."""

    def __init__(self, inputs: Sequence[Value] = (), nodes: Sequence[Node] = (),
                 outputs: Sequence[Value] = (), name: str = "graph") -> None:
        self.inputs = list(inputs)
        self.nodes = list(nodes)
        self.outputs = list(outputs)
        self.name = name
        self.tensors: dict[str, Any] = {}
        self.meta: dict = {}

    def add_input(self, type: Any, name: str) -> Value:
        v = Value(type, name)
        self.inputs.append(v)
        return v

    def add_node(self, op: OpDef, inputs: Sequence, attrs: dict | None = None) -> Node:
        """Append `op(inputs)`; output types come from the op's meta function."""
        attrs = op.full_attrs(attrs or {})
        types = [operand_type(x) for x in inputs]
        node = Node(op, inputs, attrs, [self._name_fresh(t) for t in op.meta_all(types, attrs)])
        self.nodes.append(node)
        return node

    def _name_fresh(self, t: Any) -> Any:
        """Give each data-dependent size (FRESH) a new symbol of this graph: u0, u1, ..."""
        if not isinstance(t, TensorType) or not any(d is FRESH for d in t.shape):
            return t
        shape = []
        for d in t.shape:
            if d is FRESH:
                d = f"u{self.meta.get('fresh', 0)}"
                self.meta["fresh"] = self.meta.get("fresh", 0) + 1
            shape.append(d)
        return TensorType(t.dtype, shape, t.device)

    def all_nodes(self) -> Iterator[Node]:
        """Every node, nested blocks' nodes included (each after the node that owns it)."""
        yield from walk(self.nodes)

    def uses(self) -> dict:
        """{Value: [(node, input position)]}, computed afresh (graphs are edited by passes).
        Uses inside blocks count; a block's yields are not node inputs and are not listed."""
        users: dict = {}
        for node in self.all_nodes():
            for i, x in enumerate(node.inputs):
                if isinstance(x, Value):
                    users.setdefault(x, []).append((node, i))
        return users

    def values(self) -> Iterator[Value]:
        yield from self.inputs
        for node in self.all_nodes():
            for block in node.blocks:
                yield from block.inputs
            yield from node.outputs

    def op_counts(self) -> dict:
        counts: dict = {}
        for node in self.all_nodes():
            counts[node.op.name] = counts.get(node.op.name, 0) + 1
        return counts

    def symbols(self) -> list:
        """The symbol names the inputs' sizes use (those inside expressions such as `B*T`
        included), in order of first appearance."""
        from .symbolic import symbols_of
        seen: list = []
        for v in self.inputs:
            if isinstance(v.type, TensorType):
                for d in v.type.shape:
                    for s in symbols_of(d):
                        if s not in seen:
                            seen.append(s)
        return seen

    def to_networkx(self) -> Any:
        """A networkx DiGraph: one vertex per input, node and output, edges along values."""
        import networkx as nx
        g = nx.DiGraph()
        where: dict = {}
        for v in self.inputs:
            g.add_node(f"input:{v.name}", kind="input", type=v.type)
            where[v] = f"input:{v.name}"
        for i, node in enumerate(self.nodes):
            g.add_node(i, kind="op", op=node.op.name, attrs=node.attrs)
            for x in node.input_values():
                g.add_edge(where[x], i, type=x.type)
            for v in node.outputs:
                where[v] = i
        for j, v in enumerate(self.outputs):
            g.add_node(f"output:{j}", kind="output", type=v.type)
            g.add_edge(where[v], f"output:{j}", type=v.type)
        return g

    def __str__(self) -> str:
        from .text import print_graph
        return print_graph(self)

    def __repr__(self) -> str:
        return str(self)

    def _repr_svg_(self) -> str:
        from dualgraph.viz import to_dot
        return to_dot(self)._repr_image_svg_xml()

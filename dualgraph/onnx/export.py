"""`dualgraph.onnx.export`: a function, module or compiled function -> an ONNX model file.

Stages: (1) obtain the graph — trace a plain function or module on `args` (with the dims that
`dynamic_shapes` / `dynamic_axes` mark kept symbolic), script functions specialize on `args`,
compiled and loaded functions give their captured graph; (2) walk its nodes through the export
table (export_table.EXPORT), an op without an entry refused by name; (3) state inputs (parameters,
buffers) become initializers, the user's inputs and outputs graph inputs and outputs with
symbolic sizes as `dim_param`s; (4) check the model with ONNX's checker and shape inference.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from ..ir.graph import Graph
from ._deps import onnx
from .emitter import Emitter, ExportError
from .export_table import EXPORT, REFUSED
from .source import graph_and_state

DEFAULT_OPSET = 18
MIN_OPSET = 18  # axes of reductions as inputs, Split's sizes as an input
MAX_OPSET = 22
EXTERNAL_DATA_BYTES = 2 << 30  # protobuf's limit: larger models keep their weights beside


def export(model: Any, args: Any, f: Any = None, *,
           input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
           opset_version: int | None = None, dynamic_shapes: Any = None,
           dynamic_axes: Any = None, external_data: bool | None = None) -> Any:
    """Export `model` (a function, an `nn.Module`, or a traced/scripted/loaded function) run on
    `args` (a tensor or a tuple) as an ONNX model written to `f` (a path or a binary file
    object); returns the `onnx.ModelProto`. Modules are captured in eval mode, as PyTorch's
    exporter does by default. `dynamic_shapes` ({arg name or position: {dim: name}}, or per
    argument one Dim-or-None per dim) or the older `dynamic_axes` ({input or output name:
    {dim: name} or [dims]}) keep sizes symbolic; a compiled function's own symbolic sizes need
    neither. Raises ExportError naming the ops that ONNX cannot express."""
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"onnx.export(): opset_version must be in [{MIN_OPSET}, {MAX_OPSET}], "
                         f"got {opset_version}")
    graph, state, names = graph_and_state(model, args, dynamic_shapes, dynamic_axes)
    proto = export_graph(graph, state, names, opset=opset, input_names=input_names,
                         output_names=output_names, dynamic_axes=dynamic_axes)
    if f is not None:
        save(proto, f, external_data)
    return proto


def save(proto: Any, f: Any, external_data: bool | None = None) -> None:
    """Write a model; weights go to a `<file>.data` beside it above 2 GB (or when asked)."""
    big = proto.ByteSize() > EXTERNAL_DATA_BYTES if external_data is None else external_data
    if hasattr(f, "write"):
        if big:
            raise ValueError("onnx.export(): a model with external data needs a path, not a "
                             "file object")
        f.write(proto.SerializeToString())
        return
    path = os.fspath(f)
    if big:
        onnx().save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True,
                          location=os.path.basename(path) + ".data", size_threshold=1024)
    else:
        onnx().save_model(proto, path)


def missing_ops(graph: Graph) -> list:
    """The ops of `graph` (blocks included) that the export table has no entry for."""
    return sorted({n.op.name for n in graph.all_nodes() if n.op.name not in EXPORT})


def export_graph(graph: Graph, state: Sequence[np.ndarray], state_names: Sequence[str], *,
                 opset: int = DEFAULT_OPSET, input_names: Sequence[str] | None = None,
                 output_names: Sequence[str] | None = None, dynamic_axes: Any = None,
                 name: str | None = None) -> Any:
    """The ONNX ModelProto of a graph whose last `len(state)` inputs are state (initializers)."""
    lib = onnx()
    missing = missing_ops(graph)
    if missing:
        why = "; ".join(f"{op} ({REFUSED.get(op, 'no entry in the export table')})"
                        for op in missing)
        raise ExportError(f"onnx.export: the graph uses ops that have no ONNX mapping: {why}")
    em = Emitter(opset)
    em.run_nodes = lambda nodes: _run_nodes(em, nodes)
    em.used = set(graph.uses()) | {y for n in graph.all_nodes() for blk in n.blocks
                                   for y in blk.outputs if hasattr(y, "type")} | set(
        graph.outputs)
    n_user = len(graph.inputs) - len(state)
    user_in = list(input_names or [])
    if len(user_in) > n_user:
        raise ValueError(f"onnx.export(): {len(user_in)} input_names for {n_user} inputs")
    inputs = []
    for i, v in enumerate(graph.inputs[:n_user]):
        onnx_name = user_in[i] if i < len(user_in) else v.name
        em.taken.add(onnx_name)
        em.define(v, onnx_name)
        inputs.append(em.value_info(onnx_name, v.type, _axes_for(dynamic_axes, onnx_name)))
    for v, array, pname in zip(graph.inputs[n_user:], state, state_names):
        init = em.fresh(pname)
        em.define(v, init)
        em.initializers.append(lib.numpy_helper.from_array(np.array(array, order="C"), init))
    _run_nodes(em, graph.nodes)
    em.node = None
    n_out = graph.meta.get("n_user_outputs", len(graph.outputs))
    outputs = _outputs(em, graph.outputs[:n_out], output_names, dynamic_axes)
    main = lib.helper.make_graph(em.scope.nodes, name or graph.name, inputs, outputs,
                                 initializer=em.initializers)
    model = lib.helper.make_model(main, opset_imports=[lib.helper.make_opsetid("", opset)],
                                  producer_name="dualgraph")
    model.ir_version = min(model.ir_version, 10)  # what current runtimes read
    return model


def _outputs(em: Emitter, values: Sequence, names: Sequence[str] | None,
             dynamic_axes: Any) -> list:
    from .dtypes import dtype_of_type
    given = list(names or [])
    if len(given) > len(values):
        raise ValueError(f"onnx.export(): {len(given)} output_names for {len(values)} outputs")
    out, used = [], set()
    for j, v in enumerate(values):
        want = given[j] if j < len(given) else ("output" if len(values) == 1 else f"output_{j}")
        src = em.get(v, dtype_of_type(v.type))
        if want in em.taken and want != src or want in used:
            raise ValueError(f"onnx.export(): output name {want!r} is already the name of an "
                             "input or another output")
        if src != want:
            em.scope.nodes.append(em.helper.make_node("Identity", [src], [want],
                                                      name=em.fresh("n_output")))
        used.add(want)
        em.taken.add(want)
        out.append(em.value_info(want, v.type, _axes_for(dynamic_axes, want)))
    return out


def _axes_for(dynamic_axes: Any, name: str) -> dict:
    """The dim_param names `dynamic_axes` gives one input or output ({dim: name})."""
    spec = (dynamic_axes or {}).get(name)
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {int(k): str(v) for k, v in spec.items()}
    return {int(d): f"{name}_dynamic_axes_{k + 1}" for k, d in enumerate(spec)}


def _run_nodes(em: Emitter, nodes: list) -> None:
    for node in nodes:
        em.node = node
        try:
            names = EXPORT[node.op.name](em, node)
        except ExportError:
            raise
        except Exception as exc:  # say which node, never a bare KeyError from deep inside
            where = node.meta.get("source", "") if isinstance(node.meta, dict) else ""
            raise ExportError(f"onnx.export: {node.op.name}: cannot export `{node!r}`"
                              + (f" (at {where})" if where else "") + f": {exc}") from exc
        if len(names) != len(node.outputs):
            raise ExportError(f"onnx.export: {node.op.name}: the table entry gave {len(names)} "
                              f"outputs for {len(node.outputs)}")
        for v, onnx_name in zip(node.outputs, names):
            if onnx_name:  # "" for an output nothing reads, which the ONNX node leaves out
                em.define(v, onnx_name)



"""ONNX ops that the import table lacks but ONNX itself defines as a *function* of other ONNX
ops (Attention, MeanVarianceNormalization, RotaryEmbedding ...) are replaced by that function's
body before importing — the spec's own decomposition, instantiated for each node's attributes and
input types by ONNX's schema code, then inlined by ONNX's inliner. Nothing from the file runs:
the bodies come from the installed onnx package's operator definitions."""

from __future__ import annotations

from typing import Any

from ._deps import onnx

MAX_ROUNDS = 4  # a body may use ops that are functions themselves


def _types(graph: Any) -> dict:
    """ONNX name -> TypeProto for every value that shape inference typed."""
    out = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        out[vi.name] = vi.type
    for t in graph.initializer:
        out[t.name] = onnx().helper.make_tensor_type_proto(t.data_type, list(t.dims))
    return out


def _body(node: Any, opset: int, types: dict) -> Any:
    """The FunctionProto that defines `node` at `opset`, or None."""
    lib = onnx()
    try:
        schema = lib.defs.get_schema(node.op_type, opset, "")
    except Exception:  # no such op in this onnx: reported by the importer by name
        return None
    if schema.has_function:
        fn = schema.get_function_with_opset_version(opset) or schema.function_body
        if isinstance(fn, bytes):
            raw, fn = fn, lib.FunctionProto()
            fn.ParseFromString(raw)
        return fn if fn is not None and fn.node else None
    if schema.has_context_dependent_function:
        ins = [types.get(name) for name in node.input if name]
        if any(t is None for t in ins):
            return None
        try:
            raw = schema.get_context_dependent_function_with_opset_version(
                opset, node.SerializeToString(), [t.SerializeToString() for t in ins])
        except Exception:
            return None
        if not raw:
            return None
        fn = lib.FunctionProto()
        fn.ParseFromString(raw)
        return fn if fn.node else None
    return None


def _fill_defaults(node: Any, opset: int) -> None:
    schema = onnx().defs.get_schema(node.op_type, opset, "")
    given = {a.name for a in node.attribute}
    for name, spec in schema.attributes.items():
        default = spec.default_value
        if name not in given and default is not None and default.type:
            a = node.attribute.add()
            a.CopyFrom(default)
            a.name = name


def expand_functions(model: Any, known: set, opset: int) -> Any:
    """A copy of `model` whose top-level nodes of ops outside `known` are replaced by their
    ONNX function bodies where ONNX defines one (the model itself when none is)."""
    lib = onnx()
    from importlib import import_module
    inliner = import_module("onnx.inliner")  # a submodule the package does not import
    for round_ in range(MAX_ROUNDS):
        todo = [n for n in model.graph.node if n.domain in ("", "ai.onnx") and
                n.op_type not in known]
        if not todo:
            return model
        try:
            typed = lib.shape_inference.infer_shapes(model)
        except Exception:
            typed = model
        types = _types(typed.graph)
        copy = lib.ModelProto()
        copy.CopyFrom(model)
        changed = False
        for k, node in enumerate(copy.graph.node):
            if node.domain not in ("", "ai.onnx") or node.op_type in known:
                continue
            fn = _body(node, opset, types)
            if fn is None:
                continue
            _fill_defaults(node, opset)  # the body refers to attributes the node left out
            domain = f"dualgraph.expand.{round_}.{k}"
            node.domain = domain
            fn.domain, fn.name = domain, node.op_type
            if not any(o.domain == "" for o in fn.opset_import):
                fn.opset_import.append(lib.helper.make_opsetid("", opset))
            copy.functions.append(fn)
            copy.opset_import.append(lib.helper.make_opsetid(domain, 1))
            changed = True
        if not changed:
            return model
        model = inliner.inline_local_functions(copy)
        del model.functions[:]
        keep = [o for o in model.opset_import if not o.domain.startswith("dualgraph.expand")]
        del model.opset_import[:]
        model.opset_import.extend(keep)
    return model

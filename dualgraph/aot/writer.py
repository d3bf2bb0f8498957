"""The files of a compiled C program: `NAME.c`, `NAME.h`, `main.c`, `weights.bin`, a Makefile
and a README, plus the hand-written runtime headers copied beside them.

The weights file is the parameters and constants, each 64-byte aligned, after a 32-byte
header: the magic `DGW1`, the payload's byte count and its FNV-1a hash, which the generated
loader checks (a weights file of another model, or a truncated one, is refused, not read).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..ir.graph import Graph
from ..ir.types import TensorType, dtype_from_numpy
from .cexpr import Unlowerable, c_type, identifier, size_expr
from .kernels import copy_into
from .layout import contiguous, same
from .program import Emitter, EntryPoint, Signature, check_graph, plan_storage

HEADER_BYTES = 32
_DESCR = {"float32": "<f4", "float64": "<f8", "int64": "<i8", "int32": "<i4", "int16": "<i2",
          "int8": "|i1", "uint8": "|u1", "bool": "|b1"}


def _field(name: Any, k: int, kind: str) -> str:
    try:
        return identifier(str(name), "name")
    except ValueError:
        return f"{kind}{k}"


def checksum(data: bytes) -> int:
    """sum((2i + 1) * word_i) mod 2**64 over the payload's little-endian 64-bit words (zero
    padded), plus its length: a cheap check, in NumPy and in the generated C alike, that a
    weights file is the one the code was built for."""
    padded = data + b"\0" * ((-len(data)) % 8)
    words = np.frombuffer(padded, dtype="<u8")
    odd = np.arange(len(words), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    with np.errstate(over="ignore"):
        total = int(np.sum(words * odd, dtype=np.uint64))
    return (total + len(data)) & 0xFFFFFFFFFFFFFFFF


def _double_expr(text: str, symbols: list) -> str:
    import re
    for s in symbols:
        text = re.sub(rf"\b{s}\b", f"(double){s}", text)
    return text


def entry_point(graph: Graph, state: list, entry: str) -> tuple:
    """The C entry point of one graph whose trailing inputs are the `state` arrays."""
    check_graph(graph)
    em = Emitter(graph, entry)
    plan_storage(graph, em)
    n_user = len(graph.inputs) - len(state)
    inputs, outputs = [], []
    used: set = set()
    for k, v in enumerate(graph.inputs[:n_user]):
        name = _field(v.name, k, "input")
        if name in used:
            name = f"input{k}"
        used.add(name)
        inputs.append((name, v.type))
        var = f"x{k}"
        em.bind(v, _contiguous(var, v.type))
    for j, (v, array) in enumerate(zip(graph.inputs[n_user:], state)):
        array = np.array(array, dtype=v.type.dtype.np, order="C")
        if tuple(array.shape) != tuple(v.type.shape):
            raise Unlowerable(f"state {v.name} has shape {array.shape}, the graph {v.type.shape}")
        em.bind(v, em.weight(str(v.name), array))
    for k, v in enumerate(graph.outputs):
        outputs.append((f"output{k}", v.type))
    body_start = len(em.lines)
    em.emit_nodes(graph.nodes)
    for k, v in enumerate(graph.outputs):
        lay = em.layout(v)
        if _written_in_place(em, v, k, lay):
            continue
        em.comment(f"output {k}")
        copy_into(em, lay, _contiguous(f"o{k}", v.type))
    body = em.lines[body_start:]
    sig = Signature(inputs, outputs, em.symbols)
    n_regions = len(em.regions)
    layout_fn = _layout_function(entry, em, n_regions)
    text = "\n".join(body).replace("DG_SCRATCH", str(n_regions))
    used = set(re.findall(r"\bw[0-9]+\b", text))  # a weight read only through a folded view
    weights = [w for w in em.weights if w.var in used]  # is not stored
    return EntryPoint(entry, sig, text, layout_fn, weights), n_regions


def _contiguous(var: str, t: TensorType) -> Any:
    return contiguous(var, t.dtype, tuple(t.shape))


def _written_in_place(em: Emitter, v: Any, k: int, lay: Any) -> bool:
    """Whether output k's node wrote it straight into the caller's buffer."""
    return em.output_vars.get(lay.ptr) == k and lay.is_contiguous() and same(lay.offset, 0)


def _layout_function(entry: str, em: Emitter, n_regions: int) -> str:
    symbols = em.symbols
    params = ", ".join(f"int64_t {s}" for s in symbols) or "void"
    lines = [f"/* Workspace offsets of {entry}'s regions for these sizes; the total bytes, or "
             f"SIZE_MAX when they overflow. */",
             f"static size_t {entry}_layout({params}{', ' if symbols else ''}size_t *off) {{",
             "  size_t total = 0, scratch = 0;", "  double check = 0;"]
    lines += [f"  (void){s};" for s in symbols]  # a graph may read a size only in its shapes
    for k, (what, nbytes) in enumerate(em.regions):
        expr = size_expr(nbytes)
        lines.append(f"  /* {what} */")
        lines.append(f"  check += {_double_expr(expr, symbols)} + 64.0;")
        lines.append(f"  off[{k}] = total; total += DG_ALIGN({expr});")
    for need in em.scratch_needs:
        lines.append(f"  check += {_double_expr(need, symbols)} + 64.0;")
        lines.append(f"  {{ size_t need = {need}; if (need > scratch) scratch = need; }}")
    lines += [f"  off[{n_regions}] = total; total += DG_ALIGN(scratch);",
              "  if (check > 4.0e18) return SIZE_MAX;",
              "  return total ? total : 64;  /* never 0: 0 is workspace_bytes' out-of-range */",
              "}"]
    if not symbols:
        lines[1] = f"static size_t {entry}_layout(size_t *off) {{"
    return "\n".join(lines)


# ---------------------------------------------------------------------------- the files

def header_text(name: str, entries: list, embedded: bool) -> str:
    guard = f"{name.upper()}_H"
    up = name.upper()
    lines = [f"/* {name}.h: generated by dualgraph (dg.aot.compile). The C interface of the "
             f"compiled model. */",
             f"#ifndef {guard}", f"#define {guard}", "", "#include <stddef.h>",
             "#include <stdint.h>", "", "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
             "/* Return codes of every function below. */",
             f"enum {{ {up}_OK = 0, {up}_ERR_NULL = 1, {up}_ERR_SIZE = 2, {up}_ERR_INDEX = 3, "
             f"{up}_ERR_WEIGHTS = 4, {up}_ERR_WORKSPACE = 5, {up}_ERR_OUTPUT = 6, "
             f"{up}_ERR_NOMEM = 7 }};", ""]
    for ep in entries:
        sig = ep.signature
        e = ep.name
        lines.append(f"/* Inputs of {e}: C-ordered arrays and the shape the caller passes. */")
        lines.append("typedef struct {")
        for field, t in sig.inputs:
            lines.append(f"  const {c_type(t.dtype)} *{field};  /* {_type_text(t)} */")
            lines.append(f"  int64_t {field}_shape[{max(len(t.shape), 1)}];")
        lines.append(f"}} {e}_inputs;")
        lines.append(f"/* Outputs of {e}: buffers of `capacity` elements; the call writes the "
                     f"data and the shape. */")
        lines.append("typedef struct {")
        for field, t in sig.outputs:
            lines.append(f"  {c_type(t.dtype)} *{field};  /* {_type_text(t)} */")
            lines.append(f"  int64_t {field}_capacity;")
            lines.append(f"  int64_t {field}_shape[{max(len(t.shape), 1)}];")
        lines.append(f"}} {e}_outputs;")
        sizes = "".join(f", int64_t {s}" for s in sig.symbols)
        sizes_only = ", ".join(f"int64_t {s}" for s in sig.symbols) or "void"
        lines += [
            f"/* Run {e}; each size argument is a symbolic dim of the graph. Uses a workspace "
            f"the library keeps (grown when sizes grow; not thread-safe). */",
            f"int {e}_run(const {e}_inputs *in, {e}_outputs *out{sizes});",
            f"/* Run {e} in a workspace of the caller's (at least {e}_workspace_bytes()). */",
            f"int {e}_run_with_workspace(const {e}_inputs *in, {e}_outputs *out{sizes}, "
            f"void *workspace, size_t workspace_bytes);",
            f"/* Bytes of workspace {e} needs for these sizes (0 when they are out of range). */",
            f"size_t {e}_workspace_bytes({sizes_only});",
            "/* Elements of output k for these sizes (-1 for no such output). */",
            f"int64_t {e}_output_numel(int k{sizes});", ""]
    if not embedded:
        lines += ["/* Load the weights file written beside this code (weights.bin) once, "
                  "before any run. */", f"int {name}_load_weights(const char *path);"]
    lines += ["/* Free the weights and the internal workspace. */",
              f"void {name}_release(void);",
              "/* A message for a return code. */",
              f"const char *{name}_error_message(int code);", "", "#ifdef __cplusplus", "}",
              "#endif", f"#endif /* {guard} */", ""]
    return "\n".join(lines)


def _type_text(t: TensorType) -> str:
    return f"{t.dtype.name}[{', '.join(str(d) for d in t.shape)}]"


def _weights_blob(entries: list) -> tuple[bytes, list]:
    chunks, offsets, at = [], [], 0
    for ep in entries:
        for w in ep.weights:
            data = np.array(w.array, order="C").tobytes()
            pad = (-at) % 64
            chunks.append(b"\0" * pad)
            at += pad
            offsets.append(at)
            w.offset = at
            chunks.append(data)
            at += len(data)
    return b"".join(chunks), offsets


def source_text(name: str, entries: list, regions: list, blob: bytes, embedded: bool) -> str:
    lines = [f"/* {name}.c: generated by dualgraph (dg.aot.compile) from a compiled graph; "
             f"C11, no allocation per call. */",
             "#include <stdio.h>", "#include <stdlib.h>", '#include "dg_runtime.h"',
             f'#include "{name}.h"', ""]
    digest = checksum(blob)
    if embedded:
        lines.append(f"static _Alignas(64) const unsigned char dg_weights_data[{max(len(blob), 1)}] = {{")
        for start in range(0, len(blob), 24):
            lines.append("  " + ", ".join(str(b) for b in blob[start:start + 24]) + ",")
        if not blob:
            lines.append("  0")
        lines += ["};", "static const unsigned char *dg_weights = dg_weights_data;", ""]
    else:
        lines += ["static unsigned char *dg_weights_file = NULL;",
                  "static const unsigned char *dg_weights = NULL;", "",
                  f"int {name}_load_weights(const char *path) {{",
                  "  if (!path) return DG_ERR_NULL;",
                  "  FILE *f = fopen(path, \"rb\");",
                  "  if (!f) return DG_ERR_WEIGHTS;",
                  f"  unsigned char head[{HEADER_BYTES}];",
                  f"  if (fread(head, 1, {HEADER_BYTES}, f) != {HEADER_BYTES} || memcmp(head, \"DGW1\", 4) != 0) {{ fclose(f); return DG_ERR_WEIGHTS; }}",
                  "  uint64_t n = 0, h = 0;",
                  "  for (int k = 7; k >= 0; k--) { n = (n << 8) | head[8 + k]; h = (h << 8) | head[16 + k]; }",
                  f"  if (n != {len(blob)}ULL || h != {digest}ULL) {{ fclose(f); return DG_ERR_WEIGHTS; }}",
                  ] + (_read_payload(len(blob)) if blob else [
                  "  fclose(f);", "  static unsigned char none[64];",
                  "  unsigned char *data = NULL;", "  (void)none;"]) + [
                  "  free(dg_weights_file);",
                  "  dg_weights_file = data;",
                  f"  dg_weights = {'data' if blob else 'none'};",
                  "  return DG_OK;", "}", ""]
    lines += ["static void *dg_workspace = NULL;", "static size_t dg_workspace_size = 0;", "",
              f"void {name}_release(void) {{"]
    if not embedded:
        lines += ["  free(dg_weights_file);", "  dg_weights_file = NULL;", "  dg_weights = NULL;"]
    lines += ["  free(dg_workspace);", "  dg_workspace = NULL;", "  dg_workspace_size = 0;", "}",
              "", f"const char *{name}_error_message(int code) {{", "  switch (code) {",
              "  case DG_OK: return \"ok\";",
              "  case DG_ERR_NULL: return \"a NULL pointer where data was expected\";",
              "  case DG_ERR_SIZE: return \"a size argument or input shape does not match the model\";",
              "  case DG_ERR_INDEX: return \"an index is out of range\";",
              "  case DG_ERR_WEIGHTS: return \"the weights are not loaded, or the weights file is not this model's\";",
              "  case DG_ERR_WORKSPACE: return \"the workspace is smaller than the model needs\";",
              "  case DG_ERR_OUTPUT: return \"an output buffer is smaller than the output\";",
              "  case DG_ERR_NOMEM: return \"out of memory\";",
              "  default: return \"unknown error\";", "  }", "}", ""]
    for ep, n_regions in zip(entries, regions):
        lines += _entry_text(ep, n_regions)
    return "\n".join(lines) + "\n"


def _read_payload(n: int) -> list:
    """C lines reading and checking an n-byte weights payload (after the header) into `data`."""
    return [f"  unsigned char *data = (unsigned char *)aligned_alloc(64, DG_ALIGN({n}ULL));",
            "  if (!data) { fclose(f); return DG_ERR_NOMEM; }",
            f"  if (fread(data, 1, {n}, f) != {n}) {{ free(data); fclose(f); return DG_ERR_WEIGHTS; }}",
            "  fclose(f);",
            f"  uint64_t check = {n}ULL;",
            f"  for (size_t k = 0; k < {n}; k += 8) {{",
            "    uint64_t word = 0;",
            f"    for (size_t b = 0; b < 8 && k + b < {n}; b++) word |= (uint64_t)data[k + b] << (8 * b);",
            "    check += word * (uint64_t)(k / 4 + 1);",
            "  }",
            "  if (check != h) { free(data); return DG_ERR_WEIGHTS; }"]


def _entry_text(ep: EntryPoint, n_regions: int) -> list:
    e, sig = ep.name, ep.signature
    symbols = sig.symbols
    sizes = "".join(f", int64_t {s}" for s in symbols)
    args = "".join(f", {s}" for s in symbols)
    sym_args = ", ".join(symbols)
    lines = [ep.layout_fn, ""]
    lines.append(f"size_t {e}_workspace_bytes({', '.join('int64_t ' + s for s in symbols) or 'void'}) {{")
    for s in symbols:
        lines.append(f"  if ({s} < 1 || {s} > INT32_MAX) return 0;")
    lines.append(f"  size_t off[{n_regions + 1}];")
    lines.append(f"  size_t total = {e}_layout({sym_args}{', ' if symbols else ''}off);")
    lines += ["  return total == SIZE_MAX ? 0 : total;", "}", ""]
    lines.append(f"int64_t {e}_output_numel(int k{sizes}) {{")
    for s in symbols:
        lines.append(f"  if ({s} < 1 || {s} > INT32_MAX) return -1;")
    lines.append("  switch (k) {")
    for k, (_, t) in enumerate(sig.outputs):
        numel = " * ".join(f"(int64_t){size_expr(d)}" for d in t.shape) or "1"
        lines.append(f"  case {k}: return {numel};")
    lines += ["  default: return -1;", "  }", "}", ""]
    lines.append(f"int {e}_run_with_workspace(const {e}_inputs *in, {e}_outputs *out{sizes}, "
                 f"void *workspace, size_t workspace_bytes) {{")
    lines.append("  if (!in || !out) return DG_ERR_NULL;")
    for s in symbols:
        lines.append(f"  if ({s} < 1 || {s} > INT32_MAX) return DG_ERR_SIZE;")
    if ep.weights:
        lines.append("  if (!dg_weights) return DG_ERR_WEIGHTS;")
    lines.append(f"  size_t off[{n_regions + 1}];")
    lines.append(f"  const size_t need = {e}_layout({sym_args}{', ' if symbols else ''}off);")
    lines.append("  if (need == SIZE_MAX) return DG_ERR_SIZE;")
    lines.append("  if (workspace_bytes < need || (need && !workspace)) return DG_ERR_WORKSPACE;")
    lines.append("  char *const ws = (char *)workspace;")
    lines.append("  (void)ws;")
    for k, (field, t) in enumerate(sig.inputs):
        lines.append(f"  if (!in->{field}) return DG_ERR_NULL;")
        for d, size in enumerate(t.shape):
            lines.append(f"  if (in->{field}_shape[{d}] != {size_expr(size)}) return DG_ERR_SIZE;")
        lines.append(f"  const {c_type(t.dtype)} *const x{k} = in->{field};")
    for k, (field, t) in enumerate(sig.outputs):
        numel = " * ".join(f"(int64_t){size_expr(d)}" for d in t.shape) or "1"
        lines.append(f"  if (!out->{field}) return DG_ERR_NULL;")
        lines.append(f"  if (out->{field}_capacity < {numel}) return DG_ERR_OUTPUT;")
        for d, size in enumerate(t.shape):
            lines.append(f"  out->{field}_shape[{d}] = {size_expr(size)};")
        lines.append(f"  {c_type(t.dtype)} *const o{k} = out->{field};")
    for w in ep.weights:
        ctype = c_type(dtype_from_numpy(w.array.dtype))
        lines.append(f"  const {ctype} *const {w.var} = (const {ctype} *)(dg_weights + "
                     f"{w.offset});  /* {_safe(w.name)} */")
    lines.append(ep.body)
    lines += ["  return DG_OK;", "}", ""]
    lines.append(f"int {e}_run(const {e}_inputs *in, {e}_outputs *out{sizes}) {{")
    lines.append(f"  const size_t need = {e}_workspace_bytes({sym_args});")
    lines.append("  if (need == 0) return DG_ERR_SIZE;")
    lines += ["  if (need > dg_workspace_size) {", "    void *grown = aligned_alloc(64, DG_ALIGN(need));",
              "    if (!grown) return DG_ERR_NOMEM;", "    free(dg_workspace);",
              "    dg_workspace = grown;", "    dg_workspace_size = DG_ALIGN(need);", "  }"]
    lines.append(f"  return {e}_run_with_workspace(in, out{args}, dg_workspace, dg_workspace_size);")
    lines += ["}", ""]
    return lines


def _safe(text: str) -> str:
    return "".join(ch if ch.isprintable() and ch not in "*/\\" else "?" for ch in str(text))[:80]


def main_text(name: str, ep: EntryPoint, embedded: bool) -> str:
    """A command-line runner: `./NAME in0.npy [...] -o out0.npy [...] [-w weights.bin]`."""
    sig = ep.signature
    e = ep.name
    n_in, n_out = len(sig.inputs), len(sig.outputs)
    derive = []
    for s in sig.symbols:
        source = next(((k, d) for k, (_, t) in enumerate(sig.inputs)
                       for d, size in enumerate(t.shape) if size == s), None)
        if source is None:
            raise Unlowerable(f"size {s} is not the size of one input dim, so the runner "
                              f"cannot read it off the inputs")
        derive.append((s, source))
    lines = [f"/* main.c: generated by dualgraph. Runs {e} on .npy files: */",
             f"/*   ./{name} " + " ".join(f"{f}.npy" for f, _ in sig.inputs) + " -o " +
             " ".join(f"{f}.npy" for f, _ in sig.outputs) +
             ("" if embedded else " [-w weights.bin]") + " */",
             "#include <stdio.h>", "#include <stdlib.h>", "#include <string.h>",
             "#include <time.h>", '#include "dg_npy.h"', f'#include "{name}.h"', "",
             "int main(int argc, char **argv) {",
             f"  const char *inputs[{n_in}] = {{0}}, *outputs[{n_out}] = {{0}};",
             "  int n_in = 0, n_out = 0, to_out = 0;",
             "  long repeat = 0;",
             "  const char *weights = NULL;",
             "  for (int k = 1; k < argc; k++) {",
             "    if (strcmp(argv[k], \"-o\") == 0) { to_out = 1; continue; }",
             "    if (strcmp(argv[k], \"-w\") == 0 && k + 1 < argc) { weights = argv[++k]; continue; }",
             "    if (strcmp(argv[k], \"-r\") == 0 && k + 1 < argc) { repeat = strtol(argv[++k], NULL, 10); continue; }",
             f"    if (to_out) {{ if (n_out < {n_out}) outputs[n_out] = argv[k]; n_out++; }}",
             f"    else {{ if (n_in < {n_in}) inputs[n_in] = argv[k]; n_in++; }}",
             "  }",
             f"  if (n_in != {n_in} || n_out != {n_out}) {{",
             f"    fprintf(stderr, \"usage: %s {' '.join(f + '.npy' for f, _ in sig.inputs)} -o "
             f"{' '.join(f + '.npy' for f, _ in sig.outputs)}{'' if embedded else ' [-w weights.bin]'} [-r REPEAT]\\n\", argv[0]);",
             "    return 2;", "  }"]
    if not embedded:
        lines += ["  char default_path[4096];",
                  "  if (!weights) {",
                  "    const char *slash = strrchr(argv[0], '/');",
                  "    size_t dir = slash ? (size_t)(slash - argv[0] + 1) : 0;",
                  "    if (dir + 12 > sizeof(default_path)) { fprintf(stderr, \"path too long\\n\"); return 2; }",
                  "    memcpy(default_path, argv[0], dir);",
                  "    memcpy(default_path + dir, \"weights.bin\", 12);",
                  "    weights = default_path;", "  }",
                  f"  int rc = {name}_load_weights(weights);",
                  f"  if (rc) {{ fprintf(stderr, \"%s: %s\\n\", weights, {name}_error_message(rc)); return 1; }}"]
    else:
        lines += ["  (void)weights;  /* embedded in the code */", "  int rc = 0;"]
    lines += [f"  dg_npy arrays[{n_in}];", "  char err[512];",
              f"  for (int k = 0; k < {n_in}; k++)",
              "    if (dg_npy_read(inputs[k], &arrays[k], err, sizeof(err))) { fprintf(stderr, \"%s\\n\", err); return 1; }",
              f"  static const char *want[{n_in}] = {{{', '.join(chr(34) + _DESCR[t.dtype.name] + chr(34) for _, t in sig.inputs)}}};",
              f"  static const int ranks[{n_in}] = {{{', '.join(str(len(t.shape)) for _, t in sig.inputs)}}};",
              f"  for (int k = 0; k < {n_in}; k++) {{",
              "    if (strcmp(arrays[k].descr, want[k]) != 0 || arrays[k].rank != ranks[k]) {",
              "      fprintf(stderr, \"%s: expected dtype %s with %d dims, found %s with %d\\n\", inputs[k], want[k], ranks[k], arrays[k].descr, arrays[k].rank);",
              "      return 1;", "    }", "  }"]
    for s, (k, d) in derive:
        lines.append(f"  const int64_t {s} = arrays[{k}].shape[{d}];")
    lines.append(f"  {e}_inputs in;")
    lines.append("  memset(&in, 0, sizeof(in));")
    for k, (field, t) in enumerate(sig.inputs):
        lines.append(f"  in.{field} = (const {c_type(t.dtype)} *)arrays[{k}].data;")
        lines.append(f"  memcpy(in.{field}_shape, arrays[{k}].shape, sizeof(in.{field}_shape));")
    lines.append(f"  {e}_outputs out;")
    lines.append("  memset(&out, 0, sizeof(out));")
    args = "".join(f", {s}" for s in sig.symbols)
    for k, (field, t) in enumerate(sig.outputs):
        lines += [f"  int64_t n{k} = {e}_output_numel({k}{args});",
                  f"  if (n{k} < 0) {{ fprintf(stderr, \"%s\\n\", {name}_error_message(DG_SIZE_ERROR)); return 1; }}",
                  f"  out.{field} = ({c_type(t.dtype)} *)malloc((size_t)(n{k} ? n{k} : 1) * sizeof(*out.{field}));",
                  f"  if (!out.{field}) {{ fprintf(stderr, \"out of memory\\n\"); return 1; }}",
                  f"  out.{field}_capacity = n{k};"]
    lines += [f"  rc = {e}_run(&in, &out{args});",
              f"  if (rc) {{ fprintf(stderr, \"{e}: %s\\n\", {name}_error_message(rc)); return 1; }}",
              "  if (repeat > 0) {  /* -r N: time N more runs, print the median */",
              "    double *times = (double *)malloc((size_t)repeat * sizeof(double));",
              "    if (!times) return 1;",
              "    for (long r = 0; r < repeat; r++) {",
              "      struct timespec t0, t1;",
              "      timespec_get(&t0, TIME_UTC);",
              f"      {e}_run(&in, &out{args});",
              "      timespec_get(&t1, TIME_UTC);",
              "      times[r] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;",
              "    }",
              "    for (long a = 1; a < repeat; a++)  /* insertion sort: repeat is small */",
              "      for (long b = a; b > 0 && times[b - 1] > times[b]; b--) { double t = times[b]; times[b] = times[b - 1]; times[b - 1] = t; }",
              "    printf(\"median_us %.3f\\n\", times[repeat / 2]);",
              "    free(times);",
              "  }"]
    for k, (field, t) in enumerate(sig.outputs):
        lines += [f"  if (dg_npy_write(outputs[{k}], \"{_DESCR[t.dtype.name]}\", {len(t.shape)}, "
                  f"out.{field}_shape, out.{field}, sizeof(*out.{field}))) {{ fprintf(stderr, "
                  f"\"%s: cannot write\\n\", outputs[{k}]); return 1; }}",
                  f"  free(out.{field});"]
    lines += [f"  for (int k = 0; k < {n_in}; k++) free(arrays[k].data);",
              f"  {name}_release();", "  return 0;", "}", ""]
    return "\n".join(lines).replace("DG_SIZE_ERROR", f"{name.upper()}_ERR_SIZE")


def makefile_text(name: str, blas: bool, native: bool, sanitize: bool) -> str:
    flags = "-O3 -std=c11 -Wall -Wextra" + (" -march=native" if native else "")
    if sanitize:
        flags = "-O1 -g -std=c11 -Wall -Wextra -fsanitize=address,undefined -fno-omit-frame-pointer"
    return "\n".join([
        f"# Builds the runner `{name}` (default) and the shared library lib{name}.so.",
        "# BLAS: `make BLAS=0` builds the blocked-loop matrix product instead of OpenBLAS.",
        "CC ?= cc",
        f"CFLAGS ?= {flags}",
        f"BLAS ?= {1 if blas else 0}",
        "ifeq ($(BLAS),1)",
        "BLAS_FLAGS = -DDG_USE_CBLAS",
        "BLAS_LIBS = -lopenblas",
        "endif",
        f"SOURCES = {name}.c",
        f"HEADERS = {name}.h dg_runtime.h dg_npy.h",
        "",
        f"{name}: main.c $(SOURCES) $(HEADERS)",
        "\t$(CC) $(CFLAGS) $(BLAS_FLAGS) -o $@ main.c $(SOURCES) $(BLAS_LIBS) -lm",
        "",
        f"lib{name}.so: $(SOURCES) $(HEADERS)",
        "\t$(CC) $(CFLAGS) $(BLAS_FLAGS) -fPIC -shared -o $@ $(SOURCES) $(BLAS_LIBS) -lm",
        "",
        "clean:",
        f"\trm -f {name} lib{name}.so",
        "",
        ".PHONY: clean", ""])


def readme_text(name: str, ep: EntryPoint, embedded: bool, blas: bool) -> str:
    sig = ep.signature
    e = ep.name
    sizes = "".join(f", {s}" for s in sig.symbols)
    ins = "\n".join(f"- `{f}`: {_type_text(t)}" for f, t in sig.inputs)
    outs = "\n".join(f"- `{f}`: {_type_text(t)}" for f, t in sig.outputs)
    load = "" if embedded else f"{name}_load_weights(\"weights.bin\");   /* once */\n"
    return f"""# {name}: a model compiled to C by dualgraph

Generated by `dg.aot.compile` (or `dualgraph compile-c`). Plain C11 with no dependency beyond
the C library{' and OpenBLAS (`make BLAS=0` builds without it)' if blas else ''}.

    make                      # builds ./{name}, the command-line runner
    ./{name} {' '.join(f + '.npy' for f, _ in sig.inputs)} -o {' '.join(f + '.npy' for f, _ in sig.outputs)}
    make lib{name}.so          # the library alone

Inputs:
{ins}

Outputs:
{outs}

Sizes ({', '.join(sig.symbols) or 'none'}) are passed to every call; an input whose shape does not
match them gives `{name.upper()}_ERR_SIZE`, an output buffer smaller than its output
`{name.upper()}_ERR_OUTPUT`. Nothing is written out of bounds.

## From C

```c
#include "{name}.h"
{load}{e}_inputs in = {{0}};
{e}_outputs out = {{0}};
/* point in.<name> at C-ordered data and fill in.<name>_shape;
   point out.<name> at a buffer of {e}_output_numel(k{sizes}) elements and set its capacity */
int rc = {e}_run(&in, &out{sizes});
if (rc) fprintf(stderr, "%s\\n", {name}_error_message(rc));
```

`{e}_run` keeps a workspace that grows with the sizes; `{e}_run_with_workspace` takes one of
the caller's, of `{e}_workspace_bytes({', '.join(sig.symbols)})` bytes. Neither allocates
otherwise. Neither is thread-safe with the internal workspace; with one workspace per thread,
`_run_with_workspace` is.
"""


def write_program(out_dir: Path, name: str, entries: list, regions: list, embedded: bool,
                  blas: bool, native: bool, sanitize: bool) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    blob, _ = _weights_blob(entries)
    files = {}
    here = Path(__file__).parent
    for runtime in ("dg_runtime.h", "dg_npy.h"):
        shutil.copyfile(here / runtime, out_dir / runtime)
        files[runtime] = out_dir / runtime
    texts = {f"{name}.h": header_text(name, entries, embedded),
             f"{name}.c": source_text(name, entries, regions, blob, embedded),
             "main.c": main_text(name, entries[0], embedded),
             "Makefile": makefile_text(name, blas, native, sanitize),
             "README.md": readme_text(name, entries[0], embedded, blas)}
    for fname, text in texts.items():
        (out_dir / fname).write_text(text)
        files[fname] = out_dir / fname
    if not embedded:
        head = b"DGW1" + b"\0" * 4 + len(blob).to_bytes(8, "little") + \
            checksum(blob).to_bytes(8, "little") + b"\0" * 8
        (out_dir / "weights.bin").write_bytes(head + blob)
        files["weights.bin"] = out_dir / "weights.bin"
    return files

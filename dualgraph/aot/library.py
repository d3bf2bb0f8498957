"""Calling a built C library from Python (ctypes): each entry point becomes a function of NumPy
arrays, with the header's structs built from the entry's signature. It is how the tests check
the C API itself (return codes included) and how a Python program can use the C build.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any, Callable

import numpy as np

_CODES = {1: "a NULL pointer", 2: "a size or shape that does not match the model",
          3: "an index out of range", 4: "weights not loaded or not this model's",
          5: "a workspace too small", 6: "an output buffer too small", 7: "out of memory"}


class CallError(RuntimeError):
    """An entry point returned an error code (`code`)."""

    def __init__(self, entry: str, code: int) -> None:
        super().__init__(f"{entry} returned {code}: {_CODES.get(code, 'an unknown error')}")
        self.code = code


def _structs(sig: Any) -> tuple:
    in_fields, out_fields = [], []
    for name, t in sig.inputs:
        in_fields += [(name, ctypes.c_void_p),
                      (f"{name}_shape", ctypes.c_int64 * max(len(t.shape), 1))]
    for name, t in sig.outputs:
        out_fields += [(name, ctypes.c_void_p), (f"{name}_capacity", ctypes.c_int64),
                       (f"{name}_shape", ctypes.c_int64 * max(len(t.shape), 1))]
    inputs = type("Inputs", (ctypes.Structure,), {"_fields_": in_fields})
    outputs = type("Outputs", (ctypes.Structure,), {"_fields_": out_fields})
    return inputs, outputs


class CLibrary:
    """A built `lib<name>.so` with its weights loaded; `lib.<entry>(*arrays)` runs one entry."""

    def __init__(self, path: Path, program: Any) -> None:
        self.path, self.program = Path(path), program
        self.lib = ctypes.CDLL(str(self.path))
        if not program.embedded:
            load = getattr(self.lib, f"{program.name}_load_weights")
            load.argtypes = [ctypes.c_char_p]
            code = load(str(program.out_dir / "weights.bin").encode())
            if code:
                raise CallError(f"{program.name}_load_weights", code)
        self._entries = {ep.name: ep for ep in program.entries}

    def _runner(self, name: str) -> tuple:
        """(signature, inputs struct, outputs struct, the typed C function) of entry `name`."""
        sig = self._entries[name].signature
        inputs_t, outputs_t = _structs(sig)
        run = getattr(self.lib, f"{name}_run")
        run.restype = ctypes.c_int
        run.argtypes = [ctypes.POINTER(inputs_t), ctypes.POINTER(outputs_t)] + \
            [ctypes.c_int64] * len(sig.symbols)
        return sig, inputs_t, outputs_t, run

    def entry(self, name: str) -> Callable:
        sig, inputs_t, outputs_t, run = self._runner(name)

        def call(*arrays: Any, sizes: dict | None = None, capacity: dict | None = None,
                 null_input: int | None = None) -> list:
            """Run the entry on arrays; `sizes`, `capacity` and `null_input` override what is
            passed (to check the entry's refusals)."""
            arrays = [np.array(a, dtype=t.dtype.np, order="C") for a, (_, t) in
                      zip(arrays, sig.inputs)]
            values = dict(sizes or {})
            for s in sig.symbols:
                if s not in values:
                    values[s] = next(int(a.shape[d]) for a, (_, t) in zip(arrays, sig.inputs)
                                     for d, size in enumerate(t.shape) if size == s)
            ins = inputs_t()
            for k, ((field, t), a) in enumerate(zip(sig.inputs, arrays)):
                setattr(ins, field, None if k == null_input else a.ctypes.data)
                shape = getattr(ins, f"{field}_shape")
                for d, n in enumerate(a.shape):
                    shape[d] = n
            outs, buffers = outputs_t(), []
            for field, t in sig.outputs:
                shape = tuple(int(d) if isinstance(d, int) else int(_evaluate(d, values))
                              for d in t.shape)
                buf = np.empty(shape, dtype=t.dtype.np)
                buffers.append(buf)
                setattr(outs, field, buf.ctypes.data)
                cap = (capacity or {}).get(field, buf.size)
                setattr(outs, f"{field}_capacity", cap)
            code = run(ctypes.byref(ins), ctypes.byref(outs), *[values[s] for s in sig.symbols])
            if code:
                raise CallError(name, code)
            return buffers
        return call

    def prepared(self, name: str, *arrays: Any) -> Callable:
        """A no-argument callable running entry `name` on these arrays again and again, its
        structs built once: what the benchmark times (a ctypes call, about a microsecond, on top
        of the C). Returns the output arrays, which it overwrites on each call."""
        sig, inputs_t, outputs_t, run = self._runner(name)
        keep = [np.array(a, dtype=t.dtype.np, order="C") for a, (_, t) in zip(arrays, sig.inputs)]
        values = {s: next(int(a.shape[d]) for a, (_, t) in zip(keep, sig.inputs)
                          for d, size in enumerate(t.shape) if size == s) for s in sig.symbols}
        ins, outs, buffers = inputs_t(), outputs_t(), []
        for (field, _), a in zip(sig.inputs, keep):
            setattr(ins, field, a.ctypes.data)
            for d, n in enumerate(a.shape):
                getattr(ins, f"{field}_shape")[d] = n
        for field, t in sig.outputs:
            buf = np.empty(tuple(int(_evaluate(d, values)) for d in t.shape), t.dtype.np)
            buffers.append(buf)
            setattr(outs, field, buf.ctypes.data)
            setattr(outs, f"{field}_capacity", buf.size)
        args = (ctypes.byref(ins), ctypes.byref(outs), *[values[s] for s in sig.symbols])

        def call() -> list:
            code = run(*args)
            if code:
                raise CallError(name, code)
            return buffers
        call.keep = (keep, ins, outs)  # the arrays and structs live as long as the callable
        return call

    def __getattr__(self, name: str) -> Callable:
        if name.startswith("_") or name not in self._entries:
            raise AttributeError(name)
        return self.entry(name)


def _evaluate(d: Any, values: dict) -> int:
    from ..ir.symbolic import SymExpr
    if isinstance(d, int):
        return d
    total = 0
    for mono, c in SymExpr(d).poly.items():
        term = c
        for s in mono:
            term *= values[s]
        total += term
    return int(total)

"""Byte strings between ranks (sizes first, then one Allgatherv or Bcast of the bytes): what the
object collectives and the debug-mode shape check send."""

from __future__ import annotations

import numpy as np

from .process_group import ProcessGroup
from .work import Work

__all__ = ["allgather_bytes", "bcast_bytes"]


def _wait(g: ProcessGroup, request: object, what: str) -> None:
    Work([request], what, g.rank(), g.timeout).wait()


def allgather_bytes(g: ProcessGroup, data: bytes, what: str) -> list[bytes]:
    """Every rank's `data`, in rank order."""
    from mpi4py import MPI
    sizes = np.zeros(g.size(), np.int64)
    _wait(g, g.comm.Iallgather(np.array([len(data)], np.int64), sizes), what)
    out = np.empty(int(sizes.sum()), np.uint8)
    counts = [int(s) for s in sizes]
    displs = [int(d) for d in np.concatenate([[0], np.cumsum(sizes)[:-1]])]
    send = np.frombuffer(data, np.uint8) if data else np.empty(0, np.uint8)
    _wait(g, g.comm.Iallgatherv(send, [out, counts, displs, MPI.BYTE]), what)
    return [out[d:d + c].tobytes() for c, d in zip(counts, displs)]


def bcast_bytes(g: ProcessGroup, data: bytes | None, root: int, what: str) -> bytes:
    """`data` from group rank `root` on every rank."""
    size = np.array([len(data) if data is not None else 0], np.int64)
    _wait(g, g.comm.Ibcast(size, root=root), what)
    buf = np.frombuffer(data, np.uint8).copy() if g.rank() == root else \
        np.empty(int(size[0]), np.uint8)
    _wait(g, g.comm.Ibcast(buf, root=root), what)
    return buf.tobytes()

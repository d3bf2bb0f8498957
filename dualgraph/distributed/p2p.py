"""Point-to-point messages: `send`/`recv` and their non-blocking `isend`/`irecv`.

Ranks are global, as in PyTorch; a receive with `src=None` takes the first message from any rank
and returns (or its Work's `source_rank()` gives) the sender.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .buffers import Staged, check_eager, check_tensor
from .collectives import run
from .process_group import ProcessGroup, resolve
from .work import Work

__all__ = ["send", "recv", "isend", "irecv"]


def _tag(tag: Any, who: str) -> int:
    from mpi4py import MPI
    if isinstance(tag, bool) or not isinstance(tag, int) or not 0 <= tag <= MPI.COMM_WORLD.Get_attr(
            MPI.TAG_UB):
        raise ValueError(f"dg.distributed.{who}: tag must be a non-negative int (at most MPI's "
                         f"TAG_UB), got {tag!r}")
    return tag


def _dest(g: ProcessGroup, rank: Any, group_rank: Any, who: str, what: str) -> int:
    from .collectives import peer
    r = peer(g, rank, group_rank, who, what)
    if r == g.rank():
        raise ValueError(f"Invalid {'destination' if what == 'dst' else 'source'} rank: should "
                         f"not be the same as the rank of the current process. "
                         f"(dg.distributed.{who})")
    return r


def isend(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None,
          tag: int = 0, group_dst: int | None = None) -> Work | None:
    """Start sending `tensor` to rank `dst`; keep `tensor` unchanged until the Work is done."""
    check_eager("isend")
    t = check_tensor(tensor, "tensor", "isend")
    g = resolve(group)
    if g is None:
        return None
    to = _dest(g, dst, group_dst, "isend", "dst")
    data = np.ascontiguousarray(t._data)
    req = g.comm.Isend(data, dest=to, tag=_tag(tag, "isend"))
    return run(g, [req], f"isend to rank {g.ranks[to]}", lambda _: data is None, True)


def irecv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
          tag: int = 0, group_src: int | None = None) -> Work | None:
    """Start receiving into `tensor` from rank `src` (any rank if None)."""
    from mpi4py import MPI
    check_eager("irecv")
    t = check_tensor(tensor, "tensor", "irecv")
    g = resolve(group)
    if g is None:
        return None
    source = MPI.ANY_SOURCE if src is None and group_src is None else \
        _dest(g, src, group_src, "irecv", "src")
    s = Staged(t)
    req = g.comm.Irecv(s.array, source=source, tag=_tag(tag, "irecv"))

    def finish(statuses: list) -> int:
        status = statuses[0]
        got = status.Get_count(MPI.BYTE)
        if got != s.array.nbytes:
            raise RuntimeError(f"dg.distributed.recv: received {got} bytes from rank "
                               f"{g.ranks[status.Get_source()]} into a tensor of "
                               f"{s.array.nbytes} bytes (shape {list(t.shape)}, {t.dtype})")
        s.written()
        return g.ranks[status.Get_source()]
    return run(g, [req], "irecv", finish, True)


def send(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None,
         tag: int = 0, group_dst: int | None = None) -> None:
    """Send `tensor` to rank `dst`, returning once the buffer may be reused."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
         tag: int = 0, group_src: int | None = None) -> int:
    """Receive into `tensor` from rank `src` (any rank if None); returns the sender's rank
    (-1 on a rank outside `group`)."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    return work.source_rank()

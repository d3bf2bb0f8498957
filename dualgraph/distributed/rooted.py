"""`gather` and `scatter`: one rank collects every rank's tensor, or hands each rank one.

As in PyTorch, the list argument exists on the root only: `gather_list` on `dst`, `scatter_list`
on `src`, and passing it anywhere else is an error. With neither `dst`/`src` nor their
`group_` forms given, the root is the group's first rank.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .buffers import Staged, check_eager, check_tensor
from .collectives import _check_list, debug_check, peer, run
from .process_group import ProcessGroup, resolve
from .work import Work

__all__ = ["gather", "scatter"]


def _root(g: ProcessGroup, rank: int | None, group_rank: int | None, who: str,
          what: str) -> int:
    if rank is None and group_rank is None:
        return 0
    return peer(g, rank, group_rank, who, what)


def _only_on_root(value: object, is_root: bool, param: str, who: str) -> None:
    if is_root and value is None:
        raise ValueError(f"dg.distributed.{who}: Argument ``{param}`` must be specified on the "
                         "root rank.")
    if not is_root and value is not None:
        raise ValueError(f"dg.distributed.{who}: Argument ``{param}`` must NOT be specified on "
                         "non-root ranks.")


def gather(tensor: Tensor, gather_list: list | None = None, dst: int | None = None,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None) -> Work | None:
    """Every rank's `tensor` into `gather_list` on rank `dst` (one tensor per rank)."""
    check_eager("gather")
    t = check_tensor(tensor, "tensor", "gather")
    g = resolve(group)
    if g is None:
        return None
    root = _root(g, dst, group_dst, "gather", "dst")
    is_root = g.rank() == root
    _only_on_root(gather_list, is_root, "gather_list", "gather")
    outs = _check_list(gather_list, t, g.size(), "gather_list", "gather") if is_root else []
    debug_check(g, "gather", [t], root)
    recv = np.empty((g.size(),) + t._data.shape, t._data.dtype) if is_root else None
    req = g.comm.Igather(np.ascontiguousarray(t._data), recv, root=root)

    def finish(_: list) -> None:
        for o, part in zip(outs, recv if is_root else ()):
            np.copyto(o._data, part)
            o._version_counter().value += 1
    return run(g, [req], "gather", finish, async_op)


def scatter(tensor: Tensor, scatter_list: list | None = None, src: int | None = None,
            group: ProcessGroup | None = None, async_op: bool = False,
            group_src: int | None = None) -> Work | None:
    """Rank i's `tensor` receives `scatter_list[i]` from rank `src`."""
    check_eager("scatter")
    t = check_tensor(tensor, "tensor", "scatter")
    g = resolve(group)
    if g is None:
        return None
    root = _root(g, src, group_src, "scatter", "src")
    is_root = g.rank() == root
    _only_on_root(scatter_list, is_root, "scatter_list", "scatter")
    send = None
    if is_root:
        ins = _check_list(scatter_list, t, g.size(), "scatter_list", "scatter")
        send = np.stack([np.asarray(i._data) for i in ins])
    debug_check(g, "scatter", [t], root)
    s = Staged(t)
    req = g.comm.Iscatter(send, s.array, root=root)
    return run(g, [req], "scatter", lambda _: s.written(), async_op)

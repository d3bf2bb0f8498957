"""`Work`: the handle of a collective started with `async_op=True`.

MPI's non-blocking request is polled until done or until the group's timeout passes, so a rank
whose peers never arrive fails with an error instead of hanging. After completion the handle
finishes the op's bookkeeping: copies results into non-contiguous tensors, divides for AVG,
bumps the tensors' version counters.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

__all__ = ["Work", "DistError", "DistBackendError", "wait_all"]


class DistError(RuntimeError):
    """Raised when a distributed operation fails (PyTorch's torch.distributed.DistError)."""


class DistBackendError(DistError):
    """Raised when the transport fails or a wait times out (PyTorch's DistBackendError)."""


class Work:
    """One in-flight operation: `wait()` blocks until it is done, `is_completed()` polls."""

    def __init__(self, requests: Sequence[Any], what: str, rank: int, timeout: float,
                 finish: Callable[[list], Any] | None = None) -> None:
        self._requests = list(requests)
        self._what, self._rank, self._timeout = what, rank, timeout
        self._finish = finish
        self._done = not self._requests
        self._result: Any = None
        self._statuses: list = []
        if self._done:
            self._complete()

    def is_completed(self) -> bool:
        """Whether the operation has finished (drives MPI's progress as it asks)."""
        if not self._done and self._test():
            self._complete()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed()

    def wait(self, timeout: Any = None) -> bool:
        """Block until done; raise DistBackendError after `timeout` (a timedelta) or the
        group's timeout."""
        if self._done:
            return True
        limit = self._timeout if timeout is None else timeout.total_seconds()
        deadline = time.monotonic() + limit
        spins = 0
        while not self._test():
            spins += 1
            if spins > 200:  # past the first microseconds, yield the core to the others
                time.sleep(0.0002 if spins < 5000 else 0.002)
                if time.monotonic() > deadline:
                    raise DistBackendError(
                        f"{self._what} on rank {self._rank} timed out after {limit:g} s: another "
                        "rank failed, exited, or is not making the same call")
        self._complete()
        return True

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            finish, self._finish = self._finish, None
            self._result = finish(self._statuses)

    def _test(self) -> bool:
        from mpi4py import MPI
        if not self._statuses:
            self._statuses = [MPI.Status() for _ in self._requests]
        return bool(MPI.Request.Testall(self._requests, self._statuses))

    def result(self) -> Any:
        self.wait()
        return self._result

    def source_rank(self) -> int:
        """For a receive from any source: the rank the message came from."""
        self.wait()
        if not isinstance(self._result, int):
            raise RuntimeError(f"source_rank() is only available on a receive, not {self._what}")
        return self._result

    def __repr__(self) -> str:
        return f"<Work {self._what} {'done' if self._done else 'pending'}>"


def wait_all(works: Sequence[Work]) -> None:
    for w in works:
        w.wait()

"""The one error type of the server: an HTTP status, a message for the client and a reason label
(the `reason` of the errors metric)."""

from __future__ import annotations


class ServeError(Exception):
    """A request that cannot be answered with outputs: `status` is the HTTP code sent back with
    `{"error": message}`; `reason` is a short label for metrics (`bad_input`, `queue_full` ...)."""

    def __init__(self, status: int, message: str, reason: str = "bad_input") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason

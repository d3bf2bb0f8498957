"""The error hierarchy: every error dualgraph raises of its own kind derives from DualgraphError."""

from __future__ import annotations


class DualgraphError(Exception):
    """Base of dualgraph's own errors (trace, script, serialization, verification)."""


class VerificationError(DualgraphError):
    """A graph breaks an IR rule; the message names the node, the rule, and shows the graph."""

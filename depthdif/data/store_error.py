"""The one error type of the store layer (its own module so store.py's helpers can raise it)."""

from __future__ import annotations


class StoreError(ValueError):
    """A store is incomplete, damaged or not a depthdif store; the message names the path."""

"""What goes wrong in the warehouse, each with a one-line message."""

from __future__ import annotations


class WarehouseError(RuntimeError):
    """A warehouse operation failed; nothing it started is left half-done."""


class WarehouseUnavailableError(WarehouseError):
    """The warehouse cannot be reached (down, wrong address or credentials)."""


class SerializationConflictError(WarehouseError):
    """A concurrent transaction touched the same rows; the whole transaction may be retried."""


class LoadInputError(WarehouseError):
    """A load's input is wrong: a manifest naming a missing file, a drifted schema, an unknown table."""

"""Failures of the storage layer, named for what the caller can do about them.

The protocol layer maps each class to its JSON-RPC error code; storage itself
knows nothing of JSON-RPC.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class: the request met a storage failure, the daemon goes on."""

    reason = "storage"

    def details(self) -> dict[str, object]:
        """Extra fields for the error's `data`, beside `reason`."""
        return {}


class StorageBusy(StorageError):
    """The database lock was not acquired within the busy timeout."""

    reason = "busy"


class StorageReadOnly(StorageError):
    """The file, its folder or the database refuses writes."""

    reason = "readonly"


class StorageFull(StorageError):
    """The disk or a quota is full."""

    reason = "full"


class StorageCorrupt(StorageError):
    """The database fails its integrity check and no backup could restore it."""

    reason = "corrupt"


class StorageUnavailable(StorageError):
    """The database cannot be reached: file gone, server down."""

    reason = "unavailable"


class TextNotStorable(StorageError):
    """The backend cannot hold this text: PostgreSQL's text type refuses
    U+0000, which PROTOCOL.md allows and SQLite stores."""

    reason = "not_storable"


class SchemaTooNew(StorageError):
    """The database was migrated by a newer daemon; this one writes nothing."""

    reason = "schema_too_new"

    def __init__(self, database_version: int, supported_version: int) -> None:
        super().__init__(
            f"database schema version {database_version} is newer than this daemon "
            f"supports ({supported_version}); upgrade idumb-daemon"
        )
        self.database_version = database_version
        self.supported_version = supported_version

    def details(self) -> dict[str, object]:
        return {
            "databaseVersion": self.database_version,
            "supportedVersion": self.supported_version,
        }


class Conflict(StorageError):
    """A write's `ifRevision` did not match: nothing was written. Each conflict
    names its row (`{"key": ...}` or `{"projectDir": ...}`) and holds its
    current state (an entry, or None when absent)."""

    reason = "conflict"

    def __init__(self, conflicts: list[dict[str, object]]) -> None:
        names = ", ".join(repr(next(iter(c.values()))) for c in conflicts)
        super().__init__(f"revision does not match for {names}")
        self.conflicts = conflicts

    def details(self) -> dict[str, object]:
        return {"conflicts": self.conflicts}


class FatalStorageError(Exception):
    """A database state the daemon must not serve on: it exits."""

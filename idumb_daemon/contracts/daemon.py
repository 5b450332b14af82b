"""daemon/*: the daemon's own status and watching."""

from __future__ import annotations

from datetime import datetime

import attrs


@attrs.frozen
class DaemonStatusParams:
    pass


@attrs.frozen
class WatchParams:
    enabled: bool = True
    """False stops watching."""


@attrs.frozen
class RecoveryInfo:
    from_: str
    """The backup the database was restored from (JSON "from")."""
    at: datetime
    corrupt_file: str
    """Where the corrupt database was moved aside."""


@attrs.frozen
class DaemonStatus:
    version: str
    protocol_version: int
    schema_version: int | None
    backend: str
    database: str
    """The database location, never with a password."""
    watching: bool
    recovered: RecoveryInfo | None


@attrs.frozen
class WatchResult:
    watching: bool

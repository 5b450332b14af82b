"""daemon/*: the daemon's own status and watching."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from idumb_daemon.contracts.checks import Revision
from idumb_daemon.contracts.common import Method


@attrs.frozen
class DaemonStatusParams:
    pass


@attrs.frozen
class WatchParams:
    enabled: bool = True
    """False stops watching."""
    since: Revision | None = None
    """Replay every change committed after this revision first (watching only)."""


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
    revision: int | None
    """The highest committed revision; null while storage is unavailable."""


@attrs.frozen
class WatchResult:
    watching: bool
    revision: int
    """The highest committed revision when it answered; 0 while storage is unavailable."""


# --- methods: each name written once, here --------------------------------------

DAEMON_STATUS: Final[Method[DaemonStatusParams, DaemonStatus]] = Method(
    "daemon/status", DaemonStatusParams, DaemonStatus
)

DAEMON_WATCH: Final[Method[WatchParams, WatchResult]] = Method(
    "daemon/watch", WatchParams, WatchResult
)

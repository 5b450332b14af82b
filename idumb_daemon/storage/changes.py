"""Revisions and the change feed behind `daemon/watch`.

Migration 0003 gives the database a change log, `__idumb_changes` (seq, table
name, scope, row key, deleted), that triggers on settings, workspace_config and
workspace_settings fill whoever writes: this daemon, another one, the
TypeScript app, the sqlite3 shell. The log keeps the LATEST change of each row
(scope is the project of a workspace setting, '' otherwise): a change replaces
the row's entry with one under a fresh seq, a deleted row leaves a tombstone.
So a row's revision is the seq of its entry, the highest revision is the
highest seq, and "what changed after N" is the entries above N, each row once
with its latest state (coalesced, as the protocol allows). The log holds one
entry per row plus the tombstones of the last 10,000 changes: older tombstones
are pruned, and the horizon table records the seq below which a tombstone may
be gone, so that a reader from before it resyncs. On PostgreSQL a TRUNCATE
moves the horizon past every seq too. Seqs grow in commit order (on SQLite one
writer at a time; on PostgreSQL the triggers make writers take turns).

A Feed reads the log from where it left off, so its work follows the number of
changes, not the size of the tables. It skips the seqs that this daemon's own
transactions produced (the storage thread tells it, see `own_write`), so a
client never hears its own writes back, except in the replay of `since`.

Like all storage work, a Feed runs on the storage thread, between transactions.
"""

from __future__ import annotations

import bisect
import logging
from datetime import datetime
from typing import Any

import attrs
import dataset

from idumb_daemon.contracts import SettingChange, WorkspaceChange, WorkspaceConfig
from idumb_daemon.storage.database import _side_errors, connect_postgres
from idumb_daemon.storage.settings import lock_change_log
from idumb_daemon.storage.sql import execute_on, run, table_names
from idumb_daemon.storage.times import to_time
from idumb_daemon.storage.tx import Tx
from idumb_daemon.storage.workspaces import decode_config

log = logging.getLogger(__name__)

CHANGE_LOG = "__idumb_changes"
HORIZON = "__idumb_changes_horizon"
NOTIFY_CHANNEL = "idumb_changes"
"""On PostgreSQL the change-log trigger also calls pg_notify on this channel,
delivered at commit to every session LISTENing on the database."""
SETTINGS = "settings"
WORKSPACES = "workspace_config"
WORKSPACE_SETTINGS = "workspace_settings"

_LAST_REVISION = (
    f"SELECT (SELECT coalesce(max(seq), 0) FROM {CHANGE_LOG}), "
    f"(SELECT seq FROM {HORIZON} WHERE id = 1)"
)
# Each reads the log entries in a seq range with the current row of each: one
# statement, so an entry and its row agree even where each statement has a
# snapshot of its own (PostgreSQL's read committed). `table_name || ''` keeps
# the planner on the seq range: by the (table_name, ...) index it would read
# every row of the table.
_LOGGED = {
    SETTINGS: (
        "SELECT rev.seq, rev.scope, rev.row_key, rev.deleted, settings.value, settings.updated_at "
        f"FROM {CHANGE_LOG} AS rev LEFT JOIN settings ON settings.key = rev.row_key "
        "WHERE rev.seq > ? AND rev.seq <= ? AND rev.table_name || '' = 'settings' ORDER BY rev.seq"
    ),
    WORKSPACE_SETTINGS: (
        "SELECT rev.seq, rev.scope, rev.row_key, rev.deleted, ws.value, ws.updated_at "
        f"FROM {CHANGE_LOG} AS rev LEFT JOIN workspace_settings AS ws "
        "ON ws.project_dir = rev.scope AND ws.key = rev.row_key "
        "WHERE rev.seq > ? AND rev.seq <= ? AND rev.table_name || '' = 'workspace_settings' "
        "ORDER BY rev.seq"
    ),
    WORKSPACES: (
        "SELECT rev.seq, rev.scope, rev.row_key, rev.deleted, "
        "w.id, w.name, w.last_opened, w.config "
        f"FROM {CHANGE_LOG} AS rev LEFT JOIN workspace_config AS w ON w.project_dir = rev.row_key "
        "WHERE rev.seq > ? AND rev.seq <= ? AND rev.table_name || '' = 'workspace_config' "
        "ORDER BY rev.seq"
    ),
}
_ALL = {
    SETTINGS: (
        "SELECT rev.seq, '' AS scope, settings.key, 0 AS deleted, settings.value, "
        f"settings.updated_at FROM settings LEFT JOIN {CHANGE_LOG} AS rev "
        "ON rev.table_name = 'settings' AND rev.scope = '' AND rev.row_key = settings.key"
    ),
    WORKSPACE_SETTINGS: (
        "SELECT rev.seq, ws.project_dir, ws.key, 0 AS deleted, ws.value, ws.updated_at "
        f"FROM workspace_settings AS ws LEFT JOIN {CHANGE_LOG} AS rev "
        "ON rev.table_name = 'workspace_settings' AND rev.scope = ws.project_dir "
        "AND rev.row_key = ws.key"
    ),
    WORKSPACES: (
        "SELECT rev.seq, '' AS scope, w.project_dir, 0 AS deleted, w.id, w.name, "
        f"w.last_opened, w.config FROM workspace_config AS w LEFT JOIN {CHANGE_LOG} AS rev "
        "ON rev.table_name = 'workspace_config' AND rev.scope = '' AND rev.row_key = w.project_dir"
    ),
}


@attrs.frozen
class Changes:
    settings: list[SettingChange] = attrs.field(factory=list)
    """Both layers, in revision order."""
    workspaces: list[WorkspaceChange] = attrs.field(factory=list)
    """In revision order."""
    revision: int = 0
    """Every change up to this revision is in these lists or was our own."""
    resync: bool = False
    """The lists are the whole state: a client drops what it holds."""


def last_seq(db: dataset.Database) -> int:
    """The newest seq in the change log; 0 when it is empty."""
    row = run(db, f"SELECT max(seq) FROM {CHANGE_LOG}").fetchone()
    return 0 if row is None else int(row[0] or 0)


def _revisions(db: dataset.Database) -> tuple[int, int]:
    """(the highest revision, the horizon: a tombstone at or below it may be gone)."""
    newest, horizon = run(db, _LAST_REVISION).fetchone()
    horizon = int(horizon or 0)
    return max(int(newest), horizon), horizon


def last_revision(db: dataset.Database) -> int:
    """The highest committed revision (a TRUNCATE on PostgreSQL takes one
    that no row holds)."""
    return _revisions(db)[0]


def revision_now(tx: Tx) -> int:
    """`last_revision` as a storage read operation: on SQLite one statement,
    so it may run as a lone read on the event loop's own connection."""
    return last_revision(tx.db)


def peek_revision(url: str) -> int:
    """The highest committed revision of a PostgreSQL database, read on a
    short session of its own, so that it never waits behind the storage
    thread. (Not for SQLite: a second connection to the file in this process
    could drop the POSIX locks of the others when it closes.) Failures are
    StorageErrors."""
    with _side_errors():
        server = connect_postgres(url)
        try:
            row = execute_on(server, _LAST_REVISION).fetchone() or (0, 0)
        finally:
            server.close()
    return max(int(row[0]), int(row[1] or 0))


def begin_own_write(db: dataset.Database) -> int:
    """The seq our write transaction, just begun, starts after: every seq in
    (this, `last_seq` at its end] is then ours (see `Feed.own_write`).

    On SQLite BEGIN IMMEDIATE already holds the write lock. On PostgreSQL
    another session may be inside a write whose log rows we cannot see yet and
    whose commit would land inside our range; taking the change log's lock
    first waits for it to commit, and keeps every other writer of the log out
    until ours has, even when our write changes no row and so never fires the
    triggers that take it.
    """
    lock_change_log(db)
    return last_seq(db)


def _time(value: Any, table: str, key: str, column: str) -> datetime | None:
    """A stored time as the wire reports it; one that is no time in unix
    seconds (another program wrote milliseconds) is reported as null."""
    try:
        return to_time(value, table, key)
    except (TypeError, ValueError, OverflowError, OSError):
        log.warning(
            "%s %r: %s %r is not a time in seconds: reported as null", table, key, column, value
        )
        return None


def _setting(table: str, row: tuple[Any, ...]) -> SettingChange:
    seq, scope, key, deleted, value, updated_at = row
    project_dir = scope if table == WORKSPACE_SETTINGS else None
    if deleted or value is None:
        value = updated_at = None
    return SettingChange(
        key=key,
        value=value,
        updated_at=None if updated_at is None else _time(updated_at, table, key, "updated_at"),
        revision=int(seq or 0),
        project_dir=project_dir,
    )


def _workspace(row: tuple[Any, ...]) -> WorkspaceChange:
    seq, _scope, project_dir, deleted, row_id, name, last_opened, config = row
    revision = int(seq or 0)
    if deleted or row_id is None:
        return WorkspaceChange(project_dir=project_dir, workspace=None, revision=revision)
    return WorkspaceChange(
        project_dir=project_dir,
        workspace=WorkspaceConfig(
            project_dir=project_dir,
            name=name,
            last_opened=_time(last_opened, WORKSPACES, project_dir, "last_opened"),
            config=decode_config(config, project_dir),
            revision=revision,
        ),
        revision=revision,
    )


class Feed:
    """Where one watcher stands in the change log; see the module docstring."""

    def __init__(self, last: int, source: object = None, *, replay: bool = False) -> None:
        self.last = last
        """The newest revision already accounted for."""
        self.source = source
        """Which database `last` counts in (see `collect`)."""
        self._replay = replay
        """The next look reports our own changes too (the replay of `since`)."""
        self._own: list[tuple[int, int]] = []
        """Half-open seq ranges (lo, hi] of our own commits above `last`, in order."""

    @classmethod
    def start(
        cls, db: dataset.Database, source: object = None, *, after: int | None, replay: bool
    ) -> Feed | None:
        """A feed of what changes after revision `after` (None: from now on);
        `replay` reports our own changes after it too. None when the database
        has no change log (a schema older than version 3)."""
        if HORIZON not in table_names(db):
            log.warning("the database has no %s table: changes cannot be followed", HORIZON)
            return None
        return cls(last_revision(db) if after is None else after, source, replay=replay)

    def own_write(self, lo: int, hi: int) -> None:
        """Our own transaction, now committed, produced the seqs in (lo, hi]."""
        if hi > lo:
            self._own.append((lo, hi))

    def _is_own(self, seq: int) -> bool:
        i = bisect.bisect_left(self._own, seq, key=lambda r: r[1])
        return i < len(self._own) and self._own[i][0] < seq

    def collect(self, db: dataset.Database, source: object = None) -> Changes:
        """What changed since the last call, as current rows with their
        revisions; run inside one read transaction. `source` names the
        database read now: another one than before (a file restored in place
        of the one followed) has revisions of its own, so it is a resync."""
        top, horizon = _revisions(db)
        if source != self.source:
            self.source = source
            return self._resync(db, top, "another database file is in place")
        if self.last > top:
            return self._resync(db, top, "the database is older than the revision followed")
        if self.last < horizon:
            return self._resync(db, top, "the change log no longer reaches the revision followed")
        if top == self.last:
            return Changes()
        own = (lambda _seq: False) if self._replay else self._is_own
        settings = [
            _setting(table, row)
            for table in (SETTINGS, WORKSPACE_SETTINGS)
            for row in run(db, _LOGGED[table], (self.last, top)).fetchall()
            if not own(int(row[0]))
        ]
        settings.sort(key=lambda change: change.revision)
        workspaces = [
            _workspace(row)
            for row in run(db, _LOGGED[WORKSPACES], (self.last, top)).fetchall()
            if not own(int(row[0]))
        ]
        # Only now that every change is built: a look that fails before this
        # point is retried from the same place, and loses nothing.
        self.last = top
        self._replay = False
        del self._own[: bisect.bisect_right(self._own, top, key=lambda r: r[1])]
        if not settings and not workspaces:
            return Changes()
        return Changes(settings=settings, workspaces=workspaces, revision=top)

    def _resync(self, db: dataset.Database, top: int, why: str) -> Changes:
        """The log cannot say what changed after `last`: report every row."""
        log.warning("%s: resync, reporting every row", why)
        settings = [
            _setting(table, row)
            for table in (SETTINGS, WORKSPACE_SETTINGS)
            for row in run(db, _ALL[table]).fetchall()
        ]
        settings.sort(key=lambda change: change.revision)
        workspaces = [_workspace(row) for row in run(db, _ALL[WORKSPACES]).fetchall()]
        workspaces.sort(key=lambda change: change.revision)
        self.last = top
        self._replay = False
        self._own.clear()
        return Changes(settings=settings, workspaces=workspaces, revision=top, resync=True)

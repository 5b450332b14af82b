"""Following what other writers change: the change feed behind `daemon/watch`.

Migration 0002 gives the database a change log, `__idumb_changes` (seq, table
name, row key), which triggers on settings and workspace_config fill whoever
writes: this daemon, another one, the TypeScript app, the sqlite3 shell. A
trigger keeps only its newest 10,000 rows. Seqs grow in commit order (on SQLite
one writer at a time; on PostgreSQL the triggers make writers take turns).

A Feed reads the log from where it left off and reports the current rows of
the keys named there, so its work follows the number of changes, not the size
of the tables. It skips the seqs that this daemon's own transactions produced
(the storage thread tells it, see `own_write`), so a client never hears its own
writes back. It also keeps the set of existing keys: a feed that fell further
behind than the retained window can no longer say what changed, so it compares
the tables against that set and reports every row, and every key that is gone.

Like all storage work, a Feed runs on the storage thread, between transactions.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import attrs
import dataset

from idumb_daemon.contracts import SettingChange, WorkspaceChange, WorkspaceConfig
from idumb_daemon.storage.settings import to_time
from idumb_daemon.storage.sql import rows, run, table_names
from idumb_daemon.storage.workspaces import decode_config

log = logging.getLogger(__name__)

CHANGE_LOG = "__idumb_changes"
NOTIFY_CHANNEL = "idumb_changes"
"""On PostgreSQL the change-log trigger also calls pg_notify on this channel,
delivered at commit to every session LISTENing on the database."""
SETTINGS = "settings"
WORKSPACES = "workspace_config"
_KEY_COLUMN = {SETTINGS: "key", WORKSPACES: "project_dir"}
_COLUMNS = {
    SETTINGS: "key, value, updated_at",
    WORKSPACES: "project_dir, name, last_opened, config",
}
# Keys bound per `IN (...)`: far below every backend's parameter limit.
_IN_BATCH = 500
_LOG_LOCK_KEY = 3667353811379917988
"""The advisory lock migration 0002's PostgreSQL triggers take before a
statement changes a followed table, held to the commit: writers of the change
log take turns on it."""


@attrs.frozen
class Changes:
    settings: list[SettingChange] = attrs.field(factory=list)
    workspaces: list[WorkspaceChange] = attrs.field(factory=list)


def last_seq(db: dataset.Database) -> int:
    """The newest seq in the change log; 0 when it is empty."""
    row = run(db, f"SELECT max(seq) FROM {CHANGE_LOG}").fetchone()
    return 0 if row is None else int(row[0] or 0)


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
    if db.is_postgres:
        run(db, "SELECT pg_advisory_xact_lock(?)", (_LOG_LOCK_KEY,))
    return last_seq(db)


def _time(value: Any, table: str, key: str, column: str) -> datetime | None:
    """A stored time as the wire reports it; one that is no time in unix
    seconds (another program wrote milliseconds) is reported as null."""
    try:
        return to_time(value)
    except (TypeError, ValueError, OverflowError, OSError):
        log.warning(
            "%s %r: %s %r is not a time in seconds: reported as null", table, key, column, value
        )
        return None


def _setting(row: dict[str, Any] | None, key: str) -> SettingChange:
    if row is None:
        return SettingChange(key=key, value=None, updated_at=None)
    return SettingChange(
        key=key,
        value=row["value"],
        updated_at=_time(row["updated_at"], SETTINGS, key, "updated_at"),
    )


def _workspace(row: dict[str, Any] | None, project_dir: str) -> WorkspaceChange:
    if row is None:
        return WorkspaceChange(project_dir=project_dir, workspace=None)
    return WorkspaceChange(
        project_dir=project_dir,
        workspace=WorkspaceConfig(
            project_dir=project_dir,
            name=row["name"],
            last_opened=_time(row["last_opened"], WORKSPACES, project_dir, "last_opened"),
            config=decode_config(row["config"], project_dir),
        ),
    )


def _batches(keys: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(keys), _IN_BATCH):
        yield keys[start : start + _IN_BATCH]


def _current(db: dataset.Database, table: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The rows of `table` with these keys, by key (absent keys: deleted)."""
    column = _KEY_COLUMN[table]
    found: dict[str, dict[str, Any]] = {}
    for batch in _batches(list(keys)):
        sql = (
            f"SELECT {_COLUMNS[table]} FROM {table} "
            f"WHERE {column} IN ({', '.join('?' * len(batch))})"
        )
        for row in rows(db, sql, batch):
            found[row[column]] = row
    return found


def _all_rows(db: dataset.Database, table: str) -> dict[str, dict[str, Any]]:
    column = _KEY_COLUMN[table]
    return {row[column]: row for row in rows(db, f"SELECT {_COLUMNS[table]} FROM {table}")}


class Feed:
    """Where one watcher stands in the change log; see the module docstring."""

    def __init__(self, last: int, keys: dict[str, set[str]], source: object = None) -> None:
        self.last = last
        """The newest seq already accounted for."""
        self.source = source
        """Which database `last` counts in (see `collect`)."""
        self._keys = keys
        self._own: list[tuple[int, int]] = []
        """Half-open seq ranges (lo, hi] of our own commits above `last`, in order."""

    @classmethod
    def start(cls, db: dataset.Database, source: object = None) -> Feed | None:
        """A feed of what changes from now on; None when the database has no
        change log (a schema older than version 2)."""
        if CHANGE_LOG not in table_names(db):
            log.warning("the database has no %s table: changes cannot be followed", CHANGE_LOG)
            return None
        keys = {
            table: {row[0] for row in run(db, f"SELECT {column} FROM {table}").fetchall()}
            for table, column in _KEY_COLUMN.items()
        }
        return cls(last_seq(db), keys, source)

    def own_write(self, lo: int, hi: int) -> None:
        """Our own transaction, now committed, produced the seqs in (lo, hi]."""
        if hi > lo:
            self._own.append((lo, hi))

    def _is_own(self, seq: int) -> bool:
        i = bisect.bisect_left(self._own, seq, key=lambda r: r[1])
        return i < len(self._own) and self._own[i][0] < seq

    def collect(self, db: dataset.Database, source: object = None) -> Changes:
        """What others changed since the last call, as current rows; run
        inside one read transaction so rows and log agree. `source` names the
        database read now: another one than before (a file restored in place
        of the one followed) has seqs of its own, so every row is reported."""
        if source != self.source:
            found = self._resync(db, "another database file is in place: reporting every row")
            self.source = source
            return found
        logged = run(
            db,
            f"SELECT seq, table_name, row_key FROM {CHANGE_LOG} WHERE seq > ? ORDER BY seq",
            (self.last,),
        ).fetchall()
        if not logged:
            return Changes()
        if logged[0][0] > self.last + 1 and not self._retained(db, self.last):
            return self._resync(
                db, "change log pruned past what this watcher read: reporting every row"
            )
        # key -> reported: a key some other writer touched is reported with its
        # current row, even if our own write came after (that row is the truth).
        touched: dict[str, dict[str, bool]] = {SETTINGS: {}, WORKSPACES: {}}
        for seq, table, key in logged:
            keys = touched.get(table)
            if keys is None:
                continue  # a table of a later schema version
            keys[key] = keys.pop(key, False) or not self._is_own(seq)
        settings = self._changes(db, SETTINGS, touched[SETTINGS])
        workspaces = self._changes(db, WORKSPACES, touched[WORKSPACES])
        found = Changes(
            settings=[_setting(row, key) for key, row in settings],
            workspaces=[_workspace(row, key) for key, row in workspaces],
        )
        # Only now that every change is built: a look that fails before this
        # point is retried from the same place, and loses nothing.
        self.last = int(logged[-1][0])
        del self._own[: bisect.bisect_right(self._own, self.last, key=lambda r: r[1])]
        return found

    def _changes(
        self, db: dataset.Database, table: str, touched: dict[str, bool]
    ) -> list[tuple[str, dict[str, Any] | None]]:
        current = _current(db, table, touched)
        known = self._keys[table]
        reported = []
        for key, report in touched.items():
            row = current.get(key)
            if row is None:
                known.discard(key)
            else:
                known.add(key)
            if report:
                reported.append((key, row))
        return reported

    def _retained(self, db: dataset.Database, seq: int) -> bool:
        # The log is pruned from its oldest end: while the row we read last is
        # still there, nothing after it was pruned (holes in the seqs, which a
        # PostgreSQL sequence leaves after a rollback, are not a loss).
        return run(db, f"SELECT 1 FROM {CHANGE_LOG} WHERE seq = ?", (seq,)).fetchone() is not None

    def _resync(self, db: dataset.Database, why: str) -> Changes:
        """The log cannot say what changed: report every row, and every key gone."""
        log.warning("%s", why)
        settings = _all_rows(db, SETTINGS)
        workspaces = _all_rows(db, WORKSPACES)
        gone_settings = sorted(self._keys[SETTINGS] - settings.keys())
        gone_workspaces = sorted(self._keys[WORKSPACES] - workspaces.keys())
        last = last_seq(db)
        found = Changes(
            settings=[_setting(row, key) for key, row in settings.items()]
            + [_setting(None, key) for key in gone_settings],
            workspaces=[_workspace(row, key) for key, row in workspaces.items()]
            + [_workspace(None, key) for key in gone_workspaces],
        )
        self._keys = {SETTINGS: set(settings), WORKSPACES: set(workspaces)}
        self.last = last
        self._own.clear()
        return found

"""Settings operations: one function per operation, each taking the `Tx` of the
transaction it runs in. SQL is parameterised and the same on SQLite and
PostgreSQL but for `tx.collate`, which makes PostgreSQL order keys by code
point as SQLite's BINARY collation does.

An entry's revision is the seq of its row in the change log (see
changes.py), joined in by key: the log keeps the latest change of every row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from idumb_daemon.contracts import (
    EXPORT_VERSION,
    ImportResult,
    SettingInput,
    SettingsEntry,
    SettingsExport,
    SettingsSetManyEntry,
)
from idumb_daemon.storage.declarations import checked
from idumb_daemon.storage.errors import Conflict
from idumb_daemon.storage.sql import run
from idumb_daemon.storage.times import from_seconds, out_of_contract
from idumb_daemon.storage.tx import Tx

# Columns named with their table: the app's tables may gain columns of any name.
_REVISION_JOIN = (
    "LEFT JOIN __idumb_changes AS rev "
    "ON rev.table_name = 'settings' AND rev.scope = '' AND rev.row_key = settings.key"
)
_SELECT = (
    f"SELECT settings.key, settings.value, settings.updated_at, rev.seq FROM settings "
    f"{_REVISION_JOIN}"
)
_GET = f"{_SELECT} WHERE settings.key = ?"
_REVISION = (
    "SELECT seq FROM __idumb_changes WHERE table_name = 'settings' AND scope = '' AND row_key = ?"
)
_UPSERT = (
    "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
)
_DELETE = "DELETE FROM settings WHERE key = ?"


LOG_LOCK_KEY: Final = 3667353811379917988
"""The advisory lock migration 0002's PostgreSQL triggers take before a
statement changes a followed table, held to the commit: writers of the change
log take turns on it."""


def _entry(row: tuple[Any, ...]) -> SettingsEntry:
    # to_time inlined: this runs for every row read.
    updated_at = from_seconds(row[2])
    if updated_at is None and row[2] is not None:
        out_of_contract("setting", row[0], row[2])
    return SettingsEntry(
        key=row[0], value=row[1], updated_at=updated_at, revision=row[3] or 0, project_dir=None
    )


def get(tx: Tx, key: str) -> SettingsEntry | None:
    row = run(tx.db, _GET, (key,)).fetchone()
    return None if row is None else _entry(row)


def lock_change_log(db: Any) -> None:
    """On PostgreSQL, wait for the change log's lock (see LOG_LOCK_KEY) and
    hold it to the commit; SQLite's write transaction holds it already."""
    if db.is_postgres:
        run(db, "SELECT pg_advisory_xact_lock(?)", (LOG_LOCK_KEY,))


def check_revisions(
    tx: Tx, expected: Sequence[tuple[str, int | None]], current: Callable[[str], Any], name: str
) -> None:
    """Raise Conflict listing every row whose current revision is not the one
    expected (0: absent); None expects nothing. Runs inside the write
    transaction, so the write that follows sees what was checked: SQLite's
    BEGIN IMMEDIATE already excludes every other writer; on PostgreSQL every
    writer of a followed table takes the change log's lock (migration 0002),
    so taking it first keeps the check and the write atomic."""
    wanted = [(row, revision) for row, revision in expected if revision is not None]
    if not wanted:
        return
    lock_change_log(tx.db)
    conflicts: list[dict[str, object]] = []
    for row, revision in wanted:
        found = current(row)
        if (0 if found is None else found.revision) != revision:
            conflicts.append({name: row, "current": found})
    if conflicts:
        raise Conflict(conflicts)


def _set(tx: Tx, key: str, value: str, now: int) -> SettingsEntry:
    # One statement: atomic against concurrent writers, never a unique-constraint error.
    run(tx.db, _UPSERT, (key, value, now))
    (revision,) = run(tx.db, _REVISION, (key,)).fetchone()
    return SettingsEntry(
        key=key, value=value, updated_at=from_seconds(now), revision=revision, project_dir=None
    )


def set_(tx: Tx, key: str, value: str, if_revision: int | None = None) -> SettingsEntry:
    (value,) = checked(tx, [(key, value)], lambda _: "")
    check_revisions(tx, [(key, if_revision)], lambda k: get(tx, k), "key")
    return _set(tx, key, value, tx.now())


def set_many(tx: Tx, entries: Sequence[SettingsSetManyEntry]) -> list[SettingsEntry]:
    writes = [(e.key, e.value) for e in entries]
    values = checked(tx, writes, "entries.{}.".format)
    expected = [(e.key, e.if_revision) for e in entries]
    check_revisions(tx, expected, lambda k: get(tx, k), "key")
    now = tx.now()
    return [_set(tx, key, value, now) for (key, _), value in zip(writes, values, strict=True)]


def delete(tx: Tx, key: str, if_revision: int | None = None) -> bool:
    check_revisions(tx, [(key, if_revision)], lambda k: get(tx, k), "key")
    if if_revision == 0:
        return False  # "only if absent", and it is
    return bool(run(tx.db, _DELETE, (key,)).rowcount)


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix`,
    or None when there is none. Lets a prefix query use the key index and stop
    at its end instead of scanning the rest of the table."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be stored: skip them
            code = 0xE000
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None


def key_range(
    column: str, collate: str, prefix: str | None, after: str | None
) -> tuple[list[str], list[Any]]:
    """The conditions (and their params) of a page of keys: those starting
    with `prefix`, as a range the key index answers, and after `after`."""
    where: list[str] = []
    params: list[Any] = []
    if prefix:
        where.append(f"{column} >= ?{collate}")
        params.append(prefix)
        upper = prefix_upper_bound(prefix)
        if upper is not None:
            where.append(f"{column} < ?{collate}")
            params.append(upper)
    if after is not None:
        where.append(f"{column} > ?{collate}")
        params.append(after)
    return where, params


def get_all(
    tx: Tx, prefix: str | None = None, after: str | None = None, limit: int | None = None
) -> list[SettingsEntry]:
    collate = tx.collate
    where, params = key_range("settings.key", collate, prefix, after)
    sql = _SELECT
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY settings.key{collate}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [_entry(row) for row in run(tx.db, sql, params)]


def export(tx: Tx) -> SettingsExport:
    rows = run(tx.db, f"SELECT key, value FROM settings ORDER BY key{tx.collate}")
    return SettingsExport(
        version=EXPORT_VERSION,
        exported_at=from_seconds(tx.now()),
        settings=[SettingInput(key=key, value=value) for key, value in rows],
    )


def import_(
    tx: Tx, entries: list[SettingInput], replace: bool = False, dry_run: bool = False
) -> ImportResult:
    values = checked(tx, [(e.key, e.value) for e in entries], "settings.{}.".format)
    entries = [SettingInput(key=e.key, value=v) for e, v in zip(entries, values, strict=True)]
    stored = dict(run(tx.db, "SELECT key, value FROM settings").fetchall())
    added = [e for e in entries if e.key not in stored]
    changed = [e for e in entries if e.key in stored and stored[e.key] != e.value]
    incoming = {e.key for e in entries}
    removed = sorted(k for k in stored if k not in incoming) if replace else []
    if not dry_run:
        # Unchanged entries are not written: they keep their updated_at.
        now = tx.now()
        for e in added + changed:
            _set(tx, e.key, e.value, now)
        for key in removed:
            run(tx.db, _DELETE, (key,))
    return ImportResult(
        imported=len(entries),
        added=[e.key for e in added],
        changed=[e.key for e in changed],
        removed=removed,
    )

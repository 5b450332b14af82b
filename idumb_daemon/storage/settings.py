"""Settings operations: one function per operation, run inside a transaction
the caller opened. SQL is parameterised and the same on SQLite and PostgreSQL
but for `collate`, which makes PostgreSQL order keys by code point as SQLite's
BINARY collation does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import dataset

from idumb_daemon.contracts import ImportResult, SettingInput, SettingsEntry, SettingsExport
from idumb_daemon.storage.sql import run

_GET = "SELECT key, value, updated_at FROM settings WHERE key = ?"
_UPSERT = (
    "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
)
_DELETE = "DELETE FROM settings WHERE key = ?"


@lru_cache(maxsize=1024)  # datetimes are immutable; stored times repeat
def to_time(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(int(seconds), UTC)


def _entry(row: tuple[Any, ...]) -> SettingsEntry:
    return SettingsEntry(key=row[0], value=row[1], updated_at=to_time(row[2]))


def get(db: dataset.Database, key: str) -> SettingsEntry | None:
    row = run(db, _GET, (key,)).fetchone()
    return None if row is None else _entry(row)


def set_(db: dataset.Database, key: str, value: str, now: int) -> SettingsEntry:
    # One statement: atomic against concurrent writers, never a unique-constraint error.
    run(db, _UPSERT, (key, value, now))
    return SettingsEntry(key=key, value=value, updated_at=to_time(now))


def set_many(
    db: dataset.Database, entries: Iterable[SettingInput], now: int
) -> list[SettingsEntry]:
    return [set_(db, e.key, e.value, now) for e in entries]


def delete(db: dataset.Database, key: str) -> bool:
    return bool(run(db, _DELETE, (key,)).rowcount)


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


def get_all(
    db: dataset.Database,
    *,
    collate: str,
    prefix: str | None,
    after: str | None,
    limit: int | None,
) -> list[SettingsEntry]:
    where: list[str] = []
    params: list[Any] = []
    if prefix:
        where.append(f"key >= ?{collate}")
        params.append(prefix)
        upper = prefix_upper_bound(prefix)
        if upper is not None:
            where.append(f"key < ?{collate}")
            params.append(upper)
    if after is not None:
        where.append(f"key > ?{collate}")
        params.append(after)
    sql = "SELECT key, value, updated_at FROM settings"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY key{collate}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [_entry(row) for row in run(db, sql, params)]


def export(db: dataset.Database, *, collate: str, now: int) -> SettingsExport:
    rows = run(db, f"SELECT key, value FROM settings ORDER BY key{collate}")
    return SettingsExport(
        version="1.0",
        exported_at=to_time(now),
        settings=[SettingInput(key=key, value=value) for key, value in rows],
    )


def import_(
    db: dataset.Database,
    entries: list[SettingInput],
    *,
    replace: bool,
    dry_run: bool,
    now: int,
) -> ImportResult:
    stored = dict(run(db, "SELECT key, value FROM settings").fetchall())
    added = [e for e in entries if e.key not in stored]
    changed = [e for e in entries if e.key in stored and stored[e.key] != e.value]
    incoming = {e.key for e in entries}
    removed = sorted(k for k in stored if k not in incoming) if replace else []
    if not dry_run:
        # Unchanged entries are not written: they keep their updated_at.
        set_many(db, added + changed, now)
        for key in removed:
            run(db, _DELETE, (key,))
    return ImportResult(
        imported=len(entries),
        added=[e.key for e in added],
        changed=[e.key for e in changed],
        removed=removed,
    )

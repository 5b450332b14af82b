"""Settings operations: one function per operation, run inside a transaction
the caller opened. SQL is parameterised and the same on SQLite and PostgreSQL
but for `collate`, which makes PostgreSQL order keys by code point as SQLite's
BINARY collation does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import dataset

from idumb_daemon.contracts import ImportResult, SettingInput, SettingsEntry, SettingsExport

_COLUMNS = "key, value, updated_at"
_UPSERT = (
    "INSERT INTO settings (key, value, updated_at) VALUES (:key, :value, :now) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
)


def to_time(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(int(seconds), UTC)


def _entry(row: Mapping[str, Any]) -> SettingsEntry:
    return SettingsEntry(key=row["key"], value=row["value"], updated_at=to_time(row["updated_at"]))


def get(db: dataset.Database, key: str) -> SettingsEntry | None:
    for row in db.query(f"SELECT {_COLUMNS} FROM settings WHERE key = :key", key=key):
        return _entry(row)
    return None


def set_(db: dataset.Database, key: str, value: str, now: int) -> SettingsEntry:
    # One statement: atomic against concurrent writers, never a unique-constraint error.
    db.query(_UPSERT, key=key, value=value, now=now)
    return SettingsEntry(key=key, value=value, updated_at=to_time(now))


def set_many(
    db: dataset.Database, entries: Iterable[SettingInput], now: int
) -> list[SettingsEntry]:
    return [set_(db, e.key, e.value, now) for e in entries]


def delete(db: dataset.Database, key: str) -> bool:
    rows = list(db.query("DELETE FROM settings WHERE key = :key RETURNING id", key=key))
    return bool(rows)


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
    params: dict[str, Any] = {}
    if prefix:
        where.append(f"key >= :lo{collate}")
        params["lo"] = prefix
        upper = prefix_upper_bound(prefix)
        if upper is not None:
            where.append(f"key < :hi{collate}")
            params["hi"] = upper
    if after is not None:
        where.append(f"key > :after{collate}")
        params["after"] = after
    sql = f"SELECT {_COLUMNS} FROM settings"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY key{collate}"
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return [_entry(row) for row in db.query(sql, **params)]


def export(db: dataset.Database, *, collate: str, now: int) -> SettingsExport:
    rows = db.query(f"SELECT key, value FROM settings ORDER BY key{collate}")
    return SettingsExport(
        version="1.0",
        exported_at=to_time(now),
        settings=[SettingInput(key=r["key"], value=r["value"]) for r in rows],
    )


def import_(
    db: dataset.Database,
    entries: list[SettingInput],
    *,
    replace: bool,
    dry_run: bool,
    now: int,
) -> ImportResult:
    stored = {r["key"]: r["value"] for r in db.query("SELECT key, value FROM settings")}
    added = [e for e in entries if e.key not in stored]
    changed = [e for e in entries if e.key in stored and stored[e.key] != e.value]
    incoming = {e.key for e in entries}
    removed = sorted(k for k in stored if k not in incoming) if replace else []
    if not dry_run:
        # Unchanged entries are not written: they keep their updated_at.
        set_many(db, added + changed, now)
        for key in removed:
            db.query("DELETE FROM settings WHERE key = :key", key=key)
    return ImportResult(
        imported=len(entries),
        added=[e.key for e in added],
        changed=[e.key for e in changed],
        removed=removed,
    )

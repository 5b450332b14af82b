"""The workspace layer: one project's settings, in `workspace_settings`
(PROTOCOL.md v2, Settings model). The same operations as the user layer's
(settings.py), each for one `project_dir`; an entry's revision is the seq of
its row in the change log, whose scope is the project."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from idumb_daemon.contracts import SettingsEntry, SettingsSetManyEntry
from idumb_daemon.storage.declarations import checked
from idumb_daemon.storage.settings import check_revisions, key_range
from idumb_daemon.storage.sql import run
from idumb_daemon.storage.times import from_seconds, out_of_contract
from idumb_daemon.storage.tx import Tx

TABLE = "workspace_settings"
_REVISION_JOIN = (
    "LEFT JOIN __idumb_changes ON table_name = 'workspace_settings' "
    "AND scope = project_dir AND row_key = key"
)
_SELECT = f"SELECT key, value, updated_at, seq FROM workspace_settings {_REVISION_JOIN}"
_GET = f"{_SELECT} WHERE project_dir = ? AND key = ?"
_REVISION = (
    "SELECT seq FROM __idumb_changes "
    "WHERE table_name = 'workspace_settings' AND scope = ? AND row_key = ?"
)
_UPSERT = (
    "INSERT INTO workspace_settings (project_dir, key, value, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (project_dir, key) DO UPDATE "
    "SET value = excluded.value, updated_at = excluded.updated_at"
)
_DELETE = "DELETE FROM workspace_settings WHERE project_dir = ? AND key = ?"


def _entry(project_dir: str, row: tuple[Any, ...]) -> SettingsEntry:
    updated_at = from_seconds(row[2])
    if updated_at is None and row[2] is not None:
        out_of_contract("workspace setting", f"{project_dir} {row[0]}", row[2])
    return SettingsEntry(
        key=row[0],
        value=row[1],
        updated_at=updated_at,
        revision=row[3] or 0,
        project_dir=project_dir,
    )


def get(tx: Tx, project_dir: str, key: str) -> SettingsEntry | None:
    row = run(tx.db, _GET, (project_dir, key)).fetchone()
    return None if row is None else _entry(project_dir, row)


def _set(tx: Tx, project_dir: str, key: str, value: str, now: int) -> SettingsEntry:
    run(tx.db, _UPSERT, (project_dir, key, value, now))
    (revision,) = run(tx.db, _REVISION, (project_dir, key)).fetchone()
    return SettingsEntry(
        key=key,
        value=value,
        updated_at=from_seconds(now),
        revision=revision,
        project_dir=project_dir,
    )


def set_(
    tx: Tx, project_dir: str, key: str, value: str, if_revision: int | None = None
) -> SettingsEntry:
    (value,) = checked(tx, [(key, value)], lambda _: "", workspace=True)
    check_revisions(tx, [(key, if_revision)], lambda k: get(tx, project_dir, k), "key")
    return _set(tx, project_dir, key, value, tx.now())


def set_many(
    tx: Tx, project_dir: str, entries: Sequence[SettingsSetManyEntry]
) -> list[SettingsEntry]:
    writes = [(e.key, e.value) for e in entries]
    values = checked(tx, writes, "entries.{}.".format, workspace=True)
    expected = [(e.key, e.if_revision) for e in entries]
    check_revisions(tx, expected, lambda k: get(tx, project_dir, k), "key")
    now = tx.now()
    return [
        _set(tx, project_dir, key, value, now)
        for (key, _), value in zip(writes, values, strict=True)
    ]


def delete(tx: Tx, project_dir: str, key: str, if_revision: int | None = None) -> bool:
    check_revisions(tx, [(key, if_revision)], lambda k: get(tx, project_dir, k), "key")
    if if_revision == 0:
        return False  # "only if absent", and it is
    return bool(run(tx.db, _DELETE, (project_dir, key)).rowcount)


def get_all(
    tx: Tx,
    project_dir: str,
    prefix: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[SettingsEntry]:
    collate = tx.collate
    where, params = key_range("key", collate, prefix, after)
    where.insert(0, "project_dir = ?")
    params.insert(0, project_dir)
    sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY key{collate}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [_entry(project_dir, row) for row in run(tx.db, sql, params)]

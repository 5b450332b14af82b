"""Workspace-config operations, run inside a transaction the caller opened."""

from __future__ import annotations

import json
import logging
from typing import Any

import dataset

from idumb_daemon.contracts import UNSET, WorkspaceConfig, WorkspaceSetParams
from idumb_daemon.storage.settings import to_time
from idumb_daemon.storage.sql import run

log = logging.getLogger(__name__)

_COLUMNS = "project_dir, name, last_opened, config"


def encode_config(config: dict[str, Any] | None) -> str | None:
    # Compact, like the app's JSON.stringify, so both write the same text.
    return None if config is None else json.dumps(config, separators=(",", ":"), ensure_ascii=False)


def decode_config(text: str | None, project_dir: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        # Another writer stored something that is not a JSON object; the wire
        # shape has no place for it, so it reads as no config rather than failing
        # every read of this workspace.
        log.warning("workspace %s: stored config is not a JSON object; read as null", project_dir)
        return None
    return value


def _workspace(row: tuple[Any, ...]) -> WorkspaceConfig:
    project_dir, name, last_opened, config = row
    return WorkspaceConfig(
        project_dir=project_dir,
        name=name,
        last_opened=to_time(last_opened),
        config=decode_config(config, project_dir),
    )


def get(db: dataset.Database, project_dir: str) -> WorkspaceConfig | None:
    sql = f"SELECT {_COLUMNS} FROM workspace_config WHERE project_dir = ?"
    row = run(db, sql, (project_dir,)).fetchone()
    return None if row is None else _workspace(row)


def _upsert(db: dataset.Database, project_dir: str, values: dict[str, Any]) -> WorkspaceConfig:
    # Only the given columns are written on conflict: omitted fields keep their
    # stored value. Column names come from this module, never from input.
    columns = ["project_dir", *values]
    # With no field given, a no-op update: the row exists afterwards either way.
    touched = list(values) or ["project_dir"]
    updates = ", ".join(f"{c} = excluded.{c}" for c in touched)
    run(
        db,
        f"INSERT INTO workspace_config ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT (project_dir) DO UPDATE SET {updates}",
        (project_dir, *values.values()),
    )
    stored = get(db, project_dir)
    assert stored is not None, "row upserted in this transaction"
    return stored


def set_(db: dataset.Database, params: WorkspaceSetParams) -> WorkspaceConfig:
    values: dict[str, Any] = {}
    if params.name is not UNSET:
        values["name"] = params.name
    if params.config is not UNSET:
        values["config"] = encode_config(params.config)
    return _upsert(db, params.project_dir, values)


def open_(db: dataset.Database, project_dir: str, now: int) -> WorkspaceConfig:
    return _upsert(db, project_dir, {"last_opened": now})


def list_recent(db: dataset.Database, *, collate: str, limit: int) -> list[WorkspaceConfig]:
    sql = (
        f"SELECT {_COLUMNS} FROM workspace_config "
        f"ORDER BY last_opened IS NULL, last_opened DESC, project_dir{collate} LIMIT ?"
    )
    return [_workspace(row) for row in run(db, sql, (limit,))]


def delete(db: dataset.Database, project_dir: str) -> bool:
    sql = "DELETE FROM workspace_config WHERE project_dir = ?"
    return bool(run(db, sql, (project_dir,)).rowcount)

"""Workspace-config operations, each taking the `Tx` of the transaction it runs in."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from idumb_daemon.contracts import UNSET, JsonObject, UnsetType, WorkspaceConfig
from idumb_daemon.storage.settings import check_revisions
from idumb_daemon.storage.sql import run
from idumb_daemon.storage.times import to_time
from idumb_daemon.storage.tx import Tx

log = logging.getLogger(__name__)

# Columns named with their table: the app's tables may gain columns of any name.
_COLUMNS = (
    "workspace_config.project_dir, workspace_config.name, workspace_config.last_opened, "
    "workspace_config.config, rev.seq"
)
_FROM = (
    "workspace_config LEFT JOIN __idumb_changes AS rev ON rev.table_name = 'workspace_config' "
    "AND rev.scope = '' AND rev.row_key = workspace_config.project_dir"
)


def _not_finite(text: str) -> Any:
    raise ValueError(f"{text} is not a JSON number")


# Python's json reads 1e999 as inf and NaN/Infinity as such; JSON has none of them.
_DECODER = json.JSONDecoder(
    parse_constant=_not_finite,
    parse_float=lambda text: float(text) if math.isfinite(float(text)) else _not_finite(text),
)


def encode_config(config: dict[str, Any] | None) -> str | None:
    # Compact, like the app's JSON.stringify, so both write the same text.
    return None if config is None else json.dumps(config, separators=(",", ":"), ensure_ascii=False)


def decode_config(text: str | None, project_dir: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = _DECODER.decode(text)
    except (ValueError, TypeError, RecursionError):
        value = None
    if not isinstance(value, dict):
        # Another writer stored something that is not a JSON object (or holds a
        # number JSON cannot carry, as 1e999); the wire shape has no place for
        # it, so it reads as no config rather than failing every read of this
        # workspace.
        log.warning(
            "workspace %r: stored config is not a JSON object of finite numbers; read as null",
            project_dir,
        )
        return None
    return value


def _workspace(row: tuple[Any, ...]) -> WorkspaceConfig:
    project_dir, name, last_opened, config, revision = row
    return WorkspaceConfig(
        project_dir=project_dir,
        name=name,
        last_opened=to_time(last_opened, "workspace", project_dir),
        config=decode_config(config, project_dir),
        revision=revision or 0,
    )


def get(tx: Tx, project_dir: str) -> WorkspaceConfig | None:
    sql = f"SELECT {_COLUMNS} FROM {_FROM} WHERE workspace_config.project_dir = ?"
    row = run(tx.db, sql, (project_dir,)).fetchone()
    return None if row is None else _workspace(row)


def _upsert(tx: Tx, project_dir: str, values: dict[str, Any]) -> WorkspaceConfig:
    # Only the given columns are written on conflict: omitted fields keep their
    # stored value. Column names come from this module, never from input.
    columns = ["project_dir", *values]
    # With no field given, a no-op update: the row exists afterwards either way.
    touched = list(values) or ["project_dir"]
    updates = ", ".join(f"{c} = excluded.{c}" for c in touched)
    run(
        tx.db,
        f"INSERT INTO workspace_config ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT (project_dir) DO UPDATE SET {updates}",
        (project_dir, *values.values()),
    )
    stored = get(tx, project_dir)
    assert stored is not None, "row upserted in this transaction"
    return stored


def set_(
    tx: Tx,
    project_dir: str,
    name: str | UnsetType | None = UNSET,
    config: JsonObject | UnsetType | None = UNSET,
    if_revision: int | None = None,
) -> WorkspaceConfig:
    """UNSET keeps the stored value, None clears it."""
    check_revisions(tx, [(project_dir, if_revision)], lambda p: get(tx, p), "projectDir")
    values: dict[str, Any] = {}
    if name is not UNSET:
        values["name"] = name
    if config is not UNSET:
        values["config"] = encode_config(config)
    return _upsert(tx, project_dir, values)


def open_(tx: Tx, project_dir: str) -> WorkspaceConfig:
    return _upsert(tx, project_dir, {"last_opened": tx.now()})


def list_recent(tx: Tx, limit: int = 50) -> list[WorkspaceConfig]:
    sql = (
        f"SELECT {_COLUMNS} FROM {_FROM} "
        "ORDER BY workspace_config.last_opened IS NULL, workspace_config.last_opened DESC, "
        f"workspace_config.project_dir{tx.collate} LIMIT ?"
    )
    return [_workspace(row) for row in run(tx.db, sql, (limit,))]


def delete(tx: Tx, project_dir: str, if_revision: int | None = None) -> bool:
    check_revisions(tx, [(project_dir, if_revision)], lambda p: get(tx, p), "projectDir")
    if if_revision == 0:
        return False  # "only if absent", and it is
    sql = "DELETE FROM workspace_config WHERE project_dir = ?"
    return bool(run(tx.db, sql, (project_dir,)).rowcount)

"""Settings resolved across their layers (PROTOCOL.md v2, Settings model):
stored values decoded by their declarations.

A stored value that does not validate (another program wrote it) is never
an error on read: resolution skips it for the next layer and reports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from idumb_daemon.contracts import (
    Inspection,
    Layer,
    Problem,
    Resolved,
)
from idumb_daemon.storage import declarations, settings, workspace_settings
from idumb_daemon.storage.declarations import Refused, Registry
from idumb_daemon.storage.sql import run
from idumb_daemon.storage.tx import Tx

_CHUNK: Final = 500
"""Keys per `IN (...)`: well under every backend's limit of parameters."""

Rows = dict[str, tuple[str, int]]
"""Stored values of one layer by key: (value, revision)."""


_USER = (
    "SELECT key, value, seq FROM settings LEFT JOIN __idumb_changes "
    "ON table_name = 'settings' AND scope = '' AND row_key = key"
)
_WORKSPACE = (
    "SELECT key, value, seq FROM workspace_settings LEFT JOIN __idumb_changes "
    "ON table_name = 'workspace_settings' AND scope = project_dir AND row_key = key"
)


def _rows(tx: Tx, project_dir: str | None, where: list[str], params: list[Any]) -> Rows:
    """Stored values of the user layer, or of `project_dir`'s, with their revisions."""
    sql = _USER
    if project_dir is not None:
        sql, where, params = _WORKSPACE, ["project_dir = ?", *where], [project_dir, *params]
    if where:
        sql += " WHERE " + " AND ".join(where)
    return {key: (value, seq or 0) for key, value, seq in run(tx.db, sql, params)}


def _stored(tx: Tx, project_dir: str | None, keys: Iterable[str]) -> Rows:
    wanted = list(dict.fromkeys(keys))
    rows: Rows = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows.update(_rows(tx, project_dir, [f"key IN ({marks})"], chunk))
    return rows


def _stored_prefix(tx: Tx, project_dir: str | None, prefix: str) -> Rows:
    where: list[str] = []
    params: list[Any] = []
    if prefix:
        where.append(f"key >= ?{tx.collate}")
        params.append(prefix)
        upper = settings.prefix_upper_bound(prefix)
        if upper is not None:
            where.append(f"key < ?{tx.collate}")
            params.append(upper)
    return _rows(tx, project_dir, where, params)


def _resolve(
    registry: Registry,
    key: str,
    layers: Sequence[tuple[Layer, Rows]],
    *,
    every_layer: bool = False,
) -> tuple[Resolved, list[Problem]]:
    """The effective value of `key` over `layers` (highest first), and the
    problems of the stored values skipped (of every layer, if `every_layer`)."""
    declared = registry.by_key.get(key)
    old = registry.renamed_from.get(key)
    found: Resolved | None = None
    problems: list[Problem] = []
    for layer, rows in layers:
        name, row = key, rows.get(key)
        if row is None and old is not None:
            name, row = old, rows.get(old)
        if row is None:
            continue
        value: Any = row[0]
        if declared is not None and declared.user_only and layer == "workspace":
            message = 'declared with scope "user": a workspace value is ignored'
            problems.append(Problem(layer=layer, message=message))
            continue
        if declared is not None:
            try:
                value = declared.decode(row[0])
            except Refused as exc:
                said = str(exc) if name == key else f"{name} (renamed): {exc}"
                problems.append(Problem(layer=layer, message=said))
                continue
        if found is None:
            found = Resolved(
                key=key,
                value=value,
                source=layer,
                revision=row[1],
                from_=None if name == key else name,
            )
            if not every_layer:
                break
    if found is None:
        if declared is not None and "default" in declared.declaration:
            found = Resolved(
                key=key, value=declared.declaration["default"], source="default", revision=None
            )
        else:
            found = Resolved(key=key, value=None, source="none", revision=None)
    return found, problems


def _with_problems(resolved: Resolved, problems: list[Problem]) -> Resolved:
    if not problems:
        return resolved
    return Resolved(
        key=resolved.key,
        value=resolved.value,
        source=resolved.source,
        revision=resolved.revision,
        from_=resolved.from_,
        problems=problems,
    )


def resolve(
    tx: Tx,
    keys: list[str] | None = None,
    prefix: str | None = None,
    project_dir: str | None = None,
) -> list[Resolved]:
    """Effective values, sorted by key: of `keys`; or of every declared or
    stored key (in the user layer or in `project_dir`'s) starting with
    `prefix` (every one, without)."""
    registry = declarations.registry(tx)
    renamed_from = registry.renamed_from
    dirs: list[str | None] = [None] if project_dir is None else [project_dir, None]
    if keys is not None:
        wanted = sorted(keys)
        olds = [renamed_from[k] for k in wanted if k in renamed_from]
        stored = [_stored(tx, d, [*wanted, *olds]) for d in dirs]
    else:
        start = prefix or ""
        stored = [_stored_prefix(tx, d, start) for d in dirs]
        declared = [k for k in registry.by_key if k.startswith(start)]
        wanted = sorted({*declared}.union(*stored))
        olds = [renamed_from[k] for k in declared if k in renamed_from]
        for d, rows in zip(dirs, stored, strict=True):
            rows.update(_stored(tx, d, [k for k in olds if k not in rows]))
    layers = _layers(stored)
    return [_with_problems(*_resolve(registry, key, layers)) for key in wanted]


def _layers(stored: list[Rows]) -> list[tuple[Layer, Rows]]:
    names: list[Layer] = ["user"] if len(stored) == 1 else ["workspace", "user"]
    return list(zip(names, stored, strict=True))


def inspect(tx: Tx, key: str, project_dir: str | None = None) -> Inspection:
    """Every layer of `key` side by side, the effective value, and the
    problem of every stored value that does not validate."""
    registry = declarations.registry(tx)
    declared = registry.by_key.get(key)
    old = registry.renamed_from.get(key)
    names = [key] if old is None else [key, old]
    dirs: list[str | None] = [None] if project_dir is None else [project_dir, None]
    layers = _layers([_stored(tx, d, names) for d in dirs])
    resolved, problems = _resolve(registry, key, layers, every_layer=True)
    return Inspection(
        key=key,
        owner=None if declared is None else declared.owner,
        declaration=None if declared is None else declared.declaration,
        default=None if declared is None else declared.declaration.get("default"),
        user=settings.get(tx, key),
        workspace=None if project_dir is None else workspace_settings.get(tx, project_dir, key),
        value=resolved.value,
        source=resolved.source,
        problems=problems,
    )

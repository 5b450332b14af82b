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
from idumb_daemon.storage import declarations, settings
from idumb_daemon.storage.declarations import Refused, Registry
from idumb_daemon.storage.sql import run
from idumb_daemon.storage.tx import Tx

_CHUNK: Final = 500
"""Keys per `IN (...)`: well under every backend's limit of parameters."""

Rows = dict[str, tuple[str, int | None]]
"""Stored values of one layer by key: (value, revision)."""


def _stored(tx: Tx, keys: Iterable[str]) -> Rows:
    wanted = list(dict.fromkeys(keys))
    rows: Rows = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        for key, value in run(
            tx.db, f"SELECT key, value FROM settings WHERE key IN ({marks})", chunk
        ):
            rows[key] = (value, None)
    return rows


def _stored_prefix(tx: Tx, prefix: str) -> Rows:
    sql, params = "SELECT key, value FROM settings", []
    if prefix:
        sql += f" WHERE key >= ?{tx.collate}"
        params.append(prefix)
        upper = settings.prefix_upper_bound(prefix)
        if upper is not None:
            sql += f" AND key < ?{tx.collate}"
            params.append(upper)
    return {key: (value, None) for key, value in run(tx.db, sql, params)}


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


def resolve(tx: Tx, keys: list[str] | None = None, prefix: str | None = None) -> list[Resolved]:
    """Effective values, sorted by key: of `keys`; or of every declared or
    stored key starting with `prefix` (every one, without)."""
    registry = declarations.registry(tx)
    renamed_from = registry.renamed_from
    if keys is not None:
        wanted = sorted(keys)
        olds = [renamed_from[k] for k in wanted if k in renamed_from]
        user = _stored(tx, [*wanted, *olds])
    else:
        start = prefix or ""
        user = _stored_prefix(tx, start)
        declared = [k for k in registry.by_key if k.startswith(start)]
        wanted = sorted({*declared, *user})
        olds = [renamed_from[k] for k in declared if k in renamed_from]
        user.update(_stored(tx, [k for k in olds if k not in user]))
    layers: list[tuple[Layer, Rows]] = [("user", user)]
    return [_with_problems(*_resolve(registry, key, layers)) for key in wanted]


def inspect(tx: Tx, key: str) -> Inspection:
    """Every layer of `key` side by side, the effective value, and the
    problem of every stored value that does not validate."""
    registry = declarations.registry(tx)
    declared = registry.by_key.get(key)
    old = registry.renamed_from.get(key)
    user = _stored(tx, [key] if old is None else [key, old])
    resolved, problems = _resolve(registry, key, [("user", user)], every_layer=True)
    return Inspection(
        key=key,
        owner=None if declared is None else declared.owner,
        declaration=None if declared is None else declared.declaration,
        default=None if declared is None else declared.declaration.get("default"),
        user=settings.get(tx, key),
        workspace=None,
        value=resolved.value,
        source=resolved.source,
        problems=problems,
    )

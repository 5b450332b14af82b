"""Reading the shape of a live database, to adopt one made by drizzle-kit.

Only SQLite files are adopted: the TypeScript app writes nothing else.
"""

from __future__ import annotations

import re

import dataset

from idumb_daemon.migrations.model import Table
from idumb_daemon.migrations.render import literal
from idumb_daemon.storage.sql import rows

_AUTOINCREMENT = re.compile(r"\bAUTOINCREMENT\b", re.IGNORECASE)


def _pragma(db: dataset.Database, pragma: str, name: str) -> list[dict[str, object]]:
    # PRAGMA arguments cannot be bound; the names come from our schema files or
    # from sqlite_master, and quoting them keeps either safe.
    quoted = '"' + name.replace('"', '""') + '"'
    return rows(db, f"PRAGMA {pragma}({quoted})")


def sqlite_differences(db: dataset.Database, table: Table) -> list[str]:
    """How the SQLite table differs from the declared one; empty when alike.

    Column order is not compared: neither app depends on it. Index sets are
    compared exactly: an extra unique index is a constraint the declared
    schema does not have.
    """
    name = table.name
    found: list[str] = []
    live_columns = {str(r["name"]): r for r in _pragma(db, "table_info", name)}
    for column in table.columns:
        row = live_columns.pop(column.name, None)
        if row is None:
            found.append(f"{name}.{column.name} is missing")
            continue
        live = (str(row["type"]).lower(), bool(row["notnull"]), bool(row["pk"]), row["dflt_value"])
        default = None if column.default is None else literal(column.default)
        declared = (column.type, column.not_null, column.primary_key, default)
        if live != declared:
            found.append(f"{name}.{column.name} is {live}, declared {declared}")
    found.extend(f"{name}.{extra} is not declared" for extra in sorted(live_columns))

    if any(c.autoincrement for c in table.columns):
        sql = rows(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        if not any(_AUTOINCREMENT.search(str(row["sql"])) for row in sql):
            found.append(f"{name} has no AUTOINCREMENT primary key")

    live_indexes = {
        str(r["name"]): (
            bool(r["unique"]),
            tuple(str(c["name"]) for c in _pragma(db, "index_info", str(r["name"]))),
        )
        for r in _pragma(db, "index_list", name)
    }
    for index in table.indexes:
        live_index = live_indexes.pop(index.name, None)
        if live_index != (index.unique, index.columns):
            found.append(
                f"index {index.name} is {live_index}, declared {(index.unique, index.columns)}"
            )
    found.extend(f"index {extra} on {name} is not declared" for extra in sorted(live_indexes))
    return found

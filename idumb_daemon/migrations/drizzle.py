"""The product's tables as a drizzle-orm schema.ts (`idumb-daemon schema export
--format drizzle`): one schema in two languages.

From schema/schema.json, the file the migrations are generated from, so that
`drizzle-kit generate` on the output makes the tables the daemon's migrations
make (tests/test_drizzle_export.py compares the two databases). The daemon's own
tables (`__idumb_`) are left out: the app has no business with them.
"""

from __future__ import annotations

import json
import re

from idumb_daemon.migrations.model import Column, Schema, Table

INTERNAL_PREFIX = "__idumb_"

HEADER = """\
// The idumb-daemon's tables for drizzle-orm (SQLite).
// Generated from the daemon's schema/schema.json by
// `idumb-daemon schema export --format drizzle`: do not edit.
"""


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _identifier(name: str) -> str:
    text = camel(name)
    if not re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", text):
        raise ValueError(f"{name!r} makes no TypeScript identifier")
    return text


def _column(column: Column, single_key: bool) -> str:
    code = f"{column.type}({json.dumps(column.name)})"
    if column.primary_key and single_key:
        code += ".primaryKey({ autoIncrement: true })" if column.autoincrement else ".primaryKey()"
    elif column.not_null:
        code += ".notNull()"
    if column.default is not None:
        code += f".default({json.dumps(column.default)})"
    return f"    {_identifier(column.name)}: {code},\n"


def _table(table: Table, used: set[str]) -> str:
    keys = [c for c in table.columns if c.primary_key]
    single_key = len(keys) == 1
    columns = "".join(_column(c, single_key) for c in table.columns)
    extras = []
    if len(keys) > 1:
        used.add("primaryKey")
        listed = ", ".join(f"t.{_identifier(c.name)}" for c in keys)
        extras.append(f"primaryKey({{ columns: [{listed}] }})")
    for index in table.indexes:
        kind = "uniqueIndex" if index.unique else "index"
        used.add(kind)
        on = ", ".join(f"t.{_identifier(c)}" for c in index.columns)
        extras.append(f"{kind}({json.dumps(index.name)}).on({on})")
    used.update(c.type for c in table.columns)
    config = ""
    if extras:
        config = ",\n  (t) => [\n" + "".join(f"    {e},\n" for e in extras) + "  ]"
    return (
        f"export const {_identifier(table.name)} = sqliteTable(\n"
        f"  {json.dumps(table.name)},\n  {{\n{columns}  }}{config},\n);\n"
    )


def render(schema: Schema) -> str:
    used: set[str] = {"sqliteTable"}
    tables = [
        _table(t, used)
        for t in sorted(schema.tables, key=lambda t: t.name)
        if not t.name.startswith(INTERNAL_PREFIX)
    ]
    imports = ", ".join(sorted(used))
    return "\n".join([HEADER, f'import {{ {imports} }} from "drizzle-orm/sqlite-core";\n', *tables])

"""The declared schema and the migrations, as read from and written to schema/.

The files are JSON so that neither side needs a parser beyond the standard
library. Parsing is strict: an unknown key, a missing one or a value of the
wrong type is an error naming the file and the place, never a default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import attrs

ColumnType = Literal["integer", "text"]
COLUMN_TYPES: tuple[ColumnType, ...] = ("integer", "text")


class SchemaFileError(Exception):
    """A file of schema/ is missing or malformed."""


@attrs.frozen
class Column:
    name: str
    type: ColumnType
    not_null: bool = False
    primary_key: bool = False
    autoincrement: bool = False
    default: int | str | None = None
    """A constant the database fills in when an insert leaves the column out."""


@attrs.frozen
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool = False


@attrs.frozen
class Table:
    name: str
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...] = ()

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def index(self, name: str) -> Index | None:
        return next((i for i in self.indexes if i.name == name), None)


@attrs.frozen
class Schema:
    tables: tuple[Table, ...] = ()

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)


@attrs.frozen
class CreateTable:
    table: Table
    """Created with its columns only; its indexes come as CreateIndex operations."""


@attrs.frozen
class AddColumn:
    table: str
    column: Column


@attrs.frozen
class CreateIndex:
    table: str
    index: Index


@attrs.frozen
class DropIndex:
    table: str
    name: str


@attrs.frozen
class RawSql:
    """Hand-written statements, one list per dialect, each item one statement
    (trigger bodies hold semicolons, so nothing is split)."""

    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]


Operation: TypeAlias = CreateTable | AddColumn | CreateIndex | DropIndex | RawSql


@attrs.frozen
class Migration:
    version: int
    name: str
    operations: tuple[Operation, ...]
    snapshot: Schema
    """The whole declared schema once this migration has run."""
    checksum: str = ""
    """sha256 of the file's bytes, set when read from a file."""

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


# --- parsing ---------------------------------------------------------------


def _fields(
    raw: object, where: str, required: set[str], optional: frozenset[str] = frozenset()
) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise SchemaFileError(f"{where}: expected an object")
    missing = required - raw.keys()
    extra = raw.keys() - required - optional
    if missing:
        raise SchemaFileError(f"{where}: missing {', '.join(sorted(missing))}")
    if extra:
        raise SchemaFileError(f"{where}: unknown {', '.join(sorted(extra))}")
    return raw


def _typed(value: object, kind: type | tuple[type, ...], where: str) -> Any:
    # bool is an int in Python; a JSON true is never a number here.
    if isinstance(value, bool) and kind is not bool:
        raise SchemaFileError(f"{where}: expected {_kind_name(kind)}, got a boolean")
    if not isinstance(value, kind):
        raise SchemaFileError(f"{where}: expected {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {bool: "a boolean", int: "an integer", str: "a string", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _strings(value: object, where: str) -> tuple[str, ...]:
    items = _typed(value, list, where)
    return tuple(_typed(item, str, f"{where}[{i}]") for i, item in enumerate(items))


_COLUMN_FLAGS = frozenset({"notNull", "primaryKey", "autoincrement", "default"})


def parse_column(raw: object, where: str) -> Column:
    f = _fields(raw, where, {"name", "type"}, _COLUMN_FLAGS)
    kind = _typed(f["type"], str, f"{where}.type")
    if kind not in COLUMN_TYPES:
        raise SchemaFileError(f"{where}.type: expected one of {', '.join(COLUMN_TYPES)}")
    column = Column(
        name=_typed(f["name"], str, f"{where}.name"),
        type=kind,
        not_null=_typed(f.get("notNull", False), bool, f"{where}.notNull"),
        primary_key=_typed(f.get("primaryKey", False), bool, f"{where}.primaryKey"),
        autoincrement=_typed(f.get("autoincrement", False), bool, f"{where}.autoincrement"),
        default=_typed(f.get("default"), (int, str, type(None)), f"{where}.default"),
    )
    if column.autoincrement and not (column.primary_key and column.type == "integer"):
        raise SchemaFileError(f"{where}: autoincrement needs an integer primary key")
    return column


def parse_index(raw: object, where: str) -> Index:
    f = _fields(raw, where, {"name", "columns"}, frozenset({"unique"}))
    return Index(
        name=_typed(f["name"], str, f"{where}.name"),
        columns=_strings(f["columns"], f"{where}.columns"),
        unique=_typed(f.get("unique", False), bool, f"{where}.unique"),
    )


def parse_table(name: str, raw: object, where: str) -> Table:
    f = _fields(raw, where, {"columns"}, frozenset({"indexes"}))
    columns = tuple(
        parse_column(c, f"{where}.columns[{i}]")
        for i, c in enumerate(_typed(f["columns"], list, f"{where}.columns"))
    )
    indexes = tuple(
        parse_index(x, f"{where}.indexes[{i}]")
        for i, x in enumerate(_typed(f.get("indexes", []), list, f"{where}.indexes"))
    )
    table = Table(name=name, columns=columns, indexes=indexes)
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise SchemaFileError(f"{where}: a column name appears twice")
    for index in indexes:
        unknown = [c for c in index.columns if c not in names]
        if unknown:
            raise SchemaFileError(f"{where}: index {index.name} names unknown {unknown}")
    return table


def parse_schema(raw: object, where: str) -> Schema:
    f = _fields(raw, where, {"tables"})
    tables = _typed(f["tables"], dict, f"{where}.tables")
    parsed = tuple(
        parse_table(name, tables[name], f"{where}.tables.{name}") for name in sorted(tables)
    )
    index_names = [i.name for t in parsed for i in t.indexes]
    if len(set(index_names)) != len(index_names):
        # SQLite index names are per database, not per table.
        raise SchemaFileError(f"{where}: an index name appears twice")
    return Schema(tables=parsed)


def parse_operation(raw: object, where: str) -> Operation:
    if not isinstance(raw, dict) or not isinstance(raw.get("op"), str):
        raise SchemaFileError(f"{where}: expected an object with an 'op' string")
    op = raw["op"]
    if op == "create_table":
        f = _fields(raw, where, {"op", "table", "columns"})
        table = parse_table(
            _typed(f["table"], str, f"{where}.table"), {"columns": f["columns"]}, where
        )
        return CreateTable(table)
    if op == "add_column":
        f = _fields(raw, where, {"op", "table", "column"})
        return AddColumn(
            _typed(f["table"], str, f"{where}.table"), parse_column(f["column"], f"{where}.column")
        )
    if op == "create_index":
        f = _fields(raw, where, {"op", "table", "index"})
        return CreateIndex(
            _typed(f["table"], str, f"{where}.table"), parse_index(f["index"], f"{where}.index")
        )
    if op == "drop_index":
        f = _fields(raw, where, {"op", "table", "name"})
        return DropIndex(
            _typed(f["table"], str, f"{where}.table"), _typed(f["name"], str, f"{where}.name")
        )
    if op == "sql":
        f = _fields(raw, where, {"op", "sqlite", "postgresql"})
        return RawSql(
            sqlite=_statements(f["sqlite"], f"{where}.sqlite"),
            postgresql=_statements(f["postgresql"], f"{where}.postgresql"),
        )
    raise SchemaFileError(f"{where}.op: unknown operation {op!r}")


def _statements(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return _strings(value, where)


def parse_migration(raw: object, where: str) -> Migration:
    f = _fields(raw, where, {"version", "name", "operations", "snapshot"})
    operations = _typed(f["operations"], list, f"{where}.operations")
    return Migration(
        version=_typed(f["version"], int, f"{where}.version"),
        name=_typed(f["name"], str, f"{where}.name"),
        operations=tuple(
            parse_operation(op, f"{where}.operations[{i}]") for i, op in enumerate(operations)
        ),
        snapshot=parse_schema(f["snapshot"], f"{where}.snapshot"),
    )


# --- writing ---------------------------------------------------------------


def dump_column(column: Column) -> dict[str, object]:
    out: dict[str, object] = {
        "name": column.name,
        "type": column.type,
        "notNull": column.not_null,
        "primaryKey": column.primary_key,
        "autoincrement": column.autoincrement,
    }
    if column.default is not None:
        out["default"] = column.default
    return out


def dump_index(index: Index) -> dict[str, object]:
    return {"name": index.name, "columns": list(index.columns), "unique": index.unique}


def dump_schema(schema: Schema) -> dict[str, object]:
    return {
        "tables": {
            t.name: {
                "columns": [dump_column(c) for c in t.columns],
                "indexes": [dump_index(i) for i in sorted(t.indexes, key=lambda i: i.name)],
            }
            for t in schema.tables
        }
    }


def dump_operation(op: Operation) -> dict[str, object]:
    match op:
        case CreateTable(table):
            columns = [dump_column(c) for c in table.columns]
            return {"op": "create_table", "table": table.name, "columns": columns}
        case AddColumn(table, column):
            return {"op": "add_column", "table": table, "column": dump_column(column)}
        case CreateIndex(table, index):
            return {"op": "create_index", "table": table, "index": dump_index(index)}
        case DropIndex(table, name):
            return {"op": "drop_index", "table": table, "name": name}
        case RawSql(sqlite, postgresql):
            return {"op": "sql", "sqlite": list(sqlite), "postgresql": list(postgresql)}


def dump_migration(migration: Migration) -> dict[str, object]:
    return {
        "version": migration.version,
        "name": migration.name,
        "operations": [dump_operation(op) for op in migration.operations],
        "snapshot": dump_schema(migration.snapshot),
    }


def to_json(value: object) -> str:
    """The one way schema/ files are written, so regenerating is byte-stable."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

"""Writing the next migration from the difference between the declared schema
and the snapshot of the last migration, as drizzle-kit generate does.

Only changes that keep every existing row are generated: a new table, a new
column that is nullable or has a default, a new or dropped index. Anything
else (a dropped or changed column, a dropped table) needs a migration written
by hand as an `sql` operation, since doing it on SQLite means copying a table,
which is a decision about data, not a diff.
"""

from __future__ import annotations

import re
from pathlib import Path

from idumb_daemon.migrations.files import MIGRATIONS_DIR, load_declared, load_migrations
from idumb_daemon.migrations.model import (
    AddColumn,
    CreateIndex,
    CreateTable,
    DropIndex,
    Migration,
    Operation,
    RawSql,
    Schema,
    Table,
    dump_migration,
    to_json,
)

NAME = re.compile(r"^[a-z0-9_]+$")


class UnsupportedChange(Exception):
    """The declared schema differs in a way the generator will not write."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "cannot generate: "
            + "; ".join(problems)
            + ". Write this migration by hand as an `sql` operation "
            "(`schema generate NAME --custom` makes an empty one)"
        )
        self.problems = problems


class NoChanges(Exception):
    """The declared schema equals the last migration's snapshot."""


def _table_diff(old: Table, new: Table) -> tuple[list[Operation], list[str]]:
    ops: list[Operation] = []
    problems: list[str] = []
    for column in old.columns:
        now = new.column(column.name)
        if now is None:
            problems.append(f"column {old.name}.{column.name} removed")
        elif now != column:
            problems.append(f"column {old.name}.{column.name} changed")
    for column in new.columns:
        if old.column(column.name) is not None:
            continue
        if column.primary_key or (column.not_null and column.default is None):
            problems.append(
                f"new column {new.name}.{column.name} is a primary key or not null "
                "without a default, which existing rows cannot satisfy"
            )
        else:
            ops.append(AddColumn(new.name, column))
    for index in sorted(old.indexes, key=lambda i: i.name):
        if new.index(index.name) != index:
            ops.append(DropIndex(old.name, index.name))
    for index in sorted(new.indexes, key=lambda i: i.name):
        if old.index(index.name) != index:
            ops.append(CreateIndex(new.name, index))
    return ops, problems


def diff(old: Schema, new: Schema) -> tuple[list[Operation], list[str]]:
    """The operations turning `old` into `new`, and what cannot be generated."""
    ops: list[Operation] = []
    problems: list[str] = []
    for table in old.tables:
        if new.table(table.name) is None:
            problems.append(f"table {table.name} removed")
    for table in new.tables:
        before = old.table(table.name)
        if before is None:
            ops.append(CreateTable(Table(table.name, table.columns)))
            ops.extend(
                CreateIndex(table.name, i) for i in sorted(table.indexes, key=lambda i: i.name)
            )
            continue
        table_ops, table_problems = _table_diff(before, table)
        ops.extend(table_ops)
        problems.extend(table_problems)
    return ops, problems


def describe(op: Operation) -> str:
    match op:
        case CreateTable(table):
            return f"table {table.name} added"
        case AddColumn(table, column):
            return f"column {table}.{column.name} added"
        case CreateIndex(table, index):
            return f"index {index.name} on {table} added or changed"
        case DropIndex(table, name):
            return f"index {name} on {table} removed or changed"
        case RawSql():
            return "hand-written SQL"


def check(folder: Path) -> list[str]:
    """How the declared schema differs from the last migration's; empty when in sync."""
    migrations = load_migrations(folder)
    last = migrations[-1].snapshot if migrations else Schema()
    ops, problems = diff(last, load_declared(folder))
    return [describe(op) for op in ops] + problems


def generate(name: str, folder: Path, *, custom: bool = False) -> Path:
    """Write the next migration and return its path.

    With `custom`, the migration holds one empty `sql` operation to fill in by
    hand, and its snapshot is the declared schema as it stands.
    """
    if not NAME.match(name):
        raise ValueError(f"migration name {name!r}: use lowercase letters, digits and _")
    migrations = load_migrations(folder)
    declared = load_declared(folder)
    ops: list[Operation]
    if custom:
        ops = [RawSql(sqlite=(), postgresql=())]
    else:
        last = migrations[-1].snapshot if migrations else Schema()
        ops, problems = diff(last, declared)
        if problems:
            raise UnsupportedChange(problems)
        if not ops:
            raise NoChanges("the declared schema equals the last migration's; nothing to write")
    migration = Migration(len(migrations) + 1, name, tuple(ops), declared)
    path = folder / MIGRATIONS_DIR / f"{migration.label}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8", newline="\n") as out:
        out.write(to_json(dump_migration(migration)))
    return path

"""The one way SQL is run: statements on dataset's own DBAPI connection.

dataset (through SQLAlchemy) costs some fifty microseconds a statement in
text compilation, result wrapping and row dictionaries; the settings hot path
is a single indexed lookup of a few microseconds. These statements run on the
very connection, and so in the very transaction, that dataset manages; the
driver caches their prepared form by text (sqlite3's statement cache,
psycopg's prepared statements). SQL is written with `?` placeholders and
never built from input.

Every module of the daemon that runs SQL (storage, the change feed, the
migrations) goes through here; dataset only opens the connection and keeps
its transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from threading import get_ident
from typing import Any

import dataset

from idumb_daemon.storage.errors import TextNotStorable


@cache
def _pyformat(sql: str) -> str:
    # psycopg takes %s where sqlite3 takes ?; our SQL has no other ? or %.
    return sql.replace("?", "%s")


def connection(db: dataset.Database) -> Any:
    """The driver's connection under dataset's, in dataset's transaction."""
    # dataset's `executable` takes a lock to look up the thread's connection,
    # for every statement; it is only needed to open one. A dict lookup is
    # atomic.
    opened = db.connections.get(get_ident()) or db.executable
    conn = opened.connection.dbapi_connection
    assert conn is not None, "dataset's connection is open"
    return conn


def run(db: dataset.Database, sql: str, params: Sequence[Any] = ()) -> Any:
    """Execute one statement; returns the driver's cursor."""
    conn = connection(db)
    if db.is_postgres:
        sql = _pyformat(sql)
        if any(isinstance(p, str) and "\x00" in p for p in params):
            raise TextNotStorable("PostgreSQL cannot store U+0000 (NUL) in text")
    return conn.execute(sql, params)


def rows(db: dataset.Database, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Execute one query; its rows as dicts by column name."""
    cursor = run(db, sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def verbatim(db: dataset.Database, statement: str) -> None:
    """Execute one statement exactly as written, with no parameters: a
    hand-written trigger may hold '?', ':' or '%', which a driver would
    otherwise read as placeholders."""
    execute_on(connection(db), statement)


def execute_on(conn: Any, statement: str) -> Any:
    """Execute one parameterless statement on a driver connection that
    dataset does not manage (or is still opening)."""
    return conn.execute(statement)


def table_names(db: dataset.Database) -> set[str]:
    """The tables of the database (of the current schema on PostgreSQL)."""
    if db.is_sqlite:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = (
            "SELECT table_name AS name FROM information_schema.tables "
            "WHERE table_schema = current_schema()"
        )
    return {str(row[0]) for row in run(db, sql).fetchall()}

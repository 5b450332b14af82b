"""Statements run on dataset's own DBAPI connection.

dataset (through SQLAlchemy) costs some fifty microseconds a statement in
text compilation, result wrapping and row dictionaries; the settings hot path
is a single indexed lookup of a few microseconds. These statements run on the
very connection, and so in the very transaction, that dataset manages; the
driver caches their prepared form by text (sqlite3's statement cache,
psycopg's prepared statements). SQL is written with `?` placeholders and
never built from input.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import dataset

from idumb_daemon.storage.errors import TextNotStorable


@cache
def _pyformat(sql: str) -> str:
    # psycopg takes %s where sqlite3 takes ?; our SQL has no other ? or %.
    return sql.replace("?", "%s")


def run(db: dataset.Database, sql: str, params: Sequence[Any] = ()) -> Any:
    """Execute one statement; returns the driver's cursor."""
    conn = db.executable.connection.dbapi_connection
    assert conn is not None, "dataset's connection is open"
    if db.is_postgres:
        sql = _pyformat(sql)
        if any(isinstance(p, str) and "\x00" in p for p in params):
            raise TextNotStorable("PostgreSQL cannot store U+0000 (NUL) in text")
    return conn.execute(sql, params)

"""The one SQL runner (storage/sql.py) on each backend: placeholders, rows by
column name, statements run verbatim, the table listing migrations and the
change feed share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from idumb_daemon.storage import sql
from idumb_daemon.storage.database import Database
from idumb_daemon.storage.errors import TextNotStorable


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.close()


def test_placeholders_bind_on_either_backend_and_rows_come_by_column_name(
    database: Database,
) -> None:
    with database.transaction(write=True) as db:
        sql.verbatim(db, "CREATE TABLE t (k text PRIMARY KEY, n integer)")
        for k, n in [("a", 1), ("b", 2), ("c", 3)]:
            sql.run(db, "INSERT INTO t (k, n) VALUES (?, ?)", (k, n))
    with database.transaction(write=False) as db:
        assert sql.rows(db, "SELECT k, n AS number FROM t WHERE n >= ? ORDER BY k", (2,)) == [
            {"k": "b", "number": 2},
            {"k": "c", "number": 3},
        ]
        assert sql.rows(db, "SELECT k FROM t WHERE k = ?", ("none",)) == []
        assert "t" in sql.table_names(db)


def test_verbatim_takes_no_placeholder_from_the_text(database: Database) -> None:
    # A hand-written migration may hold every character a driver could read
    # as a placeholder: ?, :name, %s and a lone %.
    text = "what? :name %s 100%"
    with database.transaction(write=True) as db:
        sql.verbatim(db, "CREATE TABLE notes (body text)")
        sql.verbatim(db, f"INSERT INTO notes (body) VALUES ('{text}')")
        assert sql.run(db, "SELECT body FROM notes").fetchall() == [(text,)]


def test_a_rolled_back_transaction_leaves_nothing_run_through_the_runner(
    database: Database,
) -> None:
    with database.transaction(write=True) as db:
        sql.verbatim(db, "CREATE TABLE t (k text)")
    with pytest.raises(RuntimeError), database.transaction(write=True) as db:
        sql.run(db, "INSERT INTO t (k) VALUES (?)", ("gone",))
        raise RuntimeError("the request failed")
    with database.transaction(write=False) as db:
        assert sql.run(db, "SELECT count(*) FROM t").fetchone()[0] == 0


def test_text_postgresql_cannot_hold_is_named_before_it_reaches_the_server(
    database: Database,
) -> None:
    with database.transaction(write=True) as db:
        sql.verbatim(db, "CREATE TABLE t (k text)")
        if db.is_postgres:
            with pytest.raises(TextNotStorable):
                sql.run(db, "INSERT INTO t (k) VALUES (?)", ("a\x00b",))
        else:
            sql.run(db, "INSERT INTO t (k) VALUES (?)", ("a\x00b",))
            assert sql.run(db, "SELECT k FROM t").fetchone() == ("a\x00b",)

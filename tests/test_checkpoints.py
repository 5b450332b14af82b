"""WAL checkpoints off the write path (storage/checkpoints.py): the thread
copies committed pages into the database file itself, which a reader that
ignores the WAL (immutable=1) then sees; it stops when closed."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from idumb_daemon.protocol.server import migrate_step
from idumb_daemon.storage import Storage, settings
from idumb_daemon.storage.checkpoints import AUTOCHECKPOINT_PAGES, Checkpointer

BOUND = 10.0  # seconds: any wait here is bounded


def in_database_file(path: Path, sql: str) -> list[tuple[object, ...]]:
    """What the database file alone holds, the WAL left unread."""
    conn = sqlite3.connect(f"{path.as_uri()}?immutable=1", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def wait_for_file_rows(path: Path, sql: str, expected: list[tuple[object, ...]]) -> None:
    deadline = time.monotonic() + BOUND
    seen: object = None
    while time.monotonic() < deadline:
        try:
            seen = in_database_file(path, sql)
        except sqlite3.DatabaseError as exc:  # read while pages were being copied
            seen = exc
        if seen == expected:
            return
        time.sleep(0.005)
    raise AssertionError(f"the database file held {seen!r}, not {expected!r}, within {BOUND} s")


def wal_database(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE t (n INTEGER)")  # before WAL: in the file itself
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # only the thread under test copies
    return conn


def checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "checkpoint"]


def test_commits_reach_the_database_file_once_the_thread_is_told(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    conn = wal_database(path)
    checkpoints = Checkpointer(path)
    try:
        conn.execute("INSERT INTO t VALUES (1)")
        # Not told: the row is in the WAL only.
        assert in_database_file(path, "SELECT n FROM t") == []
        checkpoints.wrote()
        wait_for_file_rows(path, "SELECT n FROM t", [(1,)])
        # The next burst is copied too: the thread went back to waiting.
        conn.execute("INSERT INTO t VALUES (2)")
        checkpoints.wrote()
        wait_for_file_rows(path, "SELECT n FROM t ORDER BY n", [(1,), (2,)])
    finally:
        checkpoints.close()
        conn.close()


def test_close_ends_the_thread_and_a_later_commit_starts_none(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    conn = wal_database(path)
    before = len(checkpoint_threads())
    checkpoints = Checkpointer(path)
    checkpoints.wrote()
    assert len(checkpoint_threads()) == before + 1
    checkpoints.close(BOUND)
    assert len(checkpoint_threads()) == before
    conn.execute("INSERT INTO t VALUES (1)")
    checkpoints.wrote()
    assert len(checkpoint_threads()) == before
    assert in_database_file(path, "SELECT n FROM t") == []
    conn.close()


def test_a_file_that_cannot_be_opened_leaves_checkpoints_to_sqlite(tmp_path: Path) -> None:
    checkpoints = Checkpointer(tmp_path / "missing" / "wal.db")
    checkpoints.wrote()  # the thread logs and ends; nothing is raised here
    checkpoints.close(BOUND)
    assert not (tmp_path / "missing").exists()


def test_a_daemons_writes_are_checkpointed_long_before_sqlites_own_would(
    tmp_path: Path,
) -> None:
    path = tmp_path / "idumb.db"
    storage = Storage("sqlite:///" + str(path), migrate=migrate_step())
    storage.open()
    try:
        for n in range(5):  # a few pages each, far from AUTOCHECKPOINT_PAGES
            storage.write(settings.set_, f"key.{n}", str(n))
        assert AUTOCHECKPOINT_PAGES > 5 * 8
        wait_for_file_rows(
            path,
            "SELECT key, value FROM settings ORDER BY key",
            [(f"key.{n}", str(n)) for n in range(5)],
        )
    finally:
        storage.close()

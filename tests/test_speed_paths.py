"""The fast paths of issue 16 keep the protocol's promises (their speed is the
benchmark's to measure): a watch woken by the OS's file events, or polling
where forced to; a lone write run at once, which hands a taken lock to the
storage thread so nothing else waits behind it; the flock that queues daemons."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from idumb_daemon.storage.database import file_identity
from idumb_daemon.storage.writelock import lock_folder, lock_name
from tests.conftest import DaemonFactory
from tests.test_watch_e2e import next_changes
from tests.wire import WAIT, daemon_env

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify and /proc")


def inotify_fds(pid: int) -> int:
    folder = f"/proc/{pid}/fd"
    return sum(os.readlink(f"{folder}/{fd}") == "anon_inode:inotify" for fd in os.listdir(folder))


@linux_only
@pytest.mark.parametrize("mode", ["events", "poll"])
def test_a_foreign_write_reaches_the_watcher_by_file_events_or_by_polling(
    spawn: DaemonFactory, db_path: Path, mode: str
) -> None:
    env = daemon_env({"IDUMB_WATCH": "poll"} if mode == "poll" else None)
    daemon = spawn(env=env)
    assert daemon.result("daemon/watch", {}) == {"watching": True}
    # A commit of a program that knows nothing of the daemon (the sqlite3 shell).
    conn = sqlite3.connect(db_path, timeout=WAIT)
    try:
        with conn:
            conn.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES ('editor.theme', 'dark', 1)"
            )
    finally:
        conn.close()
    changes = next_changes(daemon)
    assert [(c["key"], c["value"]) for c in changes] == [("editor.theme", "dark")]
    # Which way it came: the poll forced by IDUMB_WATCH=poll opens no inotify.
    assert inotify_fds(daemon.proc.pid) == (1 if mode == "events" else 0)
    assert daemon.stop() == 0


def test_a_write_that_meets_a_foreign_lock_holds_up_nothing_else(
    spawn: DaemonFactory, db_path: Path
) -> None:
    daemon = spawn()
    assert daemon.result("settings/set", {"key": "k", "value": "1"})["value"] == "1"
    foreign = sqlite3.connect(db_path, timeout=WAIT, isolation_level=None)
    try:
        foreign.execute("BEGIN IMMEDIATE")  # SQLite's write lock, held
        write = daemon.request("settings/set", {"key": "k", "value": "2"})
        status = daemon.request("daemon/status", {})
        # The status comes first: the write waits on the storage thread.
        first = daemon.next_message()
        assert first["id"] == status and first["result"]["backend"] == "sqlite"
    finally:
        foreign.execute("ROLLBACK")
        foreign.close()
    assert daemon.response(write)["result"]["value"] == "2"
    assert daemon.stop() == 0


def test_daemons_queue_on_a_0600_lock_file_that_goes_with_the_last(
    spawn: DaemonFactory, db_path: Path
) -> None:
    daemon = spawn()
    assert daemon.result("settings/set", {"key": "k", "value": "1"})["value"] == "1"
    folder = lock_folder()
    assert folder is not None
    lock_path = folder / lock_name(file_identity(db_path))
    assert stat.S_IMODE(lock_path.stat().st_mode) == 0o600
    # Nothing beside the database but its own files.
    assert sorted(p.name for p in db_path.parent.iterdir()) == [
        "idumb.db",
        "idumb.db-shm",
        "idumb.db-wal",
    ]
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another daemon holding it between its writes
        write = daemon.request("settings/set", {"key": "k", "value": "2"})
        status = daemon.request("daemon/status", {})
        first = daemon.next_message()
        assert first["id"] == status
        fcntl.flock(fd, fcntl.LOCK_UN)
        assert daemon.response(write)["result"]["value"] == "2"
    finally:
        os.close(fd)
    other = spawn()
    assert other.result("settings/get", {"key": "k"})["value"] == "2"
    assert other.stop() == 0
    assert lock_path.exists()  # the first daemon still uses it
    assert daemon.stop() == 0
    assert not lock_path.exists()

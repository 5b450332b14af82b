"""The change feed on real SQLite files: another writer is a plain sqlite3
connection (as the TypeScript app or the sqlite3 shell would be), our own
writes go through Storage as the daemon's do."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from idumb_daemon.contracts import SettingChange
from idumb_daemon.protocol.server import open_storage
from idumb_daemon.storage import Storage, settings, sql, workspaces
from idumb_daemon.storage import changes as feed_module
from idumb_daemon.storage.changes import CHANGE_LOG, Changes

KEPT = 10_000  # changes whose tombstones the prune trigger of migration 0003 keeps


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    store = open_storage("sqlite:///" + str(tmp_path / "idumb.db"))
    store.open()
    yield store
    store.close()


@pytest.fixture
def other(storage: Storage, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another program writing the same file, in autocommit mode."""
    conn = sqlite3.connect(tmp_path / "idumb.db", isolation_level=None)
    yield conn
    conn.close()


def values(changes: Changes) -> dict[str, str | None]:
    return {c.key: c.value for c in changes.settings}


def upsert(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, 1700000000) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, value),
    )


def test_other_writers_changes_are_reported_with_current_rows(
    storage: Storage, other: sqlite3.Connection
) -> None:
    storage.write(settings.set_, "stays", "1")
    storage.watch(True)
    assert storage.collect_changes() == Changes()
    upsert(other, "a", "1")
    upsert(other, "a", "2")
    other.execute("DELETE FROM settings WHERE key = 'stays'")
    other.execute(
        "INSERT INTO workspace_config (project_dir, name, config) VALUES ('/p', 'P', '{\"x\":1}')"
    )
    changes = storage.collect_changes()
    # Coalesced to each key's latest state, in revision order: a's two changes
    # are one, at the revision of the second.
    high = feed_module.last_revision(storage._database.db)  # type: ignore[union-attr]
    assert changes.revision == high
    assert changes.settings == [
        SettingChange(
            key="a",
            value="2",
            updated_at=changes.settings[0].updated_at,
            revision=high - 2,
            project_dir=None,
        ),
        SettingChange(
            key="stays", value=None, updated_at=None, revision=high - 1, project_dir=None
        ),
    ]
    assert changes.workspaces[0].revision == high
    assert changes.settings[0].updated_at is not None
    assert changes.settings[0].updated_at.timestamp() == 1700000000
    [workspace] = changes.workspaces
    assert workspace.project_dir == "/p" and workspace.workspace is not None
    assert (workspace.workspace.name, workspace.workspace.config) == ("P", {"x": 1})
    other.execute("DELETE FROM workspace_config")
    [gone] = storage.collect_changes().workspaces
    assert (gone.project_dir, gone.workspace) == ("/p", None)
    assert storage.collect_changes() == Changes()


def test_own_writes_are_not_reported_alone_or_grouped(
    storage: Storage, other: sqlite3.Connection
) -> None:
    storage.watch(True)
    storage.write(settings.set_, "own", "1")
    storage.write(workspaces.set_, "/own", "n")
    with storage.group():
        storage.write(settings.set_, "own2", "1")
        storage.write(settings.delete, "own")
    upsert(other, "theirs", "1")
    assert values(storage.collect_changes()) == {"theirs": "1"}


def test_a_rolled_back_group_leaves_no_own_seqs_behind(
    storage: Storage, other: sqlite3.Connection
) -> None:
    # The seqs of a rolled-back transaction are handed out again: to another
    # writer's commit, which must not be mistaken for ours.
    storage.watch(True)
    with pytest.raises(RuntimeError), storage.group():
        storage.write(settings.set_, "never", "1")
        raise RuntimeError("abandon the group")
    upsert(other, "theirs", "1")
    assert values(storage.collect_changes()) == {"theirs": "1"}


def test_a_key_both_sides_wrote_is_reported_with_the_stored_value(
    storage: Storage, other: sqlite3.Connection
) -> None:
    storage.watch(True)
    upsert(other, "k", "theirs")
    storage.write(settings.set_, "k", "ours")
    # The log keeps a key's latest change, ours: the client has that value.
    assert values(storage.collect_changes()) == {}
    storage.write(settings.set_, "k", "ours again")
    upsert(other, "k", "theirs again")
    assert values(storage.collect_changes()) == {"k": "theirs again"}


def test_renamed_and_replaced_keys_report_the_old_key_deleted(
    storage: Storage, other: sqlite3.Connection
) -> None:
    storage.write(settings.set_, "old", "1")
    storage.write(settings.set_, "victim", "1")
    storage.watch(True)
    other.execute("UPDATE settings SET key = 'new' WHERE key = 'old'")
    assert values(storage.collect_changes()) == {"old": None, "new": "1"}
    # REPLACE deletes the row holding the id without firing delete triggers.
    other.execute(
        "INSERT OR REPLACE INTO settings (id, key, value) "
        "SELECT id, 'usurper', '2' FROM settings WHERE key = 'victim'"
    )
    assert values(storage.collect_changes()) == {"victim": None, "usurper": "2"}


def test_changes_while_not_watching_are_not_replayed(
    storage: Storage, other: sqlite3.Connection
) -> None:
    storage.watch(True)
    storage.watch(False)
    upsert(other, "unseen", "1")
    assert storage.collect_changes() == Changes()
    storage.watch(True)
    assert storage.collect_changes() == Changes()
    upsert(other, "seen", "1")
    assert values(storage.collect_changes()) == {"seen": "1"}


def test_change_log_stays_bounded(storage: Storage, other: sqlite3.Connection) -> None:
    other.execute("BEGIN")
    for i in range(3 * KEPT + 123):
        upsert(other, f"k{i % 50}", str(i))
        if i % 3 == 0:  # a key made and deleted: a tombstone of its own
            upsert(other, f"gone{i}", "x")
            other.execute("DELETE FROM settings WHERE key = ?", (f"gone{i}",))
    other.execute("COMMIT")
    live, tombstones, high = other.execute(
        f"SELECT sum(deleted = 0), sum(deleted = 1), max(seq) FROM {CHANGE_LOG}"
    ).fetchone()
    # One entry per row, plus the tombstones of the last KEPT..KEPT+1000 changes.
    assert live == other.execute("SELECT count(*) FROM settings").fetchone()[0]
    assert tombstones <= (KEPT + 1000) // 3
    (horizon,) = other.execute(f"SELECT seq FROM {feed_module.HORIZON}").fetchone()
    assert high - KEPT - 1000 < horizon <= high - KEPT
    (oldest,) = other.execute(f"SELECT min(seq) FROM {CHANGE_LOG} WHERE deleted").fetchone()
    assert oldest > horizon


def test_a_watcher_behind_the_retained_log_resyncs_with_deletions(
    storage: Storage, other: sqlite3.Connection
) -> None:
    storage.write(settings.set_, "doomed", "1")
    storage.write(settings.set_, "kept", "1")
    storage.watch(True)
    other.execute("BEGIN")
    other.execute("DELETE FROM settings WHERE key = 'doomed'")
    for i in range(KEPT + 2000):
        upsert(other, f"k{i % 10}", str(i))
    other.execute("COMMIT")
    found = storage.collect_changes()
    # The tombstone of "doomed" is pruned: a resync, every row (the client
    # drops what it holds).
    assert found.resync
    assert values(found) == {
        "kept": "1",
        **{f"k{i}": str(KEPT + 2000 - 10 + i) for i in range(10)},
    }
    upsert(other, "after", "1")
    assert values(storage.collect_changes()) == {"after": "1"}


def test_one_change_among_100k_rows_reads_only_that_row(
    storage: Storage, other: sqlite3.Connection
) -> None:
    other.execute("BEGIN")
    other.executemany(
        "INSERT INTO settings (key, value) VALUES (?, 'v')", ((f"key.{i}",) for i in range(100_000))
    )
    other.execute("COMMIT")
    storage.watch(True)
    upsert(other, "key.77777", "changed")
    statements: list[str] = []
    database = storage._database
    assert database is not None
    # Every statement storage runs, as SQLite runs it (parameters expanded).
    conn = sql.connection(database.db)
    conn.set_trace_callback(statements.append)
    try:
        assert values(storage.collect_changes()) == {"key.77777": "changed"}
    finally:
        conn.set_trace_callback(None)
    # The work follows the changes: every statement the look ran searches an
    # index (the log by its primary key in the seq range not yet read, each
    # row by its unique key); none scans a table.
    selects = [text for text in statements if text.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 4  # the highest revision, then the log of each table
    plans = [
        detail
        for text in selects
        for *_ids, detail in other.execute("EXPLAIN QUERY PLAN " + text).fetchall()
    ]
    assert [p for p in plans if p.startswith("SCAN") and p != "SCAN CONSTANT ROW"] == []
    assert plans.count("SEARCH rev USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)") == 3
    assert "SEARCH settings USING INDEX settings_key_unique (key=?) LEFT-JOIN" in plans


def test_a_look_that_fails_while_building_rows_is_retried_from_the_same_place(
    storage: Storage, other: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage.watch(True)
    upsert(other, "a", "1")
    upsert(other, "b", "2")
    built = feed_module._setting

    def fails_once(table: str, row: Any) -> SettingChange:
        monkeypatch.setattr(feed_module, "_setting", built)
        raise RuntimeError("a failure after the log was read")

    monkeypatch.setattr(feed_module, "_setting", fails_once)
    with pytest.raises(RuntimeError):
        storage.collect_changes()
    # Nothing was lost: the next look reads the same range.
    assert values(storage.collect_changes()) == {"a": "1", "b": "2"}
    assert storage.collect_changes() == Changes()

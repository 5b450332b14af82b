"""Disk and file faults: a read-only file or folder, a full disk, the file
deleted or replaced under a running daemon, a schema from a newer daemon.
Each is answered with its error code and the daemon keeps serving."""

from __future__ import annotations

import functools
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from idumb_daemon.protocol.server import open_storage
from idumb_daemon.storage import Storage, settings
from idumb_daemon.storage.database import Database
from idumb_daemon.storage.errors import StorageFull
from idumb_daemon.storage.sql import run
from idumb_daemon.worker import Job, StorageWorker
from tests.conftest import DaemonFactory
from tests.reliability import (
    digest,
    file_modes_bind_daemon,
    integrity,
    launcher,
    pipeline,
    seed,
    size_capped,
)
from tests.wire import WAIT, Wire
from tests.wire import sqlite_exec as query

WRITES: list[tuple[str, Any]] = [
    ("settings/set", {"key": "k", "value": "new"}),
    ("settings/setMany", {"entries": [{"key": "a", "value": "1"}]}),
    ("settings/delete", {"key": "k"}),
    ("settings/import", {"version": "1.0", "settings": [{"key": "k", "value": "i"}]}),
    ("workspaceConfig/open", {"projectDir": "/p"}),
    ("workspaceConfig/set", {"projectDir": "/p", "name": "n"}),
    ("workspaceConfig/delete", {"projectDir": "/p"}),
]


@pytest.mark.parametrize("read_only", ["file", "folder"])
def test_read_only_file_or_folder_refuses_writes_and_serves_reads(
    spawn: DaemonFactory, tmp_path: Path, read_only: str
) -> None:
    if not file_modes_bind_daemon(tmp_path):
        pytest.skip("cannot start the daemon without root's override of file modes")
    folder = tmp_path / "data"
    db = folder / "idumb.db"
    seed(db, {"k": "v", "editor.fontSize": "14"})
    before = digest(db)
    target = db if read_only == "file" else folder
    mode = target.stat().st_mode
    target.chmod(0o400 if read_only == "file" else 0o500)
    try:
        # The daemon meets file modes as a user does: root's CAP_DAC_OVERRIDE
        # would write through them (see tests/reliability.py).
        daemon = spawn(db=db, command=launcher(drop_dac=True))
        assert daemon.result("settings/get", {"key": "k"})["value"] == "v"
        assert [e["key"] for e in daemon.result("settings/getAll", {})] == ["editor.fontSize", "k"]
        answers = pipeline(daemon, WRITES)
        assert [a.get("error", {}).get("code") for a in answers] == [-31002] * len(WRITES)
        assert answers[0]["error"]["data"] == {"reason": "readonly"}
        assert daemon.result("settings/get", {"key": "k"})["value"] == "v"
        assert daemon.result("daemon/status", {})["schemaVersion"]
        assert daemon.stop() == 0
    finally:
        target.chmod(mode)
    assert digest(db) == before
    # Nothing left beside it that would keep the file read-only afterwards.
    assert sorted(p.name for p in folder.iterdir()) == ["idumb.db", "idumb.db.backup"]
    writable = spawn(db=db)
    assert writable.result("settings/set", {"key": "k", "value": "w"})["value"] == "w"
    assert writable.stop() == 0


@contextmanager
def small_filesystem(where: Path, size_kib: int) -> Iterator[None]:
    """A tmpfs of `size_kib` at `where`: a disk that really fills up."""
    where.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount(8) here")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs", str(where)],
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem: {mounted.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(where)], timeout=WAIT, check=False)


def _fill(daemon: Wire, value_size: int) -> tuple[dict[str, str], dict[str, Any]]:
    """Pipeline big writes until the storage is full: what was acknowledged,
    and the first -31003."""
    acked: dict[str, str] = {}
    for n in range(200):
        batch = {f"big.{n}.{j}": f"{n}.{j}:" + "x" * value_size for j in range(3)}
        answers = pipeline(
            daemon, [("settings/set", {"key": k, "value": v}) for k, v in batch.items()]
        )
        for (key, value), answer in zip(batch.items(), answers, strict=True):
            if "error" not in answer:
                acked[key] = value
                continue
            assert answer["error"]["code"] == -31003, answer
            assert answer["error"]["data"] == {"reason": "full"}
            return acked, answer
    raise AssertionError("storage never filled up")


def _assert_all_there(daemon: Wire, acked: dict[str, str]) -> None:
    stored = {e["key"]: e["value"] for e in daemon.result("settings/getAll", {"prefix": "big."})}
    missing = [k for k, v in acked.items() if stored.get(k) != v]
    assert not missing, f"{len(missing)} acknowledged writes lost: {missing[:5]}"


def test_full_disk_is_31003_and_writes_resume_once_space_returns(
    spawn: DaemonFactory, tmp_path: Path
) -> None:
    small = tmp_path / "small"
    with small_filesystem(small, 3072):
        filler = small / "filler"
        filler.write_bytes(b"\0" * 1024 * 1024)
        db = small / "idumb.db"
        daemon = spawn(db=db)
        acked, _full = _fill(daemon, 100_000)
        assert len(acked) >= 5
        some = next(iter(acked))
        assert daemon.result("settings/get", {"key": some})["value"] == acked[some]
        assert daemon.result("daemon/status", {})["schemaVersion"]

        filler.unlink()  # space returns
        entry = daemon.result("settings/set", {"key": "big.after", "value": "y" * 100_000})
        acked[entry["key"]] = entry["value"]
        _assert_all_there(daemon, acked)
        assert daemon.stop() == 0

        again = spawn(db=db)
        _assert_all_there(again, acked)
        assert again.stop() == 0
        assert integrity(db) == [("ok",)]


def test_size_cap_stand_in_for_a_full_disk_is_31003_and_recovers(
    spawn: DaemonFactory, db_path: Path
) -> None:
    """Where no filesystem can be mounted (CI containers), SQLite's
    max_page_count makes the same SQLITE_FULL; deleting rows frees pages."""
    daemon = spawn(command=size_capped(200))
    acked, _full = _fill(daemon, 50_000)
    assert len(acked) >= 5
    freed = sorted(acked)[: len(acked) // 2]
    answers = pipeline(daemon, [("settings/delete", {"key": k}) for k in freed])
    assert all(a["result"] == {"deleted": True} for a in answers), answers
    for key in freed:
        del acked[key]
    entry = daemon.result("settings/set", {"key": "big.after", "value": "y" * 50_000})
    acked[entry["key"]] = entry["value"]
    _assert_all_there(daemon, acked)
    assert daemon.stop() == 0
    again = spawn()
    _assert_all_there(again, acked)
    assert again.stop() == 0
    assert integrity(db_path) == [("ok",)]


def test_a_write_failing_mid_group_leaves_no_write_of_that_group_acknowledged(
    tmp_path: Path,
) -> None:
    """SQLite rolls a whole transaction back on SQLITE_FULL, savepoints and
    all: a write that succeeded earlier in the same group commit is gone too,
    and must not be acknowledged."""

    def cap(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.execute("PRAGMA max_page_count=80")

    event.listen(Engine, "connect", cap)
    worker = StorageWorker(open_storage("sqlite:///" + str(tmp_path / "capped.db")))

    def submit(call: Callable[[Storage], object], *, write: bool) -> Job[object]:
        # A worker of its own runs no read inline: every call is queued.
        return cast("Job[object]", worker.submit(call, write=write))

    def fill(s: Storage, n: int) -> object:
        return s.write(settings.set_, f"fill.{n}", "f" * 20_000)

    def put(s: Storage, key: str, value: str) -> object:
        return s.write(settings.set_, key, value)

    def read(s: Storage, key: str) -> object:
        return s.read(settings.get, key)

    worker.start()
    try:
        for n in range(200):
            filled = submit(functools.partial(fill, n=n), write=True)
            if isinstance(filled.exception(WAIT), StorageFull):
                break
        else:
            raise AssertionError("never full")
        gate = threading.Event()
        submit(lambda _s: gate.wait(WAIT), write=False)  # queue the group behind it
        group = {
            "before": submit(functools.partial(put, key="before", value="small"), write=True),
            "big": submit(functools.partial(put, key="big", value="b" * 400_000), write=True),
            "after": submit(functools.partial(put, key="after", value="small"), write=True),
        }
        gate.set()
        errors = {key: future.exception(WAIT) for key, future in group.items()}
        assert isinstance(errors["big"], StorageFull), errors
        for key, error in errors.items():
            stored = submit(functools.partial(read, key=key), write=False).result(WAIT)
            assert error is not None or stored is not None, f"{key} acknowledged, then lost"
    finally:
        worker.stop(WAIT)
        event.remove(Engine, "connect", cap)


def test_a_transaction_sqlite_rolled_back_refuses_its_later_savepoints_and_commit(
    tmp_path: Path,
) -> None:
    """Where SQLITE_FULL takes the whole transaction (a statement without a
    statement journal, as here; I/O errors always), the savepoints of the
    steps before it are gone: the next steps and the commit must fail too,
    not run (and be acknowledged) outside any transaction."""

    def cap(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.execute("PRAGMA max_page_count=40")

    database = Database("sqlite:///" + str(tmp_path / "lost.db"))
    event.listen(database.db.engine, "connect", cap)
    try:
        with database.transaction(write=True) as db:
            run(db, "CREATE TABLE t (x TEXT)")
        for n in range(100):
            try:
                with database.transaction(write=True) as db:
                    run(db, "INSERT INTO t VALUES (?)", (f"{n}" * 20_000,))
            except StorageFull:
                break
        with pytest.raises(StorageFull), database.transaction(write=True):
            with database.transaction(write=True) as db:
                run(db, "INSERT INTO t VALUES ('before')")
            with pytest.raises(StorageFull), database.transaction(write=True) as db:
                run(db, "INSERT INTO t VALUES (?)", ("b" * 400_000,))
            with pytest.raises(StorageFull), database.transaction(write=True) as db:
                run(db, "INSERT INTO t VALUES ('after')")
        with database.transaction(write=False) as db:
            assert run(db, "SELECT x FROM t WHERE length(x) < 10").fetchall() == []
        with database.transaction(write=True) as db:  # and the connection goes on
            run(db, "DELETE FROM t WHERE rowid = 1")
            run(db, "INSERT INTO t VALUES ('fits again')")
    finally:
        database.close()


def test_file_replaced_or_deleted_under_a_running_daemon(
    spawn: DaemonFactory, db_path: Path, tmp_path: Path
) -> None:
    daemon = spawn()
    daemon.result("settings/set", {"key": "a", "value": "old"})

    # Replaced: another database renamed over the path, as a restore tool does.
    other = tmp_path / "other.db"
    source, copy = sqlite3.connect(db_path), sqlite3.connect(other)
    source.backup(copy)
    source.close()
    copy.execute("UPDATE settings SET value = 'replacement' WHERE key = 'a'")
    copy.commit()
    copy.close()
    os.replace(other, db_path)
    first = daemon.call("settings/get", {"key": "a"})
    assert first.get("error", {}).get("code") == -31006 or first["result"]["value"] == "replacement"
    assert daemon.result("settings/get", {"key": "a"})["value"] == "replacement"
    daemon.result("settings/set", {"key": "b", "value": "into the replacement"})
    assert query(db_path, "SELECT value FROM settings WHERE key = 'b'") == [
        ("into the replacement",)
    ]

    # Deleted: the daemon starts a new file rather than write into the old inode.
    db_path.unlink()
    first = daemon.call("settings/set", {"key": "c", "value": "lost?"})
    assert first.get("error", {}).get("code") == -31006 or "result" in first
    daemon.result("settings/set", {"key": "c", "value": "fresh"})
    assert daemon.result("settings/get", {"key": "c"})["value"] == "fresh"
    assert daemon.result("settings/get", {"key": "a"}) is None
    assert daemon.stop() == 0
    assert query(db_path, "SELECT key, value FROM settings") == [("c", "fresh")]
    assert integrity(db_path) == [("ok",)]


def test_newer_schema_is_31005_for_every_storage_request_and_nothing_is_written(
    spawn: DaemonFactory, db_path: Path
) -> None:
    seed(db_path, {"k": "v"})
    (supported,) = query(db_path, "SELECT max(version) FROM __idumb_migrations")[0]
    query(
        db_path,
        "INSERT INTO __idumb_migrations (version, name, checksum, applied_at) "
        "VALUES (?, 'from_a_newer_daemon', 'x', 0)",
        supported + 1,
    )
    files = {p.name: digest(p) for p in db_path.parent.iterdir()}

    daemon = spawn()
    answers = pipeline(
        daemon,
        [
            *WRITES,
            ("settings/get", {"key": "k"}),
            ("settings/getAll", {}),
            ("workspaceConfig/list", {}),
        ],
    )
    for answer in answers:
        assert answer["error"]["code"] == -31005, answer
        assert answer["error"]["data"] == {
            "reason": "schema_too_new",
            "databaseVersion": supported + 1,
            "supportedVersion": supported,
        }
    assert daemon.result("daemon/status", {})["schemaVersion"] == supported + 1
    assert daemon.stop() == 0
    assert {p.name: digest(p) for p in db_path.parent.iterdir()} == files

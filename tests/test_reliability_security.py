"""Security: private file modes whatever the umask, no SQL built from input,
no network port, no stored value or password in the log."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from idumb_daemon.contracts import SettingInput, SettingsSetManyEntry
from idumb_daemon.protocol.server import open_storage
from idumb_daemon.storage import settings, workspaces
from tests.conftest import DaemonFactory
from tests.reliability import launcher, pipeline
from tests.wire import sqlite_exec as query

SQL_KEYS = [
    "'; DROP TABLE settings; --",
    '" OR 1=1 --',
    "a' || 'b",
    "%",
    "_",
    "x%y_z",
    "); DELETE FROM settings WHERE (1=1",
    ":key",
    "?",
    "$1",
    "\\'",
    "key\\",
    "/* comment */ key",
    "UNION SELECT key, value, updated_at FROM settings",
    "😀'; --",
]


def test_folders_0700_and_files_0600_under_a_permissive_umask(
    spawn: DaemonFactory, tmp_path: Path
) -> None:
    db = tmp_path / "project" / ".idumb" / "data" / "idumb.db"
    daemon = spawn(db=db, command=launcher(umask=0))
    daemon.result("settings/set", {"key": "token", "value": "secret"})
    assert "Umask:\t0000" in Path(f"/proc/{daemon.proc.pid}/status").read_text()
    modes = {p.name: p.stat().st_mode & 0o777 for p in db.parent.iterdir()}
    assert modes == {"idumb.db": 0o600, "idumb.db-wal": 0o600, "idumb.db-shm": 0o600}
    for folder in (db.parent, db.parent.parent, db.parent.parent.parent):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    assert daemon.stop() == 0
    assert (db.with_name("idumb.db.backup").stat().st_mode & 0o777) == 0o600
    assert db.stat().st_mode & 0o777 == 0o600


def test_keys_made_of_sql_round_trip_verbatim(spawn: DaemonFactory, db_path: Path) -> None:
    daemon = spawn()
    answers = pipeline(
        daemon, [("settings/set", {"key": k, "value": k + " = value"}) for k in SQL_KEYS]
    )
    assert [a["result"]["key"] for a in answers] == SQL_KEYS
    tables = query(db_path, "SELECT type, name FROM sqlite_master ORDER BY name")
    answers = pipeline(daemon, [("settings/get", {"key": k}) for k in SQL_KEYS])
    assert [a["result"]["value"] for a in answers] == [k + " = value" for k in SQL_KEYS]
    listed = [e["key"] for e in daemon.result("settings/getAll", {})]
    assert listed == sorted(SQL_KEYS)
    # LIKE wildcards are plain characters in a prefix.
    assert [e["key"] for e in daemon.result("settings/getAll", {"prefix": "%"})] == ["%"]
    assert [e["key"] for e in daemon.result("settings/getAll", {"prefix": "x%"})] == ["x%y_z"]
    project = "/tmp/'; DROP TABLE workspace_config; --"
    config = {"sql": "'); DELETE FROM settings; --", SQL_KEYS[0]: SQL_KEYS[1]}
    daemon.result(
        "workspaceConfig/set", {"projectDir": project, "name": SQL_KEYS[2], "config": config}
    )
    stored = daemon.result("workspaceConfig/get", {"projectDir": project})
    assert (stored["name"], stored["config"]) == (SQL_KEYS[2], config)
    answers = pipeline(daemon, [("settings/delete", {"key": k}) for k in SQL_KEYS[:3]])
    assert all(a["result"] == {"deleted": True} for a in answers)
    assert len(daemon.result("settings/getAll", {})) == len(SQL_KEYS) - 3
    assert query(db_path, "SELECT type, name FROM sqlite_master ORDER BY name") == tables
    assert daemon.stop() == 0


def test_no_input_reaches_sql_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every statement the storage layer sends, as the driver receives it:
    input travels only in bound parameters."""
    marker = "MARKER'\"%_;--"
    texts: list[str] = []

    class Recording(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            texts.append(sql)
            return super().execute(sql, *args)

        def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
            texts.append(sql)
            return super().executemany(sql, *args)

    connect = sqlite3.connect

    def recording_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        return connect(*args, **kwargs, factory=Recording)

    # SQLAlchemy connects through sqlite3.dbapi2, a read-only file through sqlite3.
    monkeypatch.setattr(sqlite3.dbapi2, "connect", recording_connect)
    monkeypatch.setattr(sqlite3, "connect", recording_connect)
    storage = open_storage("sqlite:///" + str(tmp_path / "sql.db"))
    try:
        storage.open()
        texts.clear()
        storage.write(settings.set_, marker, marker)
        storage.write(settings.set_many, [SettingsSetManyEntry(key=marker + "2", value=marker)])
        storage.read(settings.get, marker)
        storage.read(lambda tx: settings.get_all(tx, prefix=marker, after=marker, limit=3))
        storage.write(settings.import_, [SettingInput(key=marker + "3", value=marker)], True)
        storage.read(settings.export)
        storage.write(settings.delete, marker)
        storage.write(
            lambda tx: workspaces.set_(
                tx, project_dir="/" + marker, name=marker, config={marker: marker}
            )
        )
        storage.write(workspaces.open_, "/" + marker)
        storage.read(workspaces.get, "/" + marker)
        storage.read(workspaces.list_recent, 5)
        storage.write(workspaces.delete, "/" + marker)
    finally:
        storage.close()
    # A statement at least per operation beside its BEGIN: the driver saw them.
    assert len([t for t in texts if not t.startswith("BEGIN")]) >= 12
    assert not [t for t in texts if "MARKER" in t]


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _table_inodes(pid: int, table: str) -> set[str]:
    path = Path(f"/proc/{pid}/net/{table}")
    if not path.exists():
        return set()
    lines = path.read_text().splitlines()[1:]
    column = 9 if table.startswith(("tcp", "udp", "raw")) else 6  # inode column
    return {line.split()[column] for line in lines if len(line.split()) > column}


def test_the_daemon_opens_no_network_port(spawn: DaemonFactory) -> None:
    daemon = spawn()
    daemon.result("settings/set", {"key": "k", "value": "v"})
    daemon.result("daemon/watch", {"enabled": True})
    pid = daemon.proc.pid
    sockets = _socket_inodes(pid)
    inet = set().union(
        *(_table_inodes(pid, t) for t in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite"))
    )
    assert not sockets & inet, "the daemon holds an internet socket"
    # What it does hold (asyncio's self-pipe) are Unix sockets, nameless.
    assert sockets <= _table_inodes(pid, "unix")
    assert daemon.stop() == 0


SECRETS = {
    "value": "S3CRET-VALUE-4cd1",
    "config": "S3CRET-CONFIG-77e2",
    "failing": "S3CRET-FAILING-90af",
    "too-long": "S3CRET-TOOLONG-c3b8",
    "import": "S3CRET-IMPORT-5d0e",
    "notification": "S3CRET-NOTIFICATION-2b7d",
    "busy": "S3CRET-BUSY-e41a",
    "password": "S3CRET-PASSWORD-1f9c",
}


def test_the_log_holds_no_value_config_or_password_even_on_errors(
    spawn: DaemonFactory, db_path: Path
) -> None:
    daemon = spawn("--busy-timeout", "0.3")
    daemon.result("settings/set", {"key": "token", "value": SECRETS["value"]})
    daemon.result(
        "workspaceConfig/set", {"projectDir": "/p", "config": {"apiToken": SECRETS["config"]}}
    )
    # Another program's trigger refuses a value: an unexpected driver error,
    # logged with its traceback (and with the SQL, but not its parameters).
    query(
        db_path,
        "CREATE TRIGGER refuse BEFORE INSERT ON settings "
        "WHEN new.value LIKE '%FAILING%' BEGIN SELECT RAISE(ABORT, 'refused'); END",
    )
    failing = daemon.call("settings/set", {"key": "f", "value": SECRETS["failing"]})
    assert failing["error"]["code"] == -32603
    answers = pipeline(
        daemon,
        [
            ("settings/set", {"key": "long", "value": SECRETS["too-long"] + "x" * 1024 * 1024}),
            (
                "settings/import",
                {
                    "version": "1.0",
                    "settings": [
                        {"key": "dup", "value": SECRETS["import"]},
                        {"key": "dup", "value": "again"},
                    ],
                },
            ),
        ],
    )
    assert [a["error"]["code"] for a in answers] == [-32602, -32602]
    # A notification with bad params is logged as ignored.
    daemon.notify("settings/set", {"key": "n", "value": {"nested": SECRETS["notification"]}})
    holder = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        busy = daemon.call("settings/set", {"key": "b", "value": SECRETS["busy"]})
        assert busy["error"]["code"] == -31001
    finally:
        holder.rollback()
        holder.close()
    assert daemon.stop() == 0
    assert b"Traceback" in daemon.stderr  # the log was written, errors and all

    url = f"postgresql://idumb:{SECRETS['password']}@127.0.0.1:9/idumb"
    remote = spawn("--database-url", url)
    assert remote.error("settings/get", {"key": "k"})["code"] == -31006
    assert SECRETS["password"] not in remote.result("daemon/status", {})["database"]
    assert remote.stop() == 0

    for wire in (daemon, remote):
        log = wire.stderr.decode()
        leaked = [name for name, secret in SECRETS.items() if secret in log]
        assert not leaked, f"{leaked} in the log:\n{log[-3000:]}"

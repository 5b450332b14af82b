"""`daemon/watch` end to end: daemons as real processes on one SQLite file,
and other programs writing it directly.

PROTOCOL.md promises a notification within 1 second of the commit; the waits
here are bounded more generously (BOUND) so a loaded CI machine does not fail
them, and absence is proven by a later marker write, never by waiting.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

from idumb_daemon.migrations import generate, migrate
from idumb_daemon.storage.database import Database
from tests.conftest import DaemonFactory
from tests.wire import REPO, Wire

BOUND = 5.0


def watcher(spawn: DaemonFactory) -> Wire:
    daemon = spawn()
    assert daemon.result("daemon/status")["watching"] is False
    assert daemon.result("daemon/watch", {})["watching"] is True
    assert daemon.result("daemon/status")["watching"] is True
    return daemon


def next_changes(daemon: Wire, method: str = "settings/didChange") -> list[dict[str, Any]]:
    """The changes of the next notification, which must be `method`, without
    their revisions (see `bare`) once these are checked: each one's at most the
    notification's, and growing."""
    message = daemon.notification(BOUND)
    assert message["method"] == method, message
    params = message["params"]
    changes: list[dict[str, Any]] = params["changes"]
    revisions = [change["revision"] for change in changes]
    assert revisions == sorted(revisions) and all(0 < r <= params["revision"] for r in revisions)
    assert params["resync"] is False
    return [bare(change) for change in changes]


def bare(row: dict[str, Any]) -> dict[str, Any]:
    """An entry, workspace or change without its revision (nor a user-layer
    setting's null projectDir): what the tests of watching compare."""
    out = {k: v for k, v in row.items() if k != "revision"}
    if "key" in out and out.get("projectDir", "") is None:
        del out["projectDir"]
    if isinstance(out.get("workspace"), dict):
        out["workspace"] = bare(out["workspace"])
    return out


def test_another_daemons_set_delete_and_workspace_config_are_notified(
    spawn: DaemonFactory,
) -> None:
    a = watcher(spawn)
    b = spawn()
    entry = b.result("settings/set", {"key": "editor.fontSize", "value": "14"})
    assert next_changes(a) == [bare(entry)]

    assert b.result("settings/delete", {"key": "editor.fontSize"}) == {"deleted": True}
    assert next_changes(a) == [{"key": "editor.fontSize", "value": None, "updatedAt": None}]

    workspace = b.result(
        "workspaceConfig/set", {"projectDir": "/home/u/proj", "name": "proj", "config": {"a": [1]}}
    )
    assert next_changes(a, "workspaceConfig/didChange") == [
        {"projectDir": "/home/u/proj", "workspace": bare(workspace)}
    ]
    opened = b.result("workspaceConfig/open", {"projectDir": "/home/u/proj"})
    assert next_changes(a, "workspaceConfig/didChange") == [
        {"projectDir": "/home/u/proj", "workspace": bare(opened)}
    ]
    b.result("workspaceConfig/delete", {"projectDir": "/home/u/proj"})
    assert next_changes(a, "workspaceConfig/didChange") == [
        {"projectDir": "/home/u/proj", "workspace": None}
    ]
    assert a.stop() == 0 and b.stop() == 0


def test_a_direct_write_by_another_program_is_notified(spawn: DaemonFactory, db_path: Path) -> None:
    a = watcher(spawn)
    # The TypeScript app (drizzle over better-sqlite3) writes the file as this does.
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES ('theme', 'dark', 1764115858)"
        )
    conn.close()
    assert next_changes(a) == [
        {"key": "theme", "value": "dark", "updatedAt": "2025-11-26T00:10:58Z"}
    ]
    assert a.stop() == 0


def test_own_writes_are_not_echoed(spawn: DaemonFactory) -> None:
    a = watcher(spawn)
    b = spawn()
    a.result("settings/set", {"key": "mine", "value": "1"})
    a.result(
        "settings/setMany", {"entries": [{"key": f"mine.{i}", "value": "x"} for i in range(5)]}
    )
    a.result("settings/delete", {"key": "mine.0"})
    a.result("workspaceConfig/open", {"projectDir": "/mine"})
    marker = b.result("settings/set", {"key": "marker", "value": "1"})
    # The first notification A gets is the marker's: nothing of its own came before.
    assert next_changes(a) == [bare(marker)]
    assert a.stop() == 0 and b.stop() == 0


def test_a_burst_of_1000_writes_arrives_complete(spawn: DaemonFactory) -> None:
    a = watcher(spawn)
    b = spawn()
    keys = [f"burst.{i}" for i in range(400)]
    # Pipelined, so B commits them in groups while A looks at the log.
    ids = [b.request("settings/set", {"key": k, "value": "v1"}) for k in keys]
    ids += [b.request("settings/set", {"key": k, "value": "v2"}) for k in keys]
    ids += [b.request("settings/delete", {"key": k}) for k in keys[:200]]
    assert len(ids) == 1000
    for msg_id in ids:
        assert "result" in b.response(msg_id)
    expected = {k: None for k in keys[:200]} | {k: "v2" for k in keys[200:]}
    seen: dict[str, str | None] = {}
    deadline = time.monotonic() + 30
    while any(seen.get(k, "absent") != v for k, v in expected.items()):
        assert time.monotonic() < deadline, "the burst did not arrive complete"
        for change in next_changes(a):
            seen[change["key"]] = change["value"]
    assert seen == expected
    assert a.stop() == 0 and b.stop() == 0


def test_watch_can_be_switched_off_and_on(spawn: DaemonFactory) -> None:
    a = watcher(spawn)
    b = spawn()
    assert a.result("daemon/watch", {"enabled": False})["watching"] is False
    assert a.result("daemon/status")["watching"] is False
    b.result("settings/set", {"key": "unseen", "value": "1"})
    assert a.result("daemon/watch", {"enabled": True})["watching"] is True
    assert a.result("daemon/watch")["watching"] is True  # params are optional
    marker = b.result("settings/set", {"key": "marker", "value": "1"})
    # Changes made while not watching are not replayed.
    assert next_changes(a) == [bare(marker)]
    assert a.stop() == 0 and b.stop() == 0


def test_a_watching_daemon_ends_cleanly(spawn: DaemonFactory) -> None:
    by_eof = watcher(spawn)
    by_eof.close_stdin()
    assert by_eof.wait(BOUND) == 0
    by_signal = watcher(spawn)
    by_signal.proc.send_signal(signal.SIGTERM)
    assert by_signal.wait(BOUND) == 0


def test_a_watch_survives_a_migration_by_another_process(
    spawn: DaemonFactory, db_path: Path, tmp_path: Path
) -> None:
    a = watcher(spawn)
    b = spawn()
    b.result("settings/set", {"key": "before", "value": "1"})
    assert next_changes(a)[0]["key"] == "before"

    # A newer release's schema: a nullable column added to settings.
    schema = tmp_path / "schema"
    shutil.copytree(REPO / "schema", schema)
    declared = json.loads((schema / "schema.json").read_text())
    declared["tables"]["settings"]["columns"].append({"name": "scope", "type": "text"})
    (schema / "schema.json").write_text(json.dumps(declared))
    generate("settings_scope", schema)
    database = Database("sqlite:///" + str(db_path))
    try:
        report = migrate(database, schema_dir=schema)
    finally:
        database.close()
    assert [ref.name for ref in report.applied] == ["settings_scope"]

    entry = b.result("settings/set", {"key": "after", "value": "2"})
    assert next_changes(a) == [bare(entry)]
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("INSERT INTO settings (key, value, scope) VALUES ('scoped', '3', 'user')")
    conn.close()
    assert next_changes(a) == [{"key": "scoped", "value": "3", "updatedAt": None}]
    assert a.stop() == 0 and b.stop() == 0


def test_a_notification_never_overtakes_a_newer_own_write(spawn: DaemonFactory) -> None:
    # A and B write one key in turns as fast as they can. Applying A's
    # messages in the order they arrive (responses to its own writes and
    # notifications of B's) must leave A's client with the stored value.
    a = watcher(spawn)
    b = spawn()
    b_ids = [b.request("settings/set", {"key": "k", "value": f"b{i}"}) for i in range(200)]
    a_ids = {a.request("settings/set", {"key": "k", "value": f"a{i}"}) for i in range(200)}
    for msg_id in b_ids:
        assert "result" in b.response(msg_id)
    b.result("settings/set", {"key": "marker", "value": "1"})
    view: str | None = None
    marker_seen = False
    while a_ids or not marker_seen:
        message = a.next_message(BOUND)
        if message.get("method") == "settings/didChange":
            for change in message["params"]["changes"]:
                if change["key"] == "k":
                    view = change["value"]
                marker_seen |= change["key"] == "marker"
        else:
            a_ids.remove(message["id"])
            view = message["result"]["value"]
    assert view == a.result("settings/get", {"key": "k"})["value"]
    assert a.stop() == 0 and b.stop() == 0


def test_a_database_restored_under_a_watcher_is_reported_as_it_now_is(
    spawn: DaemonFactory, db_path: Path, tmp_path: Path
) -> None:
    a = watcher(spawn)
    b = spawn()
    kept = b.result("settings/set", {"key": "kept", "value": "old"})
    assert next_changes(a) == [bare(kept)]
    backup = tmp_path / "backup.db"
    source, copy = sqlite3.connect(db_path), sqlite3.connect(backup)
    source.backup(copy)
    source.close()
    copy.close()
    later = b.result("settings/set", {"key": "later", "value": "new"})
    assert next_changes(a) == [bare(later)]
    # A restore tool puts the older file in place: its change log ends before
    # what the watcher has read, and nothing is written after it. A resync:
    # every row of the file, the client drops what it holds.
    os.replace(backup, db_path)
    for method, rows in (("settings/didChange", [kept]), ("workspaceConfig/didChange", [])):
        message = a.notification(BOUND)
        assert message["method"] == method
        assert message["params"]["resync"] is True
        assert message["params"]["revision"] == kept["revision"]
        assert message["params"]["changes"] == rows
    assert a.stop() == 0 and b.stop() == 0

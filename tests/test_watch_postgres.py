"""`daemon/watch` on PostgreSQL: two daemons and a plain client on one database
of the session's server, notified through LISTEN/NOTIFY."""

from __future__ import annotations

import psycopg

from tests.conftest import DaemonFactory
from tests.test_watch_e2e import bare, next_changes, watcher


def test_changes_by_another_daemon_and_a_plain_client_are_notified(
    spawn: DaemonFactory, pg_url: str
) -> None:
    a = watcher(lambda: spawn("--database-url", pg_url))
    b = spawn("--database-url", pg_url)
    a.result("settings/set", {"key": "own", "value": "1"})
    entry = b.result("settings/set", {"key": "theirs", "value": "1"})
    assert next_changes(a) == [bare(entry)]
    b.result("settings/delete", {"key": "theirs"})
    assert next_changes(a) == [{"key": "theirs", "value": None, "updatedAt": None}]
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO workspace_config (project_dir, name) VALUES ('/p', 'p')")
    assert next_changes(a, "workspaceConfig/didChange") == [
        {
            "projectDir": "/p",
            "workspace": {"projectDir": "/p", "name": "p", "lastOpened": None, "config": None},
        }
    ]
    assert a.stop() == 0 and b.stop() == 0

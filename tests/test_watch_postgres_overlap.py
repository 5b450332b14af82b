"""`daemon/watch` on PostgreSQL when another session's commit overlaps the
start of our own write (issue 14, item 8): every foreign commit is notified,
our own are never echoed.

The other session is a plain psycopg connection (another machine, for all the
daemon can tell) that has written through the change-log triggers and not yet
committed when the watching daemon begins its write; it commits only once the
daemon's write is seen waiting for the change log's lock.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from tests.conftest import DaemonFactory
from tests.test_watch_e2e import BOUND, bare, next_changes, watcher


def wait_for_a_lock_waiter(url: str, foreign_pid: int) -> None:
    """Until a session other than the foreign one waits for a lock."""
    deadline = time.monotonic() + BOUND
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> %s", (foreign_pid,)
            ).fetchone()
            if waiting is not None and waiting[0] > 0:
                return
            assert time.monotonic() < deadline, "the daemon's write never waited for the lock"
            time.sleep(0.01)


OWN_WRITES: list[tuple[str, dict[str, Any]]] = [
    ("settings/set", {"key": "mine", "value": "1"}),
    # Changes no row, yet its statement takes the change log's lock.
    ("settings/delete", {"key": "nothing-here"}),
    ("settings/setMany", {"entries": [{"key": f"mine.{i}", "value": "x"} for i in range(3)]}),
    ("workspaceConfig/open", {"projectDir": "/mine"}),
]


@pytest.mark.parametrize("method, params", OWN_WRITES, ids=[m for m, _ in OWN_WRITES])
@pytest.mark.parametrize("foreign_table", ["settings", "workspace_config"])
def test_a_foreign_commit_overlapping_our_write_is_notified(
    spawn: DaemonFactory,
    pg_url: str,
    method: str,
    params: dict[str, Any],
    foreign_table: str,
) -> None:
    a = watcher(lambda: spawn("--database-url", pg_url))
    b = spawn("--database-url", pg_url)
    with psycopg.connect(pg_url) as foreign:
        pid = foreign.info.backend_pid
        if foreign_table == "settings":
            foreign.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES ('theirs', 'v', 1764115858)"
            )
        else:
            foreign.execute("INSERT INTO workspace_config (project_dir) VALUES ('/theirs')")
        request = a.request(method, params)
        wait_for_a_lock_waiter(pg_url, pid)
        foreign.commit()
    assert "result" in a.response(request), a.response(request)
    marker = b.result("settings/set", {"key": "marker", "value": "1"})
    if foreign_table == "settings":
        # Theirs comes first, and nothing of ours before or with it.
        assert next_changes(a) == [
            {"key": "theirs", "value": "v", "updatedAt": "2025-11-26T00:10:58Z"}
        ]
    else:
        assert next_changes(a, "workspaceConfig/didChange") == [
            {
                "projectDir": "/theirs",
                "workspace": {
                    "projectDir": "/theirs",
                    "name": None,
                    "lastOpened": None,
                    "config": None,
                },
            }
        ]
    assert next_changes(a) == [bare(marker)]
    assert a.stop() == 0 and b.stop() == 0


def test_own_writes_in_a_group_commit_behind_a_foreign_one_are_not_echoed(
    spawn: DaemonFactory, pg_url: str
) -> None:
    a = watcher(lambda: spawn("--database-url", pg_url))
    b = spawn("--database-url", pg_url)
    with psycopg.connect(pg_url) as foreign:
        pid = foreign.info.backend_pid
        foreign.execute("INSERT INTO settings (key, value) VALUES ('theirs', 'v')")
        # Queued together: they share one transaction behind the foreign one.
        requests = [a.request("settings/set", {"key": f"mine.{i}", "value": "1"}) for i in range(5)]
        wait_for_a_lock_waiter(pg_url, pid)
        foreign.commit()
    for request in requests:
        assert "result" in a.response(request)
    marker = b.result("settings/set", {"key": "marker", "value": "1"})
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1] != bare(marker):
        seen.extend(next_changes(a))
    assert seen == [{"key": "theirs", "value": "v", "updatedAt": None}, bare(marker)]
    assert a.stop() == 0 and b.stop() == 0

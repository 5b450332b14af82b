"""Revisions end to end (issue 15): compare-and-set and the feed that resumes,
with daemons as real processes on SQLite and PostgreSQL, other programs writing
the database directly, and a watching daemon killed with SIGKILL.

Every wait is bounded (BOUND); absence is proven by a later write, never by
waiting.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import DaemonFactory
from tests.test_watch_e2e import BOUND
from tests.wire import Wire

CONFLICT = -31007
INVALID_PARAMS = -32602


def direct(url: str, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """One transaction of another program (the TypeScript app, a shell)."""
    if url.startswith("postgresql"):
        with psycopg.connect(url) as conn:
            for sql, params in statements:
                conn.execute(sql.replace("?", "%s"), params)
        return
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=15)
    try:
        with conn:
            for sql, params in statements:
                conn.execute(sql, params)
    finally:
        conn.close()


def conflict(response: dict[str, Any]) -> list[dict[str, Any]]:
    assert "error" in response, response
    error = response["error"]
    assert error["code"] == CONFLICT, error
    assert error["data"]["reason"] == "conflict"
    conflicts: list[dict[str, Any]] = error["data"]["conflicts"]
    return conflicts


# --- compare-and-set ------------------------------------------------------------------


def test_if_revision_sets_and_deletes_only_on_a_match(spawn_any: DaemonFactory) -> None:
    a = spawn_any()
    created = a.result("settings/set", {"key": "k", "value": "1", "ifRevision": 0})
    assert created["revision"] > 0 and created["projectDir"] is None
    assert a.result("daemon/status")["revision"] == created["revision"]
    # 0 means "only if absent": now it conflicts, with the current entry.
    again = a.call("settings/set", {"key": "k", "value": "2", "ifRevision": 0})
    assert conflict(again) == [{"key": "k", "current": created}]
    updated = a.result(
        "settings/set", {"key": "k", "value": "2", "ifRevision": created["revision"]}
    )
    assert updated["revision"] > created["revision"]
    stale = a.call("settings/set", {"key": "k", "value": "3", "ifRevision": created["revision"]})
    assert conflict(stale) == [{"key": "k", "current": updated}]
    assert a.result("settings/get", {"key": "k"}) == updated
    # An absent key conflicts with any N, with current null.
    assert conflict(a.call("settings/set", {"key": "new", "value": "1", "ifRevision": 5})) == [
        {"key": "new", "current": None}
    ]
    stale_delete = a.call("settings/delete", {"key": "k", "ifRevision": created["revision"]})
    assert conflict(stale_delete) == [{"key": "k", "current": updated}]
    assert a.result("settings/delete", {"key": "absent", "ifRevision": 0}) == {"deleted": False}
    assert conflict(a.call("settings/delete", {"key": "k", "ifRevision": 0})) == [
        {"key": "k", "current": updated}
    ]
    assert a.result("settings/delete", {"key": "k", "ifRevision": updated["revision"]}) == {
        "deleted": True
    }
    assert a.result("settings/get", {"key": "k"}) is None
    negative = a.error("settings/set", {"key": "k", "value": "1", "ifRevision": -1})
    assert negative["code"] == INVALID_PARAMS
    assert [e["path"] for e in negative["data"]["errors"]] == ["ifRevision"]
    assert a.stop() == 0


def test_set_many_is_all_or_nothing_and_lists_every_conflict(spawn_any: DaemonFactory) -> None:
    a = spawn_any()
    x = a.result("settings/set", {"key": "x", "value": "1"})
    y = a.result("settings/set", {"key": "y", "value": "1"})
    response = a.call(
        "settings/setMany",
        {
            "entries": [
                {"key": "x", "value": "2", "ifRevision": x["revision"]},
                {"key": "y", "value": "2", "ifRevision": 0},
                {"key": "z", "value": "2", "ifRevision": 1},
                {"key": "w", "value": "2"},
            ]
        },
    )
    assert conflict(response) == [
        {"key": "y", "current": y},
        {"key": "z", "current": None},
    ]
    assert [e["key"] for e in a.result("settings/getAll")] == ["x", "y"]
    assert a.result("settings/get", {"key": "x"}) == x
    written = a.result(
        "settings/setMany",
        {
            "entries": [
                {"key": "x", "value": "2", "ifRevision": x["revision"]},
                {"key": "z", "value": "2", "ifRevision": 0},
            ]
        },
    )
    # One commit of n rows takes n consecutive revisions.
    assert [e["revision"] for e in written] == [y["revision"] + 1, y["revision"] + 2]
    assert a.stop() == 0


def test_workspace_config_takes_if_revision(spawn_any: DaemonFactory) -> None:
    a = spawn_any()
    made = a.result("workspaceConfig/set", {"projectDir": "/p", "name": "p", "ifRevision": 0})
    again = a.call("workspaceConfig/set", {"projectDir": "/p", "name": "q", "ifRevision": 0})
    assert conflict(again) == [{"projectDir": "/p", "current": made}]
    opened = a.result("workspaceConfig/open", {"projectDir": "/p"})
    assert opened["revision"] > made["revision"]
    stale = a.call("workspaceConfig/delete", {"projectDir": "/p", "ifRevision": made["revision"]})
    assert conflict(stale) == [{"projectDir": "/p", "current": opened}]
    assert a.result(
        "workspaceConfig/delete", {"projectDir": "/p", "ifRevision": opened["revision"]}
    ) == {"deleted": True}
    assert a.result("workspaceConfig/delete", {"projectDir": "/p", "ifRevision": 0}) == {
        "deleted": False
    }
    assert a.stop() == 0


def test_a_foreign_write_moves_the_revision_and_fails_a_stale_compare_and_set(
    spawn_any: DaemonFactory, database_url: str
) -> None:
    a = spawn_any()
    read = a.result("settings/set", {"key": "k", "value": "ours"})
    direct(database_url, ("UPDATE settings SET value = 'theirs' WHERE key = ?", ("k",)))
    current = a.result("settings/get", {"key": "k"})
    assert (current["value"], current["revision"] > read["revision"]) == ("theirs", True)
    lost = a.call("settings/set", {"key": "k", "value": "mine", "ifRevision": read["revision"]})
    assert conflict(lost) == [{"key": "k", "current": current}]
    assert a.stop() == 0


def test_two_daemons_racing_a_compare_and_set_one_wins_every_time(
    spawn_any: DaemonFactory,
) -> None:
    a, b = spawn_any(), spawn_any()
    revision = a.result("settings/set", {"key": "race", "value": "start"})["revision"]
    for round_ in range(25):
        # Both requests are on their way before either answer is read.
        ids = [
            (
                daemon,
                daemon.request(
                    "settings/set",
                    {"key": "race", "value": f"{name}{round_}", "ifRevision": revision},
                ),
            )
            for daemon, name in ((a, "a"), (b, "b"))
        ]
        responses = [daemon.response(msg_id) for daemon, msg_id in ids]
        won = [r["result"] for r in responses if "result" in r]
        assert len(won) == 1, responses
        [lost] = [conflict(r) for r in responses if "error" in r]
        # The loser is told what it lost to: the winner's write.
        assert lost == [{"key": "race", "current": won[0]}]
        revision = won[0]["revision"]
    assert a.result("settings/get", {"key": "race"})["revision"] == revision
    assert a.stop() == 0 and b.stop() == 0


# --- the feed that resumes ------------------------------------------------------------


def notifications_until(daemon: Wire, revision: int) -> Iterator[dict[str, Any]]:
    """Notifications until one covers `revision` (bounded per message)."""
    while True:
        message = daemon.notification(BOUND)
        yield message
        if message["params"]["revision"] >= revision:
            return


def test_since_replays_every_change_after_it_own_ones_included(
    spawn_any: DaemonFactory, database_url: str
) -> None:
    a, b = spawn_any(), spawn_any()
    seen = a.result("settings/set", {"key": "before", "value": "1"})["revision"]
    own = a.result("settings/set", {"key": "own", "value": "1"})
    theirs = b.result("workspaceConfig/set", {"projectDir": "/w", "name": "w"})
    direct(database_url, ("DELETE FROM settings WHERE key = ?", ("before",)))
    top = b.result("daemon/status")["revision"]
    watched = a.result("daemon/watch", {"since": seen})
    assert watched == {"watching": True, "revision": top}
    messages = list(notifications_until(a, top))
    assert [m["method"] for m in messages] == [
        "settings/didChange",
        "workspaceConfig/didChange",
        "settings/didChange",
    ]
    assert [m["params"]["changes"] for m in messages] == [
        [own],
        [{"projectDir": "/w", "workspace": theirs, "revision": theirs["revision"]}],
        [{"key": "before", "value": None, "updatedAt": None, "revision": top, "projectDir": None}],
    ]
    assert all(m["params"]["resync"] is False for m in messages)
    # Then live, own writes not echoed: the next one is another writer's.
    a.result("settings/set", {"key": "own2", "value": "1"})
    marker = b.result("settings/set", {"key": "marker", "value": "1"})
    [message] = list(notifications_until(a, marker["revision"]))
    assert message["params"]["changes"] == [marker]
    assert a.stop() == 0 and b.stop() == 0


def test_since_is_only_with_watching_on(spawn_any: DaemonFactory) -> None:
    a = spawn_any()
    error = a.error("daemon/watch", {"enabled": False, "since": 3})
    assert error["code"] == INVALID_PARAMS
    assert [e["path"] for e in error["data"]["errors"]] == ["since"]
    assert a.stop() == 0


def test_since_beyond_the_history_is_a_resync(spawn_any: DaemonFactory) -> None:
    a = spawn_any()
    entry = a.result("settings/set", {"key": "k", "value": "1"})
    top = entry["revision"]
    assert a.result("daemon/watch", {"since": top + 100}) == {"watching": True, "revision": top}
    settings, workspaces = a.notification(BOUND), a.notification(BOUND)
    assert settings["params"] == {"changes": [entry], "revision": top, "resync": True}
    assert workspaces["method"] == "workspaceConfig/didChange"
    assert workspaces["params"] == {"changes": [], "revision": top, "resync": True}
    assert a.stop() == 0


def test_since_below_the_pruned_tombstones_is_a_resync(spawn: DaemonFactory, db_path: Any) -> None:
    a = spawn()
    kept = a.result("settings/set", {"key": "kept", "value": "1"})
    # More than 10,000 changes later the tombstones after `kept` are pruned.
    conn = sqlite3.connect(db_path)
    with conn:
        for i in range(6000):
            conn.execute("INSERT INTO settings (key, value) VALUES (?, 'x')", (f"gone{i}",))
            conn.execute("DELETE FROM settings WHERE key = ?", (f"gone{i}",))
    conn.close()
    top = a.result("daemon/status")["revision"]
    assert a.result("daemon/watch", {"since": kept["revision"]})["revision"] == top
    settings = a.notification(BOUND)
    assert settings["params"] == {"changes": [kept], "revision": top, "resync": True}
    # A reader still above the horizon replays instead.
    b = spawn()
    assert b.result("daemon/watch", {"since": top - 1})["revision"] == top
    [change] = b.notification(BOUND)["params"]["changes"]
    assert (change["key"], change["value"], change["revision"]) == ("gone5999", None, top)
    assert a.stop() == 0 and b.stop() == 0


class Model:
    """What a client holds: every row of each kind by its key, with revisions."""

    def __init__(self) -> None:
        self.settings: dict[str, tuple[str | None, int]] = {}
        self.workspaces: dict[str, tuple[str | None, int]] = {}
        self.highest = 0
        """The highest notification revision received: where to resume."""

    def take(self, message: dict[str, Any]) -> None:
        params = message["params"]
        rows = self.settings if message["method"] == "settings/didChange" else self.workspaces
        assert params["revision"] >= self.highest or params["resync"], (params, self.highest)
        if params["resync"]:
            rows.clear()
        for change in params["changes"]:
            if "key" in change:
                key, value = change["key"], change["value"]
            else:
                key = change["projectDir"]
                value = None if change["workspace"] is None else change["workspace"]["name"]
            self.own(rows, key, value, change["revision"])
        self.highest = max(self.highest, params["revision"])

    @staticmethod
    def own(rows: dict[str, tuple[str | None, int]], key: str, value: str | None, rev: int) -> None:
        if rows.get(key, (None, -1))[1] < rev:
            rows[key] = (value, rev)

    def state(self) -> tuple[dict[str, str | None], dict[str, str | None]]:
        return (
            {k: v for k, (v, _) in self.settings.items() if v is not None},
            {k: v for k, (v, _) in self.workspaces.items() if v is not None},
        )


@pytest.mark.parametrize("seed", [1, 2])
def test_nothing_after_since_is_skipped_across_writers_and_a_kill(
    spawn_any: DaemonFactory, database_url: str, seed: int
) -> None:
    """A seeded random schedule of writes by two daemons, the watching one and
    a direct writer; the watcher is killed with SIGKILL midway and a new one
    resumes from the highest revision it had received. The client's model,
    built from notifications (and its own writes' answers), ends equal to the
    database."""
    rng = random.Random(seed)
    b, c = spawn_any(), spawn_any()
    watcher = spawn_any()
    model = Model()
    assert watcher.result("daemon/watch", {"since": 0})["watching"] is True
    keys = [f"k{i}" for i in range(6)]
    dirs = [f"/p{i}" for i in range(3)]

    def drain(daemon: Wire) -> None:
        while daemon._notifications:
            model.take(daemon._notifications.pop(0))

    for step in range(60):
        if step == 30:
            drain(watcher)
            watcher.kill()  # SIGKILL: no goodbye, unread notifications are lost
            watcher = spawn_any()
            assert watcher.result("daemon/watch", {"since": model.highest})["watching"]
        writer = rng.choice(["b", "c", "direct", "own"])
        key, project, value = rng.choice(keys), rng.choice(dirs), str(step)
        kind = rng.choice(["set", "delete", "workspace", "unworkspace"])
        if writer == "own":
            # The client knows its own writes by their answers; a delete's
            # answer holds no revision, so its own writes here are upserts.
            kind = {"delete": "set", "unworkspace": "workspace"}.get(kind, kind)
        if writer == "direct":
            statement = {
                "set": (
                    "INSERT INTO settings (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                ),
                "delete": ("DELETE FROM settings WHERE key = ?", (key,)),
                "workspace": (
                    "INSERT INTO workspace_config (project_dir, name) VALUES (?, ?) "
                    "ON CONFLICT (project_dir) DO UPDATE SET name = excluded.name",
                    (project, value),
                ),
                "unworkspace": ("DELETE FROM workspace_config WHERE project_dir = ?", (project,)),
            }[kind]
            direct(database_url, statement)
            continue
        daemon = {"b": b, "c": c, "own": watcher}[writer]
        if kind == "set":
            entry = daemon.result("settings/set", {"key": key, "value": value})
            if writer == "own":
                model.own(model.settings, key, value, entry["revision"])
        elif kind == "workspace":
            ws = daemon.result("workspaceConfig/set", {"projectDir": project, "name": value})
            if writer == "own":
                model.own(model.workspaces, project, value, ws["revision"])
        elif kind == "delete":
            daemon.result("settings/delete", {"key": key})
        else:
            daemon.result("workspaceConfig/delete", {"projectDir": project})
        drain(watcher)
    # One last write by another daemon: once it is notified, all before it is.
    marker = b.result("settings/set", {"key": "marker", "value": "end"})
    for message in notifications_until(watcher, marker["revision"]):
        model.take(message)
    settings = {e["key"]: e["value"] for e in b.result("settings/getAll")}
    workspaces = {w["projectDir"]: w["name"] for w in b.result("workspaceConfig/list")}
    assert model.state() == (settings, workspaces)
    for daemon in (b, c, watcher):
        assert daemon.stop() == 0


# --- PostgreSQL -------------------------------------------------------------------------


def test_a_truncate_on_postgresql_is_a_resync(spawn: DaemonFactory, pg_url: str) -> None:
    a = spawn("--database-url", pg_url)
    a.result("workspaceConfig/set", {"projectDir": "/kept", "name": "kept"})
    a.result("settings/set", {"key": "doomed", "value": "1"})
    assert a.result("daemon/watch")["watching"] is True
    with psycopg.connect(pg_url) as conn:
        conn.execute("TRUNCATE settings")
    settings, workspaces = a.notification(BOUND), a.notification(BOUND)
    top = a.result("daemon/status")["revision"]
    assert settings["params"] == {"changes": [], "revision": top, "resync": True}
    [kept] = workspaces["params"]["changes"]
    assert (kept["projectDir"], workspaces["params"]["resync"]) == ("/kept", True)
    # The feed goes on from there.
    entry = a.result("settings/set", {"key": "after", "value": "1"})
    assert entry["revision"] > top
    assert a.stop() == 0

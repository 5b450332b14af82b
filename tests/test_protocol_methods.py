"""Every method of docs/protocol.md end to end over stdio, results checked against its shapes.

Most tests share one daemon (module scope) and keep to keys of their own; a test
that needs the whole table to itself starts its own daemon. The module runs on
each backend in turn: a SQLite file, then a database on the session's
PostgreSQL server (tests/pg.py).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import DaemonFactory
from tests.pg import run_sql
from tests.wire import Wire, frame

TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


@pytest.fixture(scope="module")
def shared_db(module_database_url: str) -> str:
    """The shared daemon's database URL (a SQLite file, then PostgreSQL)."""
    return module_database_url


@pytest.fixture
def empty(shared: Wire, shared_db: str) -> Wire:
    """The shared daemon with both tables emptied behind its back, as another
    program writing the database would: cheaper than a daemon of its own."""
    run_sql(shared_db, "DELETE FROM settings")
    run_sql(shared_db, "DELETE FROM workspace_config")
    return shared


def wire_time(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def recent(stamp: str, since: float) -> bool:
    """`stamp` is a wire time no earlier than `since` and no later than now."""
    assert TIME.fullmatch(stamp), stamp
    return wire_time(since) <= stamp <= wire_time(time.time())


def entry_shape(entry: dict[str, Any]) -> None:
    assert set(entry) == {"key", "value", "updatedAt", "revision", "projectDir"}
    assert isinstance(entry["key"], str) and isinstance(entry["value"], str)
    assert type(entry["revision"]) is int and entry["revision"] > 0
    assert entry["projectDir"] is None
    assert entry["updatedAt"] is None or TIME.fullmatch(entry["updatedAt"])


def workspace_shape(ws: dict[str, Any]) -> None:
    assert set(ws) == {"projectDir", "name", "lastOpened", "config", "revision"}
    assert type(ws["revision"]) is int and ws["revision"] > 0
    assert ws["lastOpened"] is None or TIME.fullmatch(ws["lastOpened"])


# --- settings ------------------------------------------------------------------------


def test_set_get_delete(shared: Wire) -> None:
    start = time.time()
    entry = shared.result("settings/set", {"key": "m.sgd", "value": "one"})
    entry_shape(entry)
    assert entry["key"] == "m.sgd" and entry["value"] == "one"
    assert recent(entry["updatedAt"], start)
    assert shared.result("settings/get", {"key": "m.sgd"}) == entry

    updated = shared.result("settings/set", {"key": "m.sgd", "value": "two"})
    assert updated["value"] == "two"
    assert shared.result("settings/get", {"key": "m.sgd"}) == updated

    assert shared.result("settings/delete", {"key": "m.sgd"}) == {"deleted": True}
    assert shared.result("settings/delete", {"key": "m.sgd"}) == {"deleted": False}
    assert shared.result("settings/get", {"key": "m.sgd"}) is None


@pytest.mark.parametrize(
    "key",
    ["a.b-c", "class", "from", "def", "None", "__init__", "x y", "1st", "é/中/😀", "{}", "a" * 512],
)
def test_awkward_keys_round_trip(shared: Wire, key: str) -> None:
    # pygls' namedtuple fallback renames fields that are keywords or hold dots.
    value = f"value of {key}"
    assert shared.result("settings/set", {"key": key, "value": value})["key"] == key
    assert shared.result("settings/get", {"key": key})["value"] == value
    [listed] = shared.result("settings/getAll", {"prefix": key})
    assert listed["key"] == key


def test_value_is_kept_exactly(shared: Wire, shared_db: str) -> None:
    value = ' \t\n"\\ {"json": [1, 2]} é 中 😀 \u2028 '
    shared.result("settings/set", {"key": "m.exact", "value": value})
    assert shared.result("settings/get", {"key": "m.exact"})["value"] == value
    with_nul = value + "\x00"
    if shared_db.startswith("postgresql"):
        # PostgreSQL's text refuses U+0000: a clear -32602, the daemon goes on.
        error = shared.error("settings/set", {"key": "m.exact", "value": with_nul})
        assert error["code"] == -32602 and "U+0000" in error["message"]
        assert shared.result("settings/get", {"key": "m.exact"})["value"] == value
    else:
        shared.result("settings/set", {"key": "m.exact", "value": with_nul})
        assert shared.result("settings/get", {"key": "m.exact"})["value"] == with_nul


def test_get_all_prefix_is_literal_and_case_sensitive(shared: Wire) -> None:
    keys = ["lit/p%x", "lit/pax", "lit/p_y", "lit/pby", "lit/P%x", "lit/p\\z", "lit/pz"]
    shared.result("settings/setMany", {"entries": [{"key": k, "value": k} for k in keys]})

    def listed(prefix: str) -> list[str]:
        return [e["key"] for e in shared.result("settings/getAll", {"prefix": prefix})]

    assert listed("lit/p%") == ["lit/p%x"]
    assert listed("lit/p_") == ["lit/p_y"]
    assert listed("lit/p\\") == ["lit/p\\z"]
    assert listed("lit/P") == ["lit/P%x"]
    assert listed("lit/p") == sorted(k for k in keys if k.startswith("lit/p"))
    assert listed("lit/q") == []


def test_get_all_code_point_order_cursor_and_limit(shared: Wire) -> None:
    # U+FF5E sorts before U+1F600 by code point, after it in UTF-16 units.
    suffixes = ["b", "B", "a", "ab", "é", "中", "\uff5e", "😀", "\U0010fffd", "~", "a\x7e"]
    entries = [{"key": "ord/" + s, "value": s} for s in suffixes]
    stored = shared.result("settings/setMany", {"entries": entries})
    assert [e["key"] for e in stored] == [e["key"] for e in entries]  # input order

    everything = shared.result("settings/getAll", {"prefix": "ord/"})
    for entry in everything:
        entry_shape(entry)
    keys = [e["key"] for e in everything]
    assert keys == sorted(e["key"] for e in entries)
    assert keys.index("ord/\uff5e") < keys.index("ord/😀") < keys.index("ord/\U0010fffd")

    assert shared.result("settings/getAll", {"prefix": "ord/", "limit": 3}) == everything[:3]
    after = shared.result("settings/getAll", {"prefix": "ord/", "after": keys[2], "limit": 3})
    assert after == everything[3:6]
    assert shared.result("settings/getAll", {"prefix": "ord/", "after": "ord/中"}) == [
        e for e in everything if e["key"] > "ord/中"
    ]
    assert shared.result("settings/getAll", {"prefix": "ord/", "after": keys[-1]}) == []
    # Paging with the cursor visits every key once.
    paged: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"prefix": "ord/", "limit": 4}
        if cursor is not None:
            params["after"] = cursor
        page = shared.result("settings/getAll", params)
        if not page:
            break
        paged += [e["key"] for e in page]
        cursor = page[-1]["key"]
    assert paged == keys


def test_get_all_without_params_lists_everything(empty: Wire) -> None:
    daemon = empty
    assert daemon.result("settings/getAll") == []
    assert daemon.result("settings/getAll", {}) == []
    daemon.result(
        "settings/setMany", {"entries": [{"key": "z", "value": "1"}, {"key": "a", "value": "2"}]}
    )
    assert [e["key"] for e in daemon.result("settings/getAll")] == ["a", "z"]
    assert [e["key"] for e in daemon.result("settings/getAll", {"limit": 1})] == ["a"]
    # An optional param given as null is refused (PROTOCOL.md v2), not taken as absent.
    for field in ("prefix", "after", "limit"):
        assert daemon.error("settings/getAll", {field: None})["code"] == -32602


def test_set_many_results_in_input_order(shared: Wire) -> None:
    start = time.time()
    entries = [{"key": f"many/{k}", "value": f"v{k}"} for k in ("c", "a", "b")]
    result = shared.result("settings/setMany", {"entries": entries})
    assert [(e["key"], e["value"]) for e in result] == [(e["key"], e["value"]) for e in entries]
    for entry in result:
        entry_shape(entry)
        assert recent(entry["updatedAt"], start)
    assert shared.result("settings/getAll", {"prefix": "many/"}) == sorted(
        result, key=lambda e: e["key"]
    )


def test_set_many_is_all_or_nothing(shared: Wire) -> None:
    shared.result("settings/set", {"key": "aon/0", "value": "old"})
    entries: list[dict[str, Any]] = [{"key": f"aon/{i}", "value": "new"} for i in range(5)]
    entries[3] = {"key": "aon/3", "value": 3}
    error = shared.error("settings/setMany", {"entries": entries})
    assert error["code"] == -32602
    assert [e["path"] for e in error["data"]["errors"]] == ["entries.3.value"]
    assert [e["value"] for e in shared.result("settings/getAll", {"prefix": "aon/"})] == ["old"]

    entries[3] = {"key": "aon/0", "value": "dup"}
    error = shared.error("settings/setMany", {"entries": entries})
    assert error["code"] == -32602
    assert [e["path"] for e in error["data"]["errors"]] == ["entries.3.key"]
    assert [e["value"] for e in shared.result("settings/getAll", {"prefix": "aon/"})] == ["old"]


def test_export_shape(empty: Wire) -> None:
    daemon = empty
    start = time.time()
    nothing = daemon.result("settings/export", {})
    assert set(nothing) == {"version", "exportedAt", "settings"}
    assert nothing["version"] == "1.0" and nothing["settings"] == []
    assert recent(nothing["exportedAt"], start)
    assert daemon.result("settings/export")["settings"] == []  # params may be omitted

    daemon.result(
        "settings/setMany",
        {
            "entries": [
                {"key": "b", "value": "2"},
                {"key": "a", "value": "1"},
                {"key": "😀", "value": "3"},
            ]
        },
    )
    export = daemon.result("settings/export", {})
    assert export["settings"] == [
        {"key": "a", "value": "1"},
        {"key": "b", "value": "2"},
        {"key": "😀", "value": "3"},
    ]


def test_import_added_changed_removed_and_unchanged_keeps_updated_at(
    empty: Wire, shared_db: str
) -> None:
    daemon, db_url = empty, shared_db
    daemon.result(
        "settings/setMany",
        {
            "entries": [
                {"key": "same", "value": "s"},
                {"key": "edit", "value": "old"},
                {"key": "gone", "value": "g"},
            ]
        },
    )
    # Date the stored rows far back, so "kept its updatedAt" is visible.
    run_sql(db_url, "UPDATE settings SET updated_at = 1000")
    old = wire_time(1000)
    document: dict[str, Any] = {
        "version": "1.0",
        "exportedAt": "2026-01-02T03:04:05Z",
        "settings": [
            {"key": "same", "value": "s"},
            {"key": "edit", "value": "new"},
            {"key": "fresh", "value": "f"},
        ],
    }

    dry = daemon.result("settings/import", {**document, "replace": True, "dryRun": True})
    assert dry == {"imported": 3, "added": ["fresh"], "changed": ["edit"], "removed": ["gone"]}
    assert run_sql(db_url, "SELECT key, value, updated_at FROM settings ORDER BY key") == [
        ("edit", "old", 1000),
        ("gone", "g", 1000),
        ("same", "s", 1000),
    ]

    start = time.time()
    merged = daemon.result("settings/import", document)
    assert merged == {"imported": 3, "added": ["fresh"], "changed": ["edit"], "removed": []}
    by_key = {e["key"]: e for e in daemon.result("settings/getAll")}
    assert {k: by_key["same"][k] for k in ("key", "value", "updatedAt")} == {
        "key": "same",
        "value": "s",
        "updatedAt": old,
    }
    # An entry left unchanged is no change: it keeps its revision.
    assert by_key["same"]["revision"] < by_key["edit"]["revision"]
    assert by_key["gone"]["updatedAt"] == old
    assert by_key["edit"]["value"] == "new" and recent(by_key["edit"]["updatedAt"], start)
    assert recent(by_key["fresh"]["updatedAt"], start)

    replaced = daemon.result("settings/import", {**document, "replace": True})
    assert replaced == {"imported": 3, "added": [], "changed": [], "removed": ["gone"]}
    assert sorted(by_key) == ["edit", "fresh", "gone", "same"]
    assert [e["key"] for e in daemon.result("settings/getAll")] == ["edit", "fresh", "same"]
    assert daemon.result("settings/get", {"key": "same"})["updatedAt"] == old

    # What export writes, import reads back as "nothing to do".
    export = daemon.result("settings/export")
    assert daemon.result("settings/import", export) == {
        "imported": 3,
        "added": [],
        "changed": [],
        "removed": [],
    }
    # An empty file with replace empties the table; exportedAt may be left out.
    emptied = daemon.result("settings/import", {"version": "1.0", "settings": [], "replace": True})
    assert emptied == {
        "imported": 0,
        "added": [],
        "changed": [],
        "removed": ["edit", "fresh", "same"],
    }
    assert daemon.result("settings/getAll") == []


def test_import_refuses_other_versions_and_writes_nothing(shared: Wire) -> None:
    for version in ("2.0", "1", "1.0.0", ""):
        error = shared.error(
            "settings/import", {"version": version, "settings": [{"key": "imp/v", "value": "x"}]}
        )
        assert error["code"] == -32602
        assert [e["path"] for e in error["data"]["errors"]] == ["version"]
    error = shared.error("settings/import", {"version": 1.0, "settings": []})
    assert [e["path"] for e in error["data"]["errors"]] == ["version"]
    assert shared.result("settings/get", {"key": "imp/v"}) is None


def test_import_duplicate_key_and_bad_entry_write_nothing(shared: Wire) -> None:
    settings: list[dict[str, Any]] = [
        {"key": "imp/a", "value": "1"},
        {"key": "imp/b", "value": "2"},
        {"key": "imp/a", "value": "3"},
    ]
    error = shared.error("settings/import", {"version": "1.0", "settings": settings})
    assert error["code"] == -32602
    assert [e["path"] for e in error["data"]["errors"]] == ["settings.2.key"]
    settings[2] = {"key": "imp/c", "value": "3", "extra": True}
    error = shared.error("settings/import", {"version": "1.0", "settings": settings})
    assert [e["path"] for e in error["data"]["errors"]] == ["settings.2.extra"]
    assert shared.result("settings/getAll", {"prefix": "imp/"}) == []


# --- workspaceConfig -----------------------------------------------------------------


def test_workspace_set_get_open_delete(shared: Wire) -> None:
    d = "/ws/basic"
    assert shared.result("workspaceConfig/get", {"projectDir": d}) is None

    created = shared.result("workspaceConfig/set", {"projectDir": d, "name": "Basic"})
    workspace_shape(created)
    assert created == {
        "projectDir": d,
        "name": "Basic",
        "lastOpened": None,
        "config": None,
        "revision": created["revision"],
    }

    # Keys pygls' namedtuple path would rename or refuse: they must come back as sent.
    config = {
        "theme": "dark",
        "nested": {"list": [1, 2.5, True, None, "é"], "from": {}},
        "class": 1,
        "a.b-c": "x",
        "": "empty",
        "_": [],
        "1x": -0.5,
    }
    with_config = shared.result("workspaceConfig/set", {"projectDir": d, "config": config})
    # The omitted name is kept; each write is a change with a later revision.
    assert with_config == {**created, "config": config, "revision": created["revision"] + 1}

    renamed = shared.result("workspaceConfig/set", {"projectDir": d, "name": "Renamed"})
    assert renamed == {**with_config, "name": "Renamed", "revision": with_config["revision"] + 1}
    # Even a write of nothing new is a change (as storing the same value is).
    assert shared.result("workspaceConfig/set", {"projectDir": d}) == {
        **renamed,
        "revision": renamed["revision"] + 1,
    }

    start = time.time()
    opened = shared.result("workspaceConfig/open", {"projectDir": d})
    workspace_shape(opened)
    assert opened["name"] == "Renamed" and opened["config"] == config
    assert recent(opened["lastOpened"], start)
    assert shared.result("workspaceConfig/get", {"projectDir": d}) == opened

    cleared = shared.result("workspaceConfig/set", {"projectDir": d, "name": None})
    assert cleared == {**opened, "name": None, "revision": opened["revision"] + 1}
    cleared = shared.result("workspaceConfig/set", {"projectDir": d, "config": None})
    assert cleared == {**opened, "name": None, "config": None, "revision": opened["revision"] + 2}
    assert cleared["lastOpened"] == opened["lastOpened"]

    assert shared.result("workspaceConfig/delete", {"projectDir": d}) == {"deleted": True}
    assert shared.result("workspaceConfig/delete", {"projectDir": d}) == {"deleted": False}
    assert shared.result("workspaceConfig/get", {"projectDir": d}) is None


def test_workspace_open_creates(shared: Wire) -> None:
    start = time.time()
    opened = shared.result("workspaceConfig/open", {"projectDir": "/ws/opened-first"})
    assert opened["projectDir"] == "/ws/opened-first"
    assert opened["name"] is None and opened["config"] is None
    assert recent(opened["lastOpened"], start)


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("/a//b/./c/../d/", "/a/b/d"),
        ("//ws/x", "/ws/x"),
        ("///ws/x///", "/ws/x"),
        ("/..", "/"),
        ("/../../ws", "/ws"),
        ("/", "/"),
        ("/.", "/"),
        ("/ws/é 中/😀/.", "/ws/é 中/😀"),
        ("/ws/a.b/..c/...", "/ws/a.b/..c/..."),
    ],
)
def test_project_dir_is_normalised_everywhere(shared: Wire, given: str, normal: str) -> None:
    assert (
        shared.result("workspaceConfig/set", {"projectDir": given, "name": "n"})["projectDir"]
        == normal
    )
    assert shared.result("workspaceConfig/get", {"projectDir": normal})["name"] == "n"
    assert shared.result("workspaceConfig/get", {"projectDir": given})["projectDir"] == normal
    assert shared.result("workspaceConfig/open", {"projectDir": given})["projectDir"] == normal
    assert shared.result("workspaceConfig/delete", {"projectDir": given}) == {"deleted": True}
    assert shared.result("workspaceConfig/get", {"projectDir": normal}) is None


def test_workspace_list_order(empty: Wire, shared_db: str) -> None:
    daemon, db_url = empty, shared_db
    assert daemon.result("workspaceConfig/list") == []
    for d in ("/w/a", "/w/b", "/w/c", "/w/d", "/w/e", "/w/f"):
        daemon.result("workspaceConfig/set", {"projectDir": d})
    # Distinct opening times without waiting: date them as another writer would.
    opened = {"/w/a": 1000, "/w/b": 3000, "/w/c": 2000, "/w/f": 3000}
    for d, seconds in opened.items():
        run_sql(
            db_url, "UPDATE workspace_config SET last_opened = ? WHERE project_dir = ?", seconds, d
        )
    expected = ["/w/b", "/w/f", "/w/c", "/w/a", "/w/d", "/w/e"]
    listed = daemon.result("workspaceConfig/list", {})
    for ws in listed:
        workspace_shape(ws)
    assert [w["projectDir"] for w in listed] == expected
    assert [w["lastOpened"] for w in listed[:4]] == [wire_time(s) for s in (3000, 3000, 2000, 1000)]

    daemon.result("workspaceConfig/open", {"projectDir": "/w/e"})
    listed = daemon.result("workspaceConfig/list", {"limit": 1000})
    assert [w["projectDir"] for w in listed] == ["/w/e", *expected[:-1]]
    assert [w["projectDir"] for w in daemon.result("workspaceConfig/list", {"limit": 2})] == [
        "/w/e",
        "/w/b",
    ]


def test_workspace_list_default_limit_is_50(empty: Wire) -> None:
    daemon = empty
    for i in range(51):
        daemon.result("workspaceConfig/set", {"projectDir": f"/many/{i:02d}"})
    listed = daemon.result("workspaceConfig/list")
    assert [w["projectDir"] for w in listed] == [f"/many/{i:02d}" for i in range(50)]
    assert len(daemon.result("workspaceConfig/list", {"limit": 51})) == 51


# --- daemon --------------------------------------------------------------------------


def test_status_shape(shared: Wire, shared_db: str) -> None:
    shared.result("settings/get", {"key": "m.status"})  # storage is open by now
    status = shared.result("daemon/status", {})
    assert set(status) == {
        "version",
        "protocolVersion",
        "schemaVersion",
        "backend",
        "database",
        "watching",
        "recovered",
        "revision",
    }
    assert status["protocolVersion"] == 2
    assert isinstance(status["version"], str) and status["version"]
    assert isinstance(status["schemaVersion"], int) and status["schemaVersion"] >= 1
    assert status["backend"] == shared_db.partition(":")[0]
    assert status["database"] == shared_db  # no password in it to hide
    assert status["watching"] is False
    assert status["recovered"] is None
    assert type(status["revision"]) is int and status["revision"] >= 0
    assert shared.result("daemon/status") == status  # params may be omitted


def test_status_never_shows_a_password(spawn: DaemonFactory) -> None:
    # Nothing listens on port 9; the daemon answers status all the same.
    daemon = spawn("--database-url", "postgresql://user:hunter2@127.0.0.1:9/db")
    status = daemon.result("daemon/status")
    assert status["backend"] == "postgresql"
    assert "hunter2" not in status["database"] and "user" in status["database"]
    error = daemon.error("settings/get", {"key": "k"})
    assert error["code"] == -31006 and error["data"] == {"reason": "unavailable"}
    assert "hunter2" not in error["message"]
    assert daemon.stop() == 0
    assert b"hunter2" not in daemon.stderr


def test_watch_answers_with_watching(shared: Wire) -> None:
    for params in ({}, None, {"enabled": True}, {"enabled": False}):
        result = shared.result("daemon/watch", params)
        assert set(result) == {"watching", "revision"} and isinstance(result["watching"], bool)
        assert result["revision"] == shared.result("daemon/status")["revision"]
    assert shared.result("daemon/watch", {"enabled": False})["watching"] is False
    assert shared.result("daemon/status")["watching"] is False


def test_initialize_capabilities(shared: Wire) -> None:
    result = shared.result("initialize", {"processId": None, "capabilities": {}})
    assert set(result) == {"capabilities", "serverInfo"}
    idumb = result["capabilities"]["experimental"]["idumb"]
    assert idumb["protocolVersion"] == 2
    assert set(idumb["methods"]) >= {
        "settings/get",
        "settings/set",
        "settings/delete",
        "settings/getAll",
        "settings/setMany",
        "settings/export",
        "settings/import",
        "workspaceConfig/get",
        "workspaceConfig/set",
        "workspaceConfig/open",
        "workspaceConfig/list",
        "workspaceConfig/delete",
        "daemon/status",
        "daemon/watch",
    }
    assert set(idumb["notifications"]) == {"settings/didChange", "workspaceConfig/didChange"}
    assert result["serverInfo"]["name"] == "idumb-daemon"
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+.*", result["serverInfo"]["version"])
    assert shared.result("daemon/status")["version"] == result["serverInfo"]["version"]


def test_pipelined_requests_keep_their_order_of_effect(shared: Wire) -> None:
    messages = []
    for i in range(200):
        messages.append(
            {
                "jsonrpc": "2.0",
                "id": f"set-{i}",
                "method": "settings/set",
                "params": {"key": "m.pipe", "value": f"v{i}"},
            }
        )
        messages.append(
            {
                "jsonrpc": "2.0",
                "id": f"get-{i}",
                "method": "settings/get",
                "params": {"key": "m.pipe"},
            }
        )
    shared.send_raw(b"".join(frame(m) for m in messages))
    for i in range(200):
        assert shared.response(f"set-{i}")["result"]["value"] == f"v{i}"
        assert shared.response(f"get-{i}")["result"]["value"] == f"v{i}"

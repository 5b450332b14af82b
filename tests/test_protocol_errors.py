"""Limits at their edges and every error code reachable from input, with its `data`.

The daemon-backed tests run on each backend in turn (a SQLite file, then a
PostgreSQL database); the one that holds SQLite's write lock is SQLite's alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from idumb_daemon.contracts import SettingsGetParams
from idumb_daemon.protocol.server import IdumbServer, open_storage
from idumb_daemon.storage.database import sqlite_path
from tests.conftest import DaemonFactory
from tests.pg import run_sql
from tests.wire import Wire, frame, parse_frames

MIB = 1_048_576


def invalid(wire: Wire, method: str, params: Any) -> list[tuple[str, str]]:
    """Assert a -32602 and return its (path, message) pairs."""
    error = wire.error(method, params)
    assert error["code"] == -32602, error
    assert set(error["data"]) == {"errors"}
    assert error["message"]
    pairs = [(e["path"], e["message"]) for e in error["data"]["errors"]]
    for e in error["data"]["errors"]:
        assert set(e) == {"path", "message"} and e["message"]
    return pairs


def paths(wire: Wire, method: str, params: Any) -> list[str]:
    return [path for path, _ in invalid(wire, method, params)]


# --- limits --------------------------------------------------------------------------


def test_key_length_counts_code_points(shared: Wire) -> None:
    for key in ("k" * 512, "😀" * 512, "é" * 512):
        assert shared.result("settings/set", {"key": key, "value": "v"})["key"] == key
        assert shared.result("settings/get", {"key": key})["value"] == "v"
    for key in ("k" * 513, "😀" * 513):
        for method, params in (
            ("settings/set", {"key": key, "value": "v"}),
            ("settings/get", {"key": key}),
            ("settings/delete", {"key": key}),
            (
                "settings/setMany",
                {"entries": [{"key": "ok", "value": "v"}, {"key": key, "value": "v"}]},
            ),
            ("settings/import", {"version": "1.0", "settings": [{"key": key, "value": "v"}]}),
        ):
            assert paths(shared, method, params) in (["key"], ["entries.1.key"], ["settings.0.key"])
    assert shared.result("settings/get", {"key": "ok"}) is None


@pytest.mark.parametrize("key", ["", "a\x00b", "tab\there", "\x1f", "del\x7f", "nl\n"])
def test_empty_key_and_control_characters_are_refused(shared: Wire, key: str) -> None:
    assert paths(shared, "settings/set", {"key": key, "value": "v"}) == ["key"]


def test_value_limit_is_bytes_of_utf8(shared: Wire) -> None:
    for value in ("x" * MIB, "é" * (MIB // 2), "😀" * (MIB // 4)):
        shared.result("settings/set", {"key": "lim.value", "value": value})
        assert shared.result("settings/get", {"key": "lim.value"})["value"] == value
    for value in ("x" * (MIB + 1), "é" * (MIB // 2) + "x", "x" + "😀" * (MIB // 4)):
        assert paths(shared, "settings/set", {"key": "lim.value2", "value": value}) == ["value"]
        assert paths(
            shared, "settings/setMany", {"entries": [{"key": "lim.value2", "value": value}]}
        ) == ["entries.0.value"]
    assert shared.result("settings/get", {"key": "lim.value2"}) is None


def test_config_limit_is_compact_json_bytes(shared: Wire) -> None:
    room = MIB - len('{"k":""}')
    d = "/lim/config"
    at_limit = {"k": "x" * room}
    stored = shared.result("workspaceConfig/set", {"projectDir": d, "config": at_limit})
    assert stored["config"] == at_limit
    for over in ({"k": "x" * (room + 1)}, {"k": "é" * (room // 2) + "x"}):
        assert paths(shared, "workspaceConfig/set", {"projectDir": d, "config": over}) == ["config"]
    assert shared.result("workspaceConfig/get", {"projectDir": d})["config"] == at_limit


def test_project_dir_limit_is_code_points_as_given(shared: Wire) -> None:
    longest = "/" + "d" * 4095
    assert shared.result("workspaceConfig/open", {"projectDir": longest})["projectDir"] == longest
    longest_astral = "/" + "😀" * 4095
    assert (
        shared.result("workspaceConfig/set", {"projectDir": longest_astral})["projectDir"]
        == longest_astral
    )
    # 4097 code points as given, although it would normalise to 4096.
    for too_long in ("/" + "d" * 4096, "/" + "d" * 4095 + "/"):
        for method in (
            "workspaceConfig/get",
            "workspaceConfig/set",
            "workspaceConfig/open",
            "workspaceConfig/delete",
        ):
            assert paths(shared, method, {"projectDir": too_long}) == ["projectDir"]


@pytest.mark.parametrize("project_dir", ["", "relative/dir", "./x", "~/x", "a/../b", "/nul\x00"])
def test_project_dir_must_be_absolute(shared: Wire, project_dir: str) -> None:
    assert paths(shared, "workspaceConfig/set", {"projectDir": project_dir}) == ["projectDir"]


def test_get_all_limit(shared: Wire) -> None:
    shared.result("settings/getAll", {"prefix": "lim.none/", "limit": 10000})
    shared.result("settings/getAll", {"prefix": "lim.none/", "limit": 1})
    for limit in (10001, 0, -1, True, "5", 5.5):
        assert paths(shared, "settings/getAll", {"limit": limit}) == ["limit"]


def test_workspace_list_limit(shared: Wire) -> None:
    shared.result("workspaceConfig/list", {"limit": 1000})
    for limit in (1001, 0, False, "50"):
        assert paths(shared, "workspaceConfig/list", {"limit": limit}) == ["limit"]


def test_set_many_entry_count_and_duplicates(shared: Wire) -> None:
    entries = [{"key": f"lim.many/{i:05d}", "value": str(i)} for i in range(10001)]
    assert paths(shared, "settings/setMany", {"entries": entries}) == ["entries"]
    assert paths(shared, "settings/setMany", {"entries": []}) == ["entries"]
    assert shared.result("settings/getAll", {"prefix": "lim.many/", "limit": 1}) == []

    stored = shared.result("settings/setMany", {"entries": entries[:10000]})
    assert len(stored) == 10000 and stored[-1]["key"] == "lim.many/09999"
    assert len(shared.result("settings/getAll", {"prefix": "lim.many/"})) == 10000

    dup = [{"key": k, "value": "v"} for k in ("lim.dup/a", "lim.dup/b", "lim.dup/c", "lim.dup/a")]
    assert paths(shared, "settings/setMany", {"entries": dup}) == ["entries.3.key"]
    assert shared.result("settings/getAll", {"prefix": "lim.dup/"}) == []


def test_import_entry_count(shared: Wire) -> None:
    entries = [{"key": f"lim.imp/{i:06d}", "value": "v"} for i in range(100001)]
    assert paths(shared, "settings/import", {"version": "1.0", "settings": entries}) == ["settings"]
    report = shared.result(
        "settings/import", {"version": "1.0", "settings": entries[:100000], "dryRun": True}
    )
    assert report["imported"] == 100000 and len(report["added"]) == 100000
    assert shared.result("settings/getAll", {"prefix": "lim.imp/", "limit": 1}) == []


@pytest.mark.parametrize(
    ("method", "params", "path"),
    [
        ("settings/set", {"key": "\ud800", "value": "v"}, "key"),
        ("settings/set", {"key": "k", "value": "a\udfffb"}, "value"),
        ("settings/getAll", {"prefix": "\udc00"}, "prefix"),
        ("settings/getAll", {"after": "\ud83d"}, "after"),
        ("workspaceConfig/set", {"projectDir": "/\ud800"}, "projectDir"),
        ("workspaceConfig/set", {"projectDir": "/x", "name": "\ud800"}, "name"),
        (
            "workspaceConfig/set",
            {"projectDir": "/x", "config": {"a": ["ok", "\ud800"]}},
            "config.a.1",
        ),
    ],
)
def test_lone_surrogates_are_refused(shared: Wire, method: str, params: Any, path: str) -> None:
    # json.dumps writes lone surrogates as \\uXXXX escapes, as a buggy client would.
    assert paths(shared, method, params) == [path]


# --- -32602: types, unknown fields, no coercion ---------------------------------------


def test_no_coercion(shared: Wire) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("settings/set", {"key": ["a"], "value": "v"}, "key"),
        ("settings/set", {"key": "lim.coerce", "value": [1]}, "value"),
        ("settings/set", {"key": "lim.coerce", "value": 1}, "value"),
        ("settings/set", {"key": "lim.coerce", "value": None}, "value"),
        ("settings/set", {"key": "lim.coerce", "value": True}, "value"),
        ("settings/set", {"key": "lim.coerce", "value": {"a": 1}}, "value"),
        ("settings/get", {"key": 12}, "key"),
        ("daemon/watch", {"enabled": "false"}, "enabled"),
        ("daemon/watch", {"enabled": 0}, "enabled"),
        ("settings/import", {"version": "1.0", "settings": [], "replace": "true"}, "replace"),
        ("settings/import", {"version": "1.0", "settings": [], "dryRun": 1}, "dryRun"),
        ("settings/import", {"version": "1.0", "settings": {}}, "settings"),
        (
            "settings/import",
            {"version": "1.0", "settings": [], "exportedAt": "2026-11-26 01:10:58"},
            "exportedAt",
        ),
        (
            "settings/import",
            {"version": "1.0", "settings": [], "exportedAt": "2026-11-26T01:10:58"},
            "exportedAt",
        ),
        ("settings/import", {"version": "1.0", "settings": [], "exportedAt": 0}, "exportedAt"),
        ("settings/getAll", {"prefix": 1}, "prefix"),
        ("settings/setMany", {"entries": {"key": "a", "value": "b"}}, "entries"),
        ("settings/setMany", {"entries": ["a"]}, "entries.0"),
        ("workspaceConfig/set", {"projectDir": "/x", "name": 1}, "name"),
        ("workspaceConfig/set", {"projectDir": "/x", "config": []}, "config"),
        ("workspaceConfig/set", {"projectDir": "/x", "config": "{}"}, "config"),
        ("workspaceConfig/get", {"projectDir": ["/x"]}, "projectDir"),
        ("initialize", {"processId": "123"}, "processId"),
    ]
    for method, params, path in cases:
        assert paths(shared, method, params) == [path], (method, params)
    assert shared.result("settings/get", {"key": "lim.coerce"}) is None
    assert shared.result("workspaceConfig/get", {"projectDir": "/x"}) is None


def test_process_id_out_of_range_is_invalid_params(shared: Wire) -> None:
    # LSP's processId is a 32-bit integer: anything else names no process.
    response = shared.call("initialize", {"processId": 2**40})
    assert response["error"]["code"] == -32602, response
    assert response["error"]["data"]["errors"][0]["path"] == "processId"


def test_every_failing_field_is_named(shared: Wire) -> None:
    failing = paths(shared, "settings/set", {"key": 1, "value": 2, "extra": 3})
    assert sorted(failing) == ["extra", "key", "value"]
    pairs = invalid(shared, "settings/get", {})
    assert pairs == [("key", pairs[0][1])] and "missing" in pairs[0][1]
    assert paths(shared, "settings/get", None) == ["key"]  # params omitted
    assert paths(shared, "settings/set", {"key": "k"}) == ["value"]


def test_unknown_fields_are_refused_at_any_depth(shared: Wire) -> None:
    assert paths(shared, "settings/get", {"key": "k", "Key": "k"}) == ["Key"]
    assert paths(shared, "daemon/status", {"verbose": True}) == ["verbose"]
    assert paths(shared, "settings/export", {"format": "json"}) == ["format"]
    assert paths(
        shared,
        "settings/setMany",
        {"entries": [{"key": "a", "value": "b"}, {"key": "c", "value": "d", "updatedAt": None}]},
    ) == ["entries.1.updatedAt"]
    assert paths(
        shared,
        "settings/import",
        {"version": "1.0", "settings": [{"key": "a", "value": "b", "x": 1}]},
    ) == ["settings.0.x"]
    assert paths(shared, "workspaceConfig/set", {"projectDir": "/x", "lastOpened": None}) == [
        "lastOpened"
    ]
    # The one exception: LSP clients send InitializeParams with many fields.
    shared.result(
        "initialize",
        {
            "processId": None,
            "rootUri": None,
            "capabilities": {},
            "clientInfo": {"name": "test"},
            "trace": "off",
        },
    )
    # Inside a config, any JSON object is data, not params.
    stored = shared.result(
        "workspaceConfig/set",
        {"projectDir": "/lim/free", "config": {"any": {"key": ["at", "all"]}}},
    )
    assert stored["config"] == {"any": {"key": ["at", "all"]}}


def test_array_params_are_positional_and_refused(shared: Wire) -> None:
    for method, params in (
        ("settings/get", ["k"]),
        ("settings/set", ["k", "v"]),
        ("daemon/status", []),
        ("shutdown", []),
    ):
        error = shared.error(method, params)
        assert error["code"] == -32602
        assert [e["path"] for e in error["data"]["errors"]] == [""]
    assert shared.result("settings/get", {"key": "k"}) is None


def test_shutdown_takes_no_params(shared: Wire) -> None:
    assert paths(shared, "shutdown", {"force": True}) == [""]
    shared.result("settings/get", {"key": "still.serving"})  # not shut down


# --- -32601 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [
        "settings/nope",
        "foobar",
        "",
        "Settings/Get",
        "settings/get ",
        "rpc.discover",
        "textDocument/didOpen",
        "settings/didChange",
        "$/cancelRequest",
        "exit",
        "initialized",
    ],
)
def test_unknown_method(shared: Wire, method: str) -> None:
    error = shared.error(method, {})
    assert error["code"] == -32601
    assert error["data"] == {"method": method}
    assert error["message"]


def test_unknown_notification_is_ignored(shared: Wire) -> None:
    shared.notify("nothing/here", {"a": 1})
    shared.notify("$/setTrace", {"value": "off"})
    shared.notify("$/progress", {"token": 1, "value": {}})
    msg_id = shared.request("settings/get", {"key": "after.notifications"})
    assert shared.next_message() == {"jsonrpc": "2.0", "id": msg_id, "result": None}


# --- storage errors ------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def stored(url: str) -> object:
    """All a database holds: the bytes of a SQLite file's folder (so not even a
    -wal appears), or every row of a PostgreSQL database's tables."""
    path = sqlite_path(url)
    if path is not None:
        return snapshot(path.parent)
    tables = ("settings", "workspace_config", "__idumb_migrations", "__idumb_changes")
    return [run_sql(url, f"SELECT * FROM {table} ORDER BY 1") for table in tables]


def test_schema_too_new_refuses_and_writes_nothing(
    spawn_any: DaemonFactory, database_url: str
) -> None:
    first = spawn_any()
    first.result("settings/set", {"key": "kept", "value": "1"})
    supported = first.result("daemon/status")["schemaVersion"]
    assert first.stop() == 0
    run_sql(database_url, "INSERT INTO __idumb_migrations VALUES (99, 'future', 'abc', 1)")
    before = stored(database_url)

    daemon = spawn_any()
    expected = {"reason": "schema_too_new", "databaseVersion": 99, "supportedVersion": supported}
    for method, params in (
        ("settings/set", {"key": "new", "value": "2"}),
        ("settings/setMany", {"entries": [{"key": "new", "value": "2"}]}),
        ("settings/delete", {"key": "kept"}),
        ("settings/import", {"version": "1.0", "settings": [], "replace": True}),
        ("workspaceConfig/open", {"projectDir": "/x"}),
        ("workspaceConfig/set", {"projectDir": "/x", "name": "x"}),
        ("workspaceConfig/delete", {"projectDir": "/x"}),
        ("settings/get", {"key": "kept"}),
    ):
        error = daemon.error(method, params)
        assert error["code"] == -31005, (method, error)
        assert error["data"] == expected
    status = daemon.result("daemon/status")  # works even when storage does not
    assert status["schemaVersion"] == 99
    assert daemon.result("daemon/watch", {"enabled": False})["watching"] is False
    assert daemon.stop() == 0
    assert stored(database_url) == before
    assert run_sql(database_url, "SELECT key, value FROM settings") == [("kept", "1")]


def test_cancel_answers_a_request_that_has_not_started(spawn: DaemonFactory, db_path: Path) -> None:
    # SQLite only: it holds SQLite's write lock.
    # Hold the write lock before the daemon starts: its storage thread blocks
    # in opening (migrating) the database, so every request queues behind it,
    # deterministically not started.
    db_path.parent.mkdir(mode=0o700)
    lock = sqlite3.connect(db_path, isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")
        # However slowly the daemon starts, its wait for the lock outlasts ours.
        daemon = spawn("--busy-timeout", "60")
        daemon.request("settings/set", {"key": "cancel", "value": "written"}, msg_id=1)
        daemon.request("settings/get", {"key": "cancel"}, msg_id=2)
        daemon.request("settings/get", {"key": "cancel"}, msg_id="three")
        daemon.notify("$/cancelRequest", {"id": 2})
        daemon.notify("$/cancelRequest", {"id": "three"})
        daemon.notify("$/cancelRequest", {"id": 999})  # unknown: ignored
        for msg_id in (2, "three"):
            response = daemon.next_message()
            assert response["id"] == msg_id
            assert response["error"]["code"] == -32800 and response["error"]["message"]
        # Lifecycle and status go on while storage is stuck.
        assert daemon.result("daemon/watch", {"enabled": False})["watching"] is False
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    response = daemon.response(1)
    assert response["result"]["value"] == "written"
    assert daemon.result("settings/get", {"key": "cancel"})["value"] == "written"
    # A request that already ran cannot be cancelled: cancelling it changes nothing.
    daemon.notify("$/cancelRequest", {"id": 1})
    assert daemon.stop() == 0


# --- -32603, in process --------------------------------------------------------------


def test_unserialisable_result_and_handler_bug_become_internal_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = IdumbServer(open_storage(f"sqlite:///{tmp_path / 'idumb.db'}"))

    def status(_p: object) -> object:
        return object()

    def get(p: SettingsGetParams) -> object:
        if p.key == "boom":
            raise RuntimeError("handler bug")
        return None

    server.protocol.handlers.update({"daemon/status": status, "settings/get": get})

    messages: list[Any] = [
        {"jsonrpc": "2.0", "id": 1, "method": "daemon/status"},
        {"jsonrpc": "2.0", "id": 2, "method": "settings/get", "params": {"key": "boom"}},
        [
            {"jsonrpc": "2.0", "id": 3, "method": "daemon/status"},
            {"jsonrpc": "2.0", "id": 4, "method": "settings/get", "params": {"key": "fine"}},
        ],
        {"jsonrpc": "2.0", "id": 5, "method": "settings/get", "params": {"key": "fine"}},
    ]
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    os.write(stdin_w, b"".join(frame(m) for m in messages))
    os.close(stdin_w)  # end of input: the server answers what it read, then returns
    with caplog.at_level(logging.ERROR):
        code = asyncio.run(server.run(stdin_r, stdout_w))
    os.close(stdin_r)
    os.close(stdout_w)
    with os.fdopen(stdout_r, "rb") as out:
        output = out.read()
    assert code == 0

    by_id: dict[Any, Any] = {}
    for message in parse_frames(output):
        for response in message if isinstance(message, list) else [message]:
            by_id[response["id"]] = response
    assert sorted(by_id) == [1, 2, 3, 4, 5]
    for msg_id in (1, 2, 3):
        assert by_id[msg_id]["error"]["code"] == -32603, by_id[msg_id]
        assert "result" not in by_id[msg_id]
    assert by_id[4] == {"jsonrpc": "2.0", "id": 4, "result": None}
    assert by_id[5] == {"jsonrpc": "2.0", "id": 5, "result": None}
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert any("handler bug" in str(r.exc_info[1]) for r in logged if r.exc_info)
    assert sum("serialis" in r.getMessage() for r in logged) == 2
    assert json.dumps(by_id[2]).count("handler bug") == 1

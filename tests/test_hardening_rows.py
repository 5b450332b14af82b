"""Rows other programs wrote outside the contract never make a read fail
(PROTOCOL.md v2, Shapes; issue 14 items 6 and 7): a time that is not unix
seconds of a year 1970..9999 reads as null, a config that is not a JSON
object of finite numbers reads as null, each with a warning naming the row;
and no response ever holds NaN or Infinity."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from idumb_daemon.protocol import rpc
from tests.conftest import DaemonFactory
from tests.wire import finish, sqlite_exec

GOOD = 1_764_119_458  # 2025-11-26T01:10:58Z


@pytest.mark.parametrize(
    "stored",
    [
        GOOD * 1000,  # milliseconds, as Date.now() gives
        GOOD * 1_000_000,
        253_402_300_800,  # 10000-01-01: one second past the last year
        -1,
        "2026-11-26",
        2.5e18,
    ],
    ids=["ms", "us", "year-10000", "negative", "text", "huge-real"],
)
def test_a_stored_time_out_of_contract_reads_as_null(
    spawn: DaemonFactory, db_path: Path, stored: Any
) -> None:
    daemon = spawn()
    for i in range(5):
        daemon.result("settings/set", {"key": f"k{i}", "value": str(i)})
    daemon.result("workspaceConfig/open", {"projectDir": "/p/good"})
    daemon.result("workspaceConfig/open", {"projectDir": "/p/odd"})
    # Written by another program, straight into the file.
    sqlite_exec(db_path, "UPDATE settings SET updated_at = ? WHERE key = 'k2'", stored)
    sqlite_exec(
        db_path, "UPDATE workspace_config SET last_opened = ? WHERE project_dir = '/p/odd'", stored
    )

    odd = daemon.result("settings/get", {"key": "k2"})
    # The other program's write is a change like any: the next revision (5
    # settings and 2 workspaces before it).
    assert odd == {"key": "k2", "value": "2", "updatedAt": None, "revision": 8, "projectDir": None}
    assert daemon.result("settings/get", {"key": "k1"})["updatedAt"] is not None
    for limit in (1, 2, 3, 10):
        pages: list[Any] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if after is not None:
                params["after"] = after
            page = daemon.result("settings/getAll", params)
            if not page:
                break
            pages.extend(page)
            after = page[-1]["key"]
        assert [e["key"] for e in pages] == [f"k{i}" for i in range(5)]
        assert [e["updatedAt"] is None for e in pages] == [False, False, True, False, False]
    workspace = daemon.result("workspaceConfig/get", {"projectDir": "/p/odd"})
    assert workspace["lastOpened"] is None
    listed = daemon.result("workspaceConfig/list", {})
    assert {w["projectDir"]: w["lastOpened"] is None for w in listed} == {
        "/p/good": False,
        "/p/odd": True,
    }
    daemon.notify("exit")
    finish(daemon)
    log = daemon.stderr.decode()
    assert "setting 'k2': stored time" in log
    assert "workspace '/p/odd': stored time" in log


@pytest.mark.parametrize(
    "stored",
    [
        '{"n":1e999}',
        '{"n":-1e999}',
        '{"a":{"b":[NaN]}}',
        '{"x":Infinity}',
        "[1,2]",
        '"text"',
        "7",
        "not json",
        '{"a":1',
    ],
)
def test_a_stored_config_out_of_contract_reads_as_null(
    spawn: DaemonFactory, db_path: Path, stored: str
) -> None:
    daemon = spawn()
    daemon.result("workspaceConfig/set", {"projectDir": "/p/good", "config": {"n": 1.5}})
    daemon.result("workspaceConfig/set", {"projectDir": "/p/odd", "name": "odd"})
    sqlite_exec(
        db_path, "UPDATE workspace_config SET config = ? WHERE project_dir = '/p/odd'", stored
    )
    odd = daemon.result("workspaceConfig/get", {"projectDir": "/p/odd"})
    assert odd["name"] == "odd"
    assert odd["config"] is None
    listed = daemon.result("workspaceConfig/list", {})
    assert {w["projectDir"]: w["config"] for w in listed} == {"/p/good": {"n": 1.5}, "/p/odd": None}
    daemon.notify("exit")
    finish(daemon)
    assert b"Infinity" not in daemon.raw_stdout
    assert b"NaN" not in daemon.raw_stdout
    assert "workspace '/p/odd': stored config is not a JSON object" in daemon.stderr.decode()


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_the_encoder_refuses_what_json_cannot_carry(number: float) -> None:
    with pytest.raises(ValueError):
        rpc._encode({"jsonrpc": "2.0", "id": 1, "result": {"n": number}})
    with pytest.raises(ValueError):
        rpc._encode({"jsonrpc": "2.0", "id": "\ud800", "result": [number]})

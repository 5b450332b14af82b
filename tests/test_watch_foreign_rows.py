"""`daemon/watch` when another program writes rows the wire cannot carry as
they are (issue 14, item 5): a watching daemon as a real process, the other
writer a plain sqlite3 connection firing migration 0002's real triggers.

Such a row is reported as well as it can be (a time that is no time in unix
seconds as null, a config that is no JSON object as null), and the changes
committed with it, before it and after it all arrive.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DaemonFactory
from tests.test_watch_e2e import bare, next_changes, watcher

GOOD_TIME = 1764115858
GOOD_TIME_TEXT = "2025-11-26T00:10:58Z"
MILLISECONDS = GOOD_TIME * 1000  # what JavaScript's Date.now() gives


def write(path: Path, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """One transaction of another program, as the TypeScript app writes."""
    conn = sqlite3.connect(path, timeout=15)
    try:
        with conn:
            for sql, params in statements:
                conn.execute(sql, params)
    finally:
        conn.close()


def setting(key: str, value: str, updated_at: object) -> tuple[str, tuple[Any, ...]]:
    return "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)", (
        key,
        value,
        updated_at,
    )


def workspace(
    project_dir: str, last_opened: object, config: str | None = None
) -> tuple[str, tuple[Any, ...]]:
    return (
        "INSERT INTO workspace_config (project_dir, name, last_opened, config) "
        "VALUES (?, 'p', ?, ?)",
        (project_dir, last_opened, config),
    )


def good_workspace(project_dir: str) -> dict[str, Any]:
    return {
        "projectDir": project_dir,
        "workspace": {
            "projectDir": project_dir,
            "name": "p",
            "lastOpened": GOOD_TIME_TEXT,
            "config": {"a": 1},
        },
    }


@pytest.mark.parametrize("bad_time", [MILLISECONDS, -MILLISECONDS, 2**62, "yesterday"], ids=repr)
def test_a_setting_with_a_time_out_of_contract_holds_up_nothing(
    spawn: DaemonFactory, db_path: Path, bad_time: object
) -> None:
    a = watcher(spawn)
    # The repro: a setting, a workspace, then the odd setting, in one
    # transaction.
    write(
        db_path,
        setting("good", "1", GOOD_TIME),
        workspace("/good", GOOD_TIME, '{"a":1}'),
        setting("odd", "2", bad_time),
    )
    # In revision order, so a notification's revision covers all before it.
    assert next_changes(a) == [{"key": "good", "value": "1", "updatedAt": GOOD_TIME_TEXT}]
    assert next_changes(a, "workspaceConfig/didChange") == [good_workspace("/good")]
    assert next_changes(a) == [{"key": "odd", "value": "2", "updatedAt": None}]
    # The feed goes on from there.
    write(db_path, setting("later", "3", GOOD_TIME))
    assert next_changes(a) == [{"key": "later", "value": "3", "updatedAt": GOOD_TIME_TEXT}]
    assert a.stop() == 0


def test_a_workspace_out_of_contract_first_in_the_transaction_holds_up_nothing(
    spawn: DaemonFactory, db_path: Path
) -> None:
    a = watcher(spawn)
    write(
        db_path,
        workspace("/odd-time", MILLISECONDS, '{"a":1}'),
        workspace("/odd-config", GOOD_TIME, "[1, 2]"),
        workspace("/good", GOOD_TIME, '{"a":1}'),
        setting("good", "1", GOOD_TIME),
    )
    odd_time = good_workspace("/odd-time")
    odd_time["workspace"]["lastOpened"] = None
    odd_config = good_workspace("/odd-config")
    odd_config["workspace"]["config"] = None
    assert next_changes(a, "workspaceConfig/didChange") == [
        odd_time,
        odd_config,
        good_workspace("/good"),
    ]
    assert next_changes(a) == [{"key": "good", "value": "1", "updatedAt": GOOD_TIME_TEXT}]
    assert a.stop() == 0


def test_odd_rows_in_separate_commits_around_good_ones_are_all_reported(
    spawn: DaemonFactory, db_path: Path
) -> None:
    a = watcher(spawn)
    b = spawn()
    write(db_path, setting("odd.1", "x", MILLISECONDS))
    entry = b.result("settings/set", {"key": "by-daemon", "value": "y"})
    write(db_path, setting("odd.2", "z", MILLISECONDS))
    # However the looks fall between the three commits, each key arrives once,
    # in commit order.
    seen: list[dict[str, Any]] = []
    while len(seen) < 3:
        seen.extend(next_changes(a))
    assert seen == [
        {"key": "odd.1", "value": "x", "updatedAt": None},
        bare(entry),
        {"key": "odd.2", "value": "z", "updatedAt": None},
    ]
    assert a.stop() == 0 and b.stop() == 0


@pytest.mark.parametrize("count, every", [(2, 1), (300, 50), (1500, 7)])
def test_odd_rows_scattered_through_a_large_commit_are_all_reported(
    spawn: DaemonFactory, db_path: Path, count: int, every: int
) -> None:
    a = watcher(spawn)
    write(
        db_path,
        *(
            setting(f"k{i:05}", str(i), MILLISECONDS if i % every == 0 else GOOD_TIME)
            for i in range(count)
        ),
    )
    seen: list[dict[str, Any]] = []
    while len(seen) < count:
        seen.extend(next_changes(a))
    assert seen == [
        {
            "key": f"k{i:05}",
            "value": str(i),
            "updatedAt": None if i % every == 0 else GOOD_TIME_TEXT,
        }
        for i in range(count)
    ]
    assert a.stop() == 0

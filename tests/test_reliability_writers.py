"""Many daemons on one SQLite file: every write lands, none is lost, and a
lock held too long is -31001, not a hang."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from idumb_daemon.contracts import SettingInput, SettingsSetManyEntry
from idumb_daemon.protocol.server import open_storage
from idumb_daemon.storage import settings
from tests.conftest import DaemonFactory
from tests.reliability import errors_of, pipeline, responses, send_all, timed

DAEMONS = 4
OPS = 400  # per daemon, all pipelined
SHARED = 8


def _plan(i: int) -> tuple[list[tuple[str, Any]], dict[str, str]]:
    """Daemon i's requests and, per key, the last value it writes there."""
    rng = random.Random(1000 + i)
    calls: list[tuple[str, Any]] = []
    last: dict[str, str] = {}
    for n in range(OPS):
        value = f"{i}:{n}"
        roll = rng.random()
        if roll < 0.45:
            entries = [(f"own.{i}.{n % 40}", value)]
            calls.append(("settings/set", {"key": entries[0][0], "value": value}))
        elif roll < 0.75:
            entries = [(f"shared.{rng.randrange(SHARED)}", value)]
            calls.append(("settings/set", {"key": entries[0][0], "value": value}))
        elif roll < 0.85:
            entries = [(f"many.{i}.{n % 10}", value), (f"shared.{rng.randrange(SHARED)}", value)]
            calls.append(
                ("settings/setMany", {"entries": [{"key": k, "value": v} for k, v in entries]})
            )
        elif roll < 0.95:
            # import reads the stored values, then writes: a read-then-write
            # transaction under contention, where a deferred BEGIN fails at once.
            entries = [(f"imp.{i}.{n % 5}", value), (f"shared.{rng.randrange(SHARED)}", value)]
            calls.append(
                (
                    "settings/import",
                    {
                        "version": "1.0",
                        "settings": [{"key": k, "value": v} for k, v in entries],
                    },
                )
            )
        else:
            entries = []
            calls.append(("settings/get", {"key": f"shared.{rng.randrange(SHARED)}"}))
        last.update(entries)
    return calls, last


def test_four_daemons_pipelining_on_one_file_lose_no_update(spawn: DaemonFactory) -> None:
    daemons = [spawn() for _ in range(DAEMONS)]
    for daemon in daemons:  # started (and the file migrated, once) before the race
        assert daemon.result("settings/get", {"key": "none"}) is None
    plans = [_plan(i) for i in range(DAEMONS)]
    sent: list[list[str]] = [[] for _ in daemons]
    go = threading.Barrier(DAEMONS)

    def send(i: int) -> None:
        go.wait(timeout=10)
        sent[i] = send_all(daemons[i], plans[i][0])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(DAEMONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    answers = [
        responses(daemon, ids, timeout=30) for daemon, ids in zip(daemons, sent, strict=True)
    ]
    assert [errors_of(a) for a in answers] == [[]] * DAEMONS
    assert sum(len(a) for a in answers) == DAEMONS * OPS

    stored = [
        {e["key"]: e["value"] for e in daemon.result("settings/getAll", {})} for daemon in daemons
    ]
    assert all(view == stored[0] for view in stored), "the daemons see different data"
    finals: dict[str, set[str]] = defaultdict(set)
    for _calls, last in plans:
        for key, value in last.items():
            finals[key].add(value)
    assert set(stored[0]) == set(finals)
    for key, candidates in finals.items():
        # Each daemon writes a key in order; the last commit to it is some
        # daemon's last write there. Anything else is a lost update.
        assert stored[0][key] in candidates, key
    for i, (_calls, last) in enumerate(plans):
        own = {k: v for k, v in last.items() if not k.startswith("shared.")}
        assert {k: stored[0][k] for k in own} == own, f"daemon {i} lost its own writes"
    for daemon in daemons:
        assert daemon.stop() == 0


def test_lock_held_past_the_busy_timeout_is_31001_then_writes_resume(
    spawn: DaemonFactory, db_path: Path
) -> None:
    daemon = spawn("--busy-timeout", "0.5")
    daemon.result("settings/set", {"key": "k", "value": "before"})
    holder = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # WAL: readers go on while another process holds the write lock.
        assert daemon.result("settings/get", {"key": "k"})["value"] == "before"

        answer, took = timed(daemon, "settings/set", {"key": "k", "value": "locked"})
        assert answer["error"]["code"] == -31001, answer
        assert answer["error"]["data"] == {"reason": "busy"}
        assert 0.45 <= took < 5, took

        # Reads first, then writes: waits for the lock like a plain write
        # (BEGIN IMMEDIATE) instead of failing at once as a deferred one would.
        answer, took = timed(
            daemon,
            "settings/import",
            {
                "version": "1.0",
                "settings": [{"key": "k", "value": "imported"}],
            },
        )
        assert answer["error"]["code"] == -31001, answer
        assert 0.45 <= took < 5, took

        # A pipelined burst is refused in about one timeout, not one per write.
        start = time.monotonic()
        burst = pipeline(
            daemon, [("settings/set", {"key": f"b{n}", "value": "x"}) for n in range(20)]
        )
        assert {a["error"]["code"] for a in burst} == {-31001}
        assert time.monotonic() - start < 5
    finally:
        holder.rollback()
        holder.close()
    assert daemon.result("settings/set", {"key": "k", "value": "after"})["value"] == "after"
    assert daemon.result("settings/get", {"key": "k"})["value"] == "after"
    assert daemon.stop() == 0


def test_daemon_started_while_the_lock_is_held_serves_once_it_is_released(
    spawn: DaemonFactory, tmp_path: Path
) -> None:
    db = tmp_path / "locked" / "idumb.db"
    db.parent.mkdir()
    holder = sqlite3.connect(db, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")  # before the daemon could create its tables
    try:
        daemon = spawn("--busy-timeout", "0.3", db=db)
        answer = daemon.call("settings/get", {"key": "k"})
        assert answer["error"]["code"] == -31001, answer
        assert daemon.result("daemon/status", {})["version"]
    finally:
        holder.rollback()
        holder.close()
    assert daemon.result("settings/set", {"key": "k", "value": "v"})["value"] == "v"
    assert daemon.stop() == 0


def test_writes_begin_immediate_and_reads_end_at_once(tmp_path: Path) -> None:
    """What SQLite is actually sent, seen through its own trace hook."""
    statements: list[str] = []

    def trace(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.set_trace_callback(statements.append)

    event.listen(Engine, "connect", trace)
    storage = open_storage("sqlite:///" + str(tmp_path / "trace.db"))
    try:
        storage.open()
        operations: dict[str, tuple[bool, Callable[[], object]]] = {
            "set": (True, lambda: storage.write(settings.set_, "k", "v")),
            "setMany": (
                True,
                lambda: storage.write(
                    settings.set_many, [SettingsSetManyEntry(key="a", value="1")]
                ),
            ),
            "import": (
                True,
                lambda: storage.write(settings.import_, [SettingInput(key="k", value="w")]),
            ),
            "delete": (True, lambda: storage.write(settings.delete, "a")),
            "get": (False, lambda: storage.read(settings.get, "k")),
            "getAll": (False, lambda: storage.read(settings.get_all)),
        }
        for name, (write, operation) in operations.items():
            statements.clear()
            operation()
            assert statements[0] == ("BEGIN IMMEDIATE" if write else "BEGIN"), (name, statements)
            assert statements[-1] in ("COMMIT", "ROLLBACK"), (name, statements)
    finally:
        storage.close()
        event.remove(Engine, "connect", trace)

"""The storage layer in process: fast unit tests of every operation on both
backends (a real SQLite file, a database on the session's PostgreSQL server),
then what only a SQLite file has: the format the TypeScript app shares, WAL."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from idumb_daemon.contracts import UNSET, SettingInput, SettingsSetManyEntry
from idumb_daemon.protocol.server import open_storage
from idumb_daemon.storage import Storage, settings, workspaces
from idumb_daemon.storage.database import resolve_url
from idumb_daemon.storage.settings import prefix_upper_bound
from tests.pg import run_sql

T0 = 1_790_000_000


class Clock:
    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def storage(database_url: str, clock: Clock) -> Iterator[Storage]:
    """Storage on each backend in turn."""
    store = open_storage(database_url, clock=clock)
    store.open()
    yield store
    store.close()


@pytest.fixture
def sqlite_storage(db_path: Path, clock: Clock) -> Iterator[Storage]:
    """Storage on a SQLite file, for the tests about the file itself."""
    store = open_storage(resolve_url(db=str(db_path)), clock=clock)
    store.open()
    yield store
    store.close()


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


def raw(db_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(db_path)


def test_set_get_delete(storage: Storage, clock: Clock) -> None:
    assert storage.read(settings.get, "a") is None
    entry = storage.write(settings.set_, "a", "1")
    assert (entry.key, entry.value, entry.updated_at) == ("a", "1", at(T0))
    assert storage.read(settings.get, "a") == entry
    clock.now += 5
    assert storage.write(settings.set_, "a", "2").updated_at == at(T0 + 5)
    assert storage.write(settings.delete, "a") is True
    assert storage.write(settings.delete, "a") is False
    assert storage.read(settings.get, "a") is None


def test_rows_written_by_another_program_read_correctly(
    storage: Storage, database_url: str
) -> None:
    run_sql(
        database_url,
        "INSERT INTO settings (key, value, updated_at) VALUES ('x', 'y', ?)",
        1700000000,
    )
    run_sql(database_url, "INSERT INTO settings (key, value, updated_at) VALUES ('n', 'z', NULL)")
    run_sql(
        database_url,
        "INSERT INTO workspace_config (project_dir, name, last_opened, config) "
        "VALUES ('/w', NULL, 1700000001, '{\"tabs\":2}')",
    )
    x, n = storage.read(settings.get, "x"), storage.read(settings.get, "n")
    assert x is not None and x.updated_at == at(1700000000)
    assert n is not None and n.updated_at is None
    ws = storage.read(workspaces.get, "/w")
    assert ws is not None and ws.config == {"tabs": 2} and ws.last_opened == at(1700000001)


def test_get_all_orders_by_code_point_and_pages(storage: Storage) -> None:
    keys = ["b", "a", "B", "é", "\U0001f600", "a%", "a_", "ab", "a", "z"]
    storage.write(
        settings.set_many, [SettingsSetManyEntry(key=k, value="v") for k in dict.fromkeys(keys)]
    )
    listed = [e.key for e in storage.read(settings.get_all)]
    assert listed == sorted(set(keys))  # Python compares str by code point
    page1 = storage.read(lambda tx: settings.get_all(tx, limit=3))
    page2 = storage.read(lambda tx: settings.get_all(tx, after=page1[-1].key, limit=3))
    assert [e.key for e in page1 + page2] == sorted(set(keys))[:6]


def test_prefix_is_literal_and_case_sensitive(storage: Storage) -> None:
    for key in ["a%b", "a%c", "axb", "a_b", "aab", "A%b", "a%"]:
        storage.write(settings.set_, key, "v")
    assert [e.key for e in storage.read(settings.get_all, "a%")] == ["a%", "a%b", "a%c"]
    assert [e.key for e in storage.read(settings.get_all, "a_")] == ["a_b"]
    assert [e.key for e in storage.read(settings.get_all, "A")] == ["A%b"]


def test_prefix_upper_bound() -> None:
    assert prefix_upper_bound("ab") == "ac"
    assert prefix_upper_bound("a\U0010ffff") == "b"
    assert prefix_upper_bound("\U0010ffff") is None
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"


def test_set_many_is_one_timestamp_in_input_order(storage: Storage) -> None:
    entries = storage.write(
        settings.set_many,
        [SettingsSetManyEntry(key="z", value="1"), SettingsSetManyEntry(key="a", value="2")],
    )
    assert [(e.key, e.value, e.updated_at) for e in entries] == [
        ("z", "1", at(T0)),
        ("a", "2", at(T0)),
    ]


def test_import_reports_and_keeps_unchanged_timestamps(storage: Storage, clock: Clock) -> None:
    storage.write(
        settings.set_many, [SettingsSetManyEntry(key=k, value=k) for k in ("same", "diff", "gone")]
    )
    clock.now += 60
    file = [
        SettingInput(key="same", value="same"),
        SettingInput(key="diff", value="new"),
        SettingInput(key="add", value="x"),
    ]
    dry = storage.write(lambda tx: settings.import_(tx, file, replace=True, dry_run=True))
    assert (dry.imported, dry.added, dry.changed, dry.removed) == (3, ["add"], ["diff"], ["gone"])
    assert storage.read(settings.get, "gone") is not None  # a dry run writes nothing
    result = storage.write(lambda tx: settings.import_(tx, file, replace=True))
    assert result == dry
    assert storage.read(settings.get, "gone") is None
    assert storage.read(settings.get, "same").updated_at == at(T0)  # type: ignore[union-attr]
    assert storage.read(settings.get, "diff").updated_at == at(T0 + 60)  # type: ignore[union-attr]


def test_export_round_trips(storage: Storage) -> None:
    storage.write(settings.set_, "b", "2")
    storage.write(settings.set_, "a", "1")
    document = storage.read(settings.export)
    assert document.version == "1.0" and document.exported_at == at(T0)
    assert [(s.key, s.value) for s in document.settings] == [("a", "1"), ("b", "2")]


def test_workspace_set_keeps_omitted_and_clears_null(storage: Storage) -> None:
    first = storage.write(workspaces.set_, "/p", "P", {"x": 1})
    assert (first.name, first.config, first.last_opened) == ("P", {"x": 1}, None)
    kept = storage.write(workspaces.set_, "/p", UNSET, {"y": 2})
    assert (kept.name, kept.config) == ("P", {"y": 2})
    cleared = storage.write(workspaces.set_, "/p", None)
    assert (cleared.name, cleared.config) == (None, {"y": 2})
    assert storage.write(workspaces.delete, "/p") is True
    assert storage.read(workspaces.get, "/p") is None


def test_workspace_list_order(storage: Storage, clock: Clock) -> None:
    storage.write(workspaces.set_, "/never-b")
    storage.write(workspaces.set_, "/never-a")
    storage.write(workspaces.open_, "/old")
    clock.now += 10
    storage.write(workspaces.open_, "/new-b")
    storage.write(workspaces.open_, "/new-a")
    order = [w.project_dir for w in storage.read(workspaces.list_recent)]
    assert order == ["/new-a", "/new-b", "/old", "/never-a", "/never-b"]
    two = storage.read(workspaces.list_recent, 2)
    assert [w.project_dir for w in two] == ["/new-a", "/new-b"]
    opened = storage.read(workspaces.get, "/old")
    assert opened is not None and opened.last_opened == at(T0)


def test_sql_fragments_are_data(storage: Storage) -> None:
    key = "x'; DROP TABLE settings; --"
    storage.write(settings.set_, key, "' OR 1=1 --")
    stored = storage.read(settings.get, key)
    assert stored is not None and stored.value == "' OR 1=1 --"
    assert [e.key for e in storage.read(settings.get_all)] == [key]


def _hammer(url: str, worker: int, rounds: int) -> int:
    store = open_storage(url)
    store.open()
    try:
        for i in range(rounds):
            store.write(settings.set_, "shared", f"{worker}-{i}")
            store.write(workspaces.open_, "/shared")
        return rounds
    finally:
        store.close()


def test_concurrent_upserts_of_one_key_never_conflict(database_url: str) -> None:
    url = database_url
    first = open_storage(url)
    first.open()  # migrate once up front: the race under test is the upsert
    first.close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        done = pool.starmap_async(_hammer, [(url, w, 150) for w in range(2)]).get(timeout=120)
    assert done == [150, 150]
    assert run_sql(url, "SELECT count(*) FROM settings") == [(1,)]
    assert run_sql(url, "SELECT count(*) FROM workspace_config") == [(1,)]
    [(value,)] = run_sql(url, "SELECT value FROM settings")
    assert value in {"0-149", "1-149"}


def test_config_object_survives_exactly(storage: Storage) -> None:
    config = {"nested": {"list": [1, 2.5, None, True, "s"]}, "unicode": "\U0001f600"}
    storage.write(workspaces.set_, "/c", UNSET, config)
    got = storage.read(workspaces.get, "/c")
    assert got is not None and got.config == config
    assert json.dumps(got.config, sort_keys=True) == json.dumps(config, sort_keys=True)


# --- SQLite file only ---------------------------------------------------------------


def test_stored_as_the_typescript_app_stores(sqlite_storage: Storage, db_path: Path) -> None:
    storage = sqlite_storage
    storage.write(settings.set_, "k", "v")
    storage.write(workspaces.set_, "/p", "P", {"a": [1, "é"]})
    with raw(db_path) as conn:
        assert conn.execute("SELECT typeof(updated_at), updated_at FROM settings").fetchone() == (
            "integer",
            T0,
        )
        config = conn.execute("SELECT config FROM workspace_config").fetchone()[0]
    assert config == '{"a":[1,"é"]}'  # compact JSON text, as JSON.stringify writes it


def test_wal_and_full_sync(sqlite_storage: Storage, db_path: Path) -> None:
    storage = sqlite_storage
    storage.write(settings.set_, "k", "v")
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db = storage._ready().db  # the daemon's own connection
    assert next(iter(db.query("PRAGMA synchronous")))["synchronous"] == 2  # FULL

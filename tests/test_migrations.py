"""The versioned schema on real SQLite files: what migrations create, adoption of
drizzle-kit files, concurrent starts, generation, and every refusal.

Databases are inspected with the stdlib sqlite3 module, not with our code."""

from __future__ import annotations

import hashlib
import json
import os
import selectors
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from idumb_daemon.migrations import (
    AdoptionRefused,
    MigrationChecksumMismatch,
    MigrationFailed,
    UnsupportedChange,
    check,
    generate,
    migrate,
    schema_dir,
    status,
)
from idumb_daemon.migrations.commands import migrate_command, schema_check
from idumb_daemon.migrations.files import load_migrations
from idumb_daemon.storage.database import Database
from idumb_daemon.storage.errors import SchemaTooNew

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "schema"
MIGRATIONS = SCHEMA / "migrations"
INITIAL = MIGRATIONS / "0001_initial.json"
# The tests follow the migrations that ship, however many there are; one a
# test adds to a copy of schema/ is numbered after the last of them.
SHIPPED = load_migrations(SCHEMA)
LAST = SHIPPED[-1].version
VERSIONS = [m.version for m in SHIPPED]
LABELS = [m.label for m in SHIPPED]
NEXT = LAST + 1

# What drizzle-kit generate writes for the TypeScript app's schema.ts
# (statements separated by its `--> statement-breakpoint` lines).
DRIZZLE_DDL = [
    "CREATE TABLE `settings` (\n"
    "\t`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,\n"
    "\t`key` text NOT NULL,\n"
    "\t`value` text NOT NULL,\n"
    "\t`updated_at` integer\n"
    ");",
    "CREATE UNIQUE INDEX `settings_key_unique` ON `settings` (`key`);",
    "CREATE TABLE `workspace_config` (\n"
    "\t`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,\n"
    "\t`project_dir` text NOT NULL,\n"
    "\t`name` text,\n"
    "\t`last_opened` integer,\n"
    "\t`config` text\n"
    ");",
    "CREATE UNIQUE INDEX `workspace_config_project_dir_unique` "
    "ON `workspace_config` (`project_dir`);",
]
# drizzle-orm's migrator creates this before running the statements above.
DRIZZLE_MIGRATIONS_DDL = (
    'CREATE TABLE IF NOT EXISTS "__drizzle_migrations" '
    "(id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)"
)


def url(path: Path) -> str:
    return "sqlite:///" + str(path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "idumb.db"


@pytest.fixture
def schema_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "schema"
    shutil.copytree(SCHEMA, copy)
    return copy


@pytest.fixture
def opened(db_path: Path) -> Iterator[Database]:
    database = Database(url(db_path))
    yield database
    database.close()


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def shape(path: Path, table: str) -> dict[str, Any]:
    """PRAGMA table_info, index_list and index_info of the table. SQLite 3.37+
    reports the type names it knows in capitals whatever the DDL said, so types
    are compared in lower case, as STORAGE.md writes them."""
    indexes = rows(path, f"PRAGMA index_list({table})")
    return {
        "columns": [
            (cid, name, str(kind).lower(), notnull, default, pk)
            for cid, name, kind, notnull, default, pk in rows(path, f"PRAGMA table_info({table})")
        ],
        "indexes": {
            name: (unique, origin, [r[2] for r in rows(path, f"PRAGMA index_info({name})")])
            for _seq, name, unique, origin, _partial in indexes
        },
    }


def records(path: Path) -> list[tuple[object, ...]]:
    return rows(path, "SELECT version, name, checksum FROM __idumb_migrations ORDER BY version")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# What __idumb_migrations holds once every shipped migration is recorded, the
# checksums hashed here from the files rather than taken from our loader.
SHIPPED_RECORDS = [(m.version, m.name, sha256(MIGRATIONS / f"{m.label}.json")) for m in SHIPPED]


def is_own(name: str) -> bool:
    """The daemon's own objects (the migration record, the change log and its
    triggers) are named __idumb_*; STORAGE.md allows them beside its tables."""
    return name.startswith("__idumb_")


def listing(folder: Path) -> dict[str, str]:
    return {p.name: sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}


def run_main(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "idumb_daemon.migrations", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def add_settings_column(folder: Path, column: dict[str, object]) -> None:
    path = folder / "schema.json"
    declared = json.loads(path.read_text())
    declared["tables"]["settings"]["columns"].append(column)
    path.write_text(json.dumps(declared, indent=2) + "\n")


# --- what a fresh database gets ---------------------------------------------

SETTINGS_SHAPE = {
    "columns": [
        (0, "id", "integer", 1, None, 1),
        (1, "key", "text", 1, None, 0),
        (2, "value", "text", 1, None, 0),
        (3, "updated_at", "integer", 0, None, 0),
    ],
    "indexes": {"settings_key_unique": (1, "c", ["key"])},
}
WORKSPACE_SHAPE = {
    "columns": [
        (0, "id", "integer", 1, None, 1),
        (1, "project_dir", "text", 1, None, 0),
        (2, "name", "text", 0, None, 0),
        (3, "last_opened", "integer", 0, None, 0),
        (4, "config", "text", 0, None, 0),
    ],
    "indexes": {"workspace_config_project_dir_unique": (1, "c", ["project_dir"])},
}


def test_fresh_database_has_exactly_the_storage_md_tables(
    opened: Database, db_path: Path, tmp_path: Path
) -> None:
    report = migrate(opened)

    assert (report.previous_version, report.version, report.supported_version) == (0, LAST, LAST)
    assert [r.label for r in report.applied] == LABELS
    assert shape(db_path, "settings") == SETTINGS_SHAPE
    assert shape(db_path, "workspace_config") == WORKSPACE_SHAPE
    # Down to the raw PRAGMA output and the text SQLite keeps: the same as a
    # file made by drizzle-kit.
    drizzle = tmp_path / "drizzle.db"
    make_drizzle_file(drizzle, with_migrations_table=False)
    for table in ("settings", "workspace_config"):
        pragma = f"PRAGMA table_info({table})"
        assert rows(db_path, pragma) == rows(drizzle, pragma)
    kept = rows(db_path, "SELECT sql FROM sqlite_master WHERE type IN ('table', 'index')")
    assert {ddl.rstrip(";") for ddl in DRIZZLE_DDL} <= {sql for (sql,) in kept}
    assert records(db_path) == SHIPPED_RECORDS
    assert shape(db_path, "__idumb_migrations")["columns"] == [
        (0, "version", "integer", 1, None, 1),
        (1, "name", "text", 1, None, 0),
        (2, "checksum", "text", 1, None, 0),
        (3, "applied_at", "integer", 1, None, 0),
    ]
    # Nothing else but the daemon's own objects, on their own tables or named
    # as theirs (triggers on STORAGE.md's tables), and SQLite's sqlite_sequence,
    # which AUTOINCREMENT makes in drizzle-kit's files too.
    objects = set(rows(db_path, "SELECT type, name, tbl_name FROM sqlite_master"))
    expected = {
        ("table", "settings", "settings"),
        ("index", "settings_key_unique", "settings"),
        ("table", "workspace_config", "workspace_config"),
        ("index", "workspace_config_project_dir_unique", "workspace_config"),
        ("table", "workspace_settings", "workspace_settings"),
        (
            "index",
            "workspace_settings_project_dir_key_unique",
            "workspace_settings",
        ),
        ("table", "__idumb_migrations", "__idumb_migrations"),
        ("table", "sqlite_sequence", "sqlite_sequence"),
    }
    assert expected <= objects
    extra = sorted(o for o in objects - expected if not (is_own(o[1]) or is_own(o[2])))
    assert extra == []


def test_migrating_again_does_nothing(opened: Database, db_path: Path) -> None:
    migrate(opened)
    before = rows(db_path, "SELECT * FROM __idumb_migrations")

    report = migrate(opened)

    assert (report.applied, report.pending, report.version) == ((), (), LAST)
    assert rows(db_path, "SELECT * FROM __idumb_migrations") == before


def test_schema_dir_is_the_repository_one_in_a_source_tree() -> None:
    assert schema_dir() == SCHEMA


def test_committed_initial_migration_is_the_generator_output(tmp_path: Path) -> None:
    folder = tmp_path / "fresh"
    folder.mkdir()
    # The schema as it was at version 1: later versions add to it.
    tables = json.loads(INITIAL.read_text())["snapshot"]["tables"]
    (folder / "schema.json").write_text(json.dumps({"tables": tables}))

    written = generate("initial", folder)

    assert written.read_bytes() == INITIAL.read_bytes()
    assert check(SCHEMA) == []


# --- adoption of files made by drizzle-kit -----------------------------------


def make_drizzle_file(path: Path, *, with_migrations_table: bool) -> None:
    conn = sqlite3.connect(path)
    if with_migrations_table:
        conn.execute(DRIZZLE_MIGRATIONS_DDL)
        conn.execute(
            "INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)",
            ("9f1c2a", 1732500000123),
        )
    for ddl in DRIZZLE_DDL:
        conn.execute(ddl)
    conn.executemany(
        "INSERT INTO settings (id, key, value, updated_at) VALUES (?, ?, ?, ?)",
        [(1, "editor.theme", '"dark"', 1732500000), (2, "token", '"s3cret"', None)],
    )
    conn.execute("DELETE FROM settings WHERE id = 2")
    conn.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES ('editor.font', '14', 1732500001)"
    )
    conn.executemany(
        "INSERT INTO workspace_config (id, project_dir, name, last_opened, config) "
        "VALUES (?, ?, ?, ?, ?)",
        [(4, "/home/a/p", "p", 1732500002, '{"x":1}'), (9, "/home/a/q", None, None, None)],
    )
    conn.commit()
    conn.close()


def everything(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    tables = [r[0] for r in rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    contents = {t: rows(path, f'SELECT * FROM "{t}" ORDER BY 1') for t in tables}
    # rootpage tells a table kept in place from one dropped and recreated.
    contents["sqlite_master"] = rows(path, "SELECT * FROM sqlite_master ORDER BY name")
    return contents


@pytest.mark.parametrize("with_migrations_table", [True, False], ids=["migrate", "push"])
def test_drizzle_kit_file_is_adopted_in_place(
    db_path: Path, tmp_path: Path, with_migrations_table: bool
) -> None:
    make_drizzle_file(db_path, with_migrations_table=with_migrations_table)
    before = everything(db_path)
    assert [r[0] for r in before["settings"]] == [1, 3]  # a gap left by the delete

    database = Database(url(db_path))
    try:
        dry = migrate(database, dry_run=True)
        report = migrate(database)
    finally:
        database.close()

    # Version 1 is recorded without running it; the later ones run.
    later = LABELS[1:]
    assert (dry.adopted, [r.label for r in dry.pending], dry.version) == (True, later, 0)
    assert (report.adopted, [r.label for r in report.applied], report.version) == (
        True,
        later,
        LAST,
    )
    assert records(db_path) == SHIPPED_RECORDS
    # Every table that was there, __drizzle_migrations too, keeps its rows and
    # ids, and its place in the file (rootpage): nothing was recreated.
    after = everything(db_path)
    master = after.pop("sqlite_master")
    # sqlite_sequence gains the change log's own counter, nothing else.
    after["sqlite_sequence"] = [r for r in after["sqlite_sequence"] if not is_own(r[0])]
    assert {t: after[t] for t in before if t != "sqlite_master"} == {
        t: c for t, c in before.items() if t != "sqlite_master"
    }
    # Every existing row got a distinct revision, in row-id order, settings first.
    assert rows(db_path, "SELECT seq, table_name, row_key, deleted FROM __idumb_changes") == [
        (1, "settings", "editor.theme", 0),
        (2, "settings", "editor.font", 0),
        (3, "workspace_config", "/home/a/p", 0),
        (4, "workspace_config", "/home/a/q", 0),
    ]
    names = {r[1] for r in before["sqlite_master"]}
    assert [r for r in master if r[1] in names] == before["sqlite_master"]
    # What was added is what a fresh database has beyond drizzle-kit's tables.
    fresh = tmp_path / "fresh.db"
    database = Database(url(fresh))
    try:
        migrate(database)
    finally:
        database.close()
    objects = "SELECT type, name, tbl_name, sql FROM sqlite_master"
    assert set(rows(db_path, objects + " WHERE tbl_name != '__drizzle_migrations'")) == set(
        rows(fresh, objects)
    )
    # The TypeScript app's next insert goes on from its own sequence.
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO settings (key, value) VALUES ('k', 'v')")
    assert conn.execute("SELECT max(id) FROM settings").fetchone() == (4,)
    conn.close()


@pytest.mark.parametrize(
    "ddl",
    [
        # key nullable
        DRIZZLE_DDL[0].replace("`key` text NOT NULL", "`key` text"),
        # an extra column
        DRIZZLE_DDL[0].replace("`updated_at` integer\n", "`updated_at` integer,\n\t`x` text\n"),
        # no AUTOINCREMENT: ids could be reused under the TypeScript app
        DRIZZLE_DDL[0].replace(" AUTOINCREMENT", ""),
        # the unique index made inline, without drizzle's name
        DRIZZLE_DDL[0].replace("`key` text NOT NULL", "`key` text NOT NULL UNIQUE"),
    ],
    ids=["nullable", "extra-column", "no-autoincrement", "unnamed-unique"],
)
def test_tables_of_another_shape_are_refused(db_path: Path, ddl: str) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute(ddl)
    conn.execute("INSERT INTO settings (key, value) VALUES ('a', 'b')")
    conn.commit()
    conn.close()
    before = everything(db_path)

    database = Database(url(db_path))
    try:
        with pytest.raises(AdoptionRefused) as refused:
            migrate(database)
    finally:
        database.close()

    assert refused.value.problems
    assert everything(db_path) == before


# --- concurrency -------------------------------------------------------------

RACER = """
import json, sys
from idumb_daemon.migrations import migrate
from idumb_daemon.storage.database import Database
print("ready", flush=True)
sys.stdin.readline()
database = Database(sys.argv[1])
report = migrate(database)
database.close()
print(json.dumps({"applied": [r.version for r in report.applied], "version": report.version}))
"""


def race(database_url: str, count: int) -> list[dict[str, Any]]:
    """Start `count` processes, wait until each has imported everything,
    then release them together onto one fresh database."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, database_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(count)
    ]
    try:
        with selectors.DefaultSelector() as selector:
            for proc in procs:
                assert proc.stdout is not None
                selector.register(proc.stdout, selectors.EVENT_READ)
                assert selector.select(timeout=60), "a process did not get ready"
                assert proc.stdout.readline() == "ready\n"
                selector.unregister(proc.stdout)
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            results.append(json.loads(out))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


@pytest.mark.parametrize("round_", range(3))
def test_processes_starting_together_migrate_once(tmp_path: Path, round_: int) -> None:
    path = tmp_path / f"race{round_}.db"

    results = race(url(path), 2)

    # Each migration ran once, in one process or the other.
    applied = sorted(v for r in results for v in r["applied"])
    assert applied == VERSIONS
    assert [r["version"] for r in results] == [LAST, LAST]
    assert records(path) == SHIPPED_RECORDS
    assert shape(path, "settings") == SETTINGS_SHAPE


# --- a schema change, end to end ---------------------------------------------


def test_added_column_is_generated_applied_and_checked(
    schema_copy: Path, opened: Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate(opened, schema_dir=schema_copy)
    assert schema_check(schema_copy) == 0
    add_settings_column(schema_copy, {"name": "scope", "type": "text"})

    assert check(schema_copy) == ["column settings.scope added"]
    assert schema_check(schema_copy) == 1
    assert "settings.scope" in capsys.readouterr().err

    written = generate("settings_scope", schema_copy)
    assert written.name == f"{NEXT:04d}_settings_scope.json"
    assert json.loads(written.read_text())["operations"] == [
        {
            "op": "add_column",
            "table": "settings",
            "column": {
                "name": "scope",
                "type": "text",
                "notNull": False,
                "primaryKey": False,
                "autoincrement": False,
            },
        }
    ]
    report = migrate(opened, schema_dir=schema_copy)

    assert [r.label for r in report.applied] == [f"{NEXT:04d}_settings_scope"]
    assert records(db_path) == [*SHIPPED_RECORDS, (NEXT, "settings_scope", sha256(written))]
    assert shape(db_path, "settings")["columns"][-1] == (4, "scope", "text", 0, None, 0)
    assert check(schema_copy) == []
    assert schema_check(schema_copy) == 0


def test_changes_that_would_touch_rows_are_not_generated(schema_copy: Path) -> None:
    add_settings_column(schema_copy, {"name": "scope", "type": "text", "notNull": True})
    before = listing(schema_copy / "migrations")

    with pytest.raises(UnsupportedChange, match="by hand"):
        generate("scope", schema_copy)
    assert listing(schema_copy / "migrations") == before


# --- refusals ----------------------------------------------------------------


def test_edited_applied_migration_is_refused(
    schema_copy: Path, opened: Database, db_path: Path, tmp_path: Path
) -> None:
    migrate(opened, schema_dir=schema_copy)
    applied = schema_copy / "migrations" / "0001_initial.json"
    applied.write_text(applied.read_text().replace('"initial"', '"initial" '))

    with pytest.raises(MigrationChecksumMismatch) as mismatch:
        migrate(opened, schema_dir=schema_copy)
    assert (mismatch.value.version, mismatch.value.name) == (1, "initial")

    proc = run_main("--schema-dir", str(schema_copy), "migrate", "--db", str(db_path), cwd=tmp_path)
    assert proc.returncode == 3
    assert "0001_initial" in proc.stderr
    assert proc.stdout == ""


def test_newer_database_is_never_written(opened: Database, db_path: Path) -> None:
    migrate(opened)
    opened.close()
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO __idumb_migrations VALUES (?, 'future', 'abc', 1)", (NEXT,))
    conn.commit()
    conn.close()
    before = listing(db_path.parent)

    database = Database(url(db_path))
    try:
        with pytest.raises(SchemaTooNew) as too_new:
            migrate(database)
    finally:
        database.close()
    with pytest.raises(SchemaTooNew):
        status(url(db_path))

    assert (too_new.value.database_version, too_new.value.supported_version) == (NEXT, LAST)
    assert listing(db_path.parent) == before


def test_failing_migration_rolls_back_entirely_and_reruns_once_fixed(
    schema_copy: Path, opened: Database, db_path: Path
) -> None:
    migrate(opened, schema_dir=schema_copy)
    broken: dict[str, Any] = {
        "version": NEXT,
        "name": "notes",
        "operations": [
            {"op": "create_table", "table": "notes", "columns": [{"name": "body", "type": "text"}]},
            {
                "op": "sql",
                "sqlite": ["INSERT INTO notes (body) VALUES ('a')", "NOT SQL"],
                "postgresql": [],
            },
        ],
        "snapshot": json.loads((schema_copy / "schema.json").read_text()),
    }
    path = schema_copy / "migrations" / f"{NEXT:04d}_notes.json"
    path.write_text(json.dumps(broken))

    with pytest.raises(MigrationFailed, match=f"{NEXT:04d}_notes"):
        migrate(opened, schema_dir=schema_copy)

    assert rows(db_path, "SELECT name FROM sqlite_master WHERE name = 'notes'") == []
    assert records(db_path) == SHIPPED_RECORDS

    # Statements run verbatim: ':' and '%' are not parameters, ';' in a
    # trigger body does not split it.
    broken["operations"][1]["sqlite"] = [
        "INSERT INTO notes (body) VALUES ('at 10:30, 100%')",
        "CREATE TRIGGER notes_copy AFTER INSERT ON notes BEGIN "
        "INSERT INTO settings (key, value) VALUES ('note:' || NEW.body, ';'); END",
    ]
    path.write_text(json.dumps(broken))
    report = migrate(opened, schema_dir=schema_copy)

    assert [r.label for r in report.applied] == [f"{NEXT:04d}_notes"]
    assert rows(db_path, "SELECT body FROM notes") == [("at 10:30, 100%",)]
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO notes (body) VALUES ('b')")
    conn.commit()
    conn.close()
    assert rows(db_path, "SELECT key, value FROM settings") == [("note:b", ";")]


# --- dry runs ----------------------------------------------------------------


def pending_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("pending ")]


def test_dry_run_on_a_missing_file_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no" / "such" / "idumb.db"

    assert migrate_command(url(missing), dry_run=True) == 0

    assert pending_lines(capsys.readouterr().out) == [f"pending {label}" for label in LABELS]
    assert not (tmp_path / "no").exists()
    proc = run_main("migrate", "--dry-run", "--project-dir", str(tmp_path / "p"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert pending_lines(proc.stdout) == [f"pending {label}" for label in LABELS]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_dry_run_on_an_existing_file_lists_pending_without_writing(
    schema_copy: Path, opened: Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate(opened, schema_dir=schema_copy)
    opened.close()
    add_settings_column(schema_copy, {"name": "scope", "type": "text"})
    generate("settings_scope", schema_copy)
    before = listing(db_path.parent)

    report = status(url(db_path), schema_dir=schema_copy)
    assert migrate_command(url(db_path), dry_run=True, schema_dir=schema_copy) == 0

    assert (report.version, [r.label for r in report.pending]) == (
        LAST,
        [f"{NEXT:04d}_settings_scope"],
    )
    assert pending_lines(capsys.readouterr().out) == [f"pending {NEXT:04d}_settings_scope"]
    assert listing(db_path.parent) == before


def test_dry_run_reads_through_the_wal_of_a_database_in_use(
    opened: Database, db_path: Path
) -> None:
    migrate(opened)  # still open: its changes may sit in the -wal file only
    names = sorted(p.name for p in db_path.parent.iterdir())
    main_file = sha256(db_path)

    report = status(url(db_path))

    assert (report.version, report.pending) == (LAST, ())
    assert sorted(p.name for p in db_path.parent.iterdir()) == names
    assert sha256(db_path) == main_file


def test_dry_run_on_a_drizzle_file_says_it_would_adopt(db_path: Path) -> None:
    make_drizzle_file(db_path, with_migrations_table=True)
    before = listing(db_path.parent)

    report = status(url(db_path))

    assert (report.adopted, report.version, [r.label for r in report.pending]) == (
        True,
        0,
        LABELS[1:],
    )
    assert listing(db_path.parent) == before


# --- PostgreSQL ----------------------------------------------------------------


def pg_rows(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    database = Database(database_url)
    try:
        with database.transaction(write=False) as db:
            return [tuple(r.values()) for r in db.query(sql)]
    finally:
        database.close()


def test_postgres_gets_the_same_tables_with_64_bit_integers(pg_url: str) -> None:
    database = Database(pg_url)
    try:
        report = migrate(database)
        again = migrate(database)
    finally:
        database.close()

    assert ([r.label for r in report.applied], report.version) == (LABELS, LAST)
    assert (again.applied, again.version) == ((), LAST)
    columns = pg_rows(
        pg_url,
        "SELECT table_name, column_name, data_type, is_nullable, is_identity "
        "FROM information_schema.columns WHERE table_schema = current_schema() "
        "ORDER BY table_name, ordinal_position",
    )
    # Tables other than these are the daemon's own (the change log).
    known = ("__idumb_migrations", "settings", "workspace_config", "workspace_settings")
    assert [c[0] for c in columns if c[0] not in known and not is_own(c[0])] == []
    assert [c for c in columns if c[0] in known] == [
        ("__idumb_migrations", "version", "bigint", "NO", "NO"),
        ("__idumb_migrations", "name", "text", "NO", "NO"),
        ("__idumb_migrations", "checksum", "text", "NO", "NO"),
        ("__idumb_migrations", "applied_at", "bigint", "NO", "NO"),
        ("settings", "id", "bigint", "NO", "YES"),
        ("settings", "key", "text", "NO", "NO"),
        ("settings", "value", "text", "NO", "NO"),
        ("settings", "updated_at", "bigint", "YES", "NO"),
        ("workspace_config", "id", "bigint", "NO", "YES"),
        ("workspace_config", "project_dir", "text", "NO", "NO"),
        ("workspace_config", "name", "text", "YES", "NO"),
        ("workspace_config", "last_opened", "bigint", "YES", "NO"),
        ("workspace_config", "config", "text", "YES", "NO"),
        ("workspace_settings", "id", "bigint", "NO", "YES"),
        ("workspace_settings", "project_dir", "text", "NO", "NO"),
        ("workspace_settings", "key", "text", "NO", "NO"),
        ("workspace_settings", "value", "text", "NO", "NO"),
        ("workspace_settings", "updated_at", "bigint", "YES", "NO"),
    ]
    indexes = pg_rows(
        pg_url,
        "SELECT tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = current_schema() AND indexname NOT LIKE '%pkey' ORDER BY indexname",
    )
    assert [(name, "UNIQUE" in ddl) for table, name, ddl in indexes if table in known] == [
        ("settings_key_unique", True),
        ("workspace_config_project_dir_unique", True),
        ("workspace_settings_project_dir_key_unique", True),
    ]
    assert [i for i in indexes if i[0] not in known and not is_own(i[0])] == []
    triggers = pg_rows(
        pg_url,
        "SELECT DISTINCT trigger_name FROM information_schema.triggers "
        "WHERE trigger_schema = current_schema()",
    )
    assert [name for (name,) in triggers if not is_own(name)] == []
    assert (
        pg_rows(pg_url, "SELECT version, name, checksum FROM __idumb_migrations ORDER BY version")
        == SHIPPED_RECORDS
    )


def test_postgres_processes_starting_together_migrate_once(pg_url: str) -> None:
    results = race(pg_url, 2)

    assert sorted(v for r in results for v in r["applied"]) == VERSIONS
    assert [r["version"] for r in results] == [LAST, LAST]
    assert pg_rows(pg_url, "SELECT version FROM __idumb_migrations ORDER BY version") == [
        (v,) for v in VERSIONS
    ]


def test_postgres_failing_migration_rolls_back(schema_copy: Path, pg_url: str) -> None:
    broken = {
        "version": NEXT,
        "name": "notes",
        "operations": [
            {"op": "create_table", "table": "notes", "columns": [{"name": "body", "type": "text"}]},
            {
                "op": "sql",
                "sqlite": [],
                "postgresql": ["INSERT INTO notes VALUES ('a')", "NOT SQL"],
            },
        ],
        "snapshot": json.loads((schema_copy / "schema.json").read_text()),
    }
    (schema_copy / "migrations" / f"{NEXT:04d}_notes.json").write_text(json.dumps(broken))
    database = Database(pg_url)
    try:
        with pytest.raises(MigrationFailed, match=f"{NEXT:04d}_notes"):
            migrate(database, schema_dir=schema_copy)
    finally:
        database.close()

    assert pg_rows(pg_url, "SELECT to_regclass('notes') IS NULL") == [(True,)]
    assert pg_rows(pg_url, "SELECT version FROM __idumb_migrations ORDER BY version") == [
        (v,) for v in VERSIONS
    ]


def test_postgres_tables_without_a_record_are_refused(pg_url: str) -> None:
    database = Database(pg_url)
    try:
        with database.transaction(write=True) as db:
            db.query("CREATE TABLE settings (id integer)")
        with pytest.raises(AdoptionRefused):
            migrate(database)
    finally:
        database.close()
    assert pg_rows(pg_url, "SELECT to_regclass('__idumb_migrations') IS NULL") == [(True,)]

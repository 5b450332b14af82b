"""Applying migrations and reporting the schema version of a database.

Each migration runs in its own write transaction together with its record in
`__idumb_migrations`, so it is applied entirely or not at all. The applied
versions are read again after the write lock is taken (BEGIN IMMEDIATE on
SQLite, an advisory lock on PostgreSQL): of two daemons starting at once on
one database, the second finds the work done.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import attrs
import dataset

from idumb_daemon.migrations import files
from idumb_daemon.migrations.introspect import sqlite_differences
from idumb_daemon.migrations.model import Column, Migration, Table
from idumb_daemon.migrations.render import Dialect, create_table_sql, render
from idumb_daemon.storage.database import Database, open_read_only, sqlite_path, translate_errors
from idumb_daemon.storage.errors import FatalStorageError, SchemaTooNew, StorageError
from idumb_daemon.storage.sql import rows, run, table_names, verbatim

RECORD_TABLE = "__idumb_migrations"
RECORD_SCHEMA = Table(
    RECORD_TABLE,
    (
        Column("version", "integer", not_null=True, primary_key=True),
        Column("name", "text", not_null=True),
        Column("checksum", "text", not_null=True),
        Column("applied_at", "integer", not_null=True),
    ),
)
# pg_advisory_xact_lock takes a bigint; any constant other tools are unlikely to use.
_PG_LOCK_KEY = int.from_bytes(hashlib.sha256(RECORD_TABLE.encode()).digest()[:8], signed=True)


class MigrationChecksumMismatch(FatalStorageError):
    """An applied migration's file has changed since: refuse to start (exit 3)."""

    def __init__(self, version: int, name: str) -> None:
        super().__init__(
            f"migration {version:04d}_{name} was applied to this database but its file "
            "has changed since; restore the original file"
        )
        self.version = version
        self.name = name


class AdoptionRefused(Exception):
    """The database has the declared tables, no migration record, and a shape
    other than version 1's: it was not made by drizzle-kit from the same schema,
    and guessing how to bring it in line could lose data."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "the database has tables of idumb but no record in "
            f"{RECORD_TABLE}, and they differ from schema version 1: " + "; ".join(problems)
        )
        self.problems = problems


class MigrationFailed(Exception):
    """A migration's statements failed; its transaction was rolled back."""

    def __init__(self, migration: Migration, cause: BaseException) -> None:
        super().__init__(f"migration {migration.label} failed and was rolled back: {cause}")
        self.version = migration.version
        self.name = migration.name


@attrs.frozen
class MigrationRef:
    version: int
    name: str

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


@attrs.frozen
class MigrationReport:
    supported_version: int
    """The last migration this daemon knows."""
    previous_version: int
    """The version recorded before this call; 0 for none."""
    version: int
    """The version recorded after this call (unchanged by a dry run)."""
    applied: tuple[MigrationRef, ...]
    """Migrations this call ran."""
    pending: tuple[MigrationRef, ...]
    """Migrations still to run: empty after a real run."""
    adopted: bool
    """Tables made by drizzle-kit were (or, in a dry run, would be) recorded as
    version 1 without running it."""
    dry_run: bool


@attrs.frozen
class _State:
    version: int
    has_record_table: bool
    adopt: bool
    pending: tuple[Migration, ...]


def _ref(migration: Migration) -> MigrationRef:
    return MigrationRef(migration.version, migration.name)


def _dialect(db: dataset.Database) -> Dialect:
    if db.is_sqlite:
        return "sqlite"
    if db.is_postgres:
        return "postgresql"
    raise ValueError(f"unsupported database: {db.engine.dialect.name if db.engine else db}")


def _read_state(db: dataset.Database, migrations: tuple[Migration, ...]) -> _State:
    """Where the database stands; raises when it must not be migrated."""
    names = table_names(db)
    has_record_table = RECORD_TABLE in names
    records = (
        rows(db, f"SELECT version, checksum FROM {RECORD_TABLE} ORDER BY version")
        if has_record_table
        else []
    )
    supported = len(migrations)
    if records and int(records[-1]["version"]) > supported:
        raise SchemaTooNew(int(records[-1]["version"]), supported)
    for record in records:
        migration = migrations[int(record["version"]) - 1]
        if record["checksum"] != migration.checksum:
            raise MigrationChecksumMismatch(migration.version, migration.name)
    if records:
        done = {int(r["version"]) for r in records}
        pending = tuple(m for m in migrations if m.version not in done)
        return _State(int(records[-1]["version"]), has_record_table, False, pending)
    if not migrations or not any(t.name in names for t in migrations[0].snapshot.tables):
        return _State(0, has_record_table, False, migrations)
    _check_adoptable(db, migrations[0], names)
    return _State(0, has_record_table, True, migrations[1:])


def _check_adoptable(db: dataset.Database, first: Migration, names: set[str]) -> None:
    if not db.is_sqlite:
        raise AdoptionRefused(["only SQLite files made by drizzle-kit are adopted"])
    problems: list[str] = []
    for table in first.snapshot.tables:
        if table.name in names:
            problems.extend(sqlite_differences(db, table))
        else:
            problems.append(f"table {table.name} is missing")
    if problems:
        raise AdoptionRefused(problems)


def _record(db: dataset.Database, migration: Migration) -> None:
    run(
        db,
        f"INSERT INTO {RECORD_TABLE} (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
        (migration.version, migration.name, migration.checksum, int(time.time())),
    )


def _apply(db: dataset.Database, migration: Migration) -> None:
    dialect = _dialect(db)
    try:
        for op in migration.operations:
            for statement in render(op, dialect):
                verbatim(db, statement)
    except StorageError:
        raise
    except Exception as exc:
        raise MigrationFailed(migration, exc) from exc
    _record(db, migration)


def _report(
    migrations: tuple[Migration, ...], previous: int, state: _State, *, dry_run: bool
) -> MigrationReport:
    return MigrationReport(
        supported_version=len(migrations),
        previous_version=previous,
        version=state.version,
        applied=(),
        pending=tuple(_ref(m) for m in state.pending),
        adopted=state.adopt,
        dry_run=dry_run,
    )


def migrate(
    database: Database, *, dry_run: bool = False, schema_dir: Path | None = None
) -> MigrationReport:
    """Bring the database to the last known version, or with `dry_run` only
    say what that would do.

    Raises SchemaTooNew (nothing written), MigrationChecksumMismatch,
    AdoptionRefused, MigrationFailed, SchemaFileError or a StorageError.
    """
    migrations = files.load_migrations(files.schema_source(schema_dir))
    with database.transaction(write=False) as db:
        state = _read_state(db, migrations)
    previous = state.version
    if dry_run or not (state.adopt or state.pending):
        return _report(migrations, previous, state, dry_run=dry_run)

    applied: list[MigrationRef] = []
    adopted = False
    while True:
        with database.transaction(write=True) as db:
            if db.is_postgres:
                run(db, "SELECT pg_advisory_xact_lock(?)", (_PG_LOCK_KEY,))
            state = _read_state(db, migrations)
            if not (state.adopt or state.pending):
                break
            if not state.has_record_table:
                verbatim(db, create_table_sql(RECORD_SCHEMA, _dialect(db)))
            if state.adopt:
                _record(db, migrations[0])
                adopted = True
            else:
                _apply(db, state.pending[0])
                applied.append(_ref(state.pending[0]))
    return attrs.evolve(
        _report(migrations, previous, state, dry_run=False),
        applied=tuple(applied),
        adopted=adopted,
    )


def status(url: str, *, schema_dir: Path | None = None) -> MigrationReport:
    """What `migrate` would do to the database at `url`, without creating or
    changing any file: a missing SQLite file has every migration pending."""
    path = sqlite_path(url)
    if path is None:
        database = Database(url)
        try:
            return migrate(database, dry_run=True, schema_dir=schema_dir)
        finally:
            database.close()
    migrations = files.load_migrations(files.schema_source(schema_dir))
    if not path.exists():
        return _report(migrations, 0, _State(0, False, False, migrations), dry_run=True)
    with translate_errors():
        db = open_read_only(path)
        try:
            state = _read_state(db, migrations)
        finally:
            db.close()
    return _report(migrations, state.version, state, dry_run=True)

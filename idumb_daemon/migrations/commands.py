"""The `schema generate`, `schema check` and `migrate` subcommands, for the CLI
to call. Each returns the exit status; results go to stdout, failures to
stderr (these are commands, not the daemon, so stdout is free)."""

from __future__ import annotations

import sys
from pathlib import Path

from idumb_daemon.migrations import files
from idumb_daemon.migrations.generate import NoChanges, UnsupportedChange, check, generate
from idumb_daemon.migrations.model import SchemaFileError
from idumb_daemon.migrations.runner import (
    AdoptionRefused,
    MigrationChecksumMismatch,
    MigrationFailed,
    MigrationReport,
    migrate,
    status,
)
from idumb_daemon.storage.database import Database, safe_url
from idumb_daemon.storage.errors import SchemaTooNew, StorageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CHECKSUM_MISMATCH = 3
"""STORAGE.md: an applied migration whose file changed stops the daemon with 3."""


def _fail(message: object, status_code: int = EXIT_FAILED) -> int:
    print(f"idumb-daemon: {message}", file=sys.stderr)
    return status_code


def schema_generate(name: str, schema_dir: Path | None = None, *, custom: bool = False) -> int:
    try:
        path = generate(name, files.schema_dir(schema_dir), custom=custom)
    except NoChanges as exc:
        print(exc, file=sys.stderr)
        return EXIT_OK
    except (UnsupportedChange, SchemaFileError, ValueError, FileExistsError) as exc:
        return _fail(exc)
    print(f"wrote {path}")
    return EXIT_OK


def schema_check(schema_dir: Path | None = None) -> int:
    try:
        differences = check(files.schema_dir(schema_dir))
    except SchemaFileError as exc:
        return _fail(exc)
    if differences:
        listed = "".join(f"\n  - {d}" for d in differences)
        return _fail(
            "the declared schema differs from the last migration's:"
            f"{listed}\nrun `idumb-daemon schema generate NAME` and commit the migration"
        )
    print("schema in sync with the last migration")
    return EXIT_OK


def _print_report(url: str, report: MigrationReport) -> None:
    print(f"database: {safe_url(url)}")
    print(f"schema version: {report.version} (this daemon knows {report.supported_version})")
    if report.adopted:
        verb = "would adopt" if report.dry_run else "adopted"
        print(f"{verb} the existing tables as 0001 without running it")
    for ref in report.applied:
        print(f"applied {ref.label}")
    for ref in report.pending:
        print(f"pending {ref.label}")
    if not (report.adopted or report.applied or report.pending):
        print("up to date")


def migrate_command(url: str, dry_run: bool, schema_dir: Path | None = None) -> int:
    try:
        if dry_run:
            report = status(url, schema_dir=schema_dir)
        else:
            database = Database(url)
            try:
                report = migrate(database, schema_dir=schema_dir)
            finally:
                database.close()
    except MigrationChecksumMismatch as exc:
        return _fail(exc, EXIT_CHECKSUM_MISMATCH)
    except (
        SchemaTooNew,
        AdoptionRefused,
        MigrationFailed,
        SchemaFileError,
        StorageError,
        OSError,
    ) as exc:
        return _fail(exc)
    _print_report(url, report)
    return EXIT_OK

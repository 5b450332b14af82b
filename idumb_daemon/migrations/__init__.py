"""The versioned schema: the declared schema and numbered migrations in
schema/, applied to a database and recorded in `__idumb_migrations`."""

from idumb_daemon.migrations.files import schema_dir
from idumb_daemon.migrations.generate import NoChanges, UnsupportedChange, check, generate
from idumb_daemon.migrations.model import SchemaFileError
from idumb_daemon.migrations.runner import (
    AdoptionRefused,
    MigrationChecksumMismatch,
    MigrationFailed,
    MigrationRef,
    MigrationReport,
    migrate,
    status,
)

__all__ = [
    "AdoptionRefused",
    "MigrationChecksumMismatch",
    "MigrationFailed",
    "MigrationRef",
    "MigrationReport",
    "NoChanges",
    "SchemaFileError",
    "UnsupportedChange",
    "check",
    "generate",
    "migrate",
    "schema_dir",
    "status",
]

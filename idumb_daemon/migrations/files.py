"""Finding and reading schema/: the declared schema and the numbered migrations."""

from __future__ import annotations

import hashlib
import json
import re
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import attrs

import idumb_daemon
from idumb_daemon.migrations.model import (
    Migration,
    Schema,
    SchemaFileError,
    parse_migration,
    parse_schema,
)

SCHEMA_FILE = "schema.json"
MIGRATIONS_DIR = "migrations"
MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.json$")


def schema_dir(override: Path | None = None) -> Path:
    """The schema/ folder: the given one, else the copy inside the installed
    package, else the one at the root of the source tree beside the package."""
    if override is not None:
        return override
    package = Path(idumb_daemon.__file__).parent
    for candidate in (package / "schema", package.parent / "schema"):
        if (candidate / SCHEMA_FILE).is_file():
            return candidate
    raise SchemaFileError(f"no schema/ folder beside {package}")


def schema_source(override: Path | None = None) -> Traversable:
    """The schema/ folder to read: `schema_dir`'s, or inside the archive when the
    package runs from one (`idumb-daemon bundle`), where no folder is on disk."""
    try:
        return schema_dir(override)
    except SchemaFileError:
        inside = files(idumb_daemon) / "schema"
        if (inside / SCHEMA_FILE).is_file():
            return inside
        raise


def _read_json(path: Traversable) -> tuple[object, bytes]:
    try:
        data = path.read_bytes()
    except (OSError, KeyError) as exc:
        raise SchemaFileError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        return json.loads(data), data
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaFileError(f"{path}: not valid JSON: {exc}") from exc


def load_declared(folder: Traversable) -> Schema:
    path = folder / SCHEMA_FILE
    raw, _ = _read_json(path)
    return parse_schema(raw, str(path))


def load_migrations(folder: Traversable) -> tuple[Migration, ...]:
    """All migrations in order, numbered 1, 2, ... without gaps."""
    where = folder / MIGRATIONS_DIR
    listed = where.iterdir() if where.is_dir() else iter(())
    found = sorted((p for p in listed if p.name.endswith(".json")), key=lambda p: p.name)
    migrations = []
    for expected, path in enumerate(found, start=1):
        match = MIGRATION_FILE.match(path.name)
        if match is None:
            raise SchemaFileError(f"{path}: name is not NNNN_lowercase_name.json")
        if int(match[1]) != expected:
            raise SchemaFileError(f"{path}: expected migration {expected:04d} here")
        raw, data = _read_json(path)
        migration = parse_migration(raw, str(path))
        if (migration.version, migration.name) != (expected, match[2]):
            raise SchemaFileError(f"{path}: version or name differs from the file name")
        migrations.append(attrs.evolve(migration, checksum=hashlib.sha256(data).hexdigest()))
    return tuple(migrations)

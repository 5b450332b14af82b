"""`idumb-daemon schema export --format drizzle` (issue 17, one schema in two
languages): the printed schema.ts compiles under `tsc --strict` with drizzle-orm,
and `drizzle-kit generate` on it makes the very tables the daemon's migrations
make. Both databases are real SQLite files, compared through sqlite_master and
the pragmas; the daemon's own `__idumb_` tables are not the app's business.

Node and the packages of tests/drizzle (its package-lock.json) are needed: the
test skips without node locally, never under CI=true."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

import pytest

from idumb_daemon.migrations import drizzle, files
from tests.wire import REPO, daemon_env

DRIZZLE_DIR = REPO / "tests" / "drizzle"
NPM_WAIT = 300.0
TOOL_WAIT = 180.0
TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "target": "ES2022",
        "module": "commonjs",
        "moduleResolution": "node",
        "types": [],
        # drizzle-orm's declarations of other dialects need their drivers' types;
        # schema.ts itself is fully checked.
        "skipLibCheck": True,
    },
    "files": ["schema.ts"],
}


def _missing_tool(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI must run the drizzle comparison")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """tests/drizzle/node_modules, installed from its package-lock.json if missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing_tool("node or npm is not installed")
    modules = DRIZZLE_DIR / "node_modules"
    if not (modules / ".bin" / "drizzle-kit").exists() or not (modules / "drizzle-orm").is_dir():
        installed = subprocess.run(
            [npm, "ci", "--prefix", str(DRIZZLE_DIR), "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=NPM_WAIT,
        )
        assert installed.returncode == 0, installed.stdout + installed.stderr
    return modules


def export(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "idumb_daemon", "schema", "export", *args],
        capture_output=True,
        text=True,
        env=daemon_env(),
        timeout=60,
    )


def shape(db: Path) -> dict[str, Any]:
    """Every product table: its columns (pragma table_info), whether its key
    autoincrements, its indexes by name with uniqueness and columns."""
    with sqlite3.connect(db) as conn:
        tables = [
            (name, sql)
            for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type='table'")
            if not name.startswith((drizzle.INTERNAL_PREFIX, "sqlite_"))
        ]
        out: dict[str, Any] = {}
        for name, sql in sorted(tables):
            columns = [
                (col, kind.lower(), notnull, default, pk)
                for _, col, kind, notnull, default, pk in conn.execute(
                    f"PRAGMA table_info('{name}')"
                )
            ]
            indexes = {
                index: (
                    unique,
                    origin,
                    [c for _, _, c in conn.execute(f"PRAGMA index_info('{index}')")],
                )
                for _, index, unique, origin, _ in conn.execute(f"PRAGMA index_list('{name}')")
            }
            out[name] = {
                "columns": columns,
                "autoincrement": "AUTOINCREMENT" in sql.upper(),
                "indexes": indexes,
            }
    return out


def test_the_export_holds_the_product_tables_only() -> None:
    done = export("--format", "drizzle")
    assert done.returncode == 0, done.stderr
    declared = files.load_declared(files.schema_source())
    for table in declared.tables:
        listed = f'sqliteTable(\n  "{table.name}",' in done.stdout
        assert listed is not table.name.startswith(drizzle.INTERNAL_PREFIX), table.name
        for index in table.indexes:
            assert f'"{index.name}"' in done.stdout
    assert 'from "drizzle-orm/sqlite-core"' in done.stdout


def test_an_unknown_format_is_refused() -> None:
    done = export("--format", "prisma")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr


@pytest.mark.timeout(NPM_WAIT + 2 * TOOL_WAIT + 60)
def test_drizzle_kit_makes_the_tables_the_migrations_make(
    node_modules: Path, tmp_path: Path
) -> None:
    work = tmp_path / "app"
    work.mkdir()
    (work / "node_modules").symlink_to(node_modules)
    done = export("--format", "drizzle")
    assert done.returncode == 0, done.stderr
    (work / "schema.ts").write_text(done.stdout, encoding="utf-8")
    (work / "tsconfig.json").write_text(json.dumps(TSCONFIG), encoding="utf-8")

    compiled = subprocess.run(
        [str(node_modules / ".bin" / "tsc"), "-p", "tsconfig.json"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=TOOL_WAIT,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr

    generated = subprocess.run(
        [
            str(node_modules / ".bin" / "drizzle-kit"),
            "generate",
            "--dialect",
            "sqlite",
            "--schema",
            "./schema.ts",
            "--out",
            "./drizzle",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=TOOL_WAIT,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    migrations = sorted((work / "drizzle").glob("*.sql"))
    assert len(migrations) == 1, generated.stdout
    from_drizzle = tmp_path / "drizzle.db"
    with sqlite3.connect(from_drizzle) as conn:
        conn.executescript(migrations[0].read_text(encoding="utf-8"))

    from_daemon = tmp_path / "daemon.db"
    migrated = subprocess.run(
        [sys.executable, "-m", "idumb_daemon", "migrate", "--db", str(from_daemon)],
        capture_output=True,
        text=True,
        env=daemon_env(),
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stderr

    ours, theirs = shape(from_daemon), shape(from_drizzle)
    declared = files.load_declared(files.schema_source())
    product = {t.name for t in declared.tables if not t.name.startswith(drizzle.INTERNAL_PREFIX)}
    assert set(ours) == product
    assert theirs == ours

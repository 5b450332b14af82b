"""`idumb-daemon bundle` (issue 17, one file to ship): the .pyz runs with
`python3 -I -S` (no site-packages, no environment, nothing of the tree), serves
the protocol and runs the command line, which spawns its daemon from the same
archive."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.wire import Wire, daemon_env

# The interpreter the venv was made from: with -I -S it sees the standard library only.
PYTHON = str(
    Path(sys.base_prefix, "bin", f"python{sys.version_info.major}.{sys.version_info.minor}")
)
ISOLATED = [PYTHON, "-I", "-S"]


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Away from the tree, so nothing beside the file could be imported by accident.
    path = tmp_path_factory.mktemp("ship") / "idumb-daemon.pyz"
    built = subprocess.run(
        [sys.executable, "-m", "idumb_daemon", "bundle", "--output", str(path)],
        capture_output=True,
        text=True,
        env=daemon_env(),
        timeout=110,
    )
    assert built.returncode == 0, built.stderr
    return path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ISOLATED, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_nothing_is_installed_for_the_isolated_interpreter(tmp_path: Path) -> None:
    for module in ("idumb_daemon", "sqlalchemy", "pygls"):
        found = run("-c", f"import {module}", cwd=tmp_path)
        assert found.returncode == 1, module
        assert "ModuleNotFoundError" in found.stderr


def test_the_archive_is_pure_python_with_bytecode_and_schema(pyz: Path) -> None:
    with zipfile.ZipFile(pyz) as archive:
        names = set(archive.namelist())
    assert "__main__.py" in names
    assert "idumb_daemon/schema/schema.json" in names
    assert any(n.startswith("idumb_daemon/schema/migrations/0001_") for n in names)
    for package in ("pygls", "lsprotocol", "dataset", "sqlalchemy", "cattrs", "attr", "alembic"):
        assert f"{package}/__init__.py" in names, package
        assert f"{package}/__init__.pyc" in names, package
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dylib"))]
    assert pyz.read_bytes().startswith(b"#!/usr/bin/env python3\n")


def test_set_and_get_with_python_isolated(pyz: Path, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    stored = run(str(pyz), "settings", "set", "--db", str(db), "editor.theme", "dark", cwd=tmp_path)
    assert stored.returncode == 0, stored.stderr
    got = run(str(pyz), "settings", "get", "--db", str(db), "editor.theme", cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert got.stdout == "dark\n"


def test_serve_over_stdio_with_python_isolated(pyz: Path, tmp_path: Path) -> None:
    wire = Wire(["--db", str(tmp_path / "b.db")], command=[*ISOLATED, str(pyz), "serve"])
    try:
        init = wire.result("initialize", {"processId": None})
        assert init["serverInfo"]["name"] == "idumb-daemon"
        wire.notify("initialized", {})
        assert wire.result("settings/set", {"key": "k", "value": "v"})["value"] == "v"
        assert wire.result("settings/get", {"key": "k"})["value"] == "v"
        status = wire.result("daemon/status", {})
        assert status["schemaVersion"] is not None
        assert wire.result("shutdown") is None
        wire.notify("exit")
        assert wire.wait() == 0
    finally:
        wire.kill()

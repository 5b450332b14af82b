"""The test tiers (tests/conftest.py TIERS): every module is in one, the markers
select what they say, and a module in no tier stops the run before any test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import TIERS
from tests.wire import daemon_env

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"


def collect(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *args],
        cwd=cwd,
        env=daemon_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def node_ids(output: str) -> list[str]:
    return [line for line in output.splitlines() if "::" in line]


def test_every_module_has_a_tier_and_every_tier_entry_a_module() -> None:
    modules = {path.stem for path in TESTS.glob("test_*.py")}
    assert modules == set(TIERS)
    assert set(TIERS.values()) == {"unit", "e2e", "reliability", "tooling"}


def test_a_marker_selects_its_modules_only() -> None:
    done = collect("-m", "unit")
    assert done.returncode == 0, done.stdout + done.stderr
    selected = {node.partition("::")[0].removeprefix("tests/") for node in node_ids(done.stdout)}
    assert selected == {f"{name}.py" for name, tier in TIERS.items() if tier == "unit"}


def test_postgres_marks_the_tests_on_the_postgresql_server() -> None:
    done = collect("-m", "postgres and e2e")
    assert done.returncode == 0, done.stdout + done.stderr
    selected = node_ids(done.stdout)
    assert "tests/test_postgres.py::" in "".join(selected)
    # Parametrised over both backends: only the PostgreSQL half is selected.
    backends = [node for node in selected if "[sqlite" in node or "[postgresql" in node]
    assert backends and all("[postgresql" in node for node in backends)


def test_a_module_in_no_tier_fails_collection(tmp_path: Path) -> None:
    copy = tmp_path / "tests"
    copy.mkdir()
    for name in ("__init__.py", "conftest.py", "pg.py", "wire.py"):
        shutil.copy(TESTS / name, copy / name)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (copy / "test_unlisted.py").write_text("def test_anything() -> None:\n    assert True\n")
    done = collect("tests", cwd=tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "test modules in no tier: test_unlisted" in done.stderr

"""Layers import one way (issue 13): read from the source with `ast`, every
import of the package is checked against the direction, whether at the top of
a module, inside a function or under TYPE_CHECKING.

Upper to lower: cli, client -> protocol -> watcher, worker -> storage;
migrations -> storage; codegen -> contracts; contracts imports nothing of the
daemon. The package root (`idumb_daemon`, which only holds `__version__`)
may be imported by any, and a `__main__` module (a `python -m` entry point)
may import the command line.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "idumb_daemon"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

EVERYTHING = frozenset(
    {
        "cli",
        "client",
        "codegen",
        "contracts",
        "migrations",
        "protocol",
        "storage",
        "watcher",
        "worker",
        "__main__",
    }
)
MAY_IMPORT: dict[str, frozenset[str]] = {
    "contracts": frozenset(),
    "storage": frozenset({"contracts"}),
    "migrations": frozenset({"storage", "contracts"}),
    "worker": frozenset({"storage", "contracts"}),
    "watcher": frozenset({"worker", "storage", "contracts"}),
    # The server's factory gives storage its migration step: protocol is above
    # migrations too.
    "protocol": frozenset({"watcher", "worker", "storage", "migrations", "contracts"}),
    "codegen": frozenset({"contracts"}),
    "client": frozenset({"protocol", "contracts"}),
    "cli": EVERYTHING - {"__main__", "cli"},
    "__main__": frozenset({"cli"}),
}


def component(module: str) -> str | None:
    """The layer a dotted module of the package belongs to; None for the
    package root itself and for modules outside the package."""
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) == 1:
        return None
    return parts[1]


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) for every import in the file, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source == PACKAGE:
                # `from idumb_daemon import storage` imports the subpackage;
                # `from idumb_daemon import __version__` only the root.
                for alias in node.names:
                    sub = ROOT / alias.name
                    is_module = sub.is_dir() or sub.with_suffix(".py").exists()
                    yield node.lineno, f"{PACKAGE}.{alias.name}" if is_module else PACKAGE
            else:
                yield node.lineno, source


def sources() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def violations() -> list[str]:
    found = []
    for path in sources():
        own = component(module_name(path))
        if own is None:
            continue
        for line, module in imported(path):
            target = component(module)
            if target is None or target == own:
                continue
            if path.stem == "__main__" and target == "cli":
                continue
            if target not in MAY_IMPORT.get(own, frozenset()):
                found.append(f"{path.relative_to(ROOT.parent)}:{line}: {own} imports {module}")
    return found


def test_every_part_of_the_package_has_a_place_in_the_layers() -> None:
    parts = {component(module_name(path)) for path in sources()} - {None}
    assert parts <= MAY_IMPORT.keys(), f"place these in MAY_IMPORT: {parts - MAY_IMPORT.keys()}"


def test_no_import_goes_against_the_direction_of_the_layers() -> None:
    assert violations() == []


SQL_RUNNER = ROOT / "storage" / "sql.py"
SQL_CALLS = frozenset({"execute", "executemany", "executescript", "query", "exec_driver_sql"})


def test_every_statement_runs_through_the_one_sql_runner() -> None:
    stray = [
        f"{path.relative_to(ROOT.parent)}:{node.lineno}: .{node.func.attr}()"
        for path in sources()
        if path != SQL_RUNNER
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SQL_CALLS
    ]
    assert stray == []


@pytest.mark.parametrize(
    "source, line, allowed",
    [
        ("idumb_daemon/storage/store.py", "from idumb_daemon import migrations", False),
        ("idumb_daemon/storage/changes.py", "from ..protocol import errors", False),
        ("idumb_daemon/storage/changes.py", "from . import sql", True),
        ("idumb_daemon/contracts.py", "from idumb_daemon.storage import errors", False),
        ("idumb_daemon/worker.py", "import idumb_daemon.watcher", False),
        ("idumb_daemon/migrations/runner.py", "from idumb_daemon.storage.sql import run", True),
        ("idumb_daemon/protocol/server.py", "from idumb_daemon.cli import main", False),
        ("idumb_daemon/cli/serve.py", "from idumb_daemon.protocol import server", True),
        ("idumb_daemon/migrations/__main__.py", "from idumb_daemon.cli.schema import main", True),
        ("idumb_daemon/migrations/runner.py", "from idumb_daemon.cli.schema import main", False),
        ("idumb_daemon/codegen/walk.py", "from idumb_daemon import __version__", True),
    ],
)
def test_the_check_reads_each_form_of_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, line: str, allowed: bool
) -> None:
    # A package of one file (and the folders of its parts, empty), checked as
    # the real one is.
    for part in EVERYTHING:
        (tmp_path / PACKAGE / part).mkdir(parents=True)
    path = tmp_path / source
    path.parent.mkdir(parents=True, exist_ok=True)
    for folder in path.relative_to(tmp_path).parents:
        if folder.parts:
            (tmp_path / folder / "__init__.py").touch()
    path.write_text(line + "\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path / PACKAGE)
    assert (violations() == []) is allowed, violations()


# Storage knows nothing of JSON-RPC; the protocol layer knows nothing of SQL.
FOREIGN: dict[str, frozenset[str]] = {
    "storage": frozenset({"pygls", "lsprotocol"}),
    "migrations": frozenset({"pygls", "lsprotocol"}),
    "contracts": frozenset({"pygls", "sqlite3", "psycopg", "dataset", "sqlalchemy"}),
    "protocol": frozenset({"sqlite3", "psycopg", "dataset", "sqlalchemy"}),
}


def test_storage_speaks_no_json_rpc_and_the_protocol_no_sql() -> None:
    found = [
        f"{path.relative_to(ROOT.parent)}:{line}: {own} imports {module}"
        for path in sources()
        if (own := component(module_name(path))) in FOREIGN
        for line, module in imported(path)
        if module.split(".")[0] in FOREIGN[own]
    ]
    assert found == []

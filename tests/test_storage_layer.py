"""Layers import one way: protocol -> worker -> storage; migrations use
storage. The storage operations and Storage itself import nothing above them
(the migration step is handed to Storage from protocol/server.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import idumb_daemon

STORAGE = Path(idumb_daemon.__file__).resolve().parent / "storage"
ABOVE = ("idumb_daemon.migrations", "idumb_daemon.protocol", "idumb_daemon.worker",
         "idumb_daemon.watcher", "idumb_daemon.cli", "idumb_daemon.client", "pygls")


def _imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


@pytest.mark.parametrize(
    "module", ["__init__.py", "store.py", "settings.py", "workspaces.py", "tx.py"]
)
def test_storage_imports_nothing_above_it(module: str) -> None:
    upward = [
        name for name in _imports(STORAGE / module)
        if any(name == up or name.startswith(up + ".") for up in ABOVE)
    ]
    assert upward == []

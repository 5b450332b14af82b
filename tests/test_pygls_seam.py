"""pygls gives no stability promise for the internals the daemon relies on:
an upgrade that changes one must fail here, loudly, not in production."""

from __future__ import annotations

import ast
from importlib import metadata
from pathlib import Path

import pytest

import idumb_daemon
from idumb_daemon.protocol import pygls_seam
from idumb_daemon.protocol.pygls_seam import JsonRPCProtocol, JsonRPCServer

PACKAGE = Path(idumb_daemon.__file__).resolve().parent


def test_the_installed_pygls_still_has_what_the_daemon_relies_on() -> None:
    assert pygls_seam.problems() == [], f"pygls {metadata.version('pygls')} changed the seam"


def test_the_seam_check_notices_a_change(monkeypatch: pytest.MonkeyPatch) -> None:
    def _send_data(self: JsonRPCProtocol, data: object, extra: object) -> None:
        return None

    monkeypatch.setattr(JsonRPCProtocol, "_send_data", _send_data)
    monkeypatch.delattr(JsonRPCProtocol, "_serialize_message")
    found = pygls_seam.problems()
    assert len(found) == 2
    assert "_send_data takes ('self', 'data', 'extra')" in found[0]
    assert "_serialize_message is no longer defined there" in found[1]


def test_the_server_builds_its_protocol_as_the_seam_says(tmp_path: Path) -> None:
    from idumb_daemon.protocol.server import create_server, open_storage

    server = create_server(open_storage(f"sqlite:///{tmp_path / 'idumb.db'}"))
    assert isinstance(server, JsonRPCServer)
    assert isinstance(server.protocol, JsonRPCProtocol)
    assert server.protocol.converter is not None


def test_nothing_else_imports_pygls() -> None:
    """The seam module is the one door to pygls."""
    importers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name == "pygls" or name.startswith("pygls.") for name in names):
                importers.append(path.relative_to(PACKAGE).as_posix())
    assert sorted(set(importers)) == ["protocol/pygls_seam.py"]

"""The method table is the one list of methods: registration, the Python
client, the fuzz lists and the generated contracts all follow it, and the
server refuses to start with a method that has no handler."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest

from idumb_daemon import client, contracts
from idumb_daemon.protocol.handlers import (
    daemon,
    declarations,
    handles,
    method_of,
    settings,
    workspace,
)
from idumb_daemon.protocol.server import AREAS, HandlerMissing, create_server, open_storage
from tests.test_reliability_fuzz import VALID

PACKAGE = Path(contracts.__file__).resolve().parent.parent


def _storage(tmp_path: Path) -> Any:
    # Never opened: registration needs no database.
    return open_storage(f"sqlite:///{tmp_path / 'idumb.db'}")


def test_every_method_of_the_table_gets_its_handler(tmp_path: Path) -> None:
    server = create_server(_storage(tmp_path))
    assert set(server.protocol.handlers) == set(contracts.METHODS)


@pytest.mark.parametrize("left_out", AREAS, ids=lambda area: area.__name__.rsplit(".", 1)[-1])
def test_a_method_without_a_handler_stops_the_server_from_starting(
    tmp_path: Path, left_out: ModuleType
) -> None:
    areas = tuple(area for area in AREAS if area is not left_out)
    orphans = [method_of(fn) for fn in vars(left_out).values() if method_of(fn) is not None]
    assert orphans, "an area with no handler proves nothing"
    with pytest.raises(HandlerMissing) as refused:
        create_server(_storage(tmp_path), areas)
    for method in orphans:
        assert method is not None
        assert method.name in str(refused.value)


def test_two_handlers_for_one_method_stop_the_server_from_starting(tmp_path: Path) -> None:
    again = ModuleType("again")

    @handles(contracts.SETTINGS_GET)
    def get(server: Any, p: contracts.SettingsGetParams) -> None:
        return None

    vars(again)["get"] = get
    with pytest.raises(ValueError, match="settings/get"):
        create_server(_storage(tmp_path), (*AREAS, again))


# What makes a method: its contract, handler, storage operation, the worker
# and the typed client. (bench/ drives other servers with the same requests.)
LAYERS = ("contracts", "protocol", "storage", "worker.py", "client.py", "codegen")


def test_a_method_name_is_written_once_in_the_source() -> None:
    """Everywhere else the method is named by its table entry."""
    sources = [path for layer in LAYERS for path in sorted((PACKAGE / layer).glob("**/*.py"))] + [
        PACKAGE / layer for layer in LAYERS if layer.endswith(".py")
    ]
    for name in contracts.METHODS:
        holders = [
            path.relative_to(PACKAGE).as_posix()
            for path in sources
            if f'"{name}"' in path.read_text(encoding="utf-8")
        ]
        # Beside its shapes, in its area's contracts module.
        assert len(holders) == 1, (name, holders)
        assert holders[0].startswith("contracts/"), (name, holders)


def _referenced_constants(module: ModuleType) -> set[str]:
    tree = ast.parse(inspect.getsource(module))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr.isupper()
    } | {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id.isupper()}


def _constant_of(method: contracts.Method[Any, Any]) -> str:
    return next(name for name, value in vars(contracts).items() if value is method)


def test_the_client_has_a_typed_call_for_every_method() -> None:
    used = _referenced_constants(client)
    missing = [m.name for m in contracts.METHODS.values() if _constant_of(m) not in used]
    # initialize takes LSP's params, which a script has no use for.
    assert missing == ["initialize"]


class _Recorder:
    """Stands in for the server: records which storage call a handler makes."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def read(self, op: Any, *args: Any) -> None:
        self.calls.append("read")

    def write(self, op: Any, *args: Any) -> None:
        self.calls.append("write")


@pytest.mark.parametrize(
    "area", [settings, declarations, workspace], ids=lambda area: area.__name__.rsplit(".", 1)[-1]
)
def test_a_handler_writes_exactly_when_its_table_entry_says_so(area: ModuleType) -> None:
    for fn in vars(area).values():
        method = method_of(fn)
        if method is None:
            continue
        sample = dict(VALID[method.name])
        if "dryRun" in sample:
            sample["dryRun"] = False  # a dry run is a read; the table says it may write
        recorder = _Recorder()
        assert method.params is not None
        fn(recorder, contracts.structure(sample, method.params))
        assert recorder.calls == ["write" if method.writes else "read"], method.name


def test_daemon_methods_touch_no_storage() -> None:
    """They answer while storage is busy or down: none is a write."""
    for fn in vars(daemon).values():
        method = method_of(fn)
        if method is not None:
            assert not method.writes, method.name


def test_every_params_and_result_type_is_a_contract_shape() -> None:
    for method in contracts.METHODS.values():
        for t in (method.params, method.result):
            for part in (t, *getattr(t, "__args__", ())):
                if isinstance(part, type) and attrs.has(part):
                    assert part.__module__.startswith("idumb_daemon.contracts."), method.name


def test_the_lifecycle_names_are_lsprotocols() -> None:
    from lsprotocol import types as lsp

    assert contracts.INITIALIZE.name == lsp.INITIALIZE
    assert contracts.SHUTDOWN.name == lsp.SHUTDOWN


def test_the_command_line_does_not_import_the_server_stack() -> None:
    """`idumb-daemon settings get` and the like build the parser, which
    imports the client and the contracts: not pygls, lsprotocol or asyncio."""
    import subprocess
    import sys

    code = (
        "import sys, idumb_daemon.cli as cli; cli.build_parser(); "
        "print(sorted(m for m in ('pygls', 'lsprotocol.types', 'asyncio') if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert found.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("ours", "lsps"),
    [
        (contracts.InitializeParams, "InitializeParams"),
        (contracts.InitializeResult, "InitializeResult"),
        (contracts.ServerInfo, "ServerInfo"),
    ],
)
def test_the_lifecycle_shapes_are_a_part_of_lsps(ours: type, lsps: str) -> None:
    """The daemon keeps its own lifecycle classes (see lifecycle.py: every
    InitializeParams field optional, unknown fields ignored), but each field
    it has is lsprotocol's, under the same name."""
    from lsprotocol import types as lsp

    theirs = {a.name for a in attrs.fields(getattr(lsp, lsps))}
    assert {a.name for a in attrs.fields(ours)} <= theirs

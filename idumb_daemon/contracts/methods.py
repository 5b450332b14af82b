"""The method table: every method's name, written once, with its params and
result types and whether it writes.

Everything else reads this table: the server registers handlers from it (and
refuses to start if one is missing), the Python client's typed calls name
their entry, the tests' method lists and the generated contracts come from it.
A handler names its method by this entry, never by typing the name again.
"""

from __future__ import annotations

from typing import Any, Final, Generic, TypeVar

import attrs
from lsprotocol import types as lsp

from idumb_daemon.contracts.common import DeleteResult
from idumb_daemon.contracts.daemon import DaemonStatus, DaemonStatusParams, WatchParams, WatchResult
from idumb_daemon.contracts.lifecycle import InitializeParams, InitializeResult
from idumb_daemon.contracts.settings import (
    ImportResult,
    SettingsDeleteParams,
    SettingsDidChangeParams,
    SettingsEntry,
    SettingsExport,
    SettingsExportParams,
    SettingsGetAllParams,
    SettingsGetParams,
    SettingsImportParams,
    SettingsSetManyParams,
    SettingsSetParams,
)
from idumb_daemon.contracts.workspace import (
    WorkspaceConfig,
    WorkspaceConfigDidChangeParams,
    WorkspaceDeleteParams,
    WorkspaceGetParams,
    WorkspaceListParams,
    WorkspaceOpenParams,
    WorkspaceSetParams,
)

P = TypeVar("P")
R = TypeVar("R")

PROTOCOL_VERSION: Final = 1


@attrs.frozen
class Method(Generic[P, R]):
    """One request method. `P` and `R` are its params and result types, for
    the type checker; `params` and `result` the same at run time."""

    name: str
    params: type[P] | None
    """None: the method takes no params."""
    result: Any
    """A type expression, e.g. `SettingsEntry | None`; None for a null result."""
    writes: bool = False
    """Whether it may change stored data (settings/import does unless dryRun)."""


INITIALIZE: Final[Method[InitializeParams, InitializeResult]] = Method(
    lsp.INITIALIZE, InitializeParams, InitializeResult
)
SHUTDOWN: Final[Method[None, None]] = Method(lsp.SHUTDOWN, None, None)
SETTINGS_GET: Final[Method[SettingsGetParams, SettingsEntry | None]] = Method(
    "settings/get", SettingsGetParams, SettingsEntry | None
)
SETTINGS_SET: Final[Method[SettingsSetParams, SettingsEntry]] = Method(
    "settings/set", SettingsSetParams, SettingsEntry, writes=True
)
SETTINGS_DELETE: Final[Method[SettingsDeleteParams, DeleteResult]] = Method(
    "settings/delete", SettingsDeleteParams, DeleteResult, writes=True
)
SETTINGS_GET_ALL: Final[Method[SettingsGetAllParams, list[SettingsEntry]]] = Method(
    "settings/getAll", SettingsGetAllParams, list[SettingsEntry]
)
SETTINGS_SET_MANY: Final[Method[SettingsSetManyParams, list[SettingsEntry]]] = Method(
    "settings/setMany", SettingsSetManyParams, list[SettingsEntry], writes=True
)
SETTINGS_EXPORT: Final[Method[SettingsExportParams, SettingsExport]] = Method(
    "settings/export", SettingsExportParams, SettingsExport
)
SETTINGS_IMPORT: Final[Method[SettingsImportParams, ImportResult]] = Method(
    "settings/import", SettingsImportParams, ImportResult, writes=True
)
WORKSPACE_GET: Final[Method[WorkspaceGetParams, WorkspaceConfig | None]] = Method(
    "workspaceConfig/get", WorkspaceGetParams, WorkspaceConfig | None
)
WORKSPACE_SET: Final[Method[WorkspaceSetParams, WorkspaceConfig]] = Method(
    "workspaceConfig/set", WorkspaceSetParams, WorkspaceConfig, writes=True
)
WORKSPACE_OPEN: Final[Method[WorkspaceOpenParams, WorkspaceConfig]] = Method(
    "workspaceConfig/open", WorkspaceOpenParams, WorkspaceConfig, writes=True
)
WORKSPACE_LIST: Final[Method[WorkspaceListParams, list[WorkspaceConfig]]] = Method(
    "workspaceConfig/list", WorkspaceListParams, list[WorkspaceConfig]
)
WORKSPACE_DELETE: Final[Method[WorkspaceDeleteParams, DeleteResult]] = Method(
    "workspaceConfig/delete", WorkspaceDeleteParams, DeleteResult, writes=True
)
DAEMON_STATUS: Final[Method[DaemonStatusParams, DaemonStatus]] = Method(
    "daemon/status", DaemonStatusParams, DaemonStatus
)
DAEMON_WATCH: Final[Method[WatchParams, WatchResult]] = Method(
    "daemon/watch", WatchParams, WatchResult
)

# Read from the definitions above, so a new method is one definition.
METHODS: Final[dict[str, Method[Any, Any]]] = {
    m.name: m for m in list(globals().values()) if isinstance(m, Method)
}
"""Every request method by name, in the order defined (the generated contracts' order)."""

NOTIFICATIONS: Final[dict[str, type[Any]]] = {
    "settings/didChange": SettingsDidChangeParams,
    "workspaceConfig/didChange": WorkspaceConfigDidChangeParams,
}
"""Notifications the daemon sends to watching clients."""

CLIENT_NOTIFICATIONS: Final = (lsp.INITIALIZED, lsp.EXIT, lsp.CANCEL_REQUEST)
"""LSP's notifications the daemon acts on (`initialized` by ignoring it)."""

"""The method table: every method of the protocol, by name.

Each area module (lifecycle, settings, workspace, daemon) defines its
methods beside their shapes, each name written once, as a `Method` with its
params and result types and whether it writes. Everything else reads the
table: the server registers handlers from it (and refuses to start if one is
missing), the Python client's typed calls name their entry, the tests'
method lists and the generated contracts come from it.
"""

from __future__ import annotations

from typing import Any, Final

from idumb_daemon.contracts import daemon, declarations, lifecycle, settings, workspace
from idumb_daemon.contracts.common import Method

PROTOCOL_VERSION: Final = 2

_AREAS: Final = (lifecycle, settings, declarations, workspace, daemon)
"""The modules defining methods, in the order the table lists them."""

METHODS: Final[dict[str, Method[Any, Any]]] = {
    m.name: m for area in _AREAS for m in vars(area).values() if isinstance(m, Method)
}
"""Every request method by name."""

NOTIFICATIONS: Final[dict[str, type[Any]]] = {
    "settings/didChange": settings.SettingsDidChangeParams,
    "workspaceConfig/didChange": workspace.WorkspaceConfigDidChangeParams,
}
"""Notifications the daemon sends to watching clients."""

"""workspaceConfig/*: per-project config, its params and its change notification."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

import attrs

from idumb_daemon.contracts.checks import (
    MAX_LIST_LIMIT,
    UNSET,
    Config,
    JsonObject,
    ProjectDir,
    Revision,
    UnsetType,
    within,
)
from idumb_daemon.contracts.common import DeleteResult, Method


@attrs.frozen
class WorkspaceConfig:
    project_dir: str
    name: str | None
    last_opened: datetime | None
    """Set by workspaceConfig/open; null if never opened (or stored out of contract)."""
    config: JsonObject | None
    """Null if none, or if what is stored is not a JSON object."""
    revision: int
    """The revision of its latest change."""


@attrs.frozen
class WorkspaceGetParams:
    project_dir: ProjectDir


@attrs.frozen
class WorkspaceSetParams:
    project_dir: ProjectDir
    name: str | UnsetType | None = UNSET
    """UNSET keeps the stored name, None clears it."""
    config: Config | UnsetType | None = UNSET
    """UNSET keeps the stored config, None clears it."""
    if_revision: Revision | None = None


@attrs.frozen
class WorkspaceOpenParams:
    project_dir: ProjectDir


@attrs.frozen
class WorkspaceListParams:
    limit: Annotated[int, within(1, MAX_LIST_LIMIT)] = 50


@attrs.frozen
class WorkspaceDeleteParams:
    project_dir: ProjectDir
    if_revision: Revision | None = None


@attrs.frozen
class WorkspaceChange:
    project_dir: str
    workspace: WorkspaceConfig | None
    """None: the workspace was deleted."""
    revision: int


@attrs.frozen
class WorkspaceConfigDidChangeParams:
    changes: list[WorkspaceChange]
    revision: int
    resync: bool


# --- methods: each name written once, here --------------------------------------

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

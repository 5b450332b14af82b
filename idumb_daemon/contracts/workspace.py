"""workspaceConfig/*: per-project config, its params and its change notification."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import attrs

from idumb_daemon.contracts.checks import (
    MAX_LIST_LIMIT,
    UNSET,
    Config,
    JsonObject,
    ProjectDir,
    UnsetType,
    within,
)


@attrs.frozen
class WorkspaceConfig:
    project_dir: str
    name: str | None
    last_opened: datetime | None
    """Set by workspaceConfig/open; null if never opened (or stored out of contract)."""
    config: JsonObject | None
    """Null if none, or if what is stored is not a JSON object."""


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


@attrs.frozen
class WorkspaceOpenParams:
    project_dir: ProjectDir


@attrs.frozen
class WorkspaceListParams:
    limit: Annotated[int, within(1, MAX_LIST_LIMIT)] = 50


@attrs.frozen
class WorkspaceDeleteParams:
    project_dir: ProjectDir


@attrs.frozen
class WorkspaceChange:
    project_dir: str
    workspace: WorkspaceConfig | None
    """None: the workspace was deleted."""


@attrs.frozen
class WorkspaceConfigDidChangeParams:
    changes: list[WorkspaceChange]

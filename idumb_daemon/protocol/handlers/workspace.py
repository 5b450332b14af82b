"""workspaceConfig/* methods: each makes one storage call (queued, or a read done at once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from idumb_daemon.contracts import (
    DeleteResult,
    WorkspaceConfig,
    WorkspaceDeleteParams,
    WorkspaceGetParams,
    WorkspaceListParams,
    WorkspaceOpenParams,
    WorkspaceSetParams,
)
from idumb_daemon.worker import Pending

if TYPE_CHECKING:
    from idumb_daemon.protocol.server import IdumbServer


def register(server: IdumbServer) -> None:
    @server.feature("workspaceConfig/get")
    def get(ls: IdumbServer, p: WorkspaceGetParams) -> Pending[WorkspaceConfig | None]:
        return ls.call(lambda s: s.workspace_get(p.project_dir))

    @server.feature("workspaceConfig/set")
    def set_(ls: IdumbServer, p: WorkspaceSetParams) -> Pending[WorkspaceConfig]:
        return ls.call(lambda s: s.workspace_set(p), write=True)

    @server.feature("workspaceConfig/open")
    def open_(ls: IdumbServer, p: WorkspaceOpenParams) -> Pending[WorkspaceConfig]:
        return ls.call(lambda s: s.workspace_open(p.project_dir), write=True)

    @server.feature("workspaceConfig/list")
    def list_(ls: IdumbServer, p: WorkspaceListParams) -> Pending[list[WorkspaceConfig]]:
        return ls.call(lambda s: s.workspace_list(p.limit))

    @server.feature("workspaceConfig/delete")
    def delete(ls: IdumbServer, p: WorkspaceDeleteParams) -> Pending[DeleteResult]:
        return ls.call(
            lambda s: DeleteResult(deleted=s.workspace_delete(p.project_dir)), write=True
        )

"""workspaceConfig/* methods: each queues one storage call and returns its Future."""

from __future__ import annotations

from concurrent.futures import Future
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

if TYPE_CHECKING:
    from idumb_daemon.protocol.server import IdumbServer


def register(server: IdumbServer) -> None:
    @server.feature("workspaceConfig/get")
    def get(ls: IdumbServer, p: WorkspaceGetParams) -> Future[WorkspaceConfig | None]:
        return ls.call(lambda s: s.workspace_get(p.project_dir))

    @server.feature("workspaceConfig/set")
    def set_(ls: IdumbServer, p: WorkspaceSetParams) -> Future[WorkspaceConfig]:
        return ls.call(lambda s: s.workspace_set(p), write=True)

    @server.feature("workspaceConfig/open")
    def open_(ls: IdumbServer, p: WorkspaceOpenParams) -> Future[WorkspaceConfig]:
        return ls.call(lambda s: s.workspace_open(p.project_dir), write=True)

    @server.feature("workspaceConfig/list")
    def list_(ls: IdumbServer, p: WorkspaceListParams) -> Future[list[WorkspaceConfig]]:
        return ls.call(lambda s: s.workspace_list(p.limit))

    @server.feature("workspaceConfig/delete")
    def delete(ls: IdumbServer, p: WorkspaceDeleteParams) -> Future[DeleteResult]:
        return ls.call(
            lambda s: DeleteResult(deleted=s.workspace_delete(p.project_dir)), write=True
        )

"""workspaceConfig/* methods."""

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

if TYPE_CHECKING:
    from idumb_daemon.protocol.server import IdumbServer


def register(server: IdumbServer) -> None:
    @server.feature("workspaceConfig/get")
    async def get(ls: IdumbServer, p: WorkspaceGetParams) -> WorkspaceConfig | None:
        return await ls.call(lambda s: s.workspace_get(p.project_dir))

    @server.feature("workspaceConfig/set")
    async def set_(ls: IdumbServer, p: WorkspaceSetParams) -> WorkspaceConfig:
        return await ls.call(lambda s: s.workspace_set(p), write=True)

    @server.feature("workspaceConfig/open")
    async def open_(ls: IdumbServer, p: WorkspaceOpenParams) -> WorkspaceConfig:
        return await ls.call(lambda s: s.workspace_open(p.project_dir), write=True)

    @server.feature("workspaceConfig/list")
    async def list_(ls: IdumbServer, p: WorkspaceListParams) -> list[WorkspaceConfig]:
        return await ls.call(lambda s: s.workspace_list(p.limit))

    @server.feature("workspaceConfig/delete")
    async def delete(ls: IdumbServer, p: WorkspaceDeleteParams) -> DeleteResult:
        deleted = await ls.call(lambda s: s.workspace_delete(p.project_dir), write=True)
        return DeleteResult(deleted=deleted)

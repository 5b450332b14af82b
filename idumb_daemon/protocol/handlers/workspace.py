"""workspaceConfig/*: each handler makes one storage call (queued, or a read done at once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from idumb_daemon import contracts as c
from idumb_daemon.protocol.handlers import handles
from idumb_daemon.storage import workspaces
from idumb_daemon.storage.tx import Tx
from idumb_daemon.worker import Pending

if TYPE_CHECKING:
    from idumb_daemon.protocol.server import IdumbServer


@handles(c.WORKSPACE_GET)
def get(server: IdumbServer, p: c.WorkspaceGetParams) -> Pending[c.WorkspaceConfig | None]:
    return server.read(workspaces.get, p.project_dir)


@handles(c.WORKSPACE_SET)
def set_(server: IdumbServer, p: c.WorkspaceSetParams) -> Pending[c.WorkspaceConfig]:
    return server.write(workspaces.set_, p.project_dir, p.name, p.config, p.if_revision)


@handles(c.WORKSPACE_OPEN)
def open_(server: IdumbServer, p: c.WorkspaceOpenParams) -> Pending[c.WorkspaceConfig]:
    return server.write(workspaces.open_, p.project_dir)


@handles(c.WORKSPACE_LIST)
def list_(server: IdumbServer, p: c.WorkspaceListParams) -> Pending[list[c.WorkspaceConfig]]:
    return server.read(workspaces.list_recent, p.limit)


@handles(c.WORKSPACE_DELETE)
def delete(server: IdumbServer, p: c.WorkspaceDeleteParams) -> Pending[c.DeleteResult]:
    return server.write(_delete, p.project_dir, p.if_revision)


def _delete(tx: Tx, project_dir: str, if_revision: int | None) -> c.DeleteResult:
    return c.DeleteResult(deleted=workspaces.delete(tx, project_dir, if_revision))

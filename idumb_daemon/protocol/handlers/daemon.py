"""Lifecycle and daemon/* methods: these work even when storage does not."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from idumb_daemon import __version__, contracts
from idumb_daemon.contracts import (
    DaemonStatus,
    DaemonStatusParams,
    InitializeParams,
    InitializeResult,
    WatchParams,
    WatchResult,
)

if TYPE_CHECKING:
    from idumb_daemon.protocol.server import IdumbServer


def register(server: IdumbServer) -> None:
    @server.feature("initialize")
    def initialize(ls: IdumbServer, p: InitializeParams) -> InitializeResult:
        if p.process_id is not None:
            ls.watch_process(p.process_id)
        return contracts.InitializeResult(
            capabilities=contracts.ServerCapabilities(
                experimental=contracts.ExperimentalCapabilities(
                    idumb=contracts.IdumbCapabilities(
                        protocol_version=contracts.PROTOCOL_VERSION,
                        methods=sorted(contracts.METHODS),
                        notifications=sorted(contracts.NOTIFICATIONS),
                    )
                )
            ),
            server_info=contracts.ServerInfo(name="idumb-daemon", version=__version__),
        )

    @server.feature("shutdown")
    def shutdown(ls: IdumbServer, _p: None) -> Coroutine[Any, Any, None]:
        return ls.shutdown()

    @server.feature("daemon/status")
    async def status(ls: IdumbServer, _p: DaemonStatusParams) -> DaemonStatus:
        # Not queued behind storage work: status answers while storage is
        # busy or down. Only a daemon still opening its database is waited
        # for, briefly, so its first status has the schema version.
        await ls.storage_opened(timeout=1.0)
        info = ls.storage.info()
        return DaemonStatus(
            version=__version__,
            protocol_version=contracts.PROTOCOL_VERSION,
            schema_version=info.schema_version,
            backend=info.backend,
            database=info.database,
            watching=ls.watching,
            recovered=info.recovered,
        )

    @server.feature("daemon/watch")
    async def watch(ls: IdumbServer, p: WatchParams) -> WatchResult:
        return WatchResult(watching=await ls.set_watching(p.enabled))

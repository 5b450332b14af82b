"""Lifecycle and daemon/* methods: these work even when storage does not."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from idumb_daemon import __version__, contracts
from idumb_daemon.contracts import (
    DAEMON_STATUS,
    DAEMON_WATCH,
    INITIALIZE,
    SHUTDOWN,
    DaemonStatus,
    DaemonStatusParams,
    FieldError,
    InitializeParams,
    InitializeResult,
    InvalidParamsData,
    WatchParams,
    WatchResult,
)
from idumb_daemon.protocol.errors import INVALID_PARAMS, RpcError
from idumb_daemon.protocol.handlers import handles

if TYPE_CHECKING:
    from idumb_daemon.protocol.server import IdumbServer


@handles(INITIALIZE)
def initialize(server: IdumbServer, p: InitializeParams) -> InitializeResult:
    if p.process_id is not None:
        server.watch_process(p.process_id)
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


@handles(SHUTDOWN)
def shutdown(server: IdumbServer, _p: None) -> Coroutine[Any, Any, None]:
    # Refuses later requests at once; answered once every earlier one is.
    return server.shutdown()


@handles(DAEMON_STATUS)
async def status(server: IdumbServer, _p: DaemonStatusParams) -> DaemonStatus:
    # Not queued behind storage work: status answers while storage is
    # busy or down. Only a daemon still opening its database is waited
    # for, briefly, so its first status has the schema version.
    await server.storage_opened(timeout=1.0)
    info = server.storage.info()
    return DaemonStatus(
        version=__version__,
        protocol_version=contracts.PROTOCOL_VERSION,
        schema_version=info.schema_version,
        backend=info.backend,
        database=info.database,
        watching=server.watching,
        recovered=info.recovered,
        revision=await server.revision(),
    )


@handles(DAEMON_WATCH)
async def watch(server: IdumbServer, p: WatchParams) -> WatchResult:
    if p.since is not None and not p.enabled:
        raise RpcError(
            INVALID_PARAMS,
            "invalid params: since: only with watching on",
            InvalidParamsData(errors=[FieldError(path="since", message="only with enabled: true")]),
        )
    revision = await server.set_watching(p.enabled, p.since)
    return WatchResult(watching=p.enabled, revision=revision)

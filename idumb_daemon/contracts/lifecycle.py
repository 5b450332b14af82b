"""LSP's lifecycle as the daemon speaks it: the part of `initialize` it reads
and what it answers. The names are LSP's (a test checks them against
lsprotocol's; importing lsprotocol.types here would cost every command of
the CLI 0.2 s, and only the server needs it).

lsprotocol's own InitializeParams does not fit: it requires `capabilities`
and `processId` and is structured by its own converter, while the protocol
makes every field optional and ignores the fields the daemon does not read.
These classes are subsets of lsprotocol's, field for field (a test keeps them so).
"""

from __future__ import annotations

from typing import Annotated, Final

import attrs

from idumb_daemon.contracts.checks import within
from idumb_daemon.contracts.common import Method


@attrs.frozen
class InitializeParams:
    """LSP's InitializeParams, of which the daemon reads one field; the rest is ignored."""

    # LSP's `integer` is 32-bit; a pid outside it names no process.
    process_id: Annotated[int, within(0, 2**31 - 1)] | None = None
    """The client's pid: the daemon exits once that process is gone."""


@attrs.frozen
class IdumbCapabilities:
    protocol_version: int
    methods: list[str]
    notifications: list[str]


@attrs.frozen
class ExperimentalCapabilities:
    idumb: IdumbCapabilities


@attrs.frozen
class ServerCapabilities:
    experimental: ExperimentalCapabilities


@attrs.frozen
class ServerInfo:
    name: str
    version: str


@attrs.frozen
class InitializeResult:
    capabilities: ServerCapabilities
    server_info: ServerInfo


# --- methods: each name written once, here --------------------------------------

INITIALIZE: Final[Method[InitializeParams, InitializeResult]] = Method(
    "initialize", InitializeParams, InitializeResult
)

SHUTDOWN: Final[Method[None, None]] = Method("shutdown", None, None)

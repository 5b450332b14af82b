"""The daemon driven by pygls' own client (issue 14, item 14): pygls'
`JsonRPCClient` sends `"params": null` for every request or notification
made without params, which PROTOCOL.md (v2) counts as omitted."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from pygls.client import JsonRPCClient
from pygls.protocol import JsonRPCProtocol

from tests.conftest import DaemonFactory
from tests.wire import WAIT, daemon_env


class RecordingProtocol(JsonRPCProtocol):
    """pygls' client protocol, keeping every message the daemon sends."""

    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        self.received: list[Any] = []

    def handle_message(self, message: Any) -> None:
        self.received.append(message)
        super().handle_message(message)


def _field(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


async def _drive(db: Path, other_writer: Any) -> tuple[int, RecordingProtocol, list[Any]]:
    client = JsonRPCClient(protocol_cls=RecordingProtocol)
    protocol: RecordingProtocol = client.protocol  # type: ignore[assignment]
    changes: asyncio.Queue[Any] = asyncio.Queue()

    @client.feature("settings/didChange")  # type: ignore[untyped-decorator]
    def did_change(params: Any) -> None:
        changes.put_nowait(params)

    await client.start_io(
        sys.executable, "-m", "idumb_daemon", "serve", "--db", str(db), env=daemon_env()
    )
    requests: list[Any] = []

    async def request(method: str, params: Any = None) -> Any:
        answer = await asyncio.wait_for(protocol.send_request_async(method, params), WAIT)
        requests.append((method, answer))
        return answer

    try:
        init = await request("initialize", {"processId": None, "capabilities": {}})
        assert _field(_field(init, "serverInfo"), "name") == "idumb-daemon"
        protocol.notify("initialized", None)
        entry = await request("settings/set", {"key": "pygls.k", "value": "v"})
        assert _field(entry, "value") == "v"
        got = await request("settings/get", {"key": "pygls.k"})
        assert _field(got, "value") == "v"
        status = await request("daemon/status", None)
        assert _field(status, "watching") is False
        watch = await request("daemon/watch", {"enabled": True})
        assert _field(watch, "watching") is True

        other_writer()  # another daemon on the same file writes a key
        notified = await asyncio.wait_for(changes.get(), WAIT)
        assert [_field(c, "key") for c in _field(notified, "changes")] == ["from.other"]

        assert await request("shutdown", None) is None
        protocol.notify("exit", None)
        assert client._server is not None
        code = await asyncio.wait_for(client._server.wait(), WAIT)
    finally:
        if client._server is not None and client._server.returncode is None:
            client._server.kill()
        await asyncio.wait_for(client.stop(), WAIT)  # type: ignore[no-untyped-call]
    return code, protocol, requests


def test_pygls_client_drives_the_daemon_to_a_clean_exit(
    spawn: DaemonFactory, db_path: Path
) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)

    def other_writer() -> None:
        other = spawn(db=db_path)
        other.result("settings/set", {"key": "from.other", "value": "1"})

    code, protocol, requests = asyncio.run(_drive(db_path, other_writer))
    assert code == 0
    assert [method for method, _ in requests] == [
        "initialize",
        "settings/set",
        "settings/get",
        "daemon/status",
        "daemon/watch",
        "shutdown",
    ]
    # Answers to the requests and the one notification: nothing answered
    # `initialized` or `exit` (a response with id null would be among them).
    notifications = [m for m in protocol.received if hasattr(m, "method")]
    assert [m.method for m in notifications] == ["settings/didChange"]
    responses = [m for m in protocol.received if not hasattr(m, "method")]
    assert len(responses) == len(requests), protocol.received
    assert all(m.id is not None for m in responses), protocol.received

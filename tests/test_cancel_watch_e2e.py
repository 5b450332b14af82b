"""Cancelling a `daemon/watch` (issue 14, item 10): its answer and the
daemon's state agree. One that has not started is answered -32800 and
watching stays as it was; one that has started completes and says so."""

from __future__ import annotations

from typing import Any

from tests.conftest import DaemonFactory
from tests.wire import Wire, frame

# Queued ahead of the watch's start on the storage thread, so a watch that has
# started is still waiting there when its cancel arrives.
BIG_IMPORT = {
    "version": "1.0",
    "settings": [{"key": f"k{i:06d}", "value": "v"} for i in range(100_000)],
}


def _request(msg_id: Any, method: str, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}


def _cancel(msg_id: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": msg_id}}


def _agree(daemon: Wire, answer: dict[str, Any], before: bool, wanted: bool) -> None:
    watching = daemon.result("daemon/status", {})["watching"]
    if "error" in answer:
        assert answer["error"]["code"] == -32800, answer
        assert watching is before, "cancelled, yet watching changed"
    else:
        assert answer["result"]["watching"] is wanted, answer
        assert watching is wanted


def test_a_watch_cancelled_after_it_started_completes(spawn: DaemonFactory) -> None:
    daemon = spawn()
    for enabled in (True, False, True):
        before = daemon.result("daemon/status", {})["watching"]
        daemon.send_raw(
            frame(_request("big", "settings/import", BIG_IMPORT))
            + frame(_request("w", "daemon/watch", {"enabled": enabled}))
        )
        # Answered only once the daemon has read past the watch and run its
        # first step (coroutines start in the order they were read).
        daemon.result("daemon/status", {})
        daemon.send(_cancel("w"))
        answer = daemon.response("w")
        assert "result" in daemon.response("big")
        _agree(daemon, answer, before, enabled)
        # A started watch is never cancelled: it said what it did.
        assert "result" in answer, answer


def test_a_watch_cancelled_before_it_started_changes_nothing(spawn: DaemonFactory) -> None:
    daemon = spawn()
    for enabled in (True, True, False):
        before = daemon.result("daemon/status", {})["watching"]
        # One write, read in one chunk: the cancel is handled before the
        # watch's coroutine takes its first step.
        daemon.send_raw(
            frame(_request("w", "daemon/watch", {"enabled": enabled})) + frame(_cancel("w"))
        )
        answer = daemon.response("w")
        _agree(daemon, answer, before, enabled)
        assert answer["error"]["code"] == -32800, answer
        # Then for real, so the next round starts from the other state.
        assert daemon.result("daemon/watch", {"enabled": enabled})["watching"] is enabled

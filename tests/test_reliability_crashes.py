"""SIGKILL at a random moment of a stream of writes: every acknowledged write
is in the file afterwards and the file passes integrity_check."""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

from tests.conftest import DaemonFactory
from tests.reliability import integrity, pipeline
from tests.wire import WAIT, Wire

SEED = 20261126
ROUNDS = 5
CHUNK = 25  # requests per write to the pipe
MAX_CHUNKS = 200  # bounds a round should the kill never come


def _request(round_no: int, n: int) -> tuple[dict[str, Any], tuple[str, str, Any]]:
    """The n-th request of a round and what it stores: (kind, name, value)."""
    msg_id = f"c{round_no}.{n}"
    kind = n % 4
    stored: tuple[str, str, Any]
    if kind == 0:
        # Overwritten again and again, with a counter that grows across rounds.
        key, value = f"hot.{n % 5}", str(round_no * 1_000_000 + n)
        params: dict[str, Any] = {"key": key, "value": value}
        method, stored = "settings/set", ("setting", key, value)
    elif kind == 1:
        key, value = f"k.{round_no}.{n}", f"value {n} " + "x" * (n % 300)
        method, params, stored = (
            "settings/set",
            {"key": key, "value": value},
            ("setting", key, value),
        )
    elif kind == 2:
        key, value = f"m.{round_no}.{n}", f"many {n}"
        params = {"entries": [{"key": key, "value": value}, {"key": key + ".b", "value": value}]}
        method, stored = "settings/setMany", ("setting", key, value)
    else:
        project = f"/work/r{round_no}/p{n}"
        params = {"projectDir": project, "name": f"p{n}", "config": {"n": n, "deep": [n] * 3}}
        method, stored = "workspaceConfig/set", ("workspace", project, {"n": n, "deep": [n] * 3})
    body = {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}
    return body, stored


def _stream_until_killed(wire: Wire, round_no: int, kill_after: int) -> list[tuple[str, str, Any]]:
    """Pipeline writes; SIGKILL the daemon once `kill_after` are acknowledged.
    Returns what the acknowledged ones stored."""
    pending: dict[str, tuple[str, str, Any]] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer() -> None:
        n = 0
        for _ in range(MAX_CHUNKS):
            data = bytearray()
            with lock:
                for _ in range(CHUNK):
                    body, stored = _request(round_no, n)
                    pending[body["id"]] = stored
                    raw = json.dumps(body).encode()
                    data += b"Content-Length: %d\r\n\r\n%b" % (len(raw), raw)
                    n += 1
            if stop.is_set():
                return
            try:
                wire.send_raw(bytes(data))
            except OSError:  # the daemon is dead
                return

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    acked: list[tuple[str, str, Any]] = []
    deadline = time.monotonic() + 60
    while True:
        try:
            message = wire.messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(
                f"responses stalled after {len(acked)} (kill at {kill_after}), "
                f"exit {wire.proc.poll()}; stderr:\n{wire.stderr.decode()[-3000:]}"
            ) from None
        if message is None:  # stdout closed: the daemon is gone
            break
        assert "error" not in message, message
        with lock:
            acked.append(pending[message["id"]])
        if len(acked) == kill_after:
            os.kill(wire.proc.pid, signal.SIGKILL)
            stop.set()
    assert wire.proc.wait(WAIT) == -signal.SIGKILL
    thread.join(WAIT)
    assert len(acked) >= kill_after
    return acked


def _check(wire: Wire, acked: list[tuple[str, str, Any]], hot: dict[str, int]) -> None:
    settings = {e["key"]: e["value"] for e in wire.result("settings/getAll", {})}
    for kind, name, value in acked:
        if kind == "setting" and not name.startswith("hot."):
            assert settings.get(name) == value, f"acknowledged write of {name} lost"
    for key, counter in hot.items():
        # Later writes may have committed unacknowledged; none may be missing.
        assert int(settings[key]) >= counter, f"acknowledged write of {key} lost"
    projects = [(name, value) for kind, name, value in acked if kind == "workspace"]
    answers = pipeline(wire, [("workspaceConfig/get", {"projectDir": p}) for p, _ in projects])
    for (project, config), answer in zip(projects, answers, strict=True):
        assert answer.get("result") is not None, f"acknowledged workspace {project} lost"
        assert answer["result"]["config"] == config


def test_sigkill_at_random_moments_loses_no_acknowledged_write(
    spawn: DaemonFactory, db_path: Path
) -> None:
    rng = random.Random(SEED)
    acked: list[tuple[str, str, Any]] = []
    hot: dict[str, int] = {}
    kills = 0
    for round_no in range(ROUNDS):
        daemon = spawn()
        _check(daemon, acked, hot)
        assert integrity(db_path) == [("ok",)]  # as recovered from the last kill's WAL
        got = _stream_until_killed(daemon, round_no, kill_after=rng.randrange(30, 400))
        kills += 1
        acked += got
        for _kind, name, value in got:
            if name.startswith("hot."):
                hot[name] = max(hot.get(name, -1), int(value))
    survivor = spawn()
    _check(survivor, acked, hot)
    assert survivor.stop() == 0
    assert integrity(db_path) == [("ok",)]
    assert kills == ROUNDS and len(acked) > ROUNDS * 30

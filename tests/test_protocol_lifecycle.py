"""Lifecycle: how the daemon ends and with what status, client-process watching,
logging that never touches the protocol stream, and stray prints. Endings and
logging run on both backends (a SQLite file, then a PostgreSQL database);
client-process watching and stray prints do not involve storage and run once."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import DaemonFactory
from tests.wire import Wire, finish, frame, parse_frames

# PROTOCOL.md promises an exit within 2 seconds; the slack absorbs a loaded CI machine.
EXIT_BOUND = 2.0 + 1.5


def exit_after_shutdown(wire: Wire) -> None:
    assert wire.call("shutdown")["result"] is None
    wire.notify("exit")


def exit_without_shutdown(wire: Wire) -> None:
    wire.notify("exit")


def end_of_stdin(wire: Wire) -> None:
    # Requests read before the end of input are answered: send some with it.
    wire.send_raw(
        b"".join(
            frame(
                {
                    "jsonrpc": "2.0",
                    "id": f"eof-{i}",
                    "method": "settings/set",
                    "params": {"key": "eof", "value": str(i)},
                }
            )
            for i in range(50)
        )
        + frame(
            {"jsonrpc": "2.0", "id": "eof-get", "method": "settings/get", "params": {"key": "eof"}}
        )
    )
    wire.close_stdin()


def signal_in_flight(signum: int) -> Callable[[Wire], None]:
    def end(wire: Wire) -> None:
        # A signal while writes are pipelined: whichever were acknowledged must
        # be on disk (checked by the reader).
        wire.send_raw(
            b"".join(
                frame(
                    {
                        "jsonrpc": "2.0",
                        "id": f"{int(signum)}-{i}",
                        "method": "settings/set",
                        "params": {"key": f"flight.{int(signum)}.{i:03d}", "value": str(i)},
                    }
                )
                for i in range(300)
            )
        )
        assert wire.response(f"{int(signum)}-0")["result"]["value"] == "0"
        wire.proc.send_signal(signum)

    return end


ENDINGS: dict[str, tuple[Callable[[Wire], None], int]] = {
    "exit after shutdown": (exit_after_shutdown, 0),
    "exit without shutdown": (exit_without_shutdown, 1),
    "end of stdin": (end_of_stdin, 0),
    "SIGTERM": (signal_in_flight(signal.SIGTERM), 0),
    "SIGINT": (signal_in_flight(signal.SIGINT), 0),
}


def test_exit_statuses_and_acknowledged_writes_survive(spawn_any: DaemonFactory) -> None:
    # Every ending at once, five daemons sharing one database; then one reader.
    writers = {name: spawn_any() for name in ENDINGS}
    for name, wire in writers.items():
        assert wire.result("settings/set", {"key": name, "value": "written"})["value"]
        wire.result("workspaceConfig/open", {"projectDir": "/p/" + name.replace(" ", "-")})
    for name, wire in writers.items():
        ENDINGS[name][0](wire)
    acknowledged: set[str] = set()
    for name, wire in writers.items():
        started = time.monotonic()
        status = wire.wait(EXIT_BOUND)
        assert status == ENDINGS[name][1], (name, wire.stderr.decode())
        assert time.monotonic() - started < EXIT_BOUND
        for message in parse_frames(finish(wire)):
            if str(message.get("id")).startswith(("15-", "2-")) and "result" in message:
                acknowledged.add(message["result"]["key"])
            if str(message.get("id")).startswith("eof"):
                assert "result" in message  # every request before the end is answered
    eof = [
        m
        for m in parse_frames(bytes(writers["end of stdin"].raw_stdout))
        if str(m.get("id")).startswith("eof")
    ]
    assert len(eof) == 51 and eof[-1]["id"] == "eof-get"
    assert eof[-1]["result"]["value"] == "49"

    reader = spawn_any()
    for name in ENDINGS:
        assert reader.result("settings/get", {"key": name})["value"] == "written"
    opened = reader.result("workspaceConfig/list")
    assert len(opened) == len(ENDINGS) and all(w["lastOpened"] for w in opened)
    stored = {e["key"] for e in reader.result("settings/getAll", {"prefix": "flight."})}
    assert acknowledged <= stored
    assert {f"flight.{int(s)}.000" for s in (signal.SIGTERM, signal.SIGINT)} <= acknowledged
    reader.close_stdin()
    assert reader.wait() == 0


def test_daemon_exits_when_the_client_process_is_gone(spawn: DaemonFactory) -> None:
    client = subprocess.Popen(["sleep", "30"])
    try:
        daemon = spawn()
        result = daemon.result("initialize", {"processId": client.pid, "capabilities": {}})
        assert result["serverInfo"]["name"] == "idumb-daemon"
        daemon.result("settings/set", {"key": "orphan", "value": "no"})
        assert daemon.proc.poll() is None
    finally:
        client.kill()
        client.wait()
    assert daemon.wait(EXIT_BOUND) == 0

    # A client that is gone already when it is named.
    late = spawn()
    late.result("initialize", {"processId": client.pid})
    assert late.wait(EXIT_BOUND) == 0


# --- logging and the protocol stream -------------------------------------------------


def some_traffic(wire: Wire, secret: str) -> None:
    wire.result("initialize", {"processId": None})
    wire.result("settings/set", {"key": "token", "value": secret})
    assert wire.result("settings/get", {"key": "token"})["value"] == secret
    wire.result("settings/setMany", {"entries": [{"key": "token2", "value": secret}]})
    wire.result("settings/export")
    assert wire.error("settings/set", {"key": "token3", "value": [secret]})["code"] == -32602
    assert wire.error("nope/" + "x", {"value": secret})["code"] == -32601
    wire.send_raw(
        frame(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "settings/set",
                "params": {"key": "\x00", "value": secret},
            }
        )
    )


def test_debug_logging_keeps_stdout_clean(spawn_any: DaemonFactory) -> None:
    daemon = spawn_any("--log-level", "debug")
    some_traffic(daemon, "debug-secret")
    assert daemon.stop() == 0
    messages = parse_frames(finish(daemon))
    assert len(messages) == 9
    assert b"DEBUG" in daemon.stderr


def test_log_file(spawn_any: DaemonFactory, tmp_path: Path) -> None:
    log_file = tmp_path / "daemon.log"
    daemon = spawn_any("--log-level", "debug", "--log-file", str(log_file))
    some_traffic(daemon, "file-secret")
    assert daemon.stop() == 0
    parse_frames(finish(daemon))
    assert "DEBUG" in log_file.read_text()
    assert b"DEBUG" not in daemon.stderr


def test_stored_values_never_reach_the_log_at_default_level(spawn_any: DaemonFactory) -> None:
    daemon = spawn_any()
    secret = "hunter2-token"
    some_traffic(daemon, secret)
    assert daemon.stop() == 0
    parse_frames(finish(daemon))
    assert secret.encode() not in daemon.stderr


NOISY = textwrap.dedent(
    """
    import os
    import sys

    from idumb_daemon import cli
    from idumb_daemon.storage import settings

    plain_get = settings.get


    def noisy_get(tx, key):
        # What a misbehaving library does, in every way it can reach stdout.
        print("noise from print()")
        print("noise to sys.__stdout__", file=sys.__stdout__, flush=True)
        os.write(1, b"noise on fd 1\\n")
        sys.stdout.write("noise via sys.stdout\\n")
        sys.stdout.flush()
        return plain_get(tx, key)


    settings.get = noisy_get
    raise SystemExit(cli.main())
    """
)


def test_stray_prints_never_reach_the_protocol_stream(spawn: DaemonFactory, tmp_path: Path) -> None:
    script = tmp_path / "noisy.py"
    script.write_text(NOISY)
    daemon = spawn(command=[sys.executable, str(script), "serve"])
    daemon.result("settings/set", {"key": "k", "value": "v"})
    for _ in range(3):
        assert daemon.result("settings/get", {"key": "k"})["value"] == "v"
    assert daemon.stop() == 0
    assert len(parse_frames(finish(daemon))) == 5
    for noise in (
        b"noise from print()",
        b"noise to sys.__stdout__",
        b"noise on fd 1",
        b"noise via sys.stdout",
    ):
        assert daemon.stderr.count(noise) == 3

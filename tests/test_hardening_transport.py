"""Issue 14's transport and lifecycle defects, each at the level it showed:
a real daemon process, real file descriptors (pipes, a regular file, one
socket for stdin and stdout), real SQLite locks and triggers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from idumb_daemon.storage.recovery import backup_path
from tests.conftest import DaemonFactory
from tests.sockets import exchange, on_one_socket
from tests.wire import WAIT, daemon_env, finish, frame, parse_frames

# PROTOCOL.md promises an exit within 2 seconds; the slack absorbs a loaded machine.
EXIT_BOUND = 2.0 + 1.5
DAEMON = [sys.executable, "-m", "idumb_daemon"]


def request(msg_id: Any, method: str, params: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def set_(msg_id: Any, key: str, value: str = "v") -> bytes:
    return frame(request(msg_id, "settings/set", {"key": key, "value": value}))


def by_id(messages: list[Any]) -> dict[Any, Any]:
    return {m.get("id"): m for m in messages}


# --- 1. a Content-Length no parser can use ------------------------------------------

UNUSABLE_HEADERS = {
    "4,301 digits": b"Content-Length: " + b"9" * 4301,
    "5,000 digits": b"Content-Length: " + b"1" * 5000,
    "40,000 digits": b"Content-Length: " + b"7" * 40_000,
    "over the header limit": b"Content-Length: " + b"8" * 70_000,
    "19 digits": b"Content-Length: 1234567890123456789",
    "negative": b"Content-Length: -5",
    "not a number": b"Content-Length: twelve",
    "a float": b"Content-Length: 1e3",
    "two that disagree": b"Content-Length: 2\r\nContent-Length: 3",
    "missing": b"Content-Type: application/vscode-jsonrpc; charset=utf-8",
}


def around(bad_header: bytes) -> bytes:
    """A request, the unusable header block, a request: in one write."""
    return set_("before", "k.before") + bad_header + b"\r\n\r\n" + set_("after", "k.after")


def assert_skipped_and_served(messages: list[Any]) -> None:
    answers = by_id(messages)
    assert answers["before"]["result"]["key"] == "k.before"
    assert answers["after"]["result"]["key"] == "k.after"
    assert answers[None]["error"]["code"] == -32600


@pytest.mark.parametrize("bad", UNUSABLE_HEADERS.values(), ids=UNUSABLE_HEADERS.keys())
def test_an_unusable_content_length_on_a_pipe_is_answered_and_skipped(
    spawn: DaemonFactory, bad: bytes
) -> None:
    daemon = spawn()
    daemon.send_raw(around(bad))
    for msg_id in ("before", "after", None):
        daemon.response(msg_id)
    # The daemon reads on: a later message is served too.
    assert daemon.result("settings/get", {"key": "k.after"})["value"] == "v"
    assert daemon.stop() == 0


@pytest.mark.parametrize(
    "bad",
    [UNUSABLE_HEADERS["4,301 digits"], UNUSABLE_HEADERS["40,000 digits"]],
    ids=["4,301 digits", "40,000 digits"],
)
def test_an_unusable_content_length_in_a_regular_file_is_answered_and_skipped(
    tmp_path: Path, db_path: Path, bad: bytes
) -> None:
    given = tmp_path / "input"
    given.write_bytes(around(bad) + around(bad))
    with given.open("rb") as stdin:
        done = subprocess.run(
            [*DAEMON, "--db", str(db_path)],
            stdin=stdin,
            capture_output=True,
            env=daemon_env(),
            timeout=WAIT,
        )
    assert done.returncode == 0, done.stderr
    messages = parse_frames(done.stdout)
    assert len(messages) == 6
    assert_skipped_and_served(messages)


# --- 2. stdin and stdout one socket -------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "value_size"),
    [(1200, 1000), (300, 4000), (8000, 100)],
    ids=["1.2 MB of 1 kB values", "1.2 MB of 4 kB values", "many small entries"],
)
def test_responses_are_whole_when_stdin_and_stdout_are_one_socket(
    db_path: Path, entries: int, value_size: int
) -> None:
    entry_list = [
        {"key": f"s.{i:05d}", "value": chr(97 + i % 26) * value_size} for i in range(entries)
    ]
    big, big_again = (
        frame(request(name, "settings/setMany", {"entries": entry_list}))
        for name in ("big", "big-2")
    )
    after = b"".join(
        frame(request(f"get-{i}", "settings/getAll", {"prefix": "s.", "limit": 500}))
        for i in range(4)
    )
    with on_one_socket(db_path) as (sock, proc):
        out = exchange(sock, big + after + big_again, answers=6)
        assert proc.wait(WAIT) == 0
    messages = parse_frames(out)  # a cut response fails here
    answers = by_id(messages)
    assert len(answers) == 6
    assert len(answers["big"]["result"]) == entries == len(answers["big-2"]["result"])
    for i in range(4):
        assert len(answers[f"get-{i}"]["result"]) == min(500, entries)


# --- 3. the end of input with work queued -------------------------------------------


def test_the_end_of_input_answers_every_request_read_before_it(
    db_path: Path, tmp_path: Path
) -> None:
    # Seven imports of 50,000 settings: several seconds of work, all of it
    # read before the end of input.
    imports = 7
    size = 50_000
    data = b"".join(
        frame(
            request(
                i,
                "settings/import",
                {
                    "version": "1.0",
                    "settings": [{"key": f"i{i}.{j:05d}", "value": "x"} for j in range(size)],
                },
            )
        )
        for i in range(imports)
    )
    given = tmp_path / "input"
    given.write_bytes(data)
    with given.open("rb") as stdin:
        done = subprocess.run(
            [*DAEMON, "--db", str(db_path)],
            stdin=stdin,
            capture_output=True,
            env=daemon_env(),
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    answers = by_id(parse_frames(done.stdout))
    assert sorted(answers) == list(range(imports))
    assert all(answers[i]["result"]["imported"] == size for i in range(imports))
    # Closed cleanly: the backup was refreshed on the way out, and holds it all.
    conn = sqlite3.connect(backup_path(db_path))
    try:
        assert conn.execute("SELECT count(*) FROM settings").fetchone() == (imports * size,)
    finally:
        conn.close()


@pytest.mark.parametrize("ending", ["shutdown and exit", "end of input"])
def test_shutdown_is_answered_after_every_earlier_request(
    spawn: DaemonFactory, db_path: Path, ending: str
) -> None:
    daemon = spawn()
    batches = 30
    daemon.send_raw(
        b"".join(
            frame(
                request(
                    f"many-{i}",
                    "settings/setMany",
                    {"entries": [{"key": f"m.{i:02d}.{j:04d}", "value": "v"} for j in range(1000)]},
                )
            )
            for i in range(batches)
        )
        + frame(request("down", "shutdown"))
        + frame(request("late", "settings/get", {"key": "k"}))
    )
    if ending == "shutdown and exit":
        daemon.notify("exit")
    daemon.close_stdin()
    messages = parse_frames(finish(daemon))
    assert daemon.proc.returncode == 0
    order = [m["id"] for m in messages]
    assert order.index("down") > max(order.index(f"many-{i}") for i in range(batches))
    assert all("result" in m for m in messages if str(m["id"]).startswith("many-"))
    assert by_id(messages)["late"]["error"]["code"] == -32600
    count = sqlite3.connect(db_path).execute("SELECT count(*) FROM settings").fetchone()
    assert count == (batches * 1000,)


# --- 4. a signal while a write waits for another process's lock ---------------------


@contextmanager
def holding_the_lock(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("ROLLBACK")
    finally:
        conn.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("waiting", [1, 5], ids=["one write", "five writes"])
def test_a_signal_during_a_lock_wait_ends_within_the_bound(
    spawn: DaemonFactory, db_path: Path, signum: int, waiting: int
) -> None:
    daemon = spawn("--busy-timeout", "60")
    daemon.result("settings/set", {"key": "seed", "value": "0"})
    with holding_the_lock(db_path):
        daemon.send_raw(b"".join(set_(f"w{i}", f"locked.{i}") for i in range(waiting)))
        # Answered while the writes wait: every one of them has been read.
        daemon.result("daemon/status", {})
        daemon.proc.send_signal(signum)
        assert daemon.wait(EXIT_BOUND) == 0
    answers = by_id(parse_frames(finish(daemon)))
    for i in range(waiting):
        assert answers[f"w{i}"]["error"]["code"] in (-32800, -31001), answers[f"w{i}"]
    rows = sqlite3.connect(db_path).execute("SELECT key FROM settings").fetchall()
    assert rows == [("seed",)]  # nothing half-written


@pytest.mark.parametrize("waiting", [1, 5], ids=["one write", "five writes"])
def test_a_signal_during_a_postgresql_lock_wait_ends_within_the_bound(
    spawn: DaemonFactory, pg_url: str, waiting: int
) -> None:
    import psycopg

    daemon = spawn("--database-url", pg_url, "--busy-timeout", "60")
    daemon.result("settings/set", {"key": "seed", "value": "0"})
    with psycopg.connect(pg_url) as other:
        # Another machine's transaction holding the table: writes wait for it.
        other.execute("LOCK TABLE settings IN EXCLUSIVE MODE")
        daemon.send_raw(b"".join(set_(f"w{i}", f"locked.{i}") for i in range(waiting)))
        daemon.result("daemon/status", {})
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.wait(EXIT_BOUND) == 0
        other.rollback()
        rows = other.execute("SELECT key FROM settings").fetchall()
    answers = by_id(parse_frames(finish(daemon)))
    for i in range(waiting):
        assert answers[f"w{i}"]["error"]["code"] in (-32800, -31001), answers[f"w{i}"]
    assert rows == [("seed",)]  # nothing half-written


# --- 9. lifecycle and status never wait for storage ---------------------------------


def test_status_and_initialize_answer_while_a_read_waits_for_the_lock(
    spawn: DaemonFactory, db_path: Path
) -> None:
    db_path.parent.mkdir(parents=True)
    sqlite3.connect(db_path).close()  # an empty, unmigrated file
    with holding_the_lock(db_path):
        daemon = spawn("--busy-timeout", "2")
        # Storage could not open: the lock is held. Then nothing is queued.
        assert daemon.error("settings/get", {"key": "k"})["code"] == -31001
        assert daemon.result("daemon/status", {})["schemaVersion"] is None
        # A read with nothing queued would (re)open storage on the event loop
        # and wait there for the lock: everything sent after it would wait too.
        waiting = daemon.request("settings/get", {"key": "k"})
        lifecycle = [
            daemon.request("daemon/status", {}),
            daemon.request("initialize", {"capabilities": {}}),
            daemon.request("daemon/status", {}),
        ]
        order = [daemon.next_message()["id"] for _ in range(len(lifecycle) + 1)]
        # Answers may come in any order, but the read's only once the lock is free.
        assert sorted(order[: len(lifecycle)]) == lifecycle, order
        assert order[-1] == waiting
    assert daemon.result("settings/get", {"key": "k"}) is None
    assert daemon.result("daemon/status", {})["schemaVersion"] is not None
    assert daemon.stop() == 0


# --- 11. a trigger rolling back the whole transaction --------------------------------

TRIGGER = """
CREATE TRIGGER refuse_bad BEFORE INSERT ON settings WHEN NEW.key = 'bad'
BEGIN SELECT RAISE({action}, 'no bad keys'); END
"""


@pytest.mark.parametrize("action", ["ROLLBACK", "ABORT", "FAIL"])
@pytest.mark.parametrize("culprit", [0, 7, 15], ids=["first", "middle", "last"])
def test_a_trigger_refusing_one_write_fails_only_that_request(
    spawn: DaemonFactory, db_path: Path, action: str, culprit: int
) -> None:
    daemon = spawn()
    daemon.result("settings/set", {"key": "seed", "value": "0"})
    conn = sqlite3.connect(db_path)
    conn.execute(TRIGGER.format(action=action))
    conn.close()
    calls = []
    for i in range(16):
        if i == culprit:
            calls.append(set_(i, "bad"))
        elif i % 3 == 2:
            calls.append(frame(request(i, "settings/get", {"key": "seed"})))
        else:
            calls.append(set_(i, f"good.{i:02d}", str(i)))
    daemon.send_raw(b"".join(calls))  # one write: they are grouped
    answers = {i: daemon.response(i) for i in range(16)}
    assert [i for i, a in answers.items() if "error" in a] == [culprit]
    for i, answer in answers.items():
        if i != culprit and i % 3 == 2:
            assert answer["result"]["value"] == "0"
    stored = dict(sqlite3.connect(db_path).execute("SELECT key, value FROM settings"))
    expected = {f"good.{i:02d}": str(i) for i in range(16) if i != culprit and i % 3 != 2}
    assert stored == {"seed": "0", **expected}
    assert daemon.stop() == 0


# --- 12. hosts' own arguments, and watching the client's process --------------------


@pytest.mark.parametrize(
    "command", [[*DAEMON, "serve"], DAEMON], ids=["serve", "bare idumb-daemon"]
)
@pytest.mark.parametrize("form", ["--clientProcessId=N", "--clientProcessId N"])
def test_host_arguments_are_accepted_and_the_client_process_is_watched(
    spawn: DaemonFactory, command: list[str], form: str
) -> None:
    client = subprocess.Popen(["sleep", "30"])
    try:
        pid = str(client.pid)
        host = [f"--clientProcessId={pid}"] if "=" in form else ["--clientProcessId", pid]
        daemon = spawn("--stdio", *host, command=command)
        daemon.result("settings/set", {"key": "k", "value": "v"})
        assert daemon.proc.poll() is None
    finally:
        client.kill()
        client.wait()
    assert daemon.wait(EXIT_BOUND) == 0


@pytest.mark.parametrize(
    "args", [["--stdio", "--bogus"], ["--clientProcessId=x"], ["--clientProcessId=0"], ["--tcp"]]
)
def test_other_unknown_options_still_exit_2_with_a_message(db_path: Path, args: list[str]) -> None:
    done = subprocess.run(
        [*DAEMON, "--db", str(db_path), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=daemon_env(),
        timeout=WAIT,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "error:" in done.stderr


# Where the system has no pidfd (macOS), or refuses it (ENOSYS in a sandbox).
WITHOUT_PIDFD = {
    "pidfd_open missing": "del os.pidfd_open",
    "pidfd_open refused": (
        "def refuse(pid, flags=0):\n"
        "    raise OSError(errno.ENOSYS, 'Function not implemented')\n"
        "os.pidfd_open = refuse"
    ),
}


@pytest.mark.parametrize("patch", WITHOUT_PIDFD.values(), ids=WITHOUT_PIDFD.keys())
def test_the_client_process_is_watched_where_pidfd_is_unavailable(
    spawn: DaemonFactory, patch: str
) -> None:
    script = f"import errno, os\n{patch}\nfrom idumb_daemon.cli import main\n" + (
        "raise SystemExit(main())"
    )
    command = [sys.executable, "-c", script, "serve"]
    client = subprocess.Popen(["sleep", "30"])
    try:
        daemon = spawn(command=command)
        daemon.result("initialize", {"processId": client.pid, "capabilities": {}})
        daemon.result("settings/set", {"key": "k", "value": "v"})
        assert daemon.proc.poll() is None
    finally:
        client.kill()
        client.wait()  # reaped: a zombie still answers kill(pid, 0)
    assert daemon.wait(EXIT_BOUND) == 0
    assert b"Traceback" not in daemon.stderr


def pidfds(pid: int) -> int:
    """How many process watches (pidfds) the process holds open."""
    folder = f"/proc/{pid}/fd"
    return sum(os.readlink(f"{folder}/{fd}") == "anon_inode:[pidfd]" for fd in os.listdir(folder))


def test_repeated_initialize_watches_the_client_process_once(spawn: DaemonFactory) -> None:
    client = subprocess.Popen(["sleep", "30"])
    try:
        daemon = spawn()
        initialize = {"processId": client.pid, "capabilities": {}}
        daemon.result("initialize", initialize)
        assert pidfds(daemon.proc.pid) == 1
        for _ in range(50):
            daemon.result("initialize", initialize)
        assert pidfds(daemon.proc.pid) == 1
    finally:
        client.kill()
        client.wait()
    assert daemon.wait(EXIT_BOUND) == 0

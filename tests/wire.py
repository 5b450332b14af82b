"""A raw wire-level driver for the daemon as a subprocess: tests see exactly
the bytes and messages a client would, and every wait is bounded."""

from __future__ import annotations

import itertools
import json
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from idumb_daemon.protocol.framing import FrameError, FrameParser, encode_frame

REPO = Path(__file__).resolve().parent.parent
WAIT = 15.0  # seconds: generous on a loaded CI machine, never unbounded


def daemon_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # Test the working tree, whether or not the package is installed.
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("IDUMB_DATABASE_URL", None)
    env.update(extra or {})
    return env


def frame(message: Any) -> bytes:
    return encode_frame(json.dumps(message).encode())


class Wire:
    def __init__(
        self,
        args: list[str],
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ) -> None:
        cmd = command or [sys.executable, "-m", "idumb_daemon", "serve"]
        self.proc = subprocess.Popen(
            [*cmd, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=daemon_env(env),
        )
        self.messages: queue.Queue[Any] = queue.Queue()
        self.raw_stdout = bytearray()
        self.stderr = bytearray()
        self._ids = itertools.count(1)
        self._responses: dict[Any, Any] = {}
        self._notifications: list[Any] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        out = self.proc.stdout.fileno()
        parser = FrameParser()
        while True:
            chunk = os.read(out, 65536)
            if not chunk:
                # End of output; a frame cut short means the daemon died
                # mid-message (a test killed it), not a malformed message.
                self.messages.put(None)
                return
            self.raw_stdout += chunk
            for body in parser.feed(chunk):
                if isinstance(body, FrameError):
                    self.messages.put(body)
                else:
                    self.messages.put(json.loads(body))

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):  # type: ignore[union-attr,attr-defined]
            self.stderr += chunk

    # sending

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        self.send_raw(frame(message))

    def request(self, method: str, params: Any = None, *, msg_id: Any = None) -> Any:
        """Send a request, return its id."""
        msg_id = next(self._ids) if msg_id is None else msg_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return msg_id

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    # receiving

    def next_message(self, timeout: float = WAIT) -> Any:
        try:
            message = self.messages.get(timeout=timeout)
        except queue.Empty:
            stderr = self.stderr.decode()
            raise AssertionError(f"no message within {timeout}s; stderr:\n{stderr}") from None
        if message is None:
            raise AssertionError(f"daemon closed stdout; stderr:\n{self.stderr.decode()}")
        if isinstance(message, FrameError):
            raise AssertionError(f"bad frame ({message.message}): {bytes(self.raw_stdout)!r}")
        return message

    def response(self, msg_id: Any, timeout: float = WAIT) -> Any:
        """The response to `msg_id` (other messages are kept for later)."""
        while msg_id not in self._responses:
            message = self.next_message(timeout)
            if isinstance(message, dict) and "method" in message:
                self._notifications.append(message)
            elif isinstance(message, dict):
                self._responses[message.get("id")] = message
            else:
                self._responses[("batch", len(self._responses))] = message
        return self._responses.pop(msg_id)

    def call(self, method: str, params: Any = None, **kw: Any) -> Any:
        """Request and wait: the full response object."""
        return self.response(self.request(method, params, **kw))

    def result(self, method: str, params: Any = None) -> Any:
        response = self.call(method, params)
        assert "error" not in response, response
        return response["result"]

    def error(self, method: str, params: Any = None) -> Any:
        response = self.call(method, params)
        assert "error" in response, response
        return response["error"]

    def notification(self, timeout: float = WAIT) -> Any:
        if self._notifications:
            return self._notifications.pop(0)
        while True:
            message = self.next_message(timeout)
            if isinstance(message, dict) and "method" in message:
                return message
            self._responses[message.get("id")] = message

    # ending

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def wait(self, timeout: float = WAIT) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> int:
        """End the daemon the way an editor does: shutdown, exit."""
        if self.proc.poll() is None:
            try:
                self.call("shutdown")
                self.notify("exit")
                self.close_stdin()
            except (BrokenPipeError, OSError):
                pass
        try:
            return self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(WAIT)
            raise AssertionError("daemon did not exit after shutdown/exit") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)


# --- additions for the protocol suite ---------------------------------------------------


def parse_frames(data: bytes) -> list[Any]:
    """The messages in `data`, which must be whole frames exactly as the daemon
    writes them and nothing else: a stray byte anywhere (a library's print, a log
    line) or a frame cut short fails the assertion."""
    bodies = FrameParser().feed(data)
    assert all(isinstance(body, bytes) for body in bodies), bodies
    whole = b"".join(encode_frame(body) for body in bodies if isinstance(body, bytes))
    if whole != data:
        pairs = zip(whole, data, strict=False)
        at = next((i for i, (a, b) in enumerate(pairs) if a != b), len(whole))
        raise AssertionError(f"not a whole frame at byte {at}: {data[at : at + 80]!r}")
    return [json.loads(body) for body in bodies if isinstance(body, bytes)]


def body_frame(body: bytes, *headers: bytes) -> bytes:
    """A frame with the given raw body, `headers` first, then Content-Length."""
    return b"".join(h + b"\r\n" for h in headers) + encode_frame(body)


def sqlite_exec(path: Path, sql: str, *params: Any, timeout: float = WAIT) -> list[tuple[Any, ...]]:
    """Run one statement on the database file as another program would."""
    conn = sqlite3.connect(path, timeout=timeout)
    try:
        with conn:
            return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def finish(wire: Wire, timeout: float = WAIT) -> bytes:
    """Wait for the daemon to exit and return everything it wrote to stdout."""
    wire.wait(timeout)
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "stdout not closed after exit"
        try:
            if wire.messages.get(timeout=remaining) is None:
                return bytes(wire.raw_stdout)
        except queue.Empty:
            continue

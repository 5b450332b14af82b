"""A JSON-RPC client over a server's stdio for measuring it: LSP framing,
every read bounded by a deadline, pipelined runs with a writer thread."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import select
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from idumb_daemon.protocol.framing import FrameError, FrameParser, encode_frame

_CHUNK = 1 << 20
_CALL_IDS_FROM = 10**9  # pipelined runs use ids 0..n-1; single calls stay clear of them


class RpcError(Exception):
    """A server answered with a JSON-RPC error object."""

    def __init__(self, method: str, error: Any) -> None:
        super().__init__(f"{method}: {error}")
        self.error = error


def frame(message: Any) -> bytes:
    return encode_frame(json.dumps(message).encode())


def request(msg_id: int, method: str, params: Any) -> bytes:
    return frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})


class Connection:
    """One server process on pipes; stderr goes to a file so it can be quoted on failure."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        stderr_path: Path,
        timeout: float,
        env: dict[str, str] | None = None,
    ) -> None:
        self.timeout = timeout
        self.started = time.perf_counter()
        with stderr_path.open("ab") as err:
            self.proc = subprocess.Popen(
                list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env
            )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._stdin: IO[bytes] = self.proc.stdin
        self._fd = self.proc.stdout.fileno()
        self._parser = FrameParser()
        self._bodies: collections.deque[bytes] = collections.deque()
        self._next_id = _CALL_IDS_FROM

    @property
    def pid(self) -> int:
        return self.proc.pid

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End of stdin asks the server to exit; one that does not in time is killed."""
        with contextlib.suppress(OSError):  # a dead server's pipe: nothing left to flush
            self._stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    # writing

    def send(self, data: bytes) -> None:
        self._stdin.write(data)
        self._stdin.flush()

    # reading

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([self._fd], [], [], remaining)[0]:
            raise TimeoutError(f"no answer within {self.timeout:g} s")
        chunk = os.read(self._fd, _CHUNK)
        if not chunk:
            code = self.proc.poll()
            raise EOFError(f"server closed its stdout (exit status {code})")
        for body in self._parser.feed(chunk):
            if isinstance(body, FrameError):
                raise ValueError(f"server wrote a bad frame: {body.message}")
            self._bodies.append(body)

    def read_message(self) -> Any:
        deadline = time.monotonic() + self.timeout
        while not self._bodies:
            self._fill(deadline)
        return json.loads(self._bodies.popleft())

    def read_response(self) -> Any:
        """The next response; notifications and requests from the server are skipped."""
        while True:
            message = self.read_message()
            if "id" in message and ("result" in message or "error" in message):
                return message

    def call(self, method: str, params: Any) -> Any:
        msg_id = self._next_id
        self._next_id += 1
        self.send(request(msg_id, method, params))
        response = self.read_response()
        if response.get("id") != msg_id:
            raise RpcError(method, f"answer to id {response.get('id')!r}, expected {msg_id}")
        if "error" in response:
            raise RpcError(method, response["error"])
        return response["result"]

    def pipelined(self, payload: bytes, count: int) -> tuple[float, int]:
        """Write `count` framed requests at once from a thread and read every
        response; returns (seconds from first byte written to last response, errors)."""
        failure: list[BaseException] = []

        def write() -> None:
            try:
                self.send(payload)
            except OSError as exc:  # the server died; the reader reports it
                failure.append(exc)

        writer = threading.Thread(target=write, daemon=True)
        errors = 0
        started = time.perf_counter()
        writer.start()
        for _ in range(count):
            errors += "error" in self.read_response()
        elapsed = time.perf_counter() - started
        writer.join(self.timeout)
        if failure:
            raise failure[0]
        return elapsed, errors

    def round_trips(self, calls: Iterable[tuple[str, Any]]) -> list[float]:
        """Sequential (method, params) calls, one in flight at a time; each call's seconds."""
        times: list[float] = []
        for method, params in calls:
            started = time.perf_counter()
            self.call(method, params)
            times.append(time.perf_counter() - started)
        return times

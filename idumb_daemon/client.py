"""A synchronous Python client: starts the daemon (or attaches to streams)
and offers typed calls that return contract types.

    with DaemonClient.spawn(["--db", "/tmp/idumb.db"]) as daemon:
        daemon.set("editor.fontSize", "14")
        entry = daemon.get("editor.fontSize")

Errors come back as `DaemonError`, which carries the JSON-RPC error.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import IO, Any, TypeVar

from idumb_daemon import contracts
from idumb_daemon.contracts import (
    DaemonStatus,
    ImportResult,
    SettingInput,
    SettingsEntry,
    SettingsExport,
    WorkspaceConfig,
)

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0


class DaemonError(Exception):
    """A JSON-RPC error response."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message
        self.data = data


class ConnectionClosed(Exception):
    """The daemon closed its output before answering."""


class DaemonClient:
    def __init__(
        self,
        reader: IO[bytes],
        writer: IO[bytes],
        process: subprocess.Popen[bytes] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.process = process
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[Any]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.notifications: queue.Queue[dict[str, Any]] = queue.Queue()
        self._thread = threading.Thread(target=self._read_loop, name="idumb-client", daemon=True)
        self._thread.start()

    @classmethod
    def spawn(
        cls,
        args: Sequence[str] = (),
        *,
        command: Sequence[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        stderr: int | IO[bytes] | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> DaemonClient:
        """Start `idumb-daemon serve ARGS` (this interpreter's) and attach to it."""
        cmd = list(command or [sys.executable, "-m", "idumb_daemon", "serve"]) + list(args)
        process = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=cwd
        )
        assert process.stdin is not None and process.stdout is not None
        return cls(process.stdout, process.stdin, process, timeout)

    # transport

    def _read_loop(self) -> None:
        try:
            while True:
                message = _read_message(self._reader)
                if message is None:
                    break
                self._dispatch(message)
        finally:
            with self._lock:
                self._closed = True
                pending, self._pending = self._pending, {}
            for future in pending.values():
                future.set_exception(ConnectionClosed("the daemon closed its output"))

    def _dispatch(self, message: Any) -> None:
        for item in message if isinstance(message, list) else [message]:
            if "method" in item:
                self.notifications.put(item)
                continue
            with self._lock:
                future = self._pending.pop(item.get("id"), None)
            if future is not None:
                future.set_result(item)

    def send(self, message: Any) -> None:
        """Send one raw JSON-RPC message (or batch)."""
        body = json.dumps(message).encode()
        with self._lock:
            try:
                self._writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
                self._writer.flush()
            except (OSError, ValueError) as exc:  # ValueError: our end is closed
                raise ConnectionClosed(f"cannot write to the daemon: {exc}") from exc

    def request(self, method: str, params: Any = None) -> Any:
        """Send a request and return its raw `result`; raise DaemonError on error."""
        msg_id = next(self._ids)
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise ConnectionClosed("the daemon closed its output")
            self._pending[msg_id] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            self.send(message)
            response = future.result(self.timeout)
        finally:
            with self._lock:
                self._pending.pop(msg_id, None)
        if "error" in response:
            error = response["error"]
            raise DaemonError(error["code"], error["message"], error.get("data"))
        return response.get("result")

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def _call(self, method: str, params: Any, result_type: Any) -> Any:
        result = self.request(method, contracts.unstructure(params))
        return contracts.CONVERTER.structure(result, result_type)

    # typed calls

    def get(self, key: str) -> SettingsEntry | None:
        return self._call(  # type: ignore[no-any-return]
            "settings/get", contracts.SettingsGetParams(key=key), SettingsEntry | None
        )

    def set(self, key: str, value: str) -> SettingsEntry:
        return self._call(  # type: ignore[no-any-return]
            "settings/set", contracts.SettingsSetParams(key=key, value=value), SettingsEntry
        )

    def delete(self, key: str) -> bool:
        result = self._call(
            "settings/delete", contracts.SettingsDeleteParams(key=key), contracts.DeleteResult
        )
        return bool(result.deleted)

    def get_all(
        self, prefix: str | None = None, after: str | None = None, limit: int | None = None
    ) -> list[SettingsEntry]:
        params = contracts.SettingsGetAllParams(prefix=prefix, after=after, limit=limit)
        return self._call("settings/getAll", params, list[SettingsEntry])  # type: ignore[no-any-return]

    def set_many(self, entries: dict[str, str]) -> list[SettingsEntry]:
        params = contracts.SettingsSetManyParams(
            entries=[SettingInput(key=k, value=v) for k, v in entries.items()]
        )
        return self._call("settings/setMany", params, list[SettingsEntry])  # type: ignore[no-any-return]

    def export(self) -> SettingsExport:
        return self._call(  # type: ignore[no-any-return]
            "settings/export", contracts.SettingsExportParams(), SettingsExport
        )

    def import_(
        self, export: SettingsExport, *, replace: bool = False, dry_run: bool = False
    ) -> ImportResult:
        params = contracts.SettingsImportParams(
            version=export.version,
            settings=export.settings,
            exported_at=export.exported_at,
            replace=replace,
            dry_run=dry_run,
        )
        return self._call("settings/import", params, ImportResult)  # type: ignore[no-any-return]

    def workspace_get(self, project_dir: str) -> WorkspaceConfig | None:
        params = contracts.WorkspaceGetParams(project_dir=project_dir)
        return self._call("workspaceConfig/get", params, WorkspaceConfig | None)  # type: ignore[no-any-return]

    def workspace_set(self, project_dir: str, **fields: Any) -> WorkspaceConfig:
        """Set `name` and/or `config`; a field left out keeps its stored value."""
        params = contracts.WorkspaceSetParams(project_dir=project_dir, **fields)
        return self._call("workspaceConfig/set", params, WorkspaceConfig)  # type: ignore[no-any-return]

    def workspace_open(self, project_dir: str) -> WorkspaceConfig:
        params = contracts.WorkspaceOpenParams(project_dir=project_dir)
        return self._call("workspaceConfig/open", params, WorkspaceConfig)  # type: ignore[no-any-return]

    def workspace_list(self, limit: int = 50) -> list[WorkspaceConfig]:
        params = contracts.WorkspaceListParams(limit=limit)
        return self._call("workspaceConfig/list", params, list[WorkspaceConfig])  # type: ignore[no-any-return]

    def workspace_delete(self, project_dir: str) -> bool:
        params = contracts.WorkspaceDeleteParams(project_dir=project_dir)
        result = self._call("workspaceConfig/delete", params, contracts.DeleteResult)
        return bool(result.deleted)

    def status(self) -> DaemonStatus:
        return self._call(  # type: ignore[no-any-return]
            "daemon/status", contracts.DaemonStatusParams(), DaemonStatus
        )

    def watch(self, enabled: bool = True) -> bool:
        result = self._call("daemon/watch", contracts.WatchParams(enabled=enabled),
                            contracts.WatchResult)
        return bool(result.watching)

    # lifecycle

    def close(self, timeout: float = 10.0) -> int | None:
        """Shut the daemon down cleanly (shutdown, exit) and close our end.

        Returns the daemon's exit status when this client started it, else None.
        """
        if not self._writer.closed and (self.process is None or self.process.poll() is None):
            # A daemon already gone or shut down has nothing left to say.
            with contextlib.suppress(ConnectionClosed, DaemonError, TimeoutError):
                self.request("shutdown")
                self.notify("exit")
        with contextlib.suppress(OSError):
            self._writer.close()
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout)

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _read_message(reader: IO[bytes]) -> Any:
    length: int | None = None
    while True:
        line = reader.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            if length is not None:
                break
            continue
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = reader.read(length)
    if len(body) < length:
        return None
    return json.loads(body)

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
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from types import ModuleType, TracebackType
from typing import IO, Any, TypeVar

from idumb_daemon import contracts as c
from idumb_daemon.contracts import (
    DaemonStatus,
    ImportResult,
    Method,
    SettingsEntry,
    SettingsExport,
    WatchResult,
    WorkspaceConfig,
)

P = TypeVar("P")
R = TypeVar("R")
DEFAULT_TIMEOUT = 30.0
_CHUNK = 1 << 16


class DaemonError(Exception):
    """A JSON-RPC error response."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message
        self.data = data


class ConnectionClosed(Exception):
    """The daemon closed its output before answering."""


def _this_daemon() -> list[str]:
    """This interpreter's daemon; from the one-file bundle (`idumb-daemon bundle`),
    that archive, under the same -I / -S (`-m` finds no package inside a zip)."""
    import idumb_daemon

    archive = getattr(idumb_daemon.__spec__.loader, "archive", None)
    if archive is None:
        return [sys.executable, "-m", "idumb_daemon", "serve"]
    flags = ["-I"] * sys.flags.isolated + ["-S"] * sys.flags.no_site
    return [sys.executable, *flags, archive, "serve"]


class DaemonClient:
    def __init__(
        self,
        reader: IO[bytes],
        writer: IO[bytes],
        process: subprocess.Popen[bytes] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        # The daemon's own framer, imported here: it imports asyncio, a cost a
        # command line that never makes a client should not pay.
        from idumb_daemon.protocol import framing

        self._framing = framing
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
        cmd = list(command or _this_daemon()) + list(args)
        process = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=cwd
        )
        assert process.stdin is not None and process.stdout is not None
        return cls(process.stdout, process.stdin, process, timeout)

    # transport

    def _read_loop(self) -> None:
        try:
            for message in _read_messages(self._reader, self._framing):
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
        frame = self._framing.encode_frame(json.dumps(message).encode())
        with self._lock:
            try:
                self._writer.write(frame)
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

    def call(self, method: Method[P, R], params: P) -> R:
        """A typed call: `method` is its entry in the method table, whose
        result type the answer is structured into."""
        wire = None if params is None else c.unstructure(params)
        answer = self.request(method.name, wire)
        # A null result (shutdown's) has no type to structure into.
        if method.result is None:
            return answer  # type: ignore[no-any-return]
        result: R = c.CONVERTER.structure(answer, method.result)
        return result

    # typed calls

    def get(self, key: str, project_dir: str | None = None) -> SettingsEntry | None:
        """`project_dir`: that project's workspace layer (here and below);
        None: the user layer."""
        return self.call(c.SETTINGS_GET, c.SettingsGetParams(key=key, project_dir=project_dir))

    def set(
        self,
        key: str,
        value: str,
        if_revision: int | None = None,
        project_dir: str | None = None,
    ) -> SettingsEntry:
        """`if_revision`: 0 writes only if the key is absent, N only if its
        current revision is N; otherwise DaemonError -31007, nothing written."""
        params = c.SettingsSetParams(
            key=key, value=value, if_revision=if_revision, project_dir=project_dir
        )
        return self.call(c.SETTINGS_SET, params)

    def delete(
        self, key: str, if_revision: int | None = None, project_dir: str | None = None
    ) -> bool:
        params = c.SettingsDeleteParams(key=key, if_revision=if_revision, project_dir=project_dir)
        return self.call(c.SETTINGS_DELETE, params).deleted

    def get_all(
        self,
        prefix: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        project_dir: str | None = None,
    ) -> list[SettingsEntry]:
        params = c.SettingsGetAllParams(
            prefix=prefix, after=after, limit=limit, project_dir=project_dir
        )
        return self.call(c.SETTINGS_GET_ALL, params)

    def set_many(
        self,
        entries: dict[str, str],
        if_revisions: dict[str, int] | None = None,
        project_dir: str | None = None,
    ) -> list[SettingsEntry]:
        """All or nothing: one mismatched `if_revisions[key]` writes none."""
        expected = if_revisions or {}
        params = c.SettingsSetManyParams(
            entries=[
                c.SettingsSetManyEntry(key=k, value=v, if_revision=expected.get(k))
                for k, v in entries.items()
            ],
            project_dir=project_dir,
        )
        return self.call(c.SETTINGS_SET_MANY, params)

    def export(self) -> SettingsExport:
        return self.call(c.SETTINGS_EXPORT, c.SettingsExportParams())

    def import_(
        self, export: SettingsExport, *, replace: bool = False, dry_run: bool = False
    ) -> ImportResult:
        params = c.SettingsImportParams(
            version=export.version,
            settings=export.settings,
            exported_at=export.exported_at,
            replace=replace,
            dry_run=dry_run,
        )
        return self.call(c.SETTINGS_IMPORT, params)

    def declare(self, owner: str, settings: dict[str, dict[str, Any]]) -> int:
        """Replace every declaration of `owner`; the number of keys declared."""
        params = c.SettingsDeclareParams(owner=owner, settings=settings)
        return self.call(c.SETTINGS_DECLARE, params).declared

    def declarations(self, prefix: str | None = None) -> list[c.DeclaredSetting]:
        params = c.SettingsDeclarationsParams(prefix=prefix)
        return self.call(c.SETTINGS_DECLARATIONS, params)

    def resolve(
        self,
        keys: list[str] | None = None,
        prefix: str | None = None,
        project_dir: str | None = None,
    ) -> list[c.Resolved]:
        params = c.SettingsResolveParams(keys=keys, prefix=prefix, project_dir=project_dir)
        return self.call(c.SETTINGS_RESOLVE, params)

    def inspect(self, key: str, project_dir: str | None = None) -> c.Inspection:
        params = c.SettingsInspectParams(key=key, project_dir=project_dir)
        return self.call(c.SETTINGS_INSPECT, params)

    def workspace_get(self, project_dir: str) -> WorkspaceConfig | None:
        return self.call(c.WORKSPACE_GET, c.WorkspaceGetParams(project_dir=project_dir))

    def workspace_set(self, project_dir: str, **fields: Any) -> WorkspaceConfig:
        """Set `name` and/or `config` (and `if_revision`, as `set` takes it);
        a field left out keeps its stored value."""
        params = c.WorkspaceSetParams(project_dir=project_dir, **fields)
        return self.call(c.WORKSPACE_SET, params)

    def workspace_open(self, project_dir: str) -> WorkspaceConfig:
        return self.call(c.WORKSPACE_OPEN, c.WorkspaceOpenParams(project_dir=project_dir))

    def workspace_list(self, limit: int = 50) -> list[WorkspaceConfig]:
        return self.call(c.WORKSPACE_LIST, c.WorkspaceListParams(limit=limit))

    def workspace_delete(self, project_dir: str, if_revision: int | None = None) -> bool:
        params = c.WorkspaceDeleteParams(project_dir=project_dir, if_revision=if_revision)
        return self.call(c.WORKSPACE_DELETE, params).deleted

    def status(self) -> DaemonStatus:
        return self.call(c.DAEMON_STATUS, c.DaemonStatusParams())

    def watch(self, enabled: bool = True) -> bool:
        return self.watch_from(None, enabled=enabled).watching

    def watch_from(self, since: int | None, *, enabled: bool = True) -> WatchResult:
        """Watch, first replaying every change after revision `since` (the
        highest revision this client has received); the result holds the
        highest revision committed when the daemon answered."""
        return self.call(c.DAEMON_WATCH, c.WatchParams(enabled=enabled, since=since))

    # lifecycle

    def close(self, timeout: float = 10.0) -> int | None:
        """Shut the daemon down cleanly (shutdown, exit) and close our end.

        Returns the daemon's exit status when this client started it, else None.
        """
        if not self._writer.closed and (self.process is None or self.process.poll() is None):
            # A daemon already gone or shut down has nothing left to say.
            with contextlib.suppress(ConnectionClosed, DaemonError, TimeoutError):
                self.call(c.SHUTDOWN, None)
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


def _read_messages(reader: IO[bytes], framing: ModuleType) -> Iterator[Any]:
    """The messages on `reader` until its end, through the daemon's own framer."""
    parser = framing.FrameParser()
    # read1: what has arrived, without waiting for a whole chunk.
    read = getattr(reader, "read1", reader.read)
    while data := read(_CHUNK):
        for frame in parser.feed(data):
            if isinstance(frame, framing.FrameError):
                raise ConnectionClosed(f"the daemon sent a bad frame: {frame.message}")
            yield json.loads(frame)

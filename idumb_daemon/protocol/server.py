"""The daemon: a pygls JsonRPCServer serving one client on stdio.

`open_storage()` builds the storage it serves (with the migration step
injected from here, so storage never imports migrations); `create_server()`
builds the server, registering a handler for every method of the method
table (nothing is created at import time); `serve()` runs it until end of
input, `exit`, SIGTERM or SIGINT, then answers what it has already read,
closes the database and returns the exit status.

Two ways to stop. At the end of input or on `exit`, every request already
read is executed and answered, however long that takes. On a signal, or once
the client's process is gone, the stop is bounded (2 s): requests not begun,
and a transaction still waiting for the lock, are answered -32800.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, Final, TypeVar, TypeVarTuple, Unpack

from idumb_daemon import contracts, migrations
from idumb_daemon.protocol import framing
from idumb_daemon.protocol.handlers import daemon, declarations, method_of, settings, workspace
from idumb_daemon.protocol.pygls_seam import JsonRPCServer
from idumb_daemon.protocol.rpc import IdumbProtocol
from idumb_daemon.storage import Storage, StorageError
from idumb_daemon.storage import settings as storage_settings
from idumb_daemon.storage.changes import peek_revision, revision_now
from idumb_daemon.storage.database import DEFAULT_BUSY_TIMEOUT, Database, sqlite_path
from idumb_daemon.storage.errors import StorageUnavailable
from idumb_daemon.storage.tx import Tx
from idumb_daemon.watcher import Watcher
from idumb_daemon.worker import Outcome, Pending, StorageWorker

log = logging.getLogger(__name__)
T = TypeVar("T")
Ts = TypeVarTuple("Ts")

AREAS: Final[tuple[ModuleType, ...]] = (daemon, settings, declarations, workspace)
"""The handler modules, one per protocol area."""
BULK_WRITES: Final[frozenset[object]] = frozenset(
    {storage_settings.set_many, storage_settings.import_}
)
"""Writes as large as the client makes them: always on the storage thread,
so the event loop is never held up by one."""

# How long a hurried stop (a signal, the client gone) takes at most before
# the process ends: the protocol promises an exit within 2 seconds.
HURRY_BOUND = 1.8
# The part of it kept for closing storage once the answers are out.
CLOSE_SHARE = 0.3
# How often a client process is looked for where it cannot be waited on.
PROCESS_POLL = 0.5


class IdumbServer(JsonRPCServer):
    protocol: IdumbProtocol

    def __init__(self, storage: Storage) -> None:
        super().__init__(IdumbProtocol, contracts.make_converter)
        self.storage = storage
        self.worker = StorageWorker(storage)
        # The first job: done once the storage thread has tried to open.
        self._opened: Future[None] = self.worker.submit_alone(lambda _s: None)
        self._watcher: Watcher | None = None
        self.exit_code: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._hurry: asyncio.Event | None = None
        self._watched: set[int] = set()

    def read(self, op: Callable[[Tx, Unpack[Ts]], T], *args: *Ts) -> Pending[T]:
        """`op(tx, *args)`, a storage operation that only reads, in arrival
        order: queued on the storage thread (its Job settled on the event
        loop), or done at once when nothing is ahead of it."""
        return self.worker.submit(lambda s: s.read(op, *args), write=False)

    def write(self, op: Callable[[Tx, Unpack[Ts]], T], *args: *Ts) -> Pending[T]:
        """`op(tx, *args)`, a storage operation that writes, in arrival order:
        queued, or done at once when nothing is ahead of it and it is not a
        bulk write; answered once committed."""
        return self.worker.submit(
            lambda s: s.write(op, *args), write=True, inline=op not in BULK_WRITES
        )

    async def storage_opened(self, timeout: float) -> None:
        """Wait (bounded) until the storage thread has tried to open the
        database, so a first `daemon/status` reports the schema version."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.wrap_future(self._opened), timeout)

    @property
    def watching(self) -> bool:
        return self._watcher is not None

    async def revision(self, timeout: float = 1.0) -> int | None:
        """The highest committed revision; None while storage is unavailable.
        Never read behind the storage thread: on a SQLite file as a lone
        SELECT on the event loop's own connection (a WAL reader waits for no
        writer), on PostgreSQL on a short session of its own; only an
        in-memory database, which no other connection can read, is asked on
        the storage thread (bounded by `timeout`). A daemon still opening its
        database is waited for, as briefly."""
        await self.storage_opened(timeout)
        if not self.storage.is_open:
            return None
        try:
            if self.storage.backend == "postgresql":
                return await asyncio.wait_for(
                    asyncio.to_thread(peek_revision, self.storage.url), timeout
                )
            if sqlite_path(self.storage.url) is None:
                job = self.worker.submit_alone(lambda s: s.last_revision())
                return await asyncio.wait_for(asyncio.wrap_future(job), timeout)
            return self.storage.read(revision_now)
        except (StorageError, TimeoutError) as exc:
            log.warning("cannot read the highest revision: %s", exc)
            return None

    def stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    async def set_watching(self, enabled: bool, since: int | None = None) -> int:
        """Start (or restart, to replay from `since`) or stop notifying this
        connection of changes; returns the highest committed revision.

        Never waits behind the storage thread (issue 14 item 9): the feed
        starts after the revision read here, so a change committed after the
        answer is notified however long the start waits in the storage queue.
        Storage that is down does not stop a watch: it follows changes once
        storage is back.
        """
        if not enabled:
            self.stop_watching()
            return await self.revision() or 0
        revision = await self.revision()
        if self._watcher is not None and since is None:
            return revision or 0
        self.stop_watching()
        assert self._loop is not None
        self._watcher = Watcher(
            self.worker, self._loop, self.protocol.notify, sqlite_path(self.storage.url)
        )
        started = self._watcher.start(revision if since is None else since, since is not None)
        started.add_done_callback(_log_watch_start)
        return revision or 0

    def request_stop(self, code: int, *, hurry: bool = False) -> None:
        """Stop serving: after every request read has been answered, or, in
        a hurry, within HURRY_BOUND seconds."""
        if self.exit_code is None:
            self.exit_code = code
        if self._stopping is not None:
            self._stopping.set()
        if hurry and self._hurry is not None:
            self._hurry.set()

    def shutdown(self) -> Coroutine[Any, Any, None]:
        """LSP's shutdown: refuse new requests from now on; the coroutine
        returned ends once every request received before has been answered."""
        protocol = self.protocol
        protocol.is_shutdown = True
        # Queued after every earlier storage job; their answers go out as
        # they are settled, before this barrier is.
        barrier = self.worker.submit_alone(lambda _s: None)
        # Requests still running as coroutines (daemon/watch, daemon/status).
        running: list[Any] = list(protocol._request_futures.values())
        earlier = [f for f in running if isinstance(f, asyncio.Future)]
        return _after(barrier, earlier)

    def _fatal(self, exc: BaseException) -> None:
        # STORAGE.md: an edited applied migration stops the daemon with status 3.
        print(f"idumb-daemon: {exc}", file=sys.stderr, flush=True)
        self.request_stop(3)

    def watch_process(self, pid: int) -> None:
        """Exit once the client's process is gone, so a crashed IDE leaves no
        orphan. A pidfd where the system has one, else a look every
        PROCESS_POLL seconds (macOS, old kernels, seccomp sandboxes)."""
        if pid <= 0:
            # Not a process: os.kill would address a process group instead.
            log.warning("not watching process id %d", pid)
            return
        if pid in self._watched:
            return
        self._watched.add(pid)
        assert self._loop is not None
        loop = self._loop

        def gone() -> None:
            log.warning("client process %d is gone: exiting", pid)
            self.request_stop(0, hurry=True)

        pidfd_open = getattr(os, "pidfd_open", None)
        try:
            if pidfd_open is None:
                raise OSError(errno.ENOSYS, "no pidfd_open")
            fd = pidfd_open(pid)
        except ProcessLookupError:
            gone()
            return
        except OSError as exc:
            log.info("polling client process %d (%s)", pid, exc)
            self._poll_process(pid, gone)
            return

        def exited() -> None:
            loop.remove_reader(fd)
            os.close(fd)
            gone()

        loop.add_reader(fd, exited)

    def _poll_process(self, pid: int, gone: Callable[[], None]) -> None:
        assert self._loop is not None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            gone()
            return
        except PermissionError:
            pass  # alive, another user's
        self._loop.call_later(PROCESS_POLL, self._poll_process, pid, gone)

    async def run(self, stdin_fd: int, stdout_fd: int, client_pid: int | None = None) -> int:
        loop = self._loop = asyncio.get_running_loop()
        stopping = self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()
        # Nobody reads the answers any more: waiting for them helps no one.
        output = Output(stdout_fd, loop, on_broken=lambda: self.request_stop(0, hurry=True))
        protocol = self.protocol
        protocol.send_bytes = output.write
        protocol.on_exit = self.request_stop

        def fatal(exc: BaseException) -> None:
            loop.call_soon_threadsafe(self._fatal, exc)

        self.worker.on_fatal = fatal

        def settle_and_send(outcomes: list[Outcome]) -> None:
            output.sending(self.worker.settle_here, outcomes)

        def settle_on_loop(outcomes: list[Outcome]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: the daemon is ending
                loop.call_soon_threadsafe(settle_and_send, outcomes)

        self.worker.deliver = settle_on_loop
        if self.storage.backend == "sqlite":
            self.worker.read_inline_here()
        self.worker.start()

        def handle(frames: list[framing.Frame]) -> None:
            self.worker.expect_lone_request(len(frames) == 1)
            for frame in frames:
                if isinstance(frame, framing.FrameError):
                    protocol.reject_frame(frame.message)
                else:
                    protocol.receive(frame)

        def deliver(frames: list[framing.Frame] | None) -> None:
            if frames is None:
                self.request_stop(0)
            else:
                output.sending(handle, frames)

        stop_reading = framing.read_frames_on_loop(stdin_fd, loop, deliver)
        if stop_reading is None:
            threading.Thread(
                target=framing.read_frames,
                args=(stdin_fd, lambda frames: loop.call_soon_threadsafe(deliver, frames)),
                name="stdin",
                daemon=True,  # blocked in read(); the process may end without it
            ).start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, partial(self.request_stop, 0, hurry=True))
        if client_pid is not None:
            self.watch_process(client_pid)
        await stopping.wait()
        if stop_reading is not None:
            stop_reading()
        self.stop_watching()
        deadline = await self._drain(protocol)
        output.flush()
        stopped = await asyncio.to_thread(
            self.worker.stop, None if deadline is None else max(0.0, deadline - loop.time())
        )
        if not stopped:
            log.warning("storage still busy at exit")
        return self.exit_code or 0

    async def _drain(self, protocol: IdumbProtocol) -> float | None:
        """Let the requests already read finish and be answered; in a hurry,
        end the ones not begun. Returns the hurried stop's deadline, if any."""
        assert self._hurry is not None
        idle = asyncio.Event()
        protocol.on_idle = idle.set
        if protocol.outstanding == 0:
            idle.set()
        waits = {asyncio.ensure_future(idle.wait()), asyncio.ensure_future(self._hurry.wait())}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if not self._hurry.is_set():
            for task in waits:
                task.cancel()
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HURRY_BOUND
        self.worker.abandon()
        for pending in list(protocol._request_futures.values()):
            pending.cancel()  # refused by a job already begun: it is answered as it ends
        try:
            await asyncio.wait_for(idle.wait(), HURRY_BOUND - CLOSE_SHARE)
        except TimeoutError:
            log.warning("%d requests still running at exit", protocol.outstanding)
        for task in waits:
            task.cancel()
        return deadline


class Output:
    """Buffered writes to the protocol fd: responses produced together leave
    in one write() instead of one each.

    Inside `sending` (reading a chunk of input, settling a batch of storage
    outcomes) the answers leave as it returns; a write anywhere else (a
    notification, a coroutine's answer) leaves on the next turn of the loop.
    The difference matters for a round trip: a flush scheduled for later
    costs one more turn of the loop, a poll of the selector, per request.
    """

    def __init__(
        self, fd: int, loop: asyncio.AbstractEventLoop, on_broken: Callable[[], None]
    ) -> None:
        self._fd = fd
        self._loop = loop
        self._chunks: list[bytes] = []
        self._on_broken = on_broken
        self._broken = False
        self._sending = False
        self._scheduled = False

    def sending(self, produce: Callable[[T], object], arg: T) -> None:
        """Call `produce(arg)`, then write everything it produced at once."""
        self._sending = True
        try:
            produce(arg)
        finally:
            self._sending = False
            self.flush()

    def write(self, data: bytes) -> None:
        self._chunks.append(data)
        if not self._sending and not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush_scheduled)

    def _flush_scheduled(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        if not self._chunks:
            return
        data = memoryview(b"".join(self._chunks))
        self._chunks.clear()
        while data and not self._broken:
            try:
                written = os.write(self._fd, data)
            except BlockingIOError:
                # fd 1 is non-blocking: it shares its open file description
                # with stdin (one socket for both), whose reader set that.
                # Wait as a blocking write would: answers keep their order.
                self._wait_writable()
                continue
            except OSError as exc:
                self._broken = True
                log.warning("the client's end of the output is gone: %s", exc)
                self._on_broken()
                return
            data = data[written:]

    def _wait_writable(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLOUT)
        poller.poll()


async def _after(barrier: Future[None], earlier: list[asyncio.Future[Any]]) -> None:
    await asyncio.wrap_future(barrier)
    if earlier:
        await asyncio.wait(earlier)


def migrate_step(schema_dir: Path | None = None) -> Callable[[Database], int]:
    """The migration step Storage runs on opening: migrations' refusals
    become StorageUnavailable, so the daemon serves on without storage."""

    def migrate(database: Database) -> int:
        try:
            return migrations.migrate(database, schema_dir=schema_dir).version
        except (migrations.AdoptionRefused, migrations.MigrationFailed) as exc:
            # Serving on a schema we cannot vouch for would corrupt it; the
            # lifecycle and daemon/status keep working.
            log.error("storage refused: %s", exc)
            raise StorageUnavailable(str(exc)) from exc

    return migrate


def open_storage(
    url: str,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    schema_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
) -> Storage:
    """The daemon's storage for `url`, migrated on opening (not yet opened)."""
    return Storage(url, migrate=migrate_step(schema_dir), busy_timeout=busy_timeout, clock=clock)


class HandlerMissing(LookupError):
    """A method of the method table has no handler: the server must not start."""


def create_server(storage: Storage, areas: tuple[ModuleType, ...] = AREAS) -> IdumbServer:
    """The server, with the handler of every method in the method table."""
    server = IdumbServer(storage)
    handlers = server.protocol.handlers
    for area in areas:
        for fn in vars(area).values():
            method = method_of(fn)
            if method is None:
                continue
            if method.name in handlers:
                raise ValueError(f"two handlers for {method.name}")
            handlers[method.name] = partial(fn, server)
    missing = [name for name in contracts.METHODS if name not in handlers]
    if missing:
        raise HandlerMissing(f"no handler for {', '.join(missing)}")
    return server


def serve(storage: Storage, stdin_fd: int, stdout_fd: int, client_pid: int | None = None) -> int:
    """Serve the protocol on the given descriptors; return the exit status.
    `client_pid`, if given, is watched as `initialize`'s processId is."""
    server = create_server(storage)
    # Everything built so far (the modules, the contracts' converters) lives
    # as long as the process: out of the collector's sight, a full collection
    # walks only what requests made, and a watching daemon stays idle.
    gc.freeze()
    code: int = asyncio.run(server.run(stdin_fd, stdout_fd, client_pid))
    return code


def _log_watch_start(started: Future[None]) -> None:
    if not started.cancelled() and isinstance(exc := started.exception(), StorageError):
        log.warning("watching while storage is unavailable: %s", exc)

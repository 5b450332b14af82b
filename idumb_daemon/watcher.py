"""`daemon/watch`: telling the client what other writers changed.

Three parts, each where its work belongs:

- A thread notices commits cheaply. On SQLite a poller reads `PRAGMA
  data_version` on a connection of its own, a few microseconds that change
  whenever any other connection (another process, or our own storage thread)
  has committed. It reads it when the system reports a write to the
  database's files (inotify), so a commit is seen within a millisecond or
  two of becoming visible, and once a second for SETTLE after the last
  report (a commit shows only once synced, which raises no report); idle
  after that, it wakes every IDLE_INTERVAL only. Where no such report comes
  (network file systems, other systems) it reads it every POLL_INTERVAL.
  On PostgreSQL
  a listener waits on a connection of its own that LISTENs to the channel the
  change-log triggers NOTIFY at every commit, from any machine: idle, it sends
  nothing to the server at all.
- A look at the change log (`Storage.collect_changes`) runs on the storage
  thread like every storage call, queued in request order and never inside a
  group commit, so it reads only committed state.
- The event loop sends what the look found, as `settings/didChange` and
  `workspaceConfig/didChange`.

Ordering: a look is queued behind the requests already submitted and ahead of
later ones, and its outcome is settled on the event loop in queue order with
theirs (the storage worker delivers a batch's outcomes in order, and both a
response and a notification are written from the callback that settles them), so a
notification is written after the responses to the requests queued before its
look and before the later ones: the client never sees a stale value arrive
after its own newer write's response.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Final, TypeVar

from idumb_daemon.contracts import (
    SettingChange,
    SettingsDidChangeParams,
    WorkspaceChange,
    WorkspaceConfigDidChangeParams,
)
from idumb_daemon.storage import Storage, StorageError
from idumb_daemon.storage.changes import NOTIFY_CHANNEL, Changes
from idumb_daemon.storage.database import ChangeListener, DataVersionProbe, safe_url
from idumb_daemon.storage.filewatch import FileEvents
from idumb_daemon.worker import StorageWorker

log = logging.getLogger(__name__)
T = TypeVar("T")

POLL_INTERVAL: Final = 0.15
"""Seconds between polls where the system reports no file writes:
notifications arrive well within the 1 s promised."""
NOTIFIED_INTERVAL: Final = 1.0
"""Seconds between looks for SETTLE after a file event (or the watch's start):
for a commit that shows only after the looks of its BURST."""
SETTLE: Final = 10.0
"""Seconds after the last file event during which a commit may still show
without another: its writer's sync (SQLite publishes a commit in the
memory-mapped -shm index, which raises no event, only once its WAL is
synced). Ten seconds covers a disk in trouble; a sync slower still is seen
within IDLE_INTERVAL."""
IDLE_INTERVAL: Final = 30.0
"""Seconds between looks once SETTLE has passed without an event. Nothing is
left to wait for then: this look is for what no event can report (a folder
above the database's swapped for another, with a database in it)."""
BURST: Final = 0.5
"""After a write event, how long to look for the commit it announced: SQLite
publishes a commit only after syncing it, which a loaded disk can take long for."""
BURST_FAST: Final = 0.05
BURST_STEP: Final = 0.001
BURST_SLOW_STEP: Final = 0.005
"""Seconds between looks in a burst: every millisecond for its first
BURST_FAST seconds (a sync usually takes less), then every five."""
FORCE_POLL: Final = "IDUMB_WATCH"
"""Set to `poll`, the watch polls even where the system reports file writes."""
RETRY_INTERVAL: Final = 1.0
"""Seconds before a look that failed (storage unavailable) is tried again."""
MAX_CHANGES: Final = 1000
MAX_BYTES: Final = 4 * 1024 * 1024
"""Bounds on one notification: a resync can report every row, and values run to 1 MiB."""


class Poller:
    """Calls `wake` from its own thread whenever the database may have changed.

    Where the system reports file writes (storage.filewatch) it sleeps until
    one comes, then reads `PRAGMA data_version` every millisecond or so until
    the commit shows (or BURST has passed without one), and once a second
    until `settle` has passed since the last one; after that only every
    `idle`. Elsewhere, with `notify` off, or after the folder's watch ended
    and until a new one is in place, it reads it every `interval`."""

    def __init__(
        self,
        path: Path | None,
        wake: Callable[[], None],
        interval: float,
        *,
        notify: bool = True,
        settle: float = SETTLE,
        idle: float = IDLE_INTERVAL,
    ) -> None:
        self._path = path
        self._wake = wake
        self._interval = interval
        self._notify = notify
        self._settle = settle
        self._idle = idle
        self._events: FileEvents | None = None
        self._settle_until = 0.0
        self._stop = threading.Event()
        # Ends a wait on the file events at once.
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="watch-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        os.write(self._stop_w, b"x")
        if self._thread.ident is not None:  # started
            self._thread.join()
        os.close(self._stop_r)
        os.close(self._stop_w)

    def _run(self) -> None:
        if self._path is None:
            return  # an in-memory database: no other writer can reach it
        try:
            self._follow(self._path)
        finally:
            self._disarm()

    def _arm(self, path: Path) -> None:
        """File events on the folder `path` is in now. Armed before the
        version is read: a commit after that read raises an event, and one
        whose writes came before, still syncing, shows within `settle`."""
        self._disarm()
        if self._notify:
            self._events = FileEvents.open(path)
        self._settle_until = time.monotonic() + self._settle

    def _disarm(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None

    def _next(self, burst_until: float, last_event: float, failing: bool) -> bool:
        """Wait for the next look; True if the database's files were written."""
        events = self._events
        if events is None:
            self._stop.wait(self._interval)
            return False
        now = time.monotonic()
        if now < burst_until:
            timeout = BURST_STEP if now - last_event < BURST_FAST else BURST_SLOW_STEP
        elif failing or now < self._settle_until:
            timeout = NOTIFIED_INTERVAL
        else:
            timeout = self._idle
        return events.wait(timeout, self._stop_r)

    def _follow(self, path: Path) -> None:
        probe: DataVersionProbe | None = None
        version: int | None = None
        failing = False
        burst_until = last_event = 0.0
        first = True
        # Events to (re)open with the next probe: at the start, and once the
        # folder watched may no longer be the one the path is in.
        rearm = True
        while True:
            # The first look comes at once: what was committed since the
            # revision the watch starts from is sent now, not a second later.
            written = False if first else self._next(burst_until, last_event, failing)
            if self._stop.is_set():
                break
            if written:
                last_event = time.monotonic()
                burst_until = last_event + BURST
                self._settle_until = last_event + self._settle
            if self._events is not None and self._events.lost:
                # The folder watched was deleted, moved or unmounted: poll
                # until a probe opens on what the path names now, then watch
                # the folder that is there.
                self._disarm()
                rearm = True
                if probe is not None:
                    probe.close()
                    probe = None
            try:
                if probe is not None and probe.moved():
                    # Another file is in place (a restore), or none: the probe
                    # reads the old one, where nothing will change any more.
                    # It may be in another folder (one above it swapped).
                    probe.close()
                    probe = None
                    rearm = True
                if probe is None:
                    probe = DataVersionProbe(path)
                    version = None
                    # Once a file is there to read (so a folder still gone
                    # costs no attempt), before its version is read.
                    if rearm:
                        self._arm(path)
                        # None to be had where there were: try again with
                        # the next probe.
                        rearm = not first and self._notify and self._events is None
                now = probe.read()
            except StorageError as exc:
                if not failing:
                    log.warning("watch: cannot poll %s: %s", path, exc)
                failing = True
                if probe is not None:
                    probe.close()
                probe = None
                continue
            finally:
                first = False
            failing = False
            # The first reading on a connection compares with nothing: look
            # anyway, a commit may have come since the feed was started.
            if now != version:
                version = now
                self._wake()
                # The commit the events announced is visible; a write that
                # came with this look keeps the burst going.
                if not written:
                    burst_until = 0.0
        if probe is not None:
            probe.close()


class Listener:
    """Calls `wake` from its own thread whenever PostgreSQL notifies a commit
    that changed the tables, and whenever it (re)connects: what was committed
    while it was not listening is then read too."""

    STOP_CHECK: Final = 0.2
    """Seconds between looks at the stop flag while waiting for notifications."""

    def __init__(self, url: str, wake: Callable[[], None]) -> None:
        self._url = url
        self._wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watch-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # Not joined: a connection attempt to an unreachable server can take
        # CONNECT_TIMEOUT, longer than an exit may. The thread ends by itself,
        # and the Watcher ignores a wake that comes after its stop.
        self._stop.set()

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                listener = ChangeListener(self._url, NOTIFY_CHANNEL)
                try:
                    if failing:
                        log.warning("watch: listening on %s again", safe_url(self._url))
                    failing = False
                    self._wake()
                    while not self._stop.is_set():
                        if listener.wait(self.STOP_CHECK):
                            self._wake()
                finally:
                    listener.close()
            except StorageError as exc:
                if not failing:
                    log.warning("watch: cannot listen on %s: %s", safe_url(self._url), exc)
                failing = True
                self._stop.wait(RETRY_INTERVAL)


class Watcher:
    """One connection's watch: started by `daemon/watch`, stopped by it or at exit.

    Lives on the event loop; the poller thread only calls `wake` through
    `call_soon_threadsafe`.
    """

    def __init__(
        self,
        worker: StorageWorker,
        loop: asyncio.AbstractEventLoop,
        notify: Callable[[str, Any], None],
        path: Path | None,
        interval: float = POLL_INTERVAL,
    ) -> None:
        self._worker = worker
        self._loop = loop
        self._notify = notify
        self._poller: Poller | Listener
        if worker.storage.backend == "postgresql":
            self._poller = Listener(worker.storage.url, self._wake_threadsafe)
        else:
            events = os.environ.get(FORCE_POLL) != "poll"
            self._poller = Poller(path, self._wake_threadsafe, interval, notify=events)
        self._looking = False
        self._again = False
        self._stopped = False
        self._failing = False

    def start(self, after: int | None, replay: bool) -> Future[None]:
        """Follow changes after revision `after` (None: from when the storage
        thread gets to it; `replay`: this daemon's own ones too); the future is
        done once the storage thread has marked it (it fails when storage
        does, and the first look then starts following)."""
        started: Future[None] = self._worker.submit_alone(
            lambda s: s.watch(True, after, replay=replay)
        )
        self._poller.start()
        return started

    def stop(self) -> None:
        """No notification is sent after this returns."""
        if self._stopped:
            return
        self._stopped = True
        self._poller.stop()
        self._worker.submit_alone(lambda s: s.watch(False))

    def _wake_threadsafe(self) -> None:
        # RuntimeError: the loop is closed, the daemon is ending.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._stopped:
            return
        if self._looking:
            self._again = True  # look again once this look is done
            return
        self._looking = True
        self._again = False
        job = self._worker.submit_alone(Storage.collect_changes)
        job.add_done_callback(self._looked)

    def _looked(self, job: Future[Changes]) -> None:
        self._looking = False
        if self._stopped or job.cancelled():
            return
        try:
            changes = job.result()
        except Exception as exc:
            if not self._failing:
                if isinstance(exc, StorageError):
                    log.warning("watch: cannot read changes: %s", exc)
                else:
                    log.error("watch: reading changes failed", exc_info=exc)
            self._failing = True
            # Nothing was read, so nothing is lost: look again later.
            self._loop.call_later(RETRY_INTERVAL, self._wake)
            return
        self._failing = False
        self._send(changes)
        if self._again:
            self._wake()

    def _send(self, changes: Changes) -> None:
        for kind, items, revision, resync in notifications(changes):
            if kind == "settings":
                self._notify(
                    "settings/didChange",
                    SettingsDidChangeParams(changes=items, revision=revision, resync=resync),
                )
            else:
                self._notify(
                    "workspaceConfig/didChange",
                    WorkspaceConfigDidChangeParams(changes=items, revision=revision, resync=resync),
                )


def notifications(changes: Changes) -> Iterator[tuple[str, list[Any], int, bool]]:
    """The notifications (kind, changes, revision, resync) that report a look,
    in the order to send them.

    A resync: per kind, the first with resync true (even with no rows: the
    client drops what it holds), every one carrying the look's revision. Else
    the changes of both kinds are sent in revision order, a notification
    holding a run of one kind and carrying the highest revision in it, so that
    when one with revision R arrives every change up to R has been sent; the
    last carries the look's revision (what was skipped below it was our own).
    """
    if changes.resync:
        kinds: tuple[tuple[str, Sequence[SettingChange | WorkspaceChange]], ...] = (
            ("settings", changes.settings),
            ("workspaces", changes.workspaces),
        )
        for kind, items in kinds:
            parts = list(chunks(items, _size)) or [[]]
            for i, part in enumerate(parts):
                yield kind, part, changes.revision, i == 0
        return
    merged = sorted(
        [("settings", c.revision, c) for c in changes.settings]
        + [("workspaces", c.revision, c) for c in changes.workspaces],
        key=lambda item: item[1],
    )
    runs: list[tuple[str, list[Any]]] = []
    for kind, _revision, change in merged:
        if not runs or runs[-1][0] != kind:
            runs.append((kind, []))
        runs[-1][1].append(change)
    out = [(kind, part, part[-1].revision) for kind, items in runs for part in chunks(items, _size)]
    for i, (kind, part, revision) in enumerate(out):
        yield kind, part, changes.revision if i == len(out) - 1 else revision, False


def _size(change: SettingChange | WorkspaceChange) -> int:
    if isinstance(change, SettingChange):
        return _setting_size(change)
    return _workspace_size(change)


def _setting_size(change: SettingChange) -> int:
    return len(change.key) + len(change.value or "")


def _workspace_size(change: WorkspaceChange) -> int:
    workspace = change.workspace
    if workspace is None or workspace.config is None:
        return len(change.project_dir)
    return len(change.project_dir) + len(json.dumps(workspace.config, ensure_ascii=False))


def chunks(items: Sequence[T], size: Callable[[T], int]) -> Iterator[list[T]]:
    """Split into lists of at most MAX_CHANGES items and about MAX_BYTES."""
    chunk: list[T] = []
    total = 0
    for item in items:
        n = size(item)
        if chunk and (len(chunk) >= MAX_CHANGES or total + n > MAX_BYTES):
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += n
    if chunk:
        yield chunk

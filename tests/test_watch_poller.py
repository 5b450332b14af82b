"""The watch's poller on a real SQLite file (issue 16's idle watch): a commit
reaches it by the system's file events, and where these miss it, by its
looks (once a second after an event or the start, then every idle
interval); a folder swapped under it is watched anew. Intervals are shortened
or stretched per test so that only the way under test can report a commit;
every wait is bounded."""

from __future__ import annotations

import contextlib
import os
import select
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from idumb_daemon import watcher
from idumb_daemon.storage.filewatch import FileEvents
from idumb_daemon.watcher import Poller

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")

BOUND = 5.0
NEVER = 3600.0
"""An interval no test lasts: looks of that kind never come."""


class Wakes:
    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def __call__(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    @property
    def count(self) -> int:
        with self._changed:
            return self._count

    def wait_for(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self._count >= count, BOUND), self._count


class MissedEvents(FileEvents):
    """inotify as it is, but the word of every write is lost: waits wake
    for nothing but their timeout or the stop."""

    def wait(self, timeout: float, stop_fd: int) -> bool:
        select.select([stop_fd], [], [], timeout)
        self.drain()
        return False


def create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (v)")
        conn.commit()
    finally:
        conn.close()


def commit(path: Path) -> None:
    """A commit by another connection, as another process's would be."""
    conn = sqlite3.connect(path, timeout=BOUND)
    try:
        with conn:
            conn.execute("INSERT INTO t VALUES (1)")
    finally:
        conn.close()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "idumb.db"
    create(path)
    return path


Start = Callable[..., Wakes]


@pytest.fixture
def start(database: Path) -> Iterator[Start]:
    """Starts a poller on `database`; each is stopped at the end."""
    pollers: list[Poller] = []

    def start(*, settle: float, idle: float, interval: float = NEVER, notify: bool = True) -> Wakes:
        wakes = Wakes()
        poller = Poller(database, wakes, interval, notify=notify, settle=settle, idle=idle)
        pollers.append(poller)
        poller.start()
        # The first look comes at once, without waiting for any interval.
        wakes.wait_for(1)
        return wakes

    yield start
    for poller in pollers:
        poller.stop()


def watched_inodes() -> set[int]:
    """The inodes this process's inotify watches are on (/proc's fdinfo)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own fd, gone by now
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:inotify":
                continue
            for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines():
                if line.startswith("inotify wd:"):
                    inodes.add(int(line.split(" ino:")[1].split()[0], 16))
    return inodes


def test_a_commit_is_reported_by_file_events_with_no_look_due(start: Start, database: Path) -> None:
    wakes = start(settle=0.0, idle=NEVER)
    commit(database)
    wakes.wait_for(2)


@pytest.mark.parametrize(
    ("settle", "idle"),
    [
        # The start counts as an event: a commit syncing then shows with no
        # event of its own, and looks once a second see it.
        (NEVER, NEVER),
        # Long after the last event, the idle looks see it.
        (0.0, 0.2),
    ],
    ids=["looks after the start", "idle looks"],
)
def test_a_commit_whose_events_were_missed_is_seen_by_the_looks(
    start: Start, database: Path, monkeypatch: pytest.MonkeyPatch, settle: float, idle: float
) -> None:
    monkeypatch.setattr(watcher, "FileEvents", MissedEvents)
    wakes = start(settle=settle, idle=idle)
    commit(database)
    wakes.wait_for(2)


def test_a_folder_swapped_under_the_watch_is_watched_anew(
    start: Start, database: Path, tmp_path: Path
) -> None:
    # Polls while no folder is at the path, so the swap takes no exact timing.
    wakes = start(settle=0.0, idle=NEVER, interval=0.05)
    folder = database.parent
    assert folder.stat().st_ino in watched_inodes()
    # A folder with another database takes the watched one's place, as a
    # restore of a whole folder would: the old watch reports its move.
    folder.rename(tmp_path / "old")
    create(tmp_path / "new" / database.name)
    (tmp_path / "new").rename(folder)
    wakes.wait_for(2)  # the file at the path is another: a look
    # Its folder was watched before the probe opened on it.
    assert folder.stat().st_ino in watched_inodes()
    seen = wakes.count
    commit(database)
    wakes.wait_for(seen + 1)


def test_polling_reports_a_commit_without_file_events(start: Start, database: Path) -> None:
    wakes = start(settle=NEVER, idle=NEVER, interval=0.05, notify=False)
    commit(database)
    wakes.wait_for(2)

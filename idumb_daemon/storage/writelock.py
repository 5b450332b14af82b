"""A queue for SQLite's write lock between the daemons sharing one file.

SQLite's own lock is taken by trying: a writer that finds it held sleeps in
its busy handler, in steps that grow to 100 ms, and tries again, so with four
writers a write can wait half a second for a lock that was free after a
millisecond. Daemons therefore also take an OS lock (flock) on a lock file
of the database around each write transaction: the kernel wakes the next
waiter the moment the holder lets go, and only then does it ask SQLite.

The lock file is not beside the database, whose folder holds the database's
own files only, but in a folder of the user's own (`/tmp/idumb-<uid>`, 0700,
refused if anyone else owns it or may enter it), named by the database
file's device and inode, so every path to one file finds one lock, and a file
put in its place (a restore) gets another. Daemons of other users, or behind
another /tmp (containers), do not meet there: SQLite's lock orders them, as
before.

It only orders daemons: SQLite's lock still decides. A writer that knows
nothing of the file (the sqlite3 shell, another program) is met at SQLite's
lock as before, and a daemon that cannot create the file writes without it.

flock blocks in the kernel, where nothing reaches it, so the blocking wait
runs on a thread of its own, and the caller waits for it in slices it chooses
(see worker.StorageWorker: a stop ends a wait within one slice).
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import threading
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

FILE_MODE: Final = 0o600
FOLDER_MODE: Final = 0o700
CLAIM_GRACE: Final = 0.25
"""Seconds the waiting thread holds a lock it got for a caller whose slice
ended meanwhile: the caller asks again at once, unless it gave up."""


def lock_folder(root: Path = Path("/tmp")) -> Path | None:
    """The user's folder of lock files, made if need be; None where it cannot
    be had or is not the user's alone (another user could hold its locks)."""
    folder = root / f"idumb-{os.getuid()}"
    try:
        os.mkdir(folder, FOLDER_MODE)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        st = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return folder


def lock_name(identity: tuple[int, int]) -> str:
    return f"{identity[0]}-{identity[1]}.lock"


class WriteLock:
    """flock on the lock file of the database with this (device, inode).
    Not for concurrent callers: one thread at a time acquires and releases
    (the daemon's writes are serialised).

    The file goes when its last user closes: the one closing removes it
    only if it can lock it at once, and whoever gets the lock checks that
    it locked the file still at the path (the usual protocol of lock files
    that are removed), else it starts over on the new one.
    """

    def __init__(self, identity: tuple[int, int], folder: Path | None = None) -> None:
        self._name = lock_name(identity)
        self._folder = folder
        self.path: Path | None = None
        self._fd: int | None = None
        self._unusable = False
        self._mutex = threading.Lock()
        self._request = threading.Event()
        self._got = threading.Event()
        self._claimed = threading.Event()
        self._waiting = False  # the waiting thread is asking the kernel
        self._unclaimed = False  # the waiting thread got the lock for a caller
        self._closed = False
        self._thread: threading.Thread | None = None

    def _file(self) -> int | None:
        if self._fd is None and not self._unusable and not self._closed:
            if self.path is None:
                folder = self._folder or lock_folder()
                if folder is None:
                    self._unusable = True
                    log.info("writing without a lock file: no folder of our own for it")
                    return None
                self.path = folder / self._name
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
            except OSError as exc:
                self._unusable = True
                log.info("writing without %s: %s", self.path, exc)
        return self._fd

    def _current(self, fd: int) -> bool:
        """Whether the file locked through `fd` is still the one at the path;
        if not, `fd` is closed (and with it the lock) for a new one. Lock
        files are only ever removed (see close), never put in place of
        another, so one still linked is the one at the path: an fstat
        answers, with no lookup of the path on every write."""
        try:
            if os.fstat(fd).st_nlink > 0:
                return True
        except OSError:
            pass
        os.close(fd)
        self._fd = None
        return False

    def acquire(self, timeout: float) -> bool:
        """Take the lock, waiting up to `timeout` seconds (0: not at all).
        True once held, or where the lock file cannot be had (SQLite's lock
        alone then orders the writers); False if still held elsewhere. A
        refused call leaves the wait going: the next call finds the lock held
        for it if it was let go meanwhile (or within CLAIM_GRACE after)."""
        with self._mutex:
            if self._claim():
                return True
            if not self._waiting:
                while True:
                    fd = self._file()
                    if fd is None:
                        return True
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        break
                    if self._current(fd):
                        return True
                self._waiting = True
                self._got.clear()
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._wait, name="write-lock", daemon=True
                    )
                    self._thread.start()
                self._request.set()
        if timeout <= 0 or not self._got.wait(timeout):
            return False
        with self._mutex:
            return self._claim()

    def _claim(self) -> bool:
        if not self._unclaimed:
            return False
        self._unclaimed = False
        self._claimed.set()
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _wait(self) -> None:
        while True:
            self._request.wait()
            self._request.clear()
            if not self._wait_once():
                return

    def _wait_once(self) -> bool:
        """Wait for the lock for a caller; False once closed."""
        while True:
            with self._mutex:
                fd = self._file()
                if fd is None:  # closed, or the file cannot be had any more
                    self._waiting = False
                    self._unclaimed = not self._closed  # the caller writes without it
                    self._got.set()
                    return not self._closed
            fcntl.flock(fd, fcntl.LOCK_EX)  # the kernel wakes us as the holder lets go
            with self._mutex:
                if self._closed:
                    os.close(fd)  # left to us by close(): we were inside flock on it
                    return False
                if not self._current(fd):
                    continue
                self._waiting = False
                self._unclaimed = True
                self._claimed.clear()
                self._got.set()
            break
        if not self._claimed.wait(CLAIM_GRACE):
            with self._mutex:
                if self._unclaimed and self._fd is not None:
                    self._unclaimed = False
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
        return True

    def close(self) -> None:
        """Let go of the file, removing it if no other process is using it."""
        with self._mutex:
            self._closed = True
            self._unclaimed = False
            self._request.set()  # the waiting thread, if any, ends
            fd, self._fd = self._fd, None
            if fd is None or self._waiting:
                return  # a waiting thread inside flock closes it as it returns
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if self._current(fd):
                    assert self.path is not None
                    os.unlink(self.path)
                else:
                    return  # closed by _current
            except OSError:
                pass  # in use elsewhere, or already gone: theirs to remove
            os.close(fd)

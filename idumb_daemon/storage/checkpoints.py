"""WAL checkpoints on a thread of their own, mostly off the write path.

SQLite checkpoints by itself inside the COMMIT that grows the WAL past
`wal_autocheckpoint` pages: that commit then also copies the WAL's pages
into the database and syncs both files, several times its own cost, while
our write lock is still held, so the daemons queued behind it wait too.
Here a thread of the daemon's copies them a little after writes, with a
PASSIVE checkpoint: it waits for no lock and blocks no reader or writer (a
writer may append while it copies). Commits keep landing meanwhile, so the
WAL is rarely found fully copied at the start of a write, which is when
SQLite rewinds it; the automatic checkpoint at AUTOCHECKPOINT_PAGES still
comes, and finds next to nothing left to copy.

The WAL is then rewound to its start every AUTOCHECKPOINT_PAGES pages and
written over in place, and never truncated on the way (WAL_SIZE_LIMIT is
above its size): syncing a file that keeps its size flushes no file-system
metadata, and costs less than syncing one that grows each time.

One checkpoint follows a burst of commits, never one per commit: the first
commit after a checkpoint wakes the thread, which lets CADENCE pass (more
commits join meanwhile, waking nothing) and then copies all of them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Final

from idumb_daemon.storage.sql import execute_on

log = logging.getLogger(__name__)

CADENCE: Final = 0.01
"""Seconds from the first commit after a checkpoint to the next checkpoint:
at most a hundred a second, whatever the rate of commits."""

AUTOCHECKPOINT_PAGES: Final = 200
"""Pages of WAL (800 KiB) at which a commit checkpoints and SQLite rewinds
the WAL: the most the WAL file holds, whatever writes."""

WAL_SIZE_LIMIT: Final = 1024 * 1024
"""Bytes a rewound WAL is cut down to (journal_size_limit): above what
AUTOCHECKPOINT_PAGES lets it reach, so only a WAL one large transaction
grew (an import) is cut."""


class Checkpointer:
    """Checkpoints the SQLite file at `path` after writes, on its own thread
    and connection. `wrote()` after every commit; `close()` once done."""

    def __init__(self, path: Path) -> None:
        self._uri = path.absolute().as_uri() + "?mode=rw"
        self._wake = threading.Event()
        self._pending = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def wrote(self) -> None:
        """A commit landed in the WAL. Costs a flag test but for the first
        commit after a checkpoint, which wakes the thread."""
        if self._pending or self._closed:
            return
        self._pending = True
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="checkpoint", daemon=True)
            self._thread.start()
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """End the thread (a checkpoint under way finishes first). The last
        connection to close checkpoints what is left, as SQLite always does."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            # No busy handler: a PASSIVE checkpoint waits for nothing, and
            # one that finds the checkpoint lock taken (another daemon is
            # checkpointing) has nothing to do.
            conn = sqlite3.connect(
                self._uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            log.warning("checkpoints left to SQLite's automatic ones: %s", exc)
            return
        try:
            execute_on(conn, "PRAGMA synchronous=FULL")
            while True:
                self._wake.wait()
                if self._closed:
                    return
                time.sleep(CADENCE)
                # Cleared before the checkpoint: a commit landing during it
                # wakes the next one, so none is left in the WAL for long.
                self._wake.clear()
                if self._closed:  # close() set it before the wake just cleared
                    return
                self._pending = False
                try:
                    execute_on(conn, "PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    # Busy, or the file is gone or full: the next commit
                    # brings another try, and SQLite's backstop stays.
                    log.debug("checkpoint skipped: %s", exc)
        finally:
            conn.close()

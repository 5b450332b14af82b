"""Storage: opens, recovers and migrates the database, runs each operation
(a function of settings.py or workspaces.py taking a `Tx`) in a transaction,
follows the change feed, and closes.

Storage failures never stop the daemon: a database that cannot be opened is
remembered as the error every storage call raises (and, for an unreachable
server or a vanished file, opened again on the next call), so `daemon/status`
and the lifecycle keep working.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar, TypeVarTuple, Unpack

import attrs

from idumb_daemon.contracts import RecoveryInfo
from idumb_daemon.storage import changes, recovery
from idumb_daemon.storage.database import (
    DEFAULT_BUSY_TIMEOUT,
    Database,
    driver_error,
    safe_url,
    sqlite_path,
)
from idumb_daemon.storage.errors import (
    SchemaTooNew,
    StorageBusy,
    StorageError,
    StorageUnavailable,
)
from idumb_daemon.storage.tx import Tx

log = logging.getLogger(__name__)
T = TypeVar("T")
Ts = TypeVarTuple("Ts")

Migrate = Callable[[Database], int]
"""Brings an opened database to the current schema and returns its version.
Raises StorageError (the database is refused, the daemon serves on) or
FatalStorageError (the daemon must not start)."""


@attrs.frozen
class StorageInfo:
    backend: str
    database: str
    schema_version: int | None
    recovered: RecoveryInfo | None


class Storage:
    def __init__(
        self,
        url: str,
        *,
        migrate: Migrate,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.busy_timeout = busy_timeout
        self._migrate = migrate
        self._clock = clock
        self._database: Database | None = None
        self._tx: Tx | None = None
        self._failure: StorageError | None = None
        self._recovered: RecoveryInfo | None = None
        self._schema_version: int | None = None
        self.wrote = False
        self._watching = False
        self._local = threading.local()
        self._feed: changes.Feed | None = None
        self._feed_from: tuple[int | None, bool] = (None, False)
        """Where the feed starts (see changes.Feed.start), kept until it has."""

    @property
    def backend(self) -> str:
        return "postgresql" if self.url.startswith("postgresql") else "sqlite"

    @property
    def collate(self) -> str:
        # PostgreSQL's default collation is locale-aware; "C" orders by code
        # point, as SQLite's BINARY does, so both backends list keys alike.
        return ' COLLATE "C"' if self.backend == "postgresql" else ""

    def open(self) -> None:
        """Open, recover and migrate. Storage failures are kept, not raised;
        a FatalStorageError is raised: the daemon must not start."""
        try:
            path = sqlite_path(self.url)
            # Before opening: recovery may put another file in its place.
            if path is not None and self._recovered is None:
                self._recovered = recovery.recover_if_corrupt(path)
            database = Database(
                self.url, busy_timeout=self.busy_timeout, background_checkpoints=True
            )
            try:
                self._schema_version = self._migrate(database)
            except BaseException:
                database.close()  # a refused database is not kept open
                raise
        except StorageError as exc:
            self._failure = exc
            if isinstance(exc, SchemaTooNew):
                self._schema_version = exc.database_version
            log.error("storage unavailable: %s", exc)
            return
        self._database = database
        self._tx = Tx(database.db, self.collate, self._clock)
        self._failure = None

    def _ready(self) -> Database:
        if self._database is None and isinstance(self._failure, StorageUnavailable | StorageBusy):
            self.open()  # the server, the file may be back; the lock free
        if self._failure is not None:
            raise self._failure
        if self._database is None:
            raise StorageUnavailable("storage is not open")
        return self._database

    @property
    def is_open(self) -> bool:
        """Whether a database is open: a call then needs no (re)open first."""
        return self._database is not None

    def read_alone_on_this_thread(self) -> None:
        """From now on, run reads on the calling thread as lone statements
        outside any explicit transaction (SQLite only: each is then its own
        transaction). Every read operation is one statement, so it sees one
        consistent state. Writes on it never wait for a lock: one held
        elsewhere is StorageBusy at once, with nothing done. For a thread
        that must not block (the event loop)."""
        self._local.alone = True

    def read(self, op: Callable[[Tx, Unpack[Ts]], T], *args: *Ts) -> T:
        """Run a read operation `op(tx, *args)` in a transaction of its own, or
        in the savepoint of the group around it."""
        return self._run(False, op, args)

    def write(self, op: Callable[[Tx, Unpack[Ts]], T], *args: *Ts) -> T:
        """Run a write operation `op(tx, *args)`, as `read` does."""
        return self._run(True, op, args)

    def _run(self, write: bool, op: Callable[[Tx, Unpack[Ts]], T], args: tuple[*Ts]) -> T:
        database = self._ready()
        tx = self._tx
        assert tx is not None, "set with the database"
        alone = getattr(self._local, "alone", False)
        if not write and alone:
            return self._read_alone(database, op, tx, args)
        # Spelled out, with no context manager of our own: this is the path
        # of every write, and each costs as much as one of its statements.
        feed = self._feed if write and not database.in_transaction else None
        try:
            with database.transaction(write=write, wait=not alone) as db:
                if feed is None:
                    result = op(tx, *args)
                else:
                    # We hold the write lock from BEGIN IMMEDIATE to the
                    # commit, so every change-log seq in between is ours: the
                    # feed must not echo them.
                    lo = changes.begin_own_write(db)
                    result = op(tx, *args)
                    hi = changes.last_seq(db)
        except StorageError as exc:
            self._forget(database, exc)
            raise
        if feed is not None:
            feed.own_write(lo, hi)  # only once committed: a rolled-back seq is reused
        if write:
            self.wrote = True
        return result

    def _read_alone(
        self,
        database: Database,
        op: Callable[[Tx, Unpack[Ts]], T],
        tx: Tx,
        args: tuple[*Ts],
    ) -> T:
        """A read outside any explicit transaction, on the path of every
        inline read: errors named and a vanished database forgotten, as
        `_run` does around its transaction."""
        try:
            database.check_file()
            # No transaction to end: statements run on the driver's
            # connection in autocommit mode (isolation_level None), so a
            # lone SELECT pins no snapshot once it is done.
            return op(tx, *args)
        except Exception as exc:
            error = driver_error(exc)
            if error is None:
                raise
            self._forget(database, error)
            if error is exc:
                raise
            raise error from exc

    @contextmanager
    def group(self, *, write: bool = True) -> Iterator[None]:
        """One transaction around several operations (group commit, or one
        snapshot for a run of reads): each operation inside runs in its own
        savepoint."""
        database = self._ready()
        feed = self._feed if write and not database.in_transaction else None
        try:
            with database.transaction(write=write) as db:
                # As in _run: the seqs of our own transaction.
                lo = 0 if feed is None else changes.begin_own_write(db)
                yield
                hi = 0 if feed is None else changes.last_seq(db)
        except StorageError as exc:
            self._forget(database, exc)
            raise
        if feed is not None:
            feed.own_write(lo, hi)

    def _forget(self, database: Database, exc: StorageError) -> None:
        """Close a database whose file was deleted or replaced, or whose server
        went away: the next call opens whatever is there now."""
        if isinstance(exc, StorageUnavailable) and self._database is database:
            self._database, self._failure = None, exc
            database.close()

    # change feed

    def watch(self, enabled: bool, after: int | None = None, *, replay: bool = False) -> None:
        """Start following changes after revision `after` (None: from now on;
        `replay`: our own ones after it too), or stop."""
        self._watching = enabled
        self._feed = None
        self._feed_from = (after, replay)
        if enabled:
            self._feed = self.read(self._start_feed)

    def collect_changes(self) -> changes.Changes:
        """What changed since the last call or since watch(True)."""
        if not self._watching:
            return changes.Changes()
        feed = self._feed
        if feed is None:
            # watch(True) could not read the database: start where it was asked to.
            feed = self._feed = self.read(self._start_feed)
            if feed is None:
                return changes.Changes()
        return self.read(lambda tx: feed.collect(tx.db, source=self._source()))

    def last_revision(self) -> int:
        return self.read(lambda tx: changes.last_revision(tx.db))

    def _start_feed(self, tx: Tx) -> changes.Feed | None:
        after, replay = self._feed_from
        return changes.Feed.start(tx.db, source=self._source(), after=after, replay=replay)

    def _source(self) -> object:
        """What a feed follows: a SQLite file by its identity, as a file put in
        its place has a change log of its own; a server's database keeps its
        seqs across reconnections."""
        return None if self._database is None else self._database.file_identity

    # lifecycle

    def info(self) -> StorageInfo:
        return StorageInfo(
            backend=self.backend,
            database=safe_url(self.url),
            schema_version=self._schema_version,
            recovered=self._recovered,
        )

    def close(self) -> None:
        """Close the database; after writes, refresh the SQLite backup."""
        database, self._database = self._database, None
        if database is None:
            return
        path = database.path
        # Before closing: while our connection holds the -wal open, reading
        # the file for the backup creates nothing beside it, and our close
        # then removes -wal and -shm.
        if path is not None and self.wrote:
            try:
                recovery.refresh_backup(path)
            except Exception:
                log.exception("could not refresh the backup of %s", path)
        database.close()

"""Opening the database: where it lives, how SQLite is tuned, how errors are named.

Everything dialect-specific about connections lives here, so the rest of the
storage layer runs the same SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn, cast
from urllib.parse import quote

import dataset
import sqlalchemy.exc
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url

from idumb_daemon.storage.checkpoints import AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT, Checkpointer
from idumb_daemon.storage.errors import (
    StorageBusy,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageReadOnly,
    StorageUnavailable,
)
from idumb_daemon.storage.sql import connection, execute_on, run
from idumb_daemon.storage.writelock import WriteLock

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT = 5.0
DIR_MODE = 0o700
FILE_MODE = 0o600
POSTGRES_DRIVER = "postgresql+psycopg"
CONNECT_TIMEOUT = 5
"""Seconds to reach a PostgreSQL server: an unreachable one is -31006, not a hang."""
# A server or network that dies silently mid-query is noticed within about a
# minute, answered with -31006 and reconnected, instead of leaving the daemon
# waiting for an answer the kernel would give up on only after hours.
# libpq's names: keepalives while waiting for an answer (30 s idle, then 3
# probes 10 s apart), tcp_user_timeout while a query is not yet acknowledged.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}
_SECRET_PARAMS = ("password", "sslpassword")


def resolve_url(
    *,
    project_dir: str | None = None,
    db: str | None = None,
    database_url: str | None = None,
    environ: dict[str, str] | None = None,
) -> str:
    """Apply STORAGE.md's precedence: --database-url, then --db, then the
    environment, then `<project dir>/.idumb/data/idumb.db`."""
    env = os.environ if environ is None else environ
    if database_url:
        return _postgresql_scheme(database_url)
    if db:
        return "sqlite:///" + str(Path(db).absolute())
    if env.get("IDUMB_DATABASE_URL"):
        return _postgresql_scheme(env["IDUMB_DATABASE_URL"])
    base = Path(project_dir) if project_dir else Path.cwd()
    return "sqlite:///" + str((base / ".idumb" / "data" / "idumb.db").absolute())


def _postgresql_scheme(url: str) -> str:
    # libpq and many hosts hand out postgres://; SQLAlchemy knows only postgresql.
    return "postgresql://" + url[len("postgres://") :] if url.startswith("postgres://") else url


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other backends and :memory:."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def safe_url(url: str) -> str:
    """The URL as it may be shown: never with its password, whether in the
    user part or as a libpq `password` parameter."""
    parsed = make_url(url)
    shown = parsed.set(query={}).render_as_string(hide_password=True)
    # Rendered here rather than by SQLAlchemy, which would percent-encode the
    # slashes of a socket folder (host=/run/postgresql) and our asterisks.
    pairs = []
    for name, values in parsed.query.items():
        for value in (values,) if isinstance(values, str) else values:
            text = "***" if name.lower() in _SECRET_PARAMS else quote(value, safe="/:,")
            pairs.append(f"{quote(name, safe='')}={text}")
    return shown + "?" + "&".join(pairs) if pairs else shown


def engine_url(url: str) -> URL:
    """The URL SQLAlchemy is given. `postgresql://` means psycopg 3, the
    driver of our `postgres` extra, whichever SQLAlchemy picks by default
    (psycopg2 before 2.1); an explicit driver is kept."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername=POSTGRES_DRIVER)
    return parsed


def postgres_connect_args(url: URL, busy_timeout: float) -> dict[str, Any]:
    """psycopg settings beyond the URL's own, which win where they overlap.

    lock_timeout is the busy timeout: a write waiting on another session's
    lock fails with lock_not_available (-31001) as it does on SQLite, instead
    of queueing every later request behind it.
    """
    args: dict[str, Any] = {
        name: value
        for name, value in (("connect_timeout", CONNECT_TIMEOUT), *KEEPALIVES.items())
        if name not in url.query
    }
    # 0 would mean no limit at all.
    lock = f"-c lock_timeout={max(1, round(busy_timeout * 1000))}"
    given = url.query.get("options")
    # The later -c wins: the URL's options come after ours.
    args["options"] = f"{lock} {given}" if isinstance(given, str) else lock
    return args


DRIVER_MISSING = (
    "the PostgreSQL driver (psycopg) is not installed; install it with "
    "`pip install 'idumb-daemon[postgres]'`"
)


# The storage thread and the watch listener may both try the import at once;
# one at a time, each meets the driver's own ImportError rather than the other
# thread's half-imported module.
_DRIVER_IMPORT = threading.Lock()


def require_postgres_driver() -> None:
    """Raise StorageUnavailable naming the remedy when psycopg cannot be
    imported (a plain `pip install idumb-daemon`): the daemon keeps serving
    everything but storage, instead of failing somewhere inside SQLAlchemy."""
    with _DRIVER_IMPORT:
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise StorageUnavailable(f"{DRIVER_MISSING} ({exc})") from exc


def connect_postgres(url: str) -> psycopg.Connection[Any]:
    """An autocommit psycopg connection outside the engine (LISTEN needs one
    of its own), reading the URL exactly as the engine does."""
    require_postgres_driver()
    import psycopg

    parsed = engine_url(url)
    _args, params = parsed.get_dialect()().create_connect_args(parsed)
    params.update(postgres_connect_args(parsed, DEFAULT_BUSY_TIMEOUT))
    return psycopg.connect(**params, autocommit=True)


def prepare_sqlite_file(path: Path) -> None:
    """Create missing folders 0700 and the file 0600 whatever the umask:
    settings can hold tokens. SQLite gives -wal and -shm the file's mode."""
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        # exist_ok: two daemons may start at once in a fresh project.
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
        os.close(fd)
        os.chmod(path, FILE_MODE)


def read_only_uri(path: Path) -> str:
    """A URI that reads the file without writing or creating anything.

    mode=ro takes the usual locks and creates nothing beside a rollback-journal
    file, but beside a WAL file it creates -wal and -shm with the file's own
    mode and leaves them: a read-only -shm then keeps the database read-only
    after the file is writable again, and in a read-only folder it cannot read
    at all. While no -wal exists no process has the WAL file open and every
    change is in the file itself, so immutable=1 (no locks, no files) reads it
    exactly; with one, read through it.
    """
    try:
        with path.open("rb") as file:
            header = file.read(20)
    except OSError:
        header = b""
    wal_mode = len(header) == 20 and header[18] == 2  # file format version 2: WAL
    immutable = wal_mode and not path.with_name(path.name + "-wal").exists()
    return path.absolute().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")


def open_read_only(path: Path) -> dataset.Database:
    """The SQLite file at `path` opened to be read and nothing else: no file is
    created or changed (see `read_only_uri`)."""
    uri = read_only_uri(path)
    return dataset.Database(
        "sqlite://",
        ensure_schema=False,
        sqlite_wal_mode=False,
        engine_kwargs={"creator": lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)},
    )


class DataVersionProbe:
    """A side connection to a SQLite file whose `PRAGMA data_version` changes
    whenever any other connection commits to it: a few microseconds a read.

    Opened with mode=rw, never creating a file that has gone (it only reads),
    and a short busy timeout: a read that cannot happen now happens next time.
    Every failure is a StorageError.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with _side_errors():
            self.identity = file_identity(path)
            """The file this connection reads: another may be put in its place."""
            uri = path.absolute().as_uri() + "?mode=rw"
            self._conn = sqlite3.connect(uri, uri=True, timeout=0.05, isolation_level=None)

    def read(self) -> int:
        with _side_errors():
            return int(execute_on(self._conn, "PRAGMA data_version").fetchone()[0])

    def moved(self) -> bool:
        """Whether the path now names another file than this one reads, or none."""
        try:
            return file_identity(self.path) != self.identity
        except OSError:
            return True

    def close(self) -> None:
        self._conn.close()


class ChangeListener:
    """A PostgreSQL session of its own, LISTENing on `channel`: a NOTIFY sent
    by any session is delivered to it at that session's commit. Every failure
    (the driver missing included) is a StorageError."""

    def __init__(self, url: str, channel: str) -> None:
        with _side_errors():
            self._conn = connect_postgres(url)
            try:
                execute_on(self._conn, f"LISTEN {channel}")
            except BaseException:
                self._conn.close()
                raise

    def wait(self, timeout: float) -> int:
        """How many notifications arrived within `timeout` seconds; waits on
        the socket only, sending nothing to the server."""
        with _side_errors():
            return sum(1 for _ in self._conn.notifies(timeout=timeout))

    def close(self) -> None:
        self._conn.close()


@contextmanager
def _side_errors() -> Iterator[None]:
    """Every driver failure of a side connection as a StorageError: the
    watcher only retries, whatever the cause."""
    try:
        yield
    except StorageError:
        raise
    except Exception as exc:
        if not (isinstance(exc, sqlite3.Error | OSError) or _is_psycopg(exc, "Error")):
            raise
        raise classify(exc) or StorageUnavailable(str(exc).strip()) from exc


# The most memory each connection's page cache may take, in KiB; it holds a
# database of about 250,000 settings entirely.
PAGE_CACHE_KIB: Final = 16 * 1024
# Address space, not memory: what the map may cover of the database file.
MMAP_BYTES: Final = 256 * 1024 * 1024


def _refuses_writes(path: Path) -> bool:
    return not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def file_identity(path: Path | str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


class Database:
    """One dataset connection with explicit read and write transactions.

    Writes begin with `BEGIN IMMEDIATE` on SQLite, taking the write lock up
    front: a deferred transaction that reads and then writes can fail at once
    with SQLITE_BUSY whatever the busy timeout, while an immediate one waits
    for the lock. Reads run in a deferred transaction that ends at once, so no
    snapshot stays pinned (which would hide other writers and stall the WAL
    checkpoint).

    Not thread-safe: dataset keeps one connection per thread, so the daemon
    keeps all database work on one thread.
    """

    def __init__(
        self,
        url: str,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        background_checkpoints: bool = False,
    ) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self.busy_timeout = busy_timeout
        self.dialect = make_url(url).get_backend_name()
        # Per thread: the connection whose busy handler was turned off last
        # (see _waiting).
        self._no_wait = threading.local()
        # Per thread: inside a _SqliteTransaction (see in_transaction).
        self._open = threading.local()
        # Set when SQLite rolled back a whole transaction by itself (disk
        # full, I/O error): every later savepoint of it fails, and so does its
        # commit, so no write of the lost transaction is acknowledged.
        self._lost: BaseException | None = None
        # Values in SQL parameters are settings: never in a logged exception.
        engine_kwargs: dict[str, Any] = {"hide_parameters": True}
        self._identity: tuple[int, int] | None = None
        # check_file runs before every statement: a str spares it a Path's
        # conversion each time.
        self._path_text = "" if self.path is None else str(self.path)
        # Orders this file's writers across processes (see writelock).
        self._write_lock: WriteLock | None = None
        self._checkpoints: Checkpointer | None = None
        if self.path is not None:
            path = self.path
            with translate_errors():
                prepare_sqlite_file(path)
                self._identity = file_identity(path)
                # Reads are served from a file that refuses writes; writes get
                # SQLITE_READONLY.
                read_only = read_only_uri(path) if _refuses_writes(path) else None
            connect_args: dict[str, Any] = {
                "timeout": busy_timeout,
                # We issue BEGIN ourselves (see _SqliteTransaction); the stdlib's
                # implicit transactions would defeat BEGIN IMMEDIATE.
                "isolation_level": None,
                "check_same_thread": False,
            }
            engine_kwargs["connect_args"] = connect_args
            if read_only is not None:
                engine_kwargs["creator"] = lambda: sqlite3.connect(
                    read_only, uri=True, **connect_args
                )
            else:
                self._write_lock = WriteLock(self._identity)
                if background_checkpoints:
                    # For a daemon's lifetime of writes; a one-off command
                    # (a migration) leaves them to SQLite as it exits.
                    self._checkpoints = Checkpointer(path)
        target = engine_url(url)
        if self.dialect == "postgresql":
            require_postgres_driver()
            engine_kwargs["connect_args"] = postgres_connect_args(target, busy_timeout)
        self.db = dataset.Database(
            target.render_as_string(hide_password=False),
            ensure_schema=False,
            sqlite_wal_mode=False,
            engine_kwargs=engine_kwargs,
        )
        if self.dialect == "sqlite":
            event.listen(self.db.engine, "connect", self._on_connect)

    def _on_connect(self, dbapi_conn: sqlite3.Connection, _record: object) -> None:
        self._enable_wal(dbapi_conn)
        # FULL: a write is acknowledged only once the WAL is synced.
        execute_on(dbapi_conn, "PRAGMA synchronous=FULL")
        # Checkpoints mostly run off the write path (see checkpoints).
        execute_on(dbapi_conn, f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        execute_on(dbapi_conn, f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        execute_on(dbapi_conn, f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        # SQLite's default page cache, 2 MiB, holds a third of a database of
        # 100,000 settings: lookups spread over its keys then read most of
        # their pages from the OS, a syscall each, and cost twice as much.
        # Pages are cached only once read, so a small database uses no more.
        execute_on(dbapi_conn, f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
        # Pages this connection has not read yet (a fresh daemon, keys spread
        # over 100,000) come from the OS's page cache through a memory map: a
        # page fault instead of a pread each, and shared by our connections.
        # Its cost: an I/O error reading the file, or another program cutting
        # it short while we run, ends the daemon with SIGBUS, not an error.
        # Nothing acknowledged is lost then (writes still go through write()
        # and the synced WAL), and a file found damaged at start is recovered.
        execute_on(dbapi_conn, f"PRAGMA mmap_size={MMAP_BYTES}")

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL, waiting up to the busy timeout for the lock.

        SQLite answers SQLITE_BUSY at once, without its busy handler, when
        the journal mode cannot change because another connection is using
        a fresh file (two daemons starting together): retry until the
        busy timeout, as any other lock wait."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                execute_on(conn, "PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                busy = (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (5, 6)
                if not busy or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)

    def transaction(
        self, *, write: bool, wait: bool = True
    ) -> AbstractContextManager[dataset.Database]:
        """Run the block in one transaction, committed on success.

        Nested calls become savepoints, so one failing step of a group can be
        rolled back alone. A write transaction with `wait` off raises
        StorageBusy at once, having done nothing, when another writer holds
        the lock.
        """
        if self.in_transaction:
            return _Savepoint(self)
        if self.dialect == "sqlite":
            return _SqliteTransaction(self, write, wait)
        return self._dataset_transaction()

    @property
    def in_transaction(self) -> bool:
        """Whether the calling thread is inside `transaction()`. Not whether
        SQLite still has the transaction open: it may have rolled it back by
        itself, and the block must still fail as a whole (see _lost)."""
        if self.dialect == "sqlite":
            return getattr(self._open, "active", False)
        return self.db.in_transaction

    def _driver_in_transaction(self) -> bool:
        if self.dialect != "sqlite":
            return True
        return bool(connection(self.db).in_transaction)

    def _waiting(self, conn: sqlite3.Connection, wait: bool) -> None:
        """Whether `conn` waits for a lock held elsewhere (SQLite's busy
        handler) or fails at once. A thread asks the same every time (the
        event loop's never waits), so this runs once per connection."""
        if wait != (getattr(self._no_wait, "conn", None) is not conn):
            timeout = int(self.busy_timeout * 1000) if wait else 0
            execute_on(conn, f"PRAGMA busy_timeout={timeout}")
            self._no_wait.conn = None if wait else conn

    @contextmanager
    def _dataset_transaction(self) -> Iterator[dataset.Database]:
        """PostgreSQL's transactions, through dataset and SQLAlchemy."""
        self._lost = None
        with translate_errors():
            db = self.db
            db.begin()
            try:
                yield db
                if self._lost is not None:
                    raise self._lost
            except BaseException:
                db.rollback()
                raise
            try:
                db.commit()
            except BaseException:
                # A failed COMMIT leaves SQLAlchemy's transaction open: end it,
                # or the next BEGIN is refused.
                db.executable.rollback()
                raise

    @property
    def file_identity(self) -> tuple[int, int] | None:
        """(device, inode) of the SQLite file as opened; None for a server."""
        return self._identity

    def check_file(self) -> None:
        """Refuse to go on with a file deleted or replaced under us: SQLite
        would keep writing to the old inode, lost to everyone else."""
        if self._identity is None:
            return
        try:
            identity = file_identity(self._path_text)
        except FileNotFoundError:
            raise StorageUnavailable(f"database file {self.path} was deleted") from None
        except OSError as exc:
            raise classify(exc) or StorageUnavailable(str(exc)) from exc
        if identity != self._identity:
            raise StorageUnavailable(f"database file {self.path} was replaced")

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.close()
        if self._moved() and (conn := self._opened_connection()) is not None:
            # SQLite neither checkpoints nor deletes the -wal of a file that
            # was deleted or replaced, and whatever opens the path next would
            # read our frames as its own: empty the WAL into the old file.
            # Through a connection open before the move: a new one would open
            # the file now at the path, and copy our frames into it.
            try:
                execute_on(conn, "PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                log.warning("could not empty the WAL of a moved database: %s", exc)
        self.db.close()
        if self._write_lock is not None:
            self._write_lock.close()

    def _opened_connection(self) -> sqlite3.Connection | None:
        """A driver connection this database has open (on any thread), or
        None; never a new one."""
        for opened in list(self.db.connections.values()):
            if not opened.closed and opened.connection.dbapi_connection is not None:
                return cast(sqlite3.Connection, opened.connection.dbapi_connection)
        return None

    def _moved(self) -> bool:
        try:
            self.check_file()
        except StorageError:
            return True
        return False


class _SqliteTransaction:
    """The outermost transaction on SQLite: the write lock, then BEGIN and
    COMMIT on the driver's connection itself.

    Not dataset's begin() and commit(): they check the connection out of
    SQLAlchemy's pool and back in (with the pool's reset) for every
    transaction, about a hundred microseconds of Python around a write whose
    own SQL costs less. The connection stays dataset's, checked out for the
    thread's lifetime, and every statement still runs on it (see sql.run).
    A class, not a generator: it runs around every request, and a generator's
    context manager costs as much as one of its statements.
    """

    __slots__ = ("_conn", "_database", "_lock", "_wait", "_write")

    def __init__(self, database: Database, write: bool, wait: bool) -> None:
        self._database = database
        self._write = write
        self._wait = wait
        self._lock: WriteLock | None = None
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> dataset.Database:
        database = self._database
        database.check_file()
        database._lost = None
        lock = database._write_lock if self._write else None
        if lock is not None and not lock.acquire(database.busy_timeout if self._wait else 0.0):
            raise StorageBusy("another daemon is writing to the database")
        try:
            conn = connection(database.db)
            database._waiting(conn, self._wait)
            execute_on(conn, "BEGIN IMMEDIATE" if self._write else "BEGIN")
        except Exception as exc:
            if lock is not None:
                lock.release()
            reraise(exc)
        self._conn, self._lock = conn, lock
        database._open.active = True
        return database.db

    def __exit__(
        self, _type: type[BaseException] | None, exc: BaseException | None, _tb: object
    ) -> None:
        database = self._database
        conn = self._conn
        assert conn is not None, "entered"
        database._open.active = False
        # A step's savepoint found the whole transaction gone: it must not
        # commit, however the later steps went.
        lost = database._lost
        try:
            if exc is None and lost is None:
                try:
                    execute_on(conn, "COMMIT")
                except Exception:
                    # SQLite keeps the transaction open after a failed COMMIT
                    # (SQLITE_BUSY), and the next BEGIN would be refused.
                    if conn.in_transaction:
                        execute_on(conn, "ROLLBACK")
                    raise
                if self._write and database._checkpoints is not None:
                    database._checkpoints.wrote()
                return
            if conn.in_transaction:
                execute_on(conn, "ROLLBACK")
        except Exception as failed:
            reraise(failed)
        finally:
            if self._lock is not None:
                self._lock.release()
        if exc is None:
            assert lost is not None
            raise lost
        if (named := translated(exc)) is not exc:
            raise named from exc


class _Savepoint:
    """A step of a transaction, rolled back alone when it fails. On the
    driver's connection, not SQLAlchemy's begin_nested(): a group commit
    takes one per request, and SQLAlchemy's costs ten times the statement."""

    __slots__ = ("_database",)

    def __init__(self, database: Database) -> None:
        self._database = database

    def __enter__(self) -> dataset.Database:
        database = self._database
        if database._lost is not None:
            raise database._lost
        try:
            run(database.db, "SAVEPOINT idumb_request")
        except Exception as exc:
            reraise(exc)
        return database.db

    def __exit__(
        self, _type: type[BaseException] | None, exc: BaseException | None, _tb: object
    ) -> None:
        database = self._database
        db = database.db
        try:
            if exc is None:
                run(db, "RELEASE SAVEPOINT idumb_request")
                return
            named = translated(exc)
            if not database._driver_in_transaction():
                # SQLite rolled back the whole transaction by itself (disk
                # full, I/O error), the savepoint with it.
                database._lost = named
            else:
                run(db, "ROLLBACK TO SAVEPOINT idumb_request")
                run(db, "RELEASE SAVEPOINT idumb_request")
        except Exception as failed:
            reraise(failed)
        if named is not exc:
            raise named from exc


# sqlite3 primary result codes (sqlite3.h); the stdlib names them only in 3.11+
# as constants on the module, and not all of them.
_SQLITE_CODES: dict[int, type[StorageError]] = {
    5: StorageBusy,  # SQLITE_BUSY
    6: StorageBusy,  # SQLITE_LOCKED
    8: StorageReadOnly,  # SQLITE_READONLY
    10: StorageUnavailable,  # SQLITE_IOERR
    11: StorageCorrupt,  # SQLITE_CORRUPT
    13: StorageFull,  # SQLITE_FULL
    14: StorageUnavailable,  # SQLITE_CANTOPEN
    26: StorageCorrupt,  # SQLITE_NOTADB
}

# PostgreSQL SQLSTATE classes and codes.
_PG_STATES: dict[str, type[StorageError]] = {
    "55P03": StorageBusy,  # lock_not_available
    "40P01": StorageBusy,  # deadlock_detected
    "25006": StorageReadOnly,  # read_only_sql_transaction
    "53100": StorageFull,  # disk_full
    "53": StorageFull,  # insufficient_resources
    "08": StorageUnavailable,  # connection_exception
    "57P": StorageUnavailable,  # admin_shutdown and friends
    "XX001": StorageCorrupt,  # data_corrupted
}


# Errors of the file system, met before SQLite is involved (creating the file).
_ERRNOS: dict[int, type[StorageError]] = {
    errno.EACCES: StorageReadOnly,
    errno.EPERM: StorageReadOnly,
    errno.EROFS: StorageReadOnly,
    errno.ENOSPC: StorageFull,
    errno.EDQUOT: StorageFull,
}


def classify(exc: BaseException) -> StorageError | None:
    """Name a driver error as a StorageError, or None when it is not one."""
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, OSError):
        return _ERRNOS.get(orig.errno or 0, StorageUnavailable)(str(orig))
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None and (code & 0xFF) in _SQLITE_CODES:
            return _SQLITE_CODES[code & 0xFF](str(orig))
        return None
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(sqlstate, str):
        for prefix, cls in _PG_STATES.items():
            if sqlstate.startswith(prefix):
                return cls(str(orig).strip())
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return StorageUnavailable(str(orig).strip())
    if isinstance(exc, sqlalchemy.exc.OperationalError) or _is_psycopg(orig, "OperationalError"):
        # psycopg raises OperationalError without SQLSTATE when the server is
        # unreachable or the session has gone.
        return StorageUnavailable(str(orig).strip())
    return None


def _is_psycopg(exc: BaseException, name: str) -> bool:
    """Whether `exc` is psycopg's error class `name`; statements run on the
    driver's own connection raise them unwrapped by SQLAlchemy. psycopg is
    only loaded for a PostgreSQL URL, and without it none of its errors exist."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, getattr(psycopg, name))


def driver_error(exc: Exception) -> StorageError | None:
    """The StorageError a driver error means; None for anything else, a bug."""
    if isinstance(exc, StorageError):
        return exc
    driver = isinstance(exc, sqlalchemy.exc.SQLAlchemyError | sqlite3.Error | OSError)
    return classify(exc) if driver or _is_psycopg(exc, "Error") else None


def translated(exc: BaseException) -> BaseException:
    """The StorageError a driver error means; anything else as it is."""
    if isinstance(exc, Exception):
        named = driver_error(exc)
        if named is not None:
            return named
    return exc


def reraise(exc: Exception) -> NoReturn:
    """Raise `exc` as the StorageError it means, from it; anything else (a bug)
    as it is."""
    named = translated(exc)
    if named is exc:
        raise exc
    raise named from exc


@contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise driver errors as StorageError; anything else is a bug and passes."""
    try:
        yield
    except Exception as exc:
        reraise(exc)

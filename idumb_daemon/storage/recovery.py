"""Backups and recovery of the SQLite file, as VS Code does for its state.

This works below `dataset` on purpose: SQLite's online backup API and an
integrity check of a file that may not even open are file maintenance, not
queries, and they must work when the database itself cannot.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from idumb_daemon.contracts import RecoveryInfo
from idumb_daemon.storage.database import FILE_MODE, read_only_uri
from idumb_daemon.storage.errors import StorageCorrupt
from idumb_daemon.storage.sql import execute_on

log = logging.getLogger(__name__)

_SIDE_FILES = ("-wal", "-shm")
# SQLITE_CORRUPT and SQLITE_NOTADB: the file itself is bad. Any other failure
# (busy, unreadable, a read-only folder) says nothing about the file, and
# moving a healthy database aside because another daemon held a lock would
# lose every write made since the backup.
_CORRUPT_CODES = (11, 26)


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".backup")


def quick_check(path: Path) -> bool | None:
    """True when the file opens as a database and passes `PRAGMA quick_check`,
    False when it is corrupt or no database, None when that cannot be told."""
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True, timeout=5)
        try:
            result: list[tuple[str]] = execute_on(conn, "PRAGMA quick_check").fetchall()
            return result == [("ok",)]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _CORRUPT_CODES:
            return False
        return None


def passes_quick_check(path: Path) -> bool:
    return quick_check(path) is True


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Daemons starting at once on one corrupt file restore it once: the
    second finds it restored instead of moving the restored file aside."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        yield  # unreadable folder: nothing to restore into either
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _copy_database(source: Path, target: Path) -> None:
    """Copy with the backup API into a temporary file, then rename over the
    target: a crash midway never leaves a half-written target."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    os.close(fd)
    os.chmod(tmp, FILE_MODE)
    try:
        src = sqlite3.connect(read_only_uri(source), uri=True, timeout=5)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
            # The copy is a plain rollback-journal file; the daemon turns WAL
            # on when it opens it.
            execute_on(dst, "PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
            src.close()
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not keep half a copy
        raise
    os.replace(tmp, target)


def refresh_backup(path: Path) -> bool:
    """Refresh `<file>.backup` from a database that passes quick_check.
    Returns whether a backup was written."""
    if not path.exists() or not passes_quick_check(path):
        log.warning("database %s fails quick_check: backup not refreshed", path)
        return False
    _copy_database(path, backup_path(path))
    return True


def recover_if_corrupt(path: Path) -> RecoveryInfo | None:
    """At start: move a corrupt or unreadable database aside (never delete it)
    and restore the backup. Raises StorageCorrupt when there is no usable
    backup, leaving the file as it is."""
    if not path.exists() or path.stat().st_size == 0 or quick_check(path) is not False:
        return None
    with _folder_lock(path.parent):
        if quick_check(path) is not False:
            return None
        try:
            return _restore(path)
        except OSError as exc:
            raise StorageCorrupt(
                f"database {path} is corrupt and could not be restored: {exc}"
            ) from exc


def _restore(path: Path) -> RecoveryInfo:
    backup = backup_path(path)
    if not backup.exists() or not passes_quick_check(backup):
        raise StorageCorrupt(f"database {path} fails its integrity check and has no usable backup")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    corrupt = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while corrupt.exists():  # a second recovery within the second keeps the first
        corrupt = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    os.replace(path, corrupt)
    for suffix in _SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            # The WAL belongs to the corrupt file: keep it beside it, out of
            # the restored database's way.
            os.replace(side, corrupt.with_name(corrupt.name + suffix))
    _copy_database(backup, path)
    log.warning("database %s was corrupt: moved to %s, restored from %s", path, corrupt, backup)
    return RecoveryInfo(
        from_=str(backup), at=datetime.now(UTC).replace(microsecond=0), corrupt_file=str(corrupt)
    )

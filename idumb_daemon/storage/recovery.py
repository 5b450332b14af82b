"""Backups and recovery of the SQLite file, as VS Code does for its state.

This works below `dataset` on purpose: SQLite's online backup API and an
integrity check of a file that may not even open are file maintenance, not
queries, and they must work when the database itself cannot.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from idumb_daemon.contracts import RecoveryInfo
from idumb_daemon.storage.database import FILE_MODE
from idumb_daemon.storage.errors import StorageCorrupt

log = logging.getLogger(__name__)

_SIDE_FILES = ("-wal", "-shm")


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".backup")


def passes_quick_check(path: Path) -> bool:
    """Whether the file opens as a database and passes `PRAGMA quick_check`."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return False
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
        return rows == [("ok",)]
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _copy_database(source: Path, target: Path) -> None:
    """Copy with the backup API into a temporary file, then rename over the
    target: a crash midway never leaves a half-written target."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    os.close(fd)
    os.chmod(tmp, FILE_MODE)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=5)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)
        # The copy is a plain rollback-journal file; the daemon turns WAL on
        # when it opens it.
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()
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
    if not path.exists() or path.stat().st_size == 0 or passes_quick_check(path):
        return None
    backup = backup_path(path)
    if not backup.exists() or not passes_quick_check(backup):
        raise StorageCorrupt(f"database {path} fails its integrity check and has no usable backup")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    corrupt = path.with_name(f"{path.name}.corrupt-{stamp}")
    os.replace(path, corrupt)
    for suffix in _SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            # The WAL belongs to the corrupt file: keep it beside it, out of
            # the restored database's way.
            os.replace(side, corrupt.with_name(corrupt.name + suffix))
    _copy_database(backup, path)
    log.warning("database %s was corrupt: moved to %s, restored from %s", path, corrupt, backup)
    return RecoveryInfo(from_=str(backup), at=datetime.now(UTC).replace(microsecond=0),
                        corrupt_file=str(corrupt))

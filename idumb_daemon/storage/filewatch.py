"""The operating system's word that a SQLite database's files were written.

Linux's inotify, reached through ctypes from the standard library: a watch on
the database's folder reports every write to the database, its -wal and its
-journal, by any process on this machine, the moment it happens, and costs
nothing while nothing is written. Elsewhere (other systems, a kernel without
inotify or out of watches) and on network file systems, where writes from
other machines raise no event here, `FileEvents.open` answers None and the
caller polls instead.

An event says a write began, not that a commit is visible: SQLite writes its
WAL frames, syncs them, and only then publishes the commit in the -shm index,
which is memory-mapped and raises no event. The caller therefore reads
`PRAGMA data_version` after an event until it moves (see watcher.Poller).

The watch is on the folder as it was when opened: once that folder is
deleted, moved or unmounted it reports nothing more for the path, so
`FileEvents.lost` tells the caller to open a new one.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import struct
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import ctypes

log = logging.getLogger(__name__)

_IN_MODIFY: Final = 0x00000002
_IN_CLOSE_WRITE: Final = 0x00000008
_IN_MOVED_FROM: Final = 0x00000040
_IN_MOVED_TO: Final = 0x00000080
_IN_CREATE: Final = 0x00000100
_IN_DELETE: Final = 0x00000200
_IN_DELETE_SELF: Final = 0x00000400
_IN_MOVE_SELF: Final = 0x00000800
_IN_UNMOUNT: Final = 0x00002000
_IN_Q_OVERFLOW: Final = 0x00004000
_IN_IGNORED: Final = 0x00008000
_IN_ONLYDIR: Final = 0x01000000
_IN_NONBLOCK: Final = os.O_NONBLOCK
_IN_CLOEXEC: Final = 0o2000000
# A replaced or deleted file counts as a change too: the watcher reopens.
# The folder's own end is asked for too (unmount and ignored come unasked).
_MASK: Final = (
    _IN_MODIFY
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
)
_WATCH_ENDED: Final = _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_UNMOUNT | _IN_IGNORED
_EVENT: Final = struct.Struct("iIII")

# statfs(2) f_type of file systems whose writes from other machines raise no
# inotify event here (linux/magic.h; FUSE, since sshfs and the like are FUSE).
_REMOTE_FS: Final = frozenset(
    {
        0x6969,  # NFS
        0x517B,  # SMB
        0xFF534D42,  # CIFS
        0xFE534D42,  # SMB2
        0x65735546,  # FUSE
        0x01021997,  # 9P
        0x00C36400,  # Ceph
        0x5346414F,  # AFS
        0x73757245,  # Coda
        0x0BD00BD0,  # Lustre
        0x01161970,  # GFS2
        0x7461636F,  # OCFS2
    }
)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    # Imported here, when a watch starts: not every daemon start pays for it.
    import ctypes

    try:
        # The process's own symbols, libc's among them.
        libc = ctypes.CDLL(None, use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.statfs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    except (OSError, AttributeError):
        return None
    return libc


def _remote(libc: ctypes.CDLL, folder: Path) -> bool:
    import ctypes

    # struct statfs starts with f_type, a long on every Linux ABI; 256 bytes
    # covers the whole struct anywhere.
    buffer = ctypes.create_string_buffer(256)
    if libc.statfs(os.fsencode(folder), buffer) != 0:
        return True  # unknown: polling is always right
    f_type = ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF
    return f_type in _REMOTE_FS


class FileEvents:
    """An inotify watch on the folder of a database, reporting writes to its files."""

    def __init__(self, fd: int, names: frozenset[bytes]) -> None:
        self._fd = fd
        self._names = names
        self.lost = False
        """The folder watched was deleted, moved or unmounted: what is
        written at the database's path now raises no event here."""

    @classmethod
    def open(cls, database: Path) -> FileEvents | None:
        """Events for `database`; None where the system cannot deliver them."""
        libc = _libc()
        if libc is None:
            return None
        folder = database.parent
        try:
            if _remote(libc, folder):
                log.info("watch: %s is on a network file system: polling", folder)
                return None
        except (OSError, AttributeError):
            return None
        import ctypes

        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            log.info("watch: no inotify (%s): polling", os.strerror(ctypes.get_errno()))
            return None
        if libc.inotify_add_watch(fd, os.fsencode(folder), _MASK | _IN_ONLYDIR) < 0:
            log.info(
                "watch: cannot watch %s (%s): polling", folder, os.strerror(ctypes.get_errno())
            )
            os.close(fd)
            return None
        name = os.fsencode(database.name)
        return cls(fd, frozenset({name, name + b"-wal", name + b"-journal"}))

    def wait(self, timeout: float, stop_fd: int) -> bool:
        """Wait up to `timeout` seconds for a write to the database's files or
        for `stop_fd` to be readable; True if a write was reported (the
        events are consumed)."""
        ready = select.select([self._fd, stop_fd], [], [], timeout)[0]
        return self._fd in ready and self.drain()

    def drain(self) -> bool:
        """Consume what is queued; True if any of it concerns the database
        (the end of the folder's watch does: the file may be another now)."""
        seen = False
        while True:
            try:
                data = os.read(self._fd, 64 * 1024)
            except BlockingIOError:
                return seen
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            offset = 0
            while offset + _EVENT.size <= len(data):
                _wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
                offset += _EVENT.size + length
                if mask & _WATCH_ENDED:
                    self.lost = True
                if mask & (_IN_Q_OVERFLOW | _WATCH_ENDED) or name in self._names:
                    seen = True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
